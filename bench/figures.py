"""A figure of the benchmark, and the tools every measurement uses to take one.

A :class:`Figure` is one number the benchmark reports: the median of several timed runs
at one size, the SQL statements one run sends, and the baseline it is compared with,
measured in the same run (the ratio is the figure divided by its baseline). A goal, when
the issues set one, says whether the figure meets it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection


@dataclass
class Figure:
    name: str
    size: int
    median: float
    unit: str  # "ms" or "s"
    runs: int
    queries: int | None = None
    baseline: str | None = None  # what the baseline is, in words
    baseline_median: float | None = None  # in ``unit``
    ratio: float | None = None
    goal: str | None = None
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def compare(self, baseline: str, baseline_median: float) -> Figure:
        """Set the baseline (in this figure's unit) and the ratio."""
        self.baseline, self.baseline_median = baseline, baseline_median
        self.ratio = self.median / baseline_median if baseline_median else None
        return self

    def aim(self, goal: str, met: bool | None) -> Figure:
        self.goal, self.met = goal, met
        return self

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("median", "baseline_median"):
            if data[key] is not None:
                data[key] = round(data[key], 4 if self.unit == "s" else 2)
        if data["ratio"] is not None:
            data["ratio"] = round(data["ratio"], 3)
        return data


# --- timing ---------------------------------------------------------------------------

SCALE = {"s": 1.0, "ms": 1000.0}


def median(samples: list[float], unit: str) -> float:
    """The median of ``samples`` (seconds) in ``unit``."""
    return statistics.median(samples) * SCALE[unit]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def sample(fn: Callable[[], Any], *, runs: int, warmup: int = 1) -> list[float]:
    """Seconds of ``runs`` calls after ``warmup`` untimed ones (caches, templates,
    translations and fonts are loaded by then)."""
    for _ in range(warmup):
        fn()
    return [timed(fn)[0] for _ in range(runs)]


# --- queries --------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


@dataclass
class Queries:
    """What :func:`count_queries` saw: the number of statements, and with ``keep`` each
    statement with its parameters and time."""

    count: int = 0
    statements: list[Statement] = field(default_factory=list)

    def slowest(self) -> Statement | None:
        return max(self.statements, key=lambda s: s.seconds, default=None)


@contextmanager
def count_queries(*, keep: bool = False) -> Iterator[Queries]:
    """Count the SQL statements sent on the default connection (a query log would be
    capped at 9,000 entries and slow every statement down; this wrapper is neither)."""
    seen = Queries()

    def wrapper(execute, sql, params, many, context):
        seen.count += 1
        if not keep:
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if not many:
                seen.statements.append(Statement(sql, params, time.perf_counter() - started))

    with connection.execute_wrapper(wrapper):
        yield seen


def replay(statement: Statement) -> None:
    """Send one recorded statement again and read all its rows."""
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        if cursor.description is not None:
            cursor.fetchall()
