"""The participant's side: apply, edit, withdraw, the resources checklist and the home page."""

import datetime
import zoneinfo
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from mentoring.models import Role as UserRole
from programs.models import Enrollment, EnrollmentTopic, Program, Resource, ResourceCompletion
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, UserFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db

ES = Enrollment.Status
TODAY = timezone.localdate


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def topics_of(program):
    return list(program.topics.order_by("name"))


def application(program, role=None, **overrides) -> dict:
    first, second = topics_of(program)[:2]
    data = {
        f"topic_{first.pk}": 4,
        f"topic_{second.pk}": "",
        "interests": "chess, podcasts ,",
        "languages": "English, French",
        "availability": ["mon-08", "wed-14", "fri-16"],
        "time_zone": "Europe/Paris",
        "motivation": "I like explaining tools.",
        "not_with": "",
    }
    if role:
        data["role"] = role
    data.update(overrides)
    return data


def apply_url(program) -> str:
    return reverse("program_apply", args=[program.slug])


@pytest.fixture
def open_program():
    return ProgramFactory(self_enrollment=True, name="Open program")


@pytest.fixture
def mentee_user(db):
    return make_person(roles=[UserRole.PARTICIPANT], level=7, title="Director")


# --- Access --------------------------------------------------------------------------------------


def test_apply_page_access(client, executive_client, participant_client, open_program):
    anonymous = client.get(apply_url(open_program))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("account_login"))
    assert executive_client.get(apply_url(open_program)).status_code == 403
    assert participant_client.get(apply_url(open_program)).status_code == 200
    assert participant_client.get(reverse("program_apply", args=["no-such-program"])).status_code == 404


def test_draft_programs_do_not_exist_for_participants(participant_client):
    draft = ProgramFactory(status=Program.Status.DRAFT, self_enrollment=True)
    assert participant_client.get(apply_url(draft)).status_code == 404


def test_login_without_directory_entry_is_told_why(client, open_program):
    user = UserFactory(roles=[UserRole.PARTICIPANT])
    client.force_login(user)
    response = client.get(apply_url(open_program))
    assert response.status_code == 404
    assert "not linked to the company directory" in response.content.decode()


# --- Applying ------------------------------------------------------------------------------------


def test_apply_as_mentor(participant_client, participant_user, open_program):
    page = participant_client.get(apply_url(open_program))
    body = page.content.decode()
    assert "Topics you can teach" in body and "You are applying as a mentor." in body
    assert 'value="Europe/London" selected' in body  # prefilled from the directory
    assert "data-device-zone" in body and 'id="zone-aliases"' in body and "js/timezone" in body  # the device's zone offered, as on /me/time-zone/
    confidential = EmployeeFactory(email="keep.away@acme.example")
    first = topics_of(open_program)[0]

    response = participant_client.post(apply_url(open_program), application(open_program, not_with="Keep.Away@acme.example"))

    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    enrollment = Enrollment.objects.get(program=open_program, employee=participant_user.employee)
    assert (enrollment.role, enrollment.status) == ("mentor", ES.APPLIED)
    assert enrollment.interests == ["chess", "podcasts"] and enrollment.languages == ["English", "French"]
    assert enrollment.availability == ["fri-16", "mon-08", "wed-14"] and enrollment.time_zone == "Europe/Paris"
    assert enrollment.motivation == "I like explaining tools."
    assert list(enrollment.topic_ratings.values_list("topic_id", "kind", "level")) == [(first.pk, EnrollmentTopic.Kind.TEACH, 4)]
    assert list(enrollment.not_with.all()) == [confidential]
    assert any("Your application to Open program is in. You get an email once HR has reviewed it" in m for m in messages_of(response))  # HR may review before enrollment closes


def test_apply_as_mentee_stores_the_baseline(mentee_user, open_program):
    client = client_for(mentee_user)
    assert "Topics you want to learn" in client.get(apply_url(open_program)).content.decode()
    first, second = topics_of(open_program)[:2]
    client.post(apply_url(open_program), application(open_program, **{f"topic_{first.pk}": 1, f"topic_{second.pk}": 3}))
    enrollment = Enrollment.objects.get(employee=mentee_user.employee)
    assert enrollment.role == "mentee"
    assert set(enrollment.topic_ratings.values_list("topic_id", "kind", "level")) == {(first.pk, "learn", 1), (second.pk, "learn", 3)}


