"""The most-opened pages: server time and SQL statements per request, beside the time of
the page's main query alone.

A page is one entry in :data:`PAGES`: its name, the persona who opens it and its URL in
the seeded data. Each is requested through Django's test client, logged in as that
persona, once to warm up and then ``runs`` times; one more request records every
statement. The baseline is the page's main query alone: the entry's ``main_query`` when
it has one, else the slowest statement of the page, sent again on its own.

A later capability adds its pages here, one entry each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.test import Client
from django.urls import reverse

from goals import selectors as goal_selectors

from .figures import Figure, count_queries, median, replay, sample
from .scenario import Scenario

# The goal of issue 6 for every page, at 50,000 employees.
GOAL_MS = 150


@dataclass(frozen=True)
class Page:
    name: str
    persona: str  # a user of the Scenario: hr, executive, manager, employee, partner
    url: Callable[[Scenario], str]
    # The page's main query on its own; without one, the page's slowest statement.
    main_query: Callable[[Scenario], Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _url(name: str, *args, **params) -> str:
    url = reverse(name, args=args)
    return f"{url}?{urlencode(params)}" if params else url


def _api(resource: str, **params) -> str:
    return _url(f"api:{resource}-list", **params)


def _my_goals(s: Scenario):
    return list(goal_selectors.my_goals(user=s.employee, cycle=s.cycle)[:25])


def _team_goals(s: Scenario):
    return list(goal_selectors.team_goals(user=s.manager, cycle=s.cycle)[:25])


PAGES: list[Page] = [
    Page("employee_home", "employee", lambda s: _url("home")),
    Page("manager_home", "manager", lambda s: _url("home")),  # the manager's team
    Page("hr_home", "hr", lambda s: _url("home")),
    Page("my_goals", "employee", lambda s: _url("goals:mine", cycle=s.cycle.pk), _my_goals),
    Page("team_goals", "manager", lambda s: _url("goals:team", cycle=s.cycle.pk), _team_goals),
    Page("alignment_tree", "hr", lambda s: _url("goals:tree", cycle=s.cycle.pk)),
    Page("coverage", "hr", lambda s: _url("goals:coverage", cycle=s.cycle.pk)),
    Page("cycle_dashboard", "hr", lambda s: _url("appraisals:dashboard", s.cycle.pk)),
    Page("cycle_appraisals", "hr", lambda s: _url("appraisals:cycle_appraisals", s.cycle.pk)),
    Page("reviews_to_write", "manager", lambda s: _url("appraisals:reviews", cycle=s.cycle.pk)),
    Page(
        "manager_review",
        "manager",
        lambda s: _url("appraisals:manager_review", s.review_appraisal.pk),
    ),
    Page("calibration_session", "hr", lambda s: _url("appraisals:session", s.session.pk)),
    Page("department_results", "hr", lambda s: _url("appraisals:department_results", s.cycle.pk)),
    Page("directory", "employee", lambda s: _url("directory")),
    # The first page of the API lists behind the pages above.
    Page(
        "api_my_goals",
        "employee",
        lambda s: _api("goal", cycle=s.cycle.pk, employee=s.employee.employee.pk),
    ),
    Page("api_team_goals", "manager", lambda s: _api("goal", cycle=s.cycle.pk)),
    Page("api_employees", "hr", lambda s: _api("employee")),
    Page("api_appraisals", "hr", lambda s: _api("appraisal", cycle=s.cycle.pk)),
    Page("api_reviews", "manager", lambda s: _api("review", cycle=s.cycle.pk)),
    Page("api_session_appraisals", "hr", lambda s: _api("appraisal", session=s.session.pk)),
]


class PageError(RuntimeError):
    pass


def measure_page(page: Page, scenario: Scenario, *, runs: int) -> Figure:
    client = Client()
    client.force_login(getattr(scenario, page.persona))
    url = page.url(scenario)

    def get():
        response = client.get(url, **page.headers)
        if response.status_code != 200:
            raise PageError(f"{page.name}: GET {url} answered {response.status_code}")
        return response

    timings = sample(get, runs=runs)
    with count_queries(keep=True) as queries:
        response = get()
    if page.main_query is not None:
        baseline = sample(lambda: page.main_query(scenario), runs=runs)
        baseline_name = f"{page.main_query.__name__.strip('_')} selector, first page"
        main_sql = None
    else:
        slowest = queries.slowest()
        baseline = sample(lambda: replay(slowest), runs=runs)
        baseline_name = "the page's slowest statement alone"
        main_sql = " ".join(slowest.sql.split())[:300]
    figure = Figure(
        name=page.name,
        size=scenario.size,
        median=median(timings, "ms"),
        unit="ms",
        runs=runs,
        queries=queries.count,
        extra={"url": url, "persona": page.persona, "bytes": len(response.content)},
    )
    if main_sql:
        figure.extra["main_query"] = main_sql
    figure.compare(baseline_name, median(baseline, "ms"))
    return figure.aim(f"median < {GOAL_MS} ms", figure.median < GOAL_MS)


def measure_pages(ctx) -> list[Figure]:
    figures = []
    for page in PAGES:
        if ctx.pages is not None and page.name not in ctx.pages:
            continue
        figure = measure_page(page, ctx.scenario, runs=ctx.runs)
        ctx.log(
            f"{page.name}: {figure.median:.1f} ms, {figure.queries} queries "
            f"(main query {figure.baseline_median:.1f} ms)"
        )
        figures.append(figure)
    return figures
