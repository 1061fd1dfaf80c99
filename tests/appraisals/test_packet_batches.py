"""Batches of PDF review packets: one ZIP of the packets a requester may read (read back
with zipfile and pypdf), a failed packet listed without sinking the batch, claimed once,
resumed after a worker died without ever offering a half-written ZIP, who may ask and
download, the packets page with its polled progress, and a real worker on the "pdf"
queue."""

import datetime
import io
import os
import time
import zipfile
from contextlib import contextmanager

import pytest
from celery.signals import task_prerun
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from appraisals import packet, services
from appraisals.models import Appraisal, PacketBatch, PacketChunk
from appraisals.tasks import expire_packet_batches, render_packet_batch, render_packet_chunk
from perfcycle import settings as settings_module
from perfcycle.celery import app
from perfcycle.models import Notification
from tests.conftest import delivered as run_task

S = PacketBatch.Status


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@contextmanager
def inline_tasks():
    """Tasks queued on commit run inline (as without a broker), and the commit callbacks
    of pytest's never-committed transaction run when the block ends, including those the
    tasks themselves queue: the plan queues its chunks, the last chunk the ZIP."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield
    finally:
        app.conf.task_always_eager = eager


def run(batch, **kwargs):
    """The batch's task as a worker runs it, and the chunk and ZIP tasks it leads to; the
    batch as they left it, or None when the task found nothing to claim."""
    with inline_tasks():
        planned = services.packet_batch_run(batch_id=batch.pk, **kwargs)
    return planned and PacketBatch.objects.get(pk=batch.pk)


def zip_texts(data: bytes) -> dict[str, str]:
    """Each PDF in the ZIP by name, as its text."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {
            name: "".join(
                page.extract_text() for page in PdfReader(io.BytesIO(zf.read(name))).pages
            )
            for name in zf.namelist()
        }


def filenames(appraisals) -> set[str]:
    return {packet.packet_filename(appraisal) for appraisal in appraisals}


def sales(org, cycle):
    """The appraisals of Sales and Sales East: Mona Manager, Emil Employee, Petra Peer."""
    return list(
        Appraisal.objects.filter(
            cycle=cycle, employee__in=[org.manager, org.employee, org.peer]
        ).select_related("employee__user", "cycle")
    )


# --- the batch ------------------------------------------------------------------------


def test_a_department_batch_zips_one_packet_per_appraisal_in_scope(
    org, manager, appraisal_cycle, media
):
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )
    assert batch.status == S.QUEUED

    done = run(batch)

    assert done.status == S.DONE and done.progress == 100
    assert (done.total, done.rendered, done.failed) == (3, 3, [])
    assert done.finished_at is not None
    assert done.file.name.startswith("packets/") and done.file.name.endswith(".zip")
    assert done.file.path.startswith(str(media))
    texts = zip_texts(done.file.read())
    in_scope = sales(org, appraisal_cycle)
    assert set(texts) == filenames(in_scope)
    for appraisal in in_scope:
        assert appraisal.employee.name in texts[packet.packet_filename(appraisal)]
    # Nobody outside Sales: not the HR administrator, not Engineering.
    assert not any("Olga Outsider" in text or "Hana HR" in text for text in texts.values())
    # No working file is left beside it.
    assert [p.name for p in (media / "packets").iterdir()] == [done.file.name.split("/")[-1]]
    notice = Notification.objects.get(recipient=manager, event="packets_ready")
    assert appraisal_cycle.name in notice.title
    assert notice.url == reverse("appraisals:packets", args=[appraisal_cycle.pk])


def test_hr_batches_the_whole_cycle(org, hr_admin, appraisal_cycle):
    done = run(services.packet_batch_request(actor=hr_admin, cycle=appraisal_cycle))
    everyone = Appraisal.objects.filter(cycle=appraisal_cycle).select_related("employee", "cycle")
    assert done.status == S.DONE
    assert done.total == done.rendered == everyone.count() == 7
    assert set(zip_texts(done.file.read())) == filenames(everyone)


