"""Snapshot computation on small hand-made data with known answers."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mentoring.models import EmployeeEvent
from pairing.models import Pair
from programs import snapshots
from programs.models import Enrollment, EnrollmentTopic, MetricSnapshot, Program, SnapshotRun
from programs.tasks import run_snapshot, snapshot_all_programs
from sessions_log.models import ActionItem, Feedback, Insight, Meeting, MeetingChange, SessionLog, SurveyAnswer, SurveyResponse
from tests.factories import EnrollmentFactory, make_active_pair

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def meeting(pair, days_ago, status="scheduled"):
    return Meeting.objects.create(pair=pair, starts_at=NOW - datetime.timedelta(days=days_ago), duration_minutes=45, status=status)


@pytest.fixture
def program_with_history():
    first = make_active_pair()
    program = first.program
    second = make_active_pair(program=program)
    Pair.objects.filter(pk__in=[first.pk, second.pk]).update(started_at=NOW - datetime.timedelta(days=30))
    # Pair 1: first meeting 5 days after start, then two more; pair 2: one meeting after 9 days.
    for days_ago in (25, 15, 5):
        m = meeting(first, days_ago)
        SessionLog.objects.create(pair=first, meeting=m, held_on=m.starts_at.date(), minutes=40)
    meeting(second, 21)
    cancelled = meeting(first, 10, status="cancelled")
    MeetingChange.objects.create(meeting=cancelled, kind="cancelled", requested_by_role="mentee", old_starts_at=cancelled.starts_at)
    log = SessionLog.objects.get(pair=first, minutes=40, meeting__starts_at__lt=NOW - datetime.timedelta(days=20))
    Feedback.objects.create(session_log=log, pair=first, author=first.mentor, usefulness=4, psychological_safety=5)
    Feedback.objects.create(session_log=log, pair=first, author=first.mentee, usefulness=2, psychological_safety=3)
    insight = Insight.objects.create(pair=first, topic=program.topics.first(), text="SECRET-INSIGHT-TEXT")
    ActionItem.objects.create(pair=first, insight=insight, text="x", status="done")
    ActionItem.objects.create(pair=first, insight=insight, text="y")
    return program, first, second


def test_counts_rates_and_averages_match_the_hand_made_data(program_with_history):
    program, first, second = program_with_history
    data = snapshots.compute(program=program)
    assert data["pairs"]["active"] == 2 and data["match_rate"] == 1.0
    assert data["meetings"]["held"] == 4  # the cancelled one does not count
    assert data["meetings"]["minutes_logged"] == 120
    # 4 meetings over 60 pair-days = 2 pair-months -> 2 a month
    assert data["meetings"]["per_pair_per_month"] == pytest.approx(2.0, abs=0.01)
    # first meetings 5 and 9 days after the start -> 7 days on average
    assert data["time_to_first_meeting_days"] == {"mean": 7.0, "n": 2}
    assert data["cancellations"]["senior_side"] == 1 and data["cancellations"]["mentor"] == 0
    assert data["feedback"]["usefulness"] == {"mean": 3.0, "n": 2}
    assert data["insight_to_action"]["insights"] == 1 and data["insight_to_action"]["actions_done"] == 1
    assert "SECRET-INSIGHT-TEXT" not in str(data)  # sponsors get counts and topics, never text
    # The executive trend's figures, kept together as well.
    assert data["trend"] == {
        "match_rate": 1.0, "paired_mentees": 2, "approved_mentees": 2, "cadence": data["meetings"]["cadence_adherence"],
        "meetings": data["meetings"]["per_pair_per_month"], "nps": None, "nps_n": 0, "insights": 1, "actions": 2, "done": 1,
    }  # fmt: skip


def test_a_quiet_pair_is_counted_as_stuck(program_with_history):
    program, first, second = program_with_history
    program.stuck_after_days = 14
    program.save()
    data = snapshots.compute(program=program)
    assert data["pair_health"]["stuck_pairs"] == [{"pair": second.pk, "mentor": second.mentor.employee_id, "mentee": second.mentee.employee_id}]
    assert data["pairs"]["stuck"] == 1


def test_nps_and_uplift_from_surveys(program_with_history):
    program, first, second = program_with_history
    topic = program.topics.first()
    EnrollmentTopic.objects.filter(enrollment=first.mentee).delete()
    EnrollmentTopic.objects.create(enrollment=first.mentee, topic=topic, kind="learn", level=2)
    final = SurveyResponse.objects.create(enrollment=first.mentee, kind="final", would_recommend=10)
    SurveyAnswer.objects.create(response=final, topic=topic, score=5)
    SurveyResponse.objects.create(enrollment=first.mentor, kind="final", would_recommend=6)
    SurveyResponse.objects.create(enrollment=second.mentor, kind="midpoint", would_recommend=9)
    data = snapshots.compute(program=program)
    # promoters 2 (10, 9), detractors 1 (6) of 3 -> 33.3
    assert data["nps"] == {"score": 33.3, "n": 3}
    assert data["uplift_mentee"] == [{"topic": topic.name, "mean": 3.0, "n": 1}]


def test_final_survey_answers_given_after_the_last_day_count_in_the_final_figures(hr_user):
    """The final survey of a program completed early opens that day and stays open for a
    month: answers given after the last day counted nowhere, so 'Appears once mentees have
    answered the final survey' never came true."""
    from programs import services as program_services

    today = timezone.localdate()
    pair = make_active_pair(enrollment_opens_on=today - datetime.timedelta(days=120), enrollment_closes_on=today - datetime.timedelta(days=100), starts_on=today - datetime.timedelta(days=90), ends_on=today + datetime.timedelta(days=30))
    program = pair.program
    topic = program.topics.first()
    EnrollmentTopic.objects.update_or_create(enrollment=pair.mentee, topic=topic, kind="learn", defaults={"level": 2})
    program_services.program_transition(program=program, to=Program.Status.COMPLETED, by=hr_user)
    program.refresh_from_db()
    Program.objects.filter(pk=program.pk).update(ends_on=today - datetime.timedelta(days=3))  # as if completed three days ago
    program.refresh_from_db()
    answer = SurveyResponse.objects.create(enrollment=pair.mentee, kind="final", would_recommend=10)
    SurveyAnswer.objects.create(response=answer, topic=topic, score=4)

    snapshot = snapshots.snapshot_save(program=program)

    assert snapshot.as_of == program.ends_on
    assert snapshot.data["nps"] == {"score": 100.0, "n": 1}
    assert snapshot.data["uplift_mentee"] == [{"topic": topic.name, "mean": 2.0, "n": 1}]
    # A week of the run before the last day counts what had been answered by then: nothing.
    assert snapshots.compute(program=program, as_of=program.ends_on - datetime.timedelta(days=1))["nps"]["n"] == 0


