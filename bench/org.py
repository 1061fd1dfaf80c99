"""Seeding the demo company, and the organisation import.

* ``seeding``: ``seed_demo --employees N`` into an empty database (the organisation
  through the import, the goals cascade with its check-ins, the cycle launched and left
  in manager review), beside ``seed_demo --no-goals`` (the organisation and the cycle
  only). The full demo stays in the database for the figures that follow.
* ``org_import``: the organisation CSV of 10,000 people imported into an empty
  organisation, as ``manage.py import_org FILE`` does, beside the same file imported a
  second time (read, checked and compared; nothing to write).
"""

from __future__ import annotations

import csv
import io

from perfcycle import demo
from perfcycle.org_import import CSV_COLUMNS, import_org_file

from .figures import Figure, count_queries, median, timed
from .scenario import empty_database, seed

IMPORT_ROWS = 10_000
IMPORT_SEED = 2


def measure_seeding(ctx) -> list[Figure]:
    full, bare = [], []
    queries = 0
    for _ in range(ctx.heavy_runs):
        empty_database()
        bare.append(timed(lambda: seed(ctx.size, goals=False))[0])
        empty_database()
        with count_queries() as counted:
            full.append(timed(lambda: seed(ctx.size))[0])
        queries = counted.count
    figure = Figure(
        name="seeding",
        size=ctx.size,
        median=median(full, "s"),
        unit="s",
        runs=len(full),
        queries=queries,
    ).compare("seed_demo --no-goals (the organisation and the cycle only)", median(bare, "s"))
    ctx.log(f"seeding: {figure.median:.1f} s ({figure.baseline_median:.1f} s without goals)")
    return [figure]


def org_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _import(content: bytes):
    outcome = import_org_file(actor=None, file=io.BytesIO(content), filename="bench.csv")
    if not outcome.ok:
        raise RuntimeError(f"The import refused the benchmark file: {outcome.errors[:3]}")
    return outcome


def measure_import(ctx) -> list[Figure]:
    rows = min(ctx.size, IMPORT_ROWS)
    content = org_csv(demo.generate_rows(employees=rows, seed=IMPORT_SEED))
    first, again = [], []
    queries = 0
    for _ in range(ctx.runs):
        empty_database()
        with count_queries() as counted:
            seconds, outcome = timed(lambda: _import(content))
        first.append(seconds)
        queries = counted.count
        if outcome.created != rows:
            raise RuntimeError(f"The import created {outcome.created} people, not {rows}.")
        again.append(timed(lambda: _import(content))[0])
    empty_database()
    figure = Figure(
        name="org_import",
        size=rows,
        median=median(first, "s"),
        unit="s",
        runs=len(first),
        queries=queries,
        extra={"bytes": len(content)},
    ).compare("the same file again (nothing changes)", median(again, "s"))
    ctx.log(f"org_import: {figure.median:.2f} s, {queries} queries")
    return [figure]