def test_two_way_program_asks_each_side_for_the_other_list_too(participant_client, participant_user):
    program = ProgramFactory(self_enrollment=True, mode=Program.Mode.TWO_WAY)
    first, second = topics_of(program)[:2]
    body = participant_client.get(apply_url(program)).content.decode()
    assert "Topics you can teach" in body and "Topics you would like to learn" in body

    participant_client.post(apply_url(program), application(program, **{f"extra_{second.pk}": 2}))

    ratings = set(Enrollment.objects.get(employee=participant_user.employee).topic_ratings.values_list("topic_id", "kind", "level"))
    assert ratings == {(first.pk, "teach", 4), (second.pk, "learn", 2)}


def test_person_eligible_for_both_roles_picks_one(open_program):
    open_program.mentor_max_level = 9
    open_program.save()
    both = client_for(make_person(level=7))
    page = both.get(apply_url(open_program))
    assert "Apply as a mentor" in page.content.decode() and "Apply as a mentee" in page.content.decode()
    assert "Topics you want to learn" in both.get(apply_url(open_program), {"role": "mentee"}).content.decode()
    both.post(apply_url(open_program), application(open_program, role="mentee"))
    assert Enrollment.objects.get(program=open_program).role == "mentee"


def test_ineligible_person_sees_why_and_cannot_apply(open_program):
    middle = client_for(make_person(level=4))
    page = middle.get(apply_url(open_program))
    body = page.content.decode()
    assert page.status_code == 200 and "You cannot apply to this program" in body
    assert "Mentors in this program are at level 3 or below" in body and "Mentees in this program are at level 6 or above" in body
    assert 'name="availability"' not in body

    middle.post(apply_url(open_program), application(open_program, role="mentor"))
    assert not Enrollment.objects.exists()


def test_outside_the_window_sees_why(participant_client):
    later = ProgramFactory(self_enrollment=True, enrollment_opens_on=TODAY() + datetime.timedelta(days=3))
    body = participant_client.get(apply_url(later)).content.decode()
    assert f"Enrollment opens on {date_format(later.enrollment_opens_on)}." in body
    participant_client.post(apply_url(later), application(later))
    assert not Enrollment.objects.exists()

    closed = ProgramFactory(self_enrollment=True, status=Program.Status.MATCHING)
    assert "Enrollment for this program is not open" in participant_client.get(apply_url(closed)).content.decode()


def test_invitation_only_program_refuses_uninvited_people(participant_client, open_program):
    invite_only = ProgramFactory(self_enrollment=False)
    body = participant_client.get(apply_url(invite_only)).content.decode()
    assert "This program is by invitation only." in body
    participant_client.post(apply_url(invite_only), application(invite_only))
    assert not Enrollment.objects.exists()


def test_invited_person_applies_in_the_invited_role(participant_client, participant_user):
    program = ProgramFactory(self_enrollment=False, mentor_max_level=9, mentee_min_level=1)
    invitation = EnrollmentFactory(program=program, employee=participant_user.employee, role="mentee", status=ES.INVITED)
    body = participant_client.get(apply_url(program)).content.decode()
    assert "You were invited as a mentee." in body and "Apply as a mentor" not in body

    participant_client.post(apply_url(program), application(program, role="mentor"))  # role cannot be swapped

    invitation.refresh_from_db()
    assert (invitation.role, invitation.status) == ("mentee", ES.APPLIED)
    assert set(invitation.topic_ratings.values_list("kind", flat=True)) == {"learn"}


def test_double_submit_creates_one_enrollment(participant_client, participant_user, open_program):
    data = application(open_program)
    first = participant_client.post(apply_url(open_program), data)
    second = participant_client.post(apply_url(open_program), data)
    assert first.status_code == second.status_code == 302
    assert Enrollment.objects.filter(program=open_program, employee=participant_user.employee).count() == 1
    assert EnrollmentTopic.objects.count() == 1


