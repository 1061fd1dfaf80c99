"""A real Celery worker is SIGKILLed half-way through a batch of PDF packets, rendered in
chunks; a second worker, started afterwards, renders the chunk it was killed in again and
the chunks still queued, leaves the chunk already done alone, and offers the one ZIP.

Nothing is simulated: the workers are ``celery worker`` processes on the "celery" and
"pdf" queues (as ``make worker`` starts them, with the solo pool: one process, taken down
whole by the SIGKILL of its process group), with a private ``redis-server`` as their
broker and a media directory of the test's own.

The workers are other processes, which do not open pytest's test database (a file of
this pytest process on SQLite, emptied between tests). The scenario has a scratch
database of its own, which every process opens through ``DATABASE_URL``: a file database
on SQLite, and on PostgreSQL (when ``DATABASE_URL`` says so) a database of a unique
name, created for the test and dropped after it. ``manage.py`` subprocesses migrate it,
build the data (the fixtures' own code, run by ``build_crowded_cycle``) and look at the
result as the product would (``look_at_batch``: the batch, its download and progress
pages through Django's test client); the test reads the batch's progress straight from
the database while a worker runs.

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
resumes the chunk its first worker left ``running`` (``render_packet_chunk`` passes
``resume`` from the ``redelivered`` flag): only a redelivery may claim a running chunk.
The chunks not yet begun wait in the "pdf" queue, as any worker would take them.
"""

import io
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.conf import settings
from django.urls import reverse

from appraisals.models import PacketBatch, PacketChunk

S = PacketBatch.Status
# The workers' visibility timeout: a message unacknowledged for longer is redelivered.
VISIBILITY_TIMEOUT = 5
# People added to the org fixture's 7, so that the batch takes several seconds (about
# 0.2 s a packet) and is seen part-done: 32 packets in chunks of CHUNK_SIZE (10, 10, 10
# and 2; the batch's progress is written as each chunk ends).
EXTRA_PEOPLE = 25
CHUNK_SIZE = 10
CHUNKS = 4
PLAN = "appraisals.render_packet_batch"
CHUNK = "appraisals.render_packet_chunk"
ZIP = "appraisals.zip_packet_batch"
FINISHED = (S.DONE, S.FAILED, S.EXPIRED)  # as PacketBatch.finished
# How long a process waits for another's write lock on the SQLite file.
SQLITE_TIMEOUT = 20


class ScratchDatabase:
    """The scenario's own database: its ``DATABASE_URL`` for the subprocesses, and a plain
    connection (no Django) for the test to read the batch's progress while workers run."""

    def __init__(self, directory: Path):
        default = settings.DATABASES["default"]
        self.postgresql = default["ENGINE"].endswith("postgresql")
        if self.postgresql:
            self.server = {
                "host": default["HOST"] or "localhost",
                "port": default["PORT"] or 5432,
                "user": default["USER"] or "",
                "password": default["PASSWORD"] or "",
            }
            self.name = f"perfcycle_killtest_{os.getpid()}_{secrets.token_hex(4)}"
            credentials = quote(self.server["user"])
            if self.server["password"]:
                credentials += ":" + quote(self.server["password"])
            self.url = (
                f"postgres://{credentials}@{self.server['host']}:{self.server['port']}/{self.name}"
            )
        else:
            self.path = directory / "kill.sqlite3"
            self.url = f"sqlite:///{self.path}?timeout={SQLITE_TIMEOUT}"
        self._connection = None

    def _connect(self, dbname: str):
        import psycopg2

        connection = psycopg2.connect(dbname=dbname, **self.server)
        connection.autocommit = True
        return connection

    def _administer(self, statement: str) -> None:
        """CREATE or DROP DATABASE (of the scratch database) on the server."""
        from psycopg2 import sql

        admin = self._connect("postgres")
        try:
            with admin.cursor() as cursor:
                cursor.execute(sql.SQL(statement).format(sql.Identifier(self.name)))
        finally:
            admin.close()

    def create(self) -> None:
        if self.postgresql:
            self._administer("CREATE DATABASE {}")

    def drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.postgresql:
            # FORCE: the killed worker's session may not be gone yet.
            self._administer("DROP DATABASE IF EXISTS {} WITH (FORCE)")

    def batch_progress(self, batch_id: int) -> tuple[str, int]:
        """The batch's (status, rendered), as committed."""
        table = PacketBatch._meta.db_table
        return self._fetch(f"SELECT status, rendered FROM {table} WHERE id = {{}}", batch_id)[0]

    def chunk_statuses(self, batch_id: int) -> list[str]:
        """The statuses of the batch's chunks in order, as committed."""
        table = PacketChunk._meta.db_table
        rows = self._fetch(
            f'SELECT status FROM {table} WHERE batch_id = {{}} ORDER BY "index"', batch_id
        )
        return [status for (status,) in rows]

    def _fetch(self, query: str, parameter: int) -> list[tuple]:
        if self._connection is None:
            if self.postgresql:
                self._connection = self._connect(self.name)
            else:
                self._connection = sqlite3.connect(
                    self.path, timeout=SQLITE_TIMEOUT, isolation_level=None
                )
        cursor = self._connection.cursor()
        try:
            cursor.execute(query.format("%s" if self.postgresql else "?"), [parameter])
            return cursor.fetchall()
        finally:
            cursor.close()


