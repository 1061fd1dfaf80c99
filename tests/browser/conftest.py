"""Browser tests: Playwright's sync API driving Debian's Chromium against live_server.

Chromium is the system package (``apt-get install chromium``); Playwright's own browser
downloads do not work here. A missing Chromium fails the tests with a clear message; it
never skips them.

Playwright's sync API keeps an asyncio event loop running in the main thread while it is
started, and Django refuses ORM calls from a thread with a running loop. The ORM calls in
these tests are ordinary synchronous ones (fixtures, the live server's own thread), so
``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for exactly as long as Playwright runs: from the
first browser test of this package to the last.
"""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from perfcycle import demo

CHROMIUM = Path(os.environ.get("PERFCYCLE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_EMPLOYEES = 40
DEMO_SEED = 2
TIMEOUT_MS = 15_000
HOME = re.compile(r"^https?://[^/]+/$")
LOGIN = re.compile(r"^https?://[^/]+/login/(\?.*)?$")


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need it. "
            "Install it with `apt-get install chromium` (see the README's prerequisites).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
    except Exception as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageProblems:
    """Everything the page complained about: console errors, uncaught exceptions, CSP."""

    # Chromium reports a Content-Security-Policy violation as a console error; the
    # securitypolicyviolation listener below catches those it would not print.
    CSP_LISTENER = """
        document.addEventListener("securitypolicyviolation", (event) => {
            console.error(
                "CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI
            );
        });
    """

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))
        page.add_init_script(self.CSP_LISTENER)

    def _console(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        if message.type == "warning" and "Content Security Policy" not in message.text:
            return
        if message.location.get("url", "").endswith("/favicon.ico"):
            # The browser's own request, made once per browser and then remembered; the
            # icon has its own test (test_it_serves_an_icon) so that it fails every time.
            return
        self.messages.append(f"console {message.type}: {message.text} ({message.location})")

    def assert_none(self) -> None:
        assert not self.messages, "the page reported problems:\n" + "\n".join(self.messages)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = PageProblems(page)
    yield page
    context.close()
    # Every browser test also proves its pages ran without console errors or CSP blocks.
    page.problems.assert_none()


@pytest.fixture
def company(transactional_db, live_server):
    """A small seeded company: the demo logins, their roles, a running cycle."""
    call_command("seed_demo", employees=DEMO_EMPLOYEES, seed=DEMO_SEED, stdout=StringIO())
    return demo


def log_in(page, email: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(HOME)


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(LOGIN)
