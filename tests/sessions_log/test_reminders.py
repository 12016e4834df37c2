"""Reminders derived from the data, recorded once, sent once, through the outbox."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from mentoring.models import OutboxMessage
from sessions_log import reminders, services
from sessions_log.models import Agreement, Meeting, Reminder, ReminderOptOut
from sessions_log.tasks import sweep_reminders
from tests.factories import make_active_pair

pytestmark = pytest.mark.django_db


def settled_pair():
    """An active pair whose agreement both sides acknowledged: only meeting reminders are due."""
    pair = make_active_pair()
    Agreement.objects.create(pair=pair, mentor_acknowledged_version=1, mentee_acknowledged_version=1)
    return pair


@pytest.fixture
def pair():
    return settled_pair()


def meeting_in(pair, hours):
    return Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(hours=hours), duration_minutes=45, location="Room 4")


def test_a_meeting_tomorrow_reminds_both_sides_once_in_their_own_time(pair, deliver_outbox):
    meeting = meeting_in(pair, 20)
    assert reminders.reminders_sweep() == 2
    assert reminders.reminders_sweep() == 0  # the same sweep again records nothing
    assert reminders.reminders_send_due() == 2
    assert reminders.reminders_send_due() == 0
    deliver_outbox()
    by_person = {m.to[0]: m for m in mail.outbox}
    london = by_person[pair.mentor.employee.email]
    assert "(Europe/London)" in london.subject and "Room 4" in london.body
    local = meeting.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert local.strftime("%H:%M") in by_person[pair.mentee.employee.email].subject
    assert london.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert london.alternatives and "/pairs/" in london.body


def test_the_one_hour_reminder_is_a_second_occurrence(pair):
    meeting_in(pair, 0.5)
    reminders.reminders_sweep()
    occurrences = sorted(key.rsplit(":", 1)[1] for key in Reminder.objects.values_list("key", flat=True))
    assert occurrences == ["1h", "1h", "lead", "lead"]  # both sides, lead time and one hour


def test_running_the_task_twice_sends_each_reminder_once(pair, deliver_outbox):
    meeting_in(pair, 5)
    sweep_reminders()
    sweep_reminders()
    deliver_outbox()
    keys = [m.extra_headers["Message-ID"] for m in mail.outbox]
    # Five hours ahead: the lead-time reminder is due for both sides, the one-hour one not yet.
    assert len(keys) == len(set(keys)) == Reminder.objects.filter(status="sent").count() == 2


def test_rescheduling_voids_pending_reminders_and_the_new_time_gets_its_own(pair):
    meeting = services.meeting_schedule(pair=pair, me=pair.mentor.employee, starts_at=(timezone.now() + datetime.timedelta(hours=10)).replace(microsecond=0), duration_minutes=45)
    reminders.reminders_sweep()
    assert Reminder.objects.filter(status="pending").count() == 2
    services.meeting_reschedule(meeting=meeting, me=pair.mentee.employee, starts_at=(timezone.now() + datetime.timedelta(hours=12)).replace(microsecond=0), reason="clash")
    assert Reminder.objects.filter(status="pending").count() == 0
    reminders.reminders_sweep()
    assert Reminder.objects.filter(status="pending").count() == 2


def test_leavers_and_opted_out_people_get_nothing(pair):
    meeting_in(pair, 3)
    ReminderOptOut.objects.create(employee=pair.mentor.employee, kind="meeting_upcoming")
    pair.mentee.employee.left_date = timezone.localdate()
    pair.mentee.employee.save()
    reminders.reminders_sweep()
    reminders.reminders_send_due()
    assert not OutboxMessage.objects.exists()


def test_a_kind_switched_off_in_the_program_is_not_sent(pair):
    pair.program.reminders = {**pair.program.reminders, "meeting_upcoming": False}
    pair.program.save()
    meeting_in(pair, 3)
    assert reminders.reminders_sweep() == 0


def test_log_your_session_after_the_meeting_ended_unlogged(pair):
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(hours=4), duration_minutes=45)
    reminders.reminders_sweep()
    assert set(Reminder.objects.values_list("kind", flat=True)) >= {"log_session"}


def test_a_quiet_pair_is_flagged_to_both_and_hr_once_per_quiet_period(pair, hr_user):
    pair.started_at = timezone.now() - datetime.timedelta(days=40)
    pair.save()
    reminders.reminders_sweep()
    reminders.reminders_sweep()
    stuck = Reminder.objects.filter(kind="pair_stuck")
    assert set(stuck.values_list("recipient_id", flat=True)) == {pair.mentor.employee_id, pair.mentee.employee_id, hr_user.employee.pk}


def test_one_click_unsubscribe_by_post_and_get_only_asks(client, pair):
    token = reminders.unsubscribe_token(employee=pair.mentor.employee, kind="give_feedback")
    url = reverse("reminder_unsubscribe", args=[token])
    assert client.get(url).status_code == 200
    assert not ReminderOptOut.objects.exists()
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert ReminderOptOut.objects.filter(employee=pair.mentor.employee, kind="give_feedback").exists()
    assert client.post(reverse("reminder_unsubscribe", args=[token[:-2] + "xx"])).status_code == 404


def test_preferences_page_switches_kinds(client, pair):
    from tests.factories import make_person

    user = make_person(level=2)
    client.force_login(user)
    response = client.post(reverse("reminder_preferences"), {"kinds": ["meeting_upcoming"]})
    assert response.status_code == 302
    off = set(ReminderOptOut.objects.filter(employee=user.employee).values_list("kind", flat=True))
    assert "meeting_upcoming" not in off and "give_feedback" in off


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once():
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL; CI runs this there")
    pair = settled_pair()
    for hours in (2, 5, 9):
        meeting_in(pair, hours)
    barrier = threading.Barrier(2)

    def sweep():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            reminders.reminders_sweep()
            reminders.reminders_send_due()
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Three meetings within the lead time, two people each; none within the hour yet.
    assert Reminder.objects.count() == 6
    assert OutboxMessage.objects.count() == 6
