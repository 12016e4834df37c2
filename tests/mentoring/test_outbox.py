"""Outgoing mail is an outbox row first; Celery only drains it."""

import datetime
import smtplib
import socket
import time
import uuid

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mentoring import services
from mentoring.models import OutboxMessage
from mentoring.tasks import drain_outbox

pytestmark = pytest.mark.django_db(transaction=False)


class FlakyBackend:
    """A mail server that refuses while `down` is true."""

    down = True

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        if FlakyBackend.down:
            raise ConnectionRefusedError("mail server is down")

    def close(self):
        pass

    def send_messages(self, messages):
        from django.core.mail.backends.locmem import EmailBackend

        return EmailBackend().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    FlakyBackend.down = True
    settings.OUTBOX_DELIVERY_BACKEND = f"{__name__}.FlakyBackend"
    return FlakyBackend


def test_send_mail_writes_a_row_and_sends_nothing_yet():
    send_mail("Welcome", "Hello there", None, ["kemi@acme.example"])
    row = OutboxMessage.objects.get()
    assert (row.subject, row.to, row.status) == ("Welcome", ["kemi@acme.example"], "pending")
    assert mail.outbox == []


def test_a_rolled_back_change_leaves_no_message():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            send_mail("Paired!", "You have a mentor", None, ["kemi@acme.example"])
            raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.exists()


