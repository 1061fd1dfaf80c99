"""The cascade end to end in a real browser: HR adds a company objective, decomposes it
into a department goal, adds a position KPI that is copied to the people holding the
position; the demo employee records a check-in on their copy, and the progress rolls up
to the company objective and shows in the alignment tree."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from perfcycle import demo
from perfcycle.models import Employee
from tests.browser.conftest import log_in, log_out

pytestmark = pytest.mark.browser

OBJECTIVE = "Open the western market"
GOAL_PAGE = re.compile(r"/goals/\d+/(#.*)?$")


def fill_kpi(page, *, title: str, weight: str = "0") -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Weight", exact=False).first.fill(weight)
    page.get_by_label("Measured as").select_option("kpi")
    page.get_by_label("Direction").select_option("higher")
    page.get_by_label("Unit").fill("k CNY")
    page.get_by_label("Threshold").fill("80")
    page.get_by_label("Target", exact=True).fill("100")
    page.get_by_label("Stretch").fill("120")


def test_an_objective_cascades_to_a_persons_check_in_and_its_progress_rolls_up(page, company):
    me = Employee.objects.select_related("position", "department").get(
        user__email=demo.EMPLOYEE_EMAIL
    )

    # HR: a company objective.
    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.goto("/goals/company/")
    page.get_by_role("link", name="Add an objective").first.click()
    fill_kpi(page, title=OBJECTIVE)
    page.get_by_role("button", name="Create the goal").click()
    page.wait_for_url(GOAL_PAGE)
    expect(page.locator("h1")).to_have_text(OBJECTIVE)

    # ... decomposed into a goal of the employee's department ...
    page.get_by_role("link", name="Decompose into department goals").click()
    page.get_by_label(me.department.name, exact=False).first.check()
    page.get_by_role("button", name="Create the department goals").click()
    page.wait_for_url(GOAL_PAGE)
    expect(page.locator(".messages")).to_contain_text("Created 1 department goal")
    children = page.locator("#goal-children").locator("..")
    children.get_by_role("link", name=OBJECTIVE).first.click()
    page.wait_for_url(GOAL_PAGE)
    expect(page.locator("body")).to_contain_text(me.department.name)

    # ... into a KPI of the employee's position, copied to everyone holding it.
    page.get_by_role("link", name=re.compile("serving this")).click()
    page.get_by_label("Position").select_option(
        label=f"{me.position.title} — {me.position.department.name}"
    )
    fill_kpi(page, title="Western bookings")
    page.get_by_role("button", name="Create the goal").click()
    expect(page.locator(".error-summary")).to_have_count(0)
    page.wait_for_url(GOAL_PAGE)
    expect(page.locator("h1")).to_have_text("Western bookings")
    expect(page.locator("body")).to_contain_text("Copies for the people in this position")
    log_out(page)

    # The employee finds their copy and records progress.
    log_in(page, demo.EMPLOYEE_EMAIL, settings.DEMO_PASSWORD)
    page.goto("/goals/")
    page.get_by_role("link", name="Western bookings").first.click()
    page.wait_for_url(GOAL_PAGE)
    page.get_by_label(re.compile("^Actual")).fill("110")
    page.get_by_label("Confidence").select_option("on_track")
    page.get_by_label("Comment").first.fill("Two new distributors signed")
    page.get_by_role("button", name="Record progress").click()
    expect(page.locator("#goal-checkins").locator("..")).to_contain_text(
        "Two new distributors signed"
    )
    expect(page.locator(".progress-value").first).to_have_text("110%")

    # The progress has rolled up to the company objective...
    page.get_by_role("link", name=OBJECTIVE).first.click()
    page.wait_for_url(GOAL_PAGE)
    expect(page.locator("h1")).to_have_text(OBJECTIVE)
    expect(page.locator("#goal-progress").locator("..")).to_contain_text("110%")

    # ... and shows in the alignment tree, where the branch opens down to the KPI.
    page.goto("/goals/tree/")
    node = page.locator("li", has=page.get_by_role("link", name=OBJECTIVE)).first
    expect(node).to_contain_text("110%")
    # The objective opens on its department goals; the department goal (named like the
    # objective it copies) loads its KPIs on the first click, through HTMX.
    toggles = page.get_by_role("button", name=f"Goals serving {OBJECTIVE}")
    expect(toggles).to_have_count(2)
    department_toggle = toggles.nth(1)
    expect(department_toggle).to_have_attribute("aria-expanded", "false")
    kpi = page.get_by_role("link", name="Western bookings")
    expect(kpi).to_have_count(0)
    department_toggle.click()
    expect(department_toggle).to_have_attribute("aria-expanded", "true")
    expect(kpi.first).to_be_visible()
    expect(page.locator(".goal-row", has=kpi).first).to_contain_text("110%")
    department_toggle.click()
    expect(kpi.first).to_be_hidden()
