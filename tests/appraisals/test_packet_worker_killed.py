"""A real Celery worker is SIGKILLed half-way through a batch of PDF packets; a second
worker, started afterwards, makes the whole batch from the start and offers its ZIP.

Nothing is simulated: the workers are ``celery worker`` processes on the "celery" and
"pdf" queues (as ``make worker`` starts them, with the solo pool: one process, taken down
whole by the SIGKILL of its process group), sharing this test's PostgreSQL database
(committed data: ``transaction=True``) and media directory, and a private
``redis-server`` as their broker.

How Redis hands the task over (kombu's Redis transport, checked here): with late acks a
delivered message waits in the ``unacked`` hash, indexed by its delivery time in the
``unacked_index`` sorted set, until the worker acknowledges it. A SIGKILLed worker never
does, so the message stays there (it is neither lost nor back in its queue). A consumer
moves entries older than the visibility timeout back to their queue, flagged
``redelivered``, in ``QoS.restore_visible``: when it starts consuming, and then only
every ~100 s (every 10 s, throttled to one scan in 10; a second worker started at once,
before the message was old enough, picked it up 101 s after the kill). The workers
therefore run with a visibility timeout of a few seconds (``CELERY_VISIBILITY_TIMEOUT``;
one hour in production, above the task time limits) and the second worker is started
once the message is older than that, so its start-up scan restores it. The redelivered task
resumes the batch its first worker left ``running`` (``render_packet_batch`` passes
``resume`` from the ``redelivered`` flag): only a redelivery may claim a running batch.
"""

import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from appraisals import packet, services
from appraisals.models import Appraisal, PacketBatch
from appraisals.services.packets import PROGRESS_EVERY
from perfcycle.models import Notification
from tests.conftest import REQUIRE_SERVICES, celery_broker
from tests.factories import EmployeeFactory

S = PacketBatch.Status
# The workers' visibility timeout: a message unacknowledged for longer is redelivered.
VISIBILITY_TIMEOUT = 5
# People added to the org fixture's 7, so that the batch takes several seconds (about
# 0.2 s a packet) and is seen part-done (progress is written every PROGRESS_EVERY).
EXTRA_PEOPLE = 25
TASK = "appraisals.render_packet_batch"


@pytest.fixture
def shared_database(transactional_db):
    """The workers are other processes: they see the test database only on PostgreSQL
    (pytest-django's SQLite test database lives in this process's memory)."""
    if connection.vendor != "postgresql":
        message = "the killed-worker test needs PostgreSQL (set DATABASE_URL)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return connection.settings_dict


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def broker(redis_server):
    with celery_broker(redis_server.url) as app:
        yield app


@pytest.fixture
def crowded_cycle(request, org, shared_database):
    """The launched cycle of the appraisals tests, with EXTRA_PEOPLE more in Sales East."""
    for _ in range(EXTRA_PEOPLE):
        EmployeeFactory(department=org.sales_east, manager=org.manager, position=org.position)
    return request.getfixturevalue("appraisal_cycle")


