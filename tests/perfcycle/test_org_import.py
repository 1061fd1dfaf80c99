"""The organisation import service: validation of the whole file, bulk apply, history."""

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from perfcycle import access, org_import
from perfcycle.models import Department, Employee, OrgImport, Position, User
from perfcycle.org_import import (
    CSV_COLUMNS,
    LINE_KEY,
    check_upload,
    import_org_file,
    import_org_rows,
    read_org_csv,
)
from tests.conftest import fresh
from tests.factories import UserFactory

# Line numbers count the header as line 1, so the first person is on line 2.
COMPANY = [
    # number, name, e-mail, dept, dept name, parent, position, grade, manager, hired, head
    ["C001", "Ada Chief", "ada@acme.test", "ACME", "Acme", "", "Chief executive", "EX", "",
     "2010-04-01", "yes"],
    ["C002", "Ben Okafor", "ben@acme.test", "OPS", "Operations", "ACME", "Operations director",
     "M2", "C001", "2015-09-14", "yes"],
    ["C003", "陈静", "chen.jing@acme.test", "OPS-N", "北区运营", "OPS", "Analyst", "P2", "C002",
     "2019-03-04", "yes"],
    ["C004", "Dana Diaz", "dana@acme.test", "OPS-N", "北区运营", "OPS", "Analyst", "P2", "C003",
     "2021-11-22", "no"],
    ["C005", "Eli Evans", "eli@acme.test", "OPS", "Operations", "ACME", "Planner", "P3", "C002",
     "2022-06-01", ""],
    ["C006", "Fay Fischer", "fay@acme.test", "FIN", "Finance", "ACME", "Controller", "M1",
     "C001", "2017-01-09", "yes"],
]  # fmt: skip


HEADER = ",".join(CSV_COLUMNS).encode()


def company() -> list[dict[str, str]]:
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in COMPANY]


def run(rows, *, actor=None, **options):
    return import_org_rows(actor=actor, rows=rows, filename="org.csv", **options)


def to_csv(rows, *, columns=CSV_COLUMNS, delimiter=",", bom=True) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def where(outcome) -> set[tuple[int, str]]:
    return {(e.line, e.field) for e in outcome.errors}


def footprint() -> dict[str, int]:
    """How much organisation there is, history included."""
    return {
        "users": User.objects.count(),
        "departments": Department.objects.count(),
        "positions": Position.objects.count(),
        "employees": Employee.objects.count(),
        "department history": Department.history.count(),
        "position history": Position.history.count(),
        "employee history": Employee.history.count(),
    }


def emp(number) -> Employee:
    return Employee.objects.select_related("user", "department", "position", "manager").get(
        employee_number=number
    )


# --- a first import -----------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_the_organisation_from_the_rows():
    outcome = run(company())

    assert outcome.ok, outcome.errors
    assert (outcome.created, outcome.updated, outcome.unchanged) == (6, 0, 0)
    assert (outcome.departments_created, outcome.positions_created) == (4, 5)
    assert (outcome.record.departments_created, outcome.record.positions_created) == (4, 5)
    tree = {d.code: (d.name, d.parent and d.parent.code) for d in Department.objects.all()}
    assert tree == {
        "ACME": ("Acme", None),
        "OPS": ("Operations", "ACME"),
        "OPS-N": ("北区运营", "OPS"),
        "FIN": ("Finance", "ACME"),
    }
    dana = emp("C004")
    assert dana.manager.employee_number == "C003"
    assert (dana.position.title, dana.position.grade) == ("Analyst", "P2")
    assert dana.position.department.code == "OPS-N"
    assert str(dana.hire_date) == "2021-11-22"
    assert dana.user.email == "dana@acme.test" and not dana.user.has_usable_password()
    assert emp("C003").user.full_name == "陈静"
    record = outcome.record
    assert record.pk and record.status == OrgImport.Status.APPLIED
    assert (record.rows, record.created) == (6, 6)


@pytest.mark.django_db
def test_it_makes_the_marked_people_heads_of_their_departments():
    run(company())
    heads = {d.code: d.head.employee_number for d in Department.objects.select_related("head")}
    assert heads == {"ACME": "C001", "OPS": "C002", "OPS-N": "C003", "FIN": "C006"}