def test_drain_delivers_html_text_and_attachments_with_a_stable_message_id(deliver_outbox):
    msg = EmailMultiAlternatives("Invite", "Plain text body", "hr@acme.example", ["a@acme.example"], headers={"List-Unsubscribe": "<https://x/u>"})
    msg.attach_alternative("<p>HTML body</p>", "text/html")
    msg.attach("invite.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    msg.send()
    row = OutboxMessage.objects.get()

    assert deliver_outbox() == 1

    [sent] = mail.outbox
    assert sent.subject == "Invite" and sent.body == "Plain text body"
    assert sent.alternatives[0][0] == "<p>HTML body</p>"
    assert sent.attachments[0][0] == "invite.ics" and "VCALENDAR" in sent.attachments[0][1]
    assert sent.extra_headers["Message-ID"] == row.message_id
    assert sent.extra_headers["List-Unsubscribe"] == "<https://x/u>"
    row.refresh_from_db()
    assert row.status == "sent" and row.sent_at is not None


def test_draining_twice_sends_each_message_once(deliver_outbox):
    for n in range(3):
        send_mail(f"Note {n}", "body", None, [f"p{n}@acme.example"])
    drain_outbox()
    drain_outbox()
    assert deliver_outbox() == 0
    assert sorted(m.subject for m in mail.outbox) == ["Note 0", "Note 1", "Note 2"]


def test_mail_server_down_keeps_messages_and_retries_with_backoff(flaky_mail, deliver_outbox):
    send_mail("Reminder", "body", None, ["a@acme.example"])
    report = services.outbox_deliver_due()
    row = OutboxMessage.objects.get()
    assert report.retrying == 1 and row.status == "pending" and row.attempts == 1
    assert "mail server is down" in row.last_error
    assert row.next_attempt_at > timezone.now()  # backoff: not retried at once
    assert services.outbox_deliver_due().claimed == 0

    flaky_mail.down = False
    later = timezone.now() + datetime.timedelta(hours=2)
    assert services.outbox_deliver_due(now=later).sent == 1
    assert [m.subject for m in mail.outbox] == ["Reminder"]


def test_after_the_last_attempt_a_message_is_failed_and_hr_can_retry_it(flaky_mail, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    send_mail("Reminder", "body", None, ["a@acme.example"])
    far = timezone.now() + datetime.timedelta(days=1)
    services.outbox_deliver_due(now=far)
    services.outbox_deliver_due(now=far + datetime.timedelta(days=1))
    row = OutboxMessage.objects.get()
    assert row.status == "failed" and row.attempts == 2

    flaky_mail.down = False
    assert services.outbox_retry(message_ids=[row.pk]) == 1
    assert services.outbox_deliver_due().sent == 1
    assert len(mail.outbox) == 1


def test_a_message_held_by_a_dead_worker_is_claimed_again_after_its_lease(settings):
    send_mail("Lost worker", "body", None, ["a@acme.example"])
    token, rows = services.outbox_claim(batch_size=10)  # a worker claims, then dies
    assert len(rows) == 1
    assert services.outbox_deliver_due().claimed == 0  # still leased

    after_lease = timezone.now() + datetime.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
    assert services.outbox_deliver_due(now=after_lease).sent == 1
    assert len(mail.outbox) == 1
    # The dead worker waking up cannot mark the row: its lease token is gone.
    assert OutboxMessage.objects.filter(lease_token=token).count() == 0


def test_idempotency_key_adds_a_message_once():
    first = services.outbox_add(message=EmailMultiAlternatives("A", "b", None, ["x@acme.example"]), idempotency_key="reminder:1:x")
    second = services.outbox_add(message=EmailMultiAlternatives("A", "b", None, ["x@acme.example"]), idempotency_key="reminder:1:x")
    assert first.pk == second.pk and OutboxMessage.objects.count() == 1


def test_delivery_is_nudged_after_commit_and_a_broken_broker_never_fails_the_caller(django_capture_on_commit_callbacks, monkeypatch):
    calls = []

    def broken_apply_async(*args, **kwargs):
        calls.append(1)
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(drain_outbox, "apply_async", broken_apply_async)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send_mail("Paired", "body", None, ["a@acme.example"])
        assert calls == []  # nothing is enqueued inside the transaction
    assert len(callbacks) == 1 and calls == [1]
    assert OutboxMessage.objects.get().status == "pending"  # the sweep will deliver it


def test_on_commit_nudge_delivers_in_eager_mode(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_mail("Paired", "body", None, ["a@acme.example"])
    assert [m.subject for m in mail.outbox] == ["Paired"]
    assert OutboxMessage.objects.get().status == "sent"


def test_many_messages_in_one_transaction_nudge_delivery_once(django_capture_on_commit_callbacks):
    """With the broker down each failed enqueue costs time: one nudge per transaction."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            for n in range(5):
                send_mail(f"Note {n}", "body", None, [f"p{n}@acme.example"])
    assert len(callbacks) == 1
    assert OutboxMessage.objects.count() == 5


# --- Batches, leases and a broker that is down ---------------------------------------------------


class CountingBackend:
    """A mail server that counts its connections and hands messages to locmem."""

    opened = 0

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        CountingBackend.opened += 1

    def close(self):
        pass

    def send_messages(self, messages):
        from django.core.mail.backends.locmem import EmailBackend

        return EmailBackend().send_messages(messages)


class SlowBackend(CountingBackend):
    """Each hand-over takes `delay` seconds; records when each one finished."""

    delay = 0.4
    finished: list[float] = []

    def send_messages(self, messages):
        time.sleep(SlowBackend.delay)
        SlowBackend.finished.append(time.monotonic())
        return super().send_messages(messages)


class StealingBackend(CountingBackend):
    """While the first message is handed over, the batch's lease runs out and another worker
    claims every row (a new lease token)."""

    def send_messages(self, messages):
        OutboxMessage.objects.update(lease_token=uuid.uuid4())
        return super().send_messages(messages)


class RefusingBackend(CountingBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPSenderRefused(451, b"4.3.2 Try again later", "upward@localhost")


def queue_mail(count: int) -> None:
    for n in range(count):
        send_mail(f"Note {n}", "body", None, [f"p{n}@acme.example"])


def test_a_batch_is_claimed_and_read_in_one_statement():
    queue_mail(3)
    with CaptureQueriesContext(connection) as ctx:
        token, rows = services.outbox_claim(batch_size=10)
    assert len(ctx.captured_queries) == 1
    assert [r.subject for r in rows] == ["Note 0", "Note 1", "Note 2"]
    assert all((r.status, r.lease_token, r.attempts) == ("sending", token, 1) for r in rows)
    assert services.outbox_claim(batch_size=10)[1] == []  # leased: nobody else gets them


def test_a_batch_uses_one_connection_and_one_query_per_message(settings):
    settings.OUTBOX_DELIVERY_BACKEND = f"{__name__}.CountingBackend"

    def queries_to_deliver(count: int) -> int:
        queue_mail(count)
        CountingBackend.opened = 0
        with CaptureQueriesContext(connection) as ctx:
            report = services.outbox_deliver_due(batch_size=100)
        assert (report.claimed, report.sent, CountingBackend.opened) == (count, count, 1)
        return len(ctx.captured_queries)

    # The one query per message is its "sent" mark, committed as soon as the server took it.
    assert queries_to_deliver(30) - queries_to_deliver(10) == 20
    assert len(mail.outbox) == 40 == OutboxMessage.objects.filter(status="sent").count()


def test_refusals_are_recorded_together_and_retried_later(settings):
    settings.OUTBOX_DELIVERY_BACKEND = f"{__name__}.RefusingBackend"

    def queries_to_refuse(count: int) -> int:
        queue_mail(count)
        with CaptureQueriesContext(connection) as ctx:
            report = services.outbox_deliver_due(batch_size=100)
        assert (report.claimed, report.retrying, report.sent) == (count, count, 0)
        return len(ctx.captured_queries)

    assert queries_to_refuse(15) == queries_to_refuse(5)
    rows = OutboxMessage.objects.all()
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert all("SMTPSenderRefused" in r.last_error and r.next_attempt_at > timezone.now() for r in rows)


def test_a_slow_batch_gives_back_what_it_cannot_send_within_its_lease(settings):
    settings.OUTBOX_LEASE_SECONDS = 2
    settings.OUTBOX_DELIVERY_BACKEND = f"{__name__}.SlowBackend"
    SlowBackend.delay, SlowBackend.finished = 0.4, []
    queue_mail(6)

    started = time.monotonic()
    report = services.outbox_deliver_due(batch_size=10)

    # Six hand-overs would take 2.4 s, beyond the lease, and another worker would claim and
    # send the batch's last messages a second time. It stopped halfway through its lease.
    assert 1 <= report.sent < 6 and report.released == 6 - report.sent
    assert SlowBackend.finished[-1] - started < settings.OUTBOX_LEASE_SECONDS
    given_back = OutboxMessage.objects.filter(status="pending")
    assert given_back.count() == report.released
    assert all((r.attempts, r.lease_token, r.lease_expires_at) == (0, None, None) for r in given_back)
    # The next batch takes them at once: no waiting for the lease to run out.
    SlowBackend.delay = 0
    assert services.outbox_deliver_due(batch_size=10).sent == report.released
    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert len(ids) == len(set(ids)) == 6


def test_a_worker_that_lost_its_lease_stops_sending(settings):
    settings.OUTBOX_DELIVERY_BACKEND = f"{__name__}.StealingBackend"
    queue_mail(4)

    report = services.outbox_deliver_due(batch_size=10)

    # It handed over the message in hand, then saw the row was no longer its own and stopped.
    assert len(mail.outbox) == 1 and report.sent == 0
    assert not OutboxMessage.objects.filter(status="sent").exists()


@pytest.fixture
def redis_unreachable():
    """The Celery app publishes to a Redis port nobody listens on (not the real Redis)."""
    from mentoring.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and closed again on leaving this block
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=f"redis://127.0.0.1:{port}/12")
    yield
    app.conf.update(saved)


def test_a_nudge_to_an_unreachable_broker_fails_fast_and_quietly(redis_unreachable, caplog):
    from mentoring.queue import nudge

    assert nudge(drain_outbox) is False  # the first one also imports the Redis client
    started = time.monotonic()
    assert nudge(drain_outbox) is False
    assert time.monotonic() - started < 0.5  # kombu's retries took two seconds here
    assert "the periodic sweep will pick the work up" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_request_with_redis_unreachable_returns_quickly(redis_unreachable, caplog):
    from tests.factories import make_active_pair, make_person

    mentor = make_person(level=2)
    pair = make_active_pair(mentor_user=mentor)
    client = Client()
    client.force_login(mentor)
    url = reverse("meeting_schedule", args=[pair.pk])

    def schedule(days_ahead: int):
        day = timezone.localdate() + datetime.timedelta(days=days_ahead)
        form = {"day": day.isoformat(), "time": "15:00", "duration_minutes": "45", "location": "Room 4", "video_url": "", "agenda": "AI tools"}
        started = time.monotonic()
        response = client.post(url, form)
        assert response.status_code == 302
        return time.monotonic() - started

    schedule(3)  # the first request of the process also loads templates and the Redis client
    elapsed = schedule(4)

    assert elapsed < 1.0, f"the request took {elapsed:.2f}s with Redis unreachable"  # 2 s and more before
    invites = OutboxMessage.objects.filter(status="pending")
    assert invites.count() == 4  # committed: the sweep delivers them once Redis is back
    assert caplog.text.count("Could not enqueue mentoring.tasks.drain_outbox") == 2