def test_a_failed_packet_is_listed_and_the_rest_are_zipped(
    org, manager, appraisal_cycle, monkeypatch
):
    real = packet.render_packet

    def broken_for_emil(appraisal, viewer, **kwargs):
        if appraisal.employee_id == org.employee.pk:
            raise ValueError("The layout overflowed")
        return real(appraisal, viewer, **kwargs)

    monkeypatch.setattr(packet, "render_packet", broken_for_emil)
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )

    done = run(batch)

    emil = Appraisal.objects.get(cycle=appraisal_cycle, employee=org.employee)
    assert done.status == S.DONE
    assert (done.total, done.rendered) == (3, 2)
    assert done.failed == [
        {"appraisal": emil.pk, "name": "Emil Employee", "error": "The layout overflowed"}
    ]
    others = [a for a in sales(org, appraisal_cycle) if a.pk != emil.pk]
    assert set(zip_texts(done.file.read())) == filenames(others)


def test_a_batch_runs_once_however_often_its_task_is_delivered(org, manager, appraisal_cycle):
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )
    assert run(batch) is not None
    file = PacketBatch.objects.get(pk=batch.pk).file.name
    assert run(batch) is None
    assert run(batch, resume=True) is None  # finished: a redelivery does nothing either
    chunk = PacketChunk.objects.get(batch=batch)
    with inline_tasks():  # nor does its chunk's, nor its ZIP's
        assert services.packet_chunk_run(chunk_id=chunk.pk, resume=True) is None
        assert services.packet_batch_zip(batch_id=batch.pk, resume=True) is None
    assert PacketBatch.objects.get(pk=batch.pk).file.name == file
    assert Notification.objects.filter(event="packets_ready").count() == 1


def delivered(task, object_id, *, redelivered: bool):
    with inline_tasks():
        return run_task(task, object_id, redelivered=redelivered)


class WorkerKilled(BaseException):
    """What a worker dying half-way looks like from inside the batch."""


def test_a_worker_killed_midway_offers_no_zip_and_the_redelivery_finishes_it(
    client, org, manager, appraisal_cycle, monkeypatch, media, settings
):
    settings.PACKET_CHUNK_SIZE = 2  # Sales' 3 packets: chunks of 2 and 1
    real = packet.render_packet
    calls = []

    def dies_on_the_second(appraisal, viewer, **kwargs):
        calls.append(appraisal.pk)
        if len(calls) == 2:
            raise WorkerKilled
        return real(appraisal, viewer, **kwargs)

    monkeypatch.setattr(packet, "render_packet", dies_on_the_second)
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )
    with pytest.raises(WorkerKilled):
        run(batch)

    stuck = PacketBatch.objects.get(pk=batch.pk)
    assert stuck.status == S.RUNNING and not stuck.file
    first, second = PacketChunk.objects.filter(batch=batch).order_by("index")
    assert (first.status, second.status) == (PacketChunk.Status.RUNNING, PacketChunk.Status.QUEUED)
    # A SIGKILL leaves the working file behind; it is never offered.
    (media / "packets" / f".batch-{batch.pk}-dead.part").write_bytes(b"PK half")
    client.force_login(manager)
    download = reverse("appraisals:packet_batch_download", args=[batch.pk])
    assert client.get(download).status_code == 404
    # A duplicate does not take a running batch or chunk over.
    assert delivered(render_packet_batch, batch.pk, redelivered=False) is None
    assert delivered(render_packet_chunk, first.pk, redelivered=False) is None

    # The broker hands the killed chunk to another worker, and the other chunk as queued.
    assert delivered(render_packet_chunk, first.pk, redelivered=True) == 2
    assert PacketBatch.objects.get(pk=batch.pk).status == S.RUNNING  # a chunk to go
    assert delivered(render_packet_chunk, second.pk, redelivered=False) == 1
    done = PacketBatch.objects.get(pk=batch.pk)

    assert done.status == S.DONE and done.rendered == 3
    assert sorted(p.name for p in (media / "packets").iterdir()) == [done.file.name.split("/")[-1]]
    response = client.get(download)
    assert response.status_code == 200
    assert set(zip_texts(b"".join(response.streaming_content))) == filenames(
        sales(org, appraisal_cycle)
    )
    # Delivered again once done: no file, no notice more.
    assert delivered(render_packet_chunk, first.pk, redelivered=True) is None
    assert PacketBatch.objects.get(pk=batch.pk).file.name == done.file.name
    assert Notification.objects.filter(event="packets_ready").count() == 1


