"""Late joiners: HR invites people after enrollment closed, they apply by a day HR chose, and a
re-match pairs them from the remaining pool without touching live pairs."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from mentoring.models import AuditEvent
from pairing import services as pairing_services
from pairing.models import Pair
from programs import services
from programs.models import Enrollment, Program
from programs.services import ProgramError
from sessions_log import reminders
from sessions_log.models import Reminder
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, make_person
from tests.pairing.helpers import mentee, mentor, run_now

pytestmark = pytest.mark.django_db
ES = Enrollment.Status
S = Program.Status
TODAY = timezone.localdate


def days(n):
    return TODAY() + datetime.timedelta(days=n)


def running(**fields):
    """A program well under way: enrollment closed weeks ago, started, ending in months."""
    values = dict(
        status=S.ACTIVE, enrollment_opens_on=days(-60), enrollment_closes_on=days(-40), starts_on=days(-30), ends_on=days(150), min_score=0, self_enrollment=False
    )
    values.update(fields)
    return ProgramFactory(**values)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def application(program, **overrides) -> dict:
    first = program.topics.order_by("name").first()
    data = {f"topic_{first.pk}": 2, "interests": "chess", "languages": "English", "availability": ["mon-08", "wed-14"], "time_zone": "Europe/Paris", "motivation": "", "not_with": ""}
    data.update(overrides)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the service ---------------------------------------------------------------------------------


def test_a_late_invitation_opens_a_window_until_the_day_hr_chose(hr_user, deliver_outbox):
    program = running()
    junior = EmployeeFactory(level=2)
    result = services.enrollment_invite(program=program, employees=[junior], role="mentor", by=hr_user, apply_by=days(10))
    assert [e.pk for e in result.invited] == [junior.pk] and result.apply_by == days(10)
    enrollment = Enrollment.objects.get(program=program, employee=junior)
    assert (enrollment.status, enrollment.apply_by) == (ES.INVITED, days(10))

    deliver_outbox()
    assert [m.to for m in mail.outbox] == [[junior.email]]
    assert f"apply by {date_format(days(10))}" in mail.outbox[0].body and "Enrollment is open until" not in mail.outbox[0].body

    assert services.eligibility_problems(program=program, employee=junior, role="mentor", enrollment=enrollment) == []
    assert services.eligibility_problems(program=program, employee=junior, role="mentor", enrollment=enrollment, on=days(10)) == []
    late = services.eligibility_problems(program=program, employee=junior, role="mentor", enrollment=enrollment, on=days(11))
    assert late == [f"Your invitation to join was open until {date_format(days(10))}. Ask HR if you would still like to join."]


def test_a_late_invitation_needs_a_last_day_before_the_program_ends(hr_user):
    program = running(ends_on=days(30))
    junior = EmployeeFactory(level=2)
    for apply_by, message in ((None, "Choose the last day to apply."), (days(-1), "cannot be in the past"), (days(30), "must be before the program ends")):
        with pytest.raises(ProgramError, match=message):
            services.enrollment_invite(program=program, employees=[junior], role="mentor", by=hr_user, apply_by=apply_by)
    assert not program.enrollments.exists()


@pytest.mark.parametrize(
    ("status", "ends_in", "message"),
    [(S.DRAFT, 150, "Open enrollment before inviting people."), (S.COMPLETED, 150, "it takes no new people"), (S.ACTIVE, 0, "too late to join")],
)
def test_no_late_invitations_before_enrollment_or_once_the_program_is_over(hr_user, status, ends_in, message):
    program = running(status=status, ends_on=days(ends_in))
    with pytest.raises(ProgramError, match=message):
        services.enrollment_invite(program=program, employees=[EmployeeFactory(level=2)], role="mentor", by=hr_user, apply_by=days(-1 + max(ends_in, 1)))
    assert not program.enrollments.exists()


def test_only_a_late_invitation_opens_the_window(hr_user):
    """Self-enrollment and invitations from enrollment time stay closed once enrollment has."""
    program = running(self_enrollment=True)
    first = program.topics.first()
    stranger = EmployeeFactory(level=2)
    with pytest.raises(ProgramError, match="Enrollment for this program is not open"):
        services.enrollment_apply(program=program, employee=stranger, application=services.Application(role="mentor", topic_levels={first.pk: 4}))
    old_invite = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, employee=EmployeeFactory(level=2))
    with pytest.raises(ProgramError, match="Enrollment for this program is not open"):
        services.enrollment_apply(program=program, employee=old_invite.employee, application=services.Application(role="mentor", topic_levels={first.pk: 4}))

    # HR invites the same person again, late: the invitation is renewed with its date, and works.
    result = services.enrollment_invite(program=program, employees=[old_invite.employee, stranger], role="mentor", by=hr_user, apply_by=days(7))
    assert [e.pk for e in result.renewed] == [old_invite.employee.pk] and len(result.invited) == 2
    services.enrollment_apply(program=program, employee=old_invite.employee, application=services.Application(role="mentor", topic_levels={first.pk: 4}))
    old_invite.refresh_from_db()
    assert old_invite.status == ES.APPLIED and old_invite.apply_by == days(7)


def test_late_invitations_skip_people_already_in_and_are_audited(hr_user):
    program = running()
    applied = EnrollmentFactory(program=program, role="mentor", status=ES.APPLIED, employee=EmployeeFactory(level=2))
    paired = mentor(program)
    result = services.enrollment_invite(program=program, employees=[applied.employee, paired.employee], role="mentor", by=hr_user, apply_by=days(7))
    assert result.invited == [] and dict((e.pk, why) for e, why in result.skipped) == {applied.employee_id: "already applied", paired.employee_id: "already in this program"}

    newcomer = EmployeeFactory(level=2)
    services.enrollment_invite(program=program, employees=[newcomer], role="mentor", by=hr_user, apply_by=days(7), message="Private words")
    event = AuditEvent.objects.filter(action=AuditEvent.Action.ENROLLMENTS_INVITED).latest("pk")
    assert event.after["apply_by"] == days(7).isoformat() and "late" in event.summary
    assert "Private words" not in str(event.after) + event.summary


def test_a_late_joiner_is_paired_by_the_next_rematch_without_touching_live_pairs(hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    program = ProgramFactory(status=S.MATCHING, min_score=0)
    mentor(program), mentee(program)
    first_run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pairing_services.match_run_publish(run=first_run, by=hr_user)
    live = Pair.objects.get()
    spare_mentor = mentor(program)  # approved, nobody left to pair with
    program.refresh_from_db()
    assert program.status == S.ACTIVE

    senior = EmployeeFactory(level=7)
    services.enrollment_invite(program=program, employees=[senior], role="mentee", by=hr_user, apply_by=days(5))
    topic = program.topics.first()
    late = services.enrollment_apply(program=program, employee=senior, application=services.Application(role="mentee", topic_levels={topic.pk: 2}))
    services.enrollments_decide(program=program, enrollment_ids=[late.pk], decision=ES.APPROVED, by=hr_user)

    rematch = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert list(Pair.objects.filter(match_run=rematch).values_list("mentor_id", "mentee_id")) == [(spare_mentor.pk, late.pk)]
    pairing_services.match_run_publish(run=rematch, by=hr_user)
    live.refresh_from_db()
    assert live.status == Pair.Status.ACTIVE and live.match_run == first_run
    assert Pair.objects.get(mentee=late).status == Pair.Status.ACTIVE


# --- HR's pages ----------------------------------------------------------------------------------


def invite(client, program, **data):
    return client.post(reverse("program_invite", args=[program.pk]), {"role": "mentor", "invite": "1", **data})


def test_hr_invites_late_joiners_from_a_running_program(hr_client, deliver_outbox):
    program = running(name="Digital habits")
    junior = EmployeeFactory(level=2, email="late@acme.example", first_name="Lia", last_name="Late")
    detail = hr_client.get(reverse("program_detail", args=[program.pk])).content.decode()
    assert "Invite late joiners" in detail

    page = hr_client.get(reverse("program_invite", args=[program.pk])).content.decode()
    assert "people you invite now are late joiners" in page
    assert f'value="{days(services.LATE_APPLY_DAYS).isoformat()}"' in page  # a default last day, two weeks out

    missing = invite(hr_client, program, emails="late@acme.example")
    assert missing.status_code == 200 and "Choose the last day to apply." in missing.content.decode()
    assert "late@acme.example" in missing.content.decode()  # what was typed is kept
    past = invite(hr_client, program, emails="late@acme.example", apply_by=days(-2).isoformat())
    assert "The last day to apply cannot be in the past." in past.content.decode()
    assert not program.enrollments.exists()

    done = invite(hr_client, program, emails="late@acme.example", apply_by=days(9).isoformat())
    body = done.content.decode()
    assert "1 invitation sent." in messages_of(done) and "Lia Late" in body and "re-match the remaining pool" in body
    assert Enrollment.objects.get(employee=junior).apply_by == days(9)
    deliver_outbox()
    assert "Digital habits" in mail.outbox[0].subject and f"apply by {date_format(days(9))}" in mail.outbox[0].body


def test_the_preview_says_who_gets_an_earlier_invitation_again(hr_client):
    program = running()
    earlier = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, employee=EmployeeFactory(level=2, email="earlier@acme.example"))
    response = hr_client.post(reverse("program_invite", args=[program.pk]), {"role": "mentor", "preview": "1", "emails": "earlier@acme.example", "apply_by": days(5).isoformat()})
    body = response.content.decode()
    assert "1 person would be invited." in body and "invited before: sent again" in body
    earlier.refresh_from_db()
    assert earlier.apply_by is None  # a preview writes nothing


def test_the_pairing_page_points_to_late_joiners_and_waiting_applications(hr_client):
    program = running()
    EnrollmentFactory(program=program, role="mentee", status=ES.APPLIED)
    page = hr_client.get(reverse("pairing_home", args=[program.slug])).content.decode()
    assert "invite late joiners" in page and reverse("program_invite", args=[program.pk]) in page
    assert "1 application is waiting for review" in page and reverse("program_review", args=[program.pk]) + "?status=applied" in page


# --- the late joiner's side ----------------------------------------------------------------------


def test_a_late_joiner_sees_the_invitation_applies_and_can_edit_until_the_day(hr_user):
    program = running(name="Digital habits")
    person = make_person(level=2)
    services.enrollment_invite(program=program, employees=[person.employee], role="mentor", by=hr_user, apply_by=days(6))
    client = client_for(person)

    home = client.get(reverse("participant_home")).content.decode()
    assert f"Apply by {date_format(days(6))}." in home and "Apply now" in home

    form = client.get(reverse("program_apply", args=[program.slug])).content.decode()
    assert f"apply by {date_format(days(6))}" in form
    response = client.post(reverse("program_apply", args=[program.slug]), application(program))
    assert response.status_code == 302
    assert any("included in the next pairing round, and you get an email when you are paired" in m for m in messages_of(response))
    enrollment = Enrollment.objects.get(program=program, employee=person.employee)
    assert enrollment.status == ES.APPLIED

    home = client.get(reverse("participant_home")).content.decode()
    assert f"You can change it until {date_format(days(6))}." in home and "Edit my application" in home


def test_an_expired_late_invitation_says_so_and_takes_nothing(hr_user):
    program = running()
    person = make_person(level=2)
    EnrollmentFactory(program=program, employee=person.employee, role="mentor", status=ES.INVITED, apply_by=days(-1))
    client = client_for(person)
    home = client.get(reverse("participant_home")).content.decode()
    assert f"Your invitation to join was open until {date_format(days(-1))}. Ask HR" in home and "Apply now" not in home
    page = client.get(reverse("program_apply", args=[program.slug])).content.decode()
    assert f"Your invitation to join was open until {date_format(days(-1))}." in page
    client.post(reverse("program_apply", args=[program.slug]), application(program))
    assert Enrollment.objects.get(employee=person.employee).status == ES.INVITED


# --- reminders -----------------------------------------------------------------------------------


def test_an_unanswered_late_invitation_is_reminded_once_before_its_last_day(deliver_outbox):
    program = running()
    now = timezone.now()
    soon = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=1), apply_by=days(2))
    fresh = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=1), apply_by=days(10))
    week_old = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=6), apply_by=days(10))
    EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=9), apply_by=days(-1))  # expired
    EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=60))  # from enrollment time

    reminders.reminders_sweep()
    owed = set(Reminder.objects.filter(kind="invitation_unanswered").values_list("recipient_id", flat=True))
    assert owed == {soon.employee_id, week_old.employee_id} and fresh.employee_id not in owed
    assert reminders.reminders_sweep() == 0

    reminders.reminders_send_due()
    deliver_outbox()
    to_soon = next(m for m in mail.outbox if m.to == [soon.employee.email])
    assert f"open until {date_format(days(2))}" in to_soon.body and reverse("program_apply", args=[program.slug]) in to_soon.body


def test_a_late_invitation_reminder_is_not_sent_once_the_day_has_passed():
    program = running()
    invited = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=timezone.now() - datetime.timedelta(days=6), apply_by=days(1))
    reminders.reminders_sweep()
    assert Reminder.objects.filter(kind="invitation_unanswered", recipient_id=invited.employee_id).exists()
    Enrollment.objects.filter(pk=invited.pk).update(apply_by=days(-1))  # the sender ran late, after the last day
    reminders.reminders_send_due()
    assert Reminder.objects.get(kind="invitation_unanswered").status == "cancelled"


# --- from the review of this feature ----------------------------------------------------------------


def test_a_last_day_lasts_until_midnight_where_the_person_is(monkeypatch):
    """apply_by is a calendar day: 10 December ends at midnight in the invitee's own zone."""
    import datetime as dt

    program = running(ends_on=dt.date(2027, 6, 30), enrollment_opens_on=dt.date(2026, 9, 1), enrollment_closes_on=dt.date(2026, 9, 20), starts_on=dt.date(2026, 10, 1))
    instant = dt.datetime(2026, 12, 10, 20, 0, tzinfo=dt.UTC)  # noon in Los Angeles, 05:00 on the 11th in Tokyo
    monkeypatch.setattr(timezone, "now", lambda: instant)
    west = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, apply_by=dt.date(2026, 12, 10), time_zone="America/Los_Angeles")
    east = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, apply_by=dt.date(2026, 12, 10), time_zone="Asia/Tokyo")
    assert west.late_window_open() and not east.late_window_open()
    assert services.eligibility_problems(program=program, employee=west.employee, role="mentor", enrollment=west) == []
    assert "was open until" in services.eligibility_problems(program=program, employee=east.employee, role="mentor", enrollment=east)[0]


