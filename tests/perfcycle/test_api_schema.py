"""The OpenAPI schema, the Swagger UI page under our Content-Security-Policy, and the
API as a browser sees it."""

import re

import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CycleFactory

SCHEMA_URL = "/api/schema/"
DOCS_URL = "/api/docs/"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_it_generates_a_valid_schema_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = set(schema["paths"])
    assert {
        "/api/v1/departments/",
        "/api/v1/departments/{id}/",
        "/api/v1/positions/",
        "/api/v1/employees/",
        "/api/v1/employees/{id}/",
        "/api/v1/cycles/",
        "/api/v1/rating-scales/",
        "/api/v1/me/",
        "/api/v1/auth/token/",
    } <= paths
    # No DELETE for the organisation: records are deactivated or restructured, never
    # removed. Only a goal still in draft (or a check-in recorded by mistake) is deleted.
    deletable = {path for path, operations in schema["paths"].items() if "delete" in operations}
    assert deletable == {"/api/v1/goals/{id}/", "/api/v1/checkins/{id}/"}
    assert "delete" not in schema["paths"]["/api/v1/employees/{id}/"]
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_it_serves_the_schema(db):
    response = Client().get(SCHEMA_URL, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "perfcycle API"


def test_it_serves_the_docs_without_inline_script(db):
    response = Client().get(DOCS_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="swagger-ui"' in html
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.findall(html)
    assert "<style" not in html
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_it_serves_the_docs_start_up_script_as_a_file(db):
    html = Client().get(DOCS_URL).content.decode()
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert len(sources) == 3
    start_up = next(src for src in sources if "script=" in src)
    response = Client().get(start_up.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert SCHEMA_URL in response.content.decode()


def test_it_only_reads_the_docs(db):
    assert Client().post(DOCS_URL).status_code == 405


def test_it_answers_a_browser_with_json_not_a_page_our_csp_would_break(org, hr_admin):
    cycle = CycleFactory()
    client = APIClient()
    client.force_login(hr_admin)
    pages = [
        "/api/v1/",
        "/api/v1/me/",
        "/api/v1/departments/",
        f"/api/v1/departments/{org.sales.pk}/",
        "/api/v1/positions/",
        f"/api/v1/positions/{org.position.pk}/",
        "/api/v1/employees/",
        f"/api/v1/employees/{org.employee.pk}/",
        "/api/v1/cycles/",
        f"/api/v1/cycles/{cycle.pk}/",
        "/api/v1/rating-scales/",
        f"/api/v1/rating-scales/{cycle.rating_scale.pk}/",
    ]
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for page in pages:
        response = client.get(page, HTTP_ACCEPT=browser_accept)
        assert response.status_code == 200, page
        assert response["Content-Type"] == "application/json", page
    assert client.get(pages[7], HTTP_ACCEPT=browser_accept).json()["email"] == (
        "employee@example.com"
    )