def test_edit_while_applied_is_prefilled_and_updates(participant_client, participant_user, open_program):
    colleague = EmployeeFactory(email="avoid.me@acme.example")
    participant_client.post(apply_url(open_program), application(open_program, not_with="avoid.me@acme.example"))
    page = participant_client.get(apply_url(open_program))
    body = page.content.decode()
    assert "Your application to Open program" in body
    assert 'value="chess, podcasts"' in body and 'value="mon-08" id="slot-mon-08" checked' in body
    assert "avoid.me@acme.example" in body  # the author sees their own list
    first, second = topics_of(open_program)[:2]

    response = participant_client.post(apply_url(open_program), application(open_program, interests="gaming", not_with="", **{f"topic_{second.pk}": 5}))

    assert any("was updated" in m for m in messages_of(response))
    enrollment = Enrollment.objects.get(employee=participant_user.employee)
    assert enrollment.interests == ["gaming"] and not enrollment.not_with.exists()
    assert set(enrollment.topic_ratings.values_list("topic_id", "level")) == {(first.pk, 4), (second.pk, 5)}
    assert colleague.pk  # still in the directory, just no longer listed


def test_reviewed_application_can_no_longer_be_changed(participant_client, participant_user, open_program):
    enrollment = EnrollmentFactory(program=open_program, employee=participant_user.employee, status=ES.APPROVED, interests=["old"])
    body = participant_client.get(apply_url(open_program)).content.decode()
    assert "Your application has been reviewed" in body and 'name="interests"' not in body
    participant_client.post(apply_url(open_program), application(open_program))
    enrollment.refresh_from_db()
    assert enrollment.interests == ["old"] and enrollment.status == ES.APPROVED


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"not_with": "ghost@acme.example"}, "Not found in the company directory: ghost@acme.example"),
        ({"not_with": "not an email"}, "These are not email addresses"),
        ({"languages": ""}, "Give at least one language you can hold a meeting in."),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice."),
        ({"availability": ["sun-03"]}, "Select a valid choice."),
    ],
    ids=["unknown-colleague", "not-email", "no-language", "bad-zone", "bad-slot"],
)
def test_invalid_application_rerenders_with_the_error(participant_client, open_program, overrides, message):
    response = participant_client.post(apply_url(open_program), application(open_program, motivation="Typed motivation kept", **overrides))
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body and "Typed motivation kept" in body
    assert not Enrollment.objects.exists()


def test_listing_yourself_as_not_with_is_refused(participant_client, participant_user, open_program):
    response = participant_client.post(apply_url(open_program), application(open_program, not_with=participant_user.email))
    assert "You cannot list yourself." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_a_topic_must_be_rated(participant_client, open_program):
    first = topics_of(open_program)[0]
    response = participant_client.post(apply_url(open_program), application(open_program, **{f"topic_{first.pk}": ""}))
    assert "Choose at least one topic you can teach." in response.content.decode()
    assert not Enrollment.objects.exists()


# --- Withdrawing ---------------------------------------------------------------------------------


def test_withdraw_with_a_reason(participant_client, participant_user):
    enrollment = EnrollmentFactory(employee=participant_user.employee, status=ES.APPROVED)
    url = reverse("enrollment_withdraw", args=[enrollment.pk])
    assert 'name="reason"' in participant_client.get(url).content.decode()

    empty = participant_client.post(url, {"reason": "   "})
    assert empty.status_code == 200 and "Say briefly why you are leaving: HR reads it to re-match your partner." in empty.content.decode()

    response = participant_client.post(url, {"reason": "New role, no time left."})

    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    enrollment.refresh_from_db()
    assert enrollment.status == ES.WITHDRAWN and enrollment.withdrawal_reason == "New role, no time left." and enrollment.withdrawn_at
    again = participant_client.get(url).content.decode()
    assert "You are no longer in this program." in again and 'name="reason"' not in again


def test_withdraw_someone_elses_enrollment_is_404(client, participant_client, executive_client):
    other = EnrollmentFactory()
    url = reverse("enrollment_withdraw", args=[other.pk])
    assert participant_client.get(url).status_code == 404
    assert participant_client.post(url, {"reason": "Mischief"}).status_code == 404
    assert executive_client.get(url).status_code == 403
    assert client.get(url)["Location"].startswith(reverse("account_login"))
    other.refresh_from_db()
    assert other.status == ES.APPLIED


def test_withdraw_from_an_archived_program_is_refused(participant_client, participant_user):
    enrollment = EnrollmentFactory(employee=participant_user.employee, status=ES.APPROVED, program__status=Program.Status.ARCHIVED)
    response = participant_client.post(reverse("enrollment_withdraw", args=[enrollment.pk]), {"reason": "Done"})
    assert response.status_code == 200 and "This program is archived and read-only." in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == ES.APPROVED


