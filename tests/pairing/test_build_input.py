"""services.build_input: what the engine is told about the program's pool, read in a fixed
number of queries whatever the pool's size."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pairing import services
from pairing.models import Pair
from programs.models import Enrollment, EnrollmentTopic, Program
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, TopicFactory
from tests.pairing.helpers import mentee, mentor

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, mentees_per_mentor=2, max_active_pairs_per_mentor=2)


def test_records_carry_ratings_not_with_chain_slots_and_other_programs_pairs(program):
    boss = EmployeeFactory(level=9)
    m = mentor(program, manager=boss, time_zone="Asia/Kolkata")
    m.availability, m.time_zone, m.interests, m.languages = ["mon-09", "bad", "mon-09"], "Asia/Kolkata", ["Chess"], [" english "]
    m.save()
    e = mentee(program, manager=boss)
    e.not_with.add(m.employee)
    EnrollmentTopic.objects.create(enrollment=m, topic=TopicFactory(name="Cybersecurity"), kind="teach", level=5)
    # A live pair in another program counts against the cross-program cap; an ended one not.
    other = ProgramFactory(status=Program.Status.ACTIVE)
    elsewhere = EnrollmentFactory(program=other, employee=m.employee, role="mentor", status=Enrollment.Status.APPROVED)
    Pair.objects.create(program=other, mentor=elsewhere, mentee=EnrollmentFactory(program=other, role="mentee", status="approved"), status="active")
    Pair.objects.create(
        program=other, mentor=elsewhere, mentee=EnrollmentFactory(program=other, role="mentee", status="approved"), status="ended",
        ended_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC), end_reason=Pair.EndReason.values[0],
    )

    inputs, by_employee = services.build_input(program=program)

    [rm] = inputs.mentors
    [re] = inputs.mentees
    assert by_employee == {m.employee_id: m, e.employee_id: e}
    assert rm.teaches == {"AI tools": 4, "Social media": 4, "Cybersecurity": 5}
    assert re.wants == {"AI tools": 2, "Social media": 2} and rm.wants == {} and re.teaches == {}
    assert re.not_with == frozenset({m.employee_id}) and rm.not_with == frozenset()
    assert rm.manager_chain == (boss.pk,) and re.manager_chain == (boss.pk,)
    # Monday 09:00 in Kolkata is 03:30 UTC: the slot's hour; unreadable slots are dropped.
    assert rm.availability == frozenset({"mon-03"}) and rm.utc_offset_minutes == 330
    assert rm.interests == frozenset({"chess"}) and rm.languages == frozenset({"English"})
    assert rm.capacity == 2 and rm.active_pairs_elsewhere == 1


def test_query_count_does_not_grow_with_the_pool(program):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            inputs, _ = services.build_input(program=program)
        return len(ctx.captured_queries), len(inputs.mentors) + len(inputs.mentees)

    for _ in range(2):
        e = mentee(program)
        e.not_with.add(mentor(program).employee)
    small, people = queries()
    for _ in range(8):
        e = mentee(program)
        e.not_with.add(mentor(program).employee)
    large, more_people = queries()
    assert more_people == people + 16
    assert large == small <= 8
