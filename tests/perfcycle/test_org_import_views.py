"""The organisation import pages: upload, validate only, results, and who may use them."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfcycle.models import Employee, OrgImport
from perfcycle.org_import import CSV_COLUMNS, import_org_file

DATA = Path(__file__).parent / "data"
URL = reverse("org_import")


def upload(name="org_valid.csv", content=None):
    if content is None:
        content = (DATA / name).read_bytes()
    return SimpleUploadedFile(name, content, content_type="text/csv")


def detail_url(record):
    return reverse("org_import_detail", args=[record.pk])


def test_hr_sees_the_form_the_columns_and_the_previous_imports(client, hr_admin):
    OrgImport.objects.create(actor=hr_admin, filename="last-month.csv", status="applied", rows=9)
    client.force_login(hr_admin)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Import the organisation</h1>" in page
    assert 'type="file"' in page and 'name="deactivate_missing"' in page
    assert 'name="dry_run"' in page and "Validate only" in page
    for column in CSV_COLUMNS:
        assert f"<code>{column}</code>" in page
    assert "?download=template" in page
    assert "last-month.csv" in page and "Applied" in page


def test_the_template_csv_downloads_and_imports_cleanly(client, hr_admin):
    client.force_login(hr_admin)

    response = client.get(URL, {"download": "template"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == CSV_COLUMNS
    checked = import_org_file(actor=hr_admin, file=io.BytesIO(body), filename="t.csv", dry_run=True)
    assert checked.ok, checked.errors
    assert checked.created == len(rows) - 1


def test_hr_imports_a_file_and_lands_on_its_result(
    client, hr_admin, celery_inline, django_capture_on_commit_callbacks
):
    client.force_login(hr_admin)

    # Tasks run inline by default; the import is queued once the upload is committed.
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(URL, {"file": upload()})
    response = client.get(posted.url)

    record = OrgImport.objects.get()
    assert posted.status_code == 302 and posted.url == detail_url(record)
    assert record.status == "applied" and record.actor == hr_admin
    page = response.content.decode()
    assert "this page shows the import&#x27;s progress." in page
    assert "People created" in page and "Applied" in page
    assert Employee.objects.get(employee_number="C003").user.full_name == "陈静"


def test_a_refused_file_shows_every_problem_with_its_line(
    client, hr_admin, celery_inline, django_capture_on_commit_callbacks
):
    client.force_login(hr_admin)
    before = Employee.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(URL, {"file": upload("org_errors.csv")})
    response = client.get(posted.url)

    record = OrgImport.objects.get()
    assert posted.status_code == 302 and posted.url == detail_url(record)
    assert record.status == "rejected" and Employee.objects.count() == before
    page = response.content.decode()
    assert "Nothing was changed: the file has 3 problems." in page
    assert 'id="import-errors"' in page
    for line, column in [(3, "email"), (5, "manager_employee_number"), (6, "hire_date")]:
        assert f'<td class="num">{line}</td>\n            <td><code>{column}</code>' in page


def test_the_problems_download_as_csv(
    client, hr_admin, celery_inline, django_capture_on_commit_callbacks
):
    client.force_login(hr_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, {"file": upload("org_errors.csv")})
    record = OrgImport.objects.get()

    response = client.get(detail_url(record), {"download": "errors"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["line", "column", "problem"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("3", "email"),
        ("5", "manager_employee_number"),
        ("6", "hire_date"),
    ]


def test_the_problems_are_paged(client, hr_admin):
    errors = [{"line": n, "field": "email", "message": f"Problem {n}"} for n in range(2, 152)]
    record = OrgImport.objects.create(filename="big.csv", status="rejected", errors=errors)
    client.force_login(hr_admin)

    first = client.get(detail_url(record)).content.decode()
    second = client.get(detail_url(record), {"page": 2}).content.decode()

    assert "Problem 101<" in first and "Problem 102<" not in first
    assert "Problem 102<" in second and "Page 2 of 2" in second


def test_validate_only_shows_what_would_change_and_saves_nothing(client, hr_admin):
    client.force_login(hr_admin)
    before = Employee.objects.count()

    response = client.post(URL, {"file": upload(), "dry_run": "on"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "The file is valid." in page and "Departments created" in page
    assert Employee.objects.count() == before and not OrgImport.objects.exists()


def test_validate_only_lists_the_problems_on_the_page(client, hr_admin):
    client.force_login(hr_admin)

    response = client.post(URL, {"file": upload("org_errors.csv"), "dry_run": "on"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "The file has 3 problems" in page and 'id="import-errors"' in page
    assert "YYYY-MM-DD" in page
    assert not OrgImport.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("org.xlsx", b"employee_number\n", "is not a .csv file"),
        ("org.csv", b"PK\x03\x04\x14\x00\x06\x00binary", "spreadsheet workbook"),
        ("org.csv", b"employee_number\nC1\x00\n", "binary data"),
        ("org.csv", "employee_number\n陈静\n".encode("gb18030"), "not UTF-8 text"),
    ],
)
def test_it_refuses_an_upload_that_is_not_csv(client, hr_admin, name, content, message):
    client.force_login(hr_admin)

    response = client.post(URL, {"file": upload(name, content)})

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and 'class="error-summary"' in page
    assert not OrgImport.objects.exists()


def test_it_refuses_an_upload_over_the_size_limit(client, hr_admin, settings):
    settings.ORG_IMPORT_MAX_BYTES = 100
    client.force_login(hr_admin)

    response = client.post(URL, {"file": upload()})

    assert response.status_code == 200
    assert "The file is larger than 100" in response.content.decode()
    assert not OrgImport.objects.exists()


def test_it_asks_for_a_file(client, hr_admin):
    client.force_login(hr_admin)

    response = client.post(URL, {"dry_run": "on"})

    assert response.status_code == 200 and "field-error" in response.content.decode()


@pytest.mark.parametrize("persona", ["manager", "employee", "executive"])
def test_only_hr_may_import(client, request, persona):
    user = request.getfixturevalue(persona)
    record = OrgImport.objects.create(filename="x.csv", status="applied")
    client.force_login(user)

    assert client.get(URL).status_code == 403
    assert client.get(URL, {"download": "template"}).status_code == 403
    assert client.post(URL, {"file": upload()}).status_code == 403
    assert client.get(detail_url(record)).status_code == 403
    assert client.get(detail_url(record), {"download": "errors"}).status_code == 403
    assert (
        OrgImport.objects.count() == 1
        and not Employee.objects.filter(employee_number="C001").exists()
    )


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_wrong_method_is_refused(client, hr_admin):
    record = OrgImport.objects.create(filename="x.csv", status="applied")
    client.force_login(hr_admin)

    assert client.put(URL).status_code == 405
    assert client.delete(URL).status_code == 405
    assert client.post(detail_url(record)).status_code == 405


def test_an_unknown_import_is_not_found(client, hr_admin):
    client.force_login(hr_admin)

    assert client.get(reverse("org_import_detail", args=[999999])).status_code == 404


def _imports(count, actor):
    OrgImport.objects.bulk_create(
        OrgImport(actor=actor, filename=f"file-{n}.csv", status="applied", rows=n)
        for n in range(count)
    )


def test_the_list_of_imports_costs_the_same_queries_at_any_length(
    client, hr_admin, django_assert_num_queries
):
    client.force_login(hr_admin)
    _imports(3, hr_admin)
    client.get(URL)  # warm the session and caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).status_code == 200

    _imports(60, hr_admin)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(URL)

    assert "Page 1 of 4" in response.content.decode()
