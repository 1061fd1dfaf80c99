"""After release: the employee acknowledges (with a comment) and appeals on their
appraisal page; HR lists the appeals, open first, and records the outcome."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appraisals import services
from appraisals.models import Appeal, Appraisal
from perfcycle.models import Cycle
from tests.factories import EmployeeFactory

from .conftest import at_phase, record
from .test_views_reviews import (
    MANAGER_STRENGTHS,
    field_errors,
    last_message,
    level,
    submit_manager_review,
    submit_self_review,
    url,
)

P, A, S = Cycle.Status, Appraisal.Stage, Appeal.Status


@pytest.fixture
def released(org, appraisal, employee, manager, hr_admin, cascade, competencies):
    """Emil's appraisal, reviewed, final at level 3 and released to him."""
    record(employee, cascade.employee_copy, 110)
    cycle = at_phase(appraisal.cycle, P.SELF_REVIEW)
    submit_self_review(employee, appraisal, cascade, competencies)
    at_phase(cycle, P.MANAGER_REVIEW)
    submit_manager_review(manager, appraisal, cascade, competencies)
    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.FINAL, final_level=level(cycle, 3))
    at_phase(cycle, P.FEEDBACK)
    services.results_release(actor=hr_admin, cycle=cycle, departments=[org.sales])
    appraisal.refresh_from_db()
    return appraisal


def file_appeal(employee, appraisal, reason="My Q4 deals were not counted") -> Appeal:
    return services.appeal_file(actor=employee, appraisal=appraisal, reason=reason)


# --- acknowledging ----------------------------------------------------------------------------


def test_it_shows_the_released_result_with_the_acknowledge_and_appeal_forms(
    client, employee, released
):
    client.force_login(employee)
    html = client.get(url("appraisal", released.pk)).content.decode()
    assert "3 – Meets expectations" in html and MANAGER_STRENGTHS in html
    assert url("acknowledge", released.pk) in html
    assert url("appeal", released.pk) in html


def test_the_employee_acknowledges_with_a_comment_and_may_change_it(client, employee, released):
    client.force_login(employee)
    response = client.post(url("acknowledge", released.pk), {"comment": "Fair, mostly."})
    assert response.status_code == 302
    assert last_message(response) == "You acknowledged your result."
    released.refresh_from_db()
    assert released.acknowledged_at is not None
    assert released.employee_comment == "Fair, mostly."
    first = released.acknowledged_at

    response = client.post(url("acknowledge", released.pk), {"comment": "Fair."})
    assert last_message(response) == "Your comment was saved."
    released.refresh_from_db()
    assert released.employee_comment == "Fair." and released.acknowledged_at == first


def test_the_manager_reads_the_employees_comment(client, employee, manager, released):
    services.appraisal_acknowledge(actor=employee, appraisal=released, comment="Fair, mostly.")
    client.force_login(manager)
    assert "Fair, mostly." in client.get(url("appraisal", released.pk)).content.decode()


def test_nobody_acknowledges_before_release(client, employee, appraisal):
    client.force_login(employee)
    assert client.post(url("acknowledge", appraisal.pk)).status_code == 403
    appraisal.refresh_from_db()
    assert appraisal.acknowledged_at is None


def test_only_the_employee_acknowledges(client, manager, hr_admin, released):
    for user in (manager, hr_admin):
        client.force_login(user)
        assert client.post(url("acknowledge", released.pk)).status_code == 403


@pytest.mark.parametrize("name", ["acknowledge", "appeal"])
def test_it_hides_someone_elses_result(client, peer, released, name):
    client.force_login(peer)
    assert client.post(url(name, released.pk), {"reason": "x"}).status_code == 404


@pytest.mark.parametrize("name", ["acknowledge", "appeal"])
def test_it_refuses_get_on_the_result_actions(client, employee, released, name):
    client.force_login(employee)
    assert client.get(url(name, released.pk)).status_code == 405


# --- appealing ---------------------------------------------------------------------------------


def test_the_employee_appeals_within_the_window(client, employee, released):
    client.force_login(employee)
    response = client.post(url("appeal", released.pk), {"reason": "My Q4 deals were not counted"})
    assert response.status_code == 302
    appeal = Appeal.objects.get(appraisal=released)
    assert appeal.status == S.OPEN and appeal.reason == "My Q4 deals were not counted"
    html = client.get(url("appraisal", released.pk)).content.decode()
    assert "Your appeal is with HR" in html
    assert f'action="{url("appeal", released.pk)}"' not in html


def test_an_appeal_needs_its_grounds(client, employee, released):
    client.force_login(employee)
    response = client.post(url("appeal", released.pk), {"reason": "  "})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "appeal_reason")
    assert not Appeal.objects.exists()


def test_a_second_open_appeal_is_refused_with_the_reason(client, employee, released):
    file_appeal(employee, released)
    client.force_login(employee)
    response = client.post(url("appeal", released.pk), {"reason": "Again"})
    assert response.status_code == 400
    assert "Your appeal is already with HR." in response.content.decode()
    assert Appeal.objects.count() == 1


