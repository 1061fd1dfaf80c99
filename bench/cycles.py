"""Launching a cycle, and its deadline reminders. Both work on a copy of the demo cycle
inside a transaction that is rolled back, so the seeded data stays as it was.

* ``launch``: a draft copy of the demo cycle (``cycle_create_from``, not timed) is
  launched for everyone (``cycle_launch_request`` and ``cycle_launch_run``, as the
  worker runs it). Baseline: the rows the launch writes (the appraisals, their two
  reviews, and the history row of each) written by plain ``INSERT ... SELECT``
  statements into the same tables. The appraisal rows alone are timed too.
* ``reminders``: a copy launched and put in self-review (not timed), then the daily
  task ``send_reminders`` on the day that sends ``deadline_near`` to everyone whose
  self-review is open (and, as every day, HR's summary of each running cycle), with the
  e-mails sent in this process on commit (Celery inline) through
  :class:`bench.mail.CountingBackend`. Baseline: as many e-mails built and sent
  over one connection, without the database.
"""

from __future__ import annotations

import datetime
from contextlib import contextmanager

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Case, Count, F, When
from django.test import TestCase
from django.test.utils import override_settings

from appraisals import reminders, services
from appraisals.models import Appraisal, Review
from appraisals.tasks import send_reminders
from perfcycle.celery import app as celery_app
from perfcycle.insert_select import insert_history, insert_select
from perfcycle.models import Cycle, Employee, Notification, User
from perfcycle.notifications import SEND_BATCH

from .figures import Figure, count_queries, median, timed
from .mail import CountingBackend

LAUNCH_GOAL = 2.0
_BACKEND = f"{CountingBackend.__module__}.{CountingBackend.__name__}"


@contextmanager
def rolled_back():
    """A transaction that is rolled back at the end, whatever happens in it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@contextmanager
def celery_inline():
    """Tasks run in this process when they are queued (as without a broker)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def copy_of(cycle: Cycle, *, hr: User, name: str) -> Cycle:
    """A draft cycle made from ``cycle`` with its settings and the same period (so the
    same people are eligible and the deadlines fall on the same days)."""
    return services.cycle_create_from(
        actor=hr,
        name=name,
        period_start=cycle.period_start,
        period_end=cycle.period_end,
        template=cycle,
    )


def launch(cycle: Cycle, *, hr: User):
    request = services.cycle_launch_request(actor=hr, cycle=cycle)
    return services.cycle_launch_run(launch_id=request.pk)


# --- launch ---------------------------------------------------------------------------


def measure_launch(ctx) -> list[Figure]:
    s = ctx.scenario
    launches, inserts, appraisal_rows = [], [], []
    queries = created = 0
    for _ in range(ctx.runs):
        with rolled_back():
            cycle = copy_of(s.cycle, hr=s.hr, name="Benchmark launch")
            with count_queries() as counted:
                seconds, done = timed(lambda cycle=cycle: launch(cycle, hr=s.hr))
            launches.append(seconds)
            queries, created = counted.count, done.created
        with rolled_back():
            cycle = copy_of(s.cycle, hr=s.hr, name="Benchmark launch")
            rows, first, total = insert_select_launch(cycle, actor=s.hr)
            if rows != created:
                raise RuntimeError(f"The baseline wrote {rows} appraisals, the launch {created}.")
            appraisal_rows.append(first)
            inserts.append(total)
    figure = Figure(
        name="launch",
        size=s.size,
        median=median(launches, "s"),
        unit="s",
        runs=len(launches),
        queries=queries,
        extra={
            "appraisals": created,
            "rows_written": created * 6,  # appraisal, two reviews, a history row of each
            "appraisal_rows_only_s": round(median(appraisal_rows, "s"), 4),
        },
    ).compare(
        "INSERT ... SELECT of the same rows into the same tables (appraisals, reviews, "
        "their history)",
        median(inserts, "s"),
    )
    figure.aim(f"ratio <= {LAUNCH_GOAL}", figure.ratio <= LAUNCH_GOAL)
    ctx.log(f"launch: {figure.median:.2f} s, {queries} queries, ratio {figure.ratio:.1f}")
    return [figure]


def insert_select_launch(cycle: Cycle, *, actor: User) -> tuple[int, float, float]:
    """What the launch writes, by four plain statements: (appraisals written, seconds for
    the appraisals, seconds for everything)."""
    cutoff = services.settings_for(cycle).hired_before
    eligible = Employee.objects.filter(is_active=True)
    if cutoff is not None:
        eligible = eligible.filter(hire_date__lte=cutoff)
    eligible = eligible.annotate(
        reviewer=Case(When(manager__is_active=True, then=F("manager_id")))
    ).values("id", "department_id", "reviewer")  # by primary key, as the launch takes them
    eligible = eligible.order_by("pk")
    source, params = eligible.query.sql_with_params()
    appraisals, reviews = Appraisal._meta.db_table, Review._meta.db_table
    kinds = " UNION ALL ".join(f"SELECT '{kind}' AS kind" for kind in Review.Kind.values)

    def write():
        return insert_select(
            Appraisal,
            source=f"({source}) e",
            params=params,
            copied={
                "employee_id": "e.id",
                "department_id": "e.department_id",
                "reviewer_id": "e.reviewer",
            },
            values={"cycle_id": cycle.pk},
        )

    def rest():
        insert_select(
            Review,
            source=f"{appraisals} a CROSS JOIN ({kinds}) k WHERE a.cycle_id = %s",
            params=[cycle.pk],
            copied={"appraisal_id": "a.id", "kind": "k.kind"},
        )
        insert_history(
            Appraisal,
            source=f"{appraisals} a WHERE a.cycle_id = %s",
            params=[cycle.pk],
            alias="a",
            actor=actor,
            reason="Launched",
        )
        insert_history(
            Review,
            source=f"{reviews} r JOIN {appraisals} a ON a.id = r.appraisal_id "
            "WHERE a.cycle_id = %s",
            params=[cycle.pk],
            alias="r",
            actor=actor,
            reason="Launched",
        )

    first, rows = timed(write)
    second, _ = timed(rest)
    return rows, first, first + second


