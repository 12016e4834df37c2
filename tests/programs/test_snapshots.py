"""Snapshot computation on small hand-made data with known answers."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mentoring.models import EmployeeEvent
from pairing.models import Pair
from programs import snapshots
from programs.models import EnrollmentTopic, MetricSnapshot, SnapshotRun
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
    data = snapshots.compute(program=program, now=NOW)
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


def test_a_quiet_pair_is_counted_as_stuck(program_with_history):
    program, first, second = program_with_history
    program.stuck_after_days = 14
    program.save()
    data = snapshots.compute(program=program, now=NOW)
    assert data["pair_health"]["stuck_pair_ids"] == [second.pk] and data["pairs"]["stuck"] == 1


def test_nps_and_uplift_from_surveys(program_with_history):
    program, first, second = program_with_history
    topic = program.topics.first()
    EnrollmentTopic.objects.filter(enrollment=first.mentee).delete()
    EnrollmentTopic.objects.create(enrollment=first.mentee, topic=topic, kind="learn", level=2)
    final = SurveyResponse.objects.create(enrollment=first.mentee, kind="final", would_recommend=10)
    SurveyAnswer.objects.create(response=final, topic=topic, score=5)
    SurveyResponse.objects.create(enrollment=first.mentor, kind="final", would_recommend=6)
    SurveyResponse.objects.create(enrollment=second.mentor, kind="midpoint", would_recommend=9)
    data = snapshots.compute(program=program, now=NOW)
    # promoters 2 (10, 9), detractors 1 (6) of 3 -> 33.3
    assert data["nps"] == {"score": 33.3, "n": 3}
    assert data["uplift_mentee"] == [{"topic": topic.name, "mean": 3.0, "n": 1}]


def test_retention_and_promotion_against_peers(program_with_history):
    program, first, second = program_with_history
    start = program.starts_on
    EmployeeEvent.objects.create(employee=first.mentor.employee, kind="level_change", effective_date=start + datetime.timedelta(days=5), from_level=2, to_level=3)
    data = snapshots.compute(program=program, now=NOW)
    assert data["promotion"]["n_participants"] == 4 and data["promotion"]["participants"] == 0.25


def test_snapshot_is_one_per_day_and_recomputing_replaces_it(program_with_history):
    program, *_ = program_with_history
    snapshots.snapshot_save(program=program)
    snapshots.snapshot_save(program=program)
    assert MetricSnapshot.objects.filter(program=program).count() == 1
    snapshot_all_programs()
    snapshot_all_programs()
    assert MetricSnapshot.objects.filter(program=program).count() == 1


def test_query_count_does_not_grow_with_pairs(program_with_history):
    program, *_ = program_with_history
    with CaptureQueriesContext(connection) as small:
        snapshots.compute(program=program, now=NOW)
    for _ in range(6):
        pair = make_active_pair(program=program)
        meeting(pair, 3)
    with CaptureQueriesContext(connection) as large:
        snapshots.compute(program=program, now=NOW)
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
    assert snapshots.compute(program=program, now=NOW)["match_rate"] == 0.5
