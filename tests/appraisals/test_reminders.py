"""Deadline reminders, overdue digests and phase-opened notices (the daily beat task).

The org of ``tests/conftest.py``. The ``reviews`` cycle has three appraisals: Emil
Employee and Petra Peer (reviewer Mona Manager, also their manager) and Olga Outsider
(reviewer and manager Otto Other). Self-reviews are due on 10 March, manager reviews on
20 March.
"""

import datetime

import pytest
from celery.schedules import crontab
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appraisals import services
from appraisals.models import Appraisal, Review
from appraisals.reminders import reminders_due
from appraisals.reports import cycle_summary
from appraisals.tasks import send_reminders
from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle, CycleDeadline, Notification
from tests.appraisals.conftest import appraisal_cycle, at_phase, competencies  # noqa: F401
from tests.factories import CycleFactory, EmployeeFactory, UserFactory
from tests.goals.conftest import cascade, cycle  # noqa: F401

P = Cycle.Status
A = Appraisal.Stage
SELF_DUE = datetime.date(2026, 3, 10)
MANAGER_DUE = datetime.date(2026, 3, 20)
DAY = datetime.timedelta(days=1)
EMIL = "employee@example.com"


@pytest.fixture
def reviews(org):
    """FY2026 in self-review; Petra has submitted her self-review, Emil and Olga not."""
    the_cycle = CycleFactory(name="FY2026", status=P.SELF_REVIEW)
    CycleDeadline.objects.create(cycle=the_cycle, phase=P.SELF_REVIEW, due_on=SELF_DUE)
    CycleDeadline.objects.create(cycle=the_cycle, phase=P.MANAGER_REVIEW, due_on=MANAGER_DUE)
    for person, stage in (
        (org.employee, A.SELF_REVIEW),
        (org.peer, A.MANAGER_REVIEW),
        (org.outsider, A.SELF_REVIEW),
    ):
        appraise(the_cycle, person, stage)
    return the_cycle


def appraise(the_cycle, person, stage=A.SELF_REVIEW):
    return Appraisal.objects.create(
        cycle=the_cycle,
        employee=person,
        department=person.department,
        reviewer=person.manager,
        stage=stage,
    )


def run(day):
    """The beat task, run here (inline); returns how many reminders it wrote (HR's daily
    summary, which it writes too, is tested on its own below)."""
    reminders = Notification.objects.exclude(event="cycle_summary")
    before = reminders.count()
    send_reminders(day.isoformat())
    return reminders.count() - before


def queries_for(day):
    """The statements the beat task sends for ``day``, and the reminders it writes."""
    with CaptureQueriesContext(connection) as queries:
        written = run(day)
    return len(queries), written


def told(event, day=None):
    rows = Notification.objects.filter(event=event)
    if day is not None:
        rows = rows.filter(key__endswith=day.isoformat())
    return sorted(rows.values_list("recipient__email", flat=True))


# --- deadline near ------------------------------------------------------------------


def test_it_reminds_3_days_and_1_day_before_only_those_whose_self_review_is_open(reviews):
    three_before, one_before = SELF_DUE - 3 * DAY, SELF_DUE - DAY

    assert run(three_before) == 2
    assert told("deadline_near") == ["employee@example.com", "outsider@example.com"]
    assert run(SELF_DUE - 2 * DAY) == 0  # no reminder two days before
    assert run(one_before) == 2
    assert told("deadline_near", one_before) == ["employee@example.com", "outsider@example.com"]

    mine = Notification.objects.get(key__endswith=f"{three_before}", recipient__email=EMIL)
    assert mine.title == "Your FY2026 self-review is due in 3 days"
    assert "the deadline is March 10, 2026" in mine.body
    appraisal = Appraisal.objects.get(cycle=reviews, employee__user__email="employee@example.com")
    assert mine.url == reverse("appraisals:self_review", args=[appraisal.pk])
    last = Notification.objects.get(key__endswith=f"{one_before}", recipient__email=EMIL)
    assert last.title == "Your FY2026 self-review is due in 1 day"