def test_a_batch_fails_when_a_chunk_cannot_be_made(org, manager, appraisal_cycle, media):
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.packet_batch_run(batch_id=batch.pk)  # planned; its chunk not yet run
    # The manager stops heading Sales before the chunk runs.
    org.sales.__class__.objects.filter(pk=org.sales.pk).update(head=None)
    chunk = PacketChunk.objects.get(batch=batch)

    with inline_tasks():
        services.packet_chunk_run(chunk_id=chunk.pk)

    failed = PacketBatch.objects.get(pk=batch.pk)
    assert failed.status == S.FAILED and failed.finished_at and failed.error
    assert not failed.file and not Notification.objects.filter(event="packets_ready").exists()
    assert not (media / "packets" / f".batch-{batch.pk}").exists()


def test_a_chunk_makes_the_same_queries_whatever_its_size(
    org, hr_admin, appraisal_cycle, settings, monkeypatch
):
    """Beyond what each packet reads to render, a chunk's bookkeeping is a fixed number
    of queries (and a few more each PROGRESS_EVERY packets)."""
    settings.PACKET_CHUNK_SIZE = 5  # the cycle's 7: chunks of 5 and 2
    batch = services.packet_batch_request(actor=hr_admin, cycle=appraisal_cycle)
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.packet_batch_run(batch_id=batch.pk)
    real = packet.render_packet

    def bookkeeping(chunk) -> int:
        rendering = []

        def spied(appraisal, viewer, **kwargs):
            before = len(queries.captured_queries)
            try:
                return real(appraisal, viewer, **kwargs)
            finally:
                rendering.append(len(queries.captured_queries) - before)

        monkeypatch.setattr(packet, "render_packet", spied)
        with CaptureQueriesContext(connection) as queries:
            assert services.packet_chunk_run(chunk_id=chunk.pk).rendered == len(chunk.appraisals)
        assert len(rendering) == len(chunk.appraisals)
        return len(queries) - sum(rendering)

    large, small = PacketChunk.objects.filter(batch=batch).order_by("index")
    assert (len(large.appraisals), len(small.appraisals)) == (5, 2)
    assert bookkeeping(small) == bookkeeping(large)


# --- who may ask ----------------------------------------------------------------------


def test_a_head_asks_only_for_their_subtree(org, manager, appraisal_cycle):
    services.packet_batch_request(actor=manager, cycle=appraisal_cycle, department=org.sales_east)
    with pytest.raises(PermissionDenied):
        services.packet_batch_request(
            actor=manager, cycle=appraisal_cycle, department=org.engineering
        )
    with pytest.raises(PermissionDenied):  # the whole cycle is HR's
        services.packet_batch_request(actor=manager, cycle=appraisal_cycle)