class Scratch:
    """Runs ``manage.py`` on the scratch database, with the workers' environment."""

    def __init__(self, database: ScratchDatabase, env: dict[str, str], directory: Path):
        self.database = database
        self.env = env
        self.directory = directory

    def manage(self, *args: str, env: dict[str, str] | None = None) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, (
            f"manage.py {args[0]} failed on the scratch database:\n{result.stdout}{result.stderr}"
        )

    def call(self, function: str, env: dict[str, str] | None = None, **kwargs) -> SimpleNamespace:
        """``function(**kwargs)`` of this module in ``manage.py shell``; its JSON result."""
        out = self.directory / f"{function}-{secrets.token_hex(4)}.json"
        code = (
            f"import json; from {__name__} import {function}; "
            f"open({str(out)!r}, 'w').write(json.dumps({function}(**{kwargs!r})))"
        )
        self.manage("shell", "-c", code, env=env)
        return SimpleNamespace(**json.loads(out.read_text()))


def build_crowded_cycle() -> dict:
    """In the scratch database: the launched cycle of the appraisals tests, with
    EXTRA_PEOPLE more in Sales East, and the HR administrator's batch of all its packets
    requested through the service (queued on the workers' broker).

    Built by the fixtures' own functions (``__wrapped__``: pytest refuses a direct call),
    in the order the test asked for them when it ran on pytest's database, in one
    transaction as under pytest's ``db`` fixture. The tasks they queue run inline
    (CELERY_TASK_ALWAYS_EAGER) when it commits, and find their work done (the launch was
    run by the fixture); only the batch goes to the workers' broker."""
    from django.db import transaction
    from django.test import override_settings

    from appraisals import packet, services
    from appraisals.models import Appraisal
    from tests import conftest as shared
    from tests.appraisals import conftest as appraisals
    from tests.factories import EmployeeFactory
    from tests.goals import conftest as goals

    # As tests/conftest.py's autouse fixture: the default hasher takes ~0.3 s a person.
    fast_hashing = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with fast_hashing, transaction.atomic():
        org = shared.org.__wrapped__(db=None)
        hr_admin = shared.hr_admin.__wrapped__(org)
        for _ in range(EXTRA_PEOPLE):
            EmployeeFactory(department=org.sales_east, manager=org.manager, position=org.position)
        cycle = goals.cycle.__wrapped__(org)
        cascade = goals.cascade.__wrapped__(org, cycle, hr_admin)
        competencies = appraisals.competencies.__wrapped__(hr_admin)
        crowded = appraisals.appraisal_cycle.__wrapped__(
            org, hr_admin, cycle, cascade, competencies
        )
    everyone = Appraisal.objects.filter(cycle=crowded).select_related("employee__user", "cycle")
    with shared.celery_broker(settings.CELERY_BROKER_URL):
        queued = services.packet_batch_request(actor=hr_admin, cycle=crowded)
    return {
        "batch": queued.pk,
        "hr_admin": hr_admin.pk,
        "packets": [packet.packet_filename(appraisal) for appraisal in everyone],
    }


