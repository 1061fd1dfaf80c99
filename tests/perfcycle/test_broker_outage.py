"""Redis really goes away while people save: the save succeeds within moments, showing
only its own message, and the notice it raised is e-mailed once, when Redis is back.

A private ``redis-server`` (``redis_server`` in tests/conftest.py) is Celery's broker and
the cache, as REDIS_URL makes it in production. It is stopped with SHUTDOWN (its port
then refuses connections) or frozen with SIGSTOP (connections are accepted and never
answered, as with a hung server or a host cut off without a reset); nothing is simulated.
The broker settings under test are production's: publishing gives up after one retry,
and socket timeouts bound a hung connection (CELERY_BROKER_TRANSPORT_OPTIONS).
"""

import datetime
import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from appraisals.models import Appeal, Appraisal, Review
from perfcycle.models import Cycle, Notification
from perfcycle.notifications import OUTBOX_DELAY
from perfcycle.tasks import drain_notification_outbox, send_notifications
from tests.conftest import celery_broker
from tests.factories import CycleFactory

REASON = "My Q4 deals are missing."
# Measured: a stopped Redis costs the save about 0.1 s (0.7 s with publishing's former
# three retries), a frozen one 6 to 9 s (socket timeouts of 3 s, one retry); without the
# timeouts it waited for ever.
STOPPED_BUDGET = 2
FROZEN_BUDGET = 15


@pytest.fixture
def redis_broker(settings, redis_server):
    """Celery's broker and the cache on the private Redis. The web process has already
    published through it, so its pool holds a live connection when Redis goes away."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        }
    }
    with celery_broker(redis_server.url) as app:
        send_notifications.delay([])
        assert redis_server.client().llen("celery") == 1
        yield app


@pytest.fixture
def released(org):
    """Emil Employee's final result in FY2025, released, with both reviews submitted
    (written directly: set-up only)."""
    the_cycle = CycleFactory(name="FY2025", status=Cycle.Status.FEEDBACK)
    appraisal = Appraisal.objects.create(
        cycle=the_cycle,
        employee=org.employee,
        department=org.sales_east,
        reviewer=org.manager,
        stage=Appraisal.Stage.FINAL,
        final_level=the_cycle.rating_scale.levels.get(value=3),
        released_at=timezone.now(),
    )
    for kind in Review.Kind.values:
        Review.objects.create(appraisal=appraisal, kind=kind, status=Review.Status.SUBMITTED)
    return appraisal


def open_appeal(client, appraisal) -> tuple:
    """Emil appeals on the page, as in the browser; returns the response and its time."""
    started = time.monotonic()
    response = client.post(reverse("appraisals:appeal", args=[appraisal.pk]), {"reason": REASON})
    return response, time.monotonic() - started


def assert_saved_with_no_error(client, response, hr_admin):
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Your appeal was sent to HR" in page and "alert-success" in page
    assert "alert-error" not in page and "alert-warning" not in page
    assert Appeal.objects.get().reason == REASON
    row = Notification.objects.get()
    assert row.recipient == hr_admin and row.event == "appeal_opened"
    assert row.emailed_at is None and mail.outbox == []


def drains_run_by_a_worker(app, times: int) -> list[int]:
    """Send beat's outbox drain through the broker ``times`` times, one after the other,
    to a real worker (a thread of this process); what each run sent."""
    sent: list[int] = []
    ran = threading.Condition()

    def record(sender=None, retval=None, **kwargs):
        if sender is not None and sender.name == drain_notification_outbox.name:
            with ran:
                sent.append(retval)
                ran.notify_all()

    task_postrun.connect(record, weak=False)
    try:
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            shutdown_timeout=10,
            queues=["celery"],
        ):
            for run in range(1, times + 1):
                drain_notification_outbox.delay()
                with ran:
                    assert ran.wait_for(lambda n=run: len(sent) == n, 15), "the drain never ran"
    finally:
        task_postrun.disconnect(record)
    return sent


@pytest.mark.django_db(transaction=True)
def test_a_save_while_redis_is_stopped_succeeds_and_is_emailed_once_redis_is_back(
    client, employee, hr_admin, released, redis_broker, redis_server
):
    client.force_login(employee)
    assert client.get(reverse("appraisals:appraisal", args=[released.pk])).status_code == 200
    redis_server.stop()

    response, took = open_appeal(client, released)

    assert took < STOPPED_BUDGET, f"the save waited {took:.1f} s for the broker"
    assert_saved_with_no_error(client, response, hr_admin)

    redis_server.start()  # on the same port, empty (no persistence)
    # A minute later the outbox drain takes the notice the task never carried.
    a_minute_ago = timezone.now() - OUTBOX_DELAY - datetime.timedelta(seconds=1)
    Notification.objects.update(created_at=a_minute_ago)
    assert drains_run_by_a_worker(redis_broker, times=2) == [1, 0]

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [hr_admin.email]
    assert mail.outbox[0].subject == "Emil Employee appealed their FY2025 result"
    assert Notification.objects.get().emailed_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_save_while_redis_hangs_returns_within_seconds(
    client, employee, hr_admin, released, redis_broker, redis_server
):
    client.force_login(employee)
    assert client.get(reverse("appraisals:appraisal", args=[released.pk])).status_code == 200
    redis_server.freeze()
    outcome = {}

    def save():
        try:
            outcome["response"], outcome["took"] = open_appeal(client, released)
        finally:
            connection.close()

    # In a thread, so that a save that hangs fails the test instead of holding it.
    saving = threading.Thread(target=save, daemon=True)
    saving.start()
    saving.join(timeout=FROZEN_BUDGET + 15)

    assert not saving.is_alive(), "the save hung on the frozen broker"
    assert outcome["took"] < FROZEN_BUDGET, f"the save waited {outcome['took']:.1f} s"
    redis_server.thaw()
    assert_saved_with_no_error(client, outcome["response"], hr_admin)
