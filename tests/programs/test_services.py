"""Programs and enrollment services: the state machine, eligibility, applying, review."""

import datetime
import threading
import zoneinfo

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from mentoring.models import Employee, Role as UserRole
from programs import services
from programs.models import Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource
from programs.services import Application, ProgramError
from tests.factories import DepartmentFactory, EmployeeFactory, EnrollmentFactory, ProgramFactory, TopicFactory, make_person

pytestmark = pytest.mark.django_db
S = Program.Status
TODAY = timezone.localdate


def days(n):
    return TODAY() + datetime.timedelta(days=n)


def program_fields(**overrides):
    fields = dict(
        name="AI for leaders",
        slug="ai-for-leaders",
        enrollment_opens_on=days(0),
        enrollment_closes_on=days(14),
        starts_on=days(21),
        ends_on=days(200),
    )
    fields.update(overrides)
    return fields


def approve_one_each(program):
    EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED)
    EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED)


def publish_a_pair(program):
    """What publishing a match run leaves behind: a live pair (a program starts with one)."""
    from pairing.models import Pair

    mentor = program.enrollments.get(role="mentor", status="approved")
    mentee = program.enrollments.get(role="mentee", status="approved")
    Pair.objects.create(program=program, mentor=mentor, mentee=mentee, status=Pair.Status.ACTIVE, started_at=timezone.now())


# --- lifecycle ---------------------------------------------------------------------------------

