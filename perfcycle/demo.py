"""A deterministic demo company, written through the same services people use.

:func:`generate_rows` builds the organisation as rows of the organisation CSV (the
import's ``CSV_COLUMNS``): a company, five divisions and their departments (three levels),
a head for every department, a management line of several levels, positions with
grades, hire dates, and names from a fixed list (some of them Chinese, so CJK text is
exercised everywhere). It depends only on the number of employees and the seed: the same
two numbers give the same rows, byte for byte.

:func:`seed_company` imports those rows with :func:`perfcycle.org_import.import_org_rows`,
then gives the demo logins their roles, creates a five-level rating scale and a running
cycle for the current year, all through :mod:`perfcycle.services`, and has
:func:`goals.demo.seed_goals` set the cycle's goals (closing goal setting once its
deadline has passed).
"""

from __future__ import annotations

import datetime
import math
import random
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import access, services
from .models import Cycle, Department, Employee, User

MIN_EMPLOYEES = 20
MAX_EMPLOYEES = 50_000
DEFAULT_EMPLOYEES = 300
DEFAULT_SEED = 1

EMAIL_DOMAIN = "demo.perfcycle.local"
HR_EMAIL = f"hr@{EMAIL_DOMAIN}"
CEO_EMAIL = f"ceo@{EMAIL_DOMAIN}"
MANAGER_EMAIL = f"manager@{EMAIL_DOMAIN}"
EMPLOYEE_EMAIL = f"employee@{EMAIL_DOMAIN}"
PARTNER_EMAIL = f"partner@{EMAIL_DOMAIN}"

# (e-mail, role shown to whoever seeds the demo), in the order they are printed.
DEMO_LOGINS = [
    (HR_EMAIL, gettext_lazy("HR administrator")),
    (CEO_EMAIL, gettext_lazy("Executive (CEO)")),
    (MANAGER_EMAIL, gettext_lazy("Manager (department head)")),
    (EMPLOYEE_EMAIL, gettext_lazy("Employee (reports to the manager)")),
    (PARTNER_EMAIL, gettext_lazy("HR business partner (Sales division)")),
]

# Hire dates end here, not "today", so that the same seed gives the same data every day.
HIRE_DATES_UNTIL = datetime.date(2026, 6, 30)
FOUNDED = datetime.date(2003, 3, 3)

COMPANY = ("CORP", "Example Corporation", "Chief Executive Officer")

# Division code, name, head's title, share of the workforce (percent), departments as
# (code, name, the department's individual-contributor role).
DIVISIONS = [
    (
        "SAL",
        "Sales",
        "Chief Sales Officer",
        30,
        [
            ("SAL-NOR", "Sales North", "Account Executive"),
            ("SAL-SOU", "Sales South", "Account Executive"),
            ("SAL-KEY", "Key Accounts", "Key Account Manager"),
            ("SAL-GCN", "Greater China Sales (大中华区销售)", "Account Executive"),
            ("SAL-INS", "Inside Sales", "Sales Development Representative"),
            ("SAL-CS", "Customer Success", "Customer Success Specialist"),
            ("SAL-MKT", "Marketing", "Marketing Specialist"),
        ],
    ),
    (
        "OPS",
        "Operations",
        "Chief Operating Officer",
        28,
        [
            ("OPS-LOG", "Logistics", "Logistics Coordinator"),
            ("OPS-PRC", "Procurement", "Buyer"),
            ("OPS-SVC", "Customer Service", "Customer Service Agent"),
            ("OPS-MFG", "Manufacturing", "Production Operator"),
            ("OPS-QA", "Quality Assurance", "Quality Inspector"),
            ("OPS-FAC", "Facilities", "Facilities Technician"),
        ],
    ),
    (
        "ENG",
        "Engineering",
        "Chief Technology Officer",
        24,
        [
            ("ENG-PLT", "Platform", "Software Engineer"),
            ("ENG-PRD", "Product Engineering", "Software Engineer"),
            ("ENG-SHA", "Shanghai R&D (上海研发中心)", "Software Engineer"),
            ("ENG-DAT", "Data & Analytics", "Data Engineer"),
            ("ENG-IT", "IT Services", "IT Support Engineer"),
            ("ENG-SEC", "Security", "Security Engineer"),
        ],
    ),
    (
        "FIN",
        "Finance",
        "Chief Financial Officer",
        8,
        [
            ("FIN-ACC", "Accounting", "Accountant"),
            ("FIN-CTL", "Controlling", "Financial Analyst"),
            ("FIN-TRS", "Treasury", "Treasury Analyst"),
            ("FIN-TAX", "Tax", "Tax Specialist"),
        ],
    ),
    (
        "HR",
        "People (HR)",
        "Chief People Officer",
        10,
        [
            ("HR-OPS", "HR Operations", "HR Specialist"),
            ("HR-REC", "Recruiting", "Recruiter"),
            ("HR-LND", "Learning & Development", "Learning Specialist"),
            ("HR-CNB", "Compensation & Benefits", "Compensation Analyst"),
        ],
    ),
]
# Where the demo logins sit: the manager heads the first Sales department, HR admin and
# HR business partner work in HR Operations, and the partner covers the Sales division.
MANAGER_DEPARTMENT = "SAL-NOR"
HR_DEPARTMENT = "HR-OPS"
PARTNER_DIVISION = "SAL"

