"""Personas and a small organisation shared by every test.

The organisation::

    HQ (head: ceo)
    ├── Sales (head: manager)        manager -> ceo
    │   └── Sales East               employee, peer -> manager
    ├── Engineering (head: other)    other_manager -> ceo; outsider -> other_manager
    └── People (HR)                  hr_admin -> ceo

``executive`` is the CEO's user (in the executive group). Persona fixtures are
``User`` objects; their employee record is ``user.employee``.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group

from perfcycle import access
from perfcycle.celery import app as celery_app
from tests.factories import DepartmentFactory, EmployeeFactory, PositionFactory

REQUIRE_SERVICES = os.environ.get("PERFCYCLE_REQUIRE_SERVICES") == "1"


def pytest_sessionstart(session):
    """In CI a missing PostgreSQL or Redis fails the run at once instead of being skipped."""
    if not REQUIRE_SERVICES:
        return
    import redis
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        pytest.exit(f"PERFCYCLE_REQUIRE_SERVICES=1 but the database is {engine}", returncode=3)
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        pytest.exit("PERFCYCLE_REQUIRE_SERVICES=1 but no Redis broker is configured", returncode=3)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {settings.REDIS_URL} is not reachable: {exc}", returncode=3)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file of this pytest process, not Django's default
    in-memory database.

    Live-server threads and Celery worker threads work on the test database at the same
    time as the test. In memory, SQLite shares one cache between their connections, and a
    table another connection holds fails a query at once ("database table is locked"),
    whatever the timeout. On a file, a connection waits up to ``timeout`` seconds for the
    lock. Transactions start IMMEDIATE, taking the write lock before their first read:
    one that read first and then wanted to write while another connection was writing
    would fail at once too (SQLite cannot wait there without risking a deadlock). WAL lets
    pages read while a worker writes. The file is thrown away after the run, so it is
    never synced to disk. PostgreSQL is left as configured.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        yield
        return
    # mktemp numbers the directory: each pytest process (an xdist worker too) has its own.
    directory = tmp_path_factory.mktemp("sqlite")
    test = database.setdefault("TEST", {})
    if not test.get("NAME"):
        test["NAME"] = str(directory / "test.sqlite3")
    options = database.setdefault("OPTIONS", {})
    options.setdefault("timeout", 20)
    options.setdefault("transaction_mode", "IMMEDIATE")
    options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF")
    yield
    # After the database is destroyed: the WAL files a thread's connection left behind.
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fast_hashing_and_no_lockouts(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db):
    hq = DepartmentFactory(code="HQ", name="Headquarters")
    sales = DepartmentFactory(code="SALES", name="Sales", parent=hq)
    sales_east = DepartmentFactory(code="SALES-E", name="Sales East", parent=sales)
    engineering = DepartmentFactory(code="ENG", name="Engineering", parent=hq)
    people = DepartmentFactory(code="HR", name="People", parent=hq)

    ceo = EmployeeFactory(
        department=hq,
        employee_number="E0001",
        user__full_name="Cora Chief",
        user__email="ceo@example.com",
    )
    manager = EmployeeFactory(
        department=sales,
        manager=ceo,
        employee_number="E0002",
        user__full_name="Mona Manager",
        user__email="manager@example.com",
    )
    rep = PositionFactory(title="Account executive", department=sales_east)
    employee = EmployeeFactory(
        department=sales_east,
        manager=manager,
        position=rep,
        employee_number="E0003",
        user__full_name="Emil Employee",
        user__email="employee@example.com",
    )
    peer = EmployeeFactory(
        department=sales_east,
        manager=manager,
        position=rep,
        employee_number="E0004",
        user__full_name="Petra Peer",
        user__email="peer@example.com",
    )
    other_manager = EmployeeFactory(
        department=engineering,
        manager=ceo,
        employee_number="E0005",
        user__full_name="Otto Other",
        user__email="other@example.com",
    )
    outsider = EmployeeFactory(
        department=engineering,
        manager=other_manager,
        employee_number="E0006",
        user__full_name="Olga Outsider",
        user__email="outsider@example.com",
    )
    hr = EmployeeFactory(
        department=people,
        manager=ceo,
        employee_number="E0007",
        user__full_name="Hana HR",
        user__email="hr@example.com",
    )
    hq.head = ceo
    hq.save()
    sales.head = manager
    sales.save()
    engineering.head = other_manager
    engineering.save()

    hr.user.groups.add(Group.objects.get_or_create(name=access.HR_ADMIN_GROUP)[0])
    ceo.user.groups.add(Group.objects.get_or_create(name=access.EXECUTIVE_GROUP)[0])
    return SimpleNamespace(
        hq=hq,
        sales=sales,
        sales_east=sales_east,
        engineering=engineering,
        people=people,
        ceo=ceo,
        manager=manager,
        employee=employee,
        peer=peer,
        other_manager=other_manager,
        outsider=outsider,
        hr=hr,
        position=rep,
    )


@pytest.fixture
def hr_admin(org):
    return org.hr.user


@pytest.fixture
def executive(org):
    return org.ceo.user


@pytest.fixture
def manager(org):
    return org.manager.user


@pytest.fixture
def employee(org):
    return org.employee.user


@pytest.fixture
def peer(org):
    return org.peer.user


@pytest.fixture
def outsider(org):
    return org.outsider.user


def fresh(user):
    """The same user without cached roles, as the next request would see them."""
    access.forget_roles(user)
    return user


@pytest.fixture
def celery_worker_thread(settings):
    """A real Celery worker in a thread, consuming from the configured broker.

    Without configuration that is Celery's in-memory broker; in CI (REDIS_URL) it is Redis.
    Tasks are sent through the broker, not run inline, while the fixture is active.
    """
    from celery.contrib.testing.worker import start_worker

    from perfcycle.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        # Every queue a deployed worker consumes (see CELERY_TASK_ROUTES).
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            shutdown_timeout=10,
            queues=["celery", "pdf"],
        ) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = eager


@celery_app.task(name="tests.marker")
def marker(token: str) -> str:
    """Registered before any worker starts (a worker ignores tasks it does not know)."""
    return token


@pytest.fixture
def worker_idle(celery_worker_thread):
    """Wait until the worker has run everything queued so far (instead of sleeping and
    hoping): a marker task is queued behind it, and the one-thread worker takes tasks in
    order, so when the marker has run, everything before it has too."""
    import threading

    from celery.signals import task_postrun

    seen: set[str] = set()
    arrived = threading.Condition()

    def record(sender=None, args=None, **kwargs):
        if sender is not None and sender.name == "tests.marker":
            with arrived:
                seen.add(args[0])
                arrived.notify_all()

    task_postrun.connect(record, weak=False)

    def wait(timeout: float = 15) -> None:
        token = str(len(seen)) + "-" + str(id(seen))
        marker.delay(token)
        with arrived:
            assert arrived.wait_for(lambda: token in seen, timeout), "the worker fell behind"

    yield wait
    task_postrun.disconnect(record)


@pytest.fixture
def celery_inline():
    """Run Celery tasks inline (as without a broker), even when CI configures Redis."""
    from perfcycle.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield app
    finally:
        app.conf.task_always_eager = eager


@contextmanager
def celery_broker(url: str):
    """The Celery app publishing to ``url`` (tasks sent, not run inline) until the block
    ends. kombu keeps connection pools in a registry by URL: the app's pools are only
    forgotten, never closed (kombu would hand a closed pool to the next user of the URL)."""
    from perfcycle.celery import app

    saved = {name: app.conf[name] for name in ("broker_url", "task_always_eager")}

    def forget_pools():
        app._pool = None
        app.amqp._producer_pool = None

    forget_pools()
    app.conf.update(broker_url=url, task_always_eager=False)
    try:
        yield app
    finally:
        forget_pools()
        app.conf.update(saved)


@pytest.fixture
def broker_down():
    """The Celery app pointed at a Redis nobody listens on: publishing a task meets a real
    refused connection, as when Redis is down (no retries, so the test does not wait)."""
    with celery_broker("redis://127.0.0.1:1/0") as app:
        retry = app.conf.task_publish_retry
        app.conf.task_publish_retry = False
        try:
            yield app
        finally:
            app.conf.task_publish_retry = retry


class RedisServer:
    """A private ``redis-server`` on a free port of 127.0.0.1, without persistence, that
    a test stops and starts again (on the same port) to take the broker away for real."""

    def __init__(self, binary: str, directory: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.binary = binary
        self.directory = directory
        self.log = directory / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.frozen = False

    def client(self):
        """A client that does not retry: a stopped server is an answer here."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            port=self.port, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += ["--logfile", str(self.log)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text() if self.log.exists() else ""
                    pytest.fail(f"redis-server did not start on {self.port}:\n{log}")
                time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel), nothing is answered, as
        with a hung server or a host cut off without a reset."""
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.kill(self.process.pid, signal.SIGCONT)
            self.frozen = False

    def stop(self) -> None:
        """SHUTDOWN, as an administrator stops it: the port refuses connections after."""
        if not self.running:
            return
        self.thaw()
        self.client().shutdown(nosave=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture
def redis_server(tmp_path):
    """A running private Redis (see ``RedisServer``); stopped at the end of the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: this test runs a Redis of its own. "
            "Install it with `apt-get install redis-server`.",
            pytrace=False,
        )
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _close_leaked_connections(request, django_db_blocker):
    """Before the test database is dropped, end sessions that threads left open.

    Worker and live-server threads open connections of their own; one left idle makes
    PostgreSQL refuse to drop the test database at the end of the run. A session whose
    tests use no database (the killed-worker test has a database of its own) has no test
    database: nothing to do then, and above all no sessions to end on the configured one.
    """
    from django.db import connection

    configured = connection.settings_dict["NAME"]
    # Requested here, after reading the name, which it switches to the test database's
    # (when some test uses the database); torn down after this fixture.
    request.getfixturevalue("django_db_setup")
    test_database = connection.settings_dict["NAME"] != configured
    yield
    if connection.vendor != "postgresql" or not test_database:
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def delivered(task, *args, redelivered: bool):
    """Run a Celery task as a worker receives it from the broker, with the broker's
    ``redelivered`` flag (set when the worker it was first given to died)."""
    task.push_request(delivery_info={"redelivered": redelivered})
    try:
        return task.run(*args)
    finally:
        task.pop_request()
