"""The HR administrator's cycle pages: the cycles, a new cycle, its settings, the cycle
page (launch with its progress, advancing the phase), and the cycle's appraisals with
their row actions (another reviewer, withdraw, add a late joiner)."""

import csv
import datetime
import io
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from appraisals import services
from appraisals.models import Appraisal, CycleLaunch, CycleSettings
from perfcycle import access
from perfcycle.models import Cycle
from tests.conftest import fresh
from tests.factories import CycleFactory, EmployeeFactory, UserFactory

from .conftest import GUIDELINE, at_phase, launch

P = Cycle.Status
A = Appraisal.Stage
HX = {"HTTP_HX_REQUEST": "true"}


def url(name, *args):
    return reverse(f"appraisals:{name}", args=args)


def text(response) -> str:
    """The page's text with tags and runs of white space removed, for sentence checks."""
    html = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(html))


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


@pytest.fixture
def partner(org):
    """An HR business partner for Sales (and Sales East below it)."""
    user = UserFactory(full_name="Pia Partner")
    assign_perm(access.PARTNER_PERMISSION, user, org.sales)
    return fresh(user)


@pytest.fixture
def draft(org, hr_admin):
    """A draft cycle, KPI results only (no competencies needed to launch)."""
    cycle = CycleFactory(
        name="FY2027",
        status=P.DRAFT,
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={"kpi_weight": 100, "competency_weight": 0},
        expected_version=None,
    )
    return cycle


def settings_post(cycle, competencies=None, **overrides) -> dict:
    """A complete settings form as the page would send it."""
    settings = services.settings_for(cycle)
    data = {
        "version": settings.version,
        "kpi_weight": 70,
        "competency_weight": 30,
        "manager_goal_share": 20,
        "hired_before": "",
        "guideline_tolerance": 5,
        "appeal_days": 14,
        "change_reason": "",
        **{f"guideline-{k}": v for k, v in GUIDELINE.items()},
    }
    for competency, weight in competencies or []:
        data[f"competency-{competency.pk}"] = "on"
        data[f"competency-{competency.pk}-weight"] = weight
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- who may come in ----------------------------------------------------------------------


HR_ONLY_GETS = ["cycles", "cycle_new"]
HR_ONLY_CYCLE_GETS = ["cycle", "cycle_settings"]


@pytest.mark.parametrize("persona", ["employee", "manager", "outsider", "executive", "partner"])
def test_only_hr_opens_the_cycle_pages(client, request, appraisal_cycle, persona):
    client.force_login(request.getfixturevalue(persona))
    for name in HR_ONLY_GETS:
        assert client.get(url(name)).status_code == 403
    for name in HR_ONLY_CYCLE_GETS:
        assert client.get(url(name, appraisal_cycle.pk)).status_code == 403
    assert client.post(url("cycle_launch", appraisal_cycle.pk)).status_code == 403
    assert client.post(url("cycle_advance", appraisal_cycle.pk)).status_code == 403
    assert client.post(url("cycle_new"), {"name": "X"}).status_code == 403
    launch_row = appraisal_cycle.launches.get()
    progress = url("cycle_launch_progress", appraisal_cycle.pk, launch_row.pk)
    assert client.get(progress, **HX).status_code == 403
    assert Appraisal.objects.filter(cycle=appraisal_cycle).count() == 7
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == P.GOAL_SETTING


@pytest.mark.parametrize("persona", ["employee", "manager", "outsider"])
def test_the_appraisal_list_is_for_hr_and_partners(client, request, appraisal_cycle, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("cycle_appraisals", appraisal_cycle.pk)).status_code == 403
    assert client.get(url("cycle_appraisals_export", appraisal_cycle.pk)).status_code == 403
    assert client.get(url("cycle_appraisal_add", appraisal_cycle.pk)).status_code == 403