# --- Resources checklist -------------------------------------------------------------------------


@pytest.fixture
def my_enrollment(participant_user):
    return EnrollmentFactory(employee=participant_user.employee, role="mentor", status=ES.APPROVED)


def mark_url(enrollment, resource):
    return reverse("resource_mark", args=[enrollment.pk, resource.pk])


def test_mark_a_resource_done_and_undone(participant_client, my_enrollment):
    guide = Resource.objects.create(program=my_enrollment.program, title="Mentor guide", url="https://example.com/g", audience="mentors")
    done = participant_client.post(mark_url(my_enrollment, guide), {"done": "1"})
    assert done.status_code == 302 and ResourceCompletion.objects.filter(resource=guide, enrollment=my_enrollment).exists()
    home = participant_client.get(reverse("participant_home")).content.decode()
    assert "Mentor guide" in home and "Mark as not done" in home

    participant_client.post(mark_url(my_enrollment, guide), {"done": "0"})
    assert not ResourceCompletion.objects.exists()


def test_a_completed_programs_resources_stay_readable_without_a_to_do(participant_client, my_enrollment):
    from programs.models import Program

    Resource.objects.create(program=my_enrollment.program, title="Mentor guide", url="https://example.com/g", audience="mentors")
    Program.objects.filter(pk=my_enrollment.program_id).update(status=Program.Status.COMPLETED)
    home = participant_client.get(reverse("participant_home")).content.decode()
    assert "Mentor guide" in home and "Mark as done" not in home and ">Preparation<" not in home


def test_nobody_leaves_a_completed_program(participant_client, my_enrollment):
    from programs.models import Program

    Program.objects.filter(pk=my_enrollment.program_id).update(status=Program.Status.COMPLETED)
    url = reverse("enrollment_withdraw", args=[my_enrollment.pk])
    assert url not in participant_client.get(reverse("participant_home")).content.decode()
    assert participant_client.get(url).status_code == 302
    response = participant_client.post(url, {"reason": "Done"})
    assert "This program is complete: there is nothing to leave" in response.content.decode()
    my_enrollment.refresh_from_db()
    assert my_enrollment.status == "approved"