def test_a_second_run_the_same_day_sends_nothing(reviews):
    day = SELF_DUE - 3 * DAY
    assert run(day) == 2

    assert run(day) == 0
    assert told("deadline_near") == [EMIL, "outsider@example.com"]
    assert told("cycle_summary") == ["hr@example.com"]


def test_in_manager_review_it_reminds_reviewers_of_the_reviews_they_have_not_submitted(
    org, reviews
):
    at_phase(reviews, P.MANAGER_REVIEW)
    Appraisal.objects.filter(employee=org.employee).update(stage=A.MANAGER_REVIEW)
    Appraisal.objects.filter(employee=org.peer).update(stage=A.READY)  # Mona submitted it
    org.other_manager.user.digests = False  # deadline notices are sent anyway
    org.other_manager.user.save()

    assert run(MANAGER_DUE - 3 * DAY) == 2

    assert told("deadline_near") == ["manager@example.com", "other@example.com"]
    mona = Notification.objects.get(recipient=org.manager.user)
    assert mona.title == "Your FY2026 manager reviews are due in 3 days"
    assert "- Emil Employee" in mona.body and "Petra Peer" not in mona.body
    emil = Appraisal.objects.get(employee=org.employee)
    assert mona.url == reverse("appraisals:manager_review", args=[emil.pk])


def test_a_withdrawn_appraisal_or_a_cycle_without_a_deadline_gets_no_reminder(org, reviews):
    Appraisal.objects.filter(employee=org.outsider).update(stage=A.WITHDRAWN)
    assert run(SELF_DUE - 3 * DAY) == 1
    assert told("deadline_near") == ["employee@example.com"]

    CycleDeadline.objects.filter(cycle=reviews, phase=P.SELF_REVIEW).delete()
    assert reminders_due(reviews, SELF_DUE - DAY) == []


# --- deadline passed and the managers' digest -------------------------------------------


def test_the_day_after_the_deadline_tells_each_late_person_once(reviews):
    assert run(SELF_DUE) == 0  # the deadline day itself: nothing

    run(SELF_DUE + DAY)
    assert told("deadline_passed") == ["employee@example.com", "outsider@example.com"]
    run(SELF_DUE + DAY)
    run(SELF_DUE + 2 * DAY)
    assert told("deadline_passed") == ["employee@example.com", "outsider@example.com"]
    mine = Notification.objects.get(
        event="deadline_passed", recipient__email="employee@example.com"
    )
    assert mine.title == "Your FY2026 self-review is overdue"


def test_the_daily_digest_lists_each_managers_overdue_reports(org, reviews):
    run(SELF_DUE + DAY)

    assert told("overdue_digest") == ["manager@example.com", "other@example.com"]
    mona = Notification.objects.get(event="overdue_digest", recipient=org.manager.user)
    assert mona.title == "1 overdue review among your reports in FY2026"
    assert "- Emil Employee" in mona.body and "Petra Peer" not in mona.body
    assert "turn this daily digest off in your profile" in mona.body
    otto = Notification.objects.get(event="overdue_digest", recipient=org.other_manager.user)
    assert "- Olga Outsider" in otto.body and "Emil" not in otto.body
    # Once a day: again tomorrow, not again today.
    run(SELF_DUE + DAY)
    assert len(told("overdue_digest")) == 2
    run(SELF_DUE + 2 * DAY)
    assert told("overdue_digest", SELF_DUE + 2 * DAY) == [
        "manager@example.com",
        "other@example.com",
    ]