def test_it_asks_anonymous_visitors_to_log_in(client, appraisal_cycle):
    response = client.get(url("cycle", appraisal_cycle.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_wrong_methods_are_refused(client, hr_admin, appraisal_cycle, appraisal):
    client.force_login(hr_admin)
    pk = appraisal_cycle.pk
    launch_row = appraisal_cycle.launches.get()
    assert client.get(url("cycle_launch", pk)).status_code == 405
    assert client.get(url("cycle_advance", pk)).status_code == 405
    assert client.post(url("cycles")).status_code == 405
    assert client.post(url("cycle", pk)).status_code == 405
    assert client.put(url("cycle_settings", pk)).status_code == 405
    assert client.put(url("cycle_new")).status_code == 405
    assert client.post(url("cycle_launch_progress", pk, launch_row.pk)).status_code == 405
    assert client.post(url("cycle_appraisals", pk)).status_code == 405
    assert client.post(url("cycle_appraisals_export", pk)).status_code == 405
    assert client.put(url("cycle_appraisal_add", pk)).status_code == 405
    assert client.put(url("cycle_appraisal_reassign", pk, appraisal.pk)).status_code == 405
    assert client.put(url("cycle_appraisal_withdraw", pk, appraisal.pk)).status_code == 405


def test_an_unknown_cycle_is_a_404(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    for name in ("cycle", "cycle_settings", "cycle_appraisals"):
        assert client.get(url(name, 987654)).status_code == 404
    assert client.post(url("cycle_launch", 987654)).status_code == 404


# --- the cycles ---------------------------------------------------------------------------


def test_it_lists_every_cycle_with_its_phase_and_appraisal_count(
    client, hr_admin, appraisal_cycle, draft, appraisal
):
    services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="Left")
    client.force_login(hr_admin)
    response = client.get(url("cycles"))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r"<tr>\s*<td><a href=\"([^\"]+)\">([^<]+)</a></td>(.*?)</tr>", html, re.S)
    assert [(href, name) for href, name, _rest in rows] == [
        (url("cycle", draft.pk), "FY2027"),
        (url("cycle", appraisal_cycle.pk), "FY2026"),
    ]
    fy2027, fy2026 = (rest for _href, _name, rest in rows)
    assert "Draft" in fy2027 and '<td class="num">0</td>' in fy2027
    assert "Goal setting" in fy2026 and '<td class="num">6</td>' in fy2026  # withdrawn not counted
    assert url("cycle_appraisals", appraisal_cycle.pk) in fy2026
    assert url("cycle_new") in html


def test_it_says_what_to_do_without_cycles(client, hr_admin):
    client.force_login(hr_admin)
    assert "There is no cycle yet." in text(client.get(url("cycles")))


# --- a new cycle --------------------------------------------------------------------------


def test_a_new_cycle_starts_from_the_latest_cycle(
    client, hr_admin, appraisal_cycle, competencies, org
):
    CycleSettings.objects.filter(cycle=appraisal_cycle).update(
        hired_before=datetime.date(2026, 6, 30)
    )
    client.force_login(hr_admin)
    html = client.get(url("cycle_new")).content.decode()
    assert re.search(rf'<option value="{appraisal_cycle.pk}" selected>FY2026', html)
    assert 'value="2027-01-01"' in html and 'value="2027-12-31"' in html
    response = client.post(
        url("cycle_new"),
        {
            "name": "FY2027",
            "period_start": "2027-01-01",
            "period_end": "2027-12-31",
            "template": appraisal_cycle.pk,
            "rating_scale": "",
        },
    )
    new = Cycle.objects.get(name="FY2027")
    assert response.status_code == 302
    assert response["Location"] == url("cycle_settings", new.pk)
    assert last_message(response) == "FY2027 was created from FY2026. Check its settings."
    settings = services.settings_for(new)
    assert (settings.kpi_weight, settings.competency_weight) == (70, 30)
    assert settings.guideline == GUIDELINE
    assert settings.hired_before == datetime.date(2027, 6, 30)  # moved with the period
    assert new.rating_scale_id == appraisal_cycle.rating_scale_id
    assert new.status == P.DRAFT
    assert {c.competency for c in new.competencies.all()} == {
        competencies.teamwork,
        competencies.customer,
    }


def test_a_new_cycle_with_bad_input_keeps_what_was_typed(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.post(
        url("cycle_new"),
        {
            "name": "FY2026",  # taken
            "period_start": "2027-12-31",
            "period_end": "2027-01-01",
            "template": appraisal_cycle.pk,
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "Please correct the following:" in page
    assert "The period must end after it starts." in page
    html = response.content.decode()
    assert 'value="FY2026"' in html and 'value="2027-12-31"' in html
    response = client.post(
        url("cycle_new"),
        {"name": "FY2026", "period_start": "2027-01-01", "period_end": "2027-12-31"},
    )
    assert response.status_code == 400
    assert "Choose a rating scale, or a cycle to start from." in text(response)
    response = client.post(
        url("cycle_new"),
        {
            "name": "FY2026",
            "period_start": "2027-01-01",
            "period_end": "2027-12-31",
            "template": appraisal_cycle.pk,
        },
    )
    assert response.status_code == 400
    assert "already exists" in text(response)  # the service's check, next to the name
    assert Cycle.objects.count() == 1


# --- settings -----------------------------------------------------------------------------


def test_hr_changes_the_settings(client, org, hr_admin, cycle, competencies):
    client.force_login(hr_admin)
    html = client.get(url("cycle_settings", cycle.pk)).content.decode()
    assert "The two section weights must total 100; you are at" in text(
        client.get(url("cycle_settings", cycle.pk))
    )
    assert "Teamwork" in html and "Customer focus" in html
    data = settings_post(
        cycle,
        competencies=[(competencies.customer, 2), (competencies.teamwork, 1)],
        kpi_weight=60,
        competency_weight=40,
        hired_before="2026-03-31",
        departments=[org.sales.pk, org.engineering.pk],
        second_level_approval="on",
        change_reason="New template for 2026",
    )
    response = client.post(url("cycle_settings", cycle.pk), data)
    assert response.status_code == 302
    assert response["Location"] == url("cycle", cycle.pk)
    settings = CycleSettings.objects.get(cycle=cycle)
    assert (settings.kpi_weight, settings.competency_weight) == (60, 40)
    assert settings.manager_goal_share == 20
    assert settings.hired_before == datetime.date(2026, 3, 31)
    assert set(settings.departments.all()) == {org.sales, org.engineering}
    assert settings.guideline == GUIDELINE
    assert settings.second_level_approval
    assert [(c.competency, c.weight) for c in cycle.competencies.all()] == [
        (competencies.customer, 2),
        (competencies.teamwork, 1),
    ]
    assert settings.history.first().history_change_reason == "New template for 2026"
    page = text(client.get(url("cycle", cycle.pk)))
    assert "KPI results 60%, competencies 40%" in page
    assert "Customer focus (weight 2)" in page


def test_weights_that_do_not_total_100_are_refused_at_the_field(
    client, hr_admin, cycle, competencies
):
    client.force_login(hr_admin)
    data = settings_post(
        cycle, competencies=[(competencies.teamwork, 1)], kpi_weight=60, competency_weight=30
    )
    response = client.post(url("cycle_settings", cycle.pk), data)
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(
        r'<div class="field has-error">\s*<label for="id_competency_weight">.*?</div>', html, re.S
    )
    assert "The section weights must total 100; they total 90." in error.group(0)
    assert "you are at 90" in text(response)
    assert 'name="kpi_weight" value="60"' in html  # nothing lost
    assert services.settings_for(cycle).kpi_weight == 70  # defaults, unchanged


def test_a_guideline_that_does_not_total_100_is_refused(client, hr_admin, cycle, competencies):
    client.force_login(hr_admin)
    data = settings_post(cycle, competencies=[(competencies.teamwork, 1)], **{"guideline-3": 30})
    response = client.post(url("cycle_settings", cycle.pk), data)
    assert response.status_code == 400
    assert "The guideline shares must total 100 percent; they total 90." in text(response)
    assert services.settings_for(cycle).guideline == {}


def test_the_service_says_when_competencies_carry_weight_but_none_are_chosen(
    client, hr_admin, cycle, competencies
):
    client.force_login(hr_admin)
    response = client.post(url("cycle_settings", cycle.pk), settings_post(cycle))
    assert response.status_code == 400
    assert "Competencies carry 30% of the score: choose the competencies" in text(response)


def test_a_chosen_competency_needs_a_weight(client, hr_admin, cycle, competencies):
    client.force_login(hr_admin)
    data = settings_post(cycle, competencies=[(competencies.teamwork, "")])
    response = client.post(url("cycle_settings", cycle.pk), data)
    assert response.status_code == 400
    assert "Give Teamwork a weight from 1 to 100." in text(response)


def test_a_stale_settings_save_shows_a_conflict_and_keeps_the_input(
    client, hr_admin, appraisal_cycle, competencies
):
    client.force_login(hr_admin)
    data = settings_post(
        appraisal_cycle,
        competencies=[(competencies.teamwork, 1), (competencies.customer, 1)],
        appeal_days=30,
    )
    # Someone else saves first.
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=appraisal_cycle,
        data={"appeal_days": 21},
        expected_version=data["version"],
    )
    response = client.post(url("cycle_settings", appraisal_cycle.pk), data)
    assert response.status_code == 409
    page = text(response)
    assert "Someone else saved these settings after you opened them" in page
    assert 'name="appeal_days" value="30"' in response.content.decode()
    assert services.settings_for(appraisal_cycle).appeal_days == 21


def test_once_reviews_are_under_way_only_the_late_settings_change(
    client, hr_admin, appraisal_cycle, competencies
):
    at_phase(appraisal_cycle, P.SELF_REVIEW)
    client.force_login(hr_admin)
    response = client.get(url("cycle_settings", appraisal_cycle.pk))
    html = response.content.decode()
    assert "The reviews are under way" in text(response)
    assert re.search(r'name="kpi_weight" value="70"[^>]*disabled', html)
    assert re.search(r'name="appeal_days" value="14"[^>]*>', html)
    assert not re.search(r'name="appeal_days"[^>]*disabled', html)
    data = {
        "version": services.settings_for(appraisal_cycle).version,
        "kpi_weight": 10,  # disabled: ignored
        "competency_weight": 90,
        "guideline_tolerance": 3,
        "appeal_days": 20,
        **{f"guideline-{k}": v for k, v in GUIDELINE.items()},
    }
    response = client.post(url("cycle_settings", appraisal_cycle.pk), data)
    assert response.status_code == 302
    settings = CycleSettings.objects.get(cycle=appraisal_cycle)
    assert (settings.kpi_weight, settings.appeal_days, settings.guideline_tolerance) == (70, 20, 3)
    assert appraisal_cycle.competencies.count() == 2


# --- the cycle page -----------------------------------------------------------------------


def test_the_cycle_page_shows_the_phases_settings_and_links(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.get(url("cycle", appraisal_cycle.pk))
    assert response.status_code == 200
    html = response.content.decode()
    steps = re.findall(
        r'<li class="cycles-step cycles-step-(\w+)"[^>]*>\s*<span[^>]*>([^<]+)', html
    )
    assert steps[:3] == [
        ("done", "Draft"),
        ("current", "Goal setting"),
        ("todo", "In progress (coaching)"),
    ]
    assert len(steps) == 8
    assert 'aria-current="step"' in html
    page = text(response)
    assert "KPI results 70%, competencies 30%" in page
    assert "Teamwork (weight 1)" in page
    assert "The whole organisation" in page
    assert "Appraisals (7)" in page
    pk = appraisal_cycle.pk
    assert f'href="/appraisals/cycles/{pk}/dashboard/"' in html
    assert f'href="/appraisals/cycles/{pk}/calibration/"' in html
    assert f'href="{url("cycle_appraisals", pk)}"' in html
    assert "Appraisals created" in page  # the finished launch
    assert "hx-trigger" not in html


def test_launching_from_the_page_creates_the_appraisals(
    client, org, hr_admin, draft, celery_inline, django_capture_on_commit_callbacks
):
    client.force_login(hr_admin)
    page = text(client.get(url("cycle", draft.pk)))
    assert "The cycle has not been launched." in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("cycle_launch", draft.pk))
    assert response.status_code == 302
    assert response["Location"] == url("cycle", draft.pk) + "#launch"
    # The task ran after the response (as a worker would): the page said it started.
    assert last_message(response) == "The launch has started; its progress shows below."
    assert Appraisal.objects.filter(cycle=draft).count() == 7
    run = draft.launches.get()
    assert run.status == CycleLaunch.Status.DONE
    response = client.get(url("cycle", draft.pk))
    counts = re.search(
        r'<dl class="numbers" id="launch-counts">(.*?)</dl>', response.content.decode(), re.S
    )
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", counts.group(1))).split() == [
        "Appraisals", "created", "7", "Already", "had", "one", "0", "Left", "out", "0",
    ]  # fmt: skip
    assert "Launch again" in text(response)


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_launch_has_finished_when_the_page_comes_back(
    client, org, hr_admin, draft, celery_inline
):
    client.force_login(hr_admin)
    response = client.post(url("cycle_launch", draft.pk))
    assert response.status_code == 302
    assert last_message(response) == "The launch finished: 7 appraisals were created."
    assert Appraisal.objects.filter(cycle=draft).count() == 7


def test_launch_refusals_are_shown_on_the_page(client, hr_admin, org):
    cycle = CycleFactory(name="FY2028", status=P.DRAFT)  # default settings: 70/30, none chosen
    client.force_login(hr_admin)
    response = client.post(url("cycle_launch", cycle.pk))
    assert response.status_code == 400
    assert "Competencies carry weight, but none are chosen for the cycle." in text(response)
    assert not cycle.launches.exists()


def test_the_finished_launch_lists_who_was_left_out_and_why(
    client, org, hr_admin, draft, celery_inline, django_capture_on_commit_callbacks
):
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=draft,
        data={"hired_before": datetime.date(2024, 12, 31)},
        expected_version=None,
    )
    org.peer.hire_date = datetime.date(2025, 3, 1)
    org.peer.save()
    org.outsider.is_active = False
    org.outsider.save()
    client.force_login(hr_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("cycle_launch", draft.pk))
    response = client.get(url("cycle", draft.pk))
    html = response.content.decode()
    table = re.search(r'<table class="table" id="launch-excluded".*?</table>', html, re.S).group(0)
    assert "E0004" in table and "Petra Peer" in table
    assert "Hired on 2025-03-01, after the cut-off 2024-12-31." in table
    page = text(response)
    assert "No longer active 1" in page
    assert "Appraisals created 5" in page
    run = draft.launches.get()
    download = client.get(url("cycle_launch_excluded", draft.pk, run.pk))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows == [
        ["Employee number", "Name", "Reason"],
        ["E0004", "Petra Peer", "Hired on 2025-03-01, after the cut-off 2024-12-31."],
    ]


def test_a_running_launch_is_polled_until_it_finishes(client, hr_admin, draft):
    run = CycleLaunch.objects.create(
        cycle=draft, actor=hr_admin, status=CycleLaunch.Status.RUNNING, progress=40, created=120
    )
    fragment = url("cycle_launch_progress", draft.pk, run.pk)
    client.force_login(hr_admin)
    html = client.get(url("cycle", draft.pk)).content.decode()
    assert f'hx-get="{fragment}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert "Launch the cycle" not in html  # not while one runs

    response = client.get(fragment, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="launch"')
    assert 'hx-trigger="every 1s"' in html
    assert "HX-Refresh" not in response
    assert 'value="40"' in html and "40% done" in html
    assert "Creating appraisals: 120 so far." in text(response)
    assert "<html" not in html

    CycleLaunch.objects.filter(pk=run.pk).update(
        status=CycleLaunch.Status.DONE, progress=100, created=7, existing=0
    )
    response = client.get(fragment, **HX)
    html = response.content.decode()
    assert "hx-trigger" not in html  # the polling stops
    assert response["HX-Refresh"] == "true"  # the rest of the page changed too: reload it
    assert "Appraisals created 7" in text(response)
    assert "<progress" not in html


def test_the_progress_fragment_without_htmx_goes_to_the_cycle_page(client, hr_admin, draft):
    run = CycleLaunch.objects.create(cycle=draft, actor=hr_admin)
    client.force_login(hr_admin)
    response = client.get(url("cycle_launch_progress", draft.pk, run.pk))
    assert response.status_code == 302
    assert response["Location"] == url("cycle", draft.pk) + "#launch"


def test_a_launch_of_another_cycle_is_a_404(client, hr_admin, draft, appraisal_cycle):
    other = appraisal_cycle.launches.get()
    client.force_login(hr_admin)
    assert client.get(url("cycle_launch_progress", draft.pk, other.pk), **HX).status_code == 404


# --- advancing ----------------------------------------------------------------------------


def test_the_page_lists_what_blocks_and_advancing_anyway_needs_a_reason(
    client, hr_admin, appraisal_cycle
):
    cycle = at_phase(appraisal_cycle, P.SELF_REVIEW)
    client.force_login(hr_admin)
    response = client.get(url("cycle", cycle.pk))
    html = response.content.decode()
    soft = re.findall(r'<li class="cycles-blocker cycles-blocker-soft">(.*?)</li>', html, re.S)
    assert any("7 self-reviews outstanding." in item for item in soft)
    assert "cycles-blocker-hard" not in html
    assert "Advance to Manager review" in text(response)

    # Not confirmed: refused, with the blockers and how to go ahead.
    response = client.post(url("cycle_advance", cycle.pk), {"phase": P.SELF_REVIEW})
    assert response.status_code == 400
    assert "To advance anyway, confirm and give the reason" in text(response)

    # Confirmed without a reason: the reason field says so, nothing moves.
    response = client.post(
        url("cycle_advance", cycle.pk), {"phase": P.SELF_REVIEW, "force": "on", "reason": " "}
    )
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(
        r'<div class="field has-error">\s*<label for="id_reason">.*?</div>', html, re.S
    )
    assert "Give the reason; it is kept in the history." in error.group(0)
    assert Cycle.objects.get(pk=cycle.pk).status == P.SELF_REVIEW

    response = client.post(
        url("cycle_advance", cycle.pk),
        {"phase": P.SELF_REVIEW, "force": "on", "reason": "Deadline passed; stragglers follow"},
    )
    assert response.status_code == 302
    assert response["Location"] == url("cycle", cycle.pk) + "#advance"
    assert last_message(response) == "The cycle is now in Manager review."
    cycle.refresh_from_db()
    assert cycle.status == P.MANAGER_REVIEW
    assert cycle.history.first().history_change_reason == "Deadline passed; stragglers follow"


def test_hard_blockers_are_red_and_stop_the_advance(client, hr_admin, org):
    cycle = CycleFactory(name="FY2028", status=P.IN_PROGRESS)
    client.force_login(hr_admin)
    html = client.get(url("cycle", cycle.pk)).content.decode()
    hard = re.findall(r'<li class="cycles-blocker cycles-blocker-hard">(.*?)</li>', html, re.S)
    assert any("The cycle has not been launched: there are no appraisals." in h for h in hard)
    assert re.search(r'<button class="btn btn-primary" type="submit" disabled>', html)
    response = client.post(
        url("cycle_advance", cycle.pk), {"phase": P.IN_PROGRESS, "force": "on", "reason": "Go"}
    )
    assert response.status_code == 400
    assert "The cycle has not been launched: there are no appraisals." in text(response)
    assert Cycle.objects.get(pk=cycle.pk).status == P.IN_PROGRESS


def test_an_advance_meant_for_an_earlier_phase_is_refused(client, hr_admin, appraisal_cycle):
    cycle = at_phase(appraisal_cycle, P.SELF_REVIEW)
    client.force_login(hr_admin)
    response = client.post(
        url("cycle_advance", cycle.pk), {"phase": P.IN_PROGRESS, "force": "on", "reason": "x"}
    )
    assert response.status_code == 409
    assert "The cycle moved on to Self-review while you had the page open." in text(response)
    assert Cycle.objects.get(pk=cycle.pk).status == P.SELF_REVIEW


def test_a_closed_cycle_has_no_next_phase(client, hr_admin, org):
    cycle = CycleFactory(name="FY2020", status=P.CLOSED)
    client.force_login(hr_admin)
    response = client.get(url("cycle", cycle.pk))
    assert "The cycle is closed; there is no next phase." in text(response)
    assert "Launch the cycle" not in text(response)


# --- the cycle's appraisals ---------------------------------------------------------------


def listed(response) -> list[str]:
    html = response.content.decode()
    body = re.search(r'<table class="table cycles-appraisals".*?</table>', html, re.S)
    if body is None:
        return []
    return re.findall(r'<tr>\s*<td>\s*<a href="[^"]+">([^<]+)</a>', body.group(0))


EVERYONE = [
    "Cora Chief",
    "Emil Employee",
    "Hana HR",
    "Mona Manager",
    "Olga Outsider",
    "Otto Other",
    "Petra Peer",
]


def test_hr_lists_every_appraisal_of_the_cycle(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk))
    assert response.status_code == 200
    assert listed(response) == EVERYONE
    html = response.content.decode()
    assert "7 appraisals found" in text(response)
    assert html.count('<span class="badge badge-neutral">Self-review</span>') == 7
    assert html.count(">Change reviewer<") == 6  # not on her own appraisal
    assert '<span class="badge badge-danger">No reviewer</span>' in html  # the CEO's


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "emil"}, ["Emil Employee"]),
        ({"q": "E0006"}, ["Olga Outsider"]),
        ({"department": "sales"}, ["Emil Employee", "Mona Manager", "Petra Peer"]),
        ({"reviewer": "Mona"}, ["Emil Employee", "Petra Peer"]),
        ({"reviewer": "E0005"}, ["Olga Outsider"]),
        ({"no_reviewer": "on"}, ["Cora Chief"]),
        ({"stage": A.WITHDRAWN}, ["Emil Employee"]),
        ({"stage": "nonsense"}, EVERYONE),
    ],
)
def test_it_filters_the_appraisals(
    client, org, hr_admin, appraisal_cycle, appraisal, params, expected
):
    services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="Left")
    if params.get("department") == "sales":
        params = {**params, "department": org.sales.pk}
    client.force_login(hr_admin)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk), params)
    assert response.status_code == 200
    assert listed(response) == expected


