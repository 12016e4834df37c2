"""Two people doing the same thing at once: exactly one wins, the other gets a clear message.

Real threads on PostgreSQL, each with its own connection (SQLite serialises writers and
ignores row locks: these tests skip there and run in CI). `race()` makes the interleaving
deterministic instead of hoping two threads collide: the first action runs inside a transaction
that stays open until the second action, in another thread, has either finished or is waiting
for a lock the first one holds; only then does the first commit. So the second always starts
while the first has done its work but not committed it, the moment that breaks unlocked code.

Existing race tests elsewhere: a double enrollment submit (tests/programs/test_services.py),
two publishes (tests/pairing/test_services.py), two roster applies (tests/mentoring/
test_roster.py), two reminder sweeps (tests/sessions_log/test_reminders.py).
"""

import datetime
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from mentoring.models import Role
from pairing import services as pairing_services
from pairing.models import MatchRun, Pair
from pairing.services import MatchError
from programs import services as program_services
from programs.models import Enrollment, Program
from programs.services import ProgramError
from sessions_log import services
from sessions_log.models import AgreementGoal, Meeting, MeetingChange, SessionLog
from sessions_log.services import GoalInput, LogInput, SessionError
from tests.factories import EnrollmentFactory, ProgramFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db(transaction=True)

ERRORS = (SessionError, MatchError, ProgramError)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL=postgres://...); CI runs these there")


def _outcome(action):
    try:
        value = action()
    except ERRORS as exc:
        return str(exc)
    return ("ok", value)


def race(first, second, *, timeout: float = 10.0):
    """(first's outcome, second's outcome): ("ok", return value) or the service's message.

    `first` holds its transaction open until `second` is done or blocked on it (see above).
    """
    from django.db import connection as main_connection

    main_connection.close()  # each thread opens its own connection
    results: dict[str, object] = {}
    first_done, second_done = threading.Event(), threading.Event()
    second_pid: list[int] = []

    def run_first():
        from django.db import connection as conn

        try:
            with transaction.atomic():
                results["first"] = _outcome(first)
                first_done.set()
                deadline = time.monotonic() + timeout
                while not second_done.is_set() and time.monotonic() < deadline:
                    if second_pid:
                        with conn.cursor() as cursor:
                            cursor.execute("SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", [second_pid[0]])
                            if cursor.fetchone()[0]:
                                break  # the second waits for our lock: commit and let it go on
                    time.sleep(0.01)
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's traceback gone
            results["first"] = f"crash: {type(exc).__name__}: {exc}"
        finally:
            first_done.set()
            conn.close()

    def run_second():
        from django.db import connection as conn

        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                second_pid.append(cursor.fetchone()[0])
            first_done.wait(timeout)
            results["second"] = _outcome(second)
        except Exception as exc:  # noqa: BLE001
            results["second"] = f"crash: {type(exc).__name__}: {exc}"
        finally:
            second_done.set()
            conn.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * 3)
    return results.get("first"), results.get("second")


def won(outcome) -> bool:
    return isinstance(outcome, tuple) and outcome[0] == "ok"


def assert_one_wins(first, second, *, message: str):
    """The first wins (it committed first); the second gets the service's readable message."""
    assert won(first), first
    assert isinstance(second, str) and message in second, second


# --- Programs ----------------------------------------------------------------------------------------


def test_two_hr_admins_deciding_one_application_differently_one_decision_stands():
    hr_a = make_person(roles=[Role.HR_ADMIN], level=6)
    hr_b = make_person(roles=[Role.HR_ADMIN], level=6)
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    enrollment = EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPLIED)
    # Both opened the review queue before either decided.
    seen_at = timezone.now()
    first, second = race(
        lambda: program_services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="approved", by=hr_a, seen_at=seen_at),
        lambda: program_services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="waitlisted", by=hr_b, seen_at=seen_at),
    )
    assert won(first) and first[1].changed == 1
    assert won(second) and second[1].changed == 0 and second[1].decided_meanwhile == 1
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.APPROVED and enrollment.decided_by == hr_a
    from mentoring.models import OutboxMessage

    assert OutboxMessage.objects.count() == 1  # one decision email, not "approved" then "waitlisted"


def test_two_hr_admins_moving_a_program_on_at_once_one_wins():
    hr_user = make_person(roles=[Role.HR_ADMIN], level=6)
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED)
    EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED)
    first, second = race(
        lambda: program_services.program_transition(program=program, to=Program.Status.MATCHING, by=hr_user),
        lambda: program_services.program_transition(program=program, to=Program.Status.MATCHING, by=hr_user),
    )
    assert_one_wins(first, second, message="cannot become matching")
    assert program.transitions.filter(to_status=Program.Status.MATCHING).count() == 1