ALL = list(S.values)
ALLOWED = {(a, b) for a, targets in services.ALLOWED_TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(("start", "to"), [(a, b) for a in ALL for b in ALL if a != b])
def test_every_transition_is_allowed_or_refused_as_the_lifecycle_says(hr_user, start, to):
    program = ProgramFactory(status=start, starts_on=days(-10), ends_on=days(100), enrollment_opens_on=days(-30), enrollment_closes_on=days(-10))
    approve_one_each(program)
    if start == S.DRAFT:
        program.enrollment_closes_on = days(5)
        program.enrollment_opens_on = days(-5)
        program.starts_on = days(10)
        program.save()
        program.enrollments.all().delete()
    if to == S.DRAFT:
        program.enrollments.all().delete()  # back to draft only before anyone applied
    if to == S.ACTIVE and start == S.MATCHING:
        publish_a_pair(program)
    if (start, to) in ALLOWED:
        services.program_transition(program=program, to=to, by=hr_user)
        program.refresh_from_db()
        assert program.status == to
        last = ProgramTransition.objects.filter(program=program).last()
        assert (last.from_status, last.to_status, last.by) == (start, to, hr_user)
    else:
        with pytest.raises(ProgramError):
            services.program_transition(program=program, to=to, by=hr_user)
        program.refresh_from_db()
        assert program.status == start


def test_the_happy_path_through_the_lifecycle(hr_user, django_capture_on_commit_callbacks):
    program = services.program_create(by=hr_user, topics=[TopicFactory(name="AI tools")], **program_fields())
    assert program.status == S.DRAFT
    services.program_transition(program=program, to=S.ENROLLMENT_OPEN, by=hr_user)
    approve_one_each(program)
    services.program_transition(program=program, to=S.MATCHING, by=hr_user)
    program.refresh_from_db()
    assert program.enrollment_closes_on == TODAY()  # closing early moves the window's end
    with pytest.raises(ProgramError, match="Publish the proposed pairs"):
        services.program_transition(program=program, to=S.ACTIVE, by=hr_user)
    publish_a_pair(program)
    services.program_transition(program=program, to=S.ACTIVE, by=hr_user)
    Program.objects.filter(pk=program.pk).update(starts_on=days(-1))
    with django_capture_on_commit_callbacks(execute=True):
        services.program_transition(program=program, to=S.COMPLETED, by=hr_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.program_transition(program=program, to=S.ARCHIVED, by=hr_user)
    assert [t.to_status for t in program.transitions.all()] == [S.DRAFT, S.ENROLLMENT_OPEN, S.MATCHING, S.ACTIVE, S.COMPLETED, S.ARCHIVED]
    # Completing and archiving each saved the final figures, as of the last day.
    final = program.snapshots.get()
    assert final.as_of == min(program.ends_on, TODAY()) and final.data["pairs"]["active"] + final.data["pairs"]["ended"] == 1


def test_opening_enrollment_needs_a_topic_and_a_window_in_the_future(hr_user):
    program = ProgramFactory(status=S.DRAFT, topics=[], enrollment_opens_on=days(-20), enrollment_closes_on=days(-1))
    with pytest.raises(ProgramError) as error:
        services.program_transition(program=program, to=S.ENROLLMENT_OPEN, by=hr_user)
    assert "at least one focus topic" in str(error.value) and "has passed" in str(error.value)


def test_matching_needs_an_approved_mentor_and_mentee(hr_user):
    program = ProgramFactory()
    EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED)
    with pytest.raises(ProgramError, match="at least one mentor and one mentee"):
        services.program_transition(program=program, to=S.MATCHING, by=hr_user)


def test_back_to_draft_is_refused_once_people_applied(hr_user):
    program = ProgramFactory()
    EnrollmentFactory(program=program)
    with pytest.raises(ProgramError, match="already applied"):
        services.program_transition(program=program, to=S.DRAFT, by=hr_user)


def test_only_hr_moves_a_program(participant_user):
    program = ProgramFactory(status=S.DRAFT)
    with pytest.raises(ProgramError, match="Only HR"):
        services.program_transition(program=program, to=S.ENROLLMENT_OPEN, by=participant_user)


def test_an_edit_from_an_older_revision_is_refused_and_changes_nothing(hr_user):
    program = ProgramFactory(status=S.DRAFT, name="AI for leaders")
    opened = services.program_revision(program)
    assert opened == services.program_revision(Program.objects.get(pk=program.pk))  # as created (3) or read back (3.0)
    services.program_update(program=program, by=hr_user, topics=[TopicFactory(name="Inclusion")])  # only the topics moved
    with pytest.raises(services.ProgramChanged, match="since you opened it"):
        services.program_update(program=program, by=hr_user, revision=opened, name="Mine")
    program.refresh_from_db()
    assert program.name == "AI for leaders"
    services.program_update(program=program, by=hr_user, revision=services.program_revision(program), name="Mine")
    program.refresh_from_db()
    assert program.name == "Mine"


def test_text_is_saved_with_one_kind_of_line_ending(hr_user):
    program = services.program_create(by=hr_user, topics=[TopicFactory()], **program_fields(description="One\r\nTwo\rThree"))
    assert Program.objects.get(pk=program.pk).description == "One\nTwo\nThree"
    services.program_update(program=program, by=hr_user, agreement_template="Goals\r\n\r\nBoundaries", objectives="Learn\r\nTeach")
    program.refresh_from_db()
    assert (program.agreement_template, program.objectives) == ("Goals\n\nBoundaries", "Learn\nTeach")


@pytest.mark.parametrize(
    "change",
    [
        {"cadence_days": 7}, {"meeting_minutes": 90}, {"expected_sessions": 12}, {"stuck_after_days": 5}, {"objectives": "Something else"},
        {"agreement_template": "Rewritten"}, {"pairing_weights": {"topics": 90}}, {"min_score": 10}, {"self_enrollment": True},
    ],
)  # fmt: skip
def test_a_completed_program_keeps_what_shaped_its_results(hr_user, change):
    program = ProgramFactory(status=S.COMPLETED, enrollment_opens_on=days(-300), enrollment_closes_on=days(-280), starts_on=days(-270), ends_on=days(-5))
    before = services.program_revision(program)
    with pytest.raises(ProgramError, match="The program is completed: its results are final, so what shaped them is fixed."):
        services.program_update(program=program, by=hr_user, name="Renamed", **change)
    assert services.program_revision(Program.objects.get(pk=program.pk)) == before


def test_a_completed_program_keeps_its_topics_but_its_name_description_and_reminders_may_change(hr_user):
    program = ProgramFactory(status=S.COMPLETED, enrollment_opens_on=days(-300), enrollment_closes_on=days(-280), starts_on=days(-270), ends_on=days(-5))
    with pytest.raises(ProgramError, match="Focus topics: The program is completed"):
        services.program_update(program=program, by=hr_user, topics=[TopicFactory()])
    # The same values sent back (as the form does) are not a change.
    services.program_update(
        program=program, by=hr_user, topics=list(program.topics.all()), cadence_days=program.cadence_days, pairing_weights=dict(program.pairing_weights),
        name="For the record", description="How it went", reminders={"survey": False},
    )  # fmt: skip
    program.refresh_from_db()
    assert (program.name, program.description, program.reminders) == ("For the record", "How it went", {"survey": False})


def test_archiving_before_the_final_survey_opens_cancels_it_once_confirmed(hr_user):
    from sessions_log.services import survey_window

    program = ProgramFactory(status=S.COMPLETED, enrollment_opens_on=days(-300), enrollment_closes_on=days(-280), starts_on=days(-270), ends_on=days(-5), final_survey_on=days(10))
    with pytest.raises(ProgramError, match="The final survey opens on .* and closes on .*Archiving now closes it for good"):
        services.program_transition(program=program, to=S.ARCHIVED, by=hr_user)
    assert Program.objects.get(pk=program.pk).status == S.COMPLETED
    services.program_transition(program=program, to=S.ARCHIVED, by=hr_user, close_surveys=True)
    program.refresh_from_db()
    assert program.surveys_closed_on == services.site_today()
    assert survey_window(program, "final") is None  # never held: not listed as closed on a day before it opened
    assert survey_window(program, "baseline") is not None  # the surveys that had closed keep their dates


def test_archived_program_is_read_only(hr_user):
    program = ProgramFactory(status=S.ARCHIVED)
    enrollment = EnrollmentFactory(program=program)
    with pytest.raises(ProgramError, match="archived"):
        services.program_update(program=program, by=hr_user, name="New name")
    with pytest.raises(ProgramError, match="archived"):
        services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="approved", by=hr_user)
    with pytest.raises(ProgramError, match="archived"):
        services.resource_add(program=program, by=hr_user, title="Guide", url="https://example.com/guide")
    with pytest.raises(ProgramError, match="archived"):
        services.enrollment_withdraw(enrollment=enrollment, by_employee=enrollment.employee, reason="busy")
    program.refresh_from_db()
    assert program.name != "New name"


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends_on": days(10)}, "must end after it starts"),
        ({"enrollment_closes_on": days(30)}, "close by the day the program starts"),
        ({"enrollment_closes_on": days(-1)}, "close on or after the day it opens"),
        ({"pairing_weights": {"topics": -1}}, "zero or more"),
        ({"pairing_weights": {"topics": 0, "interests": 0}}, "above zero"),
        ({"pairing_weights": {"astrology": 5}}, "Unknown criteria"),
        ({"mentees_per_mentor": 0}, "greater than or equal to 1"),
        ({"final_survey_on": days(400)}, "within the program"),
        ({"expected_sessions": 20}, "20 sessions every 14 days need 280 days from the start"),
        ({"description": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_program_validation_messages(hr_user, overrides, message):
    with pytest.raises(ProgramError, match=message):
        services.program_create(by=hr_user, topics=[], **program_fields(**overrides))
    assert not Program.objects.exists()


def test_an_edit_that_makes_the_sessions_no_longer_fit_is_refused(hr_user):
    program = ProgramFactory(status=S.ACTIVE, cadence_days=14, expected_sessions=6)
    with pytest.raises(ProgramError, match="end the program on"):
        services.program_update(program=program, by=hr_user, ends_on=program.starts_on + datetime.timedelta(days=30))
    with pytest.raises(ProgramError, match="meet every 4 days or more often"):
        services.program_update(program=program, by=hr_user, expected_sessions=40)
    services.program_update(program=program, by=hr_user, expected_sessions=12)
    program.refresh_from_db()
    assert program.expected_sessions == 12


def test_clone_keeps_the_setup_and_shifts_every_date(hr_user):
    original = ProgramFactory(status=S.COMPLETED, midpoint_survey_on=days(100), pairing_weights={"topics": 70, "interests": 30}, ban_same_department=True)
    original.departments.set([DepartmentFactory(name="Sales")])
    Resource.objects.create(program=original, title="Guide", url="https://example.com/g")
    clone = services.program_clone(program=original, by=hr_user, name="Round 2", slug="round-2", enrollment_opens_on=original.enrollment_opens_on + datetime.timedelta(days=365)).program
    assert clone.status == S.DRAFT
    assert clone.starts_on == original.starts_on + datetime.timedelta(days=365)
    assert clone.midpoint_survey_on == original.midpoint_survey_on + datetime.timedelta(days=365)
    assert clone.pairing_weights == {"topics": 70, "interests": 30} and clone.ban_same_department
    assert set(clone.topics.all()) == set(original.topics.all())
    assert [d.name for d in clone.departments.all()] == ["Sales"]
    assert [r.title for r in clone.resources.all()] == ["Guide"]
    assert clone.enrollments.count() == 0


# --- eligibility and applying ---------------------------------------------------------------------


def mentor_application(program, **overrides):
    values = dict(role="mentor", topic_levels={program.topics.first().pk: 5}, languages=["English"], availability=["tue-10"], time_zone="Europe/London")
    values.update(overrides)
    return Application(**values)


def test_eligibility_explains_each_reason():
    sales = DepartmentFactory(name="Sales")
    program = ProgramFactory(mentor_max_level=3, mentee_min_level=6)
    program.departments.set([sales])
    senior = EmployeeFactory(level=5, department__name="Finance")
    problems = services.eligibility_problems(program=program, employee=senior, role="mentor")
    assert any("level 3 or below" in p for p in problems)
    assert any("Sales only" in p for p in problems)
    assert any("level 6 or above" in p for p in services.eligibility_problems(program=program, employee=senior, role="mentee"))
    leaver = EmployeeFactory(level=2, department=sales, left_date=days(-3))
    assert any("left the company" in p for p in services.eligibility_problems(program=program, employee=leaver, role="mentor"))


@pytest.mark.parametrize(("opens", "closes", "message"), [(3, 10, "opens on"), (-10, -1, "closed on")])
def test_applying_outside_the_window_is_refused(opens, closes, message):
    program = ProgramFactory(enrollment_opens_on=days(opens), enrollment_closes_on=days(closes))
    employee = EmployeeFactory(level=2)
    with pytest.raises(ProgramError, match=message):
        services.enrollment_apply(program=program, employee=employee, application=mentor_application(program))
    assert not Enrollment.objects.exists()


def test_apply_as_mentor_and_as_mentee_stores_topics_by_kind():
    program = ProgramFactory(self_enrollment=True)
    ai, social = program.topics.order_by("name")
    mentor = services.enrollment_apply(program=program, employee=EmployeeFactory(level=2), application=mentor_application(program, topic_levels={ai.pk: 5, social.pk: 3}, interests=["Climbing", " climbing ", "Jazz"]))
    mentee = services.enrollment_apply(
        program=program, employee=EmployeeFactory(level=8), application=Application(role="mentee", topic_levels={ai.pk: 1}, languages=["English", "French"])
    )
    assert set(mentor.topic_ratings.values_list("topic__name", "kind", "level")) == {("AI tools", "teach", 5), ("Social media", "teach", 3)}
    assert list(mentee.topic_ratings.values_list("kind", "level")) == [("learn", 1)]
    assert mentor.interests == ["Climbing", "Jazz"] and mentor.status == "applied"


def test_two_way_program_records_both_directions():
    program = ProgramFactory(self_enrollment=True, mode=Program.Mode.TWO_WAY)
    ai, social = program.topics.order_by("name")
    enrollment = services.enrollment_apply(program=program, employee=EmployeeFactory(level=8), application=Application(role="mentee", topic_levels={ai.pk: 2}, extra_topic_levels={social.pk: 4}))
    assert set(enrollment.topic_ratings.values_list("kind", "topic__name")) == {("learn", "AI tools"), ("teach", "Social media")}


def test_applying_needs_a_topic_and_refuses_other_programs_topics():
    program = ProgramFactory(self_enrollment=True)
    with pytest.raises(ProgramError, match="at least one topic"):
        services.enrollment_apply(program=program, employee=EmployeeFactory(level=2), application=mentor_application(program, topic_levels={}))
    foreign = TopicFactory(name="Knitting")
    with pytest.raises(ProgramError, match="this program's topics"):
        services.enrollment_apply(program=program, employee=EmployeeFactory(level=2), application=mentor_application(program, topic_levels={foreign.pk: 3}))


def test_applying_twice_updates_the_one_enrollment():
    program = ProgramFactory(self_enrollment=True)
    employee = EmployeeFactory(level=2)
    services.enrollment_apply(program=program, employee=employee, application=mentor_application(program, motivation="first"))
    services.enrollment_apply(program=program, employee=employee, application=mentor_application(program, motivation="second"))
    assert Enrollment.objects.get().motivation == "second"
    assert EnrollmentTopic.objects.count() == 1


def test_an_invitation_only_program_refuses_uninvited_applications():
    program = ProgramFactory(self_enrollment=False)
    with pytest.raises(ProgramError, match="invitation only"):
        services.enrollment_apply(program=program, employee=EmployeeFactory(level=2), application=mentor_application(program))
    assert not Enrollment.objects.exists()


def test_invited_role_is_kept_and_declined_cannot_reapply():
    program = ProgramFactory()
    employee = EmployeeFactory(level=2)
    Enrollment.objects.create(program=program, employee=employee, role="mentee", status=Enrollment.Status.INVITED)
    with pytest.raises(ProgramError, match="invited as a mentee"):
        services.enrollment_apply(program=program, employee=employee, application=mentor_application(program))
    Enrollment.objects.update(status=Enrollment.Status.DECLINED, role="mentor")
    with pytest.raises(ProgramError, match="declined"):
        services.enrollment_apply(program=program, employee=employee, application=mentor_application(program))


def test_not_with_is_stored_and_self_is_refused():
    program = ProgramFactory(self_enrollment=True)
    me, colleague = EmployeeFactory(level=2), EmployeeFactory(level=2)
    with pytest.raises(ProgramError, match="yourself"):
        services.enrollment_apply(program=program, employee=me, application=mentor_application(program, not_with=[me]))
    enrollment = services.enrollment_apply(program=program, employee=me, application=mentor_application(program, not_with=[colleague]))
    assert list(enrollment.not_with.all()) == [colleague]


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_at_the_same_instant_creates_one_enrollment():
    """Two requests race past the 'already applied?' check; the database constraint decides."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is exercised on PostgreSQL in CI")
    program = ProgramFactory(self_enrollment=True)
    employee = EmployeeFactory(level=2)
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            services.enrollment_apply(program=program, employee=employee, application=mentor_application(program))
            outcomes.append("ok")
        except ProgramError as exc:
            outcomes.append(str(exc))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Enrollment.objects.filter(program=program, employee=employee).count() == 1
    assert "ok" in outcomes


def test_the_database_refuses_a_second_enrollment_in_one_program():
    from django.db import IntegrityError, transaction

    enrollment = EnrollmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(program=enrollment.program, employee=enrollment.employee, role="mentee")


def test_withdraw_needs_a_reason_and_only_the_person():
    enrollment = EnrollmentFactory()
    with pytest.raises(ProgramError, match="why"):
        services.enrollment_withdraw(enrollment=enrollment, by_employee=enrollment.employee, reason="  ")
    with pytest.raises(ProgramError, match="Only the person"):
        services.enrollment_withdraw(enrollment=enrollment, by_employee=EmployeeFactory(), reason="x")
    services.enrollment_withdraw(enrollment=enrollment, by_employee=enrollment.employee, reason="New job")
    enrollment.refresh_from_db()
    assert enrollment.status == "withdrawn" and enrollment.withdrawal_reason == "New job"


# --- keeping availability current ----------------------------------------------------------------


def running_enrollment(**fields) -> Enrollment:
    program = ProgramFactory(status=S.ACTIVE, enrollment_opens_on=days(-60), enrollment_closes_on=days(-40), starts_on=days(-30), ends_on=days(30))
    return EnrollmentFactory(program=program, status="approved", availability=["tue-10"], **fields)


def update_availability(enrollment, by=None, **overrides):
    fields = {"languages": ["English", " english ", "Hindi"], "availability": ["wed-14", "mon-08", "mon-08"], "time_zone": "Asia/Kolkata"}
    fields.update(overrides)
    return services.enrollment_availability_update(enrollment=enrollment, by_employee=by or enrollment.employee, **fields)


@pytest.mark.parametrize("program_status", [S.ENROLLMENT_OPEN, S.MATCHING, S.ACTIVE])
def test_an_approved_participant_updates_availability_while_the_program_runs(program_status):
    enrollment = running_enrollment()
    Program.objects.filter(pk=enrollment.program_id).update(status=program_status)
    ratings = list(enrollment.topic_ratings.values_list("topic_id", "kind", "level").order_by("topic_id"))
    update_availability(enrollment)
    enrollment.refresh_from_db()
    assert (enrollment.languages, enrollment.availability, enrollment.time_zone) == (["English", "Hindi"], ["mon-08", "wed-14"], "Asia/Kolkata")
    assert enrollment.status == "approved" and list(enrollment.topic_ratings.values_list("topic_id", "kind", "level").order_by("topic_id")) == ratings


@pytest.mark.parametrize(
    ("enrollment_status", "program_status", "why"),
    [
        ("approved", S.COMPLETED, "complete"),
        ("approved", S.ARCHIVED, "archived"),
        ("approved", S.DRAFT, "not running"),
        ("withdrawn", S.ACTIVE, "no longer in this program"),
        ("declined", S.ACTIVE, "no longer in this program"),
        ("waitlisted", S.ACTIVE, "waiting list"),
        ("applied", S.ACTIVE, "not been approved"),
        ("invited", S.ACTIVE, "not been approved"),
    ],
)
def test_availability_update_is_refused_outside_an_approved_running_enrollment(enrollment_status, program_status, why):
    enrollment = running_enrollment()
    Enrollment.objects.filter(pk=enrollment.pk).update(status=enrollment_status)
    Program.objects.filter(pk=enrollment.program_id).update(status=program_status)
    with pytest.raises(ProgramError, match=why):
        update_availability(enrollment)
    enrollment.refresh_from_db()
    assert enrollment.availability == ["tue-10"] and not enrollment.availability_editable


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"languages": [" ", ""]}, "at least one language"),
        ({"availability": ["someday-10"]}, "weekly grid"),
        ({"availability": ["mon-24"]}, "weekly grid"),
        ({"time_zone": "Nowhere/Atlantis"}, "not a known time zone"),
    ],
)
def test_availability_update_refuses_bad_answers_and_saves_nothing(overrides, why):
    enrollment = running_enrollment()
    with pytest.raises(ProgramError, match=why):
        update_availability(enrollment, **overrides)
    enrollment.refresh_from_db()
    assert (enrollment.languages, enrollment.availability) == (["English"], ["tue-10"])


def test_only_the_person_enrolled_updates_their_availability():
    enrollment = running_enrollment()
    with pytest.raises(ProgramError, match="Only the person"):
        update_availability(enrollment, by=EmployeeFactory())
    enrollment.refresh_from_db()
    assert enrollment.availability == ["tue-10"]


def test_the_next_pairing_round_reads_the_updated_availability():
    from pairing.services import build_input

    enrollment = running_enrollment(role="mentee", employee=EmployeeFactory(level=7, time_zone="UTC"))
    update_availability(enrollment, availability=["thu-12"], time_zone="UTC")
    data, by_employee = build_input(program=enrollment.program)
    [mentee] = [m for m in data.mentees if m.id == enrollment.employee_id]
    assert set(mentee.availability) == {"thu-12:00", "thu-12:30", "thu-13:00", "thu-13:30"}  # the block's UTC half hours


def test_availability_updates_are_not_audited():
    # Like editing an application: the participant's own answers, not an HR action.
    from mentoring.models import AuditEvent

    update_availability(running_enrollment())
    assert not AuditEvent.objects.exists()


# --- invitations and review -----------------------------------------------------------------------


def test_invitations_skip_the_ineligible_and_are_sent_after_commit(hr_user, django_capture_on_commit_callbacks):
    program = ProgramFactory()
    juniors = [EmployeeFactory(level=2) for _ in range(3)]
    senior = EmployeeFactory(level=8)
    already = EnrollmentFactory(program=program).employee
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = services.enrollment_invite(program=program, employees=[*juniors, senior, already], role="mentor", by=hr_user, message="We'd love you to join")
        assert mail.outbox == []
    assert {e.pk for e in result.invited} == {e.pk for e in juniors}
    assert {e.pk: reason for e, reason in result.skipped}.keys() == {senior.pk, already.pk}
    assert len(callbacks) >= 1  # delivery is nudged only after commit
    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.email for e in juniors)
    assert "We'd love you to join" in mail.outbox[0].body and f"/programs/{program.slug}/apply/" in mail.outbox[0].body
    assert Enrollment.objects.filter(program=program, status="invited").count() == 3


def test_inviting_needs_open_enrollment(hr_user):
    program = ProgramFactory(status=S.DRAFT)
    with pytest.raises(ProgramError, match="Open enrollment"):
        services.enrollment_invite(program=program, employees=[EmployeeFactory(level=2)], role="mentor", by=hr_user)


def test_bulk_review_changes_only_allowed_statuses_and_tells_people(hr_user, deliver_outbox):
    program = ProgramFactory()
    applied = [EnrollmentFactory(program=program) for _ in range(3)]
    withdrawn = EnrollmentFactory(program=program, status="withdrawn")
    other_program = EnrollmentFactory()
    result = services.enrollments_decide(
        program=program, enrollment_ids=[e.pk for e in applied] + [withdrawn.pk, other_program.pk], decision="approved", by=hr_user, message="Welcome aboard"
    )
    assert (result.changed, result.skipped) == (3, 2)
    assert set(Enrollment.objects.filter(program=program).values_list("status", flat=True)) == {"approved", "withdrawn"}
    other_program.refresh_from_db()
    assert other_program.status == "applied"
    assert deliver_outbox() == 3
    assert all("Welcome aboard" in m.body and "approved" in m.body for m in mail.outbox)


def test_reopen_a_declined_application(hr_user):
    enrollment = EnrollmentFactory(status="declined")
    services.enrollment_reopen(enrollment=enrollment, by=hr_user)
    enrollment.refresh_from_db()
    assert enrollment.status == "applied"
    with pytest.raises(ProgramError, match="Only a declined"):
        services.enrollment_reopen(enrollment=enrollment, by=hr_user)


def test_a_completed_programs_applications_can_no_longer_be_reopened_or_decided(hr_user, deliver_outbox):
    """QA: on a completed program HR could reopen a declined application, approve it, and the
    person got "You're in ... you will hear from us when you have been paired"."""
    program = ProgramFactory(status=S.COMPLETED)
    declined = EnrollmentFactory(program=program, status="declined")
    applied = EnrollmentFactory(program=program, status="applied")
    with pytest.raises(ProgramError, match="completed: its applications are final"):
        services.enrollment_reopen(enrollment=declined, by=hr_user)
    for decision in ("approved", "waitlisted", "declined"):
        with pytest.raises(ProgramError, match="completed: its applications are final"):
            services.enrollments_decide(program=program, enrollment_ids=[applied.pk], decision=decision, by=hr_user)
    assert dict(Enrollment.objects.filter(program=program).values_list("pk", "status")) == {declined.pk: "declined", applied.pk: "applied"}
    assert deliver_outbox() == 0


def test_resource_checklist_is_per_role():
    program = ProgramFactory()
    for_mentees = Resource.objects.create(program=program, title="Seniors' guide", url="https://e.x/m", audience="mentees")
    for_all = Resource.objects.create(program=program, title="Kick-off deck", url="https://e.x/k")
    mentor = EnrollmentFactory(program=program, role="mentor")
    services.resource_mark(resource=for_all, enrollment=mentor, done=True)
    services.resource_mark(resource=for_all, enrollment=mentor, done=True)  # twice: still once
    assert mentor.completed_resources.count() == 1
    with pytest.raises(ProgramError):
        services.resource_mark(resource=for_mentees, enrollment=mentor, done=True)
    services.resource_mark(resource=for_all, enrollment=mentor, done=False)
    assert mentor.completed_resources.count() == 0


def test_topic_names_are_unique_ignoring_case(hr_user):
    services.topic_save(by=hr_user, name="Prompt   engineering")
    with pytest.raises(ProgramError, match="already a topic"):
        services.topic_save(by=hr_user, name="prompt engineering")


def test_self_enrollment_lists_programs_a_person_may_join():
    from programs.selectors import programs_open_to

    junior = make_person(level=2).employee
    open_program = ProgramFactory(self_enrollment=True)
    ProgramFactory(self_enrollment=False)
    ProgramFactory(self_enrollment=True, mentor_max_level=1, mentee_min_level=9)  # not eligible either way
    joined = ProgramFactory(self_enrollment=True)
    EnrollmentFactory(program=joined, employee=junior)
    assert programs_open_to(employee=junior) == [open_program]
    assert UserRole.PARTICIPANT  # the role every participant holds


# --- what the lifecycle fixes ---------------------------------------------------------------------


def running_program(**fields):
    return ProgramFactory(
        status=S.ACTIVE, enrollment_opens_on=days(-60), enrollment_closes_on=days(-40), starts_on=days(-30), ends_on=days(100),
        midpoint_survey_on=days(-1), final_survey_on=days(110), **fields,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"enrollment_opens_on": days(400)}, "the day it opened is fixed"),
        ({"enrollment_closes_on": days(410)}, "Enrollment has closed"),
        ({"starts_on": days(420)}, "Pairs are formed for this start date"),
        ({"mentor_max_level": 1}, "People were approved under these rules"),
        ({"mentee_min_level": 10}, "People were approved under these rules"),
        ({"midpoint_survey_on": days(30)}, "This survey's day has passed"),
        ({"ends_on": days(-2)}, "which is in the past"),
    ],
    ids=["enrollment-opens", "enrollment-closes", "start", "mentor-level", "mentee-level", "past-survey", "end-before-today"],
)
def test_a_running_program_refuses_changes_to_what_is_fixed(hr_user, changes, message):
    program = running_program()
    before = Program.objects.values().get(pk=program.pk)
    with pytest.raises(ProgramError, match=message):
        services.program_update(program=program, by=hr_user, **changes)
    assert Program.objects.values().get(pk=program.pk) == before


def test_a_running_program_may_extend_its_end_and_move_a_future_survey(hr_user):
    program = running_program()
    services.program_update(program=program, by=hr_user, ends_on=days(150), final_survey_on=days(140), name="Renamed")
    program.refresh_from_db()
    assert (program.ends_on, program.final_survey_on, program.name) == (days(150), days(140), "Renamed")


def test_completing_early_makes_today_the_end_and_opens_the_final_survey(hr_user):
    from mentoring.models import AuditEvent

    today = timezone.localdate()
    early = ProgramFactory(
        status=S.ACTIVE, enrollment_opens_on=today - datetime.timedelta(days=60), enrollment_closes_on=today - datetime.timedelta(days=40),
        starts_on=today - datetime.timedelta(days=30), ends_on=today + datetime.timedelta(days=100),
        midpoint_survey_on=today + datetime.timedelta(days=10), final_survey_on=today + datetime.timedelta(days=90),
    )
    # Whoever presses the button, wherever they are: the site's date (UTC here), not theirs.
    with timezone.override(zoneinfo.ZoneInfo("Pacific/Kiritimati")):  # UTC+14
        services.program_transition(program=early, to=S.COMPLETED, by=hr_user)
    early.refresh_from_db()
    # The final survey is dated the day it opened, the day the program ended.
    assert (early.ends_on, early.midpoint_survey_on, early.final_survey_on) == (today, None, today)
    event = AuditEvent.objects.filter(action=AuditEvent.Action.PROGRAM_TRANSITIONED).latest("pk")
    assert event.before["ends_on"] == (today + datetime.timedelta(days=100)).isoformat() and event.after["ends_on"] == today.isoformat()
    assert event.before["midpoint_survey_on"] and event.after["midpoint_survey_on"] is None

    # At (or after) the planned end nothing moves: the dates were already true.
    on_time = ProgramFactory(
        status=S.ACTIVE, enrollment_opens_on=today - datetime.timedelta(days=90), enrollment_closes_on=today - datetime.timedelta(days=70),
        starts_on=today - datetime.timedelta(days=60), ends_on=today, midpoint_survey_on=today - datetime.timedelta(days=30), final_survey_on=today - datetime.timedelta(days=5),
    )
    services.program_transition(program=on_time, to=S.COMPLETED, by=hr_user)
    on_time.refresh_from_db()
    assert (on_time.ends_on, on_time.midpoint_survey_on, on_time.final_survey_on) == (today, today - datetime.timedelta(days=30), today - datetime.timedelta(days=5))
    assert "ends_on" not in AuditEvent.objects.filter(action=AuditEvent.Action.PROGRAM_TRANSITIONED).latest("pk").after


def test_completing_early_on_the_midpoint_surveys_day_keeps_the_surveys_in_order(hr_user):
    """A midpoint survey on or after the final survey's new day is dropped when nobody has
    answered it; once someone has, it stays and the final survey follows it by a day."""
    from sessions_log.models import SurveyResponse

    today = timezone.localdate()
    dates = {
        "status": S.ACTIVE, "enrollment_opens_on": today - datetime.timedelta(days=60), "enrollment_closes_on": today - datetime.timedelta(days=40),
        "starts_on": today - datetime.timedelta(days=30), "ends_on": today + datetime.timedelta(days=100),
        "midpoint_survey_on": today, "final_survey_on": today + datetime.timedelta(days=90),
    }
    unanswered, answered = ProgramFactory(**dates), ProgramFactory(**dates)
    SurveyResponse.objects.create(enrollment=EnrollmentFactory(program=answered, status=Enrollment.Status.APPROVED), kind="midpoint")
    for program in (unanswered, answered):
        services.program_transition(program=program, to=S.COMPLETED, by=hr_user)
        program.refresh_from_db()
    assert (unanswered.midpoint_survey_on, unanswered.final_survey_on) == (None, today)
    assert (answered.midpoint_survey_on, answered.final_survey_on) == (today, today + datetime.timedelta(days=1))
    for program in (unanswered, answered):
        program.full_clean()  # the dates still follow the program's own rules


def test_the_final_survey_of_a_program_completed_early_opens_at_once_for_everyone(hr_user):
    """Dated the day the program ended (not the day before, which the program page then showed
    as the final survey's day), and open at once also for someone west of the site still on
    the previous day."""
    from sessions_log.services import survey_open

    today = timezone.localdate()
    early = ProgramFactory(
        status=S.ACTIVE, enrollment_opens_on=today - datetime.timedelta(days=60), enrollment_closes_on=today - datetime.timedelta(days=40),
        starts_on=today - datetime.timedelta(days=30), ends_on=today + datetime.timedelta(days=100), final_survey_on=today + datetime.timedelta(days=90),
    )
    services.program_transition(program=early, to=S.COMPLETED, by=hr_user)
    early.refresh_from_db()
    assert early.final_survey_on == early.ends_on == today
    assert survey_open(early, "final", today) and survey_open(early, "final", today - datetime.timedelta(days=1))
    assert not survey_open(early, "final", today - datetime.timedelta(days=2))  # nobody is two days behind
    assert not survey_open(early, "final", early.ends_on + datetime.timedelta(days=31))


def test_a_completed_programs_dates_are_fixed(hr_user):
    program = ProgramFactory(status=S.COMPLETED, enrollment_opens_on=days(-300), enrollment_closes_on=days(-280), starts_on=days(-270), ends_on=days(-5))
    with pytest.raises(ProgramError, match="The program is completed, so its dates are fixed."):
        services.program_update(program=program, by=hr_user, ends_on=datetime.date(2027, 12, 31))
    program.refresh_from_db()
    assert program.ends_on == days(-5)


def test_matching_fixes_eligibility_but_open_enrollment_does_not(hr_user):
    open_program = ProgramFactory(status=S.ENROLLMENT_OPEN)
    services.program_update(program=open_program, by=hr_user, mentor_max_level=2, departments=[DepartmentFactory(name="Sales")])
    with pytest.raises(ProgramError, match="the day it opened is fixed"):
        services.program_update(program=open_program, by=hr_user, enrollment_opens_on=days(1))
    matching = ProgramFactory(status=S.MATCHING)
    with pytest.raises(ProgramError, match="People were approved under these rules"):
        services.program_update(program=matching, by=hr_user, departments=[DepartmentFactory(name="Sales")])


def test_a_new_program_with_past_dates_is_refused_with_readable_days(hr_user):
    past = dict(enrollment_opens_on=datetime.date(2020, 2, 1), enrollment_closes_on=datetime.date(2020, 2, 20), starts_on=datetime.date(2020, 3, 1), ends_on=datetime.date(2020, 9, 1))
    with pytest.raises(ProgramError) as error:
        services.program_create(by=hr_user, topics=[], **program_fields(**past))
    assert "Enrollment opens on 1 Feb 2020, which is in the past" in str(error.value)
    assert "2020-02-01" not in str(error.value)
    assert not Program.objects.exists()


def test_transition_problems_write_dates_for_people(hr_user):
    program = ProgramFactory(status=S.DRAFT, enrollment_opens_on=datetime.date(2020, 2, 1), enrollment_closes_on=datetime.date(2020, 2, 20))
    [problem] = services.transition_problems(program=program, to=S.ENROLLMENT_OPEN)
    assert "20 Feb 2020" in problem and "2020-02-20" not in problem


def test_level_rules_no_pair_can_meet_are_refused_and_loose_ones_warned(hr_user):
    for level in (1, 2, 3, 4, 5):
        EmployeeFactory(level=level)
    top = max(Employee.objects.current().values_list("level", flat=True))
    with pytest.raises(ProgramError, match=f"No pair can meet these rules.*level 1 .*level {top}, fewer than {top} levels apart"):
        services.program_create(by=hr_user, topics=[], **program_fields(mentor_max_level=2, mentee_min_level=4, min_level_gap=top))
    program = services.program_create(by=hr_user, topics=[], **program_fields(mentor_max_level=8, mentee_min_level=2, min_level_gap=2))
    [warning] = services.level_rule_warnings(program)
    assert "a mentor at level 8 needs a mentee at level 10 or above" in warning and "highest level at" not in warning  # nobody at 0
    assert services.level_rule_warnings(ProgramFactory(mentor_max_level=3, mentee_min_level=6, min_level_gap=2)) == []


# --- leavers ----------------------------------------------------------------------------------------


def test_leavers_open_enrollments_are_withdrawn_and_audited(hr_user):
    from mentoring.models import AuditEvent
    from pairing.models import Pair

    leaver = EmployeeFactory(level=2, left_date=days(-1))
    program = ProgramFactory()
    invited = EnrollmentFactory(program=program, employee=leaver, status="invited", motivation="qz-leaver-motivation")
    elsewhere = {status: EnrollmentFactory(program=ProgramFactory(), employee=leaver, status=status) for status in ("applied", "waitlisted", "approved", "declined")}
    paired = EnrollmentFactory(program=ProgramFactory(), employee=leaver, status="approved")
    mentee = EnrollmentFactory(program=paired.program, role="mentee", status="approved")
    Pair.objects.create(program=paired.program, mentor=paired, mentee=mentee, status=Pair.Status.ENDED, ended_at=timezone.now())
    staying = EnrollmentFactory(program=program)

    assert services.enrollments_withdraw_for_leavers(employee_ids=[leaver.pk]) == 4
    assert services.enrollments_withdraw_for_leavers(employee_ids=[leaver.pk]) == 0  # run twice: nothing left

    def status(e):
        e.refresh_from_db()
        return e.status

    assert status(invited) == "withdrawn" and invited.withdrawn_at is not None
    assert {s: status(e) for s, e in elsewhere.items()} == {"applied": "withdrawn", "waitlisted": "withdrawn", "approved": "withdrawn", "declined": "declined"}
    assert status(paired) == "approved" and status(staying) == "applied"  # took part / not a leaver
    events = AuditEvent.objects.filter(action=AuditEvent.Action.ENROLLMENTS_WITHDRAWN)
    assert events.count() == 4
    event = events.get(object_id=program.pk)
    assert event.before == {"enrollments": {str(invited.pk): "invited"}} and event.after["enrollments"] == {str(invited.pk): "withdrawn"}
    assert not AuditEvent.objects.filter(after__icontains="qz-leaver").exists()


def test_a_roster_import_withdraws_leavers_enrollments_whatever_their_left_date():
    from mentoring.roster import roster_apply
    from tests.mentoring.test_roster import make_csv, person

    roster_apply(data=make_csv(person("E1"), person("E2"), person("E3")), filename="roster.csv")
    program = ProgramFactory()
    gone, going, staying = (EnrollmentFactory(program=program, employee=Employee.objects.get(employee_id=eid)) for eid in ("E1", "E2", "E3"))

    roster_apply(
        data=make_csv(person("E1", left_date=days(-3).isoformat()), person("E2", left_date=days(20).isoformat()), person("E3")), filename="roster.csv"
    )

    assert [Enrollment.objects.get(pk=e.pk).status for e in (gone, going, staying)] == ["withdrawn", "withdrawn", "applied"]


def test_a_leaver_is_not_approved_but_the_others_are(hr_user, deliver_outbox):
    program = ProgramFactory()
    leaver = EnrollmentFactory(program=program, employee__left_date=days(-2))
    current = EnrollmentFactory(program=program)
    result = services.enrollments_decide(program=program, enrollment_ids=[leaver.pk, current.pk], decision="approved", by=hr_user)
    assert (result.changed, [e.pk for e in result.leavers], result.skipped) == (1, [leaver.employee_id], 1)
    assert [Enrollment.objects.get(pk=e.pk).status for e in (leaver, current)] == ["applied", "approved"]
    assert deliver_outbox() == 1 and mail.outbox[0].to == [current.employee.email]


def test_a_decision_message_over_the_limit_is_refused(hr_user):
    program = ProgramFactory()
    enrollment = EnrollmentFactory(program=program)
    with pytest.raises(ProgramError, match="20,000 characters long; keep it to 2,000"):
        services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="approved", by=hr_user, message="x" * 20000)
    enrollment.refresh_from_db()
    assert enrollment.status == "applied"


# --- audit ------------------------------------------------------------------------------------------


def test_creating_editing_inviting_and_deciding_are_audited_without_free_text(hr_user):
    from mentoring.models import AuditEvent

    A = AuditEvent.Action
    program = services.program_create(by=hr_user, topics=[TopicFactory(name="AI tools")], description="qz-description", **program_fields())
    [created] = AuditEvent.objects.filter(action=A.PROGRAM_CREATED)
    assert (created.actor, created.object_id, created.after["status"], created.after["starts_on"]) == (hr_user, program.pk, "draft", days(21).isoformat())

    services.program_update(program=program, by=hr_user, ends_on=days(210), description="qz-new-description", min_score=200)
    [edited] = AuditEvent.objects.filter(action=A.PROGRAM_UPDATED)
    assert edited.before == {"ends_on": days(200).isoformat(), "description": "(changed)", "min_score": 150}
    assert edited.after == {"ends_on": days(210).isoformat(), "description": "(changed)", "min_score": 200}
    services.program_update(program=program, by=hr_user, min_score=200)  # nothing changed: nothing recorded
    assert AuditEvent.objects.filter(action=A.PROGRAM_UPDATED).count() == 1

    services.program_transition(program=program, to=S.ENROLLMENT_OPEN, by=hr_user, note="qz-note")
    junior = EmployeeFactory(level=2)
    services.enrollment_invite(program=program, employees=[junior, EmployeeFactory(level=9)], role="mentor", by=hr_user, message="qz-invite-message")
    [invited] = AuditEvent.objects.filter(action=A.ENROLLMENTS_INVITED)
    enrollment = Enrollment.objects.get(program=program, employee=junior)
    assert invited.after == {"role": "mentor", "enrollments": [enrollment.pk], "skipped": 1, "unknown_emails": 0}

    Enrollment.objects.filter(pk=enrollment.pk).update(status="applied", motivation="qz-motivation")
    services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="declined", by=hr_user, message="qz-decision-message")
    services.enrollment_reopen(enrollment=enrollment, by=hr_user)
    decided = list(AuditEvent.objects.filter(action=A.ENROLLMENTS_DECIDED).order_by("id"))
    assert [(e.before, e.after) for e in decided] == [
        ({"enrollments": {str(enrollment.pk): "applied"}}, {"enrollments": {str(enrollment.pk): "declined"}}),
        ({"enrollments": {str(enrollment.pk): "declined"}}, {"enrollments": {str(enrollment.pk): "applied"}}),
    ]
    text = str(list(AuditEvent.objects.values("summary", "before", "after"))).lower()
    assert "qz-" not in text


# --- HR is told of a withdrawal --------------------------------------------------------------------


def _hr_mail(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def test_the_hr_admin_who_created_the_program_is_told_who_withdrew_why_and_who_needs_a_partner(deliver_outbox, django_capture_on_commit_callbacks):
    from mentoring.models import OutboxMessage
    from tests.factories import make_active_pair

    owner = make_person(roles=[UserRole.HR_ADMIN], first_name="Olga", time_zone="Asia/Tokyo")
    another_hr = make_person(roles=[UserRole.HR_ADMIN])
    pair = make_active_pair(name="Digital fluency", created_by=owner)
    mentee, mentor = pair.mentee, pair.mentor

    with django_capture_on_commit_callbacks(execute=True):
        services.enrollment_withdraw(enrollment=mentee, by_employee=mentee.employee, reason="My new role leaves no time")
        # Written with the withdrawal, in its transaction, like all mail: an outbox row.
        assert OutboxMessage.objects.filter(to__icontains=owner.email).count() == 1
    deliver_outbox()

    [notice] = _hr_mail(owner)
    assert not _hr_mail(another_hr)  # the program's creator runs it
    assert notice.subject == f"{mentee.employee.full_name} has left Digital fluency: {mentor.employee.full_name} needs a new partner"
    text = " ".join(notice.body.split())
    assert f"{mentee.employee.full_name} (mentee) withdrew from Digital fluency on" in text
    assert "Their reason, written for HR: My new role leaves no time" in text
    assert f"{mentor.employee.full_name} is now without a partner: re-match them from the pairing page." in text
    assert f"/hr/programs/{pair.program.slug}/pairing/#waiting-heading" in text
    assert f"/pairs/{pair.pk}/" in text and "You get this because you created this program." in text
    html = notice.alternatives[0][0]
    assert "My new role leaves no time" in html and f'href="http://' in html
    # Shown in the HR admin's own time zone, as every email is: the moment they withdrew.
    withdrawn_at = Enrollment.objects.get(pk=mentee.pk).withdrawn_at
    import zoneinfo
    from django.utils.formats import date_format

    assert f'{date_format(withdrawn_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")), "DATETIME_FORMAT")} (Asia/Tokyo)' in text


def test_without_a_creator_who_can_act_every_hr_admin_is_told_but_never_the_pair(deliver_outbox):
    from tests.factories import make_active_pair

    former_hr = make_person(roles=[UserRole.PARTICIPANT])  # created the program, no longer HR
    hr_one, hr_two = make_person(roles=[UserRole.HR_ADMIN]), make_person(roles=[UserRole.HR_ADMIN])
    gone = make_person(roles=[UserRole.HR_ADMIN], left_date=TODAY() - datetime.timedelta(days=1))
    partner_hr = make_person(roles=[UserRole.HR_ADMIN, UserRole.PARTICIPANT], level=2)  # the mentor is an HR admin too
    pair = make_active_pair(created_by=former_hr, mentor_user=partner_hr)

    services.enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="Moving abroad")
    deliver_outbox()

    assert len(_hr_mail(hr_one)) == len(_hr_mail(hr_two)) == 1
    assert not _hr_mail(former_hr) and not _hr_mail(gone)
    assert all("Moving abroad" not in m.body for m in _hr_mail(partner_hr))  # told only that their partner left
    assert "one of Upward's HR admins" in _hr_mail(hr_one)[0].body


def test_a_withdrawal_without_a_pair_says_nobody_needs_re_matching(hr_user, deliver_outbox):
    program = ProgramFactory(status=S.ENROLLMENT_OPEN, created_by=hr_user)
    enrollment = EnrollmentFactory(program=program, status=Enrollment.Status.APPLIED)
    services.enrollment_withdraw(enrollment=enrollment, by_employee=enrollment.employee, reason="Changed teams")
    deliver_outbox()
    [notice] = _hr_mail(hr_user)
    assert notice.subject == f"{enrollment.employee.full_name} has left {program.name}"
    assert "Changed teams" in notice.body and "nobody needs re-matching" in notice.body
    assert f"/hr/programs/{program.pk}/review/" in notice.body and "never their reason" not in notice.body


def test_a_withdrawal_during_matching_names_the_partner_the_proposal_now_leaves_alone(hr_user, deliver_outbox):
    from mentoring.models import OutboxMessage
    from pairing.models import MatchRun, Pair

    program = ProgramFactory(status=S.MATCHING, created_by=hr_user, name="Digital fluency")
    mentor = EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED)
    mentee = EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED)
    run = MatchRun.objects.create(program=program, status=MatchRun.Status.PROPOSED, started_by=hr_user)
    Pair.objects.create(program=program, mentor=mentor, mentee=mentee, match_run=run, status=Pair.Status.PROPOSED)

    with transaction.atomic():
        services.enrollment_withdraw(enrollment=mentee, by_employee=mentee.employee, reason="Changed teams")
        assert OutboxMessage.objects.filter(to__icontains=hr_user.email).count() == 1  # in the withdrawal's transaction
    deliver_outbox()

    assert not Pair.objects.filter(match_run=run).exists()
    [notice] = _hr_mail(hr_user)
    partner = mentor.employee.full_name
    assert notice.subject == f"{mentee.employee.full_name} has left Digital fluency: {partner} needs a new partner"
    text = " ".join(notice.body.split())
    assert "nobody needs re-matching" not in text
    assert f"Match run #{run.pk} paired them with {partner} (mentor). That proposed pair is dropped, so {partner} has no partner in the proposal" in text
    assert f"/hr/programs/{program.slug}/pairing/runs/{run.pk}/" in text
    html = notice.alternatives[0][0]
    assert "nobody needs re-matching" not in html and f"<strong>{partner} has no partner in the proposal</strong>" in html
    assert not [m for m in mail.outbox if m.to == [mentor.employee.email]]  # the proposal was never published: nothing to tell them


def test_a_mentor_who_keeps_another_mentee_is_not_said_to_need_a_partner(hr_user, deliver_outbox):
    from pairing.models import Pair
    from tests.factories import make_active_pair

    pair = make_active_pair(created_by=hr_user, mentees_per_mentor=2)
    other = EnrollmentFactory(program=pair.program, role="mentee", status=Enrollment.Status.APPROVED, employee=EmployeeFactory(level=7))
    Pair.objects.create(program=pair.program, mentor=pair.mentor, mentee=other, status=Pair.Status.ACTIVE)
    services.enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="Too busy this quarter")
    deliver_outbox()
    [notice] = _hr_mail(hr_user)
    assert "needs a new partner" not in notice.subject
    assert f"{pair.mentor.employee.full_name} keeps their other pairs in the program" in " ".join(notice.body.split())


def test_declining_an_invitation_does_not_email_hr(hr_user, deliver_outbox):
    program = ProgramFactory(status=S.ENROLLMENT_OPEN, created_by=hr_user)
    invited = EnrollmentFactory(program=program, status=Enrollment.Status.INVITED)
    services.enrollment_withdraw(enrollment=invited, by_employee=invited.employee, reason="")
    deliver_outbox()
    assert not _hr_mail(hr_user)


def test_erasing_the_person_later_scrubs_their_reason_from_the_hr_email(hr_user, deliver_outbox):
    from mentoring.gdpr import person_erase
    from mentoring.models import OutboxMessage
    from tests.factories import make_active_pair

    pair = make_active_pair(created_by=hr_user, mentee_user=make_person(level=7))
    services.enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="A private family matter")
    [written] = OutboxMessage.objects.filter(to=[hr_user.email])
    assert "A private family matter" in written.body_text
    assert "A private family matter" in written.alternatives[0]["content"] and written.alternatives[0]["mimetype"] == "text/html"

    person_erase(employee=pair.mentee.employee, by=hr_user, confirm_email=pair.mentee.employee.email)

    written.refresh_from_db()
    assert "A private family matter" not in written.body_text
    assert "A private family matter" not in str(written.alternatives)
    assert not OutboxMessage.objects.filter(body_text__icontains="A private family matter").exists()