def test_it_says_when_nothing_matches(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk), {"q": "nobody"})
    assert "No appraisal matches." in text(response)


def test_the_filters_answer_htmx_with_the_results_alone(client, hr_admin, appraisal_cycle):
    client.force_login(hr_admin)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk), {"q": "emil"}, **HX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="appraisal-results">')
    assert "<form" not in html
    assert listed(response) == ["Emil Employee"]


def test_a_partner_lists_their_departments_appraisals(client, org, partner, appraisal_cycle):
    client.force_login(partner)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk))
    assert response.status_code == 200
    assert listed(response) == ["Emil Employee", "Mona Manager", "Petra Peer"]
    assert response.content.decode().count(">Change reviewer<") == 3
    assert ">Add an appraisal<" in response.content.decode()


def test_an_executive_reads_the_list_without_actions(client, executive, appraisal_cycle):
    client.force_login(executive)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk))
    assert listed(response) == EVERYONE
    html = response.content.decode()
    assert "Change reviewer" not in html and "Add an appraisal" not in html


def test_nobody_sees_their_own_assessment_before_release(
    client, org, hr_admin, appraisal_cycle, appraisal
):
    Appraisal.objects.filter(cycle=appraisal_cycle).update(overall_score=87.25)
    client.force_login(hr_admin)
    response = client.get(url("cycle_appraisals", appraisal_cycle.pk))
    html = response.content.decode()
    assert html.count("87.25") == 6  # everyone's but Hana HR's own
    row = re.search(r"<tr>\s*<td>\s*<a[^>]*>Hana HR</a>.*?</tr>", html, re.S).group(0)
    assert "Not released" in row and "87.25" not in row
    export = client.get(url("cycle_appraisals_export", appraisal_cycle.pk))
    rows = {r[1]: r for r in csv_rows(export)[1:]}
    assert rows["Hana HR"][9] == ""
    assert rows["Emil Employee"][9] == "87.25"


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def test_the_export_follows_the_filters_and_the_scope(client, org, partner, appraisal_cycle):
    client.force_login(partner)
    rows = csv_rows(
        client.get(url("cycle_appraisals_export", appraisal_cycle.pk), {"reviewer": "Mona"})
    )
    assert rows[0][:7] == [
        "Employee number",
        "Name",
        "Department",
        "Position",
        "Stage",
        "Reviewer",
        "Reviewer's employee number",
    ]
    assert [r[:7] for r in rows[1:]] == [
        ["E0003", "Emil Employee", "Sales East", "Account executive", "Self-review",
         "Mona Manager", "E0002"],
        ["E0004", "Petra Peer", "Sales East", "Account executive", "Self-review",
         "Mona Manager", "E0002"],
    ]  # fmt: skip


