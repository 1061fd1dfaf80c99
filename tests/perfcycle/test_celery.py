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
    # In a fresh process without broker settings, as `make run` starts: even where this
    # suite itself runs against Redis.
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")
    }
    script = (
        "import django; django.setup()\n"
        "from celery import shared_task\n"
        "from perfcycle.celery import app\n"
        "assert app.conf.broker_url == 'memory://', app.conf.broker_url\n"
        "assert app.conf.task_always_eager is True\n"
        "ran = []\n"
        "@app.task(name='tests.inline')\n"
        "def inline(x): ran.append(x); return x * 2\n"
        "assert inline.delay(21).get() == 42 and ran == [21]\n"
        "print('inline ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "perfcycle.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "inline ok" in done.stdout


def test_a_task_whose_worker_dies_is_handed_to_another_worker():
    # Acknowledged only after running, rejected (so requeued) when the worker is lost,
    # one task at a time per worker process.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.worker_max_tasks_per_child


def test_redis_redelivers_only_after_the_longest_task_could_have_finished():
    # Below the time limit, Redis would hand a task still running to a second worker.
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > app.conf.task_time_limit > app.conf.task_soft_time_limit
    assert app.conf.result_backend_transport_options["visibility_timeout"] == timeout


def test_production_refuses_a_visibility_timeout_below_the_time_limit():
    # Lowered for the killed-worker test only; a deployment (DEBUG off) does not start.
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "perfcycle.settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-looking-key-for-this-settings-check-only-0123456789",
        "CELERY_VISIBILITY_TIMEOUT": "5",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: CELERY_VISIBILITY_TIMEOUT (5 s) must be above" in done.stderr
