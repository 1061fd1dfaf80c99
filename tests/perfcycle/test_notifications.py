"""Notifications: one notice per recipient in the inbox, e-mailed once after commit.

The org of ``tests/conftest.py``: Emil Employee (reviewer Mona Manager), Hana HR in the
``hr_admin`` group. Appraisal set-up comes from ``tests/appraisals/conftest.py``.
"""

import datetime
import smtplib
import socket
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm
from kombu.exceptions import OperationalError as BrokerDown

from appraisals import services
from appraisals.models import Appeal, Appraisal, Review
from perfcycle import access, notifications
from perfcycle.models import Cycle, Notification, RatingLevel, User
from perfcycle.tasks import drain_notification_outbox, send_notifications
from tests.appraisals.conftest import (  # noqa: F401
    appraisal,
    appraisal_cycle,
    at_phase,
    competencies,
    manager_review,
    self_review,
)
from tests.factories import CycleFactory, UserFactory
from tests.goals.conftest import cascade, cycle  # noqa: F401

P = Cycle.Status
A = Appraisal.Stage
INBOX = reverse("inbox")
READ_ALL = reverse("inbox_read_all")


def hr_group():
    return Group.objects.get_or_create(name=access.HR_ADMIN_GROUP)[0]


def more_hr(count):
    users = [UserFactory() for _ in range(count)]
    hr_group().user_set.add(*users)
    return users


def age(minutes=2):
    """Make every notice older, as if written ``minutes`` ago."""
    Notification.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=minutes))


def notice(user, n=0, **fields):
    return Notification.objects.create(
        recipient=user,
        event="results_released",
        key=f"test:{user.pk}:{n}",
        title=fields.pop("title", f"Notice {n}"),
        body=fields.pop("body", "Something happened."),
        url="/appraisals/mine/",
        **fields,
    )


@pytest.fixture
def released(org):
    """Emil's final result in FY2025, released (written directly: set-up only)."""
    the_cycle = CycleFactory(name="FY2025", status=P.FEEDBACK)
    return Appraisal.objects.create(
        cycle=the_cycle,
        employee=org.employee,
        department=org.sales_east,
        stage=A.FINAL,
        final_level=the_cycle.rating_scale.levels.get(value=3),
        released_at=timezone.now(),
    )


@pytest.fixture
def appeal(released):
    """Emil's open appeal against it."""
    return Appeal.objects.create(appraisal=released, reason="My Q4 deals are missing.")


@pytest.fixture
def finalised(appraisal_cycle):  # noqa: F811
    """Everyone's rating final at 3, the cycle in feedback, nothing released yet."""
    level = RatingLevel.objects.get(scale=appraisal_cycle.rating_scale, value=3)
    Appraisal.objects.filter(cycle=appraisal_cycle).update(stage=A.FINAL, final_level=level)
    return at_phase(appraisal_cycle, P.FEEDBACK)


# --- writing ------------------------------------------------------------------------


def test_it_writes_one_notice_per_recipient_and_nothing_twice_a_day(org, appeal, hr_admin):
    others = more_hr(2)
    today = datetime.date(2026, 3, 2)

    written = notifications.notify("appeal_opened", appeal, day=today)

    assert written == 3
    rows = Notification.objects.order_by("recipient__email")
    assert {row.recipient for row in rows} == {hr_admin, *others}
    row = rows.get(recipient=hr_admin)
    assert row.event == "appeal_opened" and row.read_at is None and row.emailed_at is None
    assert row.key == f"appeal_opened:appraisals.appeal:{appeal.pk}:{hr_admin.pk}:2026-03-02"
    assert row.title == "Emil Employee appealed their FY2025 result"
    assert "My Q4 deals are missing." in row.body
    assert row.url == reverse("appraisals:appeal_resolve", args=[appeal.pk])

    assert notifications.notify("appeal_opened", appeal, day=today) == 0
    assert Notification.objects.count() == 3
    # The next day is another reminder.
    assert notifications.notify("appeal_opened", appeal, day=today.replace(day=3)) == 3