def test_the_list_pages_by_fifty(client, org, hr_admin, appraisal_cycle):
    for i in range(50):
        EmployeeFactory(department=org.sales_east, manager=org.manager, user__full_name=f"Z {i:02}")
    launch(appraisal_cycle, hr_admin)
    client.force_login(hr_admin)
    first = client.get(url("cycle_appraisals", appraisal_cycle.pk))
    assert len(listed(first)) == 50
    assert "Page 1 of 2" in text(first)
    second = client.get(url("cycle_appraisals", appraisal_cycle.pk), {"page": 2})
    assert len(listed(second)) == 7


@pytest.mark.parametrize("persona", ["hr_admin", "partner"])
def test_the_list_queries_do_not_grow_with_the_rows(
    client, request, org, hr_admin, appraisal_cycle, persona, django_assert_num_queries
):
    def grow(n, prefix):
        for i in range(n):
            EmployeeFactory(
                department=org.sales_east, manager=org.manager, user__full_name=f"{prefix} {i:02}"
            )
        launch(appraisal_cycle, hr_admin)

    grow(3, "Few")
    client.force_login(request.getfixturevalue(persona))
    page = url("cycle_appraisals", appraisal_cycle.pk)
    with CaptureQueriesContext(connection) as small:
        assert client.get(page).status_code == 200
    grow(30, "Many")
    with django_assert_num_queries(len(small)):
        response = client.get(page)
    assert response.status_code == 200
    assert len(listed(response)) >= 36


