"""Batches of PDF review packets: requested on a page, rendered by a worker into one ZIP.

``packet_batch_request`` checks who may ask and queues ``appraisals.render_packet_batch``
(queue "pdf") once the request commits; ``packet_batch_run`` is what the task does.

Each packet is rendered for the person who asked (``appraisals.packet.render_packet``
with them as the viewer), so a batch holds exactly what they could download one by one:
the appraisals they may open, with the sections the access policy shows them.

Reliability: the batch is claimed by a conditional update (a duplicate task finds
nothing to do); the ZIP is written to a hidden ``.part`` file next to its final place
and renamed into place only when it is complete, in the same step that marks the batch
done, so a worker killed half-way leaves no ZIP offered for download. Its batch stays
``running``; when the broker redelivers the task (late acks), ``resume`` claims it again
and renders it from the start. One packet that fails is listed in ``failed`` with the
reason, and the rest of the batch goes on.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import tempfile
import zipfile
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from perfcycle import access
from perfcycle.broker import send_after_commit
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Cycle, Department
from perfcycle.notifications import language_of, notify

from ..models import Appraisal, PacketBatch

logger = logging.getLogger(__name__)

S = PacketBatch.Status
# The batch's progress and counts are written after every PROGRESS_EVERY packets.
PROGRESS_EVERY = 10
DIRECTORY = "packets"
ERROR_LENGTH = 500
# A working file this old belongs to no running batch (tasks are killed after 20 minutes).
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

    def failed(exc: Exception) -> None:
        PacketBatch.objects.filter(pk=batch_id, status=S.QUEUED).update(
            status=S.FAILED,
            finished_at=timezone.now(),
            error=_("The task queue could not be reached; make the packets again."),
        )

    send_after_commit(render_packet_batch, batch_id, on_broker_down=failed)


def packet_batch_run(*, batch_id: int, resume: bool = False) -> PacketBatch | None:
    """Render the batch's packets into its ZIP. Returns None when there was nothing to
    claim (another worker has it, or it has finished)."""
    claimable = [S.QUEUED]
    if resume:  # redelivered: the worker that was rendering it died
        claimable.append(S.RUNNING)
    claimed = PacketBatch.objects.filter(pk=batch_id, status__in=claimable).update(
        status=S.RUNNING, progress=1, rendered=0, failed=[], error=""
    )
    if not claimed:
        return None
    batch = PacketBatch.objects.select_related("cycle", "department", "requested_by").get(
        pk=batch_id
    )
    try:
        _render(batch)
    except Exception as error:
        logger.exception("Packet batch %s failed", batch_id)
        PacketBatch.objects.filter(pk=batch_id, status=S.RUNNING).update(
            status=S.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
    batch.refresh_from_db()
    return batch


def _render(batch: PacketBatch) -> str:
    from .. import packet

    viewer = batch.requested_by
    access.require(access.can_request_packets(viewer, batch.department))
    appraisals = list(
        packet.with_related(
            packet_scope(viewer=viewer, cycle=batch.cycle, department=batch.department)
        )
    )
    total = len(appraisals)
    PacketBatch.objects.filter(pk=batch.pk).update(total=total)
    language = language_of(viewer)
    directory = Path(default_storage.path(DIRECTORY))
    directory.mkdir(parents=True, exist_ok=True)
    _remove_parts(batch.pk)  # what a worker that died left behind
    handle, part = tempfile.mkstemp(dir=directory, prefix=f".batch-{batch.pk}-", suffix=".part")
    failed: list[dict] = []
    rendered = 0
    names: set[str] = set()
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
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
                    zf.writestr(_unique(packet.packet_filename(appraisal), appraisal, names), pdf)
                    rendered += 1
                if done % PROGRESS_EVERY == 0 and done < total:
                    PacketBatch.objects.filter(pk=batch.pk).update(
                        progress=max(1, min(99, done * 100 // total)),
                        rendered=rendered,
                        failed=failed,
                    )
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
    return name


def _unique(name: str, appraisal: Appraisal, names: set[str]) -> str:
    if name in names:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{appraisal.pk}{dot}{ext}"
    names.add(name)
    return name


def _remove_parts(batch_id: int) -> None:
    directory = Path(default_storage.path(DIRECTORY))
    for leftover in directory.glob(f".batch-{batch_id}-*.part"):
        leftover.unlink(missing_ok=True)


def packet_batches_expire(*, now: datetime.datetime | None = None) -> int:
    """Delete the ZIPs of batches finished more than ``PACKET_RETENTION_DAYS`` ago (the
    batch stays, as ``expired``, so the page still says who asked for what and when), and
    the working files of batches whose worker died and never came back. Returns how many
    ZIPs were deleted. Run daily by beat; safe to run twice."""
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
    return expired