def test_an_appeal_after_the_window_is_refused(client, employee, released):
    Appraisal.objects.filter(pk=released.pk).update(
        released_at=timezone.now() - datetime.timedelta(days=30)
    )
    client.force_login(employee)
    html = client.get(url("appraisal", released.pk)).content.decode()
    assert "The appeal window closed" in html
    response = client.post(url("appeal", released.pk), {"reason": "Late"})
    assert response.status_code == 400
    assert "The appeal window closed on" in response.content.decode()
    assert not Appeal.objects.exists()


# --- HR: the appeals --------------------------------------------------------------------------


def test_hr_lists_the_appeals_open_first(client, hr_admin, employee, released):
    resolved = file_appeal(employee, released, reason="First try")
    services.appeal_resolve(actor=hr_admin, appeal=resolved, status=S.DISMISSED, outcome="No")
    file_appeal(employee, released, reason="Second try")
    client.force_login(hr_admin)
    response = client.get(url("appeals"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 open appeal" in html
    open_at, dismissed_at = html.index("Resolve</a>"), html.index("View</a>")
    assert open_at < dismissed_at
    only_open = client.get(url("appeals"), {"status": "open"}).content.decode()
    assert "View</a>" not in only_open and "Resolve</a>" in only_open


@pytest.mark.parametrize("persona", ["employee", "manager", "outsider"])
def test_the_appeals_are_for_hr_only(client, request, released, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("appeals")).status_code == 403


def test_it_refuses_posting_to_the_appeals_list(client, hr_admin):
    client.force_login(hr_admin)
    assert client.post(url("appeals")).status_code == 405


def test_it_keeps_the_appeals_list_queries_constant(
    client, org, hr_admin, employee, released, django_assert_num_queries
):
    file_appeal(employee, released)

    def grow():
        people = EmployeeFactory.create_batch(30, manager=org.manager, department=org.sales_east)
        appraisals = Appraisal.objects.bulk_create(
            Appraisal(
                cycle=released.cycle,
                employee=e,
                department=e.department,
                stage=A.FINAL,
                final_level=released.final_level,
                released_at=released.released_at,
            )
            for e in people
        )
        Appeal.objects.bulk_create(Appeal(appraisal=a, reason="Unfair") for a in appraisals)

    client.force_login(hr_admin)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("appeals")).status_code == 200
    grow()
    with django_assert_num_queries(len(small)):
        assert client.get(url("appeals")).status_code == 200


def test_hr_upholds_an_appeal_with_a_new_rating(client, hr_admin, employee, released):
    appeal = file_appeal(employee, released)
    client.force_login(hr_admin)
    target = url("appeal_resolve", appeal.pk)
    html = client.get(target).content.decode()
    assert "My Q4 deals were not counted" in html

    response = client.post(
        target, {"status": "upheld", "new_level": "", "outcome": "Recounted", "version": "1"}
    )
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "new_level")
    appeal.refresh_from_db()
    assert appeal.status == S.OPEN

    four = level(released.cycle, 4)
    response = client.post(
        target,
        {"status": "upheld", "new_level": str(four.pk), "outcome": "Recounted", "version": "1"},
    )
    assert response.status_code == 302 and response["Location"] == url("appeals")
    appeal.refresh_from_db()
    released.refresh_from_db()
    assert appeal.status == S.UPHELD and appeal.resolved_by == hr_admin
    assert released.final_level == four

    client.force_login(employee)
    html = client.get(url("appraisal", released.pk)).content.decode()
    assert "Recounted" in html and "4 – Exceeds expectations" in html


def test_hr_dismisses_an_appeal_with_an_outcome(client, hr_admin, employee, released):
    appeal = file_appeal(employee, released)
    client.force_login(hr_admin)
    target = url("appeal_resolve", appeal.pk)
    response = client.post(target, {"status": "dismissed", "outcome": "", "version": "1"})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "outcome")
    response = client.post(
        target, {"status": "dismissed", "outcome": "The rating stands", "version": "1"}
    )
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == S.DISMISSED and appeal.outcome == "The rating stands"
    html = client.get(target).content.decode()
    assert "The rating stands" in html and "Record the outcome" not in html


def test_a_resolution_made_first_by_someone_else_is_a_conflict(
    client, hr_admin, employee, released
):
    appeal = file_appeal(employee, released)
    services.appeal_resolve(actor=hr_admin, appeal=appeal, status=S.DISMISSED, outcome="Stands")
    client.force_login(hr_admin)
    response = client.post(
        url("appeal_resolve", appeal.pk),
        {"status": "dismissed", "outcome": "Mine", "version": "1"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "resolved this appeal first" in html and "Mine" in html
    appeal.refresh_from_db()
    assert appeal.outcome == "Stands"


def test_an_appeal_outside_my_scope_is_hidden(client, manager, employee, released):
    appeal = file_appeal(employee, released)
    client.force_login(manager)
    assert client.get(url("appeal_resolve", appeal.pk)).status_code == 404


def test_it_refuses_other_methods_on_the_resolve_page(client, hr_admin, employee, released):
    appeal = file_appeal(employee, released)
    client.force_login(hr_admin)
    assert client.delete(reverse("appraisals:appeal_resolve", args=[appeal.pk])).status_code == 405
