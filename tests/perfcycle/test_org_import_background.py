"""An uploaded organisation file is imported by a Celery task while the page shows progress."""

import time
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from perfcycle.models import Employee, OrgImport
from perfcycle.tasks import run_org_import
from tests.conftest import delivered as run_task

DATA = Path(__file__).parent / "data"
URL = reverse("org_import")


def upload(name="org_valid.csv"):
    return SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/csv")


def detail_url(record):
    return reverse("org_import_detail", args=[record.pk])


def queued(actor, name="org_valid.csv", **fields):
    text = (DATA / name).read_bytes().decode("utf-8-sig")
    return OrgImport.objects.create(
        actor=actor, filename=name, status="queued", source=text, **fields
    )


def test_it_imports_inline_with_the_default_settings(
    client, hr_admin, celery_inline, django_capture_on_commit_callbacks
):
    client.force_login(hr_admin)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(URL, {"file": upload(), "deactivate_missing": "on"})

    record = OrgImport.objects.get()
    assert len(callbacks) == 1
    assert response.status_code == 302 and response.url == detail_url(record)
    assert record.status == "applied" and record.actor == hr_admin
    assert record.deactivate_missing and record.progress == 100 and record.source == ""
    assert record.created == 6 and record.rows == 6
    assert Employee.objects.get(employee_number="C003").user.full_name == "陈静"


def test_the_upload_is_only_queued_until_it_is_committed(client, hr_admin):
    client.force_login(hr_admin)

    response = client.post(URL, {"file": upload()})

    record = OrgImport.objects.get()
    assert response.status_code == 302 and record.status == "queued" and record.progress == 0
    assert record.source.startswith("employee_number,full_name")
    assert not Employee.objects.filter(employee_number="C001").exists()
    page = client.get(response.url).content.decode()
    assert "Queued" in page and 'value="0" max="100"' in page and "0% done" in page
    assert 'hx-trigger="every 2s"' in page and "<script>" not in page and "style=" not in page


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_the_queued_import(client, hr_admin, celery_worker_thread):
    client.force_login(hr_admin)

    response = client.post(URL, {"file": upload()})

    assert response.status_code == 302
    record = OrgImport.objects.get()
    deadline = time.monotonic() + 15
    while record.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        record.refresh_from_db()
    assert record.status == "applied", record.errors
    assert record.progress == 100 and record.source == "" and record.created == 6
    assert Employee.objects.get(employee_number="C003").user.full_name == "陈静"
    page = client.get(detail_url(record)).content.decode()
    assert "People created" in page and "hx-trigger" not in page


def test_running_the_task_twice_writes_nothing_the_second_time(hr_admin, django_assert_num_queries):
    record = queued(hr_admin)
    run_org_import(record.pk)
    record.refresh_from_db()
    assert record.status == "applied" and record.created == 6
    employees = list(Employee.history.values_list("history_id", flat=True))

    with django_assert_num_queries(1):  # the claim, which finds nothing queued
        run_org_import(record.pk)

    again = OrgImport.objects.get(pk=record.pk)
    assert (again.status, again.created, again.progress) == ("applied", 6, 100)
    assert list(Employee.history.values_list("history_id", flat=True)) == employees
    assert OrgImport.objects.count() == 1


def delivered(record, *, redelivered: bool):
    return run_task(run_org_import, record.pk, redelivered=redelivered)


def test_an_import_whose_worker_died_is_imported_when_the_task_is_redelivered(hr_admin):
    # The worker claimed the import and died inside its transaction: nothing was
    # written, the row says running.
    record = queued(hr_admin)
    OrgImport.objects.filter(pk=record.pk).update(status="running", progress=50)

    delivered(record, redelivered=False)  # a duplicate of the message does not take it over
    assert OrgImport.objects.get(pk=record.pk).status == "running"
    assert not Employee.objects.filter(user__email__endswith="@acme.test").exists()

    delivered(record, redelivered=True)

    record.refresh_from_db()
    assert (record.status, record.created, record.progress) == ("applied", 6, 100)
    delivered(record, redelivered=True)  # and once applied, never again
    assert Employee.history.filter(history_type="+", employee_number__startswith="C").count() == 6


def test_a_refused_file_ends_rejected_with_its_line_errors(hr_admin):
    before = Employee.objects.count()
    record = queued(hr_admin, "org_errors.csv")

    run_org_import(record.pk)

    record.refresh_from_db()
    assert record.status == "rejected" and record.source == "" and record.progress == 100
    assert [(e["line"], e["field"]) for e in record.errors] == [
        (3, "email"),
        (5, "manager_employee_number"),
        (6, "hire_date"),
    ]
    assert Employee.objects.count() == before and OrgImport.objects.count() == 1


def test_the_problems_are_written_in_the_uploaders_language(hr_admin):
    record = queued(hr_admin, "org_errors.csv")

    run_org_import(record.pk, "zh-hans")

    record.refresh_from_db()
    assert record.status == "rejected"
    assert all(not e["message"].isascii() for e in record.errors)


def test_an_unexpected_failure_rejects_the_import_and_is_raised(employee):
    # The uploader lost the HR role before the worker got to the file.
    record = queued(employee)

    with pytest.raises(PermissionDenied):
        run_org_import(record.pk)

    record.refresh_from_db()
    assert record.status == "rejected" and record.source == ""
    assert len(record.errors) == 1 and "unexpected error" in record.errors[0]["message"]
    assert not Employee.objects.filter(employee_number="C001").exists()


def test_the_status_partial_shows_the_progress_while_running(client, hr_admin):
    record = queued(hr_admin)
    OrgImport.objects.filter(pk=record.pk).update(status="running", progress=50)
    client.force_login(hr_admin)

    response = client.get(detail_url(record), headers={"HX-Request": "true"})

    part = response.content.decode()
    assert response.status_code == 200 and "<h1>" not in part
    assert part.lstrip().startswith('<div id="import-status"')
    assert 'value="50" max="100"' in part and "50% done" in part and "Running" in part
    assert f'hx-get="{detail_url(record)}"' in part and 'hx-trigger="every 2s"' in part


def test_the_status_partial_stops_polling_once_finished(client, hr_admin):
    record = queued(hr_admin)
    run_org_import(record.pk)
    client.force_login(hr_admin)

    part = client.get(detail_url(record), headers={"HX-Request": "true"}).content.decode()

    assert "Applied" in part and "People created" in part
    assert "hx-get" not in part and "hx-trigger" not in part and "<progress" not in part


@pytest.mark.parametrize("persona", ["manager", "employee", "executive", "outsider"])
def test_only_hr_reaches_a_running_import(client, request, hr_admin, persona):
    record = queued(hr_admin)
    client.force_login(request.getfixturevalue(persona))

    assert client.get(detail_url(record)).status_code == 403
    assert client.get(detail_url(record), headers={"HX-Request": "true"}).status_code == 403
    assert client.post(URL, {"file": upload()}).status_code == 403
    assert OrgImport.objects.count() == 1


def test_the_status_page_refuses_changes(client, hr_admin):
    record = queued(hr_admin)
    client.force_login(hr_admin)

    assert client.post(detail_url(record)).status_code == 405
    assert OrgImport.objects.get(pk=record.pk).status == "queued"