def test_renewing_keeps_the_role_it_was_sent_for(hr_user):
    program = running(mentor_max_level=6, mentee_min_level=5)  # bands overlap: level 5 or 6 can be either
    earlier = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, employee=EmployeeFactory(level=5))
    result = services.enrollment_invite(program=program, employees=[earlier.employee], role="mentee", by=hr_user, apply_by=days(7))
    assert result.invited == [] and result.skipped == [(earlier.employee, "invited earlier as a mentor, not answered")]
    earlier.refresh_from_db()
    assert (earlier.role, earlier.apply_by) == ("mentor", None)


def test_a_late_joiner_whose_day_passed_after_applying_is_told_it_waits_for_review(hr_user):
    program = running()
    person = make_person(level=2)
    EnrollmentFactory(program=program, employee=person.employee, role="mentor", status=ES.APPLIED, apply_by=days(-1))
    page = client_for(person).get(reverse("program_apply", args=[program.slug])).content.decode()
    assert "Your application is waiting for HR&#x27;s review" in page and "the last day to change it was" in page
    assert "Ask HR if you would still like to join" not in page


def test_applying_after_hr_decided_says_it_was_reviewed_not_that_enrollment_closed(hr_user):
    program = running()
    employee = EmployeeFactory(level=2)
    approved = EnrollmentFactory(program=program, employee=employee, role="mentor", status=ES.APPROVED, apply_by=days(3))
    with pytest.raises(ProgramError, match="HR has already reviewed your application"):
        services.enrollment_apply(program=program, employee=employee, application=services.Application(role="mentor", topic_levels={program.topics.first().pk: 3}))
    approved.refresh_from_db()
    assert approved.status == ES.APPROVED


