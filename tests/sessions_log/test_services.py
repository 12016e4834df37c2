"""Pairs at work: agreements, meetings and invites, logs, pulse, feedback, surveys, closure."""

import datetime
import zoneinfo

import pytest
import vobject
from django.core import mail
from django.utils import timezone

from pairing.models import Pair
from programs.models import Program
from sessions_log import services
from sessions_log.models import ActionItem, Agreement, Feedback, Meeting, PulseAlert, SessionLog, SurveyResponse
from sessions_log.services import GoalInput, LogInput, SessionError
from tests.factories import EmployeeFactory, TopicFactory, make_active_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    return make_active_pair(pulse_alert_threshold=3)


def mentor_of(pair):
    return pair.mentor.employee


def mentee_of(pair):
    return pair.mentee.employee


def soon(days=3, hour=15):
    return (timezone.now() + datetime.timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def parse_ics(message):
    [(name, content, mimetype)] = message.attachments
    assert name == "invite.ics" and mimetype.startswith("text/calendar")
    return vobject.readOne(content if isinstance(content, str) else content.decode())


# --- agreement ---------------------------------------------------------------------------------------


def test_agreement_is_prefilled_from_the_program_template(pair):
    pair.program.agreement_template = "We keep phones away."
    pair.program.save()
    agreement = services.agreement_for(pair)
    assert agreement.boundaries == "We keep phones away." and not agreement.fully_acknowledged


def test_both_acknowledge_and_an_edit_needs_acknowledging_again(pair):
    goals = [GoalInput("Try an AI assistant weekly", 10)]
    agreement = services.agreement_save(pair=pair, me=mentor_of(pair), meeting_frequency="Fortnightly", boundaries="No HR topics", confidentiality="Chatham House", goals=goals)
    assert agreement.mentor_acknowledged_version == agreement.version and agreement.mentee_acknowledged_version == 0
    services.agreement_acknowledge(pair=pair, me=mentee_of(pair), version=agreement.version)
    agreement.refresh_from_db()
    assert agreement.fully_acknowledged

    agreement = services.agreement_save(pair=pair, me=mentee_of(pair), meeting_frequency="Weekly", boundaries="No HR topics", confidentiality="Chatham House", goals=goals)
    assert not agreement.fully_acknowledged and agreement.mentee_acknowledged_version == agreement.version
    with pytest.raises(SessionError, match="changed while you were reading"):
        services.agreement_acknowledge(pair=pair, me=mentor_of(pair), version=agreement.version - 1)


def test_goal_progress_does_not_need_re_acknowledgement(pair):
    agreement = services.agreement_save(pair=pair, me=mentor_of(pair), meeting_frequency="x", boundaries="y", confidentiality="z", goals=[GoalInput("Goal", 0)])
    services.agreement_acknowledge(pair=pair, me=mentee_of(pair), version=agreement.version)
    services.goal_update_progress(goal=agreement.goals.get(), me=mentee_of(pair), progress=60, note="halfway")
    agreement.refresh_from_db()
    assert agreement.fully_acknowledged and agreement.goals.get().progress == 60
    with pytest.raises(SessionError, match="0 to 100"):
        services.goal_update_progress(goal=agreement.goals.get(), me=mentee_of(pair), progress=120)


def test_outsiders_cannot_touch_a_pair(pair):
    with pytest.raises(SessionError, match="not part of this pair"):
        services.agreement_save(pair=pair, me=EmployeeFactory(), meeting_frequency="", boundaries="", confidentiality="", goals=[GoalInput("x")])
    assert not Agreement.objects.filter(pair=pair, version__gt=1).exists()


# --- meetings and ICS --------------------------------------------------------------------------------


def test_scheduling_sends_each_side_an_invite_in_their_own_time_zone(pair, deliver_outbox):
    start = soon()
    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=start, duration_minutes=45, video_url="https://meet.example/abc", agenda="AI tools demo")
    assert deliver_outbox() == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}
    london = by_recipient[mentor_of(pair).email]
    new_york = by_recipient[mentee_of(pair).email]
    london_time = start.astimezone(datetime.timezone(datetime.timedelta(0))).astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert london_time.strftime("%H:%M") in london.subject and "Europe/London" in london.subject
    assert "America/New_York" in new_york.subject

    event = parse_ics(london).vevent
    assert event.uid.value == f"{meeting.uid}@upward"
    assert int(event.sequence.value) == 0
    assert event.dtstart.value == start.astimezone(datetime.UTC)
    assert event.dtend.value == start.astimezone(datetime.UTC) + datetime.timedelta(minutes=45)
    assert parse_ics(london).method.value == "REQUEST"
    assert {a.value.lower() for a in event.attendee_list} == {f"mailto:{mentor_of(pair).email}", f"mailto:{mentee_of(pair).email}"}


