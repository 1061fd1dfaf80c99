"""Background work for appraisals. Tasks take ids and call a service; safe to run twice."""

import datetime

from celery import shared_task
from django.db import OperationalError, transaction
from django.utils import timezone

from perfcycle.models import Cycle
from perfcycle.notifications import notify

from .reminders import reminders_due
from .reports import cycle_summary
from .services import (
    cycle_launch_run,
    packet_batch_run,
    packet_batch_zip,
    packet_batches_expire,
    packet_chunk_run,
)


@shared_task(bind=True, name="appraisals.launch_cycle")
def launch_cycle(self, launch_id: int) -> int | None:
    # Redelivered after its worker died (acks_late): take over the launch it had started;
    # the batches already written are skipped, so nothing is created twice.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    launch = cycle_launch_run(launch_id=launch_id, resume=redelivered)
    return None if launch is None else launch.created


# Rendering a batch of packets: on its own queue ("pdf", see CELERY_TASK_ROUTES), split
# into chunks of PACKET_CHUNK_SIZE that any number of workers render side by side (a
# chunk of 200 takes about a minute), then zipped once. Each task is killed after
# PACKET_TIME_LIMIT (below the Redis visibility timeout, so a task still running is never
# handed to a second worker).
PACKET_TIME_LIMIT = 20 * 60
PACKET_SOFT_TIME_LIMIT = PACKET_TIME_LIMIT - 60


def _redelivered(task) -> bool:
    return bool((task.request.delivery_info or {}).get("redelivered"))


@shared_task(
    bind=True,
    name="appraisals.render_packet_batch",
    time_limit=PACKET_TIME_LIMIT,
    soft_time_limit=PACKET_SOFT_TIME_LIMIT,
)
def render_packet_batch(self, batch_id: int) -> int | None:
    # Plans the batch and queues its chunks. Redelivered after its worker died (acks_late):
    # the batch it left running is claimed again and the chunks not yet queued are queued.
    batch = packet_batch_run(batch_id=batch_id, resume=_redelivered(self))
    return None if batch is None else batch.total


@shared_task(
    bind=True,
    name="appraisals.render_packet_chunk",
    time_limit=PACKET_TIME_LIMIT,
    soft_time_limit=PACKET_SOFT_TIME_LIMIT,
)
def render_packet_chunk(self, chunk_id: int) -> int | None:
    # Redelivered after its worker died: the chunk it left running is rendered again from
    # its start, overwriting its files; the chunks already done are not touched.
    chunk = packet_chunk_run(chunk_id=chunk_id, resume=_redelivered(self))
    return None if chunk is None else chunk.rendered


@shared_task(
    bind=True,
    name="appraisals.zip_packet_batch",
    time_limit=PACKET_TIME_LIMIT,
    soft_time_limit=PACKET_SOFT_TIME_LIMIT,
)
def zip_packet_batch(self, batch_id: int) -> int | None:
    # Redelivered after its worker died: the ZIP is written again; none was offered.
    batch = packet_batch_zip(batch_id=batch_id, resume=_redelivered(self))
    return None if batch is None else batch.rendered


@shared_task
def expire_packet_batches() -> int:
    """Nightly (beat): delete packet ZIPs past their retention (safe to run twice)."""
    return packet_batches_expire()


@shared_task(
    autoretry_for=(OperationalError, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def send_reminders(day: str | None = None) -> int:
    """Daily (beat): the deadline reminders and overdue digests of every cycle in a
    review phase, and HR's summary of every running cycle, for ``day`` (ISO date; by
    default today in the company's time zone). Safe to run twice: each notice is keyed
    by its day (or phase), and written only once."""
    today = datetime.date.fromisoformat(day) if day else timezone.localdate()
    written = 0
    running = Cycle.objects.exclude(status__in=[Cycle.Status.DRAFT, Cycle.Status.CLOSED])
    for cycle in running.order_by("pk"):
        # One transaction per cycle: its e-mails are queued when it commits.
        with transaction.atomic():
            for reminder in reminders_due(cycle, today):
                written += notify(
                    reminder.event,
                    reminder.cycle,
                    day=reminder.day,
                    extra_context=reminder.context,
                )
            written += notify(
                "cycle_summary",
                cycle,
                day=today,
                extra_context={"summary": cycle_summary(cycle, today=today)},
            )
    return written
