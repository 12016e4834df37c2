"""Reads for pairs at work: scoped to the person, confidential rows never loaded, fixed query counts."""

import datetime

import pytest
from django.utils import timezone

from pairing.models import Pair
from programs.models import Program
from sessions_log import selectors, services
from sessions_log.models import Meeting, SurveyResponse
from sessions_log.services import GoalInput, LogInput
from tests.factories import EmployeeFactory, EnrollmentFactory, make_active_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    return make_active_pair()


def a_log(pair, **overrides) -> LogInput:
    values = dict(held_on=timezone.localdate(), minutes=45, topics=list(pair.program.topics.all()[:1]))
    values.update(overrides)
    return LogInput(**values)


def test_pairs_of_is_the_persons_own_published_pairs(pair):
    mentor = pair.mentor.employee
    second = make_active_pair(mentor_user=None)
    proposed = make_active_pair()
    Pair.objects.filter(pk=proposed.pk).update(status=Pair.Status.PROPOSED)
    assert list(selectors.pairs_of(employee=mentor)) == [pair]
    assert list(selectors.pairs_of(employee=pair.mentee.employee)) == [pair]
    assert not selectors.pairs_of(employee=proposed.mentor.employee).exists()
    assert not selectors.pairs_of(employee=None).exists()
    with pytest.raises(Pair.DoesNotExist):
        selectors.pair_for(employee=mentor, pk=second.pk)
    with pytest.raises(Pair.DoesNotExist):
        selectors.pair_for(employee=EmployeeFactory(), pk=pair.pk)


def test_scoped_lookups_never_cross_pairs(pair):
    other = make_active_pair()
    meeting = Meeting.objects.create(pair=other, starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=30)
    log = services.session_log_create(pair=other, me=other.mentor.employee, data=a_log(other))
    with pytest.raises(Meeting.DoesNotExist):
        selectors.meeting_of(pair=pair, pk=meeting.pk)
    with pytest.raises(type(log).DoesNotExist):
        selectors.log_of(pair=pair, pk=log.pk)
    assert selectors.meeting_of(pair=other, pk=meeting.pk).pk == meeting.pk


def test_pair_page_loads_only_my_private_note_and_never_pulse_values(pair):
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    log = services.session_log_create(pair=pair, me=mentor, data=a_log(pair, private_note="mentor's own"))
    services.private_note_save(log=log, me=mentee, text="mentee's own")
    services.pulse_submit(log=log, me=mentor, felt_heard=5, safe_to_be_candid=5, wants_to_continue=5)
    services.feedback_submit(log=log, me=mentee, usefulness=5, psychological_safety=5, comment="c")

    as_mentor = selectors.pair_page(pair=pair, me=mentor)
    as_mentee = selectors.pair_page(pair=pair, me=mentee)
    [mentor_log], [mentee_log] = as_mentor.logs, as_mentee.logs
    assert mentor_log.my_note == "mentor's own" and mentee_log.my_note == "mentee's own"
    assert [n.text for n in mentor_log.my_notes] == ["mentor's own"]
    assert mentor_log.has_pulse and not mentor_log.my_feedback
    assert mentee_log.my_feedback
    assert "pulse" not in mentor_log._state.fields_cache  # the answers are never fetched
    assert [d.kind for d in as_mentor.due if d.kind != "survey"] == ["agreement_setup", "feedback"]
    assert [d.kind for d in as_mentee.due if d.kind != "survey"] == ["agreement_setup"]


def test_what_is_due(pair):
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    agreement = services.agreement_save(pair=pair, me=mentor, meeting_frequency="x", boundaries="", confidentiality="", goals=[GoalInput("g")])
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=1), duration_minutes=30)
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=3), duration_minutes=30, status=Meeting.Status.CANCELLED)
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=3))
    pair.program.refresh_from_db()

    page = selectors.pair_page(pair=pair, me=mentee)
    assert [(d.kind, d.meeting) for d in page.due] == [("agreement", None), ("log", past), ("survey", None)]
    assert page.due[2].survey.kind == "midpoint"

    services.agreement_acknowledge(pair=pair, me=mentee, version=agreement.version)
    log = services.session_log_create(pair=pair, me=mentee, data=a_log(pair), meeting=past)
    SurveyResponse.objects.create(enrollment=pair.mentee, kind="midpoint", would_recommend=8)
    assert [(d.kind, d.log) for d in selectors.pair_page(pair=pair, me=mentee).due] == [("feedback", log)]
    assert [d.kind for d in selectors.pair_page(pair=pair, me=mentor).due] == ["pulse", "feedback", "survey"]

    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now())
    pair.refresh_from_db()
    # Once ended, the reflection and rating the recent sessions are left (no pulse, no survey
    # nudges here); the reflection until it is written.
    assert [(d.kind, d.log) for d in selectors.pair_page(pair=pair, me=mentor).due] == [("reflection", None), ("feedback", log)]
    services.reflection_save(pair=pair, me=mentor, text="Learned a lot")
    assert [(d.kind, d.log) for d in selectors.pair_page(pair=pair, me=mentor).due] == [("feedback", log)]


