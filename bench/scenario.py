"""The data the benchmark measures: the demo company seeded at one size, and what in it
the figures open.

``seed_demo`` leaves the demo cycle part-way through manager review (see
``appraisals/demo.py``). :func:`scenario_for` finds in it the personas, the demo
cycle, the appraisal the demo manager has still to review, a typical appraisal (both
reviews submitted) for the PDF packet, and the departments whose packets make the batch;
and it opens the calibration session of about 2,000 people the session page is timed on
(through the calibration service, once: a seeded database reused by a later run has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Exists, OuterRef

from appraisals import services, states
from appraisals.models import Appraisal, CalibrationSession, Review
from perfcycle import demo
from perfcycle.models import Cycle, Department, Employee, User

DEMO_SEED = 1
SESSION_NAME = "Benchmark calibration"
# How many people the calibration session holds, and how many packets the batch renders.
SESSION_PEOPLE = 2000
BATCH_PACKETS = 500


def empty_database() -> None:
    """Every table emptied (``manage.py flush``): what ``seed_demo`` starts from."""
    deferred = connection.vendor == "postgresql" and connection.in_atomic_block
    if deferred:
        # Inside a transaction (the smoke test's), PostgreSQL refuses to TRUNCATE a table
        # with foreign-key checks still pending: run them first.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0)
    if deferred:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def seed(size: int, *, goals: bool = True) -> None:
    """``manage.py seed_demo --employees SIZE`` (``--no-goals``: the organisation and
    the cycle only) into the empty database."""
    options = {} if goals else {"goals": False}
    call_command("seed_demo", employees=size, seed=DEMO_SEED, stdout=StringIO(), **options)


def gather_statistics() -> None:
    """``VACUUM ANALYZE``: what autovacuum does soon after a bulk load in production (a
    server may run without it; the planner then has no statistics for the seeded tables,
    and no index-only scans are possible until the visibility map is set)."""
    with connection.cursor() as cursor:
        # VACUUM runs outside a transaction only (the smoke test runs in one).
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def seeded_at(size: int) -> bool:
    """Whether the database holds the full demo at ``size`` (a run can reuse it)."""
    return (
        Employee.objects.count() == size
        and Cycle.objects.filter(status=Cycle.Status.MANAGER_REVIEW).count() == 1
    )


@dataclass
class Scenario:
    size: int
    cycle: Cycle
    hr: User
    executive: User
    manager: User
    employee: User
    partner: User
    # The demo employee's appraisal: the demo manager still has its review to write.
    review_appraisal: Appraisal
    # Self-review and manager review submitted: the packet of a typical appraisal.
    typical_appraisal: Appraisal
    session: CalibrationSession
    batch_departments: list[Department]

    @property
    def batch_packets(self) -> int:
        return packets_in(self.cycle, self.batch_departments)


def scenario_for(
    size: int, *, session_people: int = SESSION_PEOPLE, batch_packets: int = BATCH_PACKETS
) -> Scenario:
    users = {u.email: u for u in User.objects.filter(email__in=[e for e, _ in demo.DEMO_LOGINS])}
    cycle = Cycle.objects.select_related("rating_scale").get(status=Cycle.Status.MANAGER_REVIEW)
    hr = users[demo.HR_EMAIL]
    employee = users[demo.EMPLOYEE_EMAIL]
    session = CalibrationSession.objects.filter(cycle=cycle, name=SESSION_NAME).first()
    if session is None:
        session = _open_session(cycle, hr, session_people)
    in_session = set(session.departments.values_list("pk", flat=True))
    return Scenario(
        size=size,
        cycle=cycle,
        hr=hr,
        executive=users[demo.CEO_EMAIL],
        manager=users[demo.MANAGER_EMAIL],
        employee=employee,
        partner=users[demo.PARTNER_EMAIL],
        review_appraisal=Appraisal.objects.get(cycle=cycle, employee__user=employee),
        typical_appraisal=_typical(cycle),
        session=session,
        batch_departments=departments_holding(
            _per_department(
                Appraisal.objects.filter(cycle=cycle).exclude(stage=Appraisal.Stage.WITHDRAWN),
                exclude=in_session,
            ),
            batch_packets,
        ),
    )


def _typical(cycle: Cycle) -> Appraisal:
    def submitted(kind):
        return Review.objects.filter(
            appraisal=OuterRef("pk"), kind=kind, status=Review.Status.SUBMITTED
        )

    return (
        Appraisal.objects.filter(cycle=cycle)
        .filter(Exists(submitted(Review.Kind.SELF)), Exists(submitted(Review.Kind.MANAGER)))
        .order_by("employee__employee_number")
        .first()
    )


def _open_session(cycle: Cycle, hr: User, people: int) -> CalibrationSession:
    """A session over departments outside the demo's own session holding ``people`` open
    appraisals (as near as the departments allow)."""
    free = Appraisal.objects.filter(cycle=cycle, session__isnull=True, stage__in=states.OPEN_STAGES)
    departments = departments_holding(_per_department(free), people)
    return services.calibration_session_open(
        actor=hr, cycle=cycle, name=SESSION_NAME, departments=departments, participants=[hr]
    )


def _per_department(appraisals, exclude=frozenset()) -> dict[Department, int]:
    """Appraisals per department that has no sub-departments (its subtree is itself)."""
    counts = dict(
        appraisals.filter(department__children__isnull=True)
        .values_list("department")
        .annotate(n=Count("pk"))
        .values_list("department", "n")
    )
    departments = Department.objects.filter(pk__in=counts).exclude(pk__in=exclude)
    return {d: counts[d.pk] for d in departments.order_by("code")}


def packets_in(cycle: Cycle, departments: list[Department]) -> int:
    return (
        Appraisal.objects.filter(cycle=cycle, department__in=departments)
        .exclude(stage=Appraisal.Stage.WITHDRAWN)
        .count()
    )


def departments_holding(counts: dict[Department, int], target: int) -> list[Department]:
    """The fewest departments whose counts add up to exactly ``target``; without such a
    set, the one with the smallest total above it (or all of them)."""
    departments = list(counts)
    # best[total] = the fewest departments (as indexes) adding up to total
    best: dict[int, tuple[int, ...]] = {0: ()}
    for index, department in enumerate(departments):
        n = counts[department]
        for total, chosen in sorted(best.items(), reverse=True):
            reached = total + n
            if total >= target or (reached in best and len(best[reached]) <= len(chosen) + 1):
                continue
            best[reached] = (*chosen, index)
    at_least = [total for total in best if total >= target]
    if not at_least:
        return departments
    total = target if target in best else min(at_least)
    return [departments[i] for i in best[total]]
