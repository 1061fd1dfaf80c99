"""The benchmark (``make bench``, ``bench/``) run at a tiny size, so that its code cannot
rot: every measurement once, on the test database, with the packet batch rendered in
this process. The figures themselves mean nothing at this size; their shape does."""

import json

import pytest

from bench import load
from bench.figures import Figure
from bench.pages import PAGES
from bench.run import MEASUREMENTS, compare_sizes, report, run_bench, table

SIZE = 30
FIELDS = {
    "name",
    "size",
    "median",
    "unit",
    "runs",
    "queries",
    "baseline",
    "baseline_median",
    "ratio",
    "goal",
    "met",
    "extra",
}


@pytest.fixture
def bench_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.DEMO_PASSWORD = "perfcycle-demo"
    return settings


@pytest.mark.django_db
def test_every_measurement_gives_a_figure_with_its_baseline(bench_settings):
    figures = run_bench(
        sizes=[SIZE],
        runs=1,
        heavy_runs=1,
        # The load run serves the database to gunicorn, which cannot see a test's data.
        only=[m.name for m in MEASUREMENTS if m.name != "load"],
        pool="inline",
        session_people=8,
        batch_packets=3,
        log=lambda message: None,
    )
    data = json.loads(json.dumps(report(figures, sizes=[SIZE], runs=1, heavy_runs=1)))
    for figure in figures:
        assert figure.ratio == figure.median / figure.baseline_median

    by_name = {figure["name"]: figure for figure in data["figures"]}
    expected = {"org_import", "seeding", "pdf_packet", "launch", "reminders", "pdf_batch_w1"}
    assert set(by_name) == expected | {page.name for page in PAGES}
    for figure in data["figures"]:
        assert set(figure) == FIELDS, figure["name"]
        assert figure["size"] == SIZE and figure["runs"] == 1
        assert figure["median"] > 0 and figure["baseline_median"] > 0, figure["name"]
        if figure["name"] != "pdf_batch_w1":  # rendered by a worker: not counted here
            assert figure["queries"] > 0, figure["name"]

    for page in PAGES:
        assert by_name[page.name]["unit"] == "ms"
        assert by_name[page.name]["goal"] == "median < 150 ms"

    launch = by_name["launch"]
    assert launch["extra"]["appraisals"] == SIZE
    reminders = by_name["reminders"]["extra"]
    assert reminders["by_event"]["deadline_near"] == SIZE  # everyone's self-review is open
    assert reminders["emails"] == reminders["notices"]
    assert by_name["reminders"]["met"] is True  # one connection per e-mail batch
    packet = by_name["pdf_packet"]["extra"]
    assert packet["pages"] == packet["static_pages"] >= 1
    batch = by_name["pdf_batch_w1"]["extra"]
    assert batch["packets"] == sum(batch["departments"].values()) >= 3

    printed = table(figures)
    assert all(name in printed for name in by_name)


def test_a_page_is_told_when_its_queries_differ_between_sizes():
    def page(size, queries):
        return Figure("team_goals", size, 20.0, "ms", 5, queries).aim("median < 150 ms", True)

    same = [page(10_000, 18), page(50_000, 18)]
    grows = [page(10_000, 18), page(50_000, 21)]
    compare_sizes(same + grows[:0])
    compare_sizes(grows)

    assert [f.met for f in same] == [True, True]
    assert [f.met for f in grows] == [False, False]
    assert grows[0].goal == "median < 150 ms; same queries at every size"
    assert grows[1].extra["queries_by_size"] == {"10000": 18, "50000": 21}


def test_the_load_runs_baseline_page_sends_one_query(client, settings, db):
    """The load run's trivial page (bench/urls.py): one query, a rendered template."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.load import TRIVIAL_PATH
    from tests.factories import DepartmentFactory

    settings.ROOT_URLCONF = "bench.urls"
    DepartmentFactory(name="Headquarters")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(TRIVIAL_PATH)
    assert response.status_code == 200
    assert b"<p>Headquarters</p>" in response.content
    assert len(queries) == 1


def test_the_load_run_reads_wrks_summary():
    from bench.load import parse_summary

    output = (
        "Running 20s test @ http://127.0.0.1:8000\n"
        'BENCH {"requests": 1000, "duration_us": 20000000, "p50_us": 41000, '
        '"p95_us": 90000, "p99_us": 120000, "socket_errors": 0, "non_2xx": 0}\n'
    )

    stats = parse_summary(output)

    assert stats["rps"] == 50.0 and stats["p95_us"] == 90000
    assert parse_summary("wrk: connection refused\n") is None


@pytest.mark.parametrize(
    ("non_2xx", "socket_errors", "void"),
    [(0, 0, False), (0, 1, False), (0, 2, False), (0, 3, True), (1, 0, True)],
)
def test_a_load_run_is_void_on_failing_answers_not_on_a_reset_connection(
    non_2xx, socket_errors, void
):
    stats = {"requests": 1000, "non_2xx": non_2xx, "socket_errors": socket_errors}
    assert load.failing(stats) is void