def test_an_end_moved_earlier_shortens_what_the_invitee_is_told(hr_user):
    program = running(ends_on=days(60))
    person = make_person(level=2)
    EnrollmentFactory(program=program, employee=person.employee, role="mentor", status=ES.INVITED, apply_by=days(20))
    Program.objects.filter(pk=program.pk).update(ends_on=days(10))
    home = client_for(person).get(reverse("participant_home")).content.decode()
    assert f"Apply by {date_format(days(9))}." in home and date_format(days(20)) not in home


def test_invite_buttons_only_while_late_joiners_can_be_taken(hr_client):
    over = running(ends_on=days(0))
    assert "Invite late joiners" not in hr_client.get(reverse("program_detail", args=[over.pk])).content.decode()
    assert "invite late joiners" not in hr_client.get(reverse("pairing_home", args=[over.slug])).content.decode()
    EnrollmentFactory(program=ProgramFactory(), role="mentee", status=ES.APPLIED)  # enrollment open: the queue says so itself
    open_program = Enrollment.objects.get(status=ES.APPLIED).program
    assert "waiting for review" not in hr_client.get(reverse("pairing_home", args=[open_program.slug])).content.decode()


def test_a_renewed_invitation_is_reminded_again_but_never_on_the_heels_of_the_invitation(hr_user):
    program = running()
    now = timezone.now()
    person = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, invited_at=now - datetime.timedelta(days=6), apply_by=days(10))
    reminders.reminders_sweep()
    assert Reminder.objects.filter(kind="invitation_unanswered").count() == 1

    # HR sends it again with a short window: nothing at once, one reminder a day later.
    services.enrollment_invite(program=program, employees=[person.employee], role="mentor", by=hr_user, apply_by=days(2))
    assert reminders.reminders_sweep() == 0
    Enrollment.objects.filter(pk=person.pk).update(invited_at=now - datetime.timedelta(days=1, minutes=1))
    assert reminders.reminders_sweep() == 1
    newest = Reminder.objects.filter(kind="invitation_unanswered").latest("pk")
    assert newest.context["apply_by"] == days(2).isoformat()
    # The first reminder (for day +10) is no longer what the invitation says: it is not sent.
    reminders.reminders_send_due()
    statuses = dict(Reminder.objects.filter(kind="invitation_unanswered").values_list("pk", "status"))
    assert statuses[newest.pk] == "sent" and sorted(statuses.values()) == ["cancelled", "sent"]


