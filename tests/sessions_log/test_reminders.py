"""Reminders derived from the data, recorded once, sent once, through the outbox."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mentoring.models import OutboxMessage
from programs.models import Enrollment, Program
from sessions_log import reminders, services
from sessions_log.models import ActionItem, Agreement, Feedback, Meeting, Reminder, ReminderOptOut, SessionLog, SurveyResponse
from sessions_log.services import survey_window
from sessions_log.tasks import sweep_reminders
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, make_active_pair

pytestmark = pytest.mark.django_db


def settled_pair():
    """An active pair whose agreement both sides acknowledged and whose baseline survey both
    answered: only meeting reminders are due."""
    pair = make_active_pair()
    Agreement.objects.create(pair=pair, mentor_acknowledged_version=1, mentee_acknowledged_version=1)
    for side in (pair.mentor, pair.mentee):
        SurveyResponse.objects.create(enrollment=side, kind="baseline")
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
    meeting_in(pair, 1.5)
    reminders.reminders_sweep()
    reminders.reminders_sweep(now=timezone.now() + datetime.timedelta(hours=1))
    occurrences = sorted(key.rsplit(":", 1)[1] for key in Reminder.objects.values_list("key", flat=True))
    assert occurrences == ["1h", "1h", "lead", "lead"]  # both sides, lead time and one hour


def test_a_meeting_first_seen_within_the_hour_gets_one_reminder_not_two(pair):
    meeting_in(pair, 0.5)
    reminders.reminders_sweep()
    occurrences = sorted(key.rsplit(":", 1)[1] for key in Reminder.objects.values_list("key", flat=True))
    assert occurrences == ["1h", "1h"]  # the lead time's would arrive in the same minute


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


def test_log_and_rating_reminders_link_straight_to_their_forms(pair, deliver_outbox):
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(hours=8), duration_minutes=45)
    log = SessionLog.objects.create(pair=pair, author=pair.mentor.employee, held_on=timezone.localdate(), minutes=30, created_at=timezone.now() - datetime.timedelta(hours=3))
    Feedback.objects.create(session_log=log, pair=pair, author=pair.mentor, usefulness=4, psychological_safety=5)
    reminders.reminders_sweep()
    reminders.reminders_send_due()
    deliver_outbox()
    bodies = {(m.to[0], m.subject): m.body for m in mail.outbox}
    log_url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={meeting.pk}"
    rate_url = reverse("feedback_submit", args=[pair.pk, log.pk])
    assert sum(log_url in body for body in bodies.values()) == 2  # both sides, straight to the form for that meeting
    assert [to for (to, _s), body in bodies.items() if rate_url in body] == [pair.mentee.employee.email]  # the mentor has rated


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
    page = client.get(reverse("reminder_preferences")).content.decode()
    assert "Action item due <span class=\"small text-body-secondary\">· as a mentee, when an action you committed to is due" in page


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once():
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL; CI runs this there")
    pair = settled_pair()
    for hours in (2, 5, 9):
        meeting_in(pair, hours)
    barrier = threading.Barrier(2)
    recorded, queued = [], []

    def sweep():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            recorded.append(reminders.reminders_sweep())
            queued.append(reminders.reminders_send_due())
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
    # Each sweep counts the rows it inserted itself, so together they count each row once.
    assert sum(recorded) == sum(queued) == 6


def every_kind_due(hr_user):
    """Data that owes one or more reminders of every kind (and some that owe nothing)."""
    now, today, day = timezone.now(), timezone.localdate(), datetime.timedelta(days=1)
    # Meetings: one soon, one that ended unlogged, one logged and rated by one side only.
    busy = make_active_pair(midpoint_survey_on=today - 2 * day)  # agreement unsigned, midpoint survey open
    meeting_in(busy, 0.5)
    Meeting.objects.create(pair=busy, starts_at=now - datetime.timedelta(hours=5), duration_minutes=45)
    held = Meeting.objects.create(pair=busy, starts_at=now - datetime.timedelta(hours=8), duration_minutes=45)
    log = SessionLog.objects.create(pair=busy, meeting=held, author=busy.mentor.employee, held_on=today, minutes=45, created_at=now - datetime.timedelta(hours=3))
    Feedback.objects.create(session_log=log, pair=busy, author=busy.mentor, usefulness=4, psychological_safety=5)
    ActionItem.objects.create(pair=busy, text="Try the AI assistant on a real report", due_on=today + day)
    # A quiet pair, long started, whose mentee has left: HR and the mentor hear of it.
    quiet = settled_pair()
    quiet.started_at = now - 40 * day
    quiet.save()
    quiet.mentee.employee.left_date = today - day
    quiet.mentee.employee.save()
    # Enrollment: one program closing in two days, one with an invitation a week old.
    closing = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN, enrollment_closes_on=today + 2 * day)
    EnrollmentFactory(program=closing, status=Enrollment.Status.INVITED, invited_at=now - day)
    later = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN, enrollment_closes_on=today + 20 * day)
    EnrollmentFactory(program=later, status=Enrollment.Status.INVITED, invited_at=now - 7 * day)
    EnrollmentFactory(program=later, status=Enrollment.Status.INVITED, invited_at=now - day)  # too recent
    EnrollmentFactory(program=later, status=Enrollment.Status.INVITED, invited_at=now - 7 * day, employee=EmployeeFactory(left_date=today - day))
    return busy, quiet


def test_every_kind_is_recorded_once_and_the_next_tick_records_nothing(hr_user):
    busy, quiet = every_kind_due(hr_user)

    created = reminders.reminders_sweep()

    rows = Reminder.objects.all()
    assert created == rows.count() == 14
    assert set(rows.values_list("kind", flat=True)) == set(Reminder.Kind.values)
    by_kind = {kind: set(rows.filter(kind=kind).values_list("recipient_id", flat=True)) for kind in Reminder.Kind.values}
    assert by_kind["pair_stuck"] == {quiet.mentor.employee_id, hr_user.employee.pk}  # not the mentee who left
    assert by_kind["give_feedback"] == {busy.mentee.employee_id}  # the mentor has rated
    assert by_kind["action_due"] == {busy.mentee.employee_id}
    assert rows.filter(kind="meeting_upcoming").count() == 2  # within the hour: the one-hour reminder, both sides
    assert rows.filter(kind="invitation_unanswered").count() == 1  # not the recent invitation, not the leaver
    assert reminders.reminders_sweep() == 0


def test_a_reminder_whose_reason_went_away_before_sending_is_cancelled_not_sent(hr_user, deliver_outbox):
    """The sweep records what is owed; the sender may run seconds or (after an outage) days
    later. Whatever was done in between must not be asked for again."""
    busy, quiet = every_kind_due(hr_user)
    assert reminders.reminders_sweep() == 14
    now, today = timezone.now(), timezone.localdate()

    # Between the sweep and the sending, each reason goes away but two:
    Feedback.objects.create(session_log=SessionLog.objects.get(pair=busy), pair=busy, author=busy.mentee, usefulness=3, psychological_safety=4)
    ActionItem.objects.filter(pair=busy).update(status=ActionItem.Status.DONE)
    Agreement.objects.create(pair=busy, mentor_acknowledged_version=1, mentee_acknowledged_version=0)  # the mentor acknowledged
    unlogged = Meeting.objects.get(pair=busy, session_log__isnull=True, starts_at__lt=now)
    SessionLog.objects.create(pair=busy, meeting=unlogged, author=busy.mentee.employee, held_on=today, minutes=30)
    SessionLog.objects.create(pair=quiet, author=quiet.mentor.employee, held_on=today, minutes=30)  # the quiet pair met
    SurveyResponse.objects.create(enrollment=busy.mentor, kind="midpoint")
    Enrollment.objects.filter(status=Enrollment.Status.INVITED).update(status=Enrollment.Status.DECLINED)

    assert reminders.reminders_send_due() == 4
    sent = set(Reminder.objects.filter(status="sent").values_list("kind", "recipient_id"))
    assert sent == {
        ("meeting_upcoming", busy.mentor.employee_id), ("meeting_upcoming", busy.mentee.employee_id),  # nothing changed
        ("agreement_unsigned", busy.mentee.employee_id),  # only the mentor acknowledged
        ("survey", busy.mentee.employee_id),  # only the mentor answered
    }
    assert Reminder.objects.exclude(status="sent").count() == 10
    assert set(Reminder.objects.exclude(status="sent").values_list("status", flat=True)) == {"cancelled"}
    deliver_outbox()
    assert len(mail.outbox) == 4


def test_a_baseline_reminder_is_not_sent_to_someone_who_withdrew_after_the_sweep(deliver_outbox):
    program = ProgramFactory(status=Program.Status.MATCHING)
    staying, leaving = approved(program), approved(program)
    assert reminders.reminders_sweep() == 2
    Enrollment.objects.filter(pk=leaving.pk).update(status=Enrollment.Status.WITHDRAWN)

    assert reminders.reminders_send_due() == 1
    deliver_outbox()
    assert [m.to for m in mail.outbox] == [[staying.employee.email]]
    assert Reminder.objects.get(recipient=leaving.employee).status == Reminder.Status.CANCELLED


def test_a_tick_with_nothing_new_reads_nothing_back(pair, hr_user, monkeypatch):
    for hours in (0.5, 5, 9):
        meeting_in(pair, hours)
    every_kind_due(hr_user)
    quiet = settled_pair()
    quiet.started_at = timezone.now() - datetime.timedelta(days=40)
    quiet.save()
    # Three meetings, both sides (one within the hour: one reminder each), and every other
    # kind; two quiet pairs, to their people and HR.
    assert reminders.reminders_sweep() == 6 + 14 + 3
    offered = []
    record = reminders._record
    monkeypatch.setattr(reminders, "_record", lambda due, *, now: offered.extend(due) or record(due, now=now))

    assert reminders.reminders_sweep() == 0
    assert offered == []  # recorded reminders of every kind are skipped in the database, not re-sent to it


class Killed(Exception):
    """The worker dies here (its time limit, a SIGKILL): the open transaction is lost."""


def kill_after(statements: int, *, into: str):
    """A database execute wrapper that lets `statements` INSERTs into the table run and then
    kills the caller, after the last one has executed but before anything commits it."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("INSERT") and f"INTO {connection.ops.quote_name(into)} " in sql[:100]:
            seen.append(sql)
            if len(seen) == statements:
                raise Killed
        return result

    return wrapper


