"""Programs and enrollment services: the state machine, eligibility, applying, review."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from mentoring.models import Role as UserRole
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


def test_the_happy_path_through_the_lifecycle(hr_user):
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
    services.program_transition(program=program, to=S.COMPLETED, by=hr_user)
    services.program_transition(program=program, to=S.ARCHIVED, by=hr_user)
    assert [t.to_status for t in program.transitions.all()] == [S.DRAFT, S.ENROLLMENT_OPEN, S.MATCHING, S.ACTIVE, S.COMPLETED, S.ARCHIVED]


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
    ],
)
def test_program_validation_messages(hr_user, overrides, message):
    with pytest.raises(ProgramError, match=message):
        services.program_create(by=hr_user, topics=[], **program_fields(**overrides))
    assert not Program.objects.exists()


def test_clone_keeps_the_setup_and_shifts_every_date(hr_user):
    original = ProgramFactory(status=S.COMPLETED, midpoint_survey_on=days(100), pairing_weights={"topics": 70, "interests": 30}, ban_same_department=True)
    original.departments.set([DepartmentFactory(name="Sales")])
    Resource.objects.create(program=original, title="Guide", url="https://example.com/g")
    clone = services.program_clone(program=original, by=hr_user, name="Round 2", slug="round-2", enrollment_opens_on=original.enrollment_opens_on + datetime.timedelta(days=365))
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