def test_reschedule_keeps_the_uid_raises_the_sequence_and_records_who_asked(pair, deliver_outbox):
    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(), duration_minutes=45)
    deliver_outbox()
    mail.outbox.clear()
    later = soon(days=5, hour=16)
    services.meeting_reschedule(meeting=meeting, me=mentee_of(pair), starts_at=later, reason="Board meeting")
    deliver_outbox()
    event = parse_ics(mail.outbox[0]).vevent
    assert event.uid.value == f"{meeting.uid}@upward" and int(event.sequence.value) == 1
    assert event.dtstart.value == later.astimezone(datetime.UTC)
    change = meeting.changes.get()
    assert (change.kind, change.requested_by_role, change.reason) == ("rescheduled", "mentee", "Board meeting")


def test_cancel_sends_method_cancel_and_counts_against_the_side_that_asked(pair, deliver_outbox):
    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(), duration_minutes=30)
    deliver_outbox()
    mail.outbox.clear()
    services.meeting_cancel(meeting=meeting, me=mentee_of(pair), reason="Travelling")
    deliver_outbox()
    calendar = parse_ics(mail.outbox[0])
    assert calendar.method.value == "CANCEL" and calendar.vevent.status.value == "CANCELLED"
    assert int(calendar.vevent.sequence.value) == 1
    meeting.refresh_from_db()
    assert meeting.status == "cancelled" and meeting.changes.get().requested_by_role == "mentee"
    with pytest.raises(SessionError, match="already cancelled"):
        services.meeting_cancel(meeting=meeting, me=mentee_of(pair), reason="again")


@pytest.mark.parametrize(
    ("when", "message"),
    [(lambda p: timezone.now() - datetime.timedelta(hours=1), "future"), (lambda p: datetime.datetime.combine(p.program.ends_on + datetime.timedelta(days=3), datetime.time(10), tzinfo=datetime.UTC), "ends on")],
)
def test_bad_meeting_times_are_refused_and_nothing_is_sent(pair, when, message):
    with pytest.raises(SessionError, match=message):
        services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=when(pair), duration_minutes=45)
    assert not Meeting.objects.exists() and not mail.outbox


def test_meeting_details_take_only_this_programs_topics(pair):
    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(), duration_minutes=45)
    with pytest.raises(SessionError, match="Only this program's topics"):
        services.meeting_update_details(meeting=meeting, me=mentor_of(pair), location="Room 2", topics=[TopicFactory()])
    meeting.refresh_from_db()
    assert meeting.location == "" and not meeting.topics.exists()


def test_no_meetings_before_the_program_starts():
    pair = make_active_pair(starts_on=timezone.localdate() + datetime.timedelta(days=10), enrollment_opens_on=timezone.localdate() - datetime.timedelta(days=30), enrollment_closes_on=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(SessionError, match="starts on"):
        services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(days=2), duration_minutes=45)