@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_midway_keeps_whole_chunks_and_the_next_tick_finishes(monkeypatch):
    pair = settled_pair()
    for hours in (2, 3, 4, 5, 6):
        meeting_in(pair, hours)
    monkeypatch.setattr(reminders, "SWEEP_CHUNK", 2)  # two meetings, four reminders, per transaction

    with pytest.raises(Killed), connection.execute_wrapper(kill_after(2, into=Reminder._meta.db_table)):
        reminders.reminders_sweep()

    # The first chunk committed; the second was inserted but never committed.
    assert Reminder.objects.count() == 4
    assert reminders.reminders_sweep() == 6
    assert Reminder.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_sending_killed_midway_keeps_each_batch_whole():
    pair = settled_pair()
    for hours in (2, 3, 4):
        meeting_in(pair, hours)
    assert reminders.reminders_sweep() == 6

    with pytest.raises(Killed), connection.execute_wrapper(kill_after(2, into=OutboxMessage._meta.db_table)):
        reminders.reminders_send_due(batch_size=2)

    # A reminder is "sent" exactly when its outbox row exists: both committed, or neither.
    assert Reminder.objects.filter(status="sent").count() == OutboxMessage.objects.count() == 2
    assert reminders.reminders_send_due(batch_size=2) == 4
    sent = Reminder.objects.filter(status="sent").select_related("outbox_message")
    assert sent.count() == OutboxMessage.objects.count() == 6
    assert all(r.outbox_message.idempotency_key == f"reminder:{r.key}" for r in sent)