def test_retention_and_promotion_against_peers(program_with_history):
    program, first, second = program_with_history
    start = program.starts_on
    EmployeeEvent.objects.create(employee=first.mentor.employee, kind="level_change", effective_date=start + datetime.timedelta(days=5), from_level=2, to_level=3)
    data = snapshots.compute(program=program)
    assert data["promotion"]["n_participants"] == 4 and data["promotion"]["participants"] == 0.25


def test_snapshot_is_one_per_day_and_recomputing_replaces_it(program_with_history):
    program, *_ = program_with_history
    snapshots.snapshot_save(program=program)
    snapshots.snapshot_save(program=program)
    assert MetricSnapshot.objects.filter(program=program).count() == 1
    snapshot_all_programs()
    snapshot_all_programs()
    assert MetricSnapshot.objects.filter(program=program).count() == 1


def test_an_archived_program_without_its_final_figures_gets_them_once_at_night(hr_user):
    from programs import services as program_services

    today = timezone.localdate()
    pair = make_active_pair(status=Program.Status.ACTIVE, starts_on=today - datetime.timedelta(days=90), ends_on=today - datetime.timedelta(days=5))
    program = pair.program
    # Completed and archived with the broker down: the queued final snapshot never ran.
    program_services.program_transition(program=program, to=Program.Status.COMPLETED, by=hr_user)
    program_services.program_transition(program=program, to=Program.Status.ARCHIVED, by=hr_user)
    assert not MetricSnapshot.objects.filter(program=program).exists()
    snapshot_all_programs()
    assert list(MetricSnapshot.objects.filter(program=program).values_list("as_of", flat=True)) == [program.ends_on]
    snapshot_all_programs()  # then left alone
    assert MetricSnapshot.objects.filter(program=program).count() == 1


