"""The load run: many logged-in users on the most-opened pages at once, against gunicorn
with several worker processes on 127.0.0.1, driven by wrk for a fixed time.

Each run reports requests per second and the p50/p95/p99 latency (wrk's own latency
histogram, read out by ``LUA`` below). The baseline is a trivial page that sends one
query and renders a template (``bench/urls.py``), served by the same gunicorn in the
same run; the figure the issue sets a goal for is the team page's requests per second
over the trivial page's (at least 0.4, with p95 under 300 ms).

Users are logged in by creating their sessions in the database, as a login does; each
request takes the next session of its wrk thread's share, so the server sees many
different people (``USERS`` of each persona).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from perfcycle.models import Employee

from .figures import Figure

ROOT = Path(__file__).resolve().parent.parent
# On this 2-core machine: gunicorn's workers, wrk's threads and connections, seconds.
WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", 4))
THREADS, CONNECTIONS, DURATION = 2, 16, 20
USERS = 50
GOAL_RATIO, GOAL_P95_MS = 0.4, 300
# The share of requests whose connection may fail (reset, timeout) before a run is void.
MAX_SOCKET_ERRORS = 0.002
# Served by bench/urls.py, which only the load run's gunicorn loads.
TRIVIAL_PATH = "/bench/trivial/"

LUA = r"""
-- Each thread takes its share of the session cookies, and each request the next one.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  cookies = {}
  local all = {}
  for cookie in string.gmatch(os.getenv("BENCH_COOKIES") or "", "[^,]+") do
    table.insert(all, cookie)
  end
  local step = tonumber(os.getenv("BENCH_THREADS"))
  for i = id, #all, step do table.insert(cookies, all[i]) end
  paths = {}
  for p in string.gmatch(os.getenv("BENCH_PATHS"), "[^,]+") do table.insert(paths, p) end
  n = 0
end

function request()
  n = n + 1
  local headers = {["X-Forwarded-Proto"] = "https", ["Host"] = "127.0.0.1"}
  if #cookies > 0 then
    headers["Cookie"] = "sessionid=" .. cookies[(n % #cookies) + 1]
  end
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errors.connect + errors.read + errors.write + errors.timeout,
    errors.status))
end
"""


@dataclass(frozen=True)
class Load:
    """One wrk run: a name, the persona whose sessions it sends (None: no login), and
    the paths its requests cycle through."""

    name: str
    persona: str | None
    paths: tuple[str, ...]


class LoadError(RuntimeError):
    pass


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("The load run needs wrk: apt-get install wrk")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sessions(users) -> list[str]:
    """Log each user in (a session row, as a login writes) and return the cookies."""
    cookies = []
    for user in users:
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return cookies


def _people(scenario) -> dict[str, list]:
    """``USERS`` managers (with reports) and ``USERS`` employees of the seeded demo, the
    demo's own first."""
    User = get_user_model()
    managers = list(
        User.objects.filter(
            employee__in=Employee.objects.filter(reports__isnull=False), is_active=True
        )
        .exclude(pk=scenario.manager.pk)
        .distinct()
        .order_by("pk")[: USERS - 1]
    )
    employees = list(
        User.objects.filter(employee__reports__isnull=True, is_active=True)
        .exclude(pk=scenario.employee.pk)
        .order_by("pk")[: USERS - 1]
    )
    return {
        "manager": [scenario.manager, *managers],
        "employee": [scenario.employee, *employees],
    }


