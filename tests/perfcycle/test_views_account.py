"""Log in and out, lockout, password reset and change, profile language, language switch."""

import re

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _company(org):
    """Every test here logs in as one of the personas (password: factories.PASSWORD)."""
    return org


def log_in(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


# --- log in, log out, lockout ---------------------------------------------------------


def test_it_shows_the_login_form_with_its_labels(client, db):
    html = client.get(reverse("login")).content.decode()
    assert re.search(r"<label for=\"id_username\">E-mail address</label>", html)
    assert re.search(r"<label for=\"id_password\">Password</label>", html)
    assert ">Log in</button>" in html
    assert reverse("password_reset") in html


def test_it_logs_in_with_email_and_password(client, employee):
    response = log_in(client, "EMPLOYEE@example.com", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_it_refuses_a_wrong_password_and_keeps_the_address(client, employee):
    response = log_in(client, "employee@example.com", "wrong")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="error-summary"' in html and "correct e-mail address and password" in html
    assert 'value="employee@example.com"' in html


def test_it_locks_out_a_username_from_one_address_after_too_many_failures(
    client, employee, peer, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert log_in(client, "employee@example.com", "wrong").status_code == 200
    locked = log_in(client, "employee@example.com", "wrong")
    assert locked.status_code == 429
    # Even the right password is refused during the cool-off, with a clear message.
    locked = log_in(client, "employee@example.com", PASSWORD)
    html = locked.content.decode()
    assert locked.status_code == 429
    assert "Too many failed log-in attempts" in html
    assert "blocked for 15 minutes" in html
    assert reverse("password_reset") in html
    # A colleague behind the same office address still gets in.
    assert log_in(client, "peer@example.com", PASSWORD).status_code == 302


def test_it_logs_out_with_a_post_only(client, employee):
    client.force_login(employee)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


# --- password reset and change --------------------------------------------------------


def test_it_sends_a_password_reset_email_with_text_and_html(client, employee):
    response = client.post(reverse("password_reset"), {"email": "Employee@Example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["employee@example.com"]
    assert message.subject == "Reset your perfcycle password"
    link = re.search(r"http://testserver(/reset/[^/\s]+/[^/\s]+/)", message.body).group(1)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and link in html and "<a href=" in html

    # The link leads to a form that sets the new password.
    form_url = client.get(link)["Location"]
    new = "a brand new passphrase 42"
    done = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert done["Location"] == reverse("password_reset_complete")
    employee.refresh_from_db()
    assert employee.check_password(new)


def test_it_lets_someone_imported_without_a_password_set_one(client, db):
    user = UserFactory(email="new@example.com")
    user.set_unusable_password()
    user.save()
    client.post(reverse("password_reset"), {"email": "new@example.com"})
    assert [m.to for m in mail.outbox] == [["new@example.com"]]


def test_it_reveals_nothing_for_an_unknown_or_inactive_address(client, db):
    UserFactory(email="gone@example.com", is_active=False)
    for email in ("nobody@example.com", "gone@example.com"):
        response = client.post(reverse("password_reset"), {"email": email})
        assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_it_changes_the_password_of_a_logged_in_person(client, employee):
    client.force_login(employee)
    assert client.get(reverse("password_change")).status_code == 200
    new = "another long passphrase 7"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == reverse("password_change_done")
    employee.refresh_from_db()
    assert employee.check_password(new)


def test_it_asks_for_the_old_password_before_changing_it(client, employee):
    client.force_login(employee)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "x" * 12, "new_password2": "x" * 12},
    )
    assert response.status_code == 200 and 'class="error-summary"' in response.content.decode()
    assert client.get(reverse("password_change")).status_code == 200
    client.logout()
    assert client.get(reverse("password_change")).status_code == 302


# --- profile and language -------------------------------------------------------------


def test_it_shows_my_profile_with_a_language_choice(client, employee):
    client.force_login(employee)
    html = client.get(reverse("profile")).content.decode()
    assert "Emil Employee" in html and "employee@example.com" in html
    assert reverse("password_change") in html
    assert 'name="language"' in html and 'value="zh-hans"' in html


def test_it_saves_the_language_chosen_in_the_profile(client, employee):
    client.force_login(employee)
    response = client.post(reverse("profile"), {"language": "zh-hans"})
    assert response["Location"] == reverse("profile")
    employee.refresh_from_db()
    assert employee.language == "zh-hans"
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert '<html lang="zh-hans"' in client.get(reverse("home")).content.decode()

    # Back to following the browser.
    client.post(reverse("profile"), {"language": ""})
    employee.refresh_from_db()
    assert employee.language == ""


def test_it_refuses_an_unknown_language_in_the_profile(client, employee):
    client.force_login(employee)
    response = client.post(reverse("profile"), {"language": "klingon"})
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()
    employee.refresh_from_db()
    assert employee.language == ""


def test_it_guards_the_profile(client, employee):
    assert client.get(reverse("profile"))["Location"].startswith(reverse("login"))
    client.force_login(employee)
    assert client.put(reverse("profile")).status_code == 405


def test_it_switches_the_language_and_remembers_it_on_the_user(client, employee):
    client.force_login(employee)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/people/"})
    assert response.status_code == 302 and response["Location"] == "/people/"
    employee.refresh_from_db()
    assert employee.language == "zh-hans"
    page = client.get("/people/")
    assert '<html lang="zh-hans"' in page.content.decode()
    assert page["Content-Language"] == "zh-hans"
    # It follows the person to another browser (a fresh session, no cookie).
    other = client.__class__()
    other.force_login(employee)
    assert '<html lang="zh-hans"' in other.get(reverse("home")).content.decode()


def test_it_switches_the_language_before_logging_in_with_a_cookie(client, db):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/login/"})
    assert response["Location"] == "/login/"
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert '<html lang="zh-hans"' in client.get(reverse("login")).content.decode()


@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com/x", ""])
def test_it_never_redirects_a_language_switch_off_site(target, client, employee):
    client.force_login(employee)
    response = client.post(reverse("set_language"), {"language": "en", "next": target})
    assert response["Location"] == reverse("home")


def test_it_refuses_a_language_switch_by_get_or_to_an_unknown_language(client, employee):
    client.force_login(employee)
    assert client.get(reverse("set_language"), {"language": "en"}).status_code == 405
    assert client.post(reverse("set_language"), {"language": "xx"}).status_code == 400
    employee.refresh_from_db()
    assert employee.language == ""