def test_sending_costs_the_same_queries_for_few_or_many_reminders(hr_user):
    def queries_to_send() -> tuple[int, int]:
        reminders.reminders_sweep()
        with CaptureQueriesContext(connection) as ctx:
            queued = reminders.reminders_send_due()
        return queued, len(ctx.captured_queries)

    every_kind_due(hr_user)
    few, few_queries = queries_to_send()
    for _ in range(3):
        every_kind_due(hr_user)
    many, many_queries = queries_to_send()

    assert many == 3 * few > 0
    assert many_queries == few_queries  # no query per reminder, whatever its kind renders


def test_send_due_starts_no_batch_after_its_time_budget(pair):
    for hours in (2, 3):
        meeting_in(pair, hours)
    reminders.reminders_sweep()
    assert reminders.reminders_send_due(max_seconds=0) == 0
    assert reminders.reminders_send_due(batch_size=1, max_seconds=60) == 4


# --- The baseline survey: owed by every approved person, paired or not -----------------------------


def approved(program, *, decided_days_ago=2, **fields):
    enrollment = EnrollmentFactory(program=program, status=Enrollment.Status.APPROVED, **fields)
    Enrollment.objects.filter(pk=enrollment.pk).update(decided_at=timezone.now() - datetime.timedelta(days=decided_days_ago))
    return enrollment