class Worker:
    """``celery -A perfcycle worker -Q celery,pdf --pool=solo`` in its own process group."""

    def __init__(self, name: str, env: dict[str, str], directory: Path):
        self.log = directory / f"worker-{name}.log"
        command = [sys.executable, "-m", "celery", "-A", "perfcycle", "worker"]
        command += ["-Q", "celery,pdf", "--pool=solo", "--concurrency=1"]
        command += ["--loglevel=INFO", "-n", f"{name}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def start_worker(shared_database, redis_server, media, tmp_path):
    """Start a worker on this test's database, broker and media directory. Every worker
    started is stopped before the database is flushed."""
    db = shared_database
    credentials = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    env.update(
        DATABASE_URL=(
            f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        CONN_MAX_AGE="0",
        CELERY_BROKER_URL=redis_server.url,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        MEDIA_ROOT=str(media),
        EMAIL_URL="dummymail://",
        PYTHONUNBUFFERED="1",
    )
    workers: list[Worker] = []

    def start(name: str) -> Worker:
        workers.append(Worker(name, env, tmp_path))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


def wait_for(condition, timeout: float, what: str, worker: Worker):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert worker.process.poll() is None, f"the worker exited:\n{worker.output()}"
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s; the worker said:\n{worker.output()}")


def zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return zf.namelist()


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_worker_is_killed_is_made_whole_by_the_next_worker(
    client, org, hr_admin, crowded_cycle, broker, redis_server, start_worker, media
):
    everyone = list(
        Appraisal.objects.filter(cycle=crowded_cycle).select_related("employee__user", "cycle")
    )
    assert len(everyone) == 7 + EXTRA_PEOPLE
    queued = services.packet_batch_request(actor=hr_admin, cycle=crowded_cycle)
    download = reverse("appraisals:packet_batch_download", args=[queued.pk])
    progress = reverse("appraisals:packet_batch_progress", args=[queued.pk])
    client.force_login(hr_admin)

    def batch() -> PacketBatch:
        return PacketBatch.objects.get(pk=queued.pk)

    first = start_worker("first")
    wait_for(
        lambda: batch().status == S.RUNNING and batch().rendered >= PROGRESS_EVERY,
        60,
        "the first worker did not get part-way through the batch",
        first,
    )
    first.kill()

    # Killed part-way: the batch is still running, with no ZIP offered.
    stuck = batch()
    assert stuck.status == S.RUNNING and not stuck.file and stuck.finished_at is None
    assert PROGRESS_EVERY <= stuck.rendered < stuck.total == len(everyone)
    assert 0 < stuck.progress < 100
    # Its half-written working file is left behind, hidden and never offered.
    (part,) = (media / "packets").iterdir()
    assert part.name.startswith(f".batch-{queued.pk}-") and part.suffix == ".part"
    assert client.get(download).status_code == 404
    fragment = client.get(progress, headers={"HX-Request": "true"}).content.decode()
    assert "<progress" in fragment and download not in fragment
    # The message is neither acknowledged nor lost: Redis holds it as unacknowledged.
    redis = redis_server.client()
    ((tag, delivered_at),) = redis.zrange("unacked_index", 0, -1, withscores=True)
    assert redis.hexists("unacked", tag) and redis.llen("pdf") == 0

    # Once older than the visibility timeout, the next worker to start consumes it again.
    time.sleep(max(0.0, delivered_at + VISIBILITY_TIMEOUT + 0.5 - time.time()))
    second = start_worker("second")
    wait_for(lambda: batch().finished, 90, "the second worker did not finish the batch", second)

    done = batch()
    assert done.status == S.DONE, done.error
    assert done.total == done.rendered == len(everyone)
    assert done.failed == [] and done.progress == 100, done.failed
    # One packet for each appraisal, and only the ZIP is left (the dead worker's working
    # file was removed).
    assert sorted(p.name for p in (media / "packets").iterdir()) == [Path(done.file.name).name]
    response = client.get(download)
    assert response.status_code == 200
    names = zip_names(b"".join(response.streaming_content))
    assert len(names) == len(everyone)
    assert set(names) == {packet.packet_filename(appraisal) for appraisal in everyone}
    # The second worker ran the task once, claiming the batch left running (which only a
    # redelivery may), and rendered every packet; the first never finished it.
    log = second.output()
    assert len(re.findall(rf"Task {TASK}\[[^]]+\] received", log)) == 1, log
    assert re.findall(rf"Task {TASK}\[[^]]+\] succeeded in [\d.]+s: (\w+)", log) == [
        str(len(everyone))
    ], log
    assert "succeeded" not in first.output()
    assert Notification.objects.filter(event="packets_ready", recipient=hr_admin).count() == 1
    # Acknowledged at last: Redis keeps nothing to hand out again.
    wait_for(lambda: not redis.hexists("unacked", tag), 10, "the task was not acked", second)
    assert redis.llen("pdf") == 0
