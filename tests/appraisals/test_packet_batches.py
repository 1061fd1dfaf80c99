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

import pytest
from celery.signals import task_prerun
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from appraisals import packet, services
from appraisals.models import Appraisal, PacketBatch
from appraisals.tasks import expire_packet_batches
from perfcycle import settings as settings_module
from perfcycle.celery import app
from perfcycle.models import Notification
from tests.conftest import delivered as run_task

S = PacketBatch.Status


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def run(batch, **kwargs):
    return services.packet_batch_run(batch_id=batch.pk, **kwargs)


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
    assert PacketBatch.objects.get(pk=batch.pk).file.name == file
    assert Notification.objects.filter(event="packets_ready").count() == 1


def delivered(batch, *, redelivered: bool):
    from appraisals.tasks import render_packet_batch

    return run_task(render_packet_batch, batch.pk, redelivered=redelivered)


class WorkerKilled(BaseException):
    """What a worker dying half-way looks like from inside the batch."""


def test_a_worker_killed_midway_offers_no_zip_and_the_redelivery_finishes_it(
    client, org, manager, appraisal_cycle, monkeypatch, media
):
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
    # A SIGKILL leaves the working file behind; it is never offered.
    (media / "packets" / f".batch-{batch.pk}-dead.part").write_bytes(b"PK half")
    client.force_login(manager)
    download = reverse("appraisals:packet_batch_download", args=[batch.pk])
    assert client.get(download).status_code == 404
    assert delivered(batch, redelivered=False) is None  # a duplicate does not take it over

    delivered(batch, redelivered=True)  # the broker hands the task to another worker
    done = PacketBatch.objects.get(pk=batch.pk)

    assert done.status == S.DONE and done.rendered == 3
    assert sorted(p.name for p in (media / "packets").iterdir()) == [done.file.name.split("/")[-1]]
    response = client.get(download)
    assert response.status_code == 200
    assert set(zip_texts(b"".join(response.streaming_content))) == filenames(
        sales(org, appraisal_cycle)
    )


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

    assert expire_packet_batches() == 1
    assert expire_packet_batches() == 0  # safe to run twice

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, old.file.name) == (S.EXPIRED, "")
    assert recent.status == S.DONE and recent.file
    remaining = sorted(p.name for p in (media / "packets").iterdir())
    assert remaining == sorted([recent.file.name.split("/")[-1], live_part.name])
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


def test_batches_are_routed_to_the_pdf_queue():
    route = app.amqp.router.route({}, "appraisals.render_packet_batch")
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