def test_an_open_baseline_reminds_each_approved_person_once_before_any_pair_exists(deliver_outbox):
    program = ProgramFactory(status=Program.Status.MATCHING)  # baseline open from enrollment until a month into the run
    mentor, mentee = approved(program, role="mentor"), approved(program, role="mentee")
    approved(program, decided_days_ago=0)  # approved an hour ago: the approval email comes first
    SurveyResponse.objects.create(enrollment=approved(program), kind="baseline")  # answered
    approved(program, employee=EmployeeFactory(left_date=timezone.localdate()))
    EnrollmentFactory(program=program, status=Enrollment.Status.APPLIED)
    approved(ProgramFactory(status=Program.Status.DRAFT))

    assert reminders.reminders_sweep() == 2
    assert reminders.reminders_sweep() == 0
    rows = Reminder.objects.filter(kind="survey")
    assert set(rows.values_list("recipient_id", flat=True)) == {mentor.employee_id, mentee.employee_id}
    assert set(rows.values_list("key", flat=True)) == {f"survey:baseline-{e.pk}:{e.employee_id}:open" for e in (mentor, mentee)}
    assert reminders.reminders_send_due() == 2
    deliver_outbox()
    message = next(m for m in mail.outbox if m.to == [mentor.employee.email])
    assert "baseline survey" in message.body and "/me/surveys/" in message.body
    # Which survey, and until when it is open.
    closes = survey_window(program, "baseline")[1]
    assert message.subject == f"Baseline survey for {program.name}"
    assert f"It is open until {closes:%A} {closes.day} {closes:%B %Y}." in message.body


def test_a_midpoint_survey_reminder_names_the_survey_and_its_last_day(deliver_outbox):
    pair = make_active_pair(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=2))
    for side in (pair.mentor, pair.mentee):
        SurveyResponse.objects.create(enrollment=side, kind="baseline")
    Agreement.objects.create(pair=pair, mentor_acknowledged_version=1, mentee_acknowledged_version=1)
    reminders.reminders_sweep()
    reminders.reminders_send_due()
    deliver_outbox()
    closes = survey_window(pair.program, "midpoint")[1]
    [message] = [m for m in mail.outbox if m.to == [pair.mentee.employee.email] and "survey" in m.subject.lower()]
    assert message.subject == f"Midpoint survey for {pair.program.name}"
    assert "Your midpoint survey" in message.body and f"{closes.day} {closes:%B %Y}" in message.body


