"""Reads behind the HR pairing pages, each scoped to one program."""

import datetime

import pytest

from pairing import selectors, services
from pairing.models import MatchRun, Pair
from programs.models import Enrollment, Program
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db
A = Enrollment.Status.APPROVED


@pytest.fixture
def program():
    return ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2)


def mentor(program, **employee):
    employee.setdefault("level", 2)
    return EnrollmentFactory(program=program, role="mentor", status=A, employee=EmployeeFactory(**employee))


def mentee(program, **employee):
    employee.setdefault("level", 7)
    return EnrollmentFactory(program=program, role="mentee", status=A, employee=EmployeeFactory(**employee))


@pytest.fixture
def run_now(hr_user, django_capture_on_commit_callbacks):
    def run(program) -> MatchRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = services.match_run_start(program=program, by=hr_user)
        started.refresh_from_db()
        return started

    return run


def test_a_run_is_only_found_in_its_own_program(program, run_now):
    mentor(program), mentee(program)
    run = run_now(program)
    other = ProgramFactory(status=Program.Status.MATCHING)
    assert selectors.match_run_of(program=program, run_id=run.pk) == run
    with pytest.raises(MatchRun.DoesNotExist):
        selectors.match_run_of(program=other, run_id=run.pk)


def test_program_pairs_leave_out_proposals_and_list_live_pairs_first(program, run_now, hr_user):
    mentor(program), mentor(program), mentee(program), mentee(program)
    services.match_run_publish(run=run_now(program), by=hr_user)
    ended, live = Pair.objects.order_by("id")
    services.pair_end(pair=ended, reason="other", by=hr_user)
    mentor(program), mentee(program)
    run_now(program)  # a re-match proposal: not on the list
    assert list(selectors.program_pairs(program=program)) == [live, ended]


def test_pool_counts(program, run_now, hr_user):
    mentor(program), mentee(program), mentee(program, level=3)
    EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPLIED)
    assert selectors.pool_counts(program=program) == {"mentors": 1, "mentees": 2, "unpaired_mentors": 1, "unpaired_mentees": 2, "waiting_review": 1}
    services.match_run_publish(run=run_now(program), by=hr_user)
    counts = selectors.pool_counts(program=program)
    assert (counts["unpaired_mentors"], counts["unpaired_mentees"]) == (0, 1)


def test_a_mentor_whose_mentee_withdrew_waits_for_a_partner_and_a_leaver_does_not(program, run_now, hr_user):
    from programs.services import enrollment_withdraw

    m, e = mentor(program), mentee(program)
    gone_mentor = mentor(program, left_date=datetime.date(2024, 1, 1))  # approved, but no longer here
    services.match_run_publish(run=run_now(program), by=hr_user)
    Program.objects.filter(pk=program.pk).update(status=Program.Status.ACTIVE)
    assert list(selectors.waiting_for_partner(program=program)) == []
    enrollment_withdraw(enrollment=e, by_employee=e.employee, reason="New role, no time")
    counts = selectors.pool_counts(program=program)
    assert (counts["mentors"], counts["mentees"], counts["unpaired_mentors"], counts["unpaired_mentees"]) == (2, 0, 1, 0)
    [waiting] = selectors.waiting_for_partner(program=program)
    pair = Pair.objects.get(mentor=m)
    assert waiting == m and gone_mentor != waiting
    assert (waiting.last_pair_id, waiting.last_pair_end_reason) == (pair.pk, Pair.EndReason.WITHDRAWAL)


def test_run_pool_maps_employees_to_enrollments_in_one_query(program, run_now, django_assert_num_queries):
    people = [mentor(program), mentor(program), mentee(program)]
    run = run_now(program)
    with django_assert_num_queries(1):
        pool = selectors.run_pool(run=run)
        names = sorted(e.employee.department.name for e in pool.values())
    assert pool == {e.employee_id: e for e in people} and len(names) == 3


def test_unpaired_people_follow_the_edits_made_in_review(program, run_now, hr_user):
    m1 = mentor(program)
    e1 = mentee(program)
    e2 = mentee(program)  # the engine can use only one of them (capacity 1)
    run = run_now(program)
    pair = Pair.objects.get(match_run=run)
    left_out = e2 if pair.mentee == e1 else e1

    unpaired = selectors.unpaired_people(run=run, pool=selectors.run_pool(run=run), pairs=list(selectors.run_pairs(run=run)))
    assert [(u.enrollment, u.reason) for u in unpaired] == [(left_out, "capacity_exhausted")]
    assert "at capacity" in unpaired[0].message

    services.proposal_unpair(run=run, pair=pair, by=hr_user)
    unpaired = selectors.unpaired_people(run=run, pool=selectors.run_pool(run=run), pairs=list(selectors.run_pairs(run=run)))
    assert {(u.enrollment, u.reason) for u in unpaired} == {(left_out, "capacity_exhausted"), (pair.mentee, ""), (m1, "")}

    services.proposal_pair_manually(run=run, mentor=m1, mentee=left_out, by=hr_user)
    unpaired = selectors.unpaired_people(run=run, pool=selectors.run_pool(run=run), pairs=list(selectors.run_pairs(run=run)))
    assert [(u.enrollment, u.reason) for u in unpaired] == [(pair.mentee, "")]