def test_query_count_does_not_grow_with_pairs(program_with_history):
    program, *_ = program_with_history
    with CaptureQueriesContext(connection) as small:
        snapshots.compute(program=program)
    for _ in range(6):
        pair = make_active_pair(program=program)
        meeting(pair, 3)
    with CaptureQueriesContext(connection) as large:
        snapshots.compute(program=program)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_on_demand_run_computes_once(program_with_history, hr_user, django_capture_on_commit_callbacks):
    program, *_ = program_with_history
    with django_capture_on_commit_callbacks(execute=True):
        run = snapshots.snapshot_request(program=program, by=hr_user)
    run.refresh_from_db()
    assert run.status == "done" and MetricSnapshot.objects.filter(program=program).exists()
    run_snapshot(run.pk)  # a second delivery of the task finds nothing to do
    assert SnapshotRun.objects.get(pk=run.pk).status == "done"


def test_an_approved_but_unpaired_mentee_lowers_the_match_rate(program_with_history):
    program, *_ = program_with_history
    EnrollmentFactory(program=program, role="mentee", status="approved")
    EnrollmentFactory(program=program, role="mentee", status="approved")
    assert snapshots.compute(program=program)["match_rate"] == 0.5


# --- snapshots as of a past day ---------------------------------------------------------------


def _ago(days, hour=12):
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=days), datetime.time(hour)))


@pytest.fixture
def dated_program():
    """A program whose rows carry the dates they happened on: one pair from 30 days ago with a
    meeting and log every ten days, a second pair from 12 days ago that ended 4 days ago, and
    an application approved 6 days ago."""
    first = make_active_pair()
    program = first.program
    second = make_active_pair(program=program)
    Pair.objects.filter(pk=first.pk).update(started_at=_ago(30))
    Pair.objects.filter(pk=second.pk).update(started_at=_ago(12), status="ended", ended_at=_ago(4), end_reason="not_a_fit")
    for days in (25, 15, 5):
        m = Meeting.objects.create(pair=first, starts_at=_ago(days, 10), created_at=_ago(days + 7), duration_minutes=45)
        log = SessionLog.objects.create(pair=first, meeting=m, held_on=m.starts_at.date(), minutes=30, created_at=_ago(days, 14))
        Feedback.objects.create(session_log=log, pair=first, author=first.mentee, usefulness=5 if days < 10 else 3, psychological_safety=4, created_at=_ago(days, 15))
    cancelled = Meeting.objects.create(pair=first, starts_at=_ago(9, 10), created_at=_ago(16), status="cancelled")
    MeetingChange.objects.create(meeting=cancelled, kind="cancelled", requested_by_role="mentee", old_starts_at=cancelled.starts_at, at=_ago(10))
    insight = Insight.objects.create(pair=first, topic=program.topics.first(), text="x", created_at=_ago(20))
    ActionItem.objects.create(pair=first, insight=insight, text="y", status="done", created_at=_ago(20), done_at=_ago(3))
    SurveyResponse.objects.create(enrollment=first.mentor, kind="midpoint", would_recommend=10, submitted_at=_ago(2))
    late = EnrollmentFactory(program=program, role="mentee", status="approved")
    Enrollment.objects.filter(pk=late.pk).update(created_at=_ago(9), applied_at=_ago(9), decided_at=_ago(6))
    Enrollment.objects.filter(pk__in=[first.mentor_id, first.mentee_id, second.mentor_id, second.mentee_id]).update(created_at=_ago(40), decided_at=_ago(35))
    return program, first, second


