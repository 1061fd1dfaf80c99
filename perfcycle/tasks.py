"""Background work: the organisation import of an uploaded file (queued by the import
page), and e-mailing notifications (queued on commit by ``notify()``, and the outbox
drained every minute by beat)."""

from __future__ import annotations

import io
import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import translation
from django.utils.translation import gettext as _

from . import notifications
from .models import OrgImport
from .org_import import import_org_file
from .org_import.reading import FILE_FIELD

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True)
def run_org_import(self, import_id: int, language: str | None = None) -> None:
    """Run a queued import once: claim the row, import its stored file, fill in the outcome.

    Safe to run twice for the same id: only the run that moves the row from queued to
    running does anything. The import writes everything, its outcome included, in one
    transaction: a worker that dies half-way leaves nothing written and the row running,
    and the broker's redelivery (late acks) claims it again and imports it from the
    start. ``language`` is the uploader's page language: the problems are stored as
    text, so they are written in it (by default the uploader's chosen language).
    """
    claimable = [OrgImport.Status.QUEUED]
    if (self.request.delivery_info or {}).get("redelivered"):
        claimable.append(OrgImport.Status.RUNNING)
    claimed = OrgImport.objects.filter(pk=import_id, status__in=claimable).update(
        status=OrgImport.Status.RUNNING, progress=0
    )
    if not claimed:
        return
    record = OrgImport.objects.select_related("actor").get(pk=import_id)

    def progress(percent: int) -> None:
        OrgImport.objects.filter(pk=import_id).update(progress=percent)

    chosen = record.actor.language if record.actor else ""
    language = language or chosen or settings.LANGUAGE_CODE
    with translation.override(language):
        _run(record, progress)


def _run(record: OrgImport, progress) -> None:
    import_id = record.pk
    try:
        import_org_file(
            actor=record.actor,
            file=io.StringIO(record.source),
            filename=record.filename,
            deactivate_missing=record.deactivate_missing,
            record=record,
            progress=progress,
        )
    except Exception:
        logger.exception("Organisation import %s failed", import_id)
        message = _(
            "The import stopped on an unexpected error; nothing was changed. "
            "Try again, and tell the administrator if it happens again."
        )
        OrgImport.objects.filter(pk=import_id).update(
            status=OrgImport.Status.REJECTED,
            progress=100,
            source="",
            errors=[{"line": 0, "field": FILE_FIELD, "message": message}],
        )
        raise


@shared_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError, OperationalError),
    retry_backoff=True,
    retry_backoff_max=5 * 60,
    retry_jitter=True,
    max_retries=5,
    time_limit=notifications.SEND_TIME_LIMIT,
    soft_time_limit=notifications.SEND_TIME_LIMIT - 30,
)
def send_notifications(ids: list[int]) -> int:
    """E-mail these notices over one connection. A retry, or a second delivery of the
    task, sends only what was not sent: each row is claimed before it is sent."""
    return notifications.send(ids)


@shared_task(
    time_limit=notifications.SEND_TIME_LIMIT,
    soft_time_limit=notifications.SEND_TIME_LIMIT - 30,
)
def drain_notification_outbox() -> int:
    """Every minute (beat): e-mail the notices whose task never ran (the broker was down
    when they were written) or died."""
    return notifications.drain_outbox()