def test_alternatives_leave_out_current_and_forbidden_partners(program, run_now):
    senior = mentee(program)
    allowed = [mentor(program) for _ in range(4)]
    mentor(program, manager=senior.employee)  # in the senior's reporting line
    unwanted = mentor(program)
    senior.not_with.set([unwanted.employee])
    run = run_now(program)
    current = Pair.objects.get(match_run=run, mentee=senior).mentor

    found = selectors.alternatives_for(run=run, enrollment=senior)
    assert found.side == "mentee" and found.current == [current] and not found.problem
    assert len(found.rows) == 3
    assert {r.enrollment for r in found.rows} <= set(allowed) - {current}
    assert all(r.reasons and r.score >= 0 and not r.below_min_score for r in found.rows)
    assert [r.score for r in found.rows] == sorted((r.score for r in found.rows), reverse=True)


def test_alternatives_say_who_a_partner_is_paired_with(program, run_now):
    m1, m2 = mentor(program), mentor(program)
    e1, e2 = mentee(program), mentee(program)
    run = run_now(program)
    partner_of = {p.mentor: p.mentee for p in Pair.objects.filter(match_run=run)}
    found = selectors.alternatives_for(run=run, enrollment=m1)
    assert [r.enrollment for r in found.rows] == [partner_of[m2]]
    assert found.rows[0].paired_with == [m2]


def test_alternatives_without_a_proposal_or_outside_the_pool(program, run_now, hr_user):
    person = mentee(program)
    queued = MatchRun.objects.create(program=program, started_by=hr_user)
    assert selectors.alternatives_for(run=queued, enrollment=person).problem == "no_inputs"
    queued.delete()
    mentor(program)
    run = run_now(program)
    late = mentee(program)
    assert selectors.alternatives_for(run=run, enrollment=late).problem == "not_in_pool"


def test_approved_enrollments_leave_out_leavers_and_other_statuses(program):
    keep = mentor(program)
    mentor(program, left_date=datetime.date(2024, 1, 1))
    EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.WAITLISTED)
    mentee(program)
    assert list(selectors.approved_enrollments(program=program, role="mentor")) == [keep]


# --- Live pairs in other programs ---------------------------------------------------------------------


def _live_pair(program, mentor_employee, mentee_employee, status=Pair.Status.ACTIVE):
    m = Enrollment.objects.filter(program=program, employee=mentor_employee).first() or EnrollmentFactory(program=program, role="mentor", status=A, employee=mentor_employee)
    e = EnrollmentFactory(program=program, role="mentee", status=A, employee=mentee_employee)
    now = datetime.datetime.now(datetime.UTC)
    return Pair.objects.create(program=program, mentor=m, mentee=e, status=status, started_at=now, ended_at=now if status == Pair.Status.ENDED else None)


def test_paired_elsewhere_names_the_partners_in_each_other_program_on_each_side(program):
    junior, senior = mentor(program).employee, mentee(program).employee
    digital = ProgramFactory(name="Digital fluency", status=Program.Status.ACTIVE)
    leadership = ProgramFactory(name="Inclusive leadership", status=Program.Status.ACTIVE)
    ann = EmployeeFactory(first_name="Ann", last_name="Lee", level=8)
    _live_pair(digital, junior, ann)
    _live_pair(leadership, junior, EmployeeFactory(first_name="Bo", last_name="Ng", level=8), status=Pair.Status.PAUSED)
    _live_pair(digital, EmployeeFactory(first_name="Cy", last_name="Do", level=1), senior)
    _live_pair(ProgramFactory(name="Old one", status=Program.Status.ACTIVE), junior, EmployeeFactory(level=8), status=Pair.Status.ENDED)
    _live_pair(ProgramFactory(name="Proposal only", status=Program.Status.MATCHING), junior, EmployeeFactory(level=8), status=Pair.Status.PROPOSED)
    Pair.objects.create(program=program, mentor=program.enrollments.get(employee=junior), mentee=program.enrollments.get(employee=senior), status=Pair.Status.ACTIVE)  # this program's own

    found = selectors.paired_elsewhere(program=program)

    assert [x.text for x in found[junior.pk]] == ["Also mentoring Ann Lee in Digital fluency", "Also mentoring Bo Ng in Inclusive leadership"]
    assert [x.text for x in found[senior.pk]] == ["Also mentored by Cy Do in Digital fluency"]


def test_paired_elsewhere_counts_a_mentor_with_many_mentees_and_joins_a_few():
    here = ProgramFactory(status=Program.Status.MATCHING)
    other = ProgramFactory(name="Big program", status=Program.Status.ACTIVE, mentees_per_mentor=5, max_active_pairs_per_mentor=5)
    busy, few = mentor(here).employee, mentor(here).employee
    for _ in range(4):
        _live_pair(other, busy, EmployeeFactory(level=8))
    for name in ("Ann", "Bo"):
        _live_pair(other, few, EmployeeFactory(first_name=name, last_name="Lee", level=8))
    found = selectors.paired_elsewhere(program=here)
    assert [x.text for x in found[busy.pk]] == ["Also mentoring 4 people in Big program"]
    assert [x.text for x in found[few.pk]] == ["Also mentoring Ann Lee and Bo Lee in Big program"]