def test_it_records_one_history_row_per_created_record_with_who_and_why(hr_admin):
    rows = company()
    import_org_rows(actor=hr_admin, rows=rows, filename="hris-2026.csv")

    for model in (Department, Position, Employee):
        created = model.history.filter(history_change_reason__contains="hris-2026.csv")
        assert created.count() == model.objects.filter(pk__in=created.values("id")).count(), model
        assert set(created.values_list("history_type", flat=True)) == {"+"}
        assert set(created.values_list("history_user", flat=True)) == {hr_admin.pk}
    # The one creation row already holds the final parent, head and manager.
    ops_n = Department.history.get(code="OPS-N")
    assert ops_n.parent_id == Department.objects.get(code="OPS").pk
    assert ops_n.head_id == emp("C003").pk
    assert Employee.history.get(employee_number="C004").manager_id == emp("C003").pk


def test_it_refuses_an_actor_who_is_not_hr(org, manager):
    with pytest.raises(PermissionDenied):
        run(company(), actor=manager)
    with pytest.raises(PermissionDenied):
        import_org_file(actor=manager, file=io.BytesIO(to_csv(company())), filename="org.csv")
    assert not Department.objects.filter(code="ACME").exists()


# --- every error, with its line and column ------------------------------------------


def _set(line, name, value):
    def change(rows):
        rows[line - 2][name] = value

    return change


def _drop_column(name):
    def change(rows):
        for row in rows:
            del row[name]

    return change