def test_suggested_times_are_when_both_are_free_in_their_own_zones(pair):
    pair.mentor.availability = ["tue-14"]  # London 14:00–16:00
    pair.mentor.save()
    pair.mentee.availability = ["tue-10"]  # New York 10:00–12:00 = London 15:00–17:00
    pair.mentee.save()
    times = services.suggested_times(pair=pair)
    assert times, "there is a common hour"
    for t in times:
        london = t.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
        new_york = t.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
        # Inside both blocks, each read in its own zone (15:00 = 10:00 most of the year; in the
        # weeks when only one of the two has moved its clocks, 14:00 and 15:00 = 10:00 and 11:00).
        assert london.strftime("%a") == "Tue" and london.hour in (14, 15)
        assert new_york.hour in (10, 11)


def test_suggested_times_meet_in_the_hour_two_offset_blocks_share(pair):
    # London 10:00-12:00 and Berlin 12:00-14:00 overlap for an hour (11:00 London) on Wednesdays.
    pair.mentor.availability, pair.mentor.time_zone = ["wed-10"], "Europe/London"
    pair.mentor.save()
    pair.mentee.availability, pair.mentee.time_zone = ["wed-12"], "Europe/Berlin"
    pair.mentee.save()
    times = services.suggested_times(pair=pair)
    assert times
    london, berlin = zoneinfo.ZoneInfo("Europe/London"), zoneinfo.ZoneInfo("Europe/Berlin")
    for t in times:
        assert t.astimezone(london).strftime("%a %H:%M") == "Wed 11:00" and t.astimezone(berlin).strftime("%H:%M") == "12:00"


def test_suggested_times_meet_a_half_hour_zone_on_its_whole_hours(pair):
    # Kolkata (UTC+5:30) 14:00-16:00 is 08:30-10:30 UTC; London 08:00-12:00 (two blocks) is
    # 07:00-12:00 UTC at the latest: Kolkata's whole hours fit, one of them straddling London's
    # two blocks in winter.  The old scheduler offered none: it only tried starts both zones
    # show as whole hours.
    pair.mentor.availability, pair.mentor.time_zone = ["thu-08", "thu-10"], "Europe/London"
    pair.mentor.save()
    pair.mentee.availability, pair.mentee.time_zone = ["thu-14"], "Asia/Kolkata"
    pair.mentee.save()
    times = services.suggested_times(pair=pair)
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    assert {t.astimezone(kolkata).strftime("%a %H:%M") for t in times} >= {"Thu 14:00", "Thu 15:00"}
    for t in times:
        local = t.astimezone(kolkata)
        assert local.strftime("%a") == "Thu" and (local.hour, local.minute) in ((14, 0), (14, 30), (15, 0))


# --- logs, pulse, feedback -----------------------------------------------------------------------------------


def a_log(pair, **overrides):
    values = dict(held_on=timezone.localdate(), minutes=45, topics=list(pair.program.topics.all()[:1]), shared_notes="We tried prompts", private_note="I felt rushed")
    values.update(overrides)
    return LogInput(**values)


def test_a_log_keeps_private_notes_to_their_author(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    assert log.private_notes.get().author == mentor_of(pair)
    services.private_note_save(log=log, me=mentee_of(pair), text="Mine only")
    assert log.private_notes.count() == 2


@pytest.mark.parametrize(("overrides", "message"), [({"held_on": "tomorrow"}, "future"), ({"minutes": 2}, "5 to 480")])
def test_bad_logs_are_refused(pair, overrides, message):
    if overrides.get("held_on") == "tomorrow":  # computed when the test runs, not when it is collected
        overrides = {"held_on": timezone.localdate() + datetime.timedelta(days=1)}
    with pytest.raises(SessionError, match=message):
        services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair, **overrides))
    assert not SessionLog.objects.exists()


