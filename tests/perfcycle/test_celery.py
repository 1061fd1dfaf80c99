"""The Celery app as configured delivers work to a real worker through the broker."""

import threading

from celery.result import EagerResult
from django.conf import settings

from perfcycle.celery import app

received: dict[str, threading.Event] = {}


@app.task(name="tests.mark_received")
def mark_received(token: str) -> None:
    received[token].set()


def test_it_delivers_a_task_through_the_broker_to_a_worker(celery_worker_thread):
    received["first"] = threading.Event()
    result = mark_received.delay("first")
    assert received["first"].wait(timeout=15), "the worker never ran the task"
    # Sent, not run inline: the call went through the broker to the worker's thread.
    assert not isinstance(result, EagerResult)
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


def test_it_runs_tasks_inline_when_no_broker_is_configured():
    if settings.CELERY_BROKER_URL != "memory://":
        assert app.conf.task_always_eager is False
        return
    received["inline"] = threading.Event()
    mark_received.delay("inline")
    assert received["inline"].is_set()