ERRORS = {
    "missing column": (_drop_column("hire_date"), {(1, "hire_date")}, "hire_date"),
    "empty employee number": (_set(5, "employee_number", ""), {(5, "employee_number")}, ""),
    "empty name": (_set(5, "full_name", ""), {(5, "full_name")}, "name is missing"),
    "empty e-mail": (_set(5, "email", ""), {(5, "email")}, "e-mail address is missing"),
    "empty department name": (_set(5, "department_name", ""), {(5, "department_name")}, ""),
    "empty hire date": (_set(5, "hire_date", ""), {(5, "hire_date")}, "YYYY-MM-DD"),
    "missing department": (_set(5, "department_code", ""), {(5, "department_code")}, ""),
    "bad e-mail": (_set(3, "email", "ben(at)acme.test"), {(3, "email")}, "ben(at)acme.test"),
    "duplicate e-mail": (_set(6, "email", "DANA@acme.test"), {(6, "email")}, "line 5"),
    "duplicate employee number": (
        _set(6, "employee_number", "C004"),
        {(6, "employee_number")},
        "line 5",
    ),
    "day-month-year date": (_set(4, "hire_date", "04/03/2019"), {(4, "hire_date")}, "YYYY-MM-DD"),
    "impossible date": (_set(4, "hire_date", "2019-02-30"), {(4, "hire_date")}, "YYYY-MM-DD"),
    "unknown manager": (
        _set(5, "manager_employee_number", "C099"),
        {(5, "manager_employee_number")},
        "C099",
    ),
    "own manager": (
        _set(5, "manager_employee_number", "C004"),
        {(5, "manager_employee_number")},
        "own manager",
    ),
    "reporting cycle": (
        _set(2, "manager_employee_number", "C003"),
        {
            (2, "manager_employee_number"),
            (3, "manager_employee_number"),
            (4, "manager_employee_number"),
        },
        "C001 → C003 → C002 → C001",
    ),  # fmt: skip
    "unknown parent department": (
        _set(7, "parent_department_code", "NOPE"),
        {(7, "parent_department_code")},
        "NOPE",
    ),
    "own parent department": (
        _set(7, "parent_department_code", "FIN"),
        {(7, "parent_department_code")},
        "itself",
    ),
    "conflicting department name": (
        _set(6, "department_name", "Ops"),
        {(6, "department_name")},
        "line 3",
    ),
    "conflicting parent department": (
        _set(6, "parent_department_code", "FIN"),
        {(6, "parent_department_code")},
        "line 3",
    ),
    "department cycle": (
        _set(2, "parent_department_code", "OPS-N"),
        {
            (2, "parent_department_code"),
            (3, "parent_department_code"),
            (4, "parent_department_code"),
        },
        "loop",
    ),  # fmt: skip
    "two heads": (
        _set(5, "department_head", "yes"),
        {(4, "department_head"), (5, "department_head")},
        "lines 4, 5",
    ),
    "unreadable head flag": (_set(5, "department_head", "maybe"), {(5, "department_head")}, "yes"),
    "bad employee number": (_set(5, "employee_number", "C 004"), {(5, "employee_number")}, ""),
    "bad manager number": (
        _set(5, "manager_employee_number", "C/3"),
        {(5, "manager_employee_number")},
        "C/3",
    ),
    "bad department code": (
        _set(7, "department_code", "FIN/1"),
        {(7, "department_code")},
        "FIN/1",
    ),
    "too long a name": (_set(5, "full_name", "x" * 201), {(5, "full_name")}, "200"),
    "conflicting grade": (_set(5, "grade", "P3"), {(5, "grade")}, "P2"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(ERRORS))
def test_it_reports_each_bad_row_with_its_line_and_column(case):
    change, expected, fragment = ERRORS[case]
    rows = company()
    change(rows)

    outcome = run(rows)

    assert not outcome.ok
    assert where(outcome) == expected, outcome.errors
    assert all(fragment in e.message for e in outcome.errors), outcome.errors
    assert not Employee.objects.exists()


def test_it_refuses_an_e_mail_address_that_belongs_to_someone_else(org):
    rows = company()
    rows[3]["email"] = "Manager@Example.com"

    outcome = run(rows)

    assert where(outcome) == {(5, "email")}
    assert "Mona Manager" in outcome.errors[0].message
    assert "E0002" in outcome.errors[0].message


def test_it_refuses_a_manager_who_has_left(org):
    org.outsider.is_active = False
    org.outsider.save()
    rows = company()
    rows[3]["manager_employee_number"] = "E0006"  # on record, but inactive

    assert where(run(rows)) == {(5, "manager_employee_number")}
    rows[3]["manager_employee_number"] = "E0005"  # on record and active: fine
    assert run(rows, dry_run=True).ok


def test_it_refuses_a_manager_who_would_be_deactivated(org):
    rows = company()
    rows[3]["manager_employee_number"] = "E0005"

    outcome = run(rows, deactivate_missing=True)

    assert where(outcome) == {(5, "manager_employee_number")}
    assert "deactivated" in outcome.errors[0].message


def test_it_finds_a_cycle_through_people_who_are_not_in_the_file(org):
    # E0002 (on record, not in the file) reports to E0001; make E0001 report to a new person
    # who reports to E0002.
    rows = [
        {**company()[0], "employee_number": "E0001", "email": "ceo@example.com",
         "full_name": "Cora Chief", "manager_employee_number": "C100"},
        {**company()[1], "employee_number": "C100", "manager_employee_number": "E0002",
         "department_head": "no"},
    ]  # fmt: skip

    outcome = run(rows)

    assert where(outcome) == {(2, "manager_employee_number"), (3, "manager_employee_number")}


@pytest.mark.django_db
def test_it_reports_every_problem_of_the_file_at_once():
    rows = company()
    rows[1]["email"] = "not-an-address"
    rows[2]["hire_date"] = "2019-13-01"
    rows[3]["manager_employee_number"] = "C404"
    rows[5]["parent_department_code"] = "HOLDING"

    outcome = run(rows)

    assert where(outcome) == {
        (3, "email"),
        (4, "hire_date"),
        (5, "manager_employee_number"),
        (7, "parent_department_code"),
    }
    assert [e.line for e in outcome.errors] == [3, 4, 5, 7]


def test_it_writes_nothing_to_the_organisation_when_a_row_is_wrong(org, hr_admin):
    before = footprint()
    rows = company()
    rows[4]["hire_date"] = "yesterday"

    outcome = run(rows, actor=hr_admin, deactivate_missing=True)

    assert not outcome.ok
    assert footprint() == before
    assert Employee.objects.filter(is_active=False).count() == 0
    record = OrgImport.objects.get()
    assert record == outcome.record
    assert record.status == OrgImport.Status.REJECTED and record.actor == hr_admin
    assert record.errors == [
        {"line": 6, "field": "hire_date", "message": outcome.errors[0].message}
    ]


def test_a_dry_run_writes_nothing_at_all_and_says_what_would_change(org):
    before = footprint()

    outcome = run(company(), dry_run=True)

    assert outcome.ok
    assert (outcome.created, outcome.departments_created, outcome.positions_created) == (6, 4, 5)
    assert outcome.record.pk is None
    assert footprint() == before and not OrgImport.objects.exists()
    rows = company()
    rows[0]["email"] = "wrong"
    assert not run(rows, dry_run=True).ok
    assert footprint() == before and not OrgImport.objects.exists()


@pytest.mark.django_db
def test_a_clash_with_a_concurrent_change_writes_nothing_and_says_so(monkeypatch):
    real = org_import.changes_for

    def meanwhile(plan, snapshot, **options):
        # Someone else creates the same department between the check and the write.
        Department.objects.create(code="FIN", name="Finance")
        return real(plan, snapshot, **options)

    monkeypatch.setattr(org_import, "changes_for", meanwhile)

    outcome = run(company())

    assert not outcome.ok and "changed while this file was being imported" in str(outcome.errors)
    assert not Employee.objects.exists() and not User.objects.exists()
    assert OrgImport.objects.get().status == OrgImport.Status.REJECTED


# --- re-import and reorganisation ---------------------------------------------------


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing():
    run(company())
    before = footprint()
    versions = list(Employee.objects.values_list("version", flat=True))

    with CaptureQueriesContext(connection) as ctx:
        outcome = run(company())

    assert outcome.ok
    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 6)
    assert (outcome.departments_created, outcome.departments_updated) == (0, 0)
    assert outcome.positions_created == 0
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
        and "perfcycle_orgimport" not in q["sql"]
    ]
    assert writes == []
    assert footprint() == before
    assert list(Employee.objects.values_list("version", flat=True)) == versions