def test_the_digest_grows_with_the_overdue_reports_and_skips_who_turned_it_off(org, reviews):
    appraise(reviews, org.manager)  # Mona's own self-review, overdue: Cora's report
    Appraisal.objects.filter(employee=org.peer).update(stage=A.SELF_REVIEW)
    org.other_manager.user.digests = False
    org.other_manager.user.save()

    run(SELF_DUE + DAY)

    assert told("overdue_digest") == ["ceo@example.com", "manager@example.com"]
    mona = Notification.objects.get(event="overdue_digest", recipient=org.manager.user)
    assert mona.title == "2 overdue reviews among your reports in FY2026"
    assert "- Emil Employee\n- Petra Peer" in mona.body
    # The opt-out is for digests only: Olga and Mona are still told they are late.
    assert "outsider@example.com" in told("deadline_passed")
    assert "manager@example.com" in told("deadline_passed")


# --- phase opened ------------------------------------------------------------------------


def test_advancing_into_a_review_phase_tells_everyone_with_work_in_it(
    org,
    hr_admin,
    appraisal_cycle,  # noqa: F811
):
    at_phase(appraisal_cycle, P.IN_PROGRESS)

    services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, force=True, reason="Go")

    everyone = sorted(
        Appraisal.objects.filter(cycle=appraisal_cycle).values_list(
            "employee__user__email", flat=True
        )
    )
    assert told("phase_opened") == everyone and len(everyone) == 7
    mine = Notification.objects.get(event="phase_opened", recipient__email="employee@example.com")
    assert mine.title == f"Self-review is open in the {appraisal_cycle.name} cycle"

    Notification.objects.all().delete()
    services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, force=True, reason="Go on")

    # The reviewers: Mona (Emil, Petra), Cora (Mona, Otto, Hana), Otto (Olga).
    assert told("phase_opened") == ["ceo@example.com", "manager@example.com", "other@example.com"]
    mona = Notification.objects.get(event="phase_opened", recipient__email="manager@example.com")
    assert "- Emil Employee\n- Petra Peer" in mona.body
    assert mona.url == reverse("appraisals:reviews")


def test_advancing_into_calibration_tells_nobody(org, hr_admin, reviews):
    at_phase(reviews, P.MANAGER_REVIEW)
    Appraisal.objects.filter(cycle=reviews).update(stage=A.READY)

    services.cycle_advance(actor=hr_admin, cycle=reviews, force=True, reason="Done")

    assert not Notification.objects.exists()


# --- goal setting --------------------------------------------------------------------
# The ``cascade`` of tests/goals/conftest.py: FY2026 in goal setting, where Emil's and
# Petra's copies of the Bookings KPI (approved, weight 100) complete their goals; the
# other five people have no personal goals yet.
GOALS_DUE = datetime.date(2026, 2, 1)
WITHOUT_GOALS = sorted(
    [
        "ceo@example.com",
        "hr@example.com",
        "manager@example.com",
        "other@example.com",
        "outsider@example.com",
    ]
)


@pytest.fixture
def goal_setting(cycle, cascade):  # noqa: F811
    CycleDeadline.objects.create(cycle=cycle, phase=P.GOAL_SETTING, due_on=GOALS_DUE)
    return cycle


def test_goal_setting_reminds_those_whose_goals_do_not_total_100(org, employee, goal_setting):
    # Olga proposes goals worth 60: still open. Emil's goals are complete.
    Goal.objects.create(
        cycle=goal_setting,
        level=Goal.Level.PERSONAL,
        employee=org.outsider,
        title="Ship the billing rewrite",
        weight=60,
        kind=Goal.Kind.MILESTONE,
        status=Goal.Status.PROPOSED,
    )

    assert run(GOALS_DUE - 3 * DAY) == 5

    assert told("deadline_near") == WITHOUT_GOALS
    olga = Notification.objects.get(event="deadline_near", recipient=org.outsider.user)
    assert olga.title == "Your FY2026 goals are due in 3 days"
    assert "do not total 100 yet; goal setting closes on Feb. 1, 2026" in olga.body
    assert olga.url == reverse("goals:mine")