def look_at_batch(*, batch_id: int, user_id: int, zip_path: str) -> dict:
    """In the scratch database: the batch as saved, and what ``user_id`` gets from its
    download (the ZIP is written to ``zip_path``) and progress pages."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from perfcycle.models import Notification

    batch = PacketBatch.objects.get(pk=batch_id)
    user = get_user_model().objects.get(pk=user_id)
    client = Client()
    client.force_login(user)
    download = client.get(reverse("appraisals:packet_batch_download", args=[batch_id]))
    if download.status_code == 200:
        Path(zip_path).write_bytes(b"".join(download.streaming_content))
    progress = client.get(
        reverse("appraisals:packet_batch_progress", args=[batch_id]),
        headers={"HX-Request": "true"},
    )
    return {
        "status": batch.status,
        "file": batch.file.name,
        "finished_at": batch.finished_at and batch.finished_at.isoformat(),
        "finished": batch.finished,
        "total": batch.total,
        "rendered": batch.rendered,
        "progress": batch.progress,
        "failed": batch.failed,
        "error": batch.error,
        "download": download.status_code,
        "fragment": progress.content.decode(),
        "ready_notices": Notification.objects.filter(event="packets_ready", recipient=user).count(),
    }


@pytest.fixture
def media(tmp_path):
    return tmp_path / "media"


@pytest.fixture
def scratch(tmp_path, redis_server, media):
    """The scenario's scratch database, created and migrated; dropped at the end (after
    the workers, which ``start_worker`` stops first)."""
    database = ScratchDatabase(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CELERY_")}
    env.update(
        DATABASE_URL=database.url,
        CONN_MAX_AGE="0",
        CELERY_BROKER_URL=redis_server.url,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        MEDIA_ROOT=str(media),
        PACKET_CHUNK_SIZE=str(CHUNK_SIZE),
        EMAIL_URL="dummymail://",
        PYTHONUNBUFFERED="1",
    )
    database.create()
    try:
        scratch = Scratch(database, env, tmp_path)
        scratch.manage("migrate", "--noinput")
        yield scratch
    finally:
        database.drop()


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
def start_worker(scratch, tmp_path):
    """Start a worker on the scratch database, the broker and the media directory. Every
    worker started is stopped before the database is dropped."""
    workers: list[Worker] = []

    def start(name: str) -> Worker:
        workers.append(Worker(name, scratch.env, tmp_path))
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


def test_a_batch_whose_worker_is_killed_is_made_whole_by_the_next_worker(
    scratch, redis_server, start_worker, media, tmp_path
):
    # Built with tasks inline; the batch request itself goes to the workers' broker.
    built = scratch.call(
        "build_crowded_cycle", env={**scratch.env, "CELERY_TASK_ALWAYS_EAGER": "1"}
    )
    everyone = built.packets
    assert len(everyone) == 7 + EXTRA_PEOPLE
    download = reverse("appraisals:packet_batch_download", args=[built.batch])
    zip_path = tmp_path / "download.zip"

    def batch() -> tuple[str, int]:
        return scratch.database.batch_progress(built.batch)

    def look() -> SimpleNamespace:
        return scratch.call(
            "look_at_batch", batch_id=built.batch, user_id=built.hr_admin, zip_path=str(zip_path)
        )

    first = start_worker("first")

    def part_way() -> bool:
        # The first chunk done, the second begun.
        status, rendered = batch()
        chunks = scratch.database.chunk_statuses(built.batch)
        return status == S.RUNNING and rendered >= CHUNK_SIZE and chunks[1:2] == [S.RUNNING]

    wait_for(
        part_way,
        60,
        "the first worker did not get part-way through the batch",
        first,
    )
    first.kill()

    # Killed part-way: the batch is still running, with no ZIP offered.
    stuck = look()
    assert stuck.status == S.RUNNING and not stuck.file and stuck.finished_at is None
    assert stuck.rendered == CHUNK_SIZE < stuck.total == len(everyone)
    assert 0 < stuck.progress < 100
    assert scratch.database.chunk_statuses(built.batch) == ["done", "running", "queued", "queued"]
    # The chunks' working directory is left behind, hidden and never offered.
    (work,) = (media / "packets").iterdir()
    assert work.is_dir() and work.name == f".batch-{built.batch}"
    assert len(list(work.glob("*.pdf"))) >= CHUNK_SIZE
    assert stuck.download == 404 and not zip_path.exists()
    assert "<progress" in stuck.fragment and download not in stuck.fragment
    # The chunk's message is neither acknowledged nor lost: Redis holds it as
    # unacknowledged; the two chunks not begun wait in the queue.
    redis = redis_server.client()
    ((tag, delivered_at),) = redis.zrange("unacked_index", 0, -1, withscores=True)
    assert redis.hexists("unacked", tag) and redis.llen("pdf") == CHUNKS - 2

    # Once older than the visibility timeout, the next worker to start consumes it again.
    time.sleep(max(0.0, delivered_at + VISIBILITY_TIMEOUT + 0.5 - time.time()))
    second = start_worker("second")
    wait_for(
        lambda: batch()[0] in FINISHED,
        90,
        "the second worker did not finish the batch",
        second,
    )

    done = look()
    assert done.finished
    assert done.status == S.DONE, done.error
    assert done.total == done.rendered == len(everyone)
    assert done.failed == [] and done.progress == 100, done.failed
    # One packet for each appraisal, and only the ZIP is left (the working directory was
    # removed with the packets the dead worker had written).
    assert sorted(p.name for p in (media / "packets").iterdir()) == [Path(done.file).name]
    assert done.download == 200
    names = zip_names(zip_path.read_bytes())
    assert len(names) == len(everyone)
    assert set(names) == set(everyone)

    def succeeded(task: str, log: str) -> list[int]:
        pattern = rf"Task {task}\[[^]]+\] succeeded in [\d.]+s: (\w+)"
        return [int(result) for result in re.findall(pattern, log)]

    # The first worker planned the batch and rendered the first chunk only.
    log = first.output()
    assert succeeded(PLAN, log) == [len(everyone)], log
    assert succeeded(CHUNK, log) == [CHUNK_SIZE], log
    assert f"Task {ZIP}[" not in log
    # The second rendered the chunk killed half-way again (claiming the chunk left running,
    # which only a redelivery may) and the two queued ones, not the first; it zipped once.
    log = second.output()
    assert f"Task {PLAN}[" not in log
    assert len(re.findall(rf"Task {CHUNK}\[[^]]+\] received", log)) == CHUNKS - 1, log
    assert sum(succeeded(CHUNK, log)) == len(everyone) - CHUNK_SIZE, log
    assert succeeded(ZIP, log) == [len(everyone)], log
    assert done.ready_notices == 1
    # Acknowledged at last: Redis keeps nothing to hand out again.
    wait_for(lambda: not redis.hexists("unacked", tag), 10, "the task was not acked", second)
    assert redis.llen("pdf") == 0
