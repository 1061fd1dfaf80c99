"""HR asks for the PDF review packets of the demo employee's department on the packets
page of the demo cycle; a real Celery worker renders them (the "pdf" queue), the batch's
progress is polled (HTMX) until it is Done, and the ZIP is downloaded: one PDF per
appraisal of the department."""

import io
import re
import zipfile

import pytest
from django.conf import settings
from playwright.sync_api import expect
from pypdf import PdfReader

from appraisals.models import Appraisal, PacketBatch
from perfcycle import demo
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Cycle, Department, Employee
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

CYCLE_PAGE = re.compile(r"/appraisals/cycles/\d+/(#.*)?$")
PACKETS_PAGE = re.compile(r"/appraisals/cycles/\d+/packets/(#.*)?$")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_hr_downloads_the_packets_of_a_department(page, company, celery_worker_thread, tmp_path):
    me = Employee.objects.select_related("department", "user").get(user__email=demo.EMPLOYEE_EMAIL)
    department = me.department
    cycle = Cycle.objects.get(name__startswith="Performance year")
    assert cycle.status == Cycle.Status.MANAGER_REVIEW
    in_scope = Appraisal.objects.filter(
        cycle=cycle, department__in=subtree_sql(Department, "parent", [department.pk])
    ).exclude(stage=Appraisal.Stage.WITHDRAWN)
    expected = in_scope.count()
    assert expected > 0

    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cycles").click()
    page.get_by_role("link", name=cycle.name, exact=True).click()
    page.wait_for_url(CYCLE_PAGE)
    page.get_by_role("link", name="Review packets").click()
    page.wait_for_url(PACKETS_PAGE)
    expect(page.locator("h1")).to_contain_text("Review packets")

    page.get_by_label("Department").select_option(str(department.pk))
    page.get_by_role("button", name="Make the packets").click()
    page.wait_for_url(PACKETS_PAGE)
    batch = PacketBatch.objects.get(cycle=cycle)
    row = page.locator(f"#batch-{batch.pk}")
    expect(row).to_contain_text(department.name)
    expect(row.locator(".badge")).to_have_text("Done", timeout=90_000)
    expect(row.locator("progress")).to_have_count(0)
    expect(row).to_contain_text(f"{expected} of {expected} packets made.")

    with page.expect_download() as info:
        row.get_by_role("link", name="Download the ZIP file").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    path = tmp_path / "packets.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert len(names) == expected
        assert all(name.endswith(".pdf") for name in names)
        first = zf.read(names[0])
    assert first.startswith(b"%PDF-")
    assert PdfReader(io.BytesIO(first)).pages
    mine = next(name for name in names if me.employee_number in name)
    with zipfile.ZipFile(path) as zf:
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(zf.read(mine))).pages)
    assert me.name in text