def test_after_goal_setting_is_due_managers_get_their_reports_without_goals(org, goal_setting):
    run(GOALS_DUE + DAY)

    assert told("deadline_passed") == WITHOUT_GOALS
    # Mona's reports, Emil and Petra, are done: she gets no digest.
    assert told("overdue_digest") == ["ceo@example.com", "other@example.com"]
    cora = Notification.objects.get(event="overdue_digest", recipient=org.ceo.user)
    assert cora.title == "3 reports without complete goals in FY2026"
    assert "- Hana HR\n- Mona Manager\n- Otto Other\n" in cora.body
    assert cora.url == reverse("goals:team")


def test_opening_goal_setting_tells_everyone_whose_goals_are_not_set(
    org,
    hr_admin,
    appraisal_cycle,  # noqa: F811
):
    at_phase(appraisal_cycle, P.DRAFT)

    services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, force=True, reason="Open it")

    # Emil's and Petra's goals carried into the cycle are complete already.
    assert told("phase_opened") == WITHOUT_GOALS
    mine = Notification.objects.get(event="phase_opened", recipient__email="outsider@example.com")
    assert mine.title == f"Goal setting is open in the {appraisal_cycle.name} cycle"
    assert "agree your personal goals with your manager" in mine.body


def test_goal_setting_reminders_read_the_same_queries_for_7_or_37_people(org, goal_setting):
    few, written = queries_for(GOALS_DUE + DAY)
    assert written == 7  # 5 late, 2 managers
    Notification.objects.all().delete()
    for _ in range(30):
        EmployeeFactory(department=org.sales_east, manager=org.manager)

    many, written = queries_for(GOALS_DUE + DAY)
    assert written == 38  # 35 late, 3 managers
    assert many == few


# --- HR's daily summary ----------------------------------------------------------------


def test_hr_gets_a_daily_summary_of_each_running_cycle(org, hr_admin, reviews):
    """FY2026 a day after the self-review deadline: Emil's and Olga's self-reviews are
    overdue, Petra's is in. A goal waits for approval."""
    Goal.objects.create(
        cycle=reviews,
        level=Goal.Level.PERSONAL,
        employee=org.employee,
        title="Win two logos",
        weight=20,
        kind=Goal.Kind.MILESTONE,
        status=Goal.Status.PROPOSED,
    )
    petra = Appraisal.objects.get(cycle=reviews, employee=org.peer)
    Review.objects.create(appraisal=petra, kind=Review.Kind.SELF, status=Review.Status.SUBMITTED)
    CycleFactory(name="FY2027 plan", status=P.DRAFT)  # a draft: no summary
    CycleFactory(name="FY2024", status=P.CLOSED)  # closed: none either

    run(SELF_DUE + DAY)

    notice = Notification.objects.get(event="cycle_summary")
    assert notice.recipient == hr_admin
    assert notice.title == "FY2026 today: Self-review"
    assert notice.url == reverse("appraisals:dashboard", args=[reviews.pk])
    body = notice.body
    assert "The FY2026 cycle is in Self-review. The phase was due on March 10, 2026." in body
    assert "3 appraisals:" in body
    assert "- Self-reviews submitted: 1 (33.3%)" in body
    assert "- Overdue self-reviews: 2" in body
    assert "- Overdue manager reviews: 0" in body
    assert "- Goals awaiting approval: 1" in body
    assert "- Open appeals: 0" in body


def test_the_summary_says_how_long_is_left_before_the_deadline(reviews):
    run(SELF_DUE - 2 * DAY)
    run(SELF_DUE)

    bodies = Notification.objects.filter(event="cycle_summary").values_list("body", flat=True)
    assert any("The phase is due on March 10, 2026, in 2 days." in body for body in bodies)
    assert any("The phase is due today, March 10, 2026." in body for body in bodies)


