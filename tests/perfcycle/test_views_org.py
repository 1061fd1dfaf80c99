"""Department tree and page, people directory with its CSV export, employee profile."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfcycle import services
from tests.conftest import fresh
from tests.factories import DepartmentFactory, EmployeeFactory, PositionFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def same_queries_at_two_sizes(client, url, grow, django_assert_num_queries, **headers):
    """Measure ``url``, grow the data, and require exactly the same number of queries."""
    with CaptureQueriesContext(connection) as small:
        assert client.get(url, **headers).status_code == 200
    grow()
    with django_assert_num_queries(len(small)):
        assert client.get(url, **headers).status_code == 200
    return len(small)


def grow_org(org, n=8):
    for i in range(n):
        department = DepartmentFactory(parent=org.sales, name=f"Sales {i}")
        DepartmentFactory(parent=department)
        position = PositionFactory(department=department)
        EmployeeFactory(department=department, position=position, manager=org.manager)
        EmployeeFactory(department=org.sales_east, position=org.position, manager=org.manager)
        DepartmentFactory(parent=org.hq)


def rows(html):
    return re.findall(r'<a href="/people/(\d+)/">([^<]+)</a>', html)


def export(client, query=""):
    response = client.get(reverse("directory_export") + query)
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# --- department tree ------------------------------------------------------------------


def test_it_shows_the_tree_from_the_roots_with_head_and_headcount(client, org, employee):
    client.force_login(employee)
    response = client.get(reverse("department_tree"))
    html = response.content.decode()
    assert 'id="department-tree"' in html
    assert "Headquarters" in html and "HQ" in html and "Head: Cora Chief" in html
    assert "7 people" in html  # the whole company under the root
    # A single company at the top is open: its divisions show without a click...
    root_button = re.search(rf"<button[^>]*department-{org.hq.pk}-children[^>]*>", html, re.S)
    assert 'aria-expanded="true"' in root_button.group(0)
    assert "hx-get" not in root_button.group(0)
    names = re.findall(r'class="tree-name" href="[^"]+">([^<]+)<', html)
    assert names == ["Headquarters", "Engineering", "People", "Sales"]
    # ...and a division's departments load lazily, through HTMX.
    button = re.search(r"<button[^>]*hx-get=\"([^\"]+)\"[^>]*>", html, re.S)
    assert 'aria-expanded="false"' in button.group(0)
    assert button.group(1) == reverse("department_children", args=[org.sales.pk])
    # Without JavaScript the name is a plain link to the department's page.
    assert f'href="{reverse("department_detail", args=[org.hq.pk])}"' in html
    assert "Sales East" not in html


def test_it_leaves_several_top_level_departments_closed(client, org, employee):
    DepartmentFactory(code="SUB", name="Subsidiary")
    client.force_login(employee)
    html = client.get(reverse("department_tree")).content.decode()
    names = re.findall(r'class="tree-name" href="[^"]+">([^<]+)<', html)
    assert names == ["Headquarters", "Subsidiary"]
    assert 'aria-expanded="true"' not in html


def test_it_loads_one_level_of_children_as_a_fragment(client, org, employee):
    client.force_login(employee)
    response = client.get(reverse("department_children", args=[org.hq.pk]), **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    names = re.findall(r'class="tree-name" href="[^"]+">([^<]+)<', html)
    assert names == ["Engineering", "People", "Sales"]
    assert "3 people" in html and "1 person" in html
    # Only Sales has children, so only Sales has a button.
    assert html.count("<button") == 1
    assert f'hx-get="{reverse("department_children", args=[org.sales.pk])}"' in html


def test_it_sends_a_plain_children_request_to_the_department_page(client, org, employee):
    client.force_login(employee)
    response = client.get(reverse("department_children", args=[org.sales.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("department_detail", args=[org.sales.pk])


def test_it_keeps_the_tree_queries_constant(client, org, employee, django_assert_num_queries):
    client.force_login(employee)
    grow = lambda: grow_org(org)  # noqa: E731
    same_queries_at_two_sizes(client, reverse("department_tree"), grow, django_assert_num_queries)
    url = reverse("department_children", args=[org.sales.pk])
    same_queries_at_two_sizes(client, url, grow, django_assert_num_queries, **HTMX)


def test_it_shows_a_department_with_breadcrumb_positions_and_people(client, org, employee):
    client.force_login(employee)
    html = client.get(reverse("department_detail", args=[org.sales_east.pk])).content.decode()
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', html, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", crumbs) == [
        "Departments",
        "Headquarters",
        "Sales",
        "Sales East",
    ]
    assert "Account executive" in html
    assert {name for _, name in rows(html)} == {"Emil Employee", "Petra Peer"}


def test_it_keeps_the_department_page_queries_constant(
    client, org, employee, django_assert_num_queries
):
    client.force_login(employee)
    url = reverse("department_detail", args=[org.sales.pk])
    same_queries_at_two_sizes(client, url, lambda: grow_org(org), django_assert_num_queries)


def test_it_hides_the_organisation_from_an_account_without_a_record(client, org):
    client.force_login(UserFactory())
    assert client.get(reverse("department_detail", args=[org.sales.pk])).status_code == 404
    url = reverse("department_children", args=[org.sales.pk])
    assert client.get(url, **HTMX).status_code == 404
    assert "Sales" not in client.get(reverse("department_tree")).content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "department_tree",
        "department_detail",
        "department_children",
        "directory",
        "directory_export",
        "employee_profile",
    ],
)
def test_it_refuses_a_post_and_asks_visitors_to_log_in(name, client, org, employee):
    args = [] if name in ("department_tree", "directory", "directory_export") else [org.sales.pk]
    if name == "employee_profile":
        args = [org.employee.pk]
    url = reverse(name, args=args)
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(employee)
    assert client.post(url).status_code == 405


# --- directory ------------------------------------------------------------------------


def test_it_lists_active_colleagues_with_links_to_profiles(client, org, employee):
    EmployeeFactory(department=org.sales, is_active=False, user__full_name="Lena Left")
    client.force_login(employee)
    html = client.get(reverse("directory")).content.decode()
    assert 'id="directory-results"' in html
    assert '<label for="id_q">Search people</label>' in html
    names = [name for _, name in rows(html)]
    assert names == sorted(names) and len(names) == 7
    assert "Lena Left" not in names
    assert 'name="status"' not in html  # leavers are HR's concern


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=petra", {"Petra Peer"}),
        ("?q=OTHER%40example", {"Otto Other"}),
        ("?q=E0006", {"Olga Outsider"}),
        ("?q=nobody-at-all", set()),
    ],
)
def test_it_searches_by_name_email_and_number(query, expected, client, employee):
    client.force_login(employee)
    html = client.get(reverse("directory") + query).content.decode()
    assert {name for _, name in rows(html)} == expected


def test_it_filters_by_department_with_or_without_sub_departments_and_position(
    client, org, employee
):
    client.force_login(employee)
    url = reverse("directory")
    only = client.get(url, {"department": org.sales.pk}).content.decode()
    assert {n for _, n in rows(only)} == {"Mona Manager"}
    subtree = client.get(url, {"department": org.sales.pk, "subdepartments": "on"}).content
    assert {n for _, n in rows(subtree.decode())} == {"Mona Manager", "Emil Employee", "Petra Peer"}
    by_position = client.get(url, {"position": org.position.pk}).content.decode()
    assert {n for _, n in rows(by_position)} == {"Emil Employee", "Petra Peer"}


def _position_options(html: str) -> set[str]:
    select = re.search(r'<select name="position".*?</select>', html, re.S).group(0)
    return set(re.findall(r'<option value="(\d+)"', select))


def test_it_offers_the_positions_of_the_chosen_department_only(client, org, employee):
    """A large company has thousands of positions: the filter lists the chosen
    department's (with its sub-departments' when asked), and keeps one already chosen."""
    elsewhere = PositionFactory(department=org.sales)
    client.force_login(employee)
    url = reverse("directory")
    assert _position_options(client.get(url).content.decode()) == set()
    east = client.get(url, {"department": org.sales_east.pk}).content.decode()
    assert _position_options(east) == {str(org.position.pk)}
    sales = {"department": org.sales.pk}
    assert _position_options(client.get(url, sales).content.decode()) == {str(elsewhere.pk)}
    subtree = client.get(url, {**sales, "subdepartments": "on"}).content.decode()
    assert _position_options(subtree) == {str(elsewhere.pk), str(org.position.pk)}
    chosen = client.get(url, {"position": org.position.pk}).content.decode()
    assert _position_options(chosen) == {str(org.position.pk)}
    assert re.search(rf'<option value="{org.position.pk}" selected>', chosen)


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "１２", "abc"])
def test_it_offers_no_positions_for_an_id_that_cannot_be_one(value, client, employee):
    client.force_login(employee)
    query = {"department": value, "subdepartments": "on", "position": value}
    response = client.get(reverse("directory"), query)
    assert response.status_code == 200
    assert _position_options(response.content.decode()) == set()


def test_it_pages_by_25_and_keeps_the_filters_in_the_page_links(client, org, employee):
    for i in range(30):
        EmployeeFactory(department=org.sales_east, user__full_name=f"Zed {i:02d}")
    client.force_login(employee)
    html = client.get(reverse("directory"), {"q": "zed", "department": org.sales_east.pk}).content
    html = html.decode()
    assert len(rows(html)) == 25
    assert "Page 1 of 2" in html
    next_link = re.search(r'href="(\?[^"]*)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "q=zed" in next_link and f"department={org.sales_east.pk}" in next_link
    assert "page=2" in next_link
    second = client.get(reverse("directory") + next_link).content.decode()
    assert len(rows(second)) == 5


def test_it_says_what_to_do_when_nobody_matches(client, employee):
    client.force_login(employee)
    html = client.get(reverse("directory"), {"q": "zzzz"}).content.decode()
    assert 'class="empty-state"' in html and "Clear filters" in html
    assert 'value="zzzz"' in html


def test_it_answers_live_search_with_only_the_results(client, employee):
    client.force_login(employee)
    headers = {**HTMX, "HTTP_HX_TARGET": "directory-results"}
    html = client.get(reverse("directory"), {"q": "emil"}, **headers).content.decode()
    assert html.lstrip().startswith('<div id="directory-results">')
    assert "<form" not in html
    assert [n for _, n in rows(html)] == ["Emil Employee"]


def test_it_lets_hr_find_people_who_left(client, org, hr_admin, employee):
    EmployeeFactory(department=org.sales, is_active=False, user__full_name="Lena Left")
    client.force_login(hr_admin)
    left = client.get(reverse("directory"), {"status": "left"}).content.decode()
    assert [n for _, n in rows(left)] == ["Lena Left"]
    everyone = client.get(reverse("directory"), {"status": "all"}).content.decode()
    assert len(rows(everyone)) == 8
    # Anyone else asking for leavers still gets the current colleagues only.
    client.force_login(employee)
    html = client.get(reverse("directory"), {"status": "left"}).content.decode()
    assert "Lena Left" not in html and len(rows(html)) == 7


def test_it_shows_an_account_without_a_record_nobody(client, org):
    client.force_login(UserFactory())
    html = client.get(reverse("directory")).content.decode()
    assert rows(html) == [] and 'class="empty-state"' in html


def test_it_keeps_the_directory_queries_constant(client, org, employee, django_assert_num_queries):
    client.force_login(employee)
    url = reverse("directory") + f"?department={org.sales.pk}&subdepartments=on"
    count = same_queries_at_two_sizes(client, url, lambda: grow_org(org), django_assert_num_queries)
    assert count <= 15


# --- CSV export -----------------------------------------------------------------------


def test_it_exports_the_filtered_people_as_csv(client, org, employee):
    client.force_login(employee)
    table = export(client, f"?department={org.sales.pk}&subdepartments=on")
    assert table[0] == ["Name", "E-mail", "Employee number", "Department", "Position", "Manager"]
    assert table[1:] == [
        [
            "Emil Employee",
            "employee@example.com",
            "E0003",
            "Sales East",
            "Account executive",
            "Mona Manager",
        ],
        ["Mona Manager", "manager@example.com", "E0002", "Sales", "", "Cora Chief"],
        [
            "Petra Peer",
            "peer@example.com",
            "E0004",
            "Sales East",
            "Account executive",
            "Mona Manager",
        ],
    ]


def test_it_defuses_spreadsheet_formulas_in_the_export(client, org, employee):
    EmployeeFactory(department=org.sales, user__full_name='=HYPERLINK("http://x")')
    EmployeeFactory(department=org.sales, user__full_name="@SUM(A1)")
    EmployeeFactory(department=org.sales, user__full_name="-2+3")
    client.force_login(employee)
    names = [row[0] for row in export(client, f"?department={org.sales.pk}")[1:]]
    assert '\'=HYPERLINK("http://x")' in names
    assert "'@SUM(A1)" in names and "'-2+3" in names
    assert not any(n[0] in "=+-@" for n in names)


def test_it_exports_only_what_the_viewer_may_see(client, org, employee, hr_admin):
    EmployeeFactory(department=org.sales, is_active=False, user__full_name="Lena Left")
    client.force_login(employee)
    names = {row[0] for row in export(client, "?status=all")[1:]}
    assert "Lena Left" not in names and len(names) == 7
    client.force_login(hr_admin)
    names = {row[0] for row in export(client, "?status=all")[1:]}
    assert "Lena Left" in names
    client.force_login(UserFactory())
    assert export(client) == [export(client)[0]]  # the header only


def test_it_exports_with_a_constant_number_of_queries(
    client, org, employee, django_assert_num_queries
):
    client.force_login(employee)
    with CaptureQueriesContext(connection) as small:
        export(client)
    grow_org(org, 20)
    with django_assert_num_queries(len(small)):
        assert len(export(client)) == 7 + 40 + 1


# --- employee profile -----------------------------------------------------------------


def test_it_shows_a_colleague_only_the_card(client, org, peer):
    client.force_login(peer)
    html = client.get(reverse("employee_profile", args=[org.employee.pk])).content.decode()
    assert "<h1>Emil Employee</h1>" in html
    assert "employee@example.com" in html and "Account executive" in html
    assert "Mona Manager" in html and "Sales East" in html
    assert "Employee record" not in html and "E0003" not in html
    assert "Change history" not in html


def test_it_shows_a_manager_the_full_record_chain_reports_and_history(
    client, org, hr_admin, manager
):
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"department": org.sales, "position": None},
        expected_version=org.employee.version,
        reason="Moved to Sales",
    )
    client.force_login(manager)
    html = client.get(reverse("employee_profile", args=[org.employee.pk])).content.decode()
    assert "Employee record" in html and "E0003" in html and "Jan. 6, 2020" in html
    chain = re.search(r'aria-labelledby="profile-chain".*?</section>', html, re.S).group(0)
    assert re.findall(r'/people/\d+/">([^<]+)</a>', chain) == ["Cora Chief", "Mona Manager"]
    history = re.search(r'aria-labelledby="profile-history".*?</section>', html, re.S).group(0)
    assert "Hana HR" in history and "Moved to Sales" in history
    assert "Department: Sales East → Sales" in history
    assert "Position: Account executive → —" in history
    assert "Edit in the admin" not in html  # a manager does not edit the record


def test_it_shows_a_change_of_name_and_e_mail_in_the_history(client, org, hr_admin, manager):
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"full_name": "Emil Newname", "email": "emil.newname@example.com"},
        expected_version=org.employee.version,
        reason="Married",
    )
    client.force_login(manager)
    html = client.get(reverse("employee_profile", args=[org.employee.pk])).content.decode()
    history = re.search(r'aria-labelledby="profile-history".*?</section>', html, re.S).group(0)
    assert "Married" in history and "Hana HR" in history
    assert "Emil Employee → Emil Newname" in history
    assert "employee@example.com → emil.newname@example.com" in history
    assert "No change to the fields shown" not in history


def test_it_links_hr_to_the_admin_and_lists_direct_reports(client, org, hr_admin):
    hr_admin.is_staff = True
    hr_admin.save()
    client.force_login(hr_admin)
    html = client.get(reverse("employee_profile", args=[org.manager.pk])).content.decode()
    assert reverse("admin:perfcycle_employee_change", args=[org.manager.pk]) in html
    reports = re.search(r'aria-labelledby="profile-reports".*?</section>', html, re.S).group(0)
    assert re.findall(r'/people/\d+/">([^<]+)</a>', reports) == ["Emil Employee", "Petra Peer"]


def test_it_shows_hr_a_leaver_but_hides_them_from_colleagues(client, org, hr_admin, employee):
    leaver = EmployeeFactory(department=org.sales, is_active=False)
    url = reverse("employee_profile", args=[leaver.pk])
    client.force_login(employee)
    assert client.get(url).status_code == 404
    client.force_login(hr_admin)
    assert client.get(url).status_code == 200


def test_it_answers_404_outside_the_directory(client, org):
    client.force_login(UserFactory())
    assert client.get(reverse("employee_profile", args=[org.employee.pk])).status_code == 404


def test_it_keeps_the_profile_queries_constant(client, org, hr_admin, django_assert_num_queries):
    def grow():
        grow_org(org)
        for i in range(25):
            services.employee_update(
                actor=hr_admin,
                employee=fresh_employee(org),
                data={"hire_date": f"2021-01-{i + 1:02d}"},
                expected_version=None,
                reason=f"Fix {i}",
            )
        # The latest change again names a department and a position, as at the small size.
        other = DepartmentFactory(parent=org.sales)
        services.employee_update(
            actor=hr_admin,
            employee=fresh_employee(org),
            data={"department": other, "position": PositionFactory(department=other)},
            expected_version=None,
        )

    client.force_login(hr_admin)
    url = reverse("employee_profile", args=[org.employee.pk])
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"department": org.sales, "position": None},
        expected_version=None,
    )
    fresh(hr_admin)
    same_queries_at_two_sizes(client, url, grow, django_assert_num_queries)


def fresh_employee(org):
    org.employee.refresh_from_db()
    return org.employee


def test_it_cuts_an_over_long_search_instead_of_listing_everyone(client, org, employee):
    client.force_login(employee)

    def found(q):
        html = client.get(reverse("directory"), {"q": q}).content.decode()
        results = re.search(r'id="directory-results".*', html, re.S).group(0)
        return set(re.findall(r'/people/\d+/">([^<]+)</a>', results))

    assert found("Petra" + "x" * 200) == set()
    assert found("Petra" + " " * 200) == {"Petra Peer"}