def test_it_writes_nothing_for_people_who_left_or_unknown_events(org, appeal, hr_admin):
    gone = more_hr(1)[0]
    gone.is_active = False
    gone.save()

    assert notifications.notify("appeal_opened", appeal) == 1
    assert not Notification.objects.filter(recipient=gone).exists()
    with pytest.raises(LookupError):
        notifications.notify("no_such_event", appeal)
    assert notifications.notify("appeal_opened", []) == 0


def test_an_event_may_name_its_recipients_one_object_at_a_time(appeal, hr_admin):
    recipients = notifications.each(lambda appeal: User.objects.filter(pk=hr_admin.pk))

    assert list(recipients([appeal, appeal])) == [(appeal, hr_admin), (appeal, hr_admin)]


@pytest.mark.parametrize("recipients", [3, 30])
def test_it_writes_for_many_recipients_in_the_same_few_queries(
    org, appeal, recipients, django_assert_num_queries
):
    more_hr(recipients - 1)  # and Hana

    # The appeal, the chain above its department, its administrators (HR and partners),
    # the keys already written, the insert, the read-back.
    with django_assert_num_queries(6):
        written = notifications.notify("appeal_opened", appeal)

    assert written == recipients


def test_a_concurrent_writer_of_the_same_key_wins_and_this_call_sends_nothing(
    org, appeal, hr_admin
):
    key = f"appeal_opened:appraisals.appeal:{appeal.pk}:{hr_admin.pk}:once"
    real_bulk_create = Notification.objects.bulk_create

    def written_meanwhile(rows, **kwargs):
        # Between the check for existing keys and the insert, another call wrote it.
        Notification.objects.create(
            recipient=hr_admin, event="appeal_opened", key=key, title="Theirs"
        )
        return real_bulk_create(rows, **kwargs)

    with mock.patch.object(Notification.objects, "bulk_create", side_effect=written_meanwhile):
        written = notifications.notify("appeal_opened", appeal)

    assert written == 0
    assert Notification.objects.get().title == "Theirs"


# --- e-mail after commit --------------------------------------------------------------


