"""Batches of PDF review packets: requested on a page, rendered by workers into one ZIP.

``packet_batch_request`` checks who may ask and queues ``appraisals.render_packet_batch``
(queue "pdf") once the request commits. That task (``packet_batch_run``) plans the
batch: it fixes the appraisals it holds and splits them into chunks of
``PACKET_CHUNK_SIZE`` (``PacketChunk``), each queued as ``appraisals.render_packet_chunk``
(queue "pdf"), so any number of workers render one batch side by side and no task runs
long, however large the cycle. A chunk (``packet_chunk_run``) writes its PDFs to the
batch's hidden working directory and counts itself done; the chunk that completes the
count queues ``appraisals.zip_packet_batch`` (``packet_batch_zip``), which builds the ZIP,
marks the batch done and sends the one "packets ready" notice. No result backend is
needed: the count is a row-locked ``UPDATE`` of the batch, so exactly one chunk sees it
complete.

Each packet is rendered for the person who asked (``appraisals.packet.render_packet``
with them as the viewer), so a batch holds exactly what they could download one by one:
the appraisals they may open, with the sections the access policy shows them.

Reliability: the batch, each chunk and the ZIP are claimed by conditional updates (a
duplicate task finds nothing to do). With late acks, the task of a worker killed
half-way is redelivered, and only a redelivery (``resume``) may claim what was left
running: a chunk is rendered again from its start (its files are overwritten by name,
its counts replaced), a ZIP is written again. The ZIP is written to a hidden ``.part``
file next to its final place and renamed into place only when it is complete, in the
step that marks the batch done, so no half-written ZIP is ever offered. One packet that
fails is listed in ``failed`` with the reason, and the rest of the batch goes on; a chunk
that fails as a whole (the requester lost access, a time limit) fails the batch.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import shutil
import tempfile
import zipfile
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from perfcycle import access
from perfcycle.broker import send_after_commit
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Cycle, Department
from perfcycle.notifications import language_of, notify

from ..models import Appraisal, PacketBatch, PacketChunk

logger = logging.getLogger(__name__)

S = PacketBatch.Status
C = PacketChunk.Status
# The batch's progress and counts are written after every PROGRESS_EVERY packets.
PROGRESS_EVERY = 10
DIRECTORY = "packets"
ERROR_LENGTH = 500
# A working file or directory this old belongs to no running batch (tasks are killed after
# 20 minutes; a chunk writes its directory every few seconds).
PART_MAX_AGE = datetime.timedelta(days=1)


def packet_scope(*, viewer, cycle: Cycle, department: Department | None) -> QuerySet:
    """The appraisals a batch holds: those of ``cycle`` (in ``department`` and its
    subtree, or all) that ``viewer`` may open, withdrawn ones left out, by name."""
    appraisals = (
        access.appraisals_visible_to(viewer)
        .filter(cycle_id=cycle.pk)
        .exclude(stage=Appraisal.Stage.WITHDRAWN)
    )
    if department is not None:
        appraisals = appraisals.filter(
            department__in=subtree_sql(Department, "parent", [department.pk])
        )
    return appraisals.order_by("employee__user__full_name", "employee__employee_number", "pk")


@transaction.atomic
def packet_batch_request(*, actor, cycle: Cycle, department: Department | None = None):
    """Queue a batch of the packets of ``department`` (with its subtree) or, for HR, of
    the whole cycle; a worker renders them (``packet_batch_run``)."""
    access.require(access.can_request_packets(actor, department))
    if not packet_scope(viewer=actor, cycle=cycle, department=department).exists():
        raise ValidationError(
            {"department": _("There are no appraisals here whose packets you may read.")}
        )
    if PacketBatch.objects.filter(
        cycle=cycle,
        department=department,
        requested_by=actor,
        status__in=[S.QUEUED, S.RUNNING],
    ).exists():
        raise ValidationError(
            {"department": _("Your batch for these packets is already under way.")}
        )
    batch = PacketBatch(cycle=cycle, department=department, requested_by=actor)
    batch.full_clean()
    batch.save()
    _enqueue(batch.pk)
    return batch


def _enqueue(batch_id: int) -> None:
    from ..tasks import render_packet_batch

    send_after_commit(render_packet_batch, batch_id, on_broker_down=_broker_down(batch_id))


def _broker_down(batch_id: int, statuses=(S.QUEUED,)):
    def failed(exc: Exception) -> None:
        PacketBatch.objects.filter(pk=batch_id, status__in=statuses).update(
            status=S.FAILED,
            finished_at=timezone.now(),
            error=_("The task queue could not be reached; make the packets again."),
        )

    return failed


def _enqueue_chunks(batch_id: int, chunk_ids: list[int]) -> None:
    from ..tasks import render_packet_chunk

    down = _broker_down(batch_id, statuses=(S.RUNNING,))
    for chunk_id in chunk_ids:
        send_after_commit(render_packet_chunk, chunk_id, on_broker_down=down)


def _enqueue_zip(batch_id: int) -> None:
    from ..tasks import zip_packet_batch

    send_after_commit(
        zip_packet_batch, batch_id, on_broker_down=_broker_down(batch_id, statuses=(S.RUNNING,))
    )


def _chunk_size() -> int:
    return max(1, settings.PACKET_CHUNK_SIZE)


def packet_batch_run(*, batch_id: int, resume: bool = False) -> PacketBatch | None:
    """Plan the batch: fix its appraisals, split them into chunks and queue one task a
    chunk. Returns None when there was nothing to claim (another worker has it, or it has
    finished)."""
    claimable = [S.QUEUED]
    if resume:  # redelivered: the worker that was planning it died
        claimable.append(S.RUNNING)
    claimed = PacketBatch.objects.filter(
        pk=batch_id, status__in=claimable, zip_started_at__isnull=True
    ).update(status=S.RUNNING, progress=Greatest("progress", 1), error="")
    return _step(batch_id, _plan) if claimed else None


@transaction.atomic
def _plan(batch: PacketBatch) -> None:
    chunks = PacketChunk.objects.filter(batch_id=batch.pk)
    if chunks.exists():
        # Planned already by a worker that died before its task was acknowledged: the
        # chunks still queued are queued again (a chunk claims itself, so one sent twice
        # is rendered once); those running belong to tasks the broker redelivers.
        _enqueue_chunks(batch.pk, list(chunks.filter(status=C.QUEUED).values_list("pk", flat=True)))
        if not chunks.exclude(status=C.DONE).exists():
            _enqueue_zip(batch.pk)
        return
    viewer = batch.requested_by
    access.require(access.can_request_packets(viewer, batch.department))
    ids = list(
        packet_scope(viewer=viewer, cycle=batch.cycle, department=batch.department).values_list(
            "pk", flat=True
        )
    )
    size = _chunk_size()
    created = PacketChunk.objects.bulk_create(
        PacketChunk(batch_id=batch.pk, index=index, appraisals=ids[start : start + size])
        for index, start in enumerate(range(0, len(ids), size))
    )
    PacketBatch.objects.filter(pk=batch.pk).update(
        total=len(ids), rendered=0, failed=[], chunk_count=len(created), chunks_done=0
    )
    if created:
        _enqueue_chunks(batch.pk, [chunk.pk for chunk in chunks.order_by("index")])
    else:  # nothing left in scope since it was asked for: an empty ZIP says so
        _enqueue_zip(batch.pk)


def _fail(batch_id: int, error: BaseException) -> None:
    PacketBatch.objects.filter(pk=batch_id, status=S.RUNNING).update(
        status=S.FAILED,
        error=(str(error) or type(error).__name__)[:2000],
        finished_at=timezone.now(),
    )
    shutil.rmtree(_work_directory(batch_id), ignore_errors=True)


def _work_directory(batch_id: int) -> Path:
    """Where the chunks of a batch put their PDFs (hidden, like the ``.part`` files)."""
    return Path(default_storage.path(DIRECTORY)) / f".batch-{batch_id}"


def packet_chunk_run(*, chunk_id: int, resume: bool = False) -> PacketChunk | None:
    """Render one chunk's packets into the batch's working directory and count the chunk
    done; the chunk that completes the count queues the ZIP. Returns None when there was
    nothing to claim (another worker has it, it is done, or its batch has stopped)."""
    claimable = [C.QUEUED]
    if resume:  # redelivered: the worker that was rendering it died
        claimable.append(C.RUNNING)
    chunks = PacketChunk.objects.filter(batch__status=S.RUNNING)
    claimed = chunks.filter(pk=chunk_id, status__in=claimable).update(
        status=C.RUNNING, processed=0, rendered=0, failed=[], files=[]
    )
    if not claimed:
        if resume:
            _zip_if_complete(chunk_id)
        return None
    chunk = PacketChunk.objects.select_related(
        "batch__cycle", "batch__department", "batch__requested_by"
    ).get(pk=chunk_id)
    try:
        _render_chunk(chunk)
    except Exception as error:
        logger.exception("Chunk %s of packet batch %s failed", chunk.index, chunk.batch_id)
        _fail(chunk.batch_id, error)
    chunk.refresh_from_db()
    return chunk


def _zip_if_complete(chunk_id: int) -> None:
    """A redelivered chunk found done: its worker may have died between counting it and
    queueing the ZIP, so the ZIP is queued again if it is due and not begun."""
    due = PacketBatch.objects.filter(
        chunks__pk=chunk_id,
        chunks__status=C.DONE,
        status=S.RUNNING,
        chunks_done=F("chunk_count"),
        zip_started_at__isnull=True,
    ).values_list("pk", flat=True)
    for batch_id in due:
        _enqueue_zip(batch_id)


def _render_chunk(chunk: PacketChunk) -> None:
    from .. import packet

    batch = chunk.batch
    viewer = batch.requested_by
    access.require(access.can_request_packets(viewer, batch.department))
    # The fixed appraisals, still in the requester's scope (one withdrawn since is left out).
    scope = packet_scope(viewer=viewer, cycle=batch.cycle, department=batch.department)
    appraisals = list(packet.with_related(scope.filter(pk__in=chunk.appraisals)))
    language = language_of(viewer)
    directory = _work_directory(batch.pk)
    directory.mkdir(parents=True, exist_ok=True)
    failed: list[dict] = []
    files: list[list] = []
    for done, appraisal in enumerate(appraisals, start=1):
        try:
            pdf = packet.render_packet(appraisal, viewer, language=language)
        except SoftTimeLimitExceeded:
            raise
        except Exception as error:  # one packet does not sink the batch
            logger.exception("Packet of appraisal %s failed", appraisal.pk)
            failed.append(
                {
                    "appraisal": appraisal.pk,
                    "name": appraisal.employee.name,
                    "error": (str(error) or type(error).__name__)[:ERROR_LENGTH],
                }
            )
        else:
            # Named by appraisal: a chunk rendered again overwrites, never adds.
            part = directory / f"{appraisal.pk}.pdf.part"
            part.write_bytes(pdf)
            os.replace(part, directory / f"{appraisal.pk}.pdf")
            files.append([appraisal.pk, packet.packet_filename(appraisal)])
        if done % PROGRESS_EVERY == 0 and done < len(appraisals):
            PacketChunk.objects.filter(pk=chunk.pk, status=C.RUNNING).update(
                processed=done, rendered=len(files), failed=failed
            )
            _record_progress(batch, failures=bool(failed))
    with transaction.atomic():
        finished = PacketChunk.objects.filter(pk=chunk.pk, status=C.RUNNING).update(
            status=C.DONE,
            processed=len(appraisals),
            rendered=len(files),
            failed=failed,
            files=files,
        )
        if not finished:
            raise RuntimeError("The chunk was taken over by another worker.")
        # The batch's row lock orders the chunks that finish at once: each sees the
        # count with every chunk counted before it, so exactly one sees it complete.
        PacketBatch.objects.filter(pk=batch.pk).update(chunks_done=F("chunks_done") + 1)
        counted = PacketBatch.objects.filter(pk=batch.pk).values("chunks_done", "chunk_count").get()
        _record_progress(batch, failures=bool(failed))
        if counted["chunks_done"] == counted["chunk_count"]:
            _enqueue_zip(batch.pk)


def _record_progress(batch: PacketBatch, *, failures: bool) -> None:
    """The batch's rendered count and progress, summed over its chunks (a chunk rendered
    again after its worker died is counted once), and its failed packets when this chunk
    has some. Up to 99: the ZIP makes it 100."""
    chunks = PacketChunk.objects.filter(batch_id=batch.pk)
    sums = chunks.aggregate(
        rendered=Coalesce(Sum("rendered"), 0), processed=Coalesce(Sum("processed"), 0)
    )
    progress = {
        "rendered": sums["rendered"],
        "progress": max(1, min(99, sums["processed"] * 100 // max(1, batch.total))),
    }
    if failures:
        lists = chunks.order_by("index").values_list("failed", flat=True)
        progress["failed"] = [row for rows in lists for row in rows]
    PacketBatch.objects.filter(pk=batch.pk, status=S.RUNNING).update(**progress)


def packet_batch_zip(*, batch_id: int, resume: bool = False) -> PacketBatch | None:
    """Build the ZIP of a batch whose chunks are all done, mark it done and tell its
    requester. Returns None when there was nothing to claim."""
    claimable = Q(zip_started_at__isnull=True)
    if resume:  # redelivered: the worker that was zipping it died
        claimable |= Q(zip_started_at__isnull=False)
    claimed = PacketBatch.objects.filter(
        claimable, pk=batch_id, status=S.RUNNING, chunks_done=F("chunk_count")
    ).update(zip_started_at=timezone.now(), progress=99)
    return _step(batch_id, _zip) if claimed else None


def _step(batch_id: int, work) -> PacketBatch:
    """Do ``work`` on a batch this worker has just claimed; a failure fails the batch."""
    batch = PacketBatch.objects.select_related("cycle", "department", "requested_by").get(
        pk=batch_id
    )
    try:
        work(batch)
    except Exception as error:
        logger.exception("Packet batch %s failed", batch_id)
        _fail(batch_id, error)
    batch.refresh_from_db()
    return batch


def _zip(batch: PacketBatch) -> str:
    directory = Path(default_storage.path(DIRECTORY))
    directory.mkdir(parents=True, exist_ok=True)
    work = _work_directory(batch.pk)
    _remove_parts(batch.pk)  # what a worker that died left behind
    handle, part = tempfile.mkstemp(dir=directory, prefix=f".batch-{batch.pk}-", suffix=".part")
    failed: list[dict] = []
    rendered = 0
    names: set[str] = set()
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            # The chunks in order, a page of them at a time (a chunk's list is small).
            chunks = PacketChunk.objects.filter(batch_id=batch.pk).order_by("index")
            for chunk in chunks.only("files", "failed").iterator(chunk_size=50):
                for appraisal_id, name in chunk.files:
                    zf.write(work / f"{appraisal_id}.pdf", _unique(name, appraisal_id, names))
                    rendered += 1
                failed.extend(chunk.failed)
            zf.close()
            raw.flush()
            os.fsync(raw.fileno())
        name = f"{DIRECTORY}/batch-{batch.pk}-{secrets.token_hex(8)}.zip"
        with transaction.atomic():
            finished = PacketBatch.objects.filter(pk=batch.pk, status=S.RUNNING).update(
                status=S.DONE,
                progress=100,
                rendered=rendered,
                failed=failed,
                file=name,
                finished_at=timezone.now(),
            )
            if not finished:
                raise RuntimeError("The batch was taken over by another worker.")
            # Offered only once it is whole: the rename is the last step.
            os.replace(part, default_storage.path(name))
            batch.refresh_from_db()
            notify("packets_ready", batch)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return name


def _unique(name: str, appraisal_id: int, names: set[str]) -> str:
    if name in names:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{appraisal_id}{dot}{ext}"
    names.add(name)
    return name


def _remove_parts(batch_id: int) -> None:
    directory = Path(default_storage.path(DIRECTORY))
    for leftover in directory.glob(f".batch-{batch_id}-*.part"):
        leftover.unlink(missing_ok=True)


def packet_batches_expire(*, now: datetime.datetime | None = None) -> int:
    """Delete the ZIPs of batches finished more than ``PACKET_RETENTION_DAYS`` ago (the
    batch stays, as ``expired``, so the page still says who asked for what and when), and
    the working files and directories of batches whose worker died and never came back.
    Returns how many ZIPs were deleted. Run daily by beat; safe to run twice."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.PACKET_RETENTION_DAYS)
    expired = 0
    old = PacketBatch.objects.filter(status=S.DONE, finished_at__lt=cutoff)
    for batch in old.only("pk", "file").order_by("pk"):
        # Claimed first: a download that began has its file open, and finishes.
        if PacketBatch.objects.filter(pk=batch.pk, status=S.DONE).update(status=S.EXPIRED, file=""):
            if batch.file:
                default_storage.delete(batch.file.name)
            expired += 1
    directory = Path(default_storage.path(DIRECTORY))
    if directory.exists():
        stale = (now - PART_MAX_AGE).timestamp()
        for part in directory.glob(".batch-*.part"):
            if part.stat().st_mtime < stale:
                part.unlink(missing_ok=True)
        # The working directories of chunks (a batch that failed while a chunk ran).
        for work in directory.glob(".batch-*"):
            if work.is_dir() and work.stat().st_mtime < stale:
                shutil.rmtree(work, ignore_errors=True)
    return expired
