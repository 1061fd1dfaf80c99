"""The demo in a real browser: log in as each role, the tree, the directory, log out.

Written against the UI contract in the helper brief: home sections by id, the
department tree's HTMX buttons, the directory's search form and results table, the login
form's labels and the header's "Log out" button. Every page must also run without a
console error, an uncaught exception or a Content-Security-Policy violation (the ``page``
fixture checks that after each test).
"""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from perfcycle import demo
from perfcycle.models import Department, Employee
from tests.browser.conftest import log_in, log_out

pytestmark = pytest.mark.browser

SECTIONS = {
    "home-employee": "My work",
    "home-manager": "My team",
    "home-hr": "Organisation",
    "home-executive": "Company",
    "home-partner": "My departments",
}
# Which home sections each demo login has; every one of them is also an employee.
ROLE_SECTIONS = {
    demo.HR_EMAIL: {"home-employee", "home-hr"},
    demo.CEO_EMAIL: {"home-employee", "home-manager", "home-executive"},
    demo.MANAGER_EMAIL: {"home-employee", "home-manager"},
    demo.EMPLOYEE_EMAIL: {"home-employee"},
    demo.PARTNER_EMAIL: {"home-employee", "home-partner"},
}
HEADING = "h1, h2, h3, h4"


def is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize(
    "email",
    list(ROLE_SECTIONS),
    ids=["hr-admin", "executive", "manager", "employee", "hr-partner"],
)
def test_it_logs_in_shows_the_home_sections_of_the_role_and_logs_out(page, company, email):
    log_in(page, email, settings.DEMO_PASSWORD)

    expect(page.locator("h1").first).to_be_visible()
    for section_id, title in SECTIONS.items():
        section = page.locator(f"#{section_id}")
        if section_id in ROLE_SECTIONS[email]:
            expect(section).to_be_visible()
            expect(section.locator(HEADING).first).to_contain_text(title)
        else:
            expect(section).to_have_count(0)

    log_out(page)
    expect(page.get_by_label("E-mail address")).to_be_visible()
    # Logged out means logged out: home sends back to the login page.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_it_refuses_a_wrong_password_with_a_message(page, company):
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(demo.EMPLOYEE_EMAIL)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.locator(".error-summary, .alert-error, .field-error").first).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value(demo.EMPLOYEE_EMAIL)


def tree_node(page, tree, department):
    """The tree node (<li> or treeitem) of ``department``: the innermost one holding its name."""
    name = page.get_by_text(department.name, exact=True)
    return tree.locator("li, [role='treeitem']").filter(has=name).last


def expand(page, tree, department):
    """Click the node's button and wait for its children to arrive through HTMX."""
    button = tree_node(page, tree, department).locator("button[aria-expanded]").first
    expect(button).to_have_attribute("aria-expanded", "false")
    children_url = re.compile(rf"/org/departments/{department.pk}/children/")
    with page.expect_response(children_url) as response:
        button.click()
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true", "loaded through HTMX"
    expect(button).to_have_attribute("aria-expanded", "true")
    return button


def test_it_expands_a_department_in_the_tree_with_htmx(page, company):
    root = Department.objects.get(parent=None)
    division = Department.objects.get(code="SAL")
    children = list(division.children.order_by("name").values_list("name", flat=True))
    assert children

    log_in(page, demo.EMPLOYEE_EMAIL, settings.DEMO_PASSWORD)
    page.goto("/org/departments/")
    tree = page.locator("#department-tree")
    expect(tree).to_be_visible()
    expect(tree.get_by_text(root.name, exact=True)).to_be_visible()
    if not tree.get_by_text(division.name, exact=True).is_visible():
        expand(page, tree, root)
    expect(tree.get_by_text(division.name, exact=True)).to_be_visible()
    # A division's departments are not in the page until its node is opened.
    expect(tree.get_by_text(children[0], exact=True)).to_have_count(0)

    button = expand(page, tree, division)
    for name in children:
        expect(tree.get_by_text(name, exact=True)).to_be_visible()

    # The same button folds the children away again, and opens them again.
    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(tree.get_by_text(children[0], exact=True)).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(tree.get_by_text(children[0], exact=True)).to_be_visible()


def test_it_searches_the_directory_and_opens_a_profile(page, company):
    manager = Employee.objects.select_related("user").get(user__email=demo.MANAGER_EMAIL)
    team = list(
        Employee.objects.filter(department=manager.department)
        .exclude(pk=manager.pk)
        .select_related("user", "position")
        .order_by("employee_number")
    )
    # A colleague with a Chinese name, so the search handles CJK text end to end (the
    # seeded demo always has some: the seed is fixed).
    person = next((e for e in team if is_cjk(e.user.full_name)), None)
    assert person is not None, "the demo department has no Chinese name to search for"

    log_in(page, demo.MANAGER_EMAIL, settings.DEMO_PASSWORD)
    page.goto("/people/")
    search = page.get_by_label("Search people")
    expect(search).to_be_visible()
    search.fill(person.user.full_name)
    search.press("Enter")

    results = page.locator("#directory-results")
    expect(results.locator("table")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q="))
    link = results.get_by_role("link", name=person.user.full_name, exact=True)
    expect(link).to_have_count(1)
    link.click()

    expect(page).to_have_url(re.compile(rf"/people/{person.pk}/$"))
    expect(page.locator("h1")).to_contain_text(person.user.full_name)


def test_it_finds_nobody_for_a_search_without_matches_and_says_so(page, company):
    log_in(page, demo.HR_EMAIL, settings.DEMO_PASSWORD)
    page.goto("/people/?q=zzzz-nobody-by-this-name")
    expect(page.get_by_label("Search people")).to_have_value("zzzz-nobody-by-this-name")
    expect(page.locator(".empty-state")).to_be_visible()


def test_it_serves_an_icon_so_that_browsers_get_no_404(page, transactional_db):
    page.goto("/login/")
    declared = page.locator("link[rel~='icon']")
    href = declared.first.get_attribute("href") if declared.count() else "/favicon.ico"
    response = page.request.get(href)
    assert response.status == 200, (
        f"{href} answers {response.status}: declare an icon in base.html "
        '(<link rel="icon" href="{% static ... %}">) or serve /favicon.ico; browsers ask '
        "for one on every first visit and log the 404 as a console error"
    )
