"""Queueing background work after a change commits, without failing the change when the
broker (Redis) is down.

The change is already saved when its task is queued; a broker that cannot be reached
must not turn that into an error page. The caller says what to do instead: the
notification outbox simply waits for beat's drain, a launch or a packet batch is marked
failed with a message, so that the person can start it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

BROKER_DOWN = (OperationalError, ConnectionError)


def send_after_commit(task, *args, on_broker_down: Callable[[Exception], None] | None = None):
    """``task.delay(*args)`` once the current transaction commits (at once outside one)."""

    def send() -> None:
        try:
            task.delay(*args)
        except BROKER_DOWN as exc:
            logger.warning("Broker unreachable; %s%r not queued: %s", task.name, args, exc)
            if on_broker_down is not None:
                on_broker_down(exc)

    transaction.on_commit(send)