def test_a_changed_file_reorganises_in_place_and_history_keeps_the_old_values(org, hr_admin):
    run(company(), actor=hr_admin)
    ids = dict(Employee.objects.values_list("employee_number", "pk"))
    eli = emp("C005")
    rows = company()
    rows[4].update(
        department_code="FIN", department_name="Finance", manager_employee_number="C006",
        full_name="Eli Evans-Ng", email="eli.ng@acme.test",
    )  # fmt: skip
    for row in rows:
        if row["department_code"] == "OPS":
            row["department_name"] = "Operations & Logistics"
        if row["department_code"] == "OPS-N":
            row["parent_department_code"] = "ACME"

    outcome = import_org_rows(actor=hr_admin, rows=rows, filename="reorg.csv")

    assert outcome.ok, outcome.errors
    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 1, 5)
    assert outcome.departments_updated == 2 and outcome.positions_created == 1
    assert dict(Employee.objects.values_list("employee_number", "pk")) == ids
    moved = emp("C005")
    assert moved.department.code == "FIN" and moved.manager.employee_number == "C006"
    assert moved.position.department.code == "FIN"
    assert (moved.user.full_name, moved.user.email) == ("Eli Evans-Ng", "eli.ng@acme.test")
    assert moved.user_id == eli.user_id
    assert moved.version == eli.version + 1
    latest = moved.history.latest()
    assert latest.history_change_reason == "Organisation import reorg.csv"
    assert latest.history_user == hr_admin
    assert latest.prev_record.manager_id == emp("C002").pk
    assert latest.prev_record.department.code == "OPS"
    ops = Department.objects.get(code="OPS")
    assert ops.name == "Operations & Logistics" and ops.version == 2
    assert ops.history.latest().prev_record.name == "Operations"
    ops_n = Department.objects.get(code="OPS-N")
    assert ops_n.parent.code == "ACME"
    assert ops_n.history.latest().prev_record.parent.code == "OPS"
    # And once more: the reorganised file is now the state, so nothing changes.
    again = import_org_rows(actor=hr_admin, rows=rows, filename="reorg.csv")
    assert (again.updated, again.unchanged, again.departments_updated) == (0, 6, 0)


def test_a_former_manager_loses_sight_of_a_moved_employee(org, manager, hr_admin):
    assert access.employees_visible_to(manager).filter(pk=org.employee.pk).exists()
    row = {
        "employee_number": "E0003",
        "full_name": "Emil Employee",
        "email": "employee@example.com",
        "department_code": "ENG",
        "department_name": "Engineering",
        "parent_department_code": "HQ",
        "position": "",
        "manager_employee_number": "E0005",
        "hire_date": "2020-01-06",
    }

    outcome = run([row], actor=hr_admin)

    assert outcome.ok and outcome.updated == 1, outcome.errors
    assert not access.employees_visible_to(fresh(manager)).filter(pk=org.employee.pk).exists()
    other = fresh(org.other_manager.user)
    assert access.employees_visible_to(other).filter(pk=org.employee.pk).exists()
    org.employee.refresh_from_db()
    assert org.employee.history.latest().prev_record.manager_id == org.manager.pk
    # Departments named in the file but otherwise unchanged keep their head.
    assert Department.objects.get(code="ENG").head_id == org.other_manager.pk


