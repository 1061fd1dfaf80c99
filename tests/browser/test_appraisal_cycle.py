"""One employee's appraisal cycle end to end in a real browser: HR creates a cycle from
the demo cycle and launches it, the employee self-reviews, the manager reviews, HR
calibrates the employee one level down with a reason and finalises, releases the
results, and the employee reads the result and acknowledges it.

The seeded demo cycle is part-way through manager review; this test runs a new cycle,
for the next year, copied from it (its competencies and settings; no goals, so the score
comes from the competencies alone)."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from appraisals.models import Appraisal, CalibrationAdjustment
from perfcycle import demo
from perfcycle.models import Cycle, Employee
from tests.browser.conftest import log_in, log_out

pytestmark = pytest.mark.browser

P = Cycle.Status
CYCLE_PAGE = re.compile(r"/appraisals/cycles/\d+/(#.*)?$")
APPRAISAL_PAGE = re.compile(r"/appraisals/\d+/(#.*)?$")
SESSION_PAGE = re.compile(r"/appraisals/calibration/\d+/(\?.*)?(#.*)?$")

SELF_COMMENT = "I opened two new distributors and mentored the new starters."
STRENGTHS = "Wins the trust of difficult customers quickly."
IMPROVEMENTS = "Write the quarterly forecast on time."
MOVE_REASON = "Held to the same bar as the rest of the department."
# The manager's ratings: the two competencies weighted 2 at 5, the rest at 4, so the
# competency section is (2·100 + 2·100 + 3·75) / 7 = 89.29, "Meets expectations".
MANAGER_RATINGS = {
    "Customer focus": "5",
    "Ownership": "5",
    "Teamwork": "4",
    "Communication": "4",
    "Learning agility": "4",
}
SELF_RATINGS = {name: "4" for name in MANAGER_RATINGS}


def messages(page):
    return page.locator(".messages")


def advance(page, phase: str, *, reason: str = "") -> None:
    """Advance the cycle on its page to ``phase``; with ``reason``, past its amber items
    ("advance anyway")."""
    label = str(Cycle.Status(phase).label)
    form = page.locator("#advance")
    if reason:
        expect(form.locator("#blockers")).to_be_visible()
        form.get_by_label("Advance anyway").check()
        form.get_by_label("Reason for advancing anyway").fill(reason)
    else:
        expect(form).to_contain_text("Nothing blocks the next phase.")
    form.get_by_role("button", name=f"Advance to {label}").click()
    page.wait_for_url(CYCLE_PAGE)
    expect(messages(page)).to_contain_text(f"The cycle is now in {label}.")
    expect(page.locator("h1")).to_contain_text(label)


def rate(page, ratings: dict[str, str]) -> None:
    for name, value in ratings.items():
        group = page.get_by_role("group", name=re.compile(f"^{re.escape(name)}"))
        group.get_by_label("Your rating").select_option(value)


def open_cycle(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cycles").click()
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_url(CYCLE_PAGE)


def test_one_employees_cycle_from_launch_to_acknowledgement(page, company, celery_worker_thread):
    me = Employee.objects.select_related("user", "department", "manager__user").get(
        user__email=demo.EMPLOYEE_EMAIL
    )
    manager = Employee.objects.select_related("user").get(user__email=demo.MANAGER_EMAIL)
    assert me.manager_id == manager.pk
    demo_cycle = Cycle.objects.get(name__startswith="Performance year")
    assert demo_cycle.status == P.MANAGER_REVIEW
    year = demo_cycle.period_start.year + 1
    name = f"Performance year {year}"

    # HR creates next year's cycle from the demo cycle ...
    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cycles").click()
    page.get_by_role("link", name="New cycle").first.click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Period start").fill(f"{year}-01-01")
    page.get_by_label("Period end").fill(f"{year}-12-31")
    expect(page.get_by_label("Start from")).to_have_value(str(demo_cycle.pk))
    page.get_by_role("button", name="Create the cycle").click()
    expect(messages(page)).to_contain_text(f"{name} was created from {demo_cycle.name}")
    expect(page.locator("h1")).to_have_text(f"Settings of {name}")
    # ... with the demo cycle's settings copied: its competencies are ticked.
    for competency in MANAGER_RATINGS:
        expect(page.get_by_label(competency, exact=True)).to_be_checked()
    page.get_by_label("Reason for the change").fill("Checked for the new year")
    page.get_by_role("button", name="Save the settings").click()
    page.wait_for_url(CYCLE_PAGE)
    expect(messages(page)).to_contain_text("The settings were saved.")
    cycle = Cycle.objects.get(name=name)
    assert cycle.status == P.DRAFT

    # HR launches it. A real Celery worker (in-memory broker here, Redis in CI) creates
    # the appraisals; the panel polls for the launch (HTMX) until it reports Done.
    page.get_by_role("button", name="Launch the cycle").click()
    page.wait_for_url(CYCLE_PAGE)
    expect(messages(page)).to_contain_text("The launch has started")
    launch = page.locator("#launch")
    expect(launch.locator(".badge")).to_have_text("Done")
    expect(launch.locator("progress")).to_have_count(0)
    created = Appraisal.objects.filter(cycle=cycle).count()
    assert created > 0
    counts = launch.locator("#launch-counts")
    expect(counts.locator("div", has_text="Appraisals created").locator("dd")).to_have_text(
        str(created)
    )
    mine = Appraisal.objects.get(cycle=cycle, employee=me)
    assert mine.reviewer_id == manager.pk

    # HR moves it on to self-review.
    advance(page, P.GOAL_SETTING)
    expect(page.get_by_role("link", name=f"Appraisals ({created})")).to_be_visible()
    advance(page, P.IN_PROGRESS)
    advance(page, P.SELF_REVIEW, reason="The coaching period is over.")
    log_out(page)

    # The employee writes their self-review: a draft first, then submitted.
    log_in(page, demo.EMPLOYEE_EMAIL, settings.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My appraisal").click()
    page.wait_for_url(APPRAISAL_PAGE)
    expect(page.locator("h1")).to_contain_text("Your appraisal")
    expect(page.locator(".review-kicker")).to_contain_text(name)
    rate(page, SELF_RATINGS)
    page.get_by_label("Overall comments").fill(SELF_COMMENT)
    page.get_by_role("button", name="Save draft").click()
    expect(messages(page)).to_contain_text("Your self-review was saved as a draft.")
    expect(page.get_by_label("Overall comments")).to_have_value(SELF_COMMENT)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(APPRAISAL_PAGE)
    expect(messages(page)).to_contain_text("Your self-review was submitted.")
    # Read-only now: no fields, no buttons, the text as submitted.
    expect(page.locator("body")).to_contain_text("it is read-only now")
    expect(page.get_by_role("button", name="Submit")).to_have_count(0)
    expect(page.get_by_role("main").get_by_role("combobox")).to_have_count(0)
    expect(page.get_by_role("main").get_by_role("textbox")).to_have_count(0)
    expect(page.locator("body")).to_contain_text(SELF_COMMENT)
    log_out(page)

    # HR moves on to manager review, though the others have not submitted.
    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    open_cycle(page, name)
    advance(page, P.MANAGER_REVIEW, reason="The self-review deadline has passed.")
    log_out(page)

    # The manager reviews the employee, proposing the rating the score gives.
    log_in(page, demo.MANAGER_EMAIL, settings.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews to write").click()
    expect(page.locator("h1")).to_contain_text(name)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=me.user.full_name))
    row.get_by_role("link", name="Start").click()
    expect(page.locator("h1")).to_contain_text(f"Manager review of {me.user.full_name}")
    expect(page.locator("body")).to_contain_text(SELF_COMMENT)
    rate(page, MANAGER_RATINGS)
    page.get_by_label("Strengths", exact=True).fill(STRENGTHS)
    page.get_by_label("Areas to improve", exact=True).fill(IMPROVEMENTS)
    panel = page.locator("#score-panel")
    expect(panel).to_contain_text("89.29")
    level = panel.locator("strong").inner_text().strip()
    assert level == "3 – Meets expectations"
    page.get_by_role("combobox", name="Proposed rating").select_option(label=level)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(APPRAISAL_PAGE)
    expect(messages(page)).to_contain_text("Your review was submitted")
    expect(page.locator("body")).to_contain_text(STRENGTHS)
    log_out(page)

    # Before the release the employee sees their self-review and nothing of the manager's.
    log_in(page, demo.EMPLOYEE_EMAIL, settings.DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My appraisal").click()
    page.wait_for_url(APPRAISAL_PAGE)
    expect(page.locator("body")).to_contain_text(SELF_COMMENT)
    expect(page.locator("body")).to_contain_text("once HR releases the results")
    expect(page.locator("body")).not_to_contain_text(STRENGTHS)
    expect(page.locator("body")).not_to_contain_text(IMPROVEMENTS)
    expect(page.locator("body")).not_to_contain_text("Meets expectations")
    log_out(page)

    # HR moves on to calibration and opens a session for the employee's department ...
    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    open_cycle(page, name)
    advance(page, P.CALIBRATION, reason="The remaining reviews are late.")
    page.get_by_role("link", name="Calibration", exact=True).click()
    expect(page.locator("h1")).to_have_text("Calibration sessions")
    session_name = f"{me.department.name} calibration"
    page.get_by_label("Name", exact=True).fill(session_name)
    page.get_by_label("Departments").select_option(
        label=f"{me.department.name} ({me.department.code})"
    )
    page.get_by_role("button", name="Open the session").click()
    page.wait_for_url(SESSION_PAGE)
    expect(messages(page)).to_contain_text(f"Session {session_name} opened with")
    expect(page.locator("h1")).to_contain_text(session_name)

    # ... moves the employee one level down, with the reason ...
    row = page.locator("tr", has=page.get_by_label(f"Move {me.user.full_name} to"))
    expect(row).to_contain_text(level)
    row.get_by_label(f"Move {me.user.full_name} to").select_option(label="2 – Needs improvement")
    row.get_by_label("Reason").fill(MOVE_REASON)
    row.get_by_role("button", name="Move").click()
    row = page.locator("tr", has=page.get_by_label(f"Move {me.user.full_name} to"))
    expect(row).to_contain_text(f"{me.user.full_name} moved to 2 – Needs improvement.")
    expect(row.locator(".badge", has_text="Moved")).to_be_visible()
    # The log and the distribution came with the row (out of band), whole.
    distribution = page.get_by_role("region", name="Distribution against the guideline")
    expect(distribution.get_by_role("row")).to_have_count(6)  # the header and five levels
    log = page.get_by_role("region", name=re.compile("^Adjustments"))
    expect(log).to_contain_text(MOVE_REASON)
    expect(log.get_by_role("row").filter(has_text=MOVE_REASON)).to_contain_text(
        "3 – Meets expectations"
    )
    expect(log.get_by_role("row").filter(has_text=MOVE_REASON)).to_contain_text(
        "2 – Needs improvement"
    )

    # ... and closes the session: the calibrated rating is final.
    page.get_by_role("button", name="Close and make the ratings final").click()
    page.wait_for_url(SESSION_PAGE)
    expect(messages(page)).to_contain_text("The session is closed: 1 rating is final.")
    expect(page.locator("body")).to_contain_text("the ratings below are final.")
    mine.refresh_from_db()
    assert mine.stage == Appraisal.Stage.FINAL
    assert mine.final_level.value == 2
    assert mine.released_at is None

    # HR moves on to feedback and releases the results.
    open_cycle(page, name)
    advance(page, P.FEEDBACK, reason="The open reviews are handled separately.")
    page.get_by_role("link", name="Calibration", exact=True).click()
    page.get_by_role("link", name="Release results").click()
    expect(page.locator("h1")).to_have_text("Release results")
    page.get_by_role("button", name="Release every final result").click()
    expect(messages(page)).to_contain_text("1 result was released to the employee.")
    log_out(page)

    # The employee reads the final (calibrated) rating and the manager's assessment ...
    log_in(page, demo.EMPLOYEE_EMAIL, settings.DEMO_PASSWORD)
    expect(page.locator("#home-my-appraisal")).to_contain_text("Your result is released")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My appraisal").click()
    page.wait_for_url(APPRAISAL_PAGE)
    result = page.get_by_role("region", name="Your result", exact=True)
    final = result.locator("div", has=page.get_by_role("term").filter(has_text="Final rating"))
    expect(final.get_by_role("definition")).to_have_text("2 – Needs improvement")
    expect(page.locator("body")).to_contain_text(STRENGTHS)
    expect(page.locator("body")).to_contain_text(IMPROVEMENTS)

    # ... and acknowledges it.
    acknowledge = page.get_by_role("region", name="Acknowledge your result")
    acknowledge.get_by_label("Your comment (optional)").fill("Fair; I will work on it.")
    acknowledge.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(APPRAISAL_PAGE)
    expect(messages(page)).to_contain_text("You acknowledged your result.")
    expect(acknowledge.locator(".badge")).to_have_text("Acknowledged")
    expect(acknowledge).to_contain_text("You acknowledged your result on")
    expect(acknowledge.get_by_role("button", name="Save comment")).to_be_visible()

    mine.refresh_from_db()
    assert mine.acknowledged_at is not None
    assert mine.employee_comment == "Fair; I will work on it."
    move = CalibrationAdjustment.objects.get(appraisal=mine)
    assert (move.from_level.value, move.to_level.value, move.reason) == (3, 2, MOVE_REASON)
