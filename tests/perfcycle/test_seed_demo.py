"""The demo company: generated deterministically, written through the import and services."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from perfcycle import access, demo
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Department, Employee, OrgImport, User, code_validator

SIZES = [demo.MIN_EMPLOYEES, 57, 300, 4000]


def by_number(rows):
    return {row["employee_number"]: row for row in rows}


def chain(row, rows_by_number):
    """The management chain above ``row`` (nearest first); fails on a loop."""
    seen, result = {row["employee_number"]}, []
    while row["manager_employee_number"]:
        row = rows_by_number[row["manager_employee_number"]]
        assert row["employee_number"] not in seen, "reporting cycle"
        seen.add(row["employee_number"])
        result.append(row)
    return result


# --- the generator -------------------------------------------------------------------


def test_it_generates_the_same_company_for_the_same_seed():
    assert demo.generate_rows(employees=300, seed=7) == demo.generate_rows(employees=300, seed=7)


def test_it_generates_another_company_for_another_seed():
    first = demo.generate_rows(employees=300, seed=7)
    second = demo.generate_rows(employees=300, seed=8)
    assert [r["full_name"] for r in first] != [r["full_name"] for r in second]
    assert [r["hire_date"] for r in first] != [r["hire_date"] for r in second]
    # The demo logins are the same whatever the seed.
    for rows in (first, second):
        emails = {r["email"] for r in rows}
        assert {email for email, _role in demo.DEMO_LOGINS} <= emails


@pytest.mark.parametrize("employees", SIZES)
def test_it_generates_exactly_the_requested_number_of_people(employees):
    rows = demo.generate_rows(employees=employees, seed=3)
    assert len(rows) == employees
    assert len({r["employee_number"] for r in rows}) == employees
    assert len({r["email"].lower() for r in rows}) == employees
    for row in rows:
        assert row["full_name"] and row["position"] and row["grade"] and row["hire_date"]


@pytest.mark.parametrize("employees", SIZES)
def test_it_builds_a_department_tree_three_levels_deep(employees):
    rows = demo.generate_rows(employees=employees, seed=3)
    parent_of = {r["department_code"]: r["parent_department_code"] for r in rows}
    roots = [code for code, parent in parent_of.items() if not parent]
    assert roots == [demo.COMPANY[0]]

    def level(code):
        return 1 if not parent_of[code] else 1 + level(parent_of[code])

    levels = {code: level(code) for code in parent_of}
    assert max(levels.values()) == 3
    divisions = [code for code, lvl in levels.items() if lvl == 2]
    assert sorted(divisions) == sorted(d[0] for d in demo.DIVISIONS)
    for division in divisions:
        assert any(parent == division for parent in parent_of.values()), division
    # Each department is described the same way on every row.
    described = {
        (r["department_code"], r["department_name"], r["parent_department_code"]) for r in rows
    }
    assert len(described) == len(parent_of)


@pytest.mark.parametrize("employees", SIZES)
def test_it_gives_every_department_one_head_who_works_there(employees):
    rows = demo.generate_rows(employees=employees, seed=3)
    heads = {}
    for row in rows:
        if row["department_head"] == "yes":
            assert row["department_code"] not in heads, "two heads"
            heads[row["department_code"]] = row
        else:
            assert row["department_head"] == ""
    assert set(heads) == {r["department_code"] for r in rows}
    numbers = by_number(rows)
    for code, head in heads.items():
        # A head reports to the head of the parent department.
        parent = head["parent_department_code"]
        if parent:
            assert numbers[head["manager_employee_number"]] is heads[parent]
        else:
            assert head["manager_employee_number"] == ""
        assert code


@pytest.mark.parametrize("employees", SIZES)
def test_it_builds_one_reporting_line_without_cycles(employees):
    rows = demo.generate_rows(employees=employees, seed=3)
    numbers = by_number(rows)
    tops = [r for r in rows if not r["manager_employee_number"]]
    assert [r["email"] for r in tops] == [demo.CEO_EMAIL]
    position = {r["employee_number"]: i for i, r in enumerate(rows)}
    depth = 0
    for row in rows:
        above = chain(row, numbers)
        depth = max(depth, len(above))
        if above:
            # Managers come before their reports, so an importer can read top-down.
            assert position[above[0]["employee_number"]] < position[row["employee_number"]]
    assert depth >= 4, "CEO -> division -> department head -> team lead -> staff"


def test_it_repeats_departments_per_region_for_a_large_company():
    rows = demo.generate_rows(employees=demo.MAX_EMPLOYEES, seed=1)
    departments = {r["department_code"]: r["department_name"] for r in rows}
    assert len(departments) > 200
    assert len(set(departments.values())) == len(departments), "department names repeat"
    for code in departments:
        code_validator(code)
    assert "Logistics – EMEA" in departments.values()
    assert any(
        name.startswith("Greater China Sales") and "北京" in name for name in departments.values()
    )


def test_it_places_the_demo_logins_where_their_roles_need_them():
    rows = demo.generate_rows(employees=demo.MIN_EMPLOYEES, seed=11)
    by_email = {r["email"]: r for r in rows}
    numbers = by_number(rows)
    manager = by_email[demo.MANAGER_EMAIL]
    employee = by_email[demo.EMPLOYEE_EMAIL]
    assert manager["department_head"] == "yes"
    assert employee["manager_employee_number"] == manager["employee_number"]
    direct = [r for r in rows if r["manager_employee_number"] == manager["employee_number"]]
    assert len(direct) >= 3
    below_direct = [r for r in rows if numbers.get(r["manager_employee_number"]) in direct]
    assert below_direct, "the manager needs people two levels below"
    leads = {r["manager_employee_number"] for r in rows}
    for email in (demo.EMPLOYEE_EMAIL, demo.HR_EMAIL, demo.PARTNER_EMAIL):
        assert by_email[email]["employee_number"] not in leads, f"{email} should lead nobody"
    assert by_email[demo.CEO_EMAIL]["manager_employee_number"] == ""


def test_it_uses_chinese_names_and_department_names():
    rows = demo.generate_rows(employees=300, seed=1)

    def cjk(text):
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    chinese = [r for r in rows if cjk(r["full_name"])]
    assert 0.1 < len(chinese) / len(rows) < 0.5
    assert all(r["email"].isascii() for r in rows)
    assert any(cjk(r["department_name"]) for r in rows)


def test_it_spreads_hire_dates_realistically():
    rows = demo.generate_rows(employees=2000, seed=1)
    years = sorted(int(r["hire_date"][:4]) for r in rows)
    assert years[0] >= demo.FOUNDED.year
    assert max(r["hire_date"] for r in rows) <= demo.HIRE_DATES_UNTIL.isoformat()
    assert len(set(years)) >= 10
    assert years[len(years) // 2] >= demo.HIRE_DATES_UNTIL.year - 8


@pytest.mark.parametrize("employees", [demo.MIN_EMPLOYEES - 1, demo.MAX_EMPLOYEES + 1, 0, -5])
def test_it_refuses_to_generate_a_company_of_a_bad_size(employees):
    with pytest.raises(ValueError):
        demo.generate_rows(employees=employees)


# --- the command ---------------------------------------------------------------------


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed(employees=60, seed=5)


def test_it_writes_the_company_through_the_import(seeded):
    assert Employee.objects.count() == 60
    rows = demo.generate_rows(employees=60, seed=5)
    assert Department.objects.count() == len({r["department_code"] for r in rows})
    record = OrgImport.objects.get()
    assert record.status == OrgImport.Status.APPLIED
    assert record.created == 60
    assert record.actor is None
    stored = {
        e.employee_number: (
            e.user.full_name,
            e.user.email,
            e.manager_id and e.manager.employee_number,
        )
        for e in Employee.objects.select_related("user", "manager__user")
    }
    for row in rows:
        name, email, manager = stored[row["employee_number"]]
        assert (name, email) == (row["full_name"], row["email"])
        assert (manager or "") == row["manager_employee_number"]


def test_it_stores_a_three_level_tree_with_a_head_for_every_department(seeded):
    depths = {
        d.code: len(ancestor_ids(Department, "parent", d.pk)) for d in Department.objects.all()
    }
    assert max(depths.values()) == 2  # company (0) -> division (1) -> department (2)
    assert not Department.objects.filter(head__isnull=True).exists()
    for department in Department.objects.select_related("head"):
        assert department.head.department_id == department.pk


def test_it_stores_a_reporting_line_without_cycles(seeded):
    ids = list(Employee.objects.values_list("pk", flat=True))
    for pk in ids:
        chain_ids = ancestor_ids(Employee, "manager", pk)
        assert pk not in chain_ids
        assert len(chain_ids) < 10
    assert Employee.objects.filter(manager__isnull=True).count() == 1


def test_it_creates_the_demo_logins_with_the_demo_password(seeded):
    users = {u.email: u for u in User.objects.filter(email__endswith="@" + demo.EMAIL_DOMAIN)}
    for email, _role in demo.DEMO_LOGINS:
        assert users[email].check_password(settings.DEMO_PASSWORD), email
        assert not users[email].check_password("wrong" + settings.DEMO_PASSWORD)
    demo_emails = {email for email, _role in demo.DEMO_LOGINS}
    others = [u for email, u in users.items() if email not in demo_emails]
    assert len(others) == 55
    assert not any(u.has_usable_password() for u in others)


def test_it_hashes_the_demo_password_once(seeded):
    hashes = set(
        User.objects.filter(email__in=[e for e, _r in demo.DEMO_LOGINS]).values_list(
            "password", flat=True
        )
    )
    assert len(hashes) == 1


def test_it_gives_the_demo_logins_their_roles(seeded):
    def roles(email):
        return access.roles(User.objects.get(email=email))

    hr = roles(demo.HR_EMAIL)
    assert hr.hr_admin and not hr.executive and not hr.is_manager and not hr.is_partner
    ceo = roles(demo.CEO_EMAIL)
    assert ceo.executive and ceo.is_manager and not ceo.hr_admin
    manager = roles(demo.MANAGER_EMAIL)
    assert manager.is_manager and not (manager.hr_admin or manager.executive or manager.is_partner)
    employee = roles(demo.EMPLOYEE_EMAIL)
    assert employee.employee is not None
    assert not (employee.is_manager or employee.hr_admin or employee.executive)
    assert employee.employee.manager.user.email == demo.MANAGER_EMAIL
    partner = roles(demo.PARTNER_EMAIL)
    assert partner.is_partner and not (partner.hr_admin or partner.executive)
    assert list(
        access.partnered_departments(User.objects.get(email=demo.PARTNER_EMAIL))
        .filter(parent__isnull=False, parent__parent__isnull=True)
        .values_list("code", flat=True)
    ) == [demo.PARTNER_DIVISION]


def test_it_lets_the_demo_manager_see_two_levels_down(seeded):
    manager = User.objects.get(email=demo.MANAGER_EMAIL)
    team = access.reports_under(manager.employee)
    direct = team.filter(manager=manager.employee)
    assert direct.count() >= 3
    assert team.exclude(manager=manager.employee).exists()
    employee = User.objects.get(email=demo.EMPLOYEE_EMAIL).employee
    assert access.can_view_employee(manager, employee)


def test_it_creates_a_rating_scale_and_a_running_cycle_for_this_year(seeded):
    cycle = Cycle.objects.get()
    # Goal setting until its deadline; after it the demo takes the appraisals on to
    # manager review (tests/appraisals/test_demo_appraisals.py).
    assert cycle.status in (Cycle.Status.GOAL_SETTING, Cycle.Status.MANAGER_REVIEW)
    assert cycle.period_start.year == cycle.period_end.year
    assert [level.value for level in cycle.rating_scale.levels.all()] == [1, 2, 3, 4, 5]
    phases = set(cycle.deadlines.values_list("phase", flat=True))
    assert Cycle.Status.GOAL_SETTING in phases and Cycle.Status.FEEDBACK in phases
    dues = list(cycle.deadlines.order_by("due_on").values_list("phase", flat=True))
    assert dues[0] == Cycle.Status.GOAL_SETTING


def test_it_prints_the_demo_logins_and_the_password(seeded):
    for email, role in demo.DEMO_LOGINS:
        assert email in seeded
        assert str(role) in seeded
    assert settings.DEMO_PASSWORD in seeded
    assert "60" in seeded


def test_it_seeds_in_batches_not_a_query_per_person(db):
    # Bulk writes: the query count grows by batches (SQLite's are small), never by person,
    # or seeding 50,000 employees would take hours. (Measured: 10,000 in about 4 s.)
    # The organisation only: the goals cascade (goals.demo) makes a service call per
    # department goal and position KPI, so its queries grow with the number of positions.
    counts = []
    for employees in (40, 400):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            seed(employees=employees, seed=1, goals=False)
            transaction.set_rollback(True)  # the next size starts from an empty database
        counts.append(len(queries))
    assert counts[1] - counts[0] < (400 - 40) / 20, counts


def test_it_does_nothing_with_if_empty_on_a_seeded_database(seeded):
    before = (Employee.objects.count(), Department.objects.count(), OrgImport.objects.count())
    out = seed(employees=80, seed=6, if_empty=True)
    after = (Employee.objects.count(), Department.objects.count(), OrgImport.objects.count())
    assert before == after
    assert "not seeded" in out


def test_it_seeds_an_empty_database_with_if_empty(db):
    seed(employees=demo.MIN_EMPLOYEES, if_empty=True)
    assert Employee.objects.count() == demo.MIN_EMPLOYEES


def test_it_refuses_to_seed_over_an_existing_company(seeded):
    with pytest.raises(CommandError, match="already holds 60 employees"):
        seed(employees=60, seed=5)
    assert Employee.objects.count() == 60


@pytest.mark.parametrize("employees", [demo.MIN_EMPLOYEES - 1, demo.MAX_EMPLOYEES + 1, 0])
def test_it_refuses_a_bad_number_of_employees(db, employees):
    with pytest.raises(CommandError, match="between 20 and 50000"):
        seed(employees=employees)
    assert not Employee.objects.exists()


def test_it_refuses_to_seed_without_a_chosen_password_when_debug_is_off(db, settings):
    from django.core.management import CommandError, call_command

    settings.DEMO_PASSWORD = ""
    with pytest.raises(CommandError, match="DEMO_PASSWORD"):
        call_command("seed_demo", "--employees", "20")
    assert not Employee.objects.exists()