@pytest.mark.django_db
def test_people_missing_from_the_file_are_left_alone_unless_asked():
    run(company())
    without_eli = [row for row in company() if row["employee_number"] != "C005"]

    left_alone = run(without_eli)
    assert left_alone.deactivated == 0 and emp("C005").is_active

    outcome = run(without_eli, deactivate_missing=True)

    assert outcome.ok
    assert (outcome.deactivated, outcome.updated, outcome.unchanged) == (1, 0, 5)
    assert outcome.record.deactivated == 1
    eli = emp("C005")
    assert not eli.is_active and eli.version == 2
    assert eli.history.latest().prev_record.is_active
    assert not eli.user.is_active, "a leaver's login must stop working"

    back = run(company())
    assert (back.updated, back.unchanged) == (1, 5)
    assert emp("C005").is_active
    assert emp("C005").user.is_active


# --- department heads ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_department_head_column_moves_and_clears_headships():
    run(company())
    rows = company()
    rows[2]["department_head"] = "no"  # C003 no longer heads OPS-N...
    rows[3]["department_head"] = "yes"  # ...C004 does
    rows[1]["department_head"] = ""  # and OPS has no head for now

    outcome = run(rows)

    assert outcome.ok and outcome.departments_updated == 2
    assert Department.objects.get(code="OPS-N").head.employee_number == "C004"
    assert Department.objects.get(code="OPS").head is None
    assert Department.objects.get(code="OPS").version == 2


@pytest.mark.django_db
def test_without_the_head_column_headships_stay_as_they_are():
    run(company())
    rows = company()
    for row in rows:
        del row["department_head"]

    outcome = run(rows)

    assert (outcome.unchanged, outcome.departments_updated) == (6, 0)
    assert Department.objects.get(code="OPS").head.employee_number == "C002"


def test_a_new_head_replaces_one_who_is_not_in_the_file(org):
    row = {
        **company()[1],
        "employee_number": "S100",
        "department_code": "SALES",
        "department_name": "Sales",
        "parent_department_code": "HQ",
        "manager_employee_number": "E0001",
        "department_head": "no",
    }
    assert run([row]).ok
    assert Department.objects.get(code="SALES").head_id == org.manager.pk

    row["department_head"] = "yes"
    assert run([row]).departments_updated == 1
    assert Department.objects.get(code="SALES").head.employee_number == "S100"


# --- e-mail addresses and existing accounts -----------------------------------------


@pytest.mark.django_db
def test_an_existing_login_without_an_employee_record_is_linked_not_duplicated():
    admin = UserFactory(email="ada@acme.test", full_name="Ada (admin)")

    outcome = run(company())

    assert outcome.ok
    assert emp("C001").user_id == admin.pk
    admin.refresh_from_db()
    assert admin.full_name == "Ada Chief" and admin.has_usable_password()
    assert User.objects.count() == 6


@pytest.mark.django_db
def test_it_refuses_to_give_an_employee_the_login_of_another_account():
    UserFactory(email="other@acme.test", full_name="Someone Else")
    run(company())
    rows = company()
    rows[0]["email"] = "other@acme.test"

    outcome = run(rows)

    assert where(outcome) == {(2, "email")} and "Someone Else" in outcome.errors[0].message


# --- reading files ------------------------------------------------------------------


@pytest.mark.django_db
def test_chinese_names_survive_the_round_trip_through_a_utf8_file():
    data = to_csv(company(), bom=True)

    outcome = import_org_file(actor=None, file=io.BytesIO(data), filename="组织.csv")

    assert outcome.ok, outcome.errors
    assert emp("C003").user.full_name == "陈静"
    assert Department.objects.get(code="OPS-N").name == "北区运营"
    assert OrgImport.objects.get().filename == "组织.csv"
    # Without a byte-order mark, and with semicolons as Excel writes in some locales.
    again = import_org_file(
        actor=None, file=io.BytesIO(to_csv(company(), delimiter=";", bom=False)), filename="a.csv"
    )
    assert again.ok and again.unchanged == 6


def test_read_org_csv_numbers_lines_like_a_spreadsheet_and_skips_blank_lines():
    text = (
        "Employee Number,full_name,email,department_code,department_name,"
        "parent_department_code,position,manager_employee_number,hire_date,extra\n"
        "C001,Ada,ada@acme.test,ACME,Acme,,,,2010-04-01,ignored\n"
        "\n"
        'C002,"Okafor, Ben",ben@acme.test,ACME,Acme,,,C001,2015-09-14,\n'
        "C003,too few values\n"
    )

    rows, errors = read_org_csv(io.StringIO(text))

    assert [row[LINE_KEY] for row in rows] == ["2", "4"]
    assert rows[1]["full_name"] == "Okafor, Ben"
    assert rows[0]["employee_number"] == "C001"
    assert "extra" not in rows[0] and "grade" not in rows[0]
    assert [(e.line, e.field) for e in errors] == [(5, "file")]
    assert "2 values" in errors[0].message