def test_invitation_reminders_stop_when_the_program_moves_on():
    late_program = running()
    late = EnrollmentFactory(program=late_program, role="mentor", status=ES.INVITED, invited_at=timezone.now() - datetime.timedelta(days=6), apply_by=days(5))
    open_program = ProgramFactory(enrollment_closes_on=days(20))
    early = EnrollmentFactory(program=open_program, role="mentor", status=ES.INVITED, invited_at=timezone.now() - datetime.timedelta(days=6))
    reminders.reminders_sweep()
    assert set(Reminder.objects.values_list("recipient_id", flat=True)) == {late.employee_id, early.employee_id}
    Program.objects.filter(pk=late_program.pk).update(status=S.COMPLETED)
    Program.objects.filter(pk=open_program.pk).update(status=S.MATCHING)  # "enrollment is open until ..." would be wrong now
    reminders.reminders_send_due()
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}


# --- from the browser QA pass -------------------------------------------------------------------


def test_sending_the_same_late_invitation_twice_sends_one_email(hr_client, deliver_outbox):
    """A reload of the result page (the browser posts again) or a double click."""
    program = running()
    EmployeeFactory(level=2, email="twice@acme.example")
    first = invite(hr_client, program, emails="twice@acme.example", apply_by=days(9).isoformat())
    again = invite(hr_client, program, emails="twice@acme.example", apply_by=days(9).isoformat())
    assert "1 invitation sent." in messages_of(first) and "No invitation sent: the page lists why." in messages_of(again)
    assert f"already invited, to apply by {date_format(days(9))}" in again.content.decode()
    assert deliver_outbox() == 1