def test_next_upcoming_and_past_meetings(pair):
    now = timezone.now()
    later = Meeting.objects.create(pair=pair, starts_at=now + datetime.timedelta(days=9), duration_minutes=30)
    soon = Meeting.objects.create(pair=pair, starts_at=now + datetime.timedelta(days=2), duration_minutes=30)
    past = Meeting.objects.create(pair=pair, starts_at=now - datetime.timedelta(days=2), duration_minutes=30)
    cancelled = Meeting.objects.create(pair=pair, starts_at=now + datetime.timedelta(days=1), duration_minutes=30, status=Meeting.Status.CANCELLED)
    cancelled_late = Meeting.objects.create(pair=pair, starts_at=now + datetime.timedelta(days=12), duration_minutes=30, status=Meeting.Status.CANCELLED)
    cancelled_past = Meeting.objects.create(pair=pair, starts_at=now - datetime.timedelta(days=5), duration_minutes=30, status=Meeting.Status.CANCELLED)
    page = selectors.pair_page(pair=pair, me=pair.mentor.employee)
    # Cancelled meetings sit among the others in date order (struck through), not at the end.
    assert (page.next_meeting, page.upcoming, page.past) == (soon, [cancelled, later, cancelled_late], [past, cancelled_past])
    assert [m.is_cancelled for m in page.upcoming] == [True, False, True]


@pytest.mark.parametrize(
    ("started_days_ago", "extra", "stuck"),
    [(30, None, True), (10, None, False), (30, "past_meeting_5_days_ago", False), (30, "upcoming_meeting", False), (30, "cancelled_only", True)],
)
def test_a_pair_is_stuck_after_the_programs_quiet_days(pair, started_days_ago, extra, stuck):
    now = timezone.now()
    Pair.objects.filter(pk=pair.pk).update(started_at=now - datetime.timedelta(days=started_days_ago))
    pair.refresh_from_db()
    if extra == "past_meeting_5_days_ago":
        Meeting.objects.create(pair=pair, starts_at=now - datetime.timedelta(days=5), duration_minutes=30)
    elif extra == "upcoming_meeting":
        Meeting.objects.create(pair=pair, starts_at=now + datetime.timedelta(days=40), duration_minutes=30)
    elif extra == "cancelled_only":
        Meeting.objects.create(pair=pair, starts_at=now - datetime.timedelta(days=2), duration_minutes=30, status=Meeting.Status.CANCELLED)
    page = selectors.pair_page(pair=pair, me=pair.mentor.employee)
    assert page.stuck is stuck
    [summary] = selectors.pairs_for_home(employee=pair.mentor.employee)
    assert summary.stuck is stuck


def test_a_recent_log_keeps_a_pair_from_being_stuck(pair):
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=40))
    pair.refresh_from_db()
    services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair, held_on=timezone.localdate() - datetime.timedelta(days=2)))
    assert not selectors.pair_page(pair=pair, me=pair.mentor.employee).stuck


def test_pairs_for_home_summarises_each_pair_live_first(pair):
    mentor = pair.mentor.employee
    ended = make_active_pair()
    Pair.objects.filter(pk=ended.pk).update(mentor=EnrollmentFactory(program=ended.program, role="mentor", status="approved", employee=mentor))
    Pair.objects.filter(pk=ended.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now())
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=2), duration_minutes=30)
    summaries = selectors.pairs_for_home(employee=mentor)
    assert [(s.pair.pk, s.live) for s in summaries] == [(pair.pk, True), (ended.pk, False)]
    live = summaries[0]
    assert live.partner == pair.mentee.employee and live.side == "mentor" and live.next_meeting == meeting
    assert [d.kind for d in live.due if d.kind != "survey"] == ["agreement_setup"]
    assert [d.kind for d in summaries[1].due] == ["reflection"]  # ended just now, not yet reflected on
    assert selectors.pairs_for_home(employee=None) == []


def _busy_pairs(mentor_user_employee, n):
    pairs = []
    for _ in range(n):
        p = make_active_pair()
        mentor = EnrollmentFactory(program=p.program, role="mentor", status="approved", employee=mentor_user_employee)
        Pair.objects.filter(pk=p.pk).update(mentor=mentor)
        p.refresh_from_db()
        for days in (1, 2):
            m = Meeting.objects.create(pair=p, starts_at=timezone.now() - datetime.timedelta(days=days), duration_minutes=30)
            services.session_log_create(pair=p, me=p.mentee.employee, data=a_log(p), meeting=m)
        Meeting.objects.create(pair=p, starts_at=timezone.now() + datetime.timedelta(days=3), duration_minutes=30)
        pairs.append(p)
    return pairs


@pytest.mark.parametrize("n", [1, 4])
def test_pairs_for_home_query_count_is_fixed(django_assert_num_queries, n):
    mentor = EmployeeFactory(level=2)
    _busy_pairs(mentor, n)
    with django_assert_num_queries(7):
        summaries = selectors.pairs_for_home(employee=mentor)
    assert len(summaries) == n and all(s.next_meeting for s in summaries)