def test_two_hr_admins_saving_forms_opened_on_the_same_program_one_edit_stands():
    hr_a = make_person(roles=[Role.HR_ADMIN], level=6)
    hr_b = make_person(roles=[Role.HR_ADMIN], level=6)
    program = ProgramFactory(status=Program.Status.DRAFT, name="AI for leaders", meeting_minutes=45, expected_sessions=6)
    opened = program_services.program_revision(program)  # both edit forms were opened on this
    first, second = race(
        lambda: program_services.program_update(program=program, by=hr_a, revision=opened, name="AI for the leadership team", expected_sessions=10),
        lambda: program_services.program_update(program=program, by=hr_b, revision=opened, meeting_minutes=60),
    )
    assert_one_wins(first, second, message="since you opened it")
    program.refresh_from_db()
    assert (program.name, program.expected_sessions, program.meeting_minutes) == ("AI for the leadership team", 10, 45)


# --- Pairing --------------------------------------------------------------------------------------------


def _matching_program():
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0)
    for role, level in (("mentor", 2), ("mentor", 2), ("mentee", 7)):
        EnrollmentFactory(program=program, role=role, status=Enrollment.Status.APPROVED, employee__level=level)
    return program


def test_two_hr_admins_starting_a_match_run_at_once_get_one_run():
    hr_user = make_person(roles=[Role.HR_ADMIN], level=6)
    program = _matching_program()
    first, second = race(lambda: pairing_services.match_run_start(program=program, by=hr_user), lambda: pairing_services.match_run_start(program=program, by=hr_user))
    assert_one_wins(first, second, message="already in progress")
    assert MatchRun.objects.filter(program=program).count() == 1


def test_a_manual_pair_racing_a_publish_is_refused_once_the_pairs_are_published():
    hr_user = make_person(roles=[Role.HR_ADMIN], level=6)
    program = _matching_program()
    run = MatchRun.objects.create(program=program, started_by=hr_user)
    pairing_services.match_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == MatchRun.Status.PROPOSED
    proposed = Pair.objects.filter(match_run=run).select_related("mentor", "mentee").first()
    other_mentor = Enrollment.objects.filter(program=program, role="mentor").exclude(pk=proposed.mentor_id).get()
    first, second = race(
        lambda: pairing_services.match_run_publish(run=run, by=hr_user),
        lambda: pairing_services.proposal_pair_manually(run=run, mentor=other_mentor, mentee=proposed.mentee, by=hr_user),
    )
    assert_one_wins(first, second, message="Only an unpublished proposal can be changed")
    assert set(Pair.objects.filter(program=program).values_list("status", flat=True)) == {Pair.Status.ACTIVE}
    assert not Pair.objects.filter(program=program, mentor=other_mentor).exists()


# --- Pairs at work ---------------------------------------------------------------------------------------


@pytest.fixture
def pair():
    return make_active_pair(mentor_user=make_person(level=2), mentee_user=make_person(level=7))


def _sides(pair):
    return pair.mentor.employee, pair.mentee.employee


def _future(days=3, hour=15):
    return datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=days), datetime.time(hour), tzinfo=datetime.UTC)


def test_both_sides_booking_the_same_slot_at_once_get_one_meeting(pair):
    mentor, mentee = _sides(pair)
    first, second = race(
        lambda: services.meeting_schedule(pair=pair, me=mentor, starts_at=_future(), duration_minutes=45),
        lambda: services.meeting_schedule(pair=pair, me=mentee, starts_at=_future() + datetime.timedelta(minutes=15), duration_minutes=45),
    )
    assert_one_wins(first, second, message="already have a meeting")
    assert Meeting.objects.filter(pair=pair, status=Meeting.Status.SCHEDULED).count() == 1


def test_both_sides_moving_the_same_meeting_at_once_one_move_stands(pair):
    mentor, mentee = _sides(pair)
    meeting = services.meeting_schedule(pair=pair, me=mentor, starts_at=_future(), duration_minutes=45)
    seen = meeting.sequence  # both opened the "move" form on this version of the meeting
    first, second = race(
        lambda: services.meeting_reschedule(meeting=meeting, me=mentor, starts_at=_future(days=4), seen_sequence=seen),
        lambda: services.meeting_reschedule(meeting=meeting, me=mentee, starts_at=_future(days=5), seen_sequence=seen),
    )
    assert_one_wins(first, second, message="changed this meeting while you were")
    meeting.refresh_from_db()
    assert meeting.starts_at == _future(days=4) and meeting.sequence == seen + 1
    assert MeetingChange.objects.filter(meeting=meeting).count() == 1


def test_a_move_racing_a_cancellation_finds_the_meeting_cancelled(pair):
    mentor, mentee = _sides(pair)
    meeting = services.meeting_schedule(pair=pair, me=mentor, starts_at=_future(), duration_minutes=45)
    first, second = race(
        lambda: services.meeting_cancel(meeting=meeting, me=mentee, reason="Ill"),
        lambda: services.meeting_reschedule(meeting=meeting, me=mentor, starts_at=_future(days=4), seen_sequence=meeting.sequence),
    )
    assert_one_wins(first, second, message="cancelled")
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.CANCELLED and meeting.starts_at == _future()