def test_a_log_with_nothing_both_sides_can_read_is_refused(pair):
    empty = dict(topics=[], shared_notes="  ", mentor_learned="", mentee_learned="")
    with pytest.raises(SessionError, match="Say what the session covered"):
        services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair, **empty))  # a private note alone
    assert not SessionLog.objects.exists()
    # An action alone makes a log, and keeps it one when its date or minutes are fixed.
    log = services.session_log_create(pair=pair, me=mentee_of(pair), data=a_log(pair, **empty, actions=[("Try Copilot", None)]))
    services.session_log_update(log=log, me=mentee_of(pair), data=a_log(pair, **empty, minutes=30))
    log.refresh_from_db()
    assert (log.minutes, log.topics.count(), log.actions.count()) == (30, 0, 1)
    # A log without actions cannot be emptied by an edit.
    written = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    with pytest.raises(SessionError, match="Say what the session covered"):
        services.session_log_update(log=written, me=mentor_of(pair), data=a_log(pair, **empty))
    assert SessionLog.objects.get(pk=written.pk).topics.count() == 1


def test_no_log_for_an_ended_pair(pair):
    Pair.objects.filter(pk=pair.pk).update(status="ended", ended_at=timezone.now())
    pair.refresh_from_db()
    with pytest.raises(SessionError, match="ended"):
        services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))


def test_a_meeting_is_logged_once(pair):
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(hours=2), duration_minutes=45)
    services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair), meeting=meeting)
    with pytest.raises(SessionError, match="already been logged"):
        services.session_log_create(pair=pair, me=mentee_of(pair), data=a_log(pair), meeting=meeting)


def test_only_the_author_edits_and_only_for_a_week(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    with pytest.raises(SessionError, match="Only the person"):
        services.session_log_update(log=log, me=mentee_of(pair), data=a_log(pair, minutes=60))
    services.session_log_update(log=log, me=mentor_of(pair), data=a_log(pair, minutes=60))
    SessionLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - datetime.timedelta(days=8))
    with pytest.raises(SessionError, match="for a week"):
        services.session_log_update(log=log, me=mentor_of(pair), data=a_log(pair, minutes=30))
    log.refresh_from_db()
    assert log.minutes == 60


def test_low_pulse_raises_one_alert_for_hr(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    with pytest.raises(SessionError, match="for the mentor"):
        services.pulse_submit(log=log, me=mentee_of(pair), felt_heard=5, safe_to_be_candid=5, wants_to_continue=5)
    services.pulse_submit(log=log, me=mentor_of(pair), felt_heard=2, safe_to_be_candid=3, wants_to_continue=3)
    assert PulseAlert.objects.filter(pair=pair).count() == 1
    log2 = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair, minutes=50))  # another session
    services.pulse_submit(log=log2, me=mentor_of(pair), felt_heard=1, safe_to_be_candid=1, wants_to_continue=1)
    assert PulseAlert.objects.filter(pair=pair).count() == 1  # still one open alert
    with pytest.raises(SessionError, match="already answered"):
        services.pulse_submit(log=log2, me=mentor_of(pair), felt_heard=5, safe_to_be_candid=5, wants_to_continue=5)


def test_the_same_ad_hoc_log_twice_is_refused_with_where_to_find_it(pair):
    services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    with pytest.raises(SessionError, match="You already logged this session"):
        services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    services.session_log_create(pair=pair, me=mentee_of(pair), data=a_log(pair))  # the partner's own log of it is theirs
    assert SessionLog.objects.filter(pair=pair).count() == 2