def test_skipped_people_are_told_apart_by_where_they_stand(hr_user):
    program = running()
    declined = EnrollmentFactory(program=program, role="mentor", status=ES.DECLINED, employee=EmployeeFactory(level=2))
    withdrawn = EnrollmentFactory(program=program, role="mentor", status=ES.WITHDRAWN, employee=EmployeeFactory(level=2))
    waiting = EnrollmentFactory(program=program, role="mentor", status=ES.WAITLISTED, employee=EmployeeFactory(level=2))
    result = services.enrollment_invite(program=program, employees=[declined.employee, withdrawn.employee, waiting.employee], role="mentor", by=hr_user, apply_by=days(5))
    reasons = {e.pk: why for e, why in result.skipped}
    assert reasons[declined.employee_id].startswith("declined earlier")
    assert reasons[withdrawn.employee_id] == "left this program or declined the invitation"
    assert reasons[waiting.employee_id] == "on the waiting list"


def test_invite_pages_say_what_comes_next_for_the_programs_state(hr_client):
    matching = running(status=S.MATCHING, starts_on=days(10), enrollment_closes_on=days(-2))
    page = hr_client.get(reverse("program_invite", args=[matching.pk])).content.decode()
    assert "the next “Run matching” on the pairing page includes them" in page and "Re-match the remaining pool" not in page
    field = page.split('name="apply_by"')[1].split(">")[0]
    # Tomorrow at the earliest: today is already over where some invitees are.
    assert f'min="{days(1).isoformat()}"' in field and f'max="{(matching.ends_on - datetime.timedelta(days=1)).isoformat()}"' in field
    pairing = hr_client.get(reverse("pairing_home", args=[matching.slug])).content.decode()
    assert reverse("program_invite", args=[matching.pk]) in pairing

    done = running(status=S.COMPLETED)
    refused = hr_client.get(reverse("program_invite", args=[done.pk])).content.decode()
    assert refused.count("it takes no new people") == 1 and "is completed." not in refused


