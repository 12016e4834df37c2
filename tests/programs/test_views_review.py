"""Invitations and the HR review queue."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from programs.models import Enrollment, Program
from mentoring.models import Role
from tests.factories import DepartmentFactory, EmployeeFactory, EnrollmentFactory, ProgramFactory, make_person

pytestmark = pytest.mark.django_db

ES = Enrollment.Status


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def invite(client, program, **data):
    return client.post(reverse("program_invite", args=[program.pk]), {"role": "mentor", "invite": "1", **data})


# --- Invitations ---------------------------------------------------------------------------------


def test_invite_by_department_sends_emails_after_commit_and_reports_skipped(hr_client, django_capture_on_commit_callbacks):
    program = ProgramFactory(name="Digital habits")
    sales = DepartmentFactory(name="Sales")
    junior = EmployeeFactory(department=sales, level=2, first_name="Ada", last_name="Junior")
    senior = EmployeeFactory(department=sales, level=8, first_name="Bob", last_name="Senior")
    EmployeeFactory(department=DepartmentFactory(name="Legal"), level=2, first_name="Cy", last_name="Elsewhere")
    EmployeeFactory(department=sales, level=2, left_date="2024-01-01", first_name="Di", last_name="Gone")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = invite(hr_client, program, department=sales.pk, message="We would love to have you.")

    assert response.status_code == 200
    assert list(program.enrollments.values_list("employee_id", "role", "status")) == [(junior.pk, "mentor", ES.INVITED)]
    body = response.content.decode()
    assert "Ada Junior" in body and "Bob Senior" in body and "Mentors in this program are at level 3 or below" in body
    assert "Cy Elsewhere" not in body and "Di Gone" not in body  # other department, leaver: not selected
    assert "1 invitation sent." in messages_of(response)
    assert callbacks, "delivery is nudged only once the invitations are committed"
    assert [m.to for m in mail.outbox] == [[junior.email]]
    assert "Digital habits" in mail.outbox[0].subject
    assert "We would love to have you." in mail.outbox[0].body
    assert reverse("program_apply", args=[program.slug]) in mail.outbox[0].body


@pytest.mark.parametrize("button", ["preview", "invite"])
def test_pasted_lines_that_are_no_address_are_told_apart_from_addresses_not_in_the_directory(hr_client, button):
    program = ProgramFactory()
    ada = EmployeeFactory(level=2, first_name="Ada", last_name="Known")
    response = hr_client.post(
        reverse("program_invite", args=[program.pk]), {"role": "mentor", button: "1", "emails": f"{ada.email}\nnot-an-email\nghost@example.com"}
    )
    body = response.content.decode()
    no_address = body.index("Not email addresses")
    missing = body.index("Not in the directory")
    assert body.index("not-an-email", no_address) < missing  # listed under the first heading
    assert "ghost@example.com" in body[missing:] and "ghost@example.com" not in body[no_address:missing]
    assert "Ada Known" in body


def test_invite_by_level_range(hr_client, deliver_outbox):
    program = ProgramFactory()
    people = {level: EmployeeFactory(level=level) for level in (5, 7, 8, 10)}
    response = invite(hr_client, program, role="mentee", level_min=7, level_max=8)
    assert response.status_code == 200
    invited = set(program.enrollments.values_list("employee__level", flat=True))
    assert invited == {7, 8}
    assert set(program.enrollments.values_list("role", flat=True)) == {"mentee"}
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([people[7].email, people[8].email])


def test_an_invitation_tells_someone_without_a_login_how_to_get_one(hr_client, deliver_outbox):
    program = ProgramFactory()
    newcomer = EmployeeFactory(level=2)
    regular = make_person(roles=[Role.PARTICIPANT], level=2)
    invite(hr_client, program, emails=f"{newcomer.email}\n{regular.email}")
    deliver_outbox()
    body = {m.to[0]: m.body for m in mail.outbox}
    assert "First time on Upward? Choose \"Sign up\"" in body[newcomer.email] and newcomer.email in body[newcomer.email]
    assert "First time on Upward" not in body[regular.email]


def test_invite_by_pasted_emails_reports_unknown_ones(hr_client, deliver_outbox):
    program = ProgramFactory()
    ada = EmployeeFactory(level=2, email="ada@acme.example")
    bea = EmployeeFactory(level=1, email="Bea.Mixed@acme.example")
    already = EnrollmentFactory(program=program, role="mentor").employee
    pasted = f"ada@acme.example, bea.mixed@ACME.example\nnobody@acme.example;\n{already.email}\nnot-an-email"

    response = invite(hr_client, program, emails=pasted)

    assert set(program.enrollments.filter(status=ES.INVITED).values_list("employee_id", flat=True)) == {ada.pk, bea.pk}
    result = response.context["result"]
    assert result.unknown_emails == ["nobody@acme.example", "not-an-email"]
    assert [(e.pk, why) for e, why in result.skipped] == [(already.pk, "already applied")]
    body = response.content.decode()
    assert "nobody@acme.example" in body and "already applied" in body
    assert deliver_outbox() == 2


def test_preview_shows_who_would_be_invited_without_inviting(hr_client):
    program = ProgramFactory()
    dept = DepartmentFactory(name="Ops")
    EmployeeFactory(department=dept, level=2, first_name="Pre", last_name="View")
    senior = EmployeeFactory(department=dept, level=9, first_name="Too", last_name="Senior")
    namesake = EmployeeFactory(department=dept, level=9, first_name="Too", last_name="Senior")
    response = hr_client.post(reverse("program_invite", args=[program.pk]), {"role": "mentor", "department": dept.pk, "preview": "1"})
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [e.full_name for e in preview["invitable"]] == ["Pre View"]
    assert [e.full_name for e, _ in preview["skipped"]] == ["Too Senior", "Too Senior"]
    # Two people with one name are told apart by their address.
    body = response.content.decode()
    assert f"Too Senior <span class=\"text-body-secondary\">· {senior.email}" in body and f"· {namesake.email}" in body
    assert not program.enrollments.exists() and not mail.outbox


def test_invite_needs_someone_to_invite(hr_client):
    program = ProgramFactory()
    response = invite(hr_client, program)
    assert response.status_code == 200
    assert "Choose a department or a level range, or paste email addresses." in response.content.decode()
    reversed_range = invite(hr_client, program, level_min=7, level_max=3)
    assert "The highest level must be at least the lowest level." in reversed_range.content.decode()


def test_invite_refused_unless_enrollment_is_open(hr_client):
    program = ProgramFactory(status=Program.Status.DRAFT)
    EmployeeFactory(level=2, email="early@acme.example")
    page = hr_client.get(reverse("program_invite", args=[program.pk])).content.decode()
    assert "Invitations can be sent while enrollment is open, and to late joiners" in page
    response = invite(hr_client, program, emails="early@acme.example")
    assert "Open enrollment before inviting people." in response.content.decode()
    assert not program.enrollments.exists()


# --- Review queue --------------------------------------------------------------------------------


def review(client, program, **params):
    return client.get(reverse("program_review", args=[program.pk]), params)


def decide(client, program, enrollments, decision, message="", query=""):
    url = reverse("program_review_decide", args=[program.pk]) + (f"?{query}" if query else "")
    return client.post(url, {"enrollment": [e.pk for e in enrollments], "decision": decision, "message": message})


def test_review_shows_answers_and_counts(hr_client):
    program = ProgramFactory()
    mentor = EnrollmentFactory(program=program, role="mentor", interests=["chess", "podcasts"], languages=["English", "Welsh"], motivation="I want to share what I know.")
    EnrollmentFactory(program=program, role="mentee", status=ES.WAITLISTED)
    response = review(hr_client, program)
    assert response.status_code == 200
    body = response.content.decode()
    assert mentor.employee.full_name in body
    assert "chess, podcasts" in body and "English, Welsh" in body and "I want to share what I know." in body
    assert "AI tools" in body and "teaches" in body and "2 two-hour blocks a week" in body
    counts = {value: row["total"] for value, _label, row in response.context["status_counts"]}
    assert counts[ES.APPLIED] == 1 and counts[ES.WAITLISTED] == 1 and counts[ES.APPROVED] == 0


def test_review_never_shows_the_please_not_with_list(hr_client):
    program = ProgramFactory()
    secret = EmployeeFactory(first_name="Zebulon", last_name="Quixotic-Secret", email="zebulon.secret@acme.example")
    enrollment = EnrollmentFactory(program=program, role="mentee")
    enrollment.not_with.set([secret])
    body = review(hr_client, program).content.decode()
    assert enrollment.employee.full_name in body
    assert "Quixotic-Secret" not in body and "zebulon.secret" not in body and "Zebulon" not in body


def test_review_filters(hr_client):
    program = ProgramFactory()
    finance = DepartmentFactory(name="Finance")
    mentor = EnrollmentFactory(program=program, role="mentor", employee__department=finance, employee__level=1)
    mentee = EnrollmentFactory(program=program, role="mentee", status=ES.APPROVED)
    other_mentor = EnrollmentFactory(program=program, role="mentor", employee__level=3)

    def names(**params):
        return {e.pk for e in review(hr_client, program, **params).context["page"].object_list}

    assert names() == {mentor.pk, mentee.pk, other_mentor.pk}
    assert names(role="mentor") == {mentor.pk, other_mentor.pk}
    assert names(status=ES.APPROVED) == {mentee.pk}
    assert names(department=finance.pk) == {mentor.pk}
    assert names(level=3) == {other_mentor.pk}
    assert names(role="mentee", status=ES.APPLIED) == set()
    assert "No applications match these filters" in review(hr_client, program, role="mentee", status=ES.APPLIED).content.decode()


def test_review_only_lists_this_programs_enrollments(hr_client):
    program = ProgramFactory()
    elsewhere = EnrollmentFactory(program=ProgramFactory())
    body = review(hr_client, program).content.decode()
    assert elsewhere.employee.full_name not in body and "No applications yet" in body


@pytest.mark.parametrize(
    ("decision", "subject_word"),
    [(ES.APPROVED, "You're in"), (ES.WAITLISTED, ""), (ES.DECLINED, "")],
)
def test_bulk_decisions_change_status_and_email_each_person(hr_client, hr_user, deliver_outbox, decision, subject_word):
    program = ProgramFactory(name="Bulk program")
    chosen = EnrollmentFactory.create_batch(2, program=program, role="mentor")
    untouched = EnrollmentFactory(program=program, role="mentee")

    response = decide(hr_client, program, chosen, decision, message="Welcome aboard, see you soon.", query="role=mentor")

    assert response.status_code == 302 and response["Location"] == reverse("program_review", args=[program.pk]) + "?role=mentor"
    for enrollment in chosen:
        enrollment.refresh_from_db()
        assert (enrollment.status, enrollment.decided_by, enrollment.decision_message) == (decision, hr_user, "Welcome aboard, see you soon.")
    untouched.refresh_from_db()
    assert untouched.status == ES.APPLIED
    assert any("2 applications" in m for m in messages_of(response))
    assert deliver_outbox() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.employee.email for e in chosen)
    assert all("Welcome aboard, see you soon." in m.body and subject_word in m.subject for m in mail.outbox)


def test_decision_reports_people_whose_status_does_not_allow_it(hr_client):
    program = ProgramFactory()
    applied = EnrollmentFactory(program=program)
    invited = EnrollmentFactory(program=program, status=ES.INVITED)
    response = decide(hr_client, program, [applied, invited], ES.APPROVED)
    invited.refresh_from_db()
    assert invited.status == ES.INVITED
    assert any("1 application approved" in m and "1 left as it was" in m for m in messages_of(response))


def test_decision_cannot_reach_another_programs_enrollment(hr_client):
    program = ProgramFactory()
    foreign = EnrollmentFactory(program=ProgramFactory())
    response = decide(hr_client, program, [foreign], ES.DECLINED)
    foreign.refresh_from_db()
    assert foreign.status == ES.APPLIED and response.status_code == 302
    assert not mail.outbox


def test_decision_without_selection_says_so(hr_client):
    program = ProgramFactory()
    response = hr_client.post(reverse("program_review_decide", args=[program.pk]), {"decision": ES.APPROVED})
    assert "Select at least one application first." in messages_of(response)


def test_reopen_a_declined_application(hr_client):
    program = ProgramFactory()
    declined = EnrollmentFactory(program=program, status=ES.DECLINED)
    assert "Reopen" in review(hr_client, program).content.decode()

    response = hr_client.post(reverse("enrollment_reopen", args=[program.pk, declined.pk]) + "?status=declined")

    assert response.status_code == 302 and response["Location"].endswith("?status=declined")
    declined.refresh_from_db()
    assert declined.status == ES.APPLIED
    again = hr_client.post(reverse("enrollment_reopen", args=[program.pk, declined.pk]))
    assert "Only a declined application can be reopened." in messages_of(again)


def test_reopen_access(client, hr_client, participant_client):
    program = ProgramFactory()
    declined = EnrollmentFactory(program=ProgramFactory(), status=ES.DECLINED)
    url_elsewhere = reverse("enrollment_reopen", args=[program.pk, declined.pk])
    assert hr_client.post(url_elsewhere).status_code == 404  # wrong program in the URL
    own_url = reverse("enrollment_reopen", args=[declined.program_id, declined.pk])
    assert hr_client.get(own_url).status_code == 405
    assert participant_client.post(own_url).status_code == 403
    assert client.post(own_url).status_code == 302
    declined.refresh_from_db()
    assert declined.status == ES.DECLINED


def test_archived_program_review_is_read_only(hr_client):
    program = ProgramFactory(status=Program.Status.ARCHIVED)
    enrollment = EnrollmentFactory(program=program, status=ES.DECLINED)
    body = review(hr_client, program).content.decode()
    assert enrollment.employee.full_name in body
    assert 'name="decision"' not in body and "Reopen" not in body
    response = decide(hr_client, program, [enrollment], ES.APPROVED)
    assert "This program is archived and read-only." in messages_of(response)
    enrollment.refresh_from_db()
    assert enrollment.status == ES.DECLINED


def test_completed_program_review_is_a_record(hr_client, deliver_outbox):
    """QA: the Reopen link and Approve still worked on a completed program, and emailed the person."""
    program = ProgramFactory(status=Program.Status.COMPLETED, name="Digital habits")
    declined = EnrollmentFactory(program=program, status=ES.DECLINED)
    body = review(hr_client, program, status=ES.DECLINED).content.decode()
    assert declined.employee.full_name in body
    assert 'name="decision"' not in body and "Reopen" not in body and 'name="enrollment"' not in body
    assert "This program is completed: its applications are final" in body

    response = hr_client.post(reverse("enrollment_reopen", args=[program.pk, declined.pk]) + "?status=declined")
    assert response.status_code == 302 and response["Location"].endswith("?status=declined")
    assert messages_of(response) == ["This program is completed: its applications are final and can no longer be approved, waitlisted, declined or reopened."]
    response = decide(hr_client, program, [declined], ES.APPROVED)
    assert "This program is completed: its applications are final" in messages_of(response)[0]
    declined.refresh_from_db()
    assert declined.status == ES.DECLINED
    assert deliver_outbox() == 0


def test_review_queue_query_count_does_not_grow(hr_client, django_assert_max_num_queries):
    program = ProgramFactory()
    for _ in range(3):
        EnrollmentFactory(program=program, role="mentor").not_with.set([EmployeeFactory()])
    with django_assert_max_num_queries(25) as small:
        assert review(hr_client, program).status_code == 200
    for _ in range(20):
        EnrollmentFactory(program=program, role="mentee")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = review(hr_client, program)
    assert len(response.context["page"].object_list) == 23


def test_the_queue_shows_why_a_person_withdrew_and_when(hr_client, django_assert_max_num_queries):
    import datetime

    from django.utils import timezone

    program = ProgramFactory()
    left = EnrollmentFactory(program=program, role="mentee", status=ES.WITHDRAWN, withdrawn_at=timezone.now() - datetime.timedelta(days=2), withdrawal_reason="qz-reason-4410 Moving teams\nback in autumn")
    EnrollmentFactory(program=program, role="mentor", status=ES.APPROVED, withdrawal_reason="qz-stale-reason")  # rejoined since: not a withdrawal
    assert "qz-stale-reason" not in review(hr_client, program).content.decode()
    with django_assert_max_num_queries(25) as few:
        response = review(hr_client, program, status="withdrawn")
    few = len(few.captured_queries)  # read now: the next request resets the connection's log
    body = response.content.decode()
    row = body[body.index(left.employee.full_name) :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="withdrawal-reason"' in row and "qz-reason-4410 Moving teams<br>back in autumn" in row
    assert re.search(r"left \d", row)  # and when
    for _ in range(10):
        EnrollmentFactory(program=program, role="mentor", status=ES.WITHDRAWN, withdrawn_at=timezone.now(), withdrawal_reason="Workload")
    with django_assert_max_num_queries(few):
        assert review(hr_client, program, status="withdrawn").content.decode().count('data-testid="withdrawal-reason"') == 11


def test_review_paginates(hr_client):
    program = ProgramFactory()
    EnrollmentFactory.create_batch(27, program=program)
    first = review(hr_client, program)
    assert len(first.context["page"].object_list) == 25 and "Page 1 of 2" in first.content.decode()
    assert len(review(hr_client, program, page=2).context["page"].object_list) == 2


def test_django_admin_is_read_only_and_hides_the_please_not_with_list(client):
    from mentoring.models import User

    from tests.auth_helpers import login_with_mfa

    admin_user = User.objects.create_superuser(email="root@acme.example", password="x-very-long-password")
    login_with_mfa(client, admin_user)  # the admin needs the second factor too
    secret = EmployeeFactory(first_name="Zebulon", last_name="Quixotic-Secret")
    enrollment = EnrollmentFactory()
    enrollment.not_with.set([secret])
    page = client.get(reverse("admin:programs_enrollment_change", args=[enrollment.pk]))
    assert page.status_code == 200
    assert "Quixotic-Secret" not in page.content.decode()
    assert client.get(reverse("admin:programs_program_add")).status_code == 403


def test_a_leaver_is_marked_in_the_queue_and_not_approved_while_the_others_are(hr_client, deliver_outbox):
    import datetime

    from django.utils import timezone

    program = ProgramFactory()
    leaver = EnrollmentFactory(program=program, employee__first_name="Lee", employee__last_name="Gone", employee__left_date=datetime.date(2026, 3, 2))
    leaving = EnrollmentFactory(program=program, employee__left_date=timezone.localdate() + datetime.timedelta(days=10))
    staying = EnrollmentFactory(program=program)
    body = review(hr_client, program).content.decode()
    assert "left the company on 2 Mar 2026" in body and "leaves the company on" in body

    response = decide(hr_client, program, [leaver, leaving, staying], ES.APPROVED)

    assert [ES(e.status) for e in Enrollment.objects.filter(pk__in=[leaver.pk, leaving.pk, staying.pk]).order_by("pk")] == [ES.APPLIED, ES.APPLIED, ES.APPROVED]
    [text] = messages_of(response)
    assert text.startswith("1 application approved; the person has been told by email.")
    assert "Lee Gone" in text and "have left the company and cannot be approved" in text
    assert deliver_outbox() == 1 and mail.outbox[0].to == [staying.employee.email]


def test_approving_someone_who_only_was_invited_says_why_and_claims_no_email(hr_client):
    program = ProgramFactory()
    invited = EnrollmentFactory(program=program, status=ES.INVITED)
    response = decide(hr_client, program, [invited], ES.APPROVED)
    [text] = messages_of(response)
    assert text == "No application approved. 1 left as it was: the person has not applied yet."
    assert not mail.outbox


def test_filtered_count_agrees_with_its_number(hr_client):
    program = ProgramFactory()
    EnrollmentFactory(program=program, role="mentor")
    EnrollmentFactory.create_batch(2, program=program, role="mentee")
    assert "1 application matches these filters" in review(hr_client, program, role="mentor").content.decode()
    assert "2 applications match these filters" in review(hr_client, program, role="mentee").content.decode()
    # The status counts read in the singular too: "(1 mentor, 2 mentees)".
    assert "(1 mentor, 2 mentees)" in review(hr_client, program).content.decode()


def test_a_message_to_the_selected_people_is_capped(hr_client):
    program = ProgramFactory()
    enrollment = EnrollmentFactory(program=program)
    response = decide(hr_client, program, [enrollment], ES.APPROVED, message="x" * 20000)
    assert messages_of(response) == ["The message is 20000 characters long; keep it to 2000 or fewer."]
    enrollment.refresh_from_db()
    assert enrollment.status == ES.APPLIED and not mail.outbox


def test_a_decision_for_all_matching_reaches_every_page_but_not_what_arrived_since(hr_client, deliver_outbox):
    import datetime

    from django.utils import timezone

    program = ProgramFactory()
    loaded = timezone.now()
    mentors = [EnrollmentFactory(program=program, role="mentor", created_at=loaded - datetime.timedelta(days=1), applied_at=loaded - datetime.timedelta(days=1)) for _ in range(30)]
    mentee = EnrollmentFactory(program=program, role="mentee", created_at=loaded - datetime.timedelta(days=1), applied_at=loaded - datetime.timedelta(days=1))
    page = review(hr_client, program, role="mentor").content.decode()
    assert "Apply to all 30 applications matching these filters, on every page" in page  # 25 a page
    assert "all_matching" not in review(hr_client, program, role="mentee").content.decode()  # one page: ticking is enough

    late = EnrollmentFactory(program=program, role="mentor", applied_at=loaded + datetime.timedelta(minutes=1))  # came in after the page loaded
    url = reverse("program_review_decide", args=[program.pk]) + "?role=mentor"
    response = hr_client.post(url, {"all_matching": "1", "decision": "approved", "seen_at": loaded.isoformat()}, follow=True)
    assert "30 applications approved; each person has been told by email." in messages_of(response)[0]
    assert set(program.enrollments.filter(status=ES.APPROVED).values_list("pk", flat=True)) == {m.pk for m in mentors}
    late.refresh_from_db()
    mentee.refresh_from_db()
    assert late.status == ES.APPLIED and mentee.status == ES.APPLIED  # not seen; not matching the filter
    assert deliver_outbox() == 30
    assert response.redirect_chain[-1][0].endswith("?role=mentor")  # back to the same filters


def test_all_matching_needs_nothing_ticked_but_something_to_decide(hr_client):
    program = ProgramFactory()
    EnrollmentFactory(program=program, role="mentor")
    nothing = hr_client.post(reverse("program_review_decide", args=[program.pk]), {"decision": "approved"}, follow=True)
    assert "Select at least one application first." in messages_of(nothing)
    assert program.enrollments.get().status == ES.APPLIED


def test_nobody_paired_is_waitlisted_or_declined_even_by_all_matching(hr_client, hr_user, deliver_outbox):
    from pairing.models import MatchRun, Pair
    from tests.factories import make_active_pair

    program = ProgramFactory(status=Program.Status.ACTIVE)
    live = make_active_pair(program=program)
    free = EnrollmentFactory(program=program, role="mentor", status=ES.APPROVED)
    proposal = MatchRun.objects.create(program=program, status=MatchRun.Status.PROPOSED, started_by=hr_user)
    in_review = EnrollmentFactory(program=program, role="mentor", status=ES.APPROVED)
    Pair.objects.create(program=program, mentor=in_review, mentee=EnrollmentFactory(program=program, role="mentee", status=ES.APPROVED), match_run=proposal, status=Pair.Status.PROPOSED)

    response = hr_client.post(reverse("program_review_decide", args=[program.pk]), {"all_matching": "1", "decision": "waitlisted"}, follow=True)
    text = messages_of(response)[0]
    assert text.startswith("1 application waitlisted") and "4 left as they were: these people are paired" in text
    statuses = dict(program.enrollments.values_list("pk", "status"))
    assert statuses[free.pk] == ES.WAITLISTED
    assert statuses[live.mentor_id] == statuses[live.mentee_id] == statuses[in_review.pk] == ES.APPROVED
    ticked = hr_client.post(reverse("program_review_decide", args=[program.pk]), {"enrollment": [live.mentor_id], "decision": "declined"}, follow=True)
    assert "the person is paired" in messages_of(ticked)[0]
    assert program.enrollments.get(pk=live.mentor_id).status == ES.APPROVED
    assert deliver_outbox() == 1  # only the one waitlisted hears anything


def test_a_bad_filter_value_drops_that_filter_alone(hr_client):
    program = ProgramFactory()
    mentee = EnrollmentFactory(program=program, role="mentee")
    mentor = EnrollmentFactory(program=program, role="mentor")
    page = review(hr_client, program, role="mentee", level="-1").content.decode()
    assert mentee.employee.full_name in page and mentor.employee.full_name not in page  # the role filter still holds