def test_good_pulse_raises_no_alert(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    services.pulse_submit(log=log, me=mentor_of(pair), felt_heard=5, safe_to_be_candid=4, wants_to_continue=5)
    assert not PulseAlert.objects.exists()


def test_feedback_once_per_side_per_session(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    services.feedback_submit(log=log, me=mentor_of(pair), usefulness=4, psychological_safety=5, comment="Great")
    services.feedback_submit(log=log, me=mentee_of(pair), usefulness=5, psychological_safety=5)
    with pytest.raises(SessionError, match="already given feedback"):
        services.feedback_submit(log=log, me=mentee_of(pair), usefulness=1, psychological_safety=1)
    assert Feedback.objects.count() == 2
    with pytest.raises(SessionError, match="1 to 5"):
        services.feedback_submit(log=log, me=mentor_of(pair), usefulness=9, psychological_safety=1)


def test_insights_by_the_mentor_and_actions_by_the_mentee(pair):
    insight = services.insight_add(pair=pair, me=mentor_of(pair), text="Teams use chat, not email", topic=pair.program.topics.first())
    with pytest.raises(SessionError, match="by the mentor"):
        services.insight_add(pair=pair, me=mentee_of(pair), text="x")
    action = services.action_commit(pair=pair, me=mentee_of(pair), text="Reply in team chat for a week", due_on=timezone.localdate() + datetime.timedelta(days=7), insight=insight)
    with pytest.raises(SessionError, match="by the mentee"):
        services.action_commit(pair=pair, me=mentor_of(pair), text="x")
    services.action_set_done(action=action, me=mentee_of(pair), done=True)
    assert ActionItem.objects.get().status == "done"


def test_concern_is_for_the_mentor(pair):
    concern = services.concern_raise(pair=pair, me=mentor_of(pair), text="My mentee dismisses me")
    assert concern.status == "open"
    with pytest.raises(SessionError):
        services.concern_raise(pair=pair, me=mentee_of(pair), text="x")


# --- surveys and closure -------------------------------------------------------------------------------


def test_surveys_open_and_close_on_program_dates(pair):
    program = pair.program
    program.midpoint_survey_on = timezone.localdate() - datetime.timedelta(days=2)
    program.save()
    mentee = pair.mentee
    items = services.survey_items(mentee)
    scores = {key: 4 for key, _i, _l in items}
    response = services.survey_submit(enrollment=mentee, me=mentee.employee, kind="midpoint", scores=scores, would_recommend=9)
    assert response.answers.count() == len(items) > 0
    with pytest.raises(SessionError, match="already answered"):
        services.survey_submit(enrollment=mentee, me=mentee.employee, kind="midpoint", scores=scores, would_recommend=9)
    with pytest.raises(SessionError, match="not open"):
        services.survey_submit(enrollment=mentee, me=mentee.employee, kind="final", scores=scores, would_recommend=9)
    mentor_items = services.survey_items(pair.mentor)
    assert {label for _k, _i, label in mentor_items} == {"Confidence with senior leaders", "Communication", "Visibility in the organisation"}
    with pytest.raises(SessionError, match="Rate every item"):
        services.survey_submit(enrollment=pair.mentor, me=pair.mentor.employee, kind="midpoint", scores={}, would_recommend=5)
    assert SurveyResponse.objects.count() == 1


def test_closing_a_pair_asks_for_a_reflection_and_ends_it(pair):
    with pytest.raises(SessionError, match="reflection"):
        services.pair_close(pair=pair, me=mentee_of(pair), reason="completed", reflection=" ")
    services.pair_close(pair=pair, me=mentee_of(pair), reason="completed", reflection="I learned to ask.")
    pair.refresh_from_db()
    assert pair.status == "ended" and pair.reflections.get().text == "I learned to ask."
    services.reflection_save(pair=pair, me=mentor_of(pair), text="I learned to explain.")
    assert pair.reflections.count() == 2


def test_calendar_feed_lists_my_meetings_and_revoking_changes_the_url(pair):
    feed = services.calendar_feed_for(me=mentor_of(pair))
    old = feed.token
    assert services.calendar_feed_for(me=mentor_of(pair)).token == old
    assert services.calendar_feed_revoke(me=mentor_of(pair)).token != old


def test_archived_program_is_read_only_for_pairs(pair):
    Program.objects.filter(pk=pair.program_id).update(status="archived")
    pair.refresh_from_db()
    with pytest.raises(SessionError, match="archived"):
        services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))


def test_archived_program_refuses_notes_concerns_and_reflections(pair):
    log = services.session_log_create(pair=pair, me=mentor_of(pair), data=a_log(pair))
    Program.objects.filter(pk=pair.program_id).update(status="archived")
    pair.refresh_from_db()
    log.refresh_from_db()
    with pytest.raises(SessionError, match="archived"):
        services.private_note_save(log=log, me=mentor_of(pair), text="new")
    with pytest.raises(SessionError, match="archived"):
        services.concern_raise(pair=pair, me=mentor_of(pair), text="worry")
    assert log.private_notes.get().text == "I felt rushed"