def test_released_results_are_emailed_on_commit_in_text_and_html(
    org, hr_admin, employee, finalised, settings, celery_inline, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://perf.example.com"
    employee.language = "en"
    employee.save()

    with django_capture_on_commit_callbacks(execute=True):
        released = services.results_release(actor=hr_admin, cycle=finalised)

    assert released == 7 and len(mail.outbox) == 7
    assert Notification.objects.filter(emailed_at=None).count() == 0
    mine = next(m for m in mail.outbox if m.to == ["employee@example.com"])
    emils = Appraisal.objects.get(cycle=finalised, employee=org.employee)
    link = f"https://perf.example.com/appraisals/{emils.pk}/"
    assert mine.subject == "Your FY2026 result is released"
    assert mine.body.startswith("Hello Emil,\n\nYour final result for the FY2026 cycle is ready.")
    assert link in mine.body
    html, kind = mine.alternatives[0]
    assert kind == "text/html" and '<html lang="en">' in html
    assert f'<a href="{link}">Read your result</a>' in html
    assert "manager&#x27;s assessment" in html  # escaped in HTML, plain in text
    assert "manager's assessment" in mine.body


def test_each_recipient_gets_the_notice_in_their_own_language(org, appeal, hr_admin):
    chinese = more_hr(1)[0]
    chinese.language, chinese.full_name = "zh-hans", "Wang Fang"
    chinese.save()
    hr_admin.language = "en"
    hr_admin.save()
    used = []
    real_override = translation.override

    def spy(language, *args, **kwargs):
        used.append(language)
        return real_override(language, *args, **kwargs)

    # The language of the page that caused it does not matter.
    with (
        translation.override("zh-hans"),
        mock.patch.object(notifications.translation, "override", side_effect=spy),
    ):
        notifications.notify("appeal_opened", appeal)
    assert sorted(used) == ["en", "zh-hans"]  # subject and message, per language

    with translation.override("zh-hans"):
        notifications.send(list(Notification.objects.values_list("pk", flat=True)))

    english = next(m for m in mail.outbox if m.to == [hr_admin.email])
    assert english.subject == "Emil Employee appealed their FY2025 result"
    assert english.body.startswith("Hello Hana,\n\nEmil Employee appealed")
    assert '<html lang="en">' in english.alternatives[0][0]
    assert "Hello Hana," in english.alternatives[0][0]
    chinese_mail = next(m for m in mail.outbox if m.to == [chinese.email])
    assert chinese_mail.body.startswith("Wang，您好：")
    assert '<html lang="zh-hans">' in chinese_mail.alternatives[0][0]


def test_nothing_is_written_or_sent_when_the_change_rolls_back(
    org, appeal, celery_inline, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notifications.notify("appeal_opened", appeal)
        raise RuntimeError("the change failed after the notice was written")

    assert callbacks == [] and mail.outbox == []
    assert not Notification.objects.exists()


def test_the_e_mail_is_queued_only_once_the_change_commits(
    org, appeal, celery_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notifications.notify("appeal_opened", appeal)
    # Written, but nothing sent while the change is uncommitted ...
    assert Notification.objects.count() == 1 and mail.outbox == []
    assert len(callbacks) == 1
    # ... and sent by what runs on commit.
    callbacks[0]()
    assert [m.to for m in mail.outbox] == [[Notification.objects.get().recipient.email]]


# --- sending exactly once -------------------------------------------------------------


def test_a_retried_or_repeated_send_sends_nothing_twice(org, appeal, hr_admin):
    more_hr(1)
    notifications.notify("appeal_opened", appeal)
    ids = list(Notification.objects.values_list("pk", flat=True))

    assert send_notifications(ids) == 2
    assert send_notifications(ids) == 0
    age()
    assert drain_notification_outbox() == 0
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(emailed_at=None).count() == 0


class RefusingHandler:
    """A real SMTP server's handler: refuses the addresses in ``refused`` as a mail
    server does for a mailbox that does not exist, delivers the rest (or, after
    ``fail_after`` messages, puts every message off)."""

    def __init__(self, refused):
        self.refused = set(refused)
        self.delivered = []
        self.fail_after = None  # messages taken before it answers "451 try later"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_after is not None and len(self.delivered) >= self.fail_after:
            return "451 4.3.0 Try again later"
        self.delivered.extend(envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 (aiosmtpd), with Django's SMTP backend sending to
    it; it refuses bounce@example.com."""
    handler = RefusingHandler({"bounce@example.com"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()


def test_an_address_the_mail_server_refuses_does_not_hold_up_the_others(
    org, appeal, hr_admin, smtp_server
):
    bounce, fine = more_hr(2)
    User.objects.filter(pk=bounce.pk).update(email="bounce@example.com")
    notifications.notify("appeal_opened", appeal)
    ids = list(Notification.objects.values_list("pk", flat=True))

    assert notifications.send(ids) == 2

    assert sorted(smtp_server.delivered) == sorted([hr_admin.email, fine.email])
    refused = Notification.objects.get(recipient=bounce)
    assert refused.emailed_at is not None  # out of the outbox: never tried again
    assert "No such user" in refused.email_error
    assert not Notification.objects.filter(emailed_at=None).exists()
    age()
    assert notifications.drain_outbox() == 0
    assert Notification.objects.exclude(email_error="").count() == 1


def test_a_send_that_fails_halfway_is_retried_for_the_rest_only(org, appeal, hr_admin, smtp_server):
    """The real mail server takes the first message, then answers 451 (try later): the
    sent row is marked, the rest are released for the retry, which sends only them."""
    more_hr(2)
    notifications.notify("appeal_opened", appeal)
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    smtp_server.fail_after = 1

    with pytest.raises(smtplib.SMTPDataError):
        notifications.send(ids)

    assert len(smtp_server.delivered) == 1
    assert Notification.objects.filter(emailed_at__isnull=False).count() == 1
    # The failed and unsent rows are free again for the retry.
    assert not Notification.objects.filter(emailed_at=None).exclude(claim="").exists()
    smtp_server.fail_after = None
    assert notifications.send(ids) == 2
    assert notifications.send(ids) == 0
    assert sorted(smtp_server.delivered) == sorted(
        Notification.objects.values_list("recipient__email", flat=True)
    )


def test_a_row_another_sender_holds_is_left_to_it_unless_its_claim_is_stale(org, appeal, hr_admin):
    notifications.notify("appeal_opened", appeal)
    row = Notification.objects.get()
    Notification.objects.update(claim="other", claimed_at=timezone.now())

    assert notifications.send([row.pk]) == 0

    Notification.objects.update(claimed_at=timezone.now() - notifications.CLAIM_TIMEOUT * 2)
    assert notifications.send([row.pk]) == 1
    assert len(mail.outbox) == 1


def test_the_send_task_retries_transient_errors_with_backoff():
    assert send_notifications.name == "perfcycle.tasks.send_notifications"
    assert smtplib.SMTPException in send_notifications.autoretry_for
    assert ConnectionError in send_notifications.autoretry_for
    assert send_notifications.retry_backoff and send_notifications.retry_jitter
    assert send_notifications.max_retries == 5
    assert send_notifications.app.conf.task_acks_late is True


def test_beat_drains_the_outbox_every_minute():
    entry = drain_notification_outbox.app.conf.beat_schedule["drain-notification-outbox"]
    assert entry["task"] == "perfcycle.tasks.drain_notification_outbox"
    assert entry["schedule"] == 60.0


def test_a_save_succeeds_when_the_broker_is_down_and_the_outbox_sends_it_later(
    client, employee, hr_admin, released, django_capture_on_commit_callbacks, broker_down
):
    client.force_login(employee)
    with pytest.raises(BrokerDown):  # the broker really is unreachable
        send_notifications.delay([])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("appraisals:appeal", args=[released.pk]), {"reason": "Q4 deals missing"}
        )

    assert response.status_code == 302 and len(callbacks) == 1
    assert Appeal.objects.get().reason == "Q4 deals missing"
    row = Notification.objects.get()
    assert row.recipient == hr_admin and row.emailed_at is None and mail.outbox == []
    # The task queued on commit gets a minute before the outbox takes over.
    assert drain_notification_outbox() == 0

    age()
    assert drain_notification_outbox() == 1

    assert len(mail.outbox) == 1 and mail.outbox[0].to == [hr_admin.email]
    assert drain_notification_outbox() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_emails_released_results_exactly_once(org, hr_admin, employee, worker_idle):
    the_cycle = CycleFactory(name="FY2025", status=P.FEEDBACK)
    Appraisal.objects.create(
        cycle=the_cycle,
        employee=org.employee,
        department=org.sales_east,
        stage=A.FINAL,
        final_level=the_cycle.rating_scale.levels.get(value=4),
    )

    assert services.results_release(actor=hr_admin, cycle=the_cycle) == 1

    worker_idle()  # the e-mail task queued on commit has run
    assert [m.to for m in mail.outbox] == [[employee.email]]
    assert mail.outbox[0].subject == "Your FY2025 result is released"
    assert Notification.objects.get().emailed_at is not None
    age()
    assert drain_notification_outbox() == 0 and len(mail.outbox) == 1


# --- the events the appraisal services raise --------------------------------------------


def events_of(user):
    return list(Notification.objects.filter(recipient=user).values_list("event", flat=True))


def test_releasing_results_tells_each_employee_released(org, hr_admin, finalised):
    services.results_release(actor=hr_admin, cycle=finalised, departments=[org.sales])

    told = set(Notification.objects.values_list("recipient__email", flat=True))
    assert told == {"manager@example.com", "employee@example.com", "peer@example.com"}
    services.results_release(actor=hr_admin, cycle=finalised)
    assert Notification.objects.filter(event="results_released").count() == 7


def test_returning_a_review_tells_its_author_each_time(
    org,
    hr_admin,
    manager,
    employee,
    appraisal,  # noqa: F811
):
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)  # where a returned review can be rewritten
    own, managers = self_review(appraisal), manager_review(appraisal)
    Review.objects.filter(pk__in=[own.pk, managers.pk]).update(status=Review.Status.SUBMITTED)

    services.review_return(actor=hr_admin, review=own, comment="Add the Q4 numbers.")
    services.review_return(actor=hr_admin, review=managers, comment="Explain the 3.")

    assert events_of(employee) == ["review_returned"]
    assert events_of(manager) == ["review_returned"]
    mine = Notification.objects.get(recipient=employee)
    assert mine.title == "Your self-review was returned for changes"
    assert "Add the Q4 numbers." in mine.body
    assert mine.url == reverse("appraisals:self_review", args=[appraisal.pk])
    theirs = Notification.objects.get(recipient=manager)
    assert theirs.title == "Your review of Emil Employee was returned for changes"
    assert theirs.url == reverse("appraisals:manager_review", args=[appraisal.pk])
    # Submitted again and returned again: told again.
    Review.objects.filter(pk=own.pk).update(status=Review.Status.SUBMITTED)
    services.review_return(actor=hr_admin, review=own, comment="And Q3.")
    assert events_of(employee) == ["review_returned", "review_returned"]


def test_an_appeal_tells_hr_and_its_outcome_tells_the_employee(hr_admin, employee, released):
    filed = services.appeal_file(actor=employee, appraisal=released, reason="Q4 missing")

    assert events_of(hr_admin) == ["appeal_opened"] and events_of(employee) == []
    services.appeal_resolve(actor=hr_admin, appeal=filed, status="dismissed", outcome="Counted.")
    assert events_of(employee) == ["appeal_resolved"]
    told = Notification.objects.get(recipient=employee)
    assert told.title == "Your appeal about your FY2025 result was resolved"
    assert told.body.startswith("HR dismissed your appeal: your rating stands.")
    assert told.url == reverse("appraisals:appraisal", args=[released.pk])


def test_an_appeal_tells_the_partners_of_its_department_and_superusers_too(
    org, hr_admin, employee, released
):
    """Everyone who may resolve it (the access policy's administrators), and nobody else:
    a partner of Sales (granted on the parent of Emil's department) and one through a
    group, a superuser; not a partner of Engineering."""
    sales_partner, group_partner, engineering_partner = UserFactory(), UserFactory(), UserFactory()
    assign_perm(access.PARTNER_PERMISSION, sales_partner, org.sales)
    group = Group.objects.create(name="Sales partners")
    group.user_set.add(group_partner)
    assign_perm(access.PARTNER_PERMISSION, group, org.sales)
    assign_perm(access.PARTNER_PERMISSION, engineering_partner, org.engineering)
    root = UserFactory(is_superuser=True)

    services.appeal_file(actor=employee, appraisal=released, reason="Q4 missing")

    told = set(
        Notification.objects.filter(event="appeal_opened").values_list("recipient", flat=True)
    )
    assert told == {hr_admin.pk, sales_partner.pk, group_partner.pk, root.pk}


def test_an_hr_administrators_own_appeal_goes_to_the_others(org, hr_admin, released):
    """Hana appeals her own result: the other HR administrators resolve it, not she."""
    other_hr = more_hr(1)[0]
    own = Appraisal.objects.create(
        cycle=released.cycle,
        employee=org.hr,
        department=org.people,
        reviewer=org.ceo,
        stage=A.FINAL,
        final_level=released.final_level,
        released_at=released.released_at,
    )

    notifications.notify("appeal_opened", Appeal.objects.create(appraisal=own, reason="Mine"))

    assert events_of(other_hr) == ["appeal_opened"] and events_of(hr_admin) == []


# --- the inbox ------------------------------------------------------------------------


def test_the_inbox_lists_my_notices_newest_first_with_the_unread_marked(client, employee, peer):
    old = notice(employee, 1, title="Older notice", read_at=timezone.now())
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )
    notice(employee, 2, title="Newer notice", body="Line one\nLine two")
    notice(peer, 3, title="Petra's notice")
    client.force_login(employee)

    response = client.get(INBOX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("Newer notice") < page.index("Older notice")
    assert "Petra&#x27;s notice" not in page
    assert page.count('<span class="badge badge-info">Unread</span>') == 1
    assert page.count('<span class="badge badge-neutral">Read</span>') == 1
    assert "Line one<br>Line two" in page
    assert page.count("Mark as read") == 1 and "Mark all as read" in page
    assert "1 unread notification" in page
    assert "style=" not in page and "<script>" not in page


def test_the_inbox_pages_by_25(client, employee):
    for n in range(30):
        notice(employee, n)
    client.force_login(employee)

    first = client.get(INBOX).content.decode()
    second = client.get(INBOX, {"page": 2}).content.decode()

    assert first.count('<li class="inbox-item') == 25 and "Page 1 of 2" in first
    assert second.count('<li class="inbox-item') == 5


def test_an_empty_inbox_says_what_arrives_there(client, employee):
    client.force_login(employee)

    page = client.get(INBOX).content.decode()

    assert "Your inbox is empty." in page and "Mark all as read" not in page


def test_the_inbox_reads_the_same_number_of_queries_for_3_or_30_notices(client, employee):
    def queries_for_inbox():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(INBOX).status_code == 200
        return len(queries)

    for n in range(3):
        notice(employee, n)
    client.force_login(employee)
    small = queries_for_inbox()
    for n in range(3, 30):
        notice(employee, n)

    assert queries_for_inbox() == small


def test_marking_one_read_goes_back_to_the_same_page(client, employee):
    item = notice(employee)
    client.force_login(employee)

    response = client.post(reverse("inbox_read", args=[item.pk]), {"next": f"{INBOX}?page=1"})

    assert response.status_code == 302 and response.url == f"{INBOX}?page=1"
    item.refresh_from_db()
    assert item.read_at is not None
    # Marking it again changes nothing.
    first_read = item.read_at
    client.post(reverse("inbox_read", args=[item.pk]), {"next": "https://evil.example/"})
    item.refresh_from_db()
    assert item.read_at == first_read


def test_marking_all_read_marks_only_mine(client, employee, peer):
    mine = [notice(employee, n) for n in range(3)]
    theirs = notice(peer, 9)
    client.force_login(employee)

    response = client.post(READ_ALL)

    assert response.status_code == 302 and response.url == INBOX
    assert all(Notification.objects.get(pk=n.pk).read_at for n in mine)
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert "3 notifications marked as read." in client.get(INBOX).content.decode()


def test_someone_elses_notice_is_not_found(client, employee, peer, hr_admin):
    theirs = notice(peer)
    for user in (employee, hr_admin):
        client.force_login(user)
        assert client.post(reverse("inbox_read", args=[theirs.pk])).status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_the_inbox_changes_only_by_post_and_only_for_a_signed_in_user(client, employee):
    item = notice(employee)
    client.force_login(employee)

    assert client.get(reverse("inbox_read", args=[item.pk])).status_code == 405
    assert client.get(READ_ALL).status_code == 405
    assert client.post(INBOX).status_code == 405
    client.logout()
    assert client.get(INBOX).status_code == 302
    assert client.post(READ_ALL).status_code == 302
    assert Notification.objects.get(pk=item.pk).read_at is None


def test_the_header_shows_the_unread_count(client, employee):
    notice(employee, 1)
    notice(employee, 2)
    notice(employee, 3, read_at=timezone.now())
    client.force_login(employee)

    page = client.get(reverse("home")).content.decode()

    assert (
        f'href="{INBOX}">Inbox <span class="badge badge-warning">2'
        '<span class="visually-hidden"> unread</span></span></a>'
    ) in page
    Notification.objects.update(read_at=timezone.now())
    page = client.get(reverse("home")).content.decode()
    assert f'href="{INBOX}">Inbox</a>' in page


class CountingBackend(LocmemBackend):
    """The test mail backend, counting the connections opened."""

    opened = 0

    def open(self):
        type(self).opened += 1
        return super().open()


def test_a_batch_of_notices_goes_out_over_one_connection(org, appeal, settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.opened = 0
    more_hr(30)
    notifications.notify("appeal_opened", appeal)
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert len(ids) == 31

    assert notifications.send(ids) == 31
    assert len(mail.outbox) == 31
    assert CountingBackend.opened == 1
