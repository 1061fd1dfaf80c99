"""/api/v1/rating-scales/: HR defines scales with their levels; staff read them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from perfcycle.models import RatingScale
from tests.factories import RatingScaleFactory, UserFactory

URL = "/api/v1/rating-scales/"


def detail(scale) -> str:
    return f"{URL}{scale.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def scale(db):
    return RatingScaleFactory(name="Three points", levels=["Below", "Meets", "Above"])


THREE_LEVELS = [
    {"value": 1, "label": "Below", "description": ""},
    {"value": 2, "label": "Meets", "description": ""},
    {"value": 3, "label": "Above", "description": ""},
]


@pytest.mark.parametrize(
    "persona", ["hr_admin", "executive", "manager", "employee", "peer", "outsider"]
)
def test_it_shows_scales_with_their_levels_to_staff(request, scale, persona):
    client = client_for(request.getfixturevalue(persona))
    rows = client.get(URL).json()["results"]
    assert [row["name"] for row in rows] == ["Three points"]
    assert client.get(detail(scale)).json() == {
        "id": scale.pk,
        "name": "Three points",
        "description": "",
        "levels": THREE_LEVELS,
        "version": 1,
    }


def test_it_shows_nothing_to_a_user_without_an_employee_record(org, scale):
    client = client_for(UserFactory())
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(scale)).status_code == 404


def test_it_lists_with_the_same_number_of_queries_at_any_size(
    org, employee, scale, django_assert_num_queries
):
    client = client_for(employee)
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL).status_code == 200
    RatingScaleFactory.create_batch(10)
    with django_assert_num_queries(len(first)):
        assert len(client.get(URL).json()["results"]) == 11


def test_it_lets_hr_create_a_scale(org, hr_admin):
    data = {
        "name": "Four points",
        "description": "For engineering.",
        "levels": [
            {"value": 1, "label": "Low"},
            {"value": 2, "label": "Fair"},
            {"value": 3, "label": "Good", "description": "Meets every target."},
            {"value": 4, "label": "Great"},
        ],
    }
    response = client_for(hr_admin).post(URL, data, format="json")
    assert response.status_code == 201, response.content
    assert [level["label"] for level in response.json()["levels"]] == [
        "Low",
        "Fair",
        "Good",
        "Great",
    ]
    assert RatingScale.objects.get(name="Four points").levels.count() == 4


@pytest.mark.parametrize("persona", ["executive", "manager", "employee", "outsider"])
def test_it_refuses_a_new_scale_from_anyone_but_hr(request, org, persona):
    client = client_for(request.getfixturevalue(persona))
    data = {"name": "Mine", "levels": THREE_LEVELS}
    assert client.post(URL, data, format="json").status_code == 403
    assert not RatingScale.objects.filter(name="Mine").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "One", "levels": [{"value": 1, "label": "Only"}]}, "levels"),
        ({"name": "None", "levels": []}, "levels"),
        (
            {"name": "Twins", "levels": [{"value": 1, "label": "A"}, {"value": 1, "label": "B"}]},
            "levels",
        ),
        (
            {"name": "Echo", "levels": [{"value": 1, "label": "A"}, {"value": 2, "label": "a"}]},
            "levels",
        ),
        (
            {"name": "Words", "levels": [{"value": "high", "label": "A"}, {"value": 2}]},
            "levels",
        ),
        ({"name": "Negative", "levels": [{"value": -1, "label": "A"}]}, "levels"),
        ({"name": "Flat", "levels": "1,2,3"}, "levels"),
        ({"name": "Three points", "levels": THREE_LEVELS}, "name"),
        ({"levels": THREE_LEVELS}, "name"),
    ],
)
def test_it_answers_bad_input_with_field_errors(org, hr_admin, scale, data, field):
    response = client_for(hr_admin).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert RatingScale.objects.count() == 1


def test_it_keeps_a_scale_s_levels_as_they_were(org, hr_admin, scale):
    client = client_for(hr_admin)
    data = {"name": "Changed", "levels": THREE_LEVELS, "version": 1}
    response = client.put(detail(scale), data, format="json")
    assert response.status_code == 400 and "levels" in response.json()
    assert client.patch(detail(scale), data, format="json").status_code == 400
    assert client.delete(detail(scale)).status_code == 405
    scale.refresh_from_db()
    assert scale.name == "Three points"


def test_it_lets_hr_rename_a_scale_with_the_version_it_read(org, hr_admin, scale):
    client = client_for(hr_admin)
    response = client.patch(
        detail(scale), {"name": "Three-point scale", "version": scale.version}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Three-point scale"
    assert [level["label"] for level in response.json()["levels"]] == ["Below", "Meets", "Above"]
    stale = client.patch(detail(scale), {"name": "Late", "version": scale.version}, format="json")
    assert stale.status_code == 409
    assert client.patch(detail(scale), {"name": "No version"}, format="json").status_code == 400


@pytest.mark.parametrize("persona", ["executive", "manager", "employee"])
def test_it_refuses_a_rename_from_anyone_but_hr(request, scale, persona):
    client = client_for(request.getfixturevalue(persona))
    response = client.patch(detail(scale), {"name": "Mine", "version": 1}, format="json")
    assert response.status_code == 403
    scale.refresh_from_db()
    assert scale.name == "Three points"


def test_it_needs_a_login(scale):
    assert APIClient().get(URL).status_code in (401, 403)
