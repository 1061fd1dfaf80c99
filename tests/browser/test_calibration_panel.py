"""The calibration panel picker in a real browser: HR finds managers by typing (HTMX
fetches the matches into the form, the page is not reloaded), ticks them, and saves; a
person ticked from one search stays ticked through the next. Without JavaScript, "Find"
reloads the page with the matches.

The demo opens a session for the demo employee's division with the HR business partner
and the demo manager on its panel."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from appraisals import calibration_grid as grid
from appraisals import states
from appraisals.models import Appraisal, CalibrationSession
from perfcycle import demo
from perfcycle.models import User
from tests.browser.conftest import TIMEOUT_MS, log_in

pytestmark = pytest.mark.browser

SESSION_PAGE = re.compile(r"/appraisals/calibration/\d+/(\?.*)?(#.*)?$")
FIND = "Find a manager or HR partner"


def person(page, user: User):
    """The picker's checkbox of ``user`` (its label starts with their name)."""
    return page.locator(f'input[name="participants"][value="{user.pk}"]')


def candidates(*, besides: list[User], count: int) -> list[User]:
    """Panel candidates whose names no one else's contain, so a search finds only them."""
    found = []
    for user in grid.panel_candidates().exclude(pk__in=[u.pk for u in besides]):
        clashes = User.objects.filter(full_name__icontains=user.full_name).count()
        if clashes == 1:
            found.append(user)
        if len(found) == count:
            return found
    raise AssertionError("the demo has too few panel candidates with a distinct name")


def test_hr_finds_ticks_and_saves_panel_members_as_they_type(page, company):
    session = CalibrationSession.objects.get()
    partner = User.objects.get(email=demo.PARTNER_EMAIL)
    manager = User.objects.get(email=demo.MANAGER_EMAIL)
    first, second = candidates(besides=[partner, manager], count=2)

    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.goto(f"/appraisals/calibration/{session.pk}/")
    panel = page.locator("#panel")
    # The panel, ticked; nobody else is listed before a search.
    expect(person(panel, partner)).to_be_checked()
    expect(person(panel, manager)).to_be_checked()
    expect(panel.locator('input[name="participants"]')).to_have_count(2)

    page.evaluate("window.notReloaded = true")
    panel.get_by_label(FIND).press_sequentially(first.full_name.lower())
    expect(person(panel, first)).not_to_be_checked()
    expect(panel.locator("#panel-matches")).to_contain_text("1 person found")
    person(panel, first).check()
    # A second search keeps the first ticked.
    panel.get_by_label(FIND).fill(second.email)
    expect(person(panel, second)).to_be_visible()
    expect(person(panel, first)).to_be_checked()
    person(panel, second).check()
    panel.get_by_label(FIND).fill("no such person")
    expect(panel.locator("#panel-matches")).to_contain_text("Nobody matches.")
    expect(person(panel, first)).to_be_checked()
    expect(person(panel, second)).to_be_checked()
    assert page.evaluate("window.notReloaded") is True
    # Enter searches too, without leaving the page.
    panel.get_by_label(FIND).fill(second.email)
    panel.get_by_label(FIND).press("Enter")
    expect(person(panel, second)).to_be_checked()
    assert page.evaluate("window.notReloaded") is True

    person(panel, manager).uncheck()
    panel.get_by_role("button", name="Save the panel").click()
    page.wait_for_url(SESSION_PAGE)
    expect(page.locator(".messages")).to_contain_text("The panel was saved.")
    assert {user.pk for user in grid.panel_of(session)} == {partner.pk, first.pk, second.pk}
    for user in (partner, first, second):
        expect(person(page.locator("#panel"), user)).to_be_checked()
    expect(page.locator("#panel input[name='participants']")).to_have_count(3)


def test_hr_picks_the_panel_of_a_new_session(page, company):
    cycle = CalibrationSession.objects.get().cycle
    outside = (
        Appraisal.objects.filter(cycle=cycle, session__isnull=True, stage__in=states.OPEN_STAGES)
        .select_related("department")
        .first()
    )
    department = outside.department
    (member,) = candidates(besides=[], count=1)

    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.goto(f"/appraisals/cycles/{cycle.pk}/calibration/")
    form = page.locator("#open")
    form.get_by_label("Name", exact=True).fill("Late joiners")
    form.get_by_label("Departments").select_option(label=f"{department.name} ({department.code})")
    form.get_by_label(FIND).press_sequentially(member.full_name.lower())
    person(form, member).check()
    expect(form.get_by_label("Name", exact=True)).to_have_value("Late joiners")  # no reload
    form.get_by_role("button", name="Open the session").click()
    page.wait_for_url(SESSION_PAGE)
    expect(page.locator(".messages")).to_contain_text("Session Late joiners opened with")
    opened = CalibrationSession.objects.get(name="Late joiners")
    assert [user.pk for user in grid.panel_of(opened)] == [member.pk]


def test_without_javascript_find_reloads_the_page_with_the_matches(browser, live_server, company):
    session = CalibrationSession.objects.get()
    partner = User.objects.get(email=demo.PARTNER_EMAIL)
    manager = User.objects.get(email=demo.MANAGER_EMAIL)
    (member,) = candidates(besides=[partner, manager], count=1)
    context = browser.new_context(
        locale="en-US", base_url=live_server.url, java_script_enabled=False
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
        page.goto(f"/appraisals/calibration/{session.pk}/")
        panel = page.locator("#panel")
        panel.get_by_label(FIND).fill(member.email)
        panel.get_by_role("button", name="Find", exact=True).click()
        page.wait_for_url(re.compile(r"\?panel_q="))
        panel = page.locator("#panel")
        expect(panel.get_by_label(FIND)).to_have_value(member.email)
        expect(person(panel, member)).not_to_be_checked()
        expect(person(panel, partner)).to_be_checked()
        person(panel, member).check()
        panel.get_by_role("button", name="Save the panel").click()
        page.wait_for_url(SESSION_PAGE)
        expect(page.locator(".messages")).to_contain_text("The panel was saved.")
    finally:
        context.close()
    assert {user.pk for user in grid.panel_of(session)} == {partner.pk, manager.pk, member.pk}
