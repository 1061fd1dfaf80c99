"""Which measurements there are, running them at each size, and the report.

Each :class:`Measurement` is a function of the :class:`Context` that returns figures.
One that needs the empty database (the import) runs first, at the first size only;
``seeding`` leaves the demo seeded; the rest run on the seeded demo. A run that leaves
``seeding`` out reuses a database already seeded at the size.
"""

from __future__ import annotations

import json
import os
import platform
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.utils import timezone

from . import cycles, load, org, pages, pdf
from .figures import Figure
from .scenario import (
    BATCH_PACKETS,
    SESSION_PEOPLE,
    Scenario,
    empty_database,
    gather_statistics,
    scenario_for,
    seed,
    seeded_at,
)


@dataclass
class Context:
    size: int
    runs: int  # timed runs of each figure
    heavy_runs: int  # of the figures that take minutes: seeding and packet batches
    pool: str = "celery"  # who renders packet batches: "celery" workers, or "inline"
    pages: frozenset[str] | None = None  # only these pages (None: all)
    session_people: int = SESSION_PEOPLE
    batch_packets: int = BATCH_PACKETS
    log: Callable[[str], None] = print
    scenario: Scenario | None = None


EMPTY, SEEDS, DEMO = "empty", "seeds", "demo"


@dataclass(frozen=True)
class Measurement:
    name: str
    measure: Callable[[Context], list[Figure]]
    needs: str = DEMO  # EMPTY: the empty database (first size only); SEEDS: seeds the demo


MEASUREMENTS = [
    Measurement("org_import", org.measure_import, needs=EMPTY),
    Measurement("seeding", org.measure_seeding, needs=SEEDS),
    Measurement("pages", pages.measure_pages),
    # Against gunicorn and wrk; the smoke test leaves it out (tests/test_bench_smoke.py).
    Measurement("load", load.measure_load),
    Measurement("pdf_packet", pdf.measure_packet),
    Measurement("launch", cycles.measure_launch),
    Measurement("reminders", cycles.measure_reminders),
    Measurement("pdf_batch", pdf.measure_batches),
]
PAGE_NAMES = {page.name for page in pages.PAGES}


def choose(only: list[str] | None) -> tuple[list[Measurement], frozenset[str] | None]:
    """The measurements ``only`` names (measurement or page names; all when empty), and
    the pages to time (None: all)."""
    if not only:
        return MEASUREMENTS, None
    known = {m.name for m in MEASUREMENTS} | PAGE_NAMES
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(f"Unknown: {', '.join(unknown)}. Choose from: {', '.join(sorted(known))}")
    chosen_pages = frozenset(name for name in only if name in PAGE_NAMES)
    names = set(only) | ({"pages"} if chosen_pages else set())
    page_filter = chosen_pages if chosen_pages and "pages" not in only else None
    return [m for m in MEASUREMENTS if m.name in names], page_filter


def run_bench(
    *,
    sizes: list[int],
    runs: int,
    heavy_runs: int,
    only: list[str] | None = None,
    pool: str = "celery",
    session_people: int = SESSION_PEOPLE,
    batch_packets: int = BATCH_PACKETS,
    log: Callable[[str], None] = print,
    taken: Callable[[list[Figure]], None] = lambda figures: None,
) -> list[Figure]:
    """Every chosen measurement at each size; ``taken`` gets the figures so far after
    each measurement (a run stopped half-way keeps them)."""
    measurements, page_filter = choose(only)
    figures: list[Figure] = []

    def measure(m: Measurement, ctx: Context) -> None:
        figures.extend(m.measure(ctx))
        taken(figures)

    for index, size in enumerate(sizes):
        ctx = Context(
            size=size,
            runs=runs,
            heavy_runs=heavy_runs,
            pool=pool,
            pages=page_filter,
            session_people=session_people,
            batch_packets=batch_packets,
            log=lambda message, size=size: log(f"[{size}] {message}"),
        )
        for m in measurements:
            if m.needs == EMPTY and index == 0:
                measure(m, ctx)
        on_demo = [m for m in measurements if m.needs in (SEEDS, DEMO)]
        if not on_demo:
            continue
        seeding = [m for m in on_demo if m.needs == SEEDS]
        for m in seeding:
            measure(m, ctx)
        if not seeding and not seeded_at(size):
            ctx.log("seeding the demo (not timed)")
            empty_database()
            seed(size)
        ctx.scenario = scenario_for(
            size, session_people=session_people, batch_packets=batch_packets
        )
        # After the scenario, which may open the calibration session of 2,000 people.
        gather_statistics()
        for m in on_demo:
            if m.needs == DEMO:
                measure(m, ctx)
    compare_sizes(figures)
    return figures


def compare_sizes(figures: list[Figure]) -> None:
    """A page sends the same statements at every size: add that to its goal."""
    by_page = defaultdict(list)
    for figure in figures:
        if figure.name in PAGE_NAMES:
            by_page[figure.name].append(figure)
    for same_page in by_page.values():
        if len(same_page) < 2:
            continue
        counts = {str(f.size): f.queries for f in same_page}
        same = len(set(counts.values())) == 1
        for figure in same_page:
            figure.extra["queries_by_size"] = counts
            figure.aim(f"{figure.goal}; same queries at every size", figure.met and same)


# --- the report -------------------------------------------------------------------------


def report(figures: list[Figure], *, sizes: list[int], runs: int, heavy_runs: int) -> dict:
    return {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            # Other work on the machine skews the figures: the load when they were taken.
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "python": platform.python_version(),
            "database": f"{connection.vendor} {_server_version()}",
        },
        "sizes": sizes,
        "runs": runs,
        "heavy_runs": heavy_runs,
        "figures": [figure.as_json() for figure in figures],
    }


def _server_version() -> str:
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0].split()[0]


def write_report(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def table(figures: list[Figure]) -> str:
    """The figures as a plain-text table."""
    rows = [("figure", "size", "median", "queries", "baseline", "ratio", "goal", "met")]
    for f in figures:
        rows.append(
            (
                f.name,
                f"{f.size:,}",
                _amount(f.median, f.unit),
                "" if f.queries is None else str(f.queries),
                "" if f.baseline_median is None else _amount(f.baseline_median, f.unit),
                "" if f.ratio is None else f"{f.ratio:.2f}",
                f.goal or "",
                {True: "yes", False: "NO", None: ""}[f.met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 2, 3, 4, 5}
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _amount(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f} {unit}"
