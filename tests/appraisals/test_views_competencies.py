"""The competency library page: HR lists and adds competencies."""

import pytest

from appraisals.models import Competency

URL = "/appraisals/competencies/"


def test_hr_adds_a_competency_and_the_history_keeps_who(client, hr_admin):
    client.force_login(hr_admin)
    response = client.post(URL, {"name": "Resilience", "description": "Keeps going."})
    assert response.status_code == 302
    competency = Competency.objects.get(name="Resilience")
    assert competency.history.get().history_user == hr_admin
    page = client.get(URL)
    assert page.status_code == 200 and "Resilience" in page.content.decode()


def test_a_duplicate_name_is_refused_on_the_form_and_the_input_kept(client, hr_admin):
    Competency.objects.create(name="Teamwork")
    client.force_login(hr_admin)
    response = client.post(URL, {"name": "Teamwork", "description": "Typed text"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "field-error" in html and "Typed text" in html
    assert Competency.objects.filter(name="Teamwork").count() == 1


def test_a_missing_name_is_refused(client, hr_admin):
    client.force_login(hr_admin)
    assert client.post(URL, {"name": " "}).status_code == 400
    assert not Competency.objects.exists()


@pytest.mark.parametrize("persona", ["manager", "employee", "executive", "outsider"])
def test_only_hr_uses_the_page(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "Sneaky"}).status_code == 403
    assert not Competency.objects.exists()


def test_the_page_needs_a_login(client, db):
    assert client.get(URL).status_code == 302


def test_other_methods_are_refused(client, hr_admin):
    client.force_login(hr_admin)
    assert client.delete(URL).status_code == 405
