"""HR's reminders page: counts per program, failed emails, and the retry button."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mentoring.models import OutboxMessage
from sessions_log.models import Reminder
from tests.factories import make_active_pair

pytestmark = pytest.mark.django_db

PAGE = reverse("hr_reminders")
RETRY = reverse("hr_reminders_retry")


def reminders(pair, **by_status):
    """`sent=2, pending=1`: that many reminder rows for the pair's program, per status."""
    rows = []
    for status, count in by_status.items():
        for k in range(count):
            rows.append(Reminder(key=f"test:{pair.pk}:{status}:{k}", kind=Reminder.Kind.MEETING_UPCOMING, recipient=pair.mentor.employee, program=pair.program, pair=pair, due_at=timezone.now(), status=status))
    Reminder.objects.bulk_create(rows)


def outbox_message(status=OutboxMessage.Status.FAILED, subject="Coming up: your meeting", to="kemi@acme.example", **fields) -> OutboxMessage:
    fields.setdefault("attempts", 8 if status == OutboxMessage.Status.FAILED else 1)
    fields.setdefault("last_error", "SMTPRecipientsRefused: 550 mailbox unavailable" if status == OutboxMessage.Status.FAILED else "")
    return OutboxMessage.objects.create(message_id=OutboxMessage.new_message_id(), to=[to], subject=subject, body_text="See you then.", status=status, **fields)


def test_hr_sees_each_programs_reminders_by_status_and_the_failed_emails(hr_client):
    first, second = make_active_pair(name="AI for leaders"), make_active_pair(name="Digital habits")
    reminders(first, sent=3, pending=2, cancelled=1)
    reminders(second, sent=1, skipped=4)
    failed = outbox_message(subject="Your agreement is waiting", to="sam@acme.example")
    outbox_message(status=OutboxMessage.Status.SENT, subject="Delivered fine")

    response = hr_client.get(PAGE)

    assert response.status_code == 200
    counts = {p.name: (p.sent, p.pending, p.cancelled, p.skipped) for p in response.context["programs"]}
    assert counts == {"AI for leaders": (3, 2, 1, 0), "Digital habits": (1, 0, 0, 4)}
    assert [m.pk for m in response.context["failed"]] == [failed.pk]
    body = response.content.decode()
    assert "Your agreement is waiting" in body and "sam@acme.example" in body and "550 mailbox unavailable" in body
    assert "Delivered fine" not in body
    assert f'action="{RETRY}"' in body and f'name="message_ids" value="{failed.pk}"' in body


def test_empty_states_say_what_happens_next(hr_client):
    response = hr_client.get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "No reminders yet" in body and "No failed emails" in body
    assert f'action="{RETRY}"' not in body


@pytest.mark.parametrize("who", ["participant_client", "executive_client"])
def test_other_roles_get_403(request, who):
    client = request.getfixturevalue(who)
    message = outbox_message()
    assert client.get(PAGE).status_code == 403
    assert client.post(RETRY, {"message_ids": [message.pk]}).status_code == 403
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED


def test_anonymous_is_sent_to_log_in(client):
    for response in (client.get(PAGE), client.post(RETRY)):
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_retry_answers_post_only(hr_client):
    assert hr_client.get(RETRY).status_code == 405
    assert hr_client.post(PAGE).status_code == 405


def test_retry_puts_a_failed_email_back_in_line_and_the_worker_delivers_it(hr_client, deliver_outbox):
    message = outbox_message(subject="Two quick ratings", created_at=timezone.now() - datetime.timedelta(days=1))

    response = hr_client.post(RETRY, {"message_ids": [message.pk]}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "1 message goes out again." in [str(m) for m in response.context["messages"]]
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("pending", 0, "")
    assert deliver_outbox() == 1
    assert [m.subject for m in mail.outbox] == ["Two quick ratings"]
    message.refresh_from_db()
    assert message.status == "sent"


def test_retry_leaves_messages_that_did_not_fail_alone(hr_client):
    sent = outbox_message(status=OutboxMessage.Status.SENT)
    response = hr_client.post(RETRY, {"message_ids": [sent.pk, "not-a-number", "²", "1" * 30]}, follow=True)
    assert response.status_code == 200
    assert "Nothing to retry: those messages are no longer failed." in [str(m) for m in response.context["messages"]]
    sent.refresh_from_db()
    assert sent.status == "sent" and sent.attempts == 1


def test_page_query_count_does_not_grow_with_programs_or_failures(hr_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert hr_client.get(PAGE).status_code == 200
        return len(ctx.captured_queries)

    pair = make_active_pair()
    reminders(pair, sent=1, pending=1)
    outbox_message()
    small = queries()
    for k in range(4):
        other = make_active_pair()
        reminders(other, sent=2, cancelled=1, skipped=1)
        outbox_message(subject=f"Failed {k}")
    assert queries() == small