def test_a_snapshot_as_of_an_earlier_day_counts_only_what_existed_then(dated_program):
    program, first, second = dated_program
    before_second = snapshots.compute(program=program, as_of=timezone.localdate() - datetime.timedelta(days=20))
    assert before_second["as_of"] == (timezone.localdate() - datetime.timedelta(days=20)).isoformat()
    assert before_second["pairs"] == {"active": 1, "paused": 0, "ended": 0, "stuck": 0}
    assert before_second["meetings"]["held"] == 1 and before_second["meetings"]["minutes_logged"] == 30
    assert before_second["feedback"]["usefulness"] == {"mean": 3.0, "n": 1}
    assert before_second["insight_to_action"]["insights"] == 1 and before_second["insight_to_action"]["actions_done"] == 0
    assert before_second["cancellations"]["senior_side"] == 0
    assert before_second["nps"]["n"] == 0
    # Two approved mentees (the late applicant was not there yet), one of them paired.
    assert before_second["enrollment"]["mentee"]["approved"] == 2 and before_second["match_rate"] == 0.5

    a_week_ago = snapshots.compute(program=program, as_of=timezone.localdate() - datetime.timedelta(days=7))
    assert a_week_ago["pairs"] == {"active": 2, "paused": 0, "ended": 0, "stuck": 0}  # the second pair had not ended yet
    assert a_week_ago["meetings"]["held"] == 2 and a_week_ago["cancellations"]["senior_side"] == 1
    # The late applicant had applied but was not approved until 6 days ago.
    assert a_week_ago["enrollment"]["mentee"]["applied"] == 1 and a_week_ago["match_rate"] == 1.0

    today = snapshots.compute(program=program)
    assert today["pairs"]["ended"] == 1 and today["pairs"]["active"] == 1
    assert today["enrollment"]["mentee"]["approved"] == 3 and today["match_rate"] == pytest.approx(2 / 3, abs=0.01)
    assert today["meetings"]["held"] == 3 and today["feedback"]["usefulness"] == {"mean": 3.67, "n": 3}
    assert today["insight_to_action"]["actions_done"] == 1 and today["nps"] == {"score": 100.0, "n": 1}


def test_an_application_decided_later_reads_as_applied_before_the_decision(dated_program):
    program, *_ = dated_program
    data = snapshots.compute(program=program, as_of=timezone.localdate() - datetime.timedelta(days=8))
    assert data["enrollment"]["mentee"]["applied"] == 1 and data["enrollment"]["mentee"]["approved"] == 2
    assert data["funnel"]["applied"] == 5 and data["funnel"]["approved"] == 4


def test_a_withdrawal_counts_from_its_date(dated_program):
    program, first, _second = dated_program
    Enrollment.objects.filter(pk=first.mentor_id).update(status="withdrawn", withdrawn_at=_ago(1))
    assert snapshots.compute(program=program, as_of=timezone.localdate() - datetime.timedelta(days=3))["enrollment"]["mentor"]["withdrawn"] == 0
    assert snapshots.compute(program=program)["enrollment"]["mentor"]["withdrawn"] == 1


def test_saving_a_past_day_stores_that_day_described_at_its_end(dated_program):
    program, *_ = dated_program
    day = timezone.localdate() - datetime.timedelta(days=7)
    snapshot = snapshots.snapshot_save(program=program, as_of=day)
    snapshots.snapshot_save(program=program, as_of=day)  # recomputing the day replaces it
    assert MetricSnapshot.objects.filter(program=program).count() == 1
    assert snapshot.as_of == day and timezone.localtime(snapshot.computed_at).date() == day
    assert timezone.localtime(snapshot.computed_at).time() == datetime.time.max
    assert snapshot.data["meetings"]["held"] == 2


def test_a_day_not_over_yet_is_computed_up_to_now(dated_program):
    program, *_ = dated_program
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    snapshot = snapshots.snapshot_save(program=program, as_of=tomorrow)
    assert snapshot.as_of == timezone.localdate() and snapshot.computed_at <= timezone.now()


def test_a_pair_is_stuck_as_of_a_day_only_if_it_was_quiet_by_then(dated_program):
    program, first, _second = dated_program
    program.stuck_after_days = 7
    program.save()
    six_days_ago = timezone.localdate() - datetime.timedelta(days=6)
    # Six days ago the pair had been quiet since the meeting fifteen days ago, but its next
    # meeting (five days ago) was already booked: a pair with a meeting ahead is not stuck.
    assert snapshots.compute(program=program, as_of=six_days_ago)["pair_health"]["stuck_pairs"] == []
    # Booked only the day it took place: six days ago nothing was booked, so it was stuck.
    Meeting.objects.filter(pair=first, starts_at=_ago(5, 10)).update(created_at=_ago(5, 9))
    assert [p["pair"] for p in snapshots.compute(program=program, as_of=six_days_ago)["pair_health"]["stuck_pairs"]] == [first.pk]
    assert snapshots.compute(program=program)["pair_health"]["stuck_pairs"] == []


def test_the_snapshot_names_the_quietest_stuck_pairs_and_counts_them_all(program_with_history, monkeypatch):
    program, first, second = program_with_history
    program.stuck_after_days = 14
    program.save()
    quieter = make_active_pair(program=program)
    Pair.objects.filter(pk=quieter.pk).update(started_at=NOW - datetime.timedelta(days=60))
    third = make_active_pair(program=program)
    Pair.objects.filter(pk=third.pk).update(started_at=NOW - datetime.timedelta(days=40))
    monkeypatch.setattr(snapshots, "STUCK_LIST_LIMIT", 2)
    data = snapshots.compute(program=program)
    assert data["pairs"]["stuck"] == 3
    assert [p["pair"] for p in data["pair_health"]["stuck_pairs"]] == [quieter.pk, third.pk]  # quiet for 60 and 40 days; `second` met 21 days ago


