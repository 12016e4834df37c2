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
    # Monday 09:00-11:00 in Kolkata is 03:30-05:30 UTC, as half hours; unreadable slots are
    # dropped.
    assert rm.availability == frozenset({"mon-03:30", "mon-04:00", "mon-04:30", "mon-05:00"}) and rm.utc_offset_minutes == 330
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


def half_hours(day: str, start: str, end: str) -> set[str]:
    """The half-hour items from start to end (UTC, "HH:MM") on one day."""
    h0, m0 = map(int, start.split(":"))
    h1, m1 = map(int, end.split(":"))
    return {f"{day}-{t // 60:02d}:{t % 60:02d}" for t in range(h0 * 60 + m0, h1 * 60 + m1, 30)}


def test_availability_is_the_utc_half_hours_a_person_is_free_so_any_two_zones_compare():
    winter = datetime.date(2027, 1, 11)  # a Monday: London on UTC, Berlin UTC+1, Sydney UTC+11
    london = services._utc_slots(["mon-10"], "Europe/London", winter)
    berlin = services._utc_slots(["mon-12"], "Europe/Berlin", winter)
    # London 10:00-12:00 and Berlin 12:00-14:00 (11:00-13:00 in London) meet from 11:00 to 12:00.
    assert london == half_hours("mon", "10:00", "12:00") and berlin == half_hours("mon", "11:00", "13:00")
    assert london & berlin == half_hours("mon", "11:00", "12:00")
    # Two Kolkata colleagues (UTC+5:30) with the same block share all of it, as a London pair
    # does; Kolkata 10:00 and 11:00 blocks share their hour; Kolkata 10:00-12:00 (04:30-06:30
    # UTC) and London 04:00-06:00 share an hour and a half.
    kolkata = services._utc_slots(["tue-10"], "Asia/Kolkata", winter)
    assert kolkata == half_hours("tue", "04:30", "06:30")
    assert len(kolkata & services._utc_slots(["tue-10"], "Asia/Kolkata", winter)) == len(london) == 4
    assert kolkata & services._utc_slots(["tue-11"], "Asia/Kolkata", winter) == half_hours("tue", "05:30", "06:30")
    assert kolkata & services._utc_slots(["tue-04"], "Europe/London", winter) == half_hours("tue", "04:30", "06:00")
    # Sydney's Monday morning is Sunday evening in UTC; adjacent blocks join; summer time moves
    # London's block an hour earlier in UTC.
    assert services._utc_slots(["mon-08"], "Australia/Sydney", winter) == half_hours("sun", "21:00", "23:00")
    assert services._utc_slots(["tue-16", "tue-14"], "Asia/Kolkata", winter) == half_hours("tue", "08:30", "12:30")
    assert services._utc_slots(["mon-10"], "Europe/London", datetime.date(2027, 7, 12)) == half_hours("mon", "09:00", "11:00")


def test_a_block_on_the_night_clocks_change_is_as_long_as_the_persons_clock_says():
    # New York springs forward on Sunday 14 March 2027 at 02:00: 01:00-03:00 that night is one
    # real hour (06:00-07:00 UTC), and on 7 November (back at 02:00) 01:00-03:00 is three.
    spring = services._utc_slots(["sun-01"], "America/New_York", datetime.date(2027, 3, 8))
    autumn = services._utc_slots(["sun-01"], "America/New_York", datetime.date(2027, 11, 1))
    assert spring == half_hours("sun", "06:00", "07:00")
    assert autumn == half_hours("sun", "05:00", "08:00")


def test_a_london_and_a_berlin_colleague_one_hour_apart_are_told_they_share_an_hour(program):
    m = mentor(program)
    m.availability, m.time_zone = ["wed-10"], "Europe/London"
    m.save()
    e = mentee(program)
    e.availability, e.time_zone = ["wed-12"], "Europe/Berlin"
    e.save()
    inputs, _ = services.build_input(program=program)
    from pairing import engine

    [pair] = engine.propose_pairs(inputs).pairs
    assert "both free 1 hour a week" in pair.explanation
    assert pair.breakdown.points["availability"] > 0


def test_two_kolkata_colleagues_with_the_same_block_get_the_credit_a_london_pair_gets(program):
    def pair_in(zone):
        for enrollment in program.enrollments.all():
            enrollment.delete()
        for make, slot in ((mentor, "thu-14"), (mentee, "thu-14")):
            person = make(program)
            person.availability, person.time_zone = [slot], zone
            person.save()
        inputs, _ = services.build_input(program=program)
        from pairing import engine

        [pair] = engine.propose_pairs(inputs).pairs
        return pair

    kolkata, london = pair_in("Asia/Kolkata"), pair_in("Europe/London")
    assert "both free 2 hours a week" in kolkata.explanation and "both free 2 hours a week" in london.explanation
    assert kolkata.breakdown.points["availability"] == london.breakdown.points["availability"] > 0
