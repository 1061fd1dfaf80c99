"""Notifications: declared events, written once per recipient to the inbox and e-mailed.

An app declares its events in its own ``notifications`` module (found at start-up, as
the admin finds ``admin`` modules)::

    register(Event(
        "goal_awaits_approval",
        # The manager of the goal's owner.
        recipients=each(lambda goal: User.objects.filter(employee__reports=goal.employee_id)),
        url=lambda goal, user: reverse("goals:detail", args=[goal.pk]),
    ))

and the service that makes it happen raises it inside its transaction::

    notify("goal_awaits_approval", goal)

(see ``appraisals/notifications.py`` for events that fetch many objects and their
recipients in a fixed number of queries).

Each event has three templates, rendered in the recipient's language:
``notifications/<event>.subject.txt`` (the inbox title and e-mail subject),
``notifications/<event>.txt`` (the message: the inbox text and the e-mail's text part)
and ``notifications/<event>.html`` (the e-mail's HTML part, usually extending
``notifications/email.html``). The first two get ``object``, ``recipient``,
``company_name`` and any ``extra_context``; the HTML part is rendered when it is sent,
from the stored notice (``notification``, ``recipient``, ``url``, ``company_name``).

Reliability:

* ``Notification.key`` is unique per event, object, recipient and day (or occurrence),
  and rows are inserted-or-skipped: a repeated or retried call writes nothing twice and
  e-mails only the rows it inserted itself.
* The e-mail task is queued on commit: nothing is sent for a change that rolled back.
  If the broker is down the change still commits; the rows wait in the outbox (rows
  with ``emailed_at`` empty) and :func:`drain_outbox`, run every minute by beat, sends
  them.
* :func:`send` claims its rows with a conditional update before sending, marks each
  sent row, and releases the rest if sending fails, so a retried or redelivered task
  never e-mails a row twice.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Model, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import access
from .broker import send_after_commit
from .models import Notification, User

logger = logging.getLogger(__name__)

# How many notices one e-mail task sends over one SMTP connection.
SEND_BATCH = 200
# A task is killed after SEND_TIME_LIMIT; a claim older than CLAIM_TIMEOUT belongs to a
# task that died, and may be taken over. Keep CLAIM_TIMEOUT above the time limit.
SEND_TIME_LIMIT = 5 * 60
CLAIM_TIMEOUT = datetime.timedelta(minutes=10)
# The outbox drain leaves fresh rows to the task queued for them on commit.
OUTBOX_DELAY = datetime.timedelta(minutes=1)
DRAIN_LIMIT = 2000
_KEY_CHUNK = 2000

Pairs = Iterable[tuple[Model, User]]


@dataclass(frozen=True)
class Event:
    """Something people are told about.

    ``recipients`` gets the objects ``notify()`` was called with and returns
    ``(object, user)`` pairs, in a bounded number of queries: fetch the objects again
    with what the templates read (``select_related``) and the users in one query.
    :func:`each` adapts a one-object function for events raised for one object at a time.

    ``url`` is the page the notice links to (a path). ``occurrence`` tells repeated
    occurrences for the same object apart (e.g. a review returned a second time);
    without it an event is sent once per object and recipient, or once per ``day``.
    """

    name: str
    recipients: Callable[[Sequence[Model]], Pairs]
    url: Callable[[Model, User], str] = lambda obj, user: ""
    occurrence: Callable[[Model], str] | None = None

    @property
    def subject_template(self) -> str:
        return f"notifications/{self.name}.subject.txt"

    @property
    def text_template(self) -> str:
        return f"notifications/{self.name}.txt"


EVENTS: dict[str, Event] = {}


def register(event: Event) -> Event:
    if event.name in EVENTS:
        raise ValueError(f"The notification event {event.name!r} is declared twice.")
    EVENTS[event.name] = event
    return event


def each(users_of: Callable[[Model], QuerySet[User]]) -> Callable[[Sequence[Model]], Pairs]:
    """Recipients from a function of one object (one query per object)."""

    def pairs(objects: Sequence[Model]) -> Pairs:
        return [(obj, user) for obj in objects for user in users_of(obj)]

    return pairs


def refetch(queryset: QuerySet, objects: Sequence[Model]) -> Iterator[Model]:
    """``objects`` again from ``queryset`` (which selects what the templates read), a
    few thousand per query."""
    for pks in _chunks([obj.pk for obj in objects], _KEY_CHUNK):
        yield from queryset.filter(pk__in=pks)


def language_of(user: User) -> str:
    return user.language or settings.LANGUAGE_CODE


# --- writing ----------------------------------------------------------------------------


def notify(
    event_name: str,
    obj: Model | Sequence[Model] | QuerySet,
    *,
    day: datetime.date | None = None,
    extra_context: dict[str, Any] | None = None,
) -> int:
    """Tell the event's recipients about ``obj`` (one object, or several of one kind).

    Writes one notice per recipient and object (skipping any already written for this
    key) and queues their e-mail for when the transaction commits. Returns how many
    notices this call wrote. Call it inside the transaction that makes the change.
    """
    try:
        event = EVENTS[event_name]
    except KeyError:
        raise LookupError(f"No notification event is declared as {event_name!r}.") from None
    objects = list(obj) if isinstance(obj, list | tuple | QuerySet) else [obj]
    if not objects:
        return 0
    wanted: dict[str, tuple[Model, User]] = {}
    for target, user in event.recipients(objects):
        if user.is_active:
            wanted.setdefault(_key(event, target, user, day), (target, user))
    # Rendering is the costly part: skip what an earlier call already wrote.
    for keys in _chunks(list(wanted), _KEY_CHUNK):
        for key in Notification.objects.filter(key__in=keys).values_list("key", flat=True):
            del wanted[key]
    if not wanted:
        return 0
    batch = uuid.uuid4().hex
    now = timezone.now()
    by_language: dict[str, list[tuple[str, Model, User]]] = defaultdict(list)
    for key, (target, user) in wanted.items():
        by_language[language_of(user)].append((key, target, user))
    rows = []
    for language, entries in by_language.items():
        with translation.override(language):
            for key, target, user in entries:
                context = {
                    "object": target,
                    "recipient": user,
                    "company_name": settings.COMPANY_NAME,
                    **(extra_context or {}),
                }
                rows.append(
                    Notification(
                        recipient=user,
                        event=event.name,
                        key=key,
                        title=_one_line(render_to_string(event.subject_template, context)),
                        body=render_to_string(event.text_template, context).strip(),
                        url=event.url(target, user),
                        created_at=now,
                        batch=batch,
                    )
                )
    # Insert-or-skip: a concurrent call may have written some keys meanwhile.
    Notification.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    ids = list(Notification.objects.filter(batch=batch).values_list("pk", flat=True))
    if ids:
        _enqueue(ids)
    return len(ids)


def _key(event: Event, obj: Model, user: User, day: datetime.date | None) -> str:
    if day is not None:
        when = day.isoformat()
    elif event.occurrence is not None:
        when = event.occurrence(obj)
    else:
        when = "once"
    return f"{event.name}:{obj._meta.label_lower}:{obj.pk}:{user.pk}:{when}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[: Notification._meta.get_field("title").max_length]


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _enqueue(ids: list[int]) -> None:
    """Queue the e-mails after commit. A broker that is down loses nothing: the rows stay
    in the outbox for :func:`drain_outbox`."""
    from .tasks import send_notifications

    for chunk in _chunks(ids, SEND_BATCH):
        send_after_commit(send_notifications, chunk)


# --- sending ----------------------------------------------------------------------------


def send(ids: Sequence[int]) -> int:
    """E-mail the notices ``ids`` that nobody has e-mailed or is e-mailing, over one
    connection. Returns how many were sent. Safe to run twice, or at the same time."""
    claim = uuid.uuid4().hex
    now = timezone.now()
    claimed = _unsent().filter(pk__in=list(ids)).update(claim=claim, claimed_at=now)
    if not claimed:
        return 0
    rows = list(
        Notification.objects.filter(pk__in=list(ids), claim=claim).select_related("recipient")
    )
    done: list[int] = []
    refused: dict[int, str] = {}
    sent = 0
    try:
        with get_connection() as connection:
            for row in rows:
                # Someone who has left is not written to; their notice counts as done.
                if row.recipient.is_active and row.recipient.email:
                    try:
                        sent += connection.send_messages([_message(row, connection)])
                    except (smtplib.SMTPRecipientsRefused, ValueError) as exc:
                        # This address will never take it (refused, or not an address):
                        # the notice leaves the outbox with the reason, the rest go on.
                        refused[row.pk] = str(exc)[:300]
                        logger.warning(
                            "Notice %s not e-mailed to %s: %s", row.pk, row.recipient.email, exc
                        )
                done.append(row.pk)
    finally:
        if done:
            Notification.objects.filter(pk__in=done).update(emailed_at=timezone.now(), claim="")
        for pk, error in refused.items():
            Notification.objects.filter(pk=pk).update(email_error=error)
        if len(done) < len(rows):
            # Let the retry (or the outbox drain) have the rest.
            Notification.objects.filter(pk__in=list(ids), claim=claim, emailed_at=None).update(
                claim="", claimed_at=None
            )
    return sent


def drain_outbox(limit: int = DRAIN_LIMIT) -> int:
    """Send what was not sent: notices older than a minute whose e-mail never left (the
    broker was down, or the task died). Returns how many were sent."""
    cutoff = timezone.now() - OUTBOX_DELAY
    ids = list(
        _unsent()
        .filter(created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(send(chunk) for chunk in _chunks(ids, SEND_BATCH))


def _unsent() -> QuerySet[Notification]:
    """Rows nobody has e-mailed, and nobody is e-mailing (or whose sender died)."""
    stale = timezone.now() - CLAIM_TIMEOUT
    return Notification.objects.filter(emailed_at=None).filter(
        Q(claim="") | Q(claimed_at__lt=stale)
    )


def _message(row: Notification, connection) -> EmailMultiAlternatives:
    user = row.recipient
    with translation.override(language_of(user)):
        context = {
            "notification": row,
            "recipient": user,
            "url": absolute_url(row.url),
            "company_name": settings.COMPANY_NAME,
        }
        text = render_to_string("notifications/email.txt", context)
        # By the stored name: a worker sends what was written, whatever the registry holds.
        html = render_to_string(f"notifications/{row.event}.html", context)
    message = EmailMultiAlternatives(
        subject=row.title, body=text, to=[user.email], connection=connection
    )
    message.attach_alternative(html, "text/html")
    return message


def absolute_url(path: str) -> str:
    if not path or "://" in path:
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


# --- reading and marking read -----------------------------------------------------------


def inbox_for(user: User) -> QuerySet[Notification]:
    """The person's notices, newest first."""
    return access.notifications_visible_to(user).order_by("-created_at", "-pk")


def unread_count(user: User) -> int:
    return access.notifications_visible_to(user).filter(read_at=None).count()


def notification_mark_read(*, user: User, notification: Notification) -> bool:
    """Mark one of ``user``'s notices read; False if it already was."""
    return bool(
        Notification.objects.filter(pk=notification.pk, recipient=user, read_at=None).update(
            read_at=timezone.now()
        )
    )


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at=None).update(read_at=timezone.now())
