"""Outgoing mail is an outbox row first; Celery only drains it."""

import datetime

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db import transaction
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
    token, ids = services.outbox_claim(batch_size=10)  # a worker claims, then dies
    assert len(ids) == 1
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