def test_mark_with_htmx_returns_the_item(participant_client, my_enrollment):
    guide = Resource.objects.create(program=my_enrollment.program, title="Mentor guide", url="https://example.com/g")
    response = participant_client.post(mark_url(my_enrollment, guide), {"done": "1"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith("<li") and "Mark as not done" in body
    assert "<html" not in body


def test_resource_for_the_other_side_cannot_be_marked(participant_client, my_enrollment):
    mentee_only = Resource.objects.create(program=my_enrollment.program, title="For mentees", url="https://example.com/m", audience="mentees")
    response = participant_client.post(mark_url(my_enrollment, mentee_only), {"done": "1"})
    assert "This resource is not part of your program." in messages_of(response)
    assert not ResourceCompletion.objects.exists()
    assert "For mentees" not in participant_client.get(reverse("participant_home")).content.decode()


def test_resource_mark_access(client, participant_client, my_enrollment):
    guide = Resource.objects.create(program=my_enrollment.program, title="Guide", url="https://example.com/g")
    elsewhere = Resource.objects.create(program=ProgramFactory(), title="Elsewhere", url="https://example.com/e")
    someone_else = EnrollmentFactory(program=my_enrollment.program)
    assert participant_client.get(mark_url(my_enrollment, guide)).status_code == 405
    assert participant_client.post(mark_url(my_enrollment, elsewhere), {"done": "1"}).status_code == 404
    assert participant_client.post(mark_url(someone_else, guide), {"done": "1"}).status_code == 404
    assert client.post(mark_url(my_enrollment, guide), {"done": "1"}).status_code == 302
    assert not ResourceCompletion.objects.exists()


# --- Home page -----------------------------------------------------------------------------------


def test_home_lists_my_programs_with_what_is_due(participant_client, participant_user):
    invited = EnrollmentFactory(employee=participant_user.employee, status=ES.INVITED, program__name="Invited program")
    applied = EnrollmentFactory(employee=participant_user.employee, status=ES.APPLIED, program__name="Applied program")
    EnrollmentFactory(employee=participant_user.employee, status=ES.APPLIED, program__name="Hidden draft", program__status=Program.Status.DRAFT)
    body = participant_client.get(reverse("participant_home")).content.decode()
    assert f"Apply by {date_format(invited.program.enrollment_closes_on)}." in body
    assert "Invited program" in body and "Applied program" in body and "Hidden draft" not in body
    assert "waiting for HR" in body and reverse("enrollment_withdraw", args=[applied.pk]) in body
    assert "Decline the invitation" in body


def test_home_offers_programs_open_to_me(participant_client):
    open_program = ProgramFactory(self_enrollment=True, name="Join us")
    ProgramFactory(self_enrollment=False, name="Invite only")
    ProgramFactory(self_enrollment=True, name="Seniors only", mentor_max_level=1)
    body = participant_client.get(reverse("participant_home")).content.decode()
    assert "Join us" in body and apply_url(open_program) in body
    assert "Invite only" not in body and "Seniors only" not in body
    assert "You are not in a mentoring program yet" in body and "apply to one" in body


def test_home_empty_state_says_what_to_do(participant_client):
    body = participant_client.get(reverse("participant_home")).content.decode()
    assert "You are not in a mentoring program yet" in body and "When HR invites you" in body


def test_home_query_count_does_not_grow(participant_client, participant_user, django_assert_max_num_queries):
    def add_enrollment():
        e = EnrollmentFactory(employee=participant_user.employee, status=ES.APPROVED)
        for n in range(2):
            r = Resource.objects.create(program=e.program, title=f"R{n}", url="https://example.com/r")
            ResourceCompletion.objects.create(resource=r, enrollment=e)

    add_enrollment()
    with django_assert_max_num_queries(30) as small:
        participant_client.get(reverse("participant_home"))
    for _ in range(5):
        add_enrollment()
    with django_assert_max_num_queries(len(small.captured_queries)):
        participant_client.get(reverse("participant_home"))


def test_resource_files_are_served_only_to_their_audience_and_hr(hr_client, participant_client, participant_user, client):
    from django.core.files.base import ContentFile

    from programs.models import Resource
    from tests.factories import EnrollmentFactory, make_person

    program = ProgramFactory()
    resource = Resource.objects.create(program=program, title="Mentor guide", audience="mentors")
    resource.file.save("mentor-guide.txt", ContentFile(b"how to mentor upwards"))
    url = reverse("resource_download", args=[resource.pk])
    assert participant_client.get(url).status_code == 404  # not enrolled
    EnrollmentFactory(program=program, employee=participant_user.employee, role="mentor", status="approved")
    response = participant_client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"how to mentor upwards"
    assert hr_client.get(url).status_code == 200
    mentee = make_person(level=8)
    EnrollmentFactory(program=program, employee=mentee.employee, role="mentee", status="approved")
    client.force_login(mentee)
    assert client.get(url).status_code == 404  # the wrong audience
    client.logout()
    assert client.get(url).status_code == 302


# --- Keeping availability current after approval ------------------------------------------------


def availability_url(enrollment, next_url: str | None = None) -> str:
    url = reverse("enrollment_availability", args=[enrollment.pk])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def availability_form(**overrides) -> dict:
    data = {"languages": "English, Portuguese", "availability": ["mon-08", "tue-14"], "time_zone": "Europe/Lisbon"}
    data.update(overrides)
    return data


@pytest.fixture
def live_pair():
    """An active pair whose weekly availabilities never meet: London Mondays, New York Fridays."""
    mentor_user = make_person(level=2, time_zone="Europe/London")
    mentee_user = make_person(level=7, time_zone="America/New_York")
    pair = make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)
    Enrollment.objects.filter(pk=pair.mentor_id).update(availability=["mon-08"])
    Enrollment.objects.filter(pk=pair.mentee_id).update(availability=["tue-10", "fri-16"])
    pair.refresh_from_db()
    return pair


def test_paired_mentor_updates_availability_and_both_schedulers_suggest_times(live_pair):
    mentor, mentee = client_for(live_pair.mentor.employee.user), client_for(live_pair.mentee.employee.user)
    schedule = reverse("meeting_schedule", args=[live_pair.pk])
    before = mentor.get(schedule)
    assert before.context["suggestions"] == [] and mentee.get(schedule).context["suggestions"] == []
    # "Your availabilities do not overlap" leads to the fix, and back to the scheduler.
    link = availability_url(live_pair.mentor, schedule)
    assert "do not overlap" in before.content.decode() and link.replace("&", "&amp;") in before.content.decode()

    assert mentor.get(link).status_code == 200
    # Every weekday afternoon in London meets New York's Tuesday morning, whatever the season.
    afternoons = [f"{day}-{hour}" for day in ("mon", "tue", "wed", "thu", "fri") for hour in ("12", "14", "16")]
    response = mentor.post(link, availability_form(availability=afternoons, time_zone="Europe/London", languages="English, Welsh", next=schedule))

    assert response.status_code == 302 and response["Location"] == schedule
    assert any("availability" in m and "saved" in m for m in messages_of(response))
    live_pair.mentor.refresh_from_db()
    assert live_pair.mentor.availability == sorted(afternoons) and live_pair.mentor.languages == ["English", "Welsh"]
    assert live_pair.mentor.time_zone == "Europe/London"
    # The partner sees the overlap at once, without doing anything.
    after = mentee.get(schedule).context["suggestions"]
    assert after and all(slot.astimezone(zoneinfo.ZoneInfo("America/New_York")).strftime("%a %H") in ("Tue 10", "Tue 11") for slot in after)
    assert mentor.get(schedule).context["suggestions"] == after


def test_availability_update_keeps_role_topics_and_baseline(live_pair):
    mentor = client_for(live_pair.mentor.employee.user)
    ratings = sorted(EnrollmentTopic.objects.filter(enrollment=live_pair.mentor).values_list("topic_id", "kind", "level"))
    topic = live_pair.program.topics.first()
    response = mentor.post(
        availability_url(live_pair.mentor),
        availability_form(role="mentee", **{f"topic_{topic.pk}": 1, "interests": "knitting", "motivation": "changed", "not_with": live_pair.mentee.employee.email}),
    )
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(pk=live_pair.mentor_id)
    assert enrollment.role == "mentor" and enrollment.status == ES.APPROVED and enrollment.interests == [] and enrollment.motivation == ""
    assert sorted(EnrollmentTopic.objects.filter(enrollment=enrollment).values_list("topic_id", "kind", "level")) == ratings
    assert not enrollment.not_with.exists()
    assert enrollment.availability == ["mon-08", "tue-14"]


def test_availability_update_goes_back_to_the_pair_page_without_next_and_ignores_foreign_next(live_pair):
    mentor = client_for(live_pair.mentor.employee.user)
    pair_page = reverse("pair_detail", args=[live_pair.pk])
    assert mentor.post(availability_url(live_pair.mentor), availability_form())["Location"] == pair_page
    for unsafe in ("https://evil.example/phish", "//evil.example/", "javascript:alert(1)"):
        response = mentor.post(availability_url(live_pair.mentor, unsafe), availability_form(next=unsafe))
        assert response["Location"] == pair_page
        assert "evil.example" not in mentor.get(availability_url(live_pair.mentor, unsafe)).content.decode()


def test_unpaired_approved_person_updates_availability_from_the_home_page(participant_client, participant_user):
    program = ProgramFactory(status=Program.Status.MATCHING, enrollment_closes_on=TODAY() - datetime.timedelta(days=1))
    enrollment = EnrollmentFactory(program=program, employee=participant_user.employee, status=ES.APPROVED, availability=["tue-10"])
    home = participant_client.get(reverse("participant_home")).content.decode()
    link = availability_url(enrollment, reverse("participant_home") + f"#enrollment-{enrollment.pk}")
    assert "Update my availability" in home and link in home

    response = participant_client.post(link, availability_form(next=reverse("participant_home") + f"#enrollment-{enrollment.pk}"))
    assert response.status_code == 302 and response["Location"] == reverse("participant_home") + f"#enrollment-{enrollment.pk}"
    assert any("next pairing round" in m for m in messages_of(response))
    enrollment.refresh_from_db()
    assert enrollment.availability == ["mon-08", "tue-14"] and enrollment.time_zone == "Europe/Lisbon" and enrollment.languages == ["English", "Portuguese"]


def test_approved_application_page_points_to_the_availability_update(participant_client, participant_user):
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN, self_enrollment=True)
    enrollment = EnrollmentFactory(program=program, employee=participant_user.employee, status=ES.APPROVED)
    body = participant_client.get(apply_url(program)).content.decode()
    assert "can no longer be changed here" in body and availability_url(enrollment) in body


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"languages": ""}, "languages"),
        ({"availability": ["sat-03"]}, "availability"),
        ({"availability": ["mon-09"]}, "availability"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ],
)
def test_bad_availability_input_is_shown_again_and_saves_nothing(live_pair, form, field):
    mentor = client_for(live_pair.mentor.employee.user)
    before = Enrollment.objects.filter(pk=live_pair.mentor_id).values("languages", "availability", "time_zone").get()
    response = mentor.post(availability_url(live_pair.mentor), availability_form(**form))
    assert response.status_code == 200
    assert response.context["form"].errors[field] and "Nothing was saved." in response.content.decode() and "1 field below needs another look" in response.content.decode()
    assert Enrollment.objects.filter(pk=live_pair.mentor_id).values("languages", "availability", "time_zone").get() == before
    assert not messages_of(response)


