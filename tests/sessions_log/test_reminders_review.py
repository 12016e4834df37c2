"""Review findings: late or outdated reminders are voided at sending, stuck pairs are not
re-derived every tick, one reminder per meeting within the hour, one bad reminder does not
hold the others back."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from mentoring.models import OutboxMessage
from pairing.models import Pair
from sessions_log import reminders, services
from sessions_log.models import Meeting, Reminder
from tests.sessions_log.test_reminders import every_kind_due, meeting_in, settled_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    return settled_pair()


def at(hours: float) -> datetime.datetime:
    return (timezone.now() + datetime.timedelta(hours=hours)).replace(microsecond=0)


# --- 1. Outdated reminders are voided, not sent ---------------------------------------------------


def test_a_meeting_moved_while_the_sweep_runs_gets_no_reminder_for_its_old_time(pair, monkeypatch):
    meeting = services.meeting_schedule(pair=pair, me=pair.mentor.employee, starts_at=at(10), duration_minutes=45)
    record = reminders._record
    moved = []

    def reschedule_then_record(due, *, now):
        # The sweep has read the meeting; the move commits before the sweep writes (and the
        # move voids nothing, as nothing is recorded yet).
        if not moved:
            moved.append(services.meeting_reschedule(meeting=meeting, me=pair.mentee.employee, starts_at=at(12), reason="clash"))
        return record(due, now=now)

    monkeypatch.setattr(reminders, "_record", reschedule_then_record)
    assert reminders.reminders_sweep() == 2  # the old time's reminders, recorded after the move
    monkeypatch.setattr(reminders, "_record", record)
    assert reminders.reminders_sweep() == 2  # the new time's

    assert reminders.reminders_send_due() == 2
    meeting.refresh_from_db()
    sent = Reminder.objects.filter(status="sent")
    assert all(f"meeting-{meeting.uid}-{meeting.sequence}:" in key for key in sent.values_list("key", flat=True))
    assert Reminder.objects.filter(status="cancelled").count() == 2
    assert OutboxMessage.objects.filter(idempotency_key__startswith="reminder:").count() == 2  # besides the invitations


def test_a_meeting_reminder_still_pending_when_the_meeting_starts_is_voided(pair):
    meeting_in(pair, 0.5)
    reminders.reminders_sweep()
    assert reminders.reminders_send_due(now=timezone.now() + datetime.timedelta(hours=1)) == 0
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}
    assert not OutboxMessage.objects.exists()


def test_a_reminder_for_a_pair_that_ended_meanwhile_is_voided(pair):
    meeting_in(pair, 5)
    reminders.reminders_sweep()
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now(), end_reason=Pair.EndReason.WITHDRAWAL)
    assert reminders.reminders_send_due() == 0
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_reminder_a_day_late_is_voided_and_a_recent_one_still_goes(pair):
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(hours=4), duration_minutes=45)
    reminders.reminders_sweep()
    log_session = Reminder.objects.filter(kind="log_session")
    assert log_session.count() == 2
    # The sender was down for a day: "log your session" about a meeting that long ago is noise.
    assert reminders.reminders_send_due(now=timezone.now() + datetime.timedelta(hours=25)) == 0
    assert set(log_session.values_list("status", flat=True)) == {"skipped"}

    meeting_in(pair, 5)
    reminders.reminders_sweep()
    assert reminders.reminders_send_due(now=timezone.now() + datetime.timedelta(hours=1)) == 2  # an hour late is fine


# --- 2. Stuck pairs are not re-derived every tick -------------------------------------------------


def test_a_second_tick_offers_nothing_for_any_kind(hr_user, monkeypatch):
    every_kind_due(hr_user)
    assert reminders.reminders_sweep() > 0
    offered = []
    record = reminders._record
    monkeypatch.setattr(reminders, "_record", lambda due, *, now: offered.extend(due) or record(due, now=now))

    assert reminders.reminders_sweep() == 0
    assert offered == []  # stuck pairs included: recorded is skipped in the database


def test_a_stuck_pair_that_meets_and_goes_quiet_again_is_flagged_again(pair, hr_user):
    pair.started_at = timezone.now() - datetime.timedelta(days=40)
    pair.save()
    assert reminders.reminders_sweep() == 3
    assert reminders.reminders_sweep() == 0
    Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=45)
    later = timezone.now() + datetime.timedelta(days=40)
    reminders.reminders_sweep(now=later)
    stuck = Reminder.objects.filter(kind="pair_stuck")
    assert stuck.count() == 6  # a second quiet period, its own occurrence
    assert len({key.rsplit(":", 1)[1] for key in stuck.values_list("key", flat=True)}) == 2


# --- 3. Within the hour, one reminder ---------------------------------------------------------------


def test_a_meeting_within_the_hour_gets_only_the_one_hour_reminder(pair):
    meeting_in(pair, 0.5)
    assert reminders.reminders_sweep() == 2
    assert sorted(key.rsplit(":", 1)[1] for key in Reminder.objects.values_list("key", flat=True)) == ["1h", "1h"]


# --- 4. One reminder that cannot be rendered -----------------------------------------------------------


def test_a_reminder_that_fails_to_render_is_marked_and_the_rest_are_sent(pair, monkeypatch):
    for hours in (2, 3):
        meeting_in(pair, hours)
    reminders.reminders_sweep()
    bad = Reminder.objects.filter(recipient=pair.mentor.employee).order_by("due_at", "id").first()
    render = reminders._render

    def render_or_fail(reminder, *args):
        if reminder.pk == bad.pk:
            raise ValueError("template broke")
        return render(reminder, *args)

    monkeypatch.setattr(reminders, "_render", render_or_fail)
    assert reminders.reminders_send_due() == 3
    bad.refresh_from_db()
    assert bad.status == "skipped" and bad.context["send_error"] == "ValueError: template broke"
    assert Reminder.objects.filter(status="sent").count() == OutboxMessage.objects.count() == 3
    assert reminders.reminders_send_due() == 0


def test_a_reminder_whose_rendering_breaks_the_transaction_holds_no_other_back(pair, monkeypatch):
    for hours in (2, 3):
        meeting_in(pair, hours)
    reminders.reminders_sweep()
    bad = Reminder.objects.order_by("due_at", "id").first()
    render = reminders._render

    def render_or_query_badly(reminder, *args):
        if reminder.pk == bad.pk:
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM no_such_table")  # aborts the transaction on PostgreSQL
        return render(reminder, *args)

    monkeypatch.setattr(reminders, "_render", render_or_query_badly)
    assert reminders.reminders_send_due() == 3
    bad.refresh_from_db()
    assert bad.status == "skipped" and "send_error" in bad.context
    assert Reminder.objects.filter(status="sent").count() == OutboxMessage.objects.count() == 3
