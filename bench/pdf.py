"""PDF review packets: one packet, and batches of them rendered by worker processes.

* ``pdf_packet``: the packet of a typical appraisal (self-review and manager review
  submitted), downloaded by HR through its page (the access checks, the queries, the
  section templates and WeasyPrint), beside WeasyPrint rendering the same document as a
  static HTML string: the packet's HTML rendered once, with its stylesheet written into
  it, so the length, the fonts and the page count are the same.
* ``pdf_batch_w1`` and ``pdf_batch_w2``: HR asks for the packets of departments holding
  500 appraisals together, one batch per department as the Review packets page does, and
  ``celery worker -Q pdf --concurrency 1`` (then 2) renders them; timed from the first
  request to the last ZIP ready. A batch is one task, rendered by one process: a second
  process helps only as far as there are batches to share. The one-process figure is
  compared with the same packets rendered one after another in this process, the
  two-process one with the one-process one.

With ``pool="inline"`` (the smoke test, or no broker) the batches are rendered in this
process, and only the one-process figure is taken.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

from django.core.files.storage import default_storage
from django.test import Client, TestCase
from django.urls import reverse
from weasyprint import HTML

from appraisals import packet
from appraisals.models import PacketBatch
from appraisals.services import packet_batch_request, packet_scope
from perfcycle.celery import app as celery_app
from perfcycle.models import Notification
from perfcycle.pdf import BASE_URL, find_static_file, static_name

from .cycles import celery_inline
from .figures import Figure, count_queries, median, sample, timed
from .scenario import packets_in

PACKET_GOAL = 1.5
WORKER_START_TIMEOUT = 60
BATCH_TIMEOUT = 30 * 60


# --- one packet -----------------------------------------------------------------------------


def measure_packet(ctx) -> list[Figure]:
    s = ctx.scenario
    appraisal = s.typical_appraisal
    client = Client()
    client.force_login(s.hr)
    url = reverse("appraisals:packet", args=[appraisal.pk])

    def download() -> bytes:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response.content

    timings = sample(download, runs=ctx.runs)
    with count_queries() as queries:
        pdf = download()
    document = static_html(packet.packet_html(appraisal, s.hr))
    static = sample(lambda: HTML(string=document).write_pdf(), runs=ctx.runs)
    figure = Figure(
        name="pdf_packet",
        size=s.size,
        median=median(timings, "ms"),
        unit="ms",
        runs=ctx.runs,
        queries=queries.count,
        extra={
            "appraisal": appraisal.pk,
            "pages": _pages(pdf),
            "static_pages": len(HTML(string=document).render().pages),
            "bytes": len(pdf),
        },
    ).compare(
        "WeasyPrint alone: the same document as static HTML, same fonts",
        median(static, "ms"),
    )
    figure.aim(f"ratio <= {PACKET_GOAL}", figure.ratio <= PACKET_GOAL)
    ctx.log(
        f"pdf_packet: {figure.median:.0f} ms, {figure.extra['pages']} pages "
        f"(WeasyPrint alone {figure.baseline_median:.0f} ms)"
    )
    return [figure]


STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


def static_html(html: str) -> str:
    """``html`` with each stylesheet it links to written into it: a document WeasyPrint
    renders without fetching anything."""

    def inline(match: re.Match) -> str:
        path = find_static_file(static_name(urljoin(BASE_URL, match.group(1))))
        return f"<style>{Path(path).read_text(encoding='utf-8')}</style>"

    return STYLESHEET.sub(inline, html)


def _pages(pdf: bytes) -> int:
    from pypdf import PdfReader  # a development dependency, as the benchmark is

    return len(PdfReader(io.BytesIO(pdf)).pages)


# --- batches ------------------------------------------------------------------------------


def measure_batches(ctx) -> list[Figure]:
    s = ctx.scenario
    departments = s.batch_departments
    packets = s.batch_packets
    # A run that stopped half-way left its batches "under way": they would refuse new ones.
    _clean_up(list(PacketBatch.objects.filter(cycle=s.cycle, requested_by=s.hr)))
    loop = [_render_one_by_one(s) for _ in range(ctx.heavy_runs)]
    pools = [1, 2] if ctx.pool == "celery" else [None]
    figures = []
    for processes in pools:
        runs = []
        for _ in range(ctx.heavy_runs):
            runs.append(_render_batches(s, departments, packets, processes=processes))
        figure = Figure(
            name=f"pdf_batch_w{processes or 1}",
            size=s.size,
            median=median(runs, "s"),
            unit="s",
            runs=len(runs),
            extra={
                "packets": packets,
                "batches": len(departments),
                "departments": {d.code: packets_in(s.cycle, [d]) for d in departments},
                "processes": processes or 1,
                "pool": ctx.pool,
                "seconds_per_packet": round(median(runs, "s") / packets, 4),
            },
        )
        if figures:
            figure.compare("the same batches with one worker process", figures[0].median)
        else:
            figure.compare("the same packets one by one in this process", median(loop, "s"))
        ctx.log(f"{figure.name}: {packets} packets in {figure.median:.1f} s")
        figures.append(figure)
    return figures


def _render_one_by_one(s) -> float:
    appraisals = packet.with_related(
        packet_scope(viewer=s.hr, cycle=s.cycle, department=None).filter(
            department__in=s.batch_departments
        )
    )
    seconds, _ = timed(lambda: [packet.render_packet(a, s.hr) for a in appraisals])
    return seconds


def _render_batches(s, departments, packets: int, *, processes: int | None) -> float:
    """Seconds from asking for one batch per department to the last ZIP being ready."""
    with _workers(processes):
        started = time.perf_counter()
        if processes is None:
            with celery_inline(), TestCase.captureOnCommitCallbacks(execute=True):
                ids = [_request(s, d) for d in departments]
        else:
            ids = [_request(s, d) for d in departments]
            _wait_for(ids)
        seconds = time.perf_counter() - started
    batches = list(PacketBatch.objects.filter(pk__in=ids))
    try:
        rendered = sum(b.rendered for b in batches)
        problems = [b.error or b.failed for b in batches if b.status != PacketBatch.Status.DONE]
        if problems or rendered != packets:
            raise RuntimeError(f"{rendered} of {packets} packets rendered: {problems}")
    finally:
        _clean_up(batches)
    return seconds


def _request(s, department) -> int:
    return packet_batch_request(actor=s.hr, cycle=s.cycle, department=department).pk


def _wait_for(ids: list[int]) -> None:
    unfinished = [PacketBatch.Status.QUEUED, PacketBatch.Status.RUNNING]
    deadline = time.monotonic() + BATCH_TIMEOUT
    while PacketBatch.objects.filter(pk__in=ids, status__in=unfinished).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("The packet batches did not finish in time.")
        time.sleep(0.05)


def _clean_up(batches: list[PacketBatch]) -> None:
    for batch in batches:
        if batch.file:
            default_storage.delete(batch.file.name)
    PacketBatch.objects.filter(pk__in=[b.pk for b in batches]).delete()
    Notification.objects.filter(event="packets_ready").delete()


@contextmanager
def _workers(processes: int | None):
    """``celery worker -Q pdf --concurrency N`` in a process of its own, ready to take
    tasks; nothing when ``processes`` is None (inline)."""
    if processes is None:
        yield
        return
    name = f"bench-pdf-{processes}-{os.getpid()}@{socket.gethostname()}"
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0"}
    command = [
        sys.executable, "-m", "celery", "-A", "perfcycle", "worker",
        "-Q", "pdf", "--pool", "prefork", "--concurrency", str(processes),
        "--hostname", name, "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
    ]  # fmt: skip
    _purge("pdf", "celery")
    eager = celery_app.conf.task_always_eager
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(worker, name, log)
            celery_app.conf.task_always_eager = False
            yield
        finally:
            celery_app.conf.task_always_eager = eager
            worker.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            _purge("pdf", "celery")  # the packets_ready e-mails nobody here sends


def _wait_until_ready(worker: subprocess.Popen, name: str, log) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while not celery_app.control.ping(destination=[name], timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"The Celery worker {name} did not start:\n{tail}")


def _purge(*queues: str) -> None:
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)