def test_only_the_enrollments_own_person_may_update_its_availability(client, executive_client, hr_client, live_pair):
    url = availability_url(live_pair.mentor)
    other = EnrollmentFactory(program=live_pair.program, role="mentee", status=ES.APPROVED, employee=make_person(level=7).employee)
    before = list(Enrollment.objects.filter(pk=live_pair.mentor_id).values("languages", "availability", "time_zone"))
    for outsider in (client_for(live_pair.mentee.employee.user), client_for(other.employee.user), hr_client):
        assert outsider.get(url).status_code == 404
        assert outsider.post(url, availability_form()).status_code == 404
    assert executive_client.get(url).status_code == 403
    anonymous = client.post(url, availability_form())
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("account_login"))
    assert client_for(live_pair.mentor.employee.user).put(url).status_code == 405
    assert list(Enrollment.objects.filter(pk=live_pair.mentor_id).values("languages", "availability", "time_zone")) == before


def _set_up(participant_user, *, enrollment_status=ES.APPROVED, program_status=Program.Status.ACTIVE):
    program = ProgramFactory(
        status=program_status,
        enrollment_opens_on=TODAY() - datetime.timedelta(days=60),
        enrollment_closes_on=TODAY() - datetime.timedelta(days=40),
        starts_on=TODAY() - datetime.timedelta(days=30),
        ends_on=TODAY() + datetime.timedelta(days=30),
    )
    return EnrollmentFactory(program=program, employee=participant_user.employee, status=enrollment_status, availability=["tue-10"])