# --- reminders --------------------------------------------------------------------------


def measure_reminders(ctx) -> list[Figure]:
    s = ctx.scenario
    totals, computing = [], []
    counts = {}
    with rolled_back(), celery_inline(), override_settings(EMAIL_BACKEND=_BACKEND):
        cycle = copy_of(s.cycle, hr=s.hr, name="Benchmark reminders")
        launch(cycle, hr=s.hr)
        # Set-up, not the workflow under test: straight to self-review.
        Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.SELF_REVIEW)
        cycle.refresh_from_db()
        day = reminders.phase_deadline(cycle) - datetime.timedelta(days=reminders.DAYS_BEFORE[0])
        running = Cycle.objects.filter(status__in=reminders.REMINDER_PHASES)
        due = {c.name: reminders.reminders_due(c, day) for c in running}
        if [r.event for r in due.pop(cycle.name)] != ["deadline_near"] or any(due.values()):
            raise RuntimeError(f"On {day} other reminders are due too: {due}")
        people = len(reminders.open_work(cycle))
        for run in range(ctx.runs + 1):  # the first run warms up
            counts = _remind(day)
            if run:
                totals.append(counts.pop("seconds"))
                computing.append(counts.pop("computing_seconds"))
    emails = counts["emails"]
    if counts["by_event"].get("deadline_near") != people or emails != counts["notices"]:
        raise RuntimeError(f"{people} people have open work; {counts} were sent.")
    figure = Figure(
        name="reminders",
        size=s.size,
        median=median(totals, "s"),
        unit="s",
        runs=len(totals),
        queries=counts["computing_queries"] + counts["sending_queries"],
        extra={**counts, "computing_s": round(median(computing, "s"), 4)},
    )
    figure.compare(
        "as many e-mails built and sent over one connection, no database",
        median(_emails_alone(emails, runs=ctx.runs), "s"),
    )
    figure.aim(
        f"one SMTP connection per batch of {SEND_BATCH} e-mails",
        counts["connections"] == counts["batches"],
    )
    ctx.log(
        f"reminders: {emails} e-mails in {figure.median:.2f} s, "
        f"{counts['connections']} connections, {figure.queries} queries"
    )
    return [figure]


def _remind(day: datetime.date) -> dict:
    """One run of the daily task for ``day``, and the e-mails it queues on commit; the
    notices are rolled back afterwards, so that the next run writes them again."""
    savepoint = transaction.savepoint()
    CountingBackend.reset()
    with count_queries() as computing, TestCase.captureOnCommitCallbacks() as queued:
        computing_seconds, notices = timed(lambda: send_reminders(day=day.isoformat()))
    with count_queries() as sending:
        sending_seconds, _ = timed(lambda: [callback() for callback in queued])
    by_event = dict(
        Notification.objects.filter(key__endswith=f":{day.isoformat()}")
        .values_list("event")
        .annotate(n=Count("pk"))
        .values_list("event", "n")
    )
    transaction.savepoint_rollback(savepoint)
    return {
        "seconds": computing_seconds + sending_seconds,
        "computing_seconds": computing_seconds,
        "notices": notices,
        "by_event": by_event,
        "emails": CountingBackend.messages,
        "connections": CountingBackend.connections,
        "computing_queries": computing.count,
        "sending_queries": sending.count,
        "batches": len(queued),  # e-mail tasks, each sending up to SEND_BATCH notices
    }


REMINDER_TEXT = (
    "Hello,\n\nThe Performance year cycle is in self-review: write and submit your "
    "self-review.\nThe deadline is in 3 days.\n\nOpen it in perfcycle: "
    "http://127.0.0.1:8000/appraisals/1/self-review/\n"
)


def _emails_alone(count: int, *, runs: int) -> list[float]:
    html = "<p>" + REMINDER_TEXT.replace("\n", "<br>") + "</p>"

    def send():
        with get_connection(_BACKEND) as mail:
            for n in range(count):
                message = EmailMultiAlternatives(
                    subject="Self-review due in 3 days",
                    body=REMINDER_TEXT,
                    to=[f"person{n}@example.com"],
                    connection=mail,
                )
                message.attach_alternative(html, "text/html")
                mail.send_messages([message])

    return [timed(send)[0] for _ in range(runs)]