def test_the_review_queue_shows_a_late_invitations_last_day(hr_client):
    program = running()
    EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, apply_by=days(4))
    page = hr_client.get(reverse("program_review", args=[program.pk])).content.decode()
    assert f"late invitation: apply by {date_format(days(4))}" in page


def test_the_late_joiners_own_pages_follow_them_from_invitation_to_pair(hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    program = ProgramFactory(status=S.MATCHING, min_score=0, enrollment_closes_on=days(-5), starts_on=days(-1), enrollment_opens_on=days(-20))
    person = make_person(level=7)
    services.enrollment_invite(program=program, employees=[person.employee], role="mentee", by=hr_user, apply_by=days(3))
    client = client_for(person)
    form = client.get(reverse("program_apply", args=[program.slug])).content.decode()
    sidebar = form.split("About this program")[-1] if "About this program" in form else form
    assert date_format(days(3)) in sidebar and date_format(program.enrollment_closes_on) not in sidebar

    client.post(reverse("program_apply", args=[program.slug]), application(program))
    enrollment = Enrollment.objects.get(employee=person.employee)
    services.enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision=ES.APPROVED, by=hr_user)
    home = client.get(reverse("participant_home")).content.decode()
    assert "HR is pairing people now; you get an email when you are paired." in home and "Pairing happens after enrollment closes" not in home

    mentor(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    deliver_outbox()
    mail.outbox.clear()
    pairing_services.match_run_publish(run=run, by=hr_user)
    deliver_outbox()
    to_them = next(m for m in mail.outbox if m.to == [person.email])
    assert "The program is under way; it runs until" in to_them.body and "The program starts on" not in to_them.body
    blocked = client.get(reverse("program_apply", args=[program.slug])).content.decode()
    assert "you are paired: your partner and what is due are on your home page" in blocked


# --- from the second browser QA pass --------------------------------------------------------------


def test_the_last_day_is_tomorrow_at_the_earliest_and_a_renewal_says_so(hr_user, deliver_outbox):
    program = running()
    junior = EmployeeFactory(level=2)
    with pytest.raises(ProgramError, match="tomorrow or later"):
        services.enrollment_invite(program=program, employees=[junior], role="mentor", by=hr_user, apply_by=days(0))
    assert services.late_apply_by_default(program) >= days(1)
    earlier = EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, employee=EmployeeFactory(level=2), apply_by=days(-2))
    services.enrollment_invite(program=program, employees=[junior, earlier.employee], role="mentor", by=hr_user, apply_by=days(1))
    deliver_outbox()
    body = {m.to[0]: m.body for m in mail.outbox}
    assert "sent your earlier invitation again, with a new last day" in body[earlier.employee.email]
    assert "earlier invitation" not in body[junior.email]