def test_read_org_csv_names_every_missing_column_in_the_header():
    rows, errors = read_org_csv(io.BytesIO(b"employee_number,full_name,email\nC1,A,a@b.test\n"))

    assert rows == []
    assert {e.field for e in errors} == {
        "department_code",
        "department_name",
        "parent_department_code",
        "position",
        "manager_employee_number",
        "hire_date",
    }
    assert {e.line for e in errors} == {1}


@pytest.mark.django_db
def test_line_numbers_in_errors_are_the_lines_of_the_file():
    data = to_csv(company()).replace(b"\nC004,", b"\n\n\nC004,")
    data = data.replace(b"dana@acme.test", b"dana@")

    outcome = import_org_file(actor=None, file=io.BytesIO(data), filename="org.csv")

    assert where(outcome) == {(7, "email")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "content", "fragment", "line"),
    [
        ("org.xlsx", b"employee_number\n", ".csv", 0),
        ("org.csv", b"PK\x03\x04\x14\x00\x06\x00", "workbook", 0),
        ("org.csv", b"employee_number\nC1\x00\n", "binary", 2),
        ("org.csv", "employee_number\n陈静\n".encode("gb18030"), "UTF-8", 2),
        ("org.csv", b"", "empty", 1),
        ("org.csv", HEADER + b'\n"C1,unterminated\n', "cannot be read", 2),
    ],
)
def test_it_refuses_what_is_not_a_readable_csv_file(filename, content, fragment, line):
    outcome = import_org_file(actor=None, file=io.BytesIO(content), filename=filename)

    assert not outcome.ok
    assert fragment in outcome.errors[0].message
    assert outcome.errors[0].line == line
    assert OrgImport.objects.get().status == OrgImport.Status.REJECTED


@pytest.mark.django_db
def test_it_refuses_a_file_over_the_size_limit(settings):
    data = to_csv(company())
    settings.ORG_IMPORT_MAX_BYTES = len(data) - 1

    outcome = import_org_file(actor=None, file=io.BytesIO(data), filename="org.csv")

    assert not outcome.ok and "larger than" in outcome.errors[0].message
    assert not Employee.objects.exists()
    settings.ORG_IMPORT_MAX_BYTES = len(data)
    assert check_upload(io.BytesIO(data), "org.csv") == []


# --- the number of queries does not grow with the file ------------------------------


def _generated(size: int, *, renamed: bool = False) -> list[dict[str, str]]:
    rows = company()
    for i in range(size - len(rows)):
        number = f"G{i:05d}"
        rows.append(
            dict(
                zip(CSV_COLUMNS, [
                    number, f"Person {i}{' (renamed)' if renamed else ''}", f"{number}@acme.test",
                    "OPS-N" if i % 2 else "FIN", "北区运营" if i % 2 else "Finance",
                    "OPS" if i % 2 else "ACME", "Analyst" if i % 2 else "Clerk",
                    "P2" if i % 2 else "P1",
                    "C003" if renamed else f"G{i - 1:05d}" if i else "C006",
                    "2024-01-15", "no",
                ], strict=True)
            )
        )  # fmt: skip
    return rows


def _queries(rows) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert run(rows).ok
    return len(ctx.captured_queries)


def _measure(size: int) -> tuple[int, int, int]:
    """Queries for a first import, a reorganisation of everyone, and a re-import."""
    Employee.objects.update(manager=None)
    Department.objects.update(head=None, parent=None)
    for model in (Employee, Position, Department, User):
        model.objects.all().delete()
    return (
        _queries(_generated(size)),
        _queries(_generated(size, renamed=True)),
        _queries(_generated(size, renamed=True)),
    )


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_number_of_rows():
    # SQLite allows 999 parameters per statement, so Django splits a bulk insert of more
    # than ~60 user history rows into several; PostgreSQL takes the whole batch of 2,000.
    small, large = (20, 200) if connection.vendor == "postgresql" else (20, 60)

    assert _measure(small) == _measure(large)
