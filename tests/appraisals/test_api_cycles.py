"""/api/v1/cycles/{id}/: the appraisal workflow on a cycle — launch (202, in the
background), the launch log, what blocks the next phase, advancing (409 with the reasons,
400 when forcing without one) and the appraisal settings (409 when stale or too late)."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from appraisals import services
from appraisals.models import Appraisal, CycleLaunch, CycleSettings, Review
from perfcycle.models import Cycle

from .conftest import GUIDELINE, at_phase

P = Cycle.Status
URL = "/api/v1/cycles/"


def act(cycle, name: str) -> str:
    return f"{URL}{cycle.pk}/{name}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def ready_cycle(org, hr_admin, cycle, cascade, competencies):
    """The goals cycle with its appraisal settings made, not launched yet."""
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={"kpi_weight": 70, "competency_weight": 30, "guideline": GUIDELINE},
        competencies=[(competencies.teamwork, 1), (competencies.customer, 1)],
        expected_version=None,
    )
    return cycle


# --- launch -------------------------------------------------------------------------


def test_it_launches_in_the_background_and_creates_the_appraisals(
    org, hr_admin, ready_cycle, celery_inline, django_capture_on_commit_callbacks
):
    client = client_for(hr_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(act(ready_cycle, "launch"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert {"id", "status", "progress", "created", "existing", "excluded", "excluded_counts"} <= (
        set(body)
    )
    launch = CycleLaunch.objects.get(pk=body["id"])
    assert launch.status == CycleLaunch.Status.DONE
    people = {org.ceo, org.manager, org.employee, org.peer, org.other_manager, org.outsider, org.hr}
    appraised = set(Appraisal.objects.filter(cycle=ready_cycle).values_list("employee", flat=True))
    assert appraised == {person.pk for person in people}
    assert Review.objects.filter(appraisal__cycle=ready_cycle).count() == 2 * len(people)

    launches = client.get(act(ready_cycle, "launches"))
    assert launches.status_code == 200
    (shown,) = launches.json()
    assert (shown["id"], shown["status"], shown["progress"]) == (launch.pk, "done", 100)
    assert shown["created"] == len(people) and shown["existing"] == 0


def test_it_launches_again_without_creating_anything_twice(
    org, hr_admin, appraisal_cycle, celery_inline, django_capture_on_commit_callbacks
):
    before = Appraisal.objects.filter(cycle=appraisal_cycle).count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(hr_admin).post(act(appraisal_cycle, "launch"))
    assert response.status_code == 202
    assert Appraisal.objects.filter(cycle=appraisal_cycle).count() == before
    latest = client_for(hr_admin).get(act(appraisal_cycle, "launches")).json()
    assert [row["created"] for row in latest] == [0, before]  # latest first
    assert latest[0]["existing"] == before


def test_it_refuses_a_launch_in_the_wrong_phase_with_a_409_and_the_reason(
    org, hr_admin, ready_cycle
):
    at_phase(ready_cycle, P.MANAGER_REVIEW)
    response = client_for(hr_admin).post(act(ready_cycle, "launch"))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "not_allowed"
    assert "Launching is not possible while the cycle is in manager review" in body["detail"]
    assert not CycleLaunch.objects.exists()


def test_it_lets_only_hr_launch_and_read_the_launch_log(
    org, ready_cycle, employee, manager, outsider
):
    for user in (employee, manager, outsider):
        client = client_for(user)
        assert client.post(act(ready_cycle, "launch")).status_code == 403
        assert client.get(act(ready_cycle, "launches")).status_code == 403
        assert client.get(act(ready_cycle, "blockers")).status_code == 403
    assert not CycleLaunch.objects.exists()


def test_it_hides_a_draft_cycle_from_everyone_but_hr(org, hr_admin, ready_cycle, manager):
    at_phase(ready_cycle, P.DRAFT)
    for name in ("launch", "advance"):
        assert client_for(manager).post(act(ready_cycle, name)).status_code == 404
    for name in ("launches", "blockers", "settings"):
        assert client_for(manager).get(act(ready_cycle, name)).status_code == 404
        assert client_for(hr_admin).get(act(ready_cycle, name)).status_code == 200


def test_it_answers_a_get_on_a_post_action_with_405(org, hr_admin, ready_cycle):
    client = client_for(hr_admin)
    for name in ("launch", "advance"):
        assert client.get(act(ready_cycle, name)).status_code == 405
    for name in ("launches", "blockers"):
        assert client.post(act(ready_cycle, name)).status_code == 405
    assert client.put(act(ready_cycle, "settings"), {}).status_code == 405


# --- blockers and advancing ---------------------------------------------------------


def test_it_lists_what_blocks_the_next_phase(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.SELF_REVIEW)
    response = client_for(hr_admin).get(act(appraisal_cycle, "blockers"))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["next_phase"], body["can_force"]) == (
        "self_review",
        "manager_review",
        True,
    )
    messages = {row["message"]: (row["count"], row["hard"]) for row in body["blockers"]}
    # Everyone's self-review is open; the CEO has nobody above them to review them.
    assert messages == {
        "7 self-reviews outstanding.": (7, False),
        "1 appraisal has no reviewer.": (1, False),
    }


def test_it_refuses_to_advance_past_blockers_with_a_409_listing_them(
    org, hr_admin, appraisal_cycle
):
    at_phase(appraisal_cycle, P.SELF_REVIEW)
    response = client_for(hr_admin).post(act(appraisal_cycle, "advance"), {}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "blocked"
    assert "7 self-reviews outstanding." in body["reasons"]
    assert "1 appraisal has no reviewer." in body["reasons"]
    assert {row["message"] for row in body["blockers"]} == {
        "7 self-reviews outstanding.",
        "1 appraisal has no reviewer.",
    }
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == P.SELF_REVIEW


def test_it_needs_a_reason_to_force_and_answers_400_without_one(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.SELF_REVIEW)
    client = client_for(hr_admin)
    response = client.post(act(appraisal_cycle, "advance"), {"force": True}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == P.SELF_REVIEW

    response = client.post(
        act(appraisal_cycle, "advance"),
        {"force": True, "reason": "Deadline passed; late self-reviews go with the manager's."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "manager_review"
    cycle = Cycle.objects.get(pk=appraisal_cycle.pk)
    assert cycle.status == P.MANAGER_REVIEW
    assert cycle.history.first().history_change_reason.startswith("Deadline passed")


def test_it_does_not_force_past_a_hard_blocker(org, hr_admin, cycle):
    at_phase(cycle, P.IN_PROGRESS)  # never launched: no appraisals
    response = client_for(hr_admin).post(
        act(cycle, "advance"), {"force": True, "reason": "Go"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["reasons"] == [
        "The cycle has not been launched: there are no appraisals."
    ]
    assert response.json()["blockers"][0]["hard"] is True
    blockers = client_for(hr_admin).get(act(cycle, "blockers")).json()
    assert blockers["can_force"] is False


def test_it_advances_when_nothing_blocks(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.IN_PROGRESS)
    ceo_appraisal = Appraisal.objects.get(cycle=appraisal_cycle, employee=org.ceo)
    services.appraisal_reassign(
        actor=hr_admin, appraisal=ceo_appraisal, reviewer=org.hr, reason="The board's HR lead"
    )
    assert client_for(hr_admin).get(act(appraisal_cycle, "blockers")).json()["blockers"] == []
    response = client_for(hr_admin).post(act(appraisal_cycle, "advance"))
    assert response.status_code == 200
    assert response.json()["status"] == "self_review"
    assert response["ETag"] == f'"{Cycle.objects.get(pk=appraisal_cycle.pk).version}"'


def test_it_refuses_to_advance_a_closed_cycle_with_a_409(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.CLOSED)
    response = client_for(hr_admin).post(act(appraisal_cycle, "advance"))
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert client_for(hr_admin).get(act(appraisal_cycle, "blockers")).json()["next_phase"] is None


def test_it_lets_only_hr_advance(org, appraisal_cycle, manager, executive):
    at_phase(appraisal_cycle, P.IN_PROGRESS)
    for user in (manager, executive):
        response = client_for(user).post(act(appraisal_cycle, "advance"), {"force": True})
        assert response.status_code == 403
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == P.IN_PROGRESS


# --- settings -----------------------------------------------------------------------


def test_it_shows_the_settings(org, hr_admin, ready_cycle, competencies):
    response = client_for(hr_admin).get(act(ready_cycle, "settings"))
    assert response.status_code == 200
    body = response.json()
    assert response["ETag"] == f'"{body["version"]}"'
    assert (body["kpi_weight"], body["competency_weight"]) == (70, 30)
    assert body["guideline"] == GUIDELINE
    assert body["departments"] == []
    assert body["competencies"] == [
        {"competency": competencies.teamwork.pk, "name": "Teamwork", "weight": 1},
        {"competency": competencies.customer.pk, "name": "Customer focus", "weight": 1},
    ]


def test_it_changes_the_settings_with_the_version_read(org, hr_admin, ready_cycle, competencies):
    client = client_for(hr_admin)
    version = client.get(act(ready_cycle, "settings")).json()["version"]
    response = client.patch(
        act(ready_cycle, "settings"),
        {
            "kpi_weight": 60,
            "competency_weight": 40,
            "departments": [org.sales.pk],
            "competencies": [{"competency": competencies.customer.pk, "weight": 2}],
            "second_level_approval": True,
            "version": version,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kpi_weight"], body["competency_weight"]) == (60, 40)
    assert [d["id"] for d in body["departments"]] == [org.sales.pk]
    assert body["competencies"] == [
        {"competency": competencies.customer.pk, "name": "Customer focus", "weight": 2}
    ]
    assert body["second_level_approval"] is True
    assert body["guideline"] == GUIDELINE  # not sent, kept
    assert body["version"] == version + 1


def test_it_refuses_stale_settings_with_a_409_and_needs_the_version(org, hr_admin, ready_cycle):
    client = client_for(hr_admin)
    url = act(ready_cycle, "settings")
    version = client.get(url).json()["version"]
    assert "version" in client.patch(url, {"appeal_days": 10}, format="json").json()
    assert client.patch(url, {"appeal_days": 10, "version": version}).status_code == 200
    response = client.patch(url, {"appeal_days": 20}, HTTP_IF_MATCH=f'"{version}"')
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert CycleSettings.objects.get(cycle=ready_cycle).appeal_days == 10


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kpi_weight": 50}, "competency_weight"),
        ({"guideline": {"1": 50, "2": 20}}, "guideline"),
        ({"guideline": {"9": 100}}, "guideline"),
        ({"appeal_days": 400}, "appeal_days"),
        ({"competencies": [{"competency": 999999}]}, "competencies"),
    ],
)
def test_it_answers_bad_settings_with_the_field_and_changes_nothing(
    org, hr_admin, ready_cycle, data, field
):
    settings = CycleSettings.objects.get(cycle=ready_cycle)
    response = client_for(hr_admin).patch(
        act(ready_cycle, "settings"), {**data, "version": settings.version}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert CycleSettings.objects.get(cycle=ready_cycle).version == settings.version


def test_it_refuses_to_change_the_weights_once_reviews_are_under_way(org, hr_admin, ready_cycle):
    at_phase(ready_cycle, P.SELF_REVIEW)
    client = client_for(hr_admin)
    url = act(ready_cycle, "settings")
    version = client.get(url).json()["version"]
    response = client.patch(
        url, {"kpi_weight": 50, "competency_weight": 50, "version": version}, format="json"
    )
    assert response.status_code == 409
    assert "under way" in response.json()["detail"]
    # The appeal window still may change.
    assert client.patch(url, {"appeal_days": 21, "version": version}).status_code == 200


def test_it_lets_only_hr_change_the_settings(org, ready_cycle, executive, manager):
    url = act(ready_cycle, "settings")
    assert client_for(executive).get(url).status_code == 200
    assert client_for(manager).get(url).status_code == 403
    for user in (executive, manager):
        response = client_for(user).patch(url, {"appeal_days": 1, "version": 1})
        assert response.status_code == 403
    assert CycleSettings.objects.get(cycle=ready_cycle).appeal_days == 14


def test_it_documents_the_appraisal_endpoints_in_the_schema(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    expected = {
        "/api/v1/cycles/{id}/launch/": {"post"},
        "/api/v1/cycles/{id}/launches/": {"get"},
        "/api/v1/cycles/{id}/blockers/": {"get"},
        "/api/v1/cycles/{id}/advance/": {"post"},
        "/api/v1/cycles/{id}/settings/": {"get", "patch"},
        "/api/v1/appraisals/": {"get", "post"},
        "/api/v1/appraisals/{id}/": {"get"},
        "/api/v1/reviews/": {"get"},
        "/api/v1/reviews/{id}/": {"get", "patch"},
        "/api/v1/reviews/{id}/submit/": {"post"},
        "/api/v1/reviews/{id}/return/": {"post"},
        "/api/v1/calibration-sessions/": {"get", "post"},
        "/api/v1/calibration-sessions/{id}/close/": {"post"},
        "/api/v1/calibration-sessions/{id}/participants/": {"put"},
        "/api/v1/calibration-adjustments/": {"get", "post"},
        "/api/v1/appeals/": {"get"},
        "/api/v1/appeals/{id}/resolve/": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) - {"parameters"} == methods, path
    refusal = paths["/api/v1/cycles/{id}/advance/"]["post"]["responses"]["409"]
    assert refusal["content"]["application/json"]["schema"]["$ref"].endswith("AdvanceRefusal")