def test_a_program_completed_early_opens_its_final_survey_now_and_reminds_the_people_of_its_pairs(hr_user, deliver_outbox):
    """Completing before the planned end used to leave the final survey dated after the end:
    shown as 'upcoming', unanswerable, never reminded (reminders only followed live pairs of
    running programs). Now the survey opens on the day, and its reminders go to both sides of
    the pairs that ended with the program, not to people whose pair ended earlier for another reason."""
    from pairing.models import Pair
    from pairing.services import pair_end
    from programs.services import program_transition

    today = timezone.localdate()
    pair = make_active_pair(midpoint_survey_on=today - datetime.timedelta(days=40), final_survey_on=today + datetime.timedelta(days=60), ends_on=today + datetime.timedelta(days=70))
    program = pair.program
    for side in (pair.mentor, pair.mentee):
        SurveyResponse.objects.create(enrollment=side, kind="baseline")
        SurveyResponse.objects.create(enrollment=side, kind="midpoint")
    parted = make_active_pair(program=program)
    pair_end(pair=parted, reason=Pair.EndReason.NOT_A_FIT, by=hr_user, notify=False)
    assert survey_window(program, "final")[0] > today
    reminders.reminders_sweep()
    assert not Reminder.objects.filter(kind="survey", key__contains="final").exists()

    program_transition(program=program, to=Program.Status.COMPLETED, by=hr_user)
    program.refresh_from_db()
    assert (program.ends_on, program.final_survey_on) == (today, today)
    reminders.reminders_sweep()
    told = set(Reminder.objects.filter(kind="survey", key__contains=":final-").values_list("recipient_id", flat=True))
    assert told == {pair.mentor.employee_id, pair.mentee.employee_id}
    assert reminders.reminders_send_due() >= 2
    deliver_outbox()
    [message] = [m for m in mail.outbox if m.to == [pair.mentee.employee.email] and m.subject.startswith("Final survey")]
    closes = today + datetime.timedelta(days=30)
    assert f"{closes.day} {closes:%B %Y}" in message.body
    # It can be answered today; the answer stops that side's closing reminder, not the other's.
    scores = {key: 4 for key, _i, _l in services.survey_items(pair.mentee)}
    services.survey_submit(enrollment=pair.mentee, me=pair.mentee.employee, kind="final", scores=scores, would_recommend=9)
    reminders.reminders_sweep(now=timezone.now() + datetime.timedelta(days=28))  # three days before it closes
    closing = set(Reminder.objects.filter(kind="survey", key__endswith=":closing").values_list("recipient_id", flat=True))
    assert closing == {pair.mentor.employee_id}


def test_a_closing_baseline_reminds_again_and_an_opt_out_or_switch_stops_it():
    today = timezone.localdate()
    program = ProgramFactory(status=Program.Status.ACTIVE, starts_on=today - datetime.timedelta(days=28))  # baseline closes in two days
    mentor = approved(program)
    Reminder.objects.create(key=f"survey:baseline-{mentor.pk}:{mentor.employee_id}:open", kind="survey", recipient=mentor.employee, program=program, due_at=timezone.now())
    opted_out = approved(program)
    ReminderOptOut.objects.create(employee=opted_out.employee, kind="survey")
    assert reminders.reminders_sweep() == 2
    assert Reminder.objects.filter(recipient=mentor.employee, key__endswith=":closing").exists()
    assert reminders.reminders_send_due() == 2  # the "open" one recorded by hand, the "closing" one
    assert Reminder.objects.get(recipient=opted_out.employee).status == Reminder.Status.SKIPPED

    elsewhere = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN, reminders={"survey": False})
    approved(elsewhere)
    assert reminders.reminders_sweep() == 0


def test_an_action_reminder_says_which_action_and_when(pair, deliver_outbox):
    """QA: the subject read 'Your action is due: ' with nothing after it."""
    today = timezone.localdate()
    ActionItem.objects.create(pair=pair, text="Try the AI assistant\non a real report", due_on=today + datetime.timedelta(days=1))
    reminders.reminders_sweep()
    reminders.reminders_send_due()
    deliver_outbox()
    [message] = [m for m in mail.outbox if "action" in m.subject.lower()]
    assert message.subject == "Your action is due: Try the AI assistant on a real report"
    assert "“Try the AI assistant\non a real report”" in message.body and "due on" in message.body
