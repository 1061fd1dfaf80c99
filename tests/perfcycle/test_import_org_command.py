"""``manage.py import_org``: the organisation import from the command line."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from perfcycle.models import Department, Employee, OrgImport

DATA = Path(__file__).parent / "data"
VALID = str(DATA / "org_valid.csv")
WITH_ERRORS = str(DATA / "org_errors.csv")


def command(*args):
    out, err = StringIO(), StringIO()
    call_command("import_org", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_file_and_prints_a_summary(org, hr_admin):
    out, _err = command(VALID, "--actor", "HR@example.com")

    assert "Imported" in out
    assert "6 created, 0 updated, 0 unchanged, 0 deactivated" in out
    assert "departments: 4 created" in out
    assert Employee.objects.get(employee_number="C003").user.full_name == "陈静"
    record = OrgImport.objects.get()
    assert record.actor == hr_admin and record.filename == "org_valid.csv"
    assert Employee.objects.get(employee_number="C001").history.get().history_user == hr_admin


@pytest.mark.django_db
def test_it_prints_every_error_with_its_line_and_fails():
    with pytest.raises(CommandError, match="3 problems found; nothing was imported"):
        command(WITH_ERRORS)

    assert not Employee.objects.exists()
    assert OrgImport.objects.get().status == OrgImport.Status.REJECTED


@pytest.mark.django_db
def test_the_errors_name_the_lines():
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_org", WITH_ERRORS, stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("line 3, email:")
    assert lines[1].startswith("line 5, manager_employee_number:")
    assert lines[2].startswith("line 6, hire_date:") and "YYYY-MM-DD" in lines[2]


@pytest.mark.django_db
def test_a_dry_run_writes_nothing():
    out, _err = command(VALID, "--dry-run")

    assert "nothing was written" in out and "6 created" in out
    assert not Employee.objects.exists() and not OrgImport.objects.exists()


@pytest.mark.django_db
def test_it_deactivates_people_missing_from_the_file_when_asked(tmp_path):
    command(VALID)
    shorter = tmp_path / "shorter.csv"
    shorter.write_text("".join(Path(VALID).read_text().splitlines(True)[:-1]))

    out, _err = command(str(shorter))
    assert "0 deactivated" in out
    out, _err = command(str(shorter), "--deactivate-missing")

    assert "5 unchanged, 1 deactivated" in out
    assert not Employee.objects.get(employee_number="C006").is_active
    assert Department.objects.get(code="FIN").head.employee_number == "C006"


def test_it_refuses_an_actor_who_is_not_hr(org):
    with pytest.raises(CommandError, match="HR administrators only"):
        command(VALID, "--actor", "employee@example.com")
    with pytest.raises(CommandError, match="nobody@example.com"):
        command(VALID, "--actor", "nobody@example.com")
    assert not OrgImport.objects.exists()


@pytest.mark.django_db
def test_it_says_when_the_file_cannot_be_read(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        command(str(tmp_path / "missing.csv"))
    workbook = tmp_path / "org.xlsx"
    workbook.write_bytes(b"PK\x03\x04")
    with pytest.raises(CommandError, match="1 problem found"):
        command(str(workbook))
