"""Calibration pages: a cycle's sessions, a session's grid (filters, distribution against
the guideline, moves, the adjustments log, the panel, closing) and releasing results.

The Sales session holds Mona Manager (Sales), Emil Employee and Petra Peer (Sales East),
all ready for calibration at "3 – Meets expectations"; Otto Other (Engineering) sits on
the panel through an object permission, Mona does not.
"""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appraisals import calibration_grid as grid
from appraisals import reports, services
from appraisals.models import Appraisal, CalibrationAdjustment, CalibrationSession
from perfcycle.models import Cycle, RatingLevel
from tests.factories import EmployeeFactory

from .conftest import at_phase, launch

P = Cycle.Status
A = Appraisal.Stage
HTMX = {"HTTP_HX_REQUEST": "true"}
PERMISSION = "appraisals.calibrate_session"


def level(cycle, value) -> RatingLevel:
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def make_ready(cycle, appraisals, value=3, score="90"):
    appraisals.update(
        stage=A.READY, manager_level=level(cycle, value), overall_score=Decimal(score)
    )


@pytest.fixture
def panelist(org):
    """Otto Other: heads Engineering, nowhere near Sales; on the panel by permission."""
    return org.other_manager.user


@pytest.fixture
def session(org, hr_admin, appraisal_cycle, panelist):
    cycle = at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    make_ready(cycle, Appraisal.objects.filter(cycle=cycle))
    opened = services.calibration_session_open(
        actor=hr_admin,
        cycle=cycle,
        name="Sales division",
        departments=[org.sales],
        participants=[panelist],
    )
    at_phase(cycle, P.CALIBRATION)
    opened.refresh_from_db()
    return opened


def appraisal_of(session, employee) -> Appraisal:
    return Appraisal.objects.get(cycle=session.cycle, employee=employee)


def session_url(session, **query):
    url = reverse("appraisals:session", args=[session.pk])
    if query:
        from urllib.parse import urlencode

        url += "?" + urlencode(query)
    return url


def move_url(session, appraisal, query=""):
    url = reverse("appraisals:session_move", args=[session.pk, appraisal.pk])
    return url + (f"?{query}" if query else "")


def grid_names(html) -> list[str]:
    """The people in the grid's rows, in order."""
    body = re.search(r'<table class="table calibration-grid">.*?</table>', html, re.S)
    if body is None:
        return []
    return re.findall(r'<th scope="row">\s*([^<]+?) <span class="muted">', body.group(0))


DISTRIBUTION = r'<table class="table calibration-distribution-table">.*?</table>'
PANEL_SEARCH = {**HTMX, "HTTP_HX_TARGET": "panel-matches"}


def picker(html) -> dict[int, bool]:
    """The people the panel picker lists, in order: {user pk: ticked}."""
    found = re.findall(
        r'<input type="checkbox" name="participants" value="(\d+)" '
        r'id="participant-\d+"( checked)?>',
        html,
    )
    return {int(pk): bool(checked) for pk, checked in found}


def distribution_rows(html) -> dict[str, str]:
    """Each level's row of the distribution table: {level label: the row's text}."""
    table = re.search(DISTRIBUTION, html, re.S)
    rows = {}
    for row in re.findall(r"<tr class=\"calibration-level-\w+\">(.*?)</tr>", table.group(0), re.S):
        label = re.search(r'<th scope="row">([^<]+)</th>', row).group(1)
        rows[label.split("– ")[-1]] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
    return rows


# --- the cycle's sessions ------------------------------------------------------------------


