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


@pytest.fixture
def broker_down():
    """The Celery app pointed at a Redis nobody listens on: publishing a task meets a real
    refused connection, as when Redis is down (no retries, so the test does not wait)."""
    from perfcycle.celery import app

    saved = {
        name: app.conf[name] for name in ("broker_url", "task_always_eager", "task_publish_retry")
    }

    def forget_pools():
        # kombu keeps connection pools in a registry by URL: the app's pools are only
        # forgotten here (a closed one would stay registered for later tests).
        app._pool = None
        app.amqp._producer_pool = None

    forget_pools()
    app.conf.update(
        broker_url="redis://127.0.0.1:1/0", task_always_eager=False, task_publish_retry=False
    )
    try:
        yield app
    finally:
        # Not closed either: kombu would hand the closed pool to the next test that
        # points at the same unreachable address.
        forget_pools()
        app.conf.update(saved)


@pytest.fixture(scope="session", autouse=True)
def _close_leaked_connections(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end sessions that threads left open.

    Worker and live-server threads open connections of their own; one left idle makes
    PostgreSQL refuse to drop the test database at the end of the run.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