@pytest.mark.parametrize("persona", ["employee", "outsider"])
def test_people_who_head_nothing_may_not_ask(request, org, appraisal_cycle, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.packet_batch_request(actor=user, cycle=appraisal_cycle, department=org.sales)


def test_the_same_batch_is_not_asked_for_twice_while_it_runs(org, manager, appraisal_cycle):
    services.packet_batch_request(actor=manager, cycle=appraisal_cycle, department=org.sales)
    with pytest.raises(ValidationError, match="already under way"):
        services.packet_batch_request(actor=manager, cycle=appraisal_cycle, department=org.sales)


def test_a_batch_with_nothing_in_it_is_refused(org, hr_admin, appraisal_cycle):
    empty = org.people.__class__.objects.create(code="EMPTY", name="Empty", parent=org.hq)
    with pytest.raises(ValidationError, match="no appraisals"):
        services.packet_batch_request(actor=hr_admin, cycle=appraisal_cycle, department=empty)


# --- the page -------------------------------------------------------------------------


def page_url(cycle) -> str:
    return reverse("appraisals:packets", args=[cycle.pk])


def test_hr_asks_for_a_batch_on_the_page(client, org, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.get(page_url(appraisal_cycle))
    assert response.status_code == 200
    assert "The whole cycle" in response.content.decode()

    response = client.post(page_url(appraisal_cycle), {"department": org.sales_east.pk})

    assert response.status_code == 302
    assert response["Location"] == page_url(appraisal_cycle) + "#batches"
    batch = PacketBatch.objects.get()
    assert (batch.requested_by, batch.department) == (hr_admin, org.sales_east)
    # The test transaction never commits, so the task queued on commit has not run: the
    # batch is shown queued, polled by HTMX.
    html = client.get(page_url(appraisal_cycle)).content.decode()
    progress = reverse("appraisals:packet_batch_progress", args=[batch.pk])
    assert f'hx-get="{progress}"' in html and "Queued" in html


def test_the_cycle_page_links_to_the_packets(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    html = client.get(reverse("appraisals:cycle", args=[appraisal_cycle.pk])).content.decode()
    assert f'href="{page_url(appraisal_cycle)}"' in html


def test_a_head_cannot_pick_a_department_outside_their_subtree(
    client, org, manager, appraisal_cycle
):
    client.force_login(manager)
    page = client.get(page_url(appraisal_cycle)).content.decode()
    assert "Sales East" in page and "Engineering" not in page
    assert "The whole cycle" not in page
    for data in ({"department": org.engineering.pk}, {"department": ""}):
        response = client.post(page_url(appraisal_cycle), data)
        assert response.status_code == 400
        assert 'class="field-error"' in response.content.decode()
    assert not PacketBatch.objects.exists()


@pytest.mark.parametrize("persona", ["employee", "outsider", "peer"])
def test_people_who_head_nothing_get_a_403(client, request, appraisal_cycle, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(page_url(appraisal_cycle)).status_code == 403
    assert client.post(page_url(appraisal_cycle), {}).status_code == 403


def test_the_page_of_no_cycle_is_a_404(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    assert (
        client.get(reverse("appraisals:packets", args=[appraisal_cycle.pk + 99])).status_code == 404
    )


def test_the_page_takes_get_and_post_only(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    assert client.put(page_url(appraisal_cycle)).status_code == 405


def test_the_progress_is_polled_until_the_batch_has_finished(client, org, manager, appraisal_cycle):
    batch = services.packet_batch_request(
        actor=manager, cycle=appraisal_cycle, department=org.sales
    )
    client.force_login(manager)
    progress = reverse("appraisals:packet_batch_progress", args=[batch.pk])
    response = client.get(progress, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<li id="batch-{batch.pk}"')
    assert 'hx-trigger="every 1s"' in html and "<progress" in html

    run(batch)

    html = client.get(progress, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in html and "<progress" not in html
    assert "Done" in html
    assert reverse("appraisals:packet_batch_download", args=[batch.pk]) in html
    # Without HTMX: the page.
    assert client.get(progress).status_code == 302


def test_the_page_lists_the_packets_that_failed(client, org, manager, appraisal_cycle):
    batch = PacketBatch.objects.create(
        cycle=appraisal_cycle,
        department=org.sales,
        requested_by=manager,
        status=S.DONE,
        total=3,
        rendered=2,
        failed=[{"appraisal": 1, "name": "Emil Employee", "error": "The layout overflowed"}],
    )
    client.force_login(manager)
    html = client.get(page_url(appraisal_cycle)).content.decode()
    assert "1 packet could not be made" in html
    assert "Emil Employee" in html and "The layout overflowed" in html
    assert reverse("appraisals:packet_batch_download", args=[batch.pk]) not in html  # no ZIP


def test_the_download_is_the_zip_for_its_requester_and_hr_only(
    client, org, manager, hr_admin, appraisal_cycle
):
    batch = run(
        services.packet_batch_request(actor=manager, cycle=appraisal_cycle, department=org.sales)
    )
    download = reverse("appraisals:packet_batch_download", args=[batch.pk])
    progress = reverse("appraisals:packet_batch_progress", args=[batch.pk])
    for user in (manager, hr_admin):
        client.force_login(user)
        response = client.get(download)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"].startswith("attachment;")
        assert ".zip" in response["Content-Disposition"]
        assert "no-store" in response["Cache-Control"]
        assert len(zip_texts(b"".join(response.streaming_content))) == 3
    # Another head, the employees themselves: a 404, as for an id that does not exist.
    for user in (org.other_manager.user, org.employee.user):
        client.force_login(user)
        assert client.get(download).status_code == 404
        assert client.get(progress, headers={"HX-Request": "true"}).status_code == 404
    client.force_login(manager)
    assert client.post(download).status_code == 405
    # The media directory is not served.
    assert client.get("/media/" + batch.file.name).status_code == 404


# --- retention ---------------------------------------------------------------------------


def test_zips_past_their_retention_are_deleted_and_the_batch_says_so(
    client, org, manager, appraisal_cycle, media, settings
):
    settings.PACKET_RETENTION_DAYS = 7
    old, recent = (
        run(services.packet_batch_request(actor=manager, cycle=appraisal_cycle, department=d))
        for d in (org.sales, org.sales_east)
    )
    now = timezone.now()
    PacketBatch.objects.filter(pk=old.pk).update(finished_at=now - datetime.timedelta(days=8))
    PacketBatch.objects.filter(pk=recent.pk).update(finished_at=now - datetime.timedelta(days=6))
    # A working file a worker left a day and more ago, and one still being written.
    stale_part = media / "packets" / ".batch-999-abc.part"
    stale_part.write_bytes(b"half a zip")
    two_days_ago = (now - datetime.timedelta(days=2)).timestamp()
    os.utime(stale_part, (two_days_ago, two_days_ago))
    live_part = media / "packets" / ".batch-998-def.part"
    live_part.write_bytes(b"being written")
    # The working directories of chunks: one a day and more old, one being written.
    stale_work = media / "packets" / ".batch-997"
    stale_work.mkdir()
    (stale_work / "1.pdf").write_bytes(b"%PDF-")
    os.utime(stale_work, (two_days_ago, two_days_ago))
    live_work = media / "packets" / ".batch-996"
    live_work.mkdir()

    assert expire_packet_batches() == 1
    assert expire_packet_batches() == 0  # safe to run twice

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, old.file.name) == (S.EXPIRED, "")
    assert recent.status == S.DONE and recent.file
    remaining = sorted(p.name for p in (media / "packets").iterdir())
    assert remaining == sorted([recent.file.name.split("/")[-1], live_part.name, live_work.name])
    client.force_login(manager)
    download = reverse("appraisals:packet_batch_download", args=[old.pk])
    assert client.get(download).status_code == 404
    page = client.get(reverse("appraisals:packets", args=[appraisal_cycle.pk])).content.decode()
    assert "Expired" in page
    assert "The ZIP file was deleted after 7 days, as packets hold personal data." in page


def test_beat_expires_packet_zips_each_night():
    entry = settings_module.CELERY_BEAT_SCHEDULE["expire-packet-batches"]
    assert entry["task"] == expire_packet_batches.name
    assert entry["task"] in app.tasks
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {0})


def test_the_page_queries_do_not_grow_with_the_batches(
    client, org, hr_admin, manager, appraisal_cycle, django_assert_num_queries
):
    def grow(n):
        for i in range(n):
            PacketBatch.objects.create(
                cycle=appraisal_cycle,
                department=[org.sales, org.sales_east, None][i % 3],
                requested_by=[hr_admin, manager][i % 2],
                status=[S.QUEUED, S.RUNNING, S.DONE, S.FAILED][i % 4],
                failed=[{"appraisal": i, "name": f"Person {i}", "error": "broken"}],
            )

    grow(1)
    client.force_login(hr_admin)
    with CaptureQueriesContext(connection) as small:
        assert client.get(page_url(appraisal_cycle)).status_code == 200
    grow(8)
    with django_assert_num_queries(len(small)):
        response = client.get(page_url(appraisal_cycle))
    assert response.content.decode().count('class="packets-batch') == 9


# --- a real worker, on the "pdf" queue ------------------------------------------------


@pytest.mark.parametrize("task", [render_packet_batch, render_packet_chunk, "zip"])
def test_batches_are_routed_to_the_pdf_queue(task):
    from appraisals.tasks import zip_packet_batch

    task = zip_packet_batch if task == "zip" else task
    route = app.amqp.router.route({}, task.name)
    assert route["queue"].name == "pdf"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_renders_the_batch_from_the_pdf_queue(
    org, manager, appraisal_cycle, celery_worker_thread
):
    deliveries = []

    def seen(sender=None, task=None, **kwargs):
        if sender is not None and sender.name == "appraisals.render_packet_batch":
            deliveries.append(dict(task.request.delivery_info or {}))

    task_prerun.connect(seen, weak=False)
    try:
        queued = services.packet_batch_request(
            actor=manager, cycle=appraisal_cycle, department=org.sales
        )
        batch = PacketBatch.objects.get(pk=queued.pk)
        deadline = time.monotonic() + 60
        while not batch.finished and time.monotonic() < deadline:
            time.sleep(0.2)
            batch.refresh_from_db()
    finally:
        task_prerun.disconnect(seen)
    assert batch.status == S.DONE, batch.error
    assert batch.rendered == 3
    assert set(zip_texts(batch.file.read())) == filenames(sales(org, appraisal_cycle))
    assert deliveries and deliveries[0].get("routing_key") == "pdf"


@pytest.mark.django_db(transaction=True)
def test_a_batch_larger_than_a_chunk_is_rendered_by_several_chunks_and_zipped_once(
    org, hr_admin, appraisal_cycle, celery_worker_thread, settings, media
):
    settings.PACKET_CHUNK_SIZE = 2  # the cycle's 7 packets: 4 chunks
    ran = []

    def seen(sender=None, args=None, **kwargs):
        if sender is not None and sender.name.startswith("appraisals.") and "packet" in sender.name:
            ran.append((sender.name, args[0]))

    task_prerun.connect(seen, weak=False)
    try:
        queued = services.packet_batch_request(actor=hr_admin, cycle=appraisal_cycle)
        batch = PacketBatch.objects.get(pk=queued.pk)
        deadline = time.monotonic() + 90
        while not batch.finished and time.monotonic() < deadline:
            time.sleep(0.2)
            batch.refresh_from_db()
    finally:
        task_prerun.disconnect(seen)
    everyone = Appraisal.objects.filter(cycle=appraisal_cycle).select_related("employee", "cycle")
    assert batch.status == S.DONE, batch.error
    assert batch.total == batch.rendered == everyone.count() == 7
    assert (batch.chunk_count, batch.chunks_done, batch.progress) == (4, 4, 100)
    chunks = PacketChunk.objects.filter(batch=batch).order_by("index")
    assert [len(chunk.appraisals) for chunk in chunks] == [2, 2, 2, 1]
    assert {chunk.status for chunk in chunks} == {PacketChunk.Status.DONE}
    # One task planned it, one a chunk rendered each chunk, and one zipped it, once.
    assert ran[0] == ("appraisals.render_packet_batch", batch.pk)
    assert sorted(ran[1:-1]) == [("appraisals.render_packet_chunk", c.pk) for c in chunks]
    assert ran[-1] == ("appraisals.zip_packet_batch", batch.pk)
    texts = zip_texts(batch.file.read())
    assert len(texts) == 7 and set(texts) == filenames(everyone)
    assert Notification.objects.filter(event="packets_ready", recipient=hr_admin).count() == 1
    # The chunks' working directory went with the ZIP.
    assert [p.name for p in (media / "packets").iterdir()] == [batch.file.name.split("/")[-1]]