@pytest.mark.parametrize(
    ("enrollment_status", "program_status", "why"),
    [
        (ES.WITHDRAWN, Program.Status.ACTIVE, "no longer in this program"),
        (ES.DECLINED, Program.Status.ACTIVE, "no longer in this program"),
        (ES.WAITLISTED, Program.Status.ACTIVE, "waiting list"),
        (ES.APPLIED, Program.Status.MATCHING, "not been approved yet"),
        (ES.APPROVED, Program.Status.COMPLETED, "complete"),
        (ES.APPROVED, Program.Status.ARCHIVED, "archived"),
    ],
)
def test_availability_update_is_neither_offered_nor_accepted_outside_an_approved_running_enrollment(participant_client, participant_user, enrollment_status, program_status, why):
    enrollment = _set_up(participant_user, enrollment_status=enrollment_status, program_status=program_status)
    url = availability_url(enrollment)
    assert url not in participant_client.get(reverse("participant_home")).content.decode()

    opened = participant_client.get(url)
    assert opened.status_code == 302 and opened["Location"] == reverse("participant_home") + f"#enrollment-{enrollment.pk}"
    assert any(why in m for m in messages_of(opened))
    posted = participant_client.post(url, availability_form())
    assert posted.status_code == 302 and any(why in m for m in messages_of(posted))
    enrollment.refresh_from_db()
    assert enrollment.availability == ["tue-10"] and enrollment.languages == ["English"]


def test_scheduler_offers_no_availability_link_once_the_program_is_completed(live_pair):
    # The pair is still live for the minutes completing takes; the scheduler is read-only then.
    Program.objects.filter(pk=live_pair.program_id).update(status=Program.Status.COMPLETED)
    mentor = client_for(live_pair.mentor.employee.user)
    response = mentor.get(reverse("meeting_schedule", args=[live_pair.pk]))
    assert reverse("enrollment_availability", args=[live_pair.mentor_id]) not in response.content.decode()