# A large company repeats a department per region: "Logistics – APAC", "Logistics – EMEA".
REGIONS = [
    "EMEA", "Americas", "APAC", "India", "Nordics", "DACH", "Iberia", "Benelux",
    "Japan", "Korea", "Australia", "Brazil", "Mexico", "Canada", "Middle East", "Africa",
]  # fmt: skip
CHINA_REGIONS = [
    "Beijing 北京", "Shenzhen 深圳", "Hangzhou 杭州", "Chengdu 成都", "Guangzhou 广州",
    "Wuhan 武汉", "Nanjing 南京", "Suzhou 苏州", "Xi'an 西安", "Tianjin 天津",
]  # fmt: skip

# Individual-contributor seniority: (title prefix, grade, weight).
SENIORITY = [("Junior ", "P1", 25), ("", "P2", 45), ("Senior ", "P3", 22), ("Principal ", "P4", 8)]

# --- names ---------------------------------------------------------------------------
# Given names and family names per culture; Chinese names are written in characters,
# family name first and without a space, and romanised (pinyin) for the e-mail address.

LATIN_NAMES = {
    "english": (
        "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
        "Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Emily "
        "Matthew Hannah Oliver Chloe George Amelia Harry Grace",
        "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas "
        "Moore Martin Jackson Thompson White Harris Clark Lewis Walker Hall Young King "
        "Wright Scott Green Baker Adams Nelson Hill",
    ),
    "german": (
        "Lukas Anna Jonas Lena Felix Marie Leon Sophie Paul Laura Maximilian Julia "
        "Jürgen Katrin Stefan Sabine Tobias Claudia",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
        "Koch Richter Klein Wolf Schröder Neumann Zimmermann Krüger",
    ),
    "french": (
        "Louis Camille Hugo Léa Gabriel Manon Arthur Chloé Jules Inès Théo Zoé Étienne Amélie",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
        "Laurent Lefèvre Michel",
    ),
    "spanish": (
        "Santiago Sofía Mateo Valentina Diego Isabella Alejandro Camila Javier Lucía "
        "Carlos María José Elena",
        "García Rodríguez Martínez López González Hernández Pérez Sánchez Ramírez "
        "Torres Flores Rivera Gómez Díaz",
    ),
    "indian": (
        "Aarav Priya Vivaan Ananya Aditya Diya Arjun Isha Rohan Kavya Rahul Neha Vikram Pooja",
        "Sharma Patel Singh Kumar Gupta Reddy Iyer Nair Mehta Joshi Rao Desai Verma Das",
    ),
    "nordic": (
        "Erik Ingrid Lars Astrid Nils Freja Magnus Sigrid Henrik Elin Anders Maja",
        "Andersson Johansson Karlsson Nilsson Eriksson Larsen Hansen Nielsen Berg Lund",
    ),
    "japanese": (
        "Haruto Yui Sota Aoi Ren Hina Yuto Sakura Kenji Yuki",
        "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato",
    ),
}
CHINESE_FAMILY = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu"),
    ("徐", "xu"), ("孙", "sun"), ("胡", "hu"), ("朱", "zhu"), ("高", "gao"),
    ("林", "lin"), ("何", "he"), ("郭", "guo"), ("马", "ma"), ("罗", "luo"),
]  # fmt: skip
CHINESE_GIVEN = [
    ("伟", "wei"), ("娜", "na"), ("芳", "fang"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("艳", "yan"), ("勇", "yong"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂英", "guiying"), ("建华", "jianhua"), ("晓明", "xiaoming"),
    ("志强", "zhiqiang"), ("海燕", "haiyan"), ("子涵", "zihan"), ("浩然", "haoran"),
]  # fmt: skip
# Culture weights for the whole company, and for departments whose name is Chinese.
CULTURE_WEIGHTS = {
    "english": 28, "chinese": 20, "indian": 12, "german": 10, "spanish": 10,
    "french": 8, "nordic": 6, "japanese": 6,
}  # fmt: skip
CHINA_CULTURE_WEIGHTS = {"chinese": 85, "english": 10, "indian": 5}


def _split(names: str) -> list[str]:
    return names.split()


_LATIN = {culture: (_split(g), _split(f)) for culture, (g, f) in LATIN_NAMES.items()}


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


# --- the model of the company, before it becomes rows --------------------------------


@dataclass
class _Department:
    code: str
    name: str
    parent: _Department | None
    role: str = ""  # the individual-contributor role of a level-3 department
    chinese: bool = False
    head: _Person | None = None
    members: list[_Person] = field(default_factory=list)
    span: int = 6  # how many people one lead takes directly


@dataclass
class _Person:
    full_name: str
    slug: str
    department: _Department
    manager: _Person | None = None
    title: str = ""
    grade: str = ""
    is_head: bool = False
    tenure_mean: float = 4.0
    reports: list[_Person] = field(default_factory=list)
    number: str = ""
    email: str = ""
    hire_date: datetime.date | None = None


def generate_rows(*, employees: int = DEFAULT_EMPLOYEES, seed: int = DEFAULT_SEED) -> list[dict]:
    """The demo organisation as import rows (``perfcycle.org_import.CSV_COLUMNS``).

    Parents come before children and managers before their reports.
    """
    if not MIN_EMPLOYEES <= employees <= MAX_EMPLOYEES:
        raise ValueError(
            f"employees must be between {MIN_EMPLOYEES} and {MAX_EMPLOYEES}, not {employees}"
        )
    rng = random.Random(seed)
    root, divisions, departments = _plan_departments(employees, rng)
    people = _staff(root, divisions, departments, employees, rng)
    _place_demo_logins(departments)
    _number_and_address(people, rng)
    return [_row(person) for person in people]


def _plan_departments(employees: int, rng: random.Random):
    """Company -> five divisions -> about sqrt(N) departments, shared by workforce."""
    root = _Department(code=COMPANY[0], name=COMPANY[1], parent=None)
    total = max(len(DIVISIONS), math.isqrt(employees))
    counts = _apportion(total, [d[3] for d in DIVISIONS], minimum=1)
    divisions, departments = [], []
    for (code, name, _title, _share, catalogue), count in zip(DIVISIONS, counts, strict=True):
        division = _Department(code=code, name=name, parent=root)
        divisions.append(division)
        for i in range(count):
            dept_code, dept_name, role = catalogue[i % len(catalogue)]
            chinese = _is_cjk(dept_name)
            repeat = i // len(catalogue)
            if repeat:
                regions = CHINA_REGIONS if chinese else REGIONS
                region = regions[(repeat - 1) % len(regions)]
                lap = (repeat - 1) // len(regions)
                dept_code = f"{dept_code}-{repeat + 1:02d}"
                dept_name = f"{dept_name} – {region}" + (f" {lap + 1}" if lap else "")
            departments.append(
                _Department(
                    code=dept_code,
                    name=dept_name,
                    parent=division,
                    role=role,
                    chinese=chinese,
                    span=rng.randint(5, 9),
                )
            )
    return root, divisions, departments


def _apportion(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), each >= minimum."""
    spare = total - minimum * len(weights)
    whole = sum(weights)
    exact = [spare * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: spare - sum(counts)]:
        counts[i] += 1
    return [c + minimum for c in counts]


def _staff(root, divisions, departments, employees: int, rng: random.Random) -> list[_Person]:
    """Heads for every level, then each department's people under its head."""
    people: list[_Person] = []

    def hire(department: _Department, manager: _Person | None, tenure: float) -> _Person:
        full_name, slug = _name(rng, department.chinese)
        person = _Person(full_name, slug, department, manager=manager, tenure_mean=tenure)
        if manager is not None:
            manager.reports.append(person)
        people.append(person)
        return person

    ceo = hire(root, None, 14.0)
    ceo.title, ceo.grade, ceo.is_head = COMPANY[2], "EX", True
    root.head = ceo
    heads = {}
    for division, spec in zip(divisions, DIVISIONS, strict=True):
        head = hire(division, ceo, 11.0)
        head.title, head.grade, head.is_head = spec[2], "M5", True
        division.head = heads[division.code] = head
    for department in departments:
        head = hire(department, heads[department.parent.code], 8.0)
        head.title, head.grade, head.is_head = f"Head of {department.name}", "M4", True
        department.head = head

    # The demo manager's department needs two levels below its head; HR Operations needs
    # two people for the HR administrator and the HR business partner.
    minimum = {MANAGER_DEPARTMENT: 7, HR_DEPARTMENT: 2}
    staff = employees - len(people)
    reserved = sum(minimum.values())
    division_share = {d[0]: d[3] for d in DIVISIONS}
    per_division = {}
    for department in departments:
        per_division[department.parent.code] = per_division.get(department.parent.code, 0) + 1
    weights = [
        division_share[d.parent.code] / per_division[d.parent.code] * rng.uniform(0.6, 1.4)
        for d in departments
    ]
    sizes = _apportion(staff - reserved, weights)
    for department, size in zip(departments, sizes, strict=True):
        if department.code == MANAGER_DEPARTMENT:
            department.span = 4
        size += minimum.get(department.code, 0)
        department.members = [hire(department, None, 4.0) for _ in range(size)]
        _reporting_line(department)
        _titles(department, rng)
    return _top_down(ceo)


def _reporting_line(department: _Department) -> None:
    """A line of several levels: one senior individual contributor reports to the head,
    the rest form teams under team leads, and leads under managers once teams multiply."""
    members = department.members
    if not members:
        return
    if len(members) < 3:
        for person in members:
            _report(person, department.head)
        return
    _report(members[0], department.head)
    _teams(department.head, members[1:], department.span)


def _teams(boss: _Person, group: list[_Person], span: int) -> None:
    if len(group) <= span:
        for person in group:
            _report(person, boss)
        return
    teams = min(span, math.ceil(len(group) / (span + 1)))
    size, extra = divmod(len(group), teams)
    start = 0
    for t in range(teams):
        end = start + size + (1 if t < extra else 0)
        lead, rest = group[start], group[start + 1 : end]
        _report(lead, boss)
        _teams(lead, rest, span)
        start = end


def _report(person: _Person, manager: _Person) -> None:
    person.manager = manager
    manager.reports.append(person)


def _height(person: _Person) -> int:
    return 0 if not person.reports else 1 + max(_height(p) for p in person.reports)


def _titles(department: _Department, rng: random.Random) -> None:
    leader_titles = {1: ("Team Lead", "M1", 6.0), 2: ("Manager", "M2", 7.0)}
    for i, person in enumerate(department.members):
        height = _height(person)
        if height:
            title, grade, tenure = leader_titles.get(height, ("Senior Manager", "M3", 8.0))
            person.title, person.grade, person.tenure_mean = title, grade, tenure
        elif i == 0 and len(department.members) >= 3:
            person.title, person.grade = f"Senior {department.role}", "P3"
            person.tenure_mean = 6.0
        else:
            prefix, grade = rng.choices(
                [(p, g) for p, g, _w in SENIORITY], weights=[w for *_x, w in SENIORITY]
            )[0]
            person.title, person.grade = f"{prefix}{department.role}", grade
            person.tenure_mean = {"P1": 1.5, "P2": 3.5, "P3": 6.0, "P4": 9.0}[grade]


def _top_down(ceo: _Person) -> list[_Person]:
    """Everyone, breadth first: managers before their reports, parents before children."""
    ordered, queue = [], [ceo]
    while queue:
        ordered.extend(queue)
        queue = [report for person in queue for report in person.reports]
    return ordered


def _place_demo_logins(departments: list[_Department]) -> None:
    by_code = {d.code: d for d in departments}
    sales = by_code[MANAGER_DEPARTMENT]
    sales.head.email = MANAGER_EMAIL
    # The senior individual contributor reports to the head directly and leads nobody.
    sales.members[0].email = EMPLOYEE_EMAIL
    hr_team = [p for p in by_code[HR_DEPARTMENT].members if not p.reports]
    hr_admin, partner = hr_team[-2], hr_team[-1]
    hr_admin.email, hr_admin.title, hr_admin.grade = HR_EMAIL, "HR Systems Administrator", "P3"
    partner.email, partner.title, partner.grade = PARTNER_EMAIL, "HR Business Partner", "P4"
    ceo = by_code[MANAGER_DEPARTMENT].parent.parent.head
    ceo.email = CEO_EMAIL


def _number_and_address(people: list[_Person], rng: random.Random) -> None:
    taken: dict[str, int] = {}
    span_days = (HIRE_DATES_UNTIL - FOUNDED).days
    for n, person in enumerate(people, start=1):
        person.number = f"E{n:06d}"
        if not person.email:
            seen = taken.get(person.slug, 0)
            taken[person.slug] = seen + 1
            local = person.slug if not seen else f"{person.slug}{seen + 1}"
            person.email = f"{local}@{EMAIL_DOMAIN}"
        # Tenure is long-tailed for staff (many joined recently); leaders' spread is narrower.
        shape = 1.5 if person.grade.startswith("P") else 4.0
        years = rng.gammavariate(shape, person.tenure_mean / shape)
        days = min(int(years * 365.25), span_days)
        hired = HIRE_DATES_UNTIL - datetime.timedelta(days=days)
        person.hire_date = hired - datetime.timedelta(days=hired.weekday())  # a Monday


def _name(rng: random.Random, chinese_department: bool) -> tuple[str, str]:
    weights = CHINA_CULTURE_WEIGHTS if chinese_department else CULTURE_WEIGHTS
    culture = rng.choices(list(weights), weights=list(weights.values()))[0]
    if culture == "chinese":
        family, family_pinyin = rng.choice(CHINESE_FAMILY)
        given, given_pinyin = rng.choice(CHINESE_GIVEN)
        return f"{family}{given}", f"{given_pinyin}.{family_pinyin}"
    given_names, family_names = _LATIN[culture]
    given, family = rng.choice(given_names), rng.choice(family_names)
    return f"{given} {family}", f"{_ascii_slug(given)}.{_ascii_slug(family)}"


def _row(person: _Person) -> dict[str, str]:
    department = person.department
    return {
        "employee_number": person.number,
        "full_name": person.full_name,
        "email": person.email,
        "department_code": department.code,
        "department_name": department.name,
        "parent_department_code": department.parent.code if department.parent else "",
        "position": person.title,
        "grade": person.grade,
        "manager_employee_number": person.manager.number if person.manager else "",
        "hire_date": person.hire_date.isoformat(),
        "department_head": "yes" if person.is_head else "",
    }


# --- writing it ----------------------------------------------------------------------


class SeedError(Exception):
    """The demo could not be written; nothing was."""


@dataclass
class SeedResult:
    employees: int
    departments: int
    cycle: Cycle
    logins: list[tuple[str, str, str]]  # (role, e-mail, name)
    seconds: float
    goals: Any = None  # goals.demo.GoalCounts
    appraisals: Any = None  # appraisals.demo.AppraisalCounts


# Value, label, description, and the lowest overall score that proposes the level.
RATING_LEVELS = [
    (1, "Unsatisfactory", "Falls clearly short of the goals and expectations of the role.", 0),
    (2, "Needs improvement", "Meets some expectations; clear gaps remain.", 50),
    (3, "Meets expectations", "Delivers what the role requires, reliably.", 80),
    (4, "Exceeds expectations", "Delivers more than the role requires in important areas.", 100),
    (5, "Outstanding", "Exceptional results and behaviours that others learn from.", 110),
]


def seed_company(
    *,
    employees: int = DEFAULT_EMPLOYEES,
    seed: int = DEFAULT_SEED,
    today: datetime.date | None = None,
    goals: bool = True,
) -> SeedResult:
    """Write the demo company into an empty database, in one transaction; with ``goals``,
    also the goals of the demo cycle."""
    from .org_import import import_org_rows  # written alongside; imported when used

    started = time.monotonic()
    today = today or datetime.date.today()
    rows = generate_rows(employees=employees, seed=seed)
    with transaction.atomic():
        outcome = import_org_rows(
            actor=None, rows=rows, filename=f"seed_demo-{employees}-seed{seed}.csv"
        )
        if not outcome.ok:
            problems = "; ".join(
                f"line {e.line} {e.field}: {e.message}" for e in outcome.errors[:5]
            )
            raise SeedError(_("The organisation import refused the demo: %s") % problems)
        users = {u.email: u for u in User.objects.filter(email__in=[e for e, _r in DEMO_LOGINS])}
        hr_admin = users[HR_EMAIL]
        services.role_grant(actor=None, user=hr_admin, group_name=access.HR_ADMIN_GROUP)
        services.role_grant(actor=None, user=users[CEO_EMAIL], group_name=access.EXECUTIVE_GROUP)
        services.partner_grant(
            actor=hr_admin,
            user=users[PARTNER_EMAIL],
            department=Department.objects.get(code=PARTNER_DIVISION),
        )
        # One hash for every demo login: hashing is deliberately slow.
        User.objects.filter(pk__in=[u.pk for u in users.values()]).update(
            password=make_password(settings.DEMO_PASSWORD)
        )
        cycle = _running_cycle(hr_admin, today, goal_setting=goals)
        goal_counts = appraisal_counts = None
        if goals:
            # The one call from the core into an app above it: the demo cycle's goals,
            # which also close goal setting once its deadline has passed.
            from goals.demo import seed_goals

            try:
                goal_counts = seed_goals(
                    cycle=cycle,
                    hr_admin=hr_admin,
                    seed=seed,
                    today=today,
                    employee_email=EMPLOYEE_EMAIL,
                    reserved_emails=frozenset(email for email, _role in DEMO_LOGINS),
                )
            except ValidationError as exc:  # a bug in the demo, not in the user's input
                raise SeedError(_("The goals service refused the demo: %s") % exc) from exc
            cycle.refresh_from_db()
        if goals and cycle.status == Cycle.Status.IN_PROGRESS:
            # Once goal setting is over, the appraisals: the cycle is left part-way
            # through manager review (the same reaching up, for the demo only).
            from appraisals.demo import seed_appraisals

            try:
                appraisal_counts = seed_appraisals(
                    cycle=cycle,
                    hr_admin=hr_admin,
                    seed=seed,
                    employee_email=EMPLOYEE_EMAIL,
                    manager_email=MANAGER_EMAIL,
                    partner_email=PARTNER_EMAIL,
                )
            except ValidationError as exc:  # a bug in the demo, not in the user's input
                raise SeedError(_("The appraisals service refused the demo: %s") % exc) from exc
            cycle.refresh_from_db()
    return SeedResult(
        employees=Employee.objects.count(),
        departments=Department.objects.count(),
        cycle=cycle,
        logins=[(str(role), email, users[email].full_name) for email, role in DEMO_LOGINS],
        seconds=time.monotonic() - started,
        goals=goal_counts,
        appraisals=appraisal_counts,
    )


def _running_cycle(actor: User, today: datetime.date, *, goal_setting: bool) -> Cycle:
    """A five-level scale and this year's cycle: goal setting until March, then coaching.

    With ``goal_setting`` the cycle starts in goal setting whatever the date, so that the
    goals can be set; closing it is then the goals' business (``goals.demo``)."""
    scale = services.rating_scale_create(
        actor=actor,
        name="Five-point scale",
        description="The company's standard scale for goals, competencies and overall results.",
        levels=[
            {"value": value, "label": label, "description": description, "min_score": band}
            for value, label, description, band in RATING_LEVELS
        ],
    )
    year = today.year
    goals_due = datetime.date(year, 2, 28)
    deadlines = {
        Cycle.Status.GOAL_SETTING: goals_due,
        Cycle.Status.IN_PROGRESS: datetime.date(year, 12, 31),
        Cycle.Status.SELF_REVIEW: datetime.date(year + 1, 1, 20),
        Cycle.Status.MANAGER_REVIEW: datetime.date(year + 1, 2, 10),
        Cycle.Status.CALIBRATION: datetime.date(year + 1, 2, 28),
        Cycle.Status.FEEDBACK: datetime.date(year + 1, 3, 20),
    }
    try:
        return services.cycle_create(
            actor=actor,
            name=f"Performance year {year}",
            period_start=datetime.date(year, 1, 1),
            period_end=datetime.date(year, 12, 31),
            rating_scale=scale,
            status=Cycle.Status.GOAL_SETTING
            if goal_setting or today <= goals_due
            else Cycle.Status.IN_PROGRESS,
            deadlines={phase.value: due for phase, due in deadlines.items()},
        )
    except ValidationError as exc:  # a bug in the demo, not in the user's input
        raise SeedError(str(exc)) from exc
