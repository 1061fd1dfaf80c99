"""/api/v1/auth/token/: e-mail and password for a token, throttled and watched by axes."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from perfcycle.models import Employee
from tests.factories import PASSWORD

URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # The throttle counts in the cache, which outlives a test; start each test at zero.
    key = "throttle_token_127.0.0.1"
    cache.delete(key)
    yield
    cache.delete(key)


@pytest.fixture
def known_password(hr_admin, employee):
    """The personas' password, hashed with the test hasher."""
    for user in (hr_admin, employee):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])


def obtain(email, password=PASSWORD):
    return APIClient().post(URL, {"email": email, "password": password}, format="json")


def test_it_gives_a_token_that_works_end_to_end(org, hr_admin, known_password):
    response = obtain("HR@example.com")
    assert response.status_code == 200, response.content
    token = response.json()["token"]

    client = APIClient()  # no session, no CSRF token: the token alone
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["email"] == "hr@example.com"
    response = client.post(
        "/api/v1/employees/",
        {
            "email": "token.made@example.com",
            "full_name": "Toby Token",
            "employee_number": "E0300",
            "department": org.sales_east.pk,
            "hire_date": "2026-04-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Employee.objects.filter(employee_number="E0300").exists()
    # The same person asking again gets the same token.
    assert obtain("hr@example.com").json()["token"] == token


def test_it_applies_the_access_policy_to_token_users(org, employee, known_password):
    token = obtain("employee@example.com").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rows = client.get("/api/v1/employees/").json()["results"]
    assert [row["employee_number"] for row in rows] == ["E0003"]
    assert client.get(f"/api/v1/employees/{org.peer.pk}/").status_code == 404
    response = client.patch(
        f"/api/v1/employees/{org.employee.pk}/", {"full_name": "Me", "version": 1}
    )
    assert response.status_code == 403


def test_it_refuses_a_wrong_password_and_axes_counts_it(org, employee, known_password):
    response = obtain("employee@example.com", "not the password")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    attempt = AccessAttempt.objects.get(username="employee@example.com")
    assert attempt.failures_since_start == 1


def test_it_locks_out_after_too_many_failures(org, employee, known_password):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert obtain("employee@example.com", "wrong").status_code == 400
    response = obtain("employee@example.com", "wrong")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    # Locked out: even the right password is refused until the cool-off ends.
    response = obtain("employee@example.com")
    assert response.status_code == 429
    assert "token" not in response.json()


def test_it_forgets_earlier_failures_after_a_success(org, employee, known_password):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        obtain("employee@example.com", "wrong")
    assert obtain("employee@example.com").status_code == 200
    assert not AccessAttempt.objects.filter(username="employee@example.com").exists()


def test_it_refuses_an_inactive_user(org, employee, known_password):
    employee.is_active = False
    employee.save(update_fields=["is_active"])
    assert obtain("employee@example.com").status_code == 400


def test_it_throttles_token_requests(org, hr_admin, known_password):
    for _ in range(20):
        assert obtain("hr@example.com").status_code == 200
    response = obtain("hr@example.com")
    assert response.status_code == 429
    # A forged forwarding header does not make a new client.
    client = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.9")
    response = client.post(URL, {"email": "hr@example.com", "password": PASSWORD})
    assert response.status_code == 429


@pytest.mark.parametrize(
    "data",
    [{}, {"email": "hr@example.com"}, {"email": "not an address", "password": "x"}, []],
)
def test_it_answers_incomplete_requests_with_field_errors(org, data):
    response = APIClient().post(URL, data, format="json")
    assert response.status_code == 400


def test_it_only_takes_post(db):
    assert APIClient().get(URL).status_code == 405


def test_it_refuses_a_made_up_token(org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/me/").status_code == 401


def test_it_asks_for_credentials_with_401(db):
    response = APIClient().get("/api/v1/employees/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_it_keeps_session_auth_for_the_browser(org, employee):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(employee)
    assert client.get("/api/v1/me/").status_code == 200
    # A change over a session needs the CSRF token, as any form in the app does.
    response = client.patch(f"/api/v1/employees/{employee.employee.pk}/", {"version": 1})
    assert response.status_code == 403