def test_survey_rows_states(pair):
    program = pair.program
    today = timezone.localdate()
    program.midpoint_survey_on = today + datetime.timedelta(days=5)
    program.final_survey_on = None
    rows = selectors.survey_rows(pair.mentee, [], today)
    assert [(r.kind, r.state) for r in rows] == [("baseline", "open"), ("midpoint", "upcoming")]
    answered = SurveyResponse.objects.create(enrollment=pair.mentee, kind="baseline")
    rows = selectors.survey_rows(pair.mentee, [answered], today + datetime.timedelta(days=30))
    assert [(r.kind, r.state) for r in rows] == [("baseline", "answered"), ("midpoint", "closed")]


def test_feed_meetings_are_all_meetings_of_my_pairs_only(pair):
    mine = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=30)
    cancelled = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=2), duration_minutes=30, status=Meeting.Status.CANCELLED)
    Meeting.objects.create(pair=make_active_pair(), starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=30)
    assert list(selectors.feed_meetings(employee=pair.mentee.employee)) == [mine, cancelled]


def test_old_sessions_are_history_not_to_dos():
    import datetime as _dt

    from django.utils import timezone as _tz

    from sessions_log import selectors as _selectors
    from sessions_log.models import Meeting as _Meeting
    from tests.factories import make_active_pair as _pair

    pair = _pair()
    pair.started_at = _tz.now() - _dt.timedelta(days=120)
    pair.save()
    _Meeting.objects.create(pair=pair, starts_at=_tz.now() - _dt.timedelta(days=60), duration_minutes=45)
    recent = _Meeting.objects.create(pair=pair, starts_at=_tz.now() - _dt.timedelta(days=2), duration_minutes=45)
    [home] = _selectors.pairs_for_home(employee=pair.mentor.employee)
    logs_due = [d for d in home.due if d.kind == "log"]
    assert [d.meeting.pk for d in logs_due] == [recent.pk]


def test_the_pair_page_the_reminder_sweep_and_the_hr_dashboard_agree_on_stuck_pairs(hr_user):
    """One definition of stuck: a live pair with nothing booked ahead and no meeting or log for
    the program's threshold. A meeting booked for later is a pair that is moving; a cancelled
    one is no sign of life."""
    from programs import snapshots
    from sessions_log import reminders
    from sessions_log.models import Reminder, SessionLog

    now, day = timezone.now(), datetime.timedelta(days=1)
    first = make_active_pair()
    program = first.program  # flags pairs quiet for 21 days

    def pair_quiet_since(days):
        p = make_active_pair(program=program)
        Pair.objects.filter(pk=p.pk).update(started_at=now - days * day)
        return Pair.objects.get(pk=p.pk)

    def meet(p, days_from_now, status=Meeting.Status.SCHEDULED):
        Meeting.objects.create(pair=p, starts_at=now + days_from_now * day, duration_minutes=45, status=status, created_at=now - 30 * day)

    Pair.objects.filter(pk=first.pk).update(started_at=now - 40 * day)
    silent = first
    booked = pair_quiet_since(40)
    meet(booked, 10)  # quiet for 40 days, but a meeting is booked: not stuck
    met = pair_quiet_since(40)
    meet(met, -5)
    logged = pair_quiet_since(40)
    SessionLog.objects.create(pair=logged, author=logged.mentor.employee, held_on=(now - 3 * day).date(), minutes=30, created_at=now - 3 * day)
    cancelled_past = pair_quiet_since(40)
    meet(cancelled_past, -5, status=Meeting.Status.CANCELLED)
    cancelled_ahead = pair_quiet_since(40)
    meet(cancelled_ahead, 10, status=Meeting.Status.CANCELLED)
    new = pair_quiet_since(10)
    paused = pair_quiet_since(40)
    Pair.objects.filter(pk=paused.pk).update(status=Pair.Status.PAUSED)
    exactly = pair_quiet_since(21)
    ended = pair_quiet_since(40)
    Pair.objects.filter(pk=ended.pk).update(status=Pair.Status.ENDED, ended_at=now - 30 * day)
    everyone = [silent, booked, met, logged, cancelled_past, cancelled_ahead, new, paused, exactly, ended]
    expected = {silent.pk, cancelled_past.pk, cancelled_ahead.pk, exactly.pk}  # paused: quiet on purpose

    on_pair_page = {p.pk for p in everyone if selectors.pair_page(pair=selectors.pair_for(employee=p.mentor.employee, pk=p.pk), me=p.mentor.employee).stuck}
    on_home = {s.pair.pk for p in everyone for s in selectors.pairs_for_home(employee=p.mentor.employee) if s.stuck}
    on_dashboard = {row["pair"] for row in snapshots.compute(program=program)["pair_health"]["stuck_pairs"]}
    reminders.reminders_sweep()
    reminded = set(Reminder.objects.filter(kind=Reminder.Kind.PAIR_STUCK, recipient=hr_user.employee).values_list("pair_id", flat=True))

    assert on_pair_page == on_home == on_dashboard == reminded == expected
    assert snapshots.compute(program=program)["pairs"]["stuck"] == len(expected)