def test_the_summary_goes_once_a_day_to_hr_who_take_digests(org, hr_admin, reviews):
    root = UserFactory(is_superuser=True)
    quiet = UserFactory(digests=False)
    quiet.groups.add(Group.objects.get(name=access.HR_ADMIN_GROUP))

    run(SELF_DUE - 2 * DAY)
    run(SELF_DUE - 2 * DAY)
    run(SELF_DUE - DAY)

    assert told("cycle_summary", SELF_DUE - 2 * DAY) == sorted([hr_admin.email, root.email])
    assert told("cycle_summary", SELF_DUE - DAY) == sorted([hr_admin.email, root.email])
    assert not Notification.objects.filter(recipient=quiet).exists()
    assert not Notification.objects.filter(event="cycle_summary", recipient=org.manager.user)


def test_the_summary_reads_the_same_number_of_queries_for_3_or_30_appraisals(org, reviews):
    def queries_for_summary():
        with CaptureQueriesContext(connection) as queries:
            cycle_summary(reviews, today=SELF_DUE + DAY)
        return len(queries)

    few = queries_for_summary()
    for _ in range(27):
        appraise(reviews, EmployeeFactory(department=org.sales_east, manager=org.manager))

    assert queries_for_summary() == few


# --- the task -----------------------------------------------------------------------------


def test_the_reminders_run_each_morning_from_beat():
    entry = send_reminders.app.conf.beat_schedule["appraisal-reminders"]
    assert entry["task"] == "appraisals.tasks.send_reminders" == send_reminders.name
    assert entry["schedule"] == crontab(hour=7, minute=0)


def test_the_reminders_read_the_same_number_of_queries_for_3_or_30_people(org, reviews):
    few, written = queries_for(SELF_DUE + DAY)
    assert written == 4  # 2 late, 2 managers
    Notification.objects.all().delete()
    for _ in range(27):
        appraise(reviews, EmployeeFactory(department=org.sales_east, manager=org.manager))

    many, written = queries_for(SELF_DUE + DAY)
    assert written == 31  # 29 late, 2 managers
    assert many == few


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_exactly_the_expected_reminders_once(org, reviews, worker_idle):
    day = (SELF_DUE - 3 * DAY).isoformat()

    send_reminders.delay(day)
    worker_idle()  # the reminders ran, and so did the e-mail task they queued
    worker_idle()
    sent = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert sent == [
        ("employee@example.com", "Your FY2026 self-review is due in 3 days"),
        ("hr@example.com", "FY2026 today: Self-review"),
        ("outsider@example.com", "Your FY2026 self-review is due in 3 days"),
    ]
    assert not Notification.objects.filter(emailed_at=None).exists()

    send_reminders.delay(day)
    worker_idle()
    worker_idle()  # anything the second run queued has run too
    assert len(mail.outbox) == 3
    assert Notification.objects.count() == 3


# --- the profile setting --------------------------------------------------------------


def test_the_profile_offers_digests_on_by_default(client, employee):
    client.force_login(employee)

    page = client.get(reverse("profile")).content.decode()

    assert 'name="digests"' in page and "Send me daily digests" in page
    assert 'id="id_digests" checked>' in page


def test_turning_digests_off_and_on_in_the_profile(client, employee):
    client.force_login(employee)

    response = client.post(reverse("profile"), {"form": "digests"})

    assert response.status_code == 302 and response["Location"] == reverse("profile")
    employee.refresh_from_db()
    assert employee.digests is False and employee.language == ""
    page = client.get(reverse("profile")).content.decode()
    assert "You will no longer get daily digests." in page
    assert 'id="id_digests">' in page

    client.post(reverse("profile"), {"form": "digests", "digests": "on"})
    employee.refresh_from_db()
    assert employee.digests is True
    # Saving the language leaves the digests alone.
    client.post(reverse("profile"), {"language": "zh-hans"})
    employee.refresh_from_db()
    assert employee.digests is True and employee.language == "zh-hans"


def test_the_digest_setting_needs_a_login_and_a_post(client, employee):
    assert client.post(reverse("profile"), {"form": "digests"}).status_code == 302
    employee.refresh_from_db()
    assert employee.digests is True
    client.force_login(employee)
    assert client.put(reverse("profile")).status_code == 405