def test_it_lists_the_sessions_with_their_size_and_what_is_left_outside(
    client, org, hr_admin, session
):
    Appraisal.objects.filter(cycle=session.cycle, employee=org.outsider).update(stage=A.READY)
    client.force_login(hr_admin)
    response = client.get(reverse("appraisals:calibration", args=[session.cycle.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{session_url(session)}">Sales division</a>' in html
    assert '<span class="badge badge-info">Open</span>' in html
    row = re.search(r"<tr>\s*<td><a href=\"/appraisals/calibration/.*?</tr>", html, re.S).group(0)
    assert "Sales" in row and '<td class="num">3</td>' in row
    # Everyone else was made ready too: Cora, Otto, Olga and Hana are in no session.
    assert "4 appraisals ready" in html
    assert 'name="departments"' in html and 'name="panel_q"' in html
    # The panel is found by a search: without one, no candidate is listed.
    assert picker(html) == {}
    assert f'href="{reverse("appraisals:release", args=[session.cycle.pk])}"' in html


def test_it_opens_a_session_with_its_panel(client, org, hr_admin, appraisal_cycle, panelist):
    cycle = at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    make_ready(cycle, Appraisal.objects.filter(cycle=cycle))
    client.force_login(hr_admin)
    response = client.post(
        reverse("appraisals:calibration", args=[cycle.pk]),
        {
            "name": "Engineering",
            "departments": [org.engineering.pk],
            "participants": [panelist.pk, org.manager.user.pk],
        },
    )
    created = CalibrationSession.objects.get(cycle=cycle, name="Engineering")
    assert response.status_code == 302 and response.url == session_url(created)
    assert set(created.appraisals.values_list("employee", flat=True)) == {
        org.other_manager.pk,
        org.outsider.pk,
    }
    assert panelist.has_perm(PERMISSION, created)
    assert org.manager.user.has_perm(PERMISSION, created)
    follow = client.get(response.url)
    assert "Session Engineering opened with 2 appraisals." in follow.content.decode()


def test_it_keeps_the_open_form_with_its_errors(client, org, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    url = reverse("appraisals:calibration", args=[appraisal_cycle.pk])
    response = client.post(url, {"name": "Sales"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="error-summary"' in html and "This field is required." in html
    assert 'value="Sales"' in html  # nothing lost
    # The cycle is still in goal setting: the service's message is shown at the top.
    response = client.post(url, {"name": "Sales", "departments": [org.sales.pk]})
    assert response.status_code == 400
    assert "Opening a calibration session is not possible while the cycle is in goal setting" in (
        response.content.decode()
    )
    assert not CalibrationSession.objects.exists()


def test_a_panel_member_sees_their_sessions_and_cannot_open_one(
    client, org, session, panelist, employee
):
    url = reverse("appraisals:calibration", args=[session.cycle.pk])
    client.force_login(panelist)
    html = client.get(url).content.decode()
    assert "Sales division" in html
    assert 'name="participants"' not in html and "ready for calibration" not in html
    assert 'name="panel_q"' not in html
    assert client.post(url, {"name": "Mine", "departments": [org.sales.pk]}).status_code == 403
    client.force_login(employee)
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "Mine"}).status_code == 403


def test_the_sessions_page_refuses_other_methods(client, hr_admin, session):
    client.force_login(hr_admin)
    url = reverse("appraisals:calibration", args=[session.cycle.pk])
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405


def test_the_open_form_finds_its_panel_by_a_search(client, org, hr_admin, appraisal_cycle):
    cycle = at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    make_ready(cycle, Appraisal.objects.filter(cycle=cycle))
    url = reverse("appraisals:calibration", args=[cycle.pk])
    client.force_login(hr_admin)
    # Without JavaScript, "Find" reloads the page with the search.
    html = client.get(url, {"panel_q": "mona"}).content.decode()
    assert picker(html) == {org.manager.user.pk: False}
    assert 'value="mona"' in html and "1 person found" in html
    assert f'<form id="panel-find" method="get" action="{url}#open"' in html
    # Through HTMX, the matches only; the people ticked so far stay ticked.
    response = client.get(
        url, {"panel_q": "example.com", "participants": [org.manager.user.pk]}, **PANEL_SEARCH
    )
    fragment = response.content.decode()
    assert response.status_code == 200 and "<html" not in fragment
    assert picker(fragment) == {
        org.manager.user.pk: True,
        org.ceo.user.pk: False,
        org.hr.user.pk: False,
        org.other_manager.user.pk: False,
    }
    # A form sent back with an error keeps who was ticked, and only them.
    response = client.post(url, {"name": "", "participants": [org.manager.user.pk]})
    assert response.status_code == 400
    assert picker(response.content.decode()) == {org.manager.user.pk: True}


def test_only_hr_searches_for_the_open_form(client, org, session, panelist, employee):
    url = reverse("appraisals:calibration", args=[session.cycle.pk])
    client.force_login(panelist)
    assert client.get(url, {"panel_q": "mona"}, **PANEL_SEARCH).status_code == 403
    assert picker(client.get(url, {"panel_q": "mona"}).content.decode()) == {}
    client.force_login(employee)
    assert client.get(url, {"panel_q": "mona"}, **PANEL_SEARCH).status_code == 403


# --- the session grid ----------------------------------------------------------------------


def test_hr_sees_everyone_in_scope_with_scores_ratings_and_manager(client, org, hr_admin, session):
    Appraisal.objects.filter(pk=appraisal_of(session, org.employee).pk).update(
        computed_level=level(session.cycle, 4), overall_score=Decimal("101.5")
    )
    client.force_login(hr_admin)
    response = client.get(session_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert grid_names(html) == ["Emil Employee", "Mona Manager", "Petra Peer"]
    row = re.search(r'<tr id="row-\d+" class="">\s*<th scope="row">\s*Emil.*?</tr>', html, re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    assert "Sales East" in text and "Mona Manager" in text and "101.5" in text
    assert "4 – Exceeds expectations" in text and "3 – Meets expectations" in text
    assert "Not moved" in text
    assert 'name="reason"' in row.group(0)  # HR may move
    assert 'action="/appraisals/calibration/' in html and "Close and make the ratings final" in html


def test_a_participant_sees_the_session_and_moves_a_rating(client, org, session, panelist):
    employee = appraisal_of(session, org.employee)
    client.force_login(panelist)
    html = client.get(session_url(session)).content.decode()
    assert grid_names(html) == ["Emil Employee", "Mona Manager", "Petra Peer"]
    assert "Close and make the ratings final" not in html  # HR closes
    assert 'name="participants"' not in html
    query = f"department={org.sales_east.pk}&sort=name"
    response = client.post(
        move_url(session, employee, query),
        {"to_level": level(session.cycle, 2).pk, "reason": "Missed two quarters", "version": 1},
    )
    assert response.status_code == 302
    assert response.url == session_url(session) + f"?{query}#row-{employee.pk}"
    move = CalibrationAdjustment.objects.get()
    assert (move.from_level.value, move.to_level.value) == (3, 2)
    assert move.actor == panelist and move.reason == "Missed two quarters"
    employee.refresh_from_db()
    assert employee.calibrated_level.value == 2
    html = client.get(response.url).content.decode()
    assert "Emil Employee moved to 2 – Needs improvement." in html
    assert grid_names(html) == ["Emil Employee", "Petra Peer"]  # the filter stayed
    assert 'class="calibration-moved"' in html and ">Moved</span>" in html
    log = re.search(r'<section class="card calibration-log".*?</section>', html, re.S).group(0)
    assert "Missed two quarters" in log and "Otto Other" in log
    assert "3 – Meets expectations" in log and "2 – Needs improvement" in log


def test_htmx_move_returns_the_row_and_the_refreshed_distribution(client, org, session, hr_admin):
    employee = appraisal_of(session, org.employee)
    client.force_login(hr_admin)
    response = client.post(
        move_url(session, employee),
        {"to_level": level(session.cycle, 5).pk, "reason": "Best year on record", "version": 1},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith(f'<tr id="row-{employee.pk}" class="calibration-moved">')
    assert "Emil Employee moved to 5 – Outstanding." in html
    assert (
        'id="calibration-distribution" aria-labelledby="distribution-heading" hx-swap-oob="true"'
        in (html)
    )
    assert 'id="calibration-log" aria-labelledby="log-heading" hx-swap-oob="true"' in html
    rows = distribution_rows(html)
    assert rows["Outstanding"].startswith("5 – Outstanding 1 ")
    assert rows["Meets expectations"].startswith("3 – Meets expectations 2 ")


def test_a_move_without_a_reason_shows_the_error_and_changes_nothing(
    client, org, session, panelist
):
    employee = appraisal_of(session, org.employee)
    client.force_login(panelist)
    wanted = level(session.cycle, 2)
    response = client.post(
        move_url(session, employee), {"to_level": wanted.pk, "reason": "  ", "version": 1}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Emil Employee was not moved:" in html
    assert "Give the reason; it is kept in the history." in html
    assert f'id="move-{employee.pk}-reason-error"' in html
    # The chosen level is kept on the form.
    assert f'<option value="{wanted.pk}" selected>' in html
    employee.refresh_from_db()
    assert employee.calibrated_level is None and employee.version == 1
    assert not CalibrationAdjustment.objects.exists()
    # Through HTMX, the row comes back with its error (HTMX swaps only a 200).
    response = client.post(
        move_url(session, employee), {"to_level": wanted.pk, "version": 1}, **HTMX
    )
    assert response.status_code == 200
    assert "Give the reason; it is kept in the history." in response.content.decode()
    assert not CalibrationAdjustment.objects.exists()


def test_a_move_to_the_same_rating_or_a_stale_one_is_refused(client, org, session, hr_admin):
    employee = appraisal_of(session, org.employee)
    client.force_login(hr_admin)
    same = client.post(
        move_url(session, employee),
        {"to_level": level(session.cycle, 3).pk, "reason": "No change", "version": 1},
    )
    assert same.status_code == 400
    assert "Emil Employee is already at 3 – Meets expectations." in same.content.decode()
    stale = client.post(
        move_url(session, employee),
        {"to_level": level(session.cycle, 4).pk, "reason": "Late", "version": 99},
    )
    assert stale.status_code == 409
    assert "Someone else changed Emil Employee" in stale.content.decode()
    assert not CalibrationAdjustment.objects.exists()


def test_a_manager_not_on_the_panel_and_an_employee_get_404(
    client, org, session, manager, employee
):
    target = appraisal_of(session, org.peer)
    for user in (manager, employee):
        client.force_login(user)
        assert client.get(session_url(session)).status_code == 404
        response = client.post(
            move_url(session, target), {"to_level": level(session.cycle, 1).pk, "reason": "x"}
        )
        assert response.status_code == 404
        assert (
            client.post(reverse("appraisals:session_close", args=[session.pk])).status_code == 404
        )
        export = reverse("appraisals:session_export", args=[session.pk])
        assert client.get(export).status_code == 404
    assert not CalibrationAdjustment.objects.exists()


def test_a_panel_member_does_not_see_or_move_their_own_rating(
    client, org, hr_admin, session, manager
):
    own = appraisal_of(session, org.manager)
    services.calibration_move(
        actor=hr_admin,
        session=session,
        appraisal=own,
        to_level=level(session.cycle, 5),
        reason="Secret reason about Mona",
    )
    services.calibration_session_set_participants(
        actor=hr_admin, session=session, participants=[manager]
    )
    client.force_login(manager)
    html = client.get(session_url(session)).content.decode()
    assert grid_names(html) == ["Emil Employee", "Petra Peer"]
    assert "Your own appraisal is in this session." in html
    assert "Secret reason about Mona" not in html
    assert distribution_rows(html)["Outstanding"].startswith("5 – Outstanding 0 ")
    assert grid_names(client.get(session_url(session, q="Mona")).content.decode()) == []
    response = client.post(
        move_url(session, own), {"to_level": level(session.cycle, 4).pk, "reason": "Me"}
    )
    assert response.status_code == 404
    export = client.get(reverse("appraisals:session_export", args=[session.pk]))
    lines = csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")))
    assert [row[0] for row in lines] == ["Person", "Emil Employee", "Petra Peer"]
    # HR sees the row (Hana's own appraisal is not in this session).
    client.force_login(hr_admin)
    html = client.get(session_url(session)).content.decode()
    assert "Mona Manager" in grid_names(html) and "Secret reason about Mona" in html
    assert "Your own appraisal is in this session." not in html


def test_a_person_outside_the_session_cannot_be_moved(client, org, session, hr_admin):
    outside = Appraisal.objects.get(cycle=session.cycle, employee=org.outsider)
    client.force_login(hr_admin)
    response = client.post(
        move_url(session, outside), {"to_level": level(session.cycle, 1).pk, "reason": "x"}
    )
    assert response.status_code == 404


def test_the_session_pages_refuse_other_methods(client, org, session, hr_admin):
    client.force_login(hr_admin)
    employee = appraisal_of(session, org.employee)
    assert client.post(session_url(session)).status_code == 405
    assert client.get(move_url(session, employee)).status_code == 405
    assert client.get(reverse("appraisals:session_close", args=[session.pk])).status_code == 405
    participants = reverse("appraisals:session_participants", args=[session.pk])
    assert client.get(participants).status_code == 405
    export = reverse("appraisals:session_export", args=[session.pk])
    assert client.post(export).status_code == 405


def test_it_filters_by_department_manager_rating_and_name(client, org, session, hr_admin):
    cycle = session.cycle
    Appraisal.objects.filter(pk=appraisal_of(session, org.peer).pk).update(
        manager_level=level(cycle, 4)
    )
    client.force_login(hr_admin)

    def names(**query):
        return grid_names(client.get(session_url(session, **query)).content.decode())

    assert names(department=org.sales_east.pk) == ["Emil Employee", "Petra Peer"]
    assert names(department=org.sales.pk) == ["Emil Employee", "Mona Manager", "Petra Peer"]
    assert names(reviewer="cora") == ["Mona Manager"]
    assert names(reviewer=org.manager.employee_number) == ["Emil Employee", "Petra Peer"]
    assert names(reviewer="nobody") == []
    assert names(level=level(cycle, 4).pk) == ["Petra Peer"]
    assert names(q="emil") == ["Emil Employee"]
    assert names(q=org.peer.employee_number) == ["Petra Peer"]
    assert names(q="nobody") == []
    assert names(department=999999) == ["Emil Employee", "Mona Manager", "Petra Peer"]
    services.calibration_move(
        actor=hr_admin,
        session=session,
        appraisal=appraisal_of(session, org.manager),
        to_level=level(cycle, 2),
        reason="Sales missed plan",
    )
    assert names(moved="on") == ["Mona Manager"]
    assert names(level=level(cycle, 2).pk) == ["Mona Manager"]
    html = client.get(session_url(session, q="nobody")).content.decode()
    assert "Nobody matches." in html
    # The HTMX request gets the results only.
    partial = client.get(session_url(session, q="petra"), **HTMX).content.decode()
    assert partial.strip().startswith('<div id="calibration-results">')
    assert grid_names(partial) == ["Petra Peer"]


def test_the_distribution_flags_over_and_under_filled_levels_in_words(
    client, org, session, hr_admin
):
    client.force_login(hr_admin)
    html = client.get(session_url(session)).content.decode()
    rows = distribution_rows(html)
    # Guideline 10/20/40/20/10, tolerance 5; all three people are at 3.
    assert rows["Meets expectations"] == (
        "3 – Meets expectations 3 100.0% 40% Over-filled by 60.0 points"
    )
    assert rows["Needs improvement"] == (
        "2 – Needs improvement 0 0.0% 20% Under-filled by 20.0 points"
    )
    assert rows["Exceeds expectations"].endswith("Under-filled by 20.0 points")
    assert rows["Unsatisfactory"].endswith("Under-filled by 10.0 points")
    assert 'class="calibration-level-over"' in html and 'class="calibration-level-under"' in html
    assert "A level more than 5 percentage points from its guideline share is flagged." in html


def test_the_distribution_counts_the_rating_as_it_stands(org, session, hr_admin):
    cycle = session.cycle
    levels = list(cycle.rating_scale.levels.order_by("value"))
    Appraisal.objects.filter(pk=appraisal_of(session, org.peer).pk).update(
        calibrated_level=level(cycle, 1)
    )
    Appraisal.objects.filter(pk=appraisal_of(session, org.manager).pk).update(manager_level=None)
    found = grid.rating_distribution(
        grid.session_appraisals(session),
        levels=levels,
        guideline={"1": 50, "3": 50},
        tolerance=0,
    )
    assert (found.rated, found.unrated) == (2, 1)
    by_value = {share.level.value: share for share in found.rows}
    assert by_value[1].count == 1 and by_value[1].percent == Decimal("50.0")
    assert by_value[1].status == reports.OK and by_value[3].status == reports.OK
    assert by_value[2].guideline is None and not found.off
    tight = grid.rating_distribution(
        grid.session_appraisals(session), levels=levels, guideline={"1": 20, "3": 80}, tolerance=5
    )
    assert [(share.level.value, share.status) for share in tight.off] == [
        (1, reports.OVER),
        (3, reports.UNDER),
    ]
    no_guideline = grid.rating_distribution(
        grid.session_appraisals(session), levels=levels, guideline={}, tolerance=5
    )
    assert not no_guideline.has_guideline and not no_guideline.off


def test_it_says_when_moves_must_wait_for_the_calibration_phase(client, session, hr_admin):
    at_phase(session.cycle, P.MANAGER_REVIEW)
    client.force_login(hr_admin)
    html = client.get(session_url(session)).content.decode()
    assert "Ratings can be moved once the cycle is in calibration" in html
    assert 'name="reason"' not in html


def test_hr_changes_the_panel(client, org, session, hr_admin, panelist, manager):
    url = reverse("appraisals:session_participants", args=[session.pk])
    client.force_login(hr_admin)
    html = client.get(session_url(session)).content.decode()
    panel = re.search(
        r'<section class="card" aria-labelledby="panel-heading".*?</section>', html, re.S
    )
    assert "Otto Other" in panel.group(0)
    assert picker(panel.group(0)) == {panelist.pk: True}
    response = client.post(url, {"participants": [manager.pk]})
    assert response.status_code == 302
    assert manager.has_perm(PERMISSION, session)
    assert not type(panelist).objects.get(pk=panelist.pk).has_perm(PERMISSION, session)
    response = client.post(url, {"participants": ["999999"]})
    assert response.status_code == 400
    assert 'class="error-summary"' in response.content.decode()
    client.force_login(manager)  # now on the panel, but not HR
    assert client.post(url, {"participants": []}).status_code == 403


def test_the_panel_form_lists_the_panel_not_every_candidate(client, org, session, hr_admin):
    client.force_login(hr_admin)
    html = client.get(session_url(session)).content.decode()
    # Cora, Mona and Hana may sit on a panel too; only a search lists them.
    assert picker(html) == {org.other_manager.user.pk: True}
    assert 'name="panel_q"' in html and "Find a manager or HR partner" in html
    # "Find" is a GET of this page (its own form: searching never posts the panel).
    assert f'<form id="panel-find" method="get" action="{session_url(session)}#panel"' in html
    assert 'form="panel-find"' in html


def test_a_panel_search_lists_matching_candidates_only(client, org, session, hr_admin):
    client.force_login(hr_admin)

    def found(q, **extra):
        html = client.get(session_url(session, panel_q=q), **extra).content.decode()
        return picker(html), html

    otto = org.other_manager.user.pk
    # By name, e-mail address or employee number; Otto is on the panel already.
    assert found("mona")[0] == {otto: True, org.manager.user.pk: False}
    assert found("ceo@")[0] == {otto: True, org.ceo.user.pk: False}
    assert found("E0007")[0] == {otto: True, org.hr.user.pk: False}
    # Everyone's address has example.com: the managers and HR, by name, not Emil,
    # Petra or Olga, who manage nobody.
    people, _ = found("example.com")
    assert list(people) == [otto, org.ceo.user.pk, org.hr.user.pk, org.manager.user.pk]
    people, html = found("olga")
    assert people == {otto: True}
    assert "Nobody matches." in html and "Only managers, HR business partners" in html
    # Through HTMX, the matches only.
    people, fragment = found("mona", **PANEL_SEARCH)
    assert "<html" not in fragment and "calibration-grid" not in fragment
    assert people == {org.manager.user.pk: False}


def test_a_panel_search_stops_at_the_limit(client, org, session, hr_admin):
    for number in range(grid.PANEL_MATCHES + 2):
        lead = EmployeeFactory(department=org.sales, user__full_name=f"Zed Lead {number:02d}")
        EmployeeFactory(department=org.sales, manager=lead, user__full_name=f"Zed Report {number}")
    client.force_login(hr_admin)
    html = client.get(session_url(session, panel_q="zed")).content.decode()
    found = [pk for pk, ticked in picker(html).items() if not ticked]
    names = dict(type(hr_admin).objects.filter(pk__in=found).values_list("pk", "full_name"))
    # By name, the first 20: neither the two last leads nor their reports.
    assert [names[pk] for pk in found] == [
        f"Zed Lead {number:02d}" for number in range(grid.PANEL_MATCHES)
    ]
    assert "Only the first 20 matches by name are shown" in html


def test_only_who_runs_the_cycle_searches_for_the_panel(
    client, org, hr_admin, session, panelist, employee
):
    client.force_login(panelist)
    response = client.get(session_url(session, panel_q="mona"))
    assert response.status_code == 200 and picker(response.content.decode()) == {}
    assert client.get(session_url(session, panel_q="mona"), **PANEL_SEARCH).status_code == 403
    client.force_login(employee)
    assert client.get(session_url(session, panel_q="mona"), **PANEL_SEARCH).status_code == 404
    # Nobody changes the panel of a closed session.
    services.calibration_session_close(actor=hr_admin, session=session)
    client.force_login(hr_admin)
    assert client.get(session_url(session, panel_q="mona"), **PANEL_SEARCH).status_code == 403
    assert picker(client.get(session_url(session, panel_q="mona")).content.decode()) == {}


def test_a_searched_candidate_is_added_to_the_panel(client, org, session, hr_admin, panelist):
    cora = org.ceo.user
    client.force_login(hr_admin)
    html = client.get(session_url(session, panel_q="cora")).content.decode()
    assert picker(html) == {panelist.pk: True, cora.pk: False}
    url = reverse("appraisals:session_participants", args=[session.pk])
    response = client.post(url, {"participants": [panelist.pk, cora.pk]})
    assert response.status_code == 302
    assert {user.pk for user in grid.panel_of(session)} == {panelist.pk, cora.pk}
    html = client.get(session_url(session)).content.decode()
    assert picker(html) == {cora.pk: True, panelist.pk: True}


def test_a_refused_panel_comes_back_as_it_was_ticked(client, org, session, hr_admin, panelist):
    """Otto untaken, Cora ticked from a search, and someone who may not sit on a panel."""
    client.force_login(hr_admin)
    url = reverse("appraisals:session_participants", args=[session.pk])
    response = client.post(url, {"participants": [org.ceo.user.pk, org.employee.user.pk]})
    assert response.status_code == 400
    html = response.content.decode()
    assert f"Select a valid choice. {org.employee.user.pk} is not one of the" in html
    assert picker(html) == {panelist.pk: False, org.ceo.user.pk: True}
    assert [user.pk for user in grid.panel_of(session)] == [panelist.pk]


@pytest.mark.parametrize("panel_q", ["", "lead"])
def test_the_session_page_queries_do_not_grow_with_the_candidates(
    panel_q, client, org, session, hr_admin
):
    """Cora, Mona and Otto manage; then 30 more do."""

    def add_managers(count):
        for number in range(count):
            lead = EmployeeFactory(department=org.sales, user__full_name=f"Lead {number:02d}")
            EmployeeFactory(department=org.sales, manager=lead)

    client.force_login(hr_admin)
    url = session_url(session, panel_q=panel_q)
    with CaptureQueriesContext(connection) as few:
        small = client.get(url).content.decode()
    add_managers(27)
    with CaptureQueriesContext(connection) as many:
        large = client.get(url).content.decode()
    assert len(many) == len(few)
    assert len(picker(large)) <= 1 + grid.PANEL_MATCHES
    if not panel_q:
        assert picker(large) == picker(small) == {org.other_manager.user.pk: True}


def test_closing_makes_the_ratings_final_and_names_who_is_not_ready(client, org, session, hr_admin):
    cycle = session.cycle
    peer = appraisal_of(session, org.peer)
    Appraisal.objects.filter(pk=peer.pk).update(stage=A.MANAGER_REVIEW, manager_level=None)
    employee = appraisal_of(session, org.employee)
    services.calibration_move(
        actor=hr_admin,
        session=session,
        appraisal=employee,
        to_level=level(cycle, 2),
        reason="Below plan",
    )
    client.force_login(hr_admin)
    response = client.post(
        reverse("appraisals:session_close", args=[session.pk]),
        {"version": session.version},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The session is closed: 2 ratings are final." in html
    assert "1 person&#x27;s manager review was not in" in html and "Petra Peer" in html
    employee.refresh_from_db()
    assert (employee.stage, employee.final_level.value) == (A.FINAL, 2)
    manager_appraisal = appraisal_of(session, org.manager)
    assert manager_appraisal.final_level.value == 3
    peer.refresh_from_db()
    assert peer.stage == A.MANAGER_REVIEW and peer.final_level is None
    session.refresh_from_db()
    assert session.status == CalibrationSession.Status.CLOSED
    assert "The session is closed: the ratings below are final." in html
    assert 'name="reason"' not in html and "Close and make the ratings final" not in html
    # Closing again is refused with the reason.
    again = client.post(reverse("appraisals:session_close", args=[session.pk]))
    assert again.status_code == 400
    assert "The session is already closed." in again.content.decode()


def test_a_stale_close_is_refused(client, session, hr_admin):
    client.force_login(hr_admin)
    response = client.post(
        reverse("appraisals:session_close", args=[session.pk]),
        {"version": 99},
    )
    assert response.status_code == 409
    session.refresh_from_db()
    assert session.status == CalibrationSession.Status.OPEN


def test_a_panel_member_cannot_close(client, session, panelist):
    client.force_login(panelist)
    response = client.post(reverse("appraisals:session_close", args=[session.pk]))
    assert response.status_code == 403


def test_it_exports_the_filtered_grid(client, org, session, panelist):
    client.force_login(panelist)
    response = client.get(
        reverse("appraisals:session_export", args=[session.pk]),
        {"department": org.sales_east.pk},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["Person", "Employee number"]
    assert [r[0] for r in rows[1:]] == ["Emil Employee", "Petra Peer"]
    assert rows[1][6] == "3 – Meets expectations"


@pytest.mark.parametrize("persona", ["hr_admin", "panelist"])
def test_the_session_page_queries_do_not_grow_with_the_session(
    persona, request, client, org, hr_admin, session, django_assert_num_queries
):
    cycle = session.cycle

    def add(count):
        for _ in range(count):
            EmployeeFactory(department=org.sales_east, manager=org.manager)
        at_phase(cycle, P.GOAL_SETTING)
        launch(cycle, hr_admin)
        at_phase(cycle, P.CALIBRATION)
        fresh = Appraisal.objects.filter(cycle=cycle, session__isnull=True, stage=A.SELF_REVIEW)
        fresh.filter(department=org.sales_east).update(session=session)
        make_ready(cycle, Appraisal.objects.filter(session=session), value=4)

    add(17)
    assert Appraisal.objects.filter(session=session).count() == 20
    # A move or two, so the log has rows.
    for appraisal in Appraisal.objects.filter(session=session)[:3]:
        services.calibration_move(
            actor=hr_admin,
            session=session,
            appraisal=appraisal,
            to_level=level(cycle, 2),
            reason="Calibrated",
        )
    client.force_login(request.getfixturevalue(persona))
    url = session_url(session, department=org.sales.pk, sort="-score")
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    add(180)
    assert Appraisal.objects.filter(session=session).count() == 200
    with django_assert_num_queries(len(small)):
        response = client.get(url)
        assert response.status_code == 200
    assert len(grid_names(response.content.decode())) == 50  # paged
    assert "Page 1 of 4" in response.content.decode()


# --- release ---------------------------------------------------------------------------------


@pytest.fixture
def finalised(org, hr_admin, session):
    services.calibration_session_close(actor=hr_admin, session=session)
    return at_phase(session.cycle, P.FEEDBACK)


def test_the_release_page_counts_per_department(client, org, hr_admin, finalised):
    client.force_login(hr_admin)
    response = client.get(reverse("appraisals:release", args=[finalised.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    rows = {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row, name in re.findall(
            r'(<tr>\s*<th scope="row" class="calibration-depth-\d">'
            r".*?<label [^>]+>([^<]+)</label>.*?</tr>)",
            html,
            re.S,
        )
    }
    # Released / final, not released / not final; counts include sub-departments.
    assert rows["Sales East"].endswith("0 2 0")
    assert rows["Sales"].endswith("0 3 0")
    assert rows["Engineering"].endswith("0 0 2")
    assert rows["Headquarters"].endswith("0 3 4")
    assert "Results are released in the feedback phase" not in html


def test_release_by_department_releases_only_that_subtree(client, org, hr_admin, finalised):
    client.force_login(hr_admin)
    url = reverse("appraisals:release", args=[finalised.pk])
    response = client.post(url, {"scope": "selected", "departments": [org.sales_east.pk]})
    assert response.status_code == 302
    released = set(
        Appraisal.objects.filter(cycle=finalised, released_at__isnull=False).values_list(
            "employee", flat=True
        )
    )
    assert released == {org.employee.pk, org.peer.pk}
    html = client.get(url).content.decode()
    assert "2 results were released to the employees." in html
    response = client.post(url, {"scope": "all"})
    assert response.status_code == 302
    assert Appraisal.objects.get(cycle=finalised, employee=org.manager).released_at is not None


def test_release_asks_for_departments_and_explains_the_wrong_phase(client, org, hr_admin, session):
    client.force_login(hr_admin)
    url = reverse("appraisals:release", args=[session.cycle.pk])
    response = client.post(url, {"scope": "selected"})
    assert response.status_code == 400
    assert "Choose the departments to release." in response.content.decode()
    html = client.get(url).content.decode()
    assert "Results are released in the feedback phase" in html
    response = client.post(url, {"scope": "selected", "departments": [org.sales.pk]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was released:" in html
    assert "Releasing results is not possible while the cycle is in calibration" in html
    assert f'value="{org.sales.pk}" id="release-{org.sales.pk}" checked' in html
    assert not Appraisal.objects.filter(released_at__isnull=False).exists()


def test_only_hr_releases(client, org, finalised, panelist, manager, executive):
    url = reverse("appraisals:release", args=[finalised.pk])
    for user in (panelist, manager, executive):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"scope": "all"}).status_code == 403
    assert not Appraisal.objects.filter(released_at__isnull=False).exists()


def test_the_release_page_refuses_other_methods(client, hr_admin, finalised):
    client.force_login(hr_admin)
    url = reverse("appraisals:release", args=[finalised.pk])
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405


def test_a_move_posted_without_a_version_is_refused_as_out_of_date(client, org, session, hr_admin):
    employee = appraisal_of(session, org.employee)
    client.force_login(hr_admin)
    response = client.post(
        move_url(session, employee), {"to_level": level(session.cycle, 2).pk, "reason": "Late"}
    )
    assert response.status_code == 400
    assert "This page is out of date" in response.content.decode()
    employee.refresh_from_db()
    assert employee.calibrated_level is None