# --- one appraisal: reviewer, withdraw, add -----------------------------------------------


def test_hr_gives_an_appraisal_another_reviewer(client, org, hr_admin, appraisal):
    cycle = appraisal.cycle
    page = url("cycle_appraisal_reassign", cycle.pk, appraisal.pk)
    client.force_login(hr_admin)
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="E0002">Mona Manager</option>' in html  # suggested: the chain
    assert '<option value="E0001">Cora Chief</option>' in html
    response = client.post(
        page, {"version": appraisal.version, "reviewer": "e0005", "reason": "Mona is on leave"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("cycle_appraisals", cycle.pk) + "?q=E0003"
    assert last_message(response) == "Otto Other now reviews Emil Employee."
    appraisal.refresh_from_db()
    assert appraisal.reviewer == org.other_manager
    assert appraisal.reviewer_assigned
    assert appraisal.history.first().history_change_reason == "Mona is on leave"


def test_a_reviewer_change_with_bad_input_keeps_it(client, org, hr_admin, appraisal):
    page = url("cycle_appraisal_reassign", appraisal.cycle.pk, appraisal.pk)
    client.force_login(hr_admin)
    response = client.post(page, {"version": appraisal.version, "reviewer": "E9999", "reason": ""})
    assert response.status_code == 400
    page_text = text(response)
    assert "No active employee has the number E9999." in page_text
    assert "This field is required." in page_text
    assert 'value="E9999"' in response.content.decode()
    response = client.post(page, {"version": appraisal.version, "reviewer": "E0003", "reason": "x"})
    assert response.status_code == 400
    assert "Nobody reviews themself." in text(response)
    appraisal.refresh_from_db()
    assert appraisal.reviewer == org.manager


def test_a_stale_reviewer_change_is_a_conflict(client, org, hr_admin, appraisal):
    services.appraisal_reassign(
        actor=hr_admin, appraisal=appraisal, reviewer=org.ceo, reason="First"
    )
    page = url("cycle_appraisal_reassign", appraisal.cycle.pk, appraisal.pk)
    client.force_login(hr_admin)
    response = client.post(page, {"version": 1, "reviewer": "E0005", "reason": "Second"})
    assert response.status_code == 409
    assert "Someone else changed this appraisal while you had the page open." in text(response)
    assert 'value="Second"' in response.content.decode() or "Second</textarea>" in (
        response.content.decode()
    )
    appraisal.refresh_from_db()
    assert appraisal.reviewer == org.ceo


def test_hr_withdraws_an_appraisal_and_can_add_it_again(client, org, hr_admin, appraisal):
    cycle = appraisal.cycle
    client.force_login(hr_admin)
    page = url("cycle_appraisal_withdraw", cycle.pk, appraisal.pk)
    assert client.get(page).status_code == 200
    response = client.post(page, {"version": appraisal.version, "reason": ""})
    assert response.status_code == 400
    response = client.post(page, {"version": appraisal.version, "reason": "Left the company"})
    assert response.status_code == 302
    assert last_message(response) == "The appraisal of Emil Employee was withdrawn."
    appraisal.refresh_from_db()
    assert appraisal.stage == A.WITHDRAWN
    assert appraisal.withdrawn_reason == "Left the company"

    listing = client.get(url("cycle_appraisals", cycle.pk), {"q": "E0003"}).content.decode()
    add_again = url("cycle_appraisal_add", cycle.pk) + "?employee=E0003"
    assert f'href="{add_again}"' in listing
    assert 'value="E0003"' in client.get(add_again).content.decode()
    response = client.post(
        url("cycle_appraisal_add", cycle.pk), {"employee_number": "E0003", "reason": "Came back"}
    )
    assert response.status_code == 302
    appraisal.refresh_from_db()
    assert appraisal.stage == A.SELF_REVIEW


def test_hr_adds_a_late_joiner(client, org, hr_admin, appraisal_cycle):
    joiner = EmployeeFactory(
        department=org.sales_east,
        manager=org.manager,
        employee_number="E0100",
        user__full_name="Lena Late",
        hire_date=datetime.date(2026, 5, 1),
    )
    page = url("cycle_appraisal_add", appraisal_cycle.pk)
    client.force_login(hr_admin)
    html = client.get(page).content.decode()
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', html)
    assert options == [(str(joiner.pk), "Lena Late (E0100), Sales East")]  # the others have one
    response = client.post(page, {"person": joiner.pk, "reason": "Joined in May"})
    assert response.status_code == 302
    assert last_message(response) == "Lena Late now has an appraisal in FY2026."
    added = Appraisal.objects.get(cycle=appraisal_cycle, employee=joiner)
    assert added.reviewer == org.manager
    assert added.reviews.count() == 2


def test_adding_an_appraisal_explains_what_is_wrong(client, org, hr_admin, appraisal_cycle):
    page = url("cycle_appraisal_add", appraisal_cycle.pk)
    client.force_login(hr_admin)
    response = client.post(page, {"reason": "x"})
    assert response.status_code == 400
    assert "Choose the person, or give their employee number." in text(response)
    response = client.post(page, {"employee_number": "E4242", "reason": "x"})
    assert "Nobody with the number E4242 is among the people you look after." in text(response)
    response = client.post(page, {"employee_number": "E0003", "reason": "Joined"})
    assert response.status_code == 400
    assert "Emil Employee already has an appraisal in this cycle." in text(response)
    response = client.post(page, {"employee_number": "E0003", "reason": ""})
    assert response.status_code == 400
    assert 'value="E0003"' in response.content.decode()


def test_a_partner_adds_only_people_they_look_after(client, org, partner, appraisal_cycle):
    EmployeeFactory(department=org.engineering, employee_number="E0200")
    client.force_login(partner)
    response = client.post(
        url("cycle_appraisal_add", appraisal_cycle.pk),
        {"employee_number": "E0200", "reason": "Joined"},
    )
    assert response.status_code == 400
    assert "Nobody with the number E0200 is among the people you look after." in text(response)


def test_row_actions_need_the_right_to_administer(
    client, org, manager, outsider, partner, appraisal_cycle, appraisal
):
    pk = appraisal_cycle.pk
    olga = Appraisal.objects.get(cycle=appraisal_cycle, employee=org.outsider)
    client.force_login(manager)  # sees Emil's appraisal, may not change it
    assert client.get(url("cycle_appraisal_reassign", pk, appraisal.pk)).status_code == 403
    assert client.post(url("cycle_appraisal_withdraw", pk, appraisal.pk)).status_code == 403
    client.force_login(outsider)  # does not see it at all
    assert client.get(url("cycle_appraisal_reassign", pk, appraisal.pk)).status_code == 404
    assert client.post(url("cycle_appraisal_withdraw", pk, appraisal.pk)).status_code == 404
    client.force_login(partner)  # Sales' partner: Engineering is out of scope
    assert client.get(url("cycle_appraisal_withdraw", pk, olga.pk)).status_code == 404
    assert client.get(url("cycle_appraisal_withdraw", pk, appraisal.pk)).status_code == 200
    other = CycleFactory(name="FY2030")
    assert client.get(url("cycle_appraisal_withdraw", other.pk, appraisal.pk)).status_code == 404
    appraisal.refresh_from_db()
    assert appraisal.stage == A.SELF_REVIEW