# --- What a QA pass as participants found ---------------------------------------------------------------------------------


def test_closing_a_pair_cancels_its_future_meetings_and_voids_their_reminders(pair, deliver_outbox):
    from sessions_log.models import MeetingChange, Reminder

    future = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(days=5), duration_minutes=45)
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=2), duration_minutes=45)
    reminder = Reminder.objects.create(key="meeting-tomorrow-x", kind=Reminder.Kind.MEETING_UPCOMING, recipient=mentee_of(pair), meeting=future, pair=pair, due_at=future.starts_at - datetime.timedelta(days=1))
    deliver_outbox()
    mail.outbox.clear()
    services.pair_close(pair=pair, me=mentee_of(pair), reason=Pair.EndReason.NOT_A_FIT, reflection="Not for us.")
    deliver_outbox()
    future.refresh_from_db()
    past.refresh_from_db()
    reminder.refresh_from_db()
    assert (future.status, future.sequence, past.status, reminder.status) == ("cancelled", 1, "scheduled", "cancelled")
    assert not MeetingChange.objects.exists()  # nobody asked to cancel: not a senior-side cancellation
    # Through the outbox (delivered after commit), one cancellation to each side.
    cancellations = [m for m in mail.outbox if m.attachments]
    assert sorted(m.to[0] for m in cancellations) == sorted([mentor_of(pair).email, mentee_of(pair).email])
    for message in cancellations:
        calendar = parse_ics(message)
        assert calendar.method.value == "CANCEL" and int(calendar.vevent.sequence.value) == 1
        assert "The pair has ended." in message.body


def test_moving_a_meeting_to_its_own_time_is_refused_and_records_nothing(pair):
    from sessions_log.models import MeetingChange

    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(days=5), duration_minutes=45)
    mail.outbox.clear()
    with pytest.raises(SessionError, match="Nothing changed"):
        services.meeting_reschedule(meeting=meeting, me=mentee_of(pair), starts_at=meeting.starts_at, reason="x")
    meeting.refresh_from_db()
    assert meeting.sequence == 0 and not MeetingChange.objects.exists()
    from mentoring.models import OutboxMessage

    assert OutboxMessage.objects.count() == 2  # the two invites from booking, nothing more


def test_slot_times_flag_hours_outside_the_day_for_either_side(pair):
    night_in_new_york = soon(days=5).replace(hour=8)  # 08:00 UTC: 03:00 or 04:00 in New York
    slot = services.slot_times(pair=pair, me=mentor_of(pair), starts_at=night_in_new_york)
    assert slot.odd_for_partner and not slot.odd_for_me and slot.partner == mentee_of(pair)
    afternoon = services.slot_times(pair=pair, me=mentor_of(pair), starts_at=soon(days=5).replace(hour=15))
    assert not afternoon.odd_for_partner and not afternoon.odd_for_me


def test_the_moved_email_says_who_moved_the_meeting(pair, deliver_outbox):
    """QA: the mentor read 'Your meeting with Hamza Fernandes has moved' with no word of who
    moved it (the cancelled and updated emails say who did)."""
    meeting = services.meeting_schedule(pair=pair, me=mentor_of(pair), starts_at=soon(), duration_minutes=45)
    deliver_outbox()
    mail.outbox.clear()
    services.meeting_reschedule(meeting=meeting, me=mentee_of(pair), starts_at=soon(days=5, hour=16), reason="")
    deliver_outbox()
    by_person = {m.to[0]: m for m in mail.outbox}
    mentee_name = mentee_of(pair).full_name
    to_mentor = by_person[mentor_of(pair).email]
    assert f"{mentee_name} moved your meeting (it was on" in to_mentor.body
    assert "\n\n\n" not in to_mentor.body  # no empty reason line
    assert f"You moved your meeting with {mentor_of(pair).full_name}" in by_person[mentee_of(pair).email].body
    assert f"{mentee_name} moved your meeting" in to_mentor.alternatives[0][0]