def test_query_count_as_of_a_past_day_does_not_grow_with_pairs(program_with_history):
    program, *_ = program_with_history
    day = timezone.localdate() - datetime.timedelta(days=3)
    with CaptureQueriesContext(connection) as small:
        snapshots.compute(program=program, as_of=day)
    for _ in range(4):
        meeting(make_active_pair(program=program), 5)
    with CaptureQueriesContext(connection) as large:
        snapshots.compute(program=program, as_of=day)
    assert len(large.captured_queries) == len(small.captured_queries)


# --- figures that reconcile -----------------------------------------------------------------


def test_the_match_rate_keeps_both_of_its_sides(program_with_history):
    program, *_ = program_with_history
    EnrollmentFactory(program=program, role="mentee", status="approved")
    data = snapshots.compute(program=program)
    assert data["matching"] == {"paired_mentees": 2, "approved_mentees": 3}
    assert data["trend"]["paired_mentees"] == 2 and data["trend"]["approved_mentees"] == 3


def test_retention_says_how_many_participants_it_leaves_out_and_why(program_with_history):
    from mentoring.models import Employee

    program, first, second = program_with_history
    Employee.objects.filter(pk=first.mentor.employee_id).update(hire_date=program.starts_on + datetime.timedelta(days=3))
    data = snapshots.compute(program=program)
    assert data["retention"]["n_participants"] == 3
    assert data["retention"]["n_all_participants"] == 4 == sum(r["people"] for r in data["by_department"])
    assert data["retention"]["n_joined_after_start"] == 1 and data["retention"]["n_left_before_start"] == 0
    assert data["promotion"]["n_all_participants"] == 4


# --- a program's own run ----------------------------------------------------------------------


def test_saving_a_finished_programs_run_stores_each_week_and_its_last_day_once(program_with_history):
    program, *_ = program_with_history
    today = timezone.localdate()
    program.starts_on, program.ends_on = today - datetime.timedelta(days=60), today - datetime.timedelta(days=10)
    program.status = "completed"
    program.save()
    assert snapshots.snapshot_save_run(program=program) == snapshots.snapshot_save_run(program=program)
    days = list(MetricSnapshot.objects.filter(program=program).order_by("as_of").values_list("as_of", flat=True))
    assert days[-1] == program.ends_on and days[0] <= program.starts_on + datetime.timedelta(days=6)
    assert all(d.weekday() == 6 for d in days[:-1]) and all(program.starts_on <= d <= program.ends_on for d in days)
    assert len(days) == len(set(days))


def test_pairs_an_hour_old_owe_no_meeting_yet_and_have_no_monthly_rate(hr_client):
    """QA: just after publishing, the dashboard read 'Cadence adherence 0%' and '0.0
    meetings per pair per month' for pairs one hour old."""
    from django.urls import reverse

    first = make_active_pair()
    second = make_active_pair(program=first.program)
    Pair.objects.filter(pk__in=[first.pk, second.pk]).update(started_at=timezone.now() - datetime.timedelta(hours=1))
    data = snapshots.compute(program=first.program)
    assert data["meetings"]["cadence_adherence"] is None and data["meetings"]["per_pair_per_month"] is None

    # A cadence period later, the pair that never met shows: one meeting due each, one held.
    Pair.objects.filter(pk__in=[first.pk, second.pk]).update(started_at=timezone.now() - datetime.timedelta(days=first.program.cadence_days + 1))
    meeting(first, 2)
    data = snapshots.compute(program=first.program)
    assert data["meetings"]["cadence_adherence"] == 0.5

    Pair.objects.filter(pk__in=[first.pk, second.pk]).update(started_at=timezone.now() - datetime.timedelta(hours=1))
    Meeting.objects.all().delete()
    snapshots.snapshot_save(program=first.program)
    page = " ".join(hr_client.get(reverse("program_dashboard", args=[first.program.pk])).content.decode().split())
    assert "no meeting is due yet" in page and "too early: the pairs are new" in page