class Gunicorn:
    """gunicorn serving the bench database with production settings (DEBUG off)."""

    def __init__(self, env: dict[str, str]):
        self.port = _free_port()
        # Closed in stop(): the server outlives this method.
        self.log = tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log")  # noqa: SIM115
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "bench.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(WORKERS),
            "--timeout",
            "60",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"gunicorn stopped:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + TRIVIAL_PATH, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise LoadError(f"gunicorn did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def run_wrk(server: Gunicorn, load: Load, cookies: list[str], *, duration: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    try:
        result = subprocess.run(
            [
                _wrk(),
                f"-t{THREADS}",
                f"-c{CONNECTIONS}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                server.url,
            ],
            env={
                **os.environ,
                "BENCH_COOKIES": ",".join(cookies),
                "BENCH_THREADS": str(THREADS),
                "BENCH_PATHS": ",".join(load.paths),
            },
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    finally:
        os.unlink(script.name)
    stats = parse_summary(result.stdout) if result.returncode == 0 else None
    if stats is None:
        raise LoadError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    # A sync worker closes each connection; under load one may be reset now and then.
    # That is reported with the figure; more than a trace of them, or any answer that is
    # not 2xx, means the server is failing and the run stops.
    if failing(stats):
        raise LoadError(
            f"{load.name}: {stats['non_2xx']} answers not 2xx and {stats['socket_errors']} "
            f"socket errors under load; the server log:\n{server.output()}"
        )
    return stats


def failing(stats: dict) -> bool:
    """Whether a run's answers void it: any not 2xx, or connection errors beyond a trace."""
    return bool(stats["non_2xx"]) or stats["socket_errors"] > MAX_SOCKET_ERRORS * stats["requests"]


def parse_summary(output: str) -> dict | None:
    """The summary ``LUA`` prints at the end of wrk's output, with requests per second."""
    line = next((li for li in output.splitlines() if li.startswith("BENCH ")), None)
    if line is None:
        return None
    stats = json.loads(line.removeprefix("BENCH "))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def loads(scenario) -> list[Load]:
    cycle = scenario.cycle.pk
    return [
        Load("load_trivial", None, (TRIVIAL_PATH,)),
        Load("load_team_page", "manager", (reverse("home"),)),
        Load(
            "load_mixed",
            "mixed",
            (
                reverse("home"),
                f"{reverse('goals:team')}?cycle={cycle}",
                f"{reverse('goals:mine')}?cycle={cycle}",
                f"{reverse('appraisals:reviews')}?cycle={cycle}",
            ),
        ),
    ]


def _figure(load: Load, stats: dict, size: int, baseline_rps: float | None) -> Figure:
    figure = Figure(
        name=load.name,
        size=size,
        median=stats["rps"],
        unit="req/s",
        runs=1,
        extra={
            "paths": list(load.paths),
            "requests": stats["requests"],
            "socket_errors": stats["socket_errors"],
            "p50_ms": round(stats["p50_us"] / 1000, 1),
            "p95_ms": round(stats["p95_us"] / 1000, 1),
            "p99_ms": round(stats["p99_us"] / 1000, 1),
            "gunicorn_workers": WORKERS,
            "wrk": f"{THREADS} threads, {CONNECTIONS} connections, {DURATION} s",
            "users": USERS if load.persona else 0,
        },
    )
    if baseline_rps:
        figure.compare("the trivial one-query page, requests per second", baseline_rps)
    return figure


def measure_load(ctx) -> list[Figure]:
    scenario = ctx.scenario
    people = _people(scenario)
    cookies = {persona: _sessions(users) for persona, users in people.items()}
    # Managers and employees alike on the mixed run: every page the persona may open.
    cookies["mixed"] = cookies["manager"]
    connection.close()  # gunicorn's workers open their own
    env = {**os.environ}
    server = Gunicorn(env)
    figures = []
    try:
        baseline = None
        for load in loads(scenario):
            stats = run_wrk(server, load, cookies.get(load.persona, []), duration=DURATION)
            figure = _figure(load, stats, scenario.size, baseline)
            if load.persona is None:
                baseline = stats["rps"]
            elif load.name == "load_team_page":
                p95 = stats["p95_us"] / 1000
                figure.aim(
                    f"ratio >= {GOAL_RATIO}, p95 < {GOAL_P95_MS} ms",
                    figure.ratio is not None and figure.ratio >= GOAL_RATIO and p95 < GOAL_P95_MS,
                )
            ctx.log(
                f"{load.name}: {stats['rps']:.0f} req/s, p50 {stats['p50_us'] / 1000:.0f} ms, "
                f"p95 {stats['p95_us'] / 1000:.0f} ms, p99 {stats['p99_us'] / 1000:.0f} ms"
            )
            figures.append(figure)
    finally:
        server.stop()
    return figures