def test_the_queue_marks_a_late_invitation_whose_day_has_passed(hr_client):
    program = running()
    EnrollmentFactory(program=program, role="mentor", status=ES.INVITED, apply_by=days(-3))
    page = hr_client.get(reverse("program_review", args=[program.pk])).content.decode()
    assert f"late invitation: closed on {date_format(days(-3))} (invite again to reopen it)" in page


def test_a_waiting_application_is_not_told_it_may_be_a_mistake(hr_user):
    program = running()
    person = make_person(level=2)
    EnrollmentFactory(program=program, employee=person.employee, role="mentor", status=ES.APPLIED, apply_by=days(-1))
    page = client_for(person).get(reverse("program_apply", args=[program.slug])).content.decode()
    assert "the last day to change it was" in page and "If you think this is a mistake" not in page
    assert "(your invitation)" in page
    Enrollment.objects.filter(employee=person.employee).update(status=ES.APPROVED)
    assert "(your invitation)" not in client_for(person).get(reverse("program_apply", args=[program.slug])).content.decode()


def test_declining_an_invitation_is_not_leaving_a_program(hr_user):
    program = running()
    person = make_person(level=2)
    EnrollmentFactory(program=program, employee=person.employee, role="mentor", status=ES.INVITED, apply_by=days(5))
    client = client_for(person)
    enrollment = Enrollment.objects.get(employee=person.employee)
    page = client.get(reverse("enrollment_withdraw", args=[enrollment.pk])).content.decode()
    assert "Decline the invitation to" in page and "Why are you leaving?" not in page and "the pair ends" not in page
    response = client.post(reverse("enrollment_withdraw", args=[enrollment.pk]), {"reason": ""}, follow=True)  # no reason owed
    assert f"You declined the invitation to {program.name}." in messages_of(response)
    enrollment.refresh_from_db()
    assert enrollment.status == ES.WITHDRAWN


@pytest.mark.parametrize("ends_in", [0, 1, 2])
def test_the_invite_button_and_the_invite_page_agree_near_the_end(hr_client, ends_in):
    program = running(ends_on=days(ends_in))
    button = "Invite late joiners" in hr_client.get(reverse("program_detail", args=[program.pk])).content.decode()
    page = hr_client.get(reverse("program_invite", args=[program.pk])).content.decode()
    assert button == (ends_in == 2) == ('name="apply_by"' in page)
