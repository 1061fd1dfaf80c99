"""No 500 anywhere: whatever a client sends, the answer is a 4xx it can act on."""

import pytest
from rest_framework.test import APIClient

from tests.factories import CycleFactory

GARBAGE = [
    ("[1, 2, 3]", "application/json"),
    ('"just a string"', "application/json"),
    ("{not json", "application/json"),
    ("null", "application/json"),
    ("42", "application/json"),
    (
        '{"code": "A\\u0000B", "name": {"x": 1}, "parent": [1], "head": true, '
        '"title": null, "department": -1, "grade": 5, "version": 1.5}',
        "application/json",
    ),
    (
        '{"name": "\\u0000", "period_start": 20260101, "period_end": "2026-13-45", '
        '"rating_scale": "1 OR 1=1", "deadlines": "soon", "levels": {"value": 1}, '
        '"version": "1"}',
        "application/json",
    ),
    ("version=1&department=x&hire_date=", "application/x-www-form-urlencoded"),
    ("<xml/>", "application/xml"),
]


@pytest.fixture
def urls(org):
    cycle = CycleFactory()
    return {
        "departments": org.sales.pk,
        "positions": org.position.pk,
        "employees": org.employee.pk,
        "cycles": cycle.pk,
        "rating-scales": cycle.rating_scale.pk,
    }


@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_it_never_answers_garbage_with_a_500(urls, hr_admin, body, content_type):
    client = APIClient()
    client.force_login(hr_admin)
    for resource, pk in urls.items():
        collection, record = f"/api/v1/{resource}/", f"/api/v1/{resource}/{pk}/"
        response = client.post(collection, body, content_type=content_type)
        assert response.status_code in (400, 415), (resource, response.content)
        response = client.put(record, body, content_type=content_type)
        assert response.status_code in (400, 405, 415), (resource, response.content)
        # A PATCH may carry nothing this resource knows, which changes nothing.
        response = client.patch(record, body, content_type=content_type)
        assert response.status_code in (200, 400, 405, 415), (resource, response.content)


@pytest.mark.parametrize(
    "query",
    [
        {"search": "\x00"},
        {"search": "a" * 5000},
        {"ordering": "user__password"},
        {"ordering": "\x00"},
        {"page": "last"},
        {"page": "-1"},
        {"page_size": "many"},
        {"department": "\x00"},
        {"status": "\x00"},
        {"parent": str(10**30)},
    ],
)
def test_it_never_answers_a_strange_query_with_a_500(urls, hr_admin, query):
    client = APIClient()
    client.force_login(hr_admin)
    for resource in urls:
        response = client.get(f"/api/v1/{resource}/", query)
        assert response.status_code in (200, 400, 404), (resource, response.content)