def test_both_sides_logging_the_same_meeting_at_once_get_one_log(pair):
    mentor, mentee = _sides(pair)
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=1), duration_minutes=45)
    data = LogInput(held_on=timezone.localdate() - datetime.timedelta(days=1), minutes=45, topics=[], shared_notes="We met")
    first, second = race(
        lambda: services.session_log_create(pair=pair, me=mentor, data=data, meeting=meeting),
        lambda: services.session_log_create(pair=pair, me=mentee, data=data, meeting=meeting),
    )
    assert_one_wins(first, second, message="already been logged")
    assert SessionLog.objects.filter(meeting=meeting).count() == 1


def test_acknowledging_while_the_partner_changes_the_agreement_asks_to_read_it_again(pair):
    mentor, mentee = _sides(pair)
    agreement = services.agreement_save(pair=pair, me=mentor, meeting_frequency="Weekly", boundaries="", confidentiality="", goals=[GoalInput("Prompts")])
    read_version = agreement.version
    first, second = race(
        lambda: services.agreement_save(pair=pair, me=mentor, meeting_frequency="Monthly", boundaries="", confidentiality="", goals=[GoalInput("Prompts")]),
        lambda: services.agreement_acknowledge(pair=pair, me=mentee, version=read_version),
    )
    assert_one_wins(first, second, message="The agreement changed while you were reading it")
    agreement.refresh_from_db()
    assert agreement.version == read_version + 1 and agreement.mentee_acknowledged_version < agreement.version


def test_updating_a_goal_while_the_partner_rewrites_the_agreement_is_refused_readably(pair):
    mentor, mentee = _sides(pair)
    services.agreement_save(pair=pair, me=mentor, meeting_frequency="Weekly", boundaries="", confidentiality="", goals=[GoalInput("Prompts")])
    goal = AgreementGoal.objects.get(agreement__pair=pair)
    first, second = race(
        lambda: services.agreement_save(pair=pair, me=mentor, meeting_frequency="Weekly", boundaries="", confidentiality="", goals=[GoalInput("Prompts"), GoalInput("Slides")]),
        lambda: services.goal_update_progress(goal=goal, me=mentee, progress=50),
    )
    assert_one_wins(first, second, message="The agreement changed while you were")
    assert sorted(AgreementGoal.objects.filter(agreement__pair=pair).values_list("title", "progress")) == [("Prompts", 0), ("Slides", 0)]


def test_both_sides_ending_the_pair_at_once_end_it_once(pair):
    mentor, mentee = _sides(pair)
    first, second = race(
        lambda: services.pair_close(pair=pair, me=mentor, reason=Pair.EndReason.NOT_A_FIT, reflection="Mentor's view"),
        lambda: services.pair_close(pair=pair, me=mentee, reason=Pair.EndReason.OTHER, reflection="Mentee's view"),
    )
    assert_one_wins(first, second, message="This pair has ended")
    pair.refresh_from_db()
    assert pair.status == Pair.Status.ENDED and pair.end_reason == Pair.EndReason.NOT_A_FIT


def test_hr_ending_a_pair_while_a_participant_closes_it_ends_it_once(pair):
    hr_user = make_person(roles=[Role.HR_ADMIN], level=6)
    mentor, _mentee = _sides(pair)
    first, second = race(
        lambda: pairing_services.pair_end(pair=pair, reason=Pair.EndReason.HR_DECISION, by=hr_user),
        lambda: services.pair_close(pair=pair, me=mentor, reason=Pair.EndReason.OTHER, reflection="Too late"),
    )
    assert_one_wins(first, second, message="This pair has ended")
    pair.refresh_from_db()
    assert pair.end_reason == Pair.EndReason.HR_DECISION and pair.ended_by == hr_user


def test_a_double_submitted_feedback_is_stored_once(pair):
    mentor, _mentee = _sides(pair)
    log = services.session_log_create(pair=pair, me=mentor, data=LogInput(held_on=timezone.localdate(), minutes=30, topics=[], shared_notes="We met"))
    first, second = race(
        lambda: services.feedback_submit(log=log, me=mentor, usefulness=4, psychological_safety=5),
        lambda: services.feedback_submit(log=log, me=mentor, usefulness=1, psychological_safety=1),
    )
    assert_one_wins(first, second, message="already given feedback")
    assert log.feedback.get().usefulness == 4


def test_two_hr_admins_following_up_one_alert_at_once_one_is_told_it_is_done(pair):
    from django.test import Client
    from django.urls import reverse

    from sessions_log.models import PulseAlert
    from tests.auth_helpers import login_with_mfa

    alert = PulseAlert.objects.create(pair=pair)
    clients = []
    for _ in range(2):
        client = Client()
        login_with_mfa(client, make_person(roles=[Role.HR_ADMIN], level=6))
        clients.append(client)
    url = reverse("hr_alert_resolve", args=[alert.pk])

    def follow_up(client):
        return lambda: client.post(url, follow=True).content.decode()

    first, second = race(follow_up(clients[0]), follow_up(clients[1]))
    assert "Alert marked as followed up." in first[1]
    assert "Someone else marked this alert as followed up" in second[1]
