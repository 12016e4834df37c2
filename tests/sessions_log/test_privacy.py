"""Confidential things stay confidential.

Unique markers are planted in both private notes, both feedback comments, a concern and both
"please not with" lists, a low safety pulse is answered; then every page the partner, HR and
an executive can open, and every email sent, is searched for them. The pages' template
contexts are also searched for a loaded SafetyPulse: its answers must never even be fetched.
"""

import dataclasses
import datetime

import pytest
from django.core import mail
from django.db.models import Model, QuerySet
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mentoring.models import Role
from sessions_log import services
from sessions_log.models import Meeting, PulseAlert, SafetyPulse
from sessions_log.services import GoalInput, LogInput
from tests.factories import EmployeeFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db

MENTOR_NOTE = "qz-mentor-private-note-7731"
MENTEE_NOTE = "qz-mentee-private-note-8842"
MENTOR_FEEDBACK = "qz-mentor-feedback-comment-1193"
MENTEE_FEEDBACK = "qz-mentee-feedback-comment-5520"
CONCERN = "qz-concern-text-4410"
NOT_WITH_MENTOR = "Qzwyxmentor"  # last names of the people on the "please not with" lists
NOT_WITH_MENTEE = "Qzwyxmentee"
PULSE_WORDS = ("I felt heard", "It felt safe to be candid", "I want to continue with this pair")


@pytest.fixture
def planted(deliver_outbox):
    mentor_user = make_person(level=2, time_zone="Europe/London", first_name="Maya", last_name="Mentor")
    mentee_user = make_person(level=7, time_zone="America/New_York", first_name="Sam", last_name="Senior")
    pair = make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)
    mentor, mentee = mentor_user.employee, mentee_user.employee
    pair.mentor.not_with.add(EmployeeFactory(last_name=NOT_WITH_MENTOR))
    pair.mentee.not_with.add(EmployeeFactory(last_name=NOT_WITH_MENTEE))

    services.agreement_save(pair=pair, me=mentor, meeting_frequency="Fortnightly", boundaries="", confidentiality="", goals=[GoalInput("Learn prompts", 30)])
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=1), duration_minutes=45)
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=3), duration_minutes=45)  # unlogged
    data = LogInput(held_on=timezone.localdate() - datetime.timedelta(days=1), minutes=45, topics=[], shared_notes="shared words", private_note=MENTOR_NOTE)
    log = services.session_log_create(pair=pair, me=mentor, data=data, meeting=past)
    services.private_note_save(log=log, me=mentee, text=MENTEE_NOTE)
    services.pulse_submit(log=log, me=mentor, felt_heard=1, safe_to_be_candid=2, wants_to_continue=1)
    services.feedback_submit(log=log, me=mentor, usefulness=2, psychological_safety=1, comment=MENTOR_FEEDBACK)
    services.feedback_submit(log=log, me=mentee, usefulness=5, psychological_safety=5, comment=MENTEE_FEEDBACK)
    services.concern_raise(pair=pair, me=mentor, text=CONCERN)
    assert PulseAlert.objects.filter(pair=pair).exists()

    # Invites, moves and cancellations go out by email after all of that was written.
    start = datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=4), datetime.time(15), tzinfo=datetime.UTC)
    meeting = services.meeting_schedule(pair=pair, me=mentor, starts_at=start, duration_minutes=45, agenda="shared agenda")
    services.meeting_reschedule(meeting=meeting, me=mentee, starts_at=start + datetime.timedelta(days=1), reason="travel")
    services.meeting_cancel(meeting=meeting, me=mentee, reason="sick")
    services.meeting_schedule(pair=pair, me=mentee, starts_at=start + datetime.timedelta(days=2), duration_minutes=30)
    deliver_outbox()
    return {"pair": pair, "log": log, "meeting": meeting, "past": past, "mentor_user": mentor_user, "mentee_user": mentee_user}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pair_urls(planted) -> list[str]:
    pair, log, meeting = planted["pair"], planted["log"], planted["meeting"]
    p = pair.pk
    return [
        reverse("pair_detail", args=[p]),
        reverse("agreement_edit", args=[p]),
        reverse("meeting_schedule", args=[p]),
        reverse("meeting_reschedule", args=[p, meeting.pk]),
        reverse("meeting_cancel", args=[p, meeting.pk]),
        reverse("session_log_create", args=[p]),
        reverse("session_log_create", args=[p]) + f"?meeting={planted['past'].pk}",
        reverse("session_log_edit", args=[p, log.pk]),
        reverse("private_note_edit", args=[p, log.pk]),
        reverse("pulse_submit", args=[p, log.pk]),
        reverse("feedback_submit", args=[p, log.pk]),
        reverse("concern_raise", args=[p]),
        reverse("pair_close", args=[p]),
    ]


def my_urls() -> list[str]:
    return [reverse("participant_home"), reverse("my_pairs"), reverse("survey_list"), reverse("calendar_settings")]


def pulses_in(value, seen=None, depth=0):
    """Every SafetyPulse reachable from a template context value (models' caches included)."""
    seen = seen if seen is not None else set()
    if depth > 8 or id(value) in seen or isinstance(value, (str, bytes, int, float, type(None))):
        return []
    seen.add(id(value))
    found = [value] if isinstance(value, SafetyPulse) else []
    children = []
    if isinstance(value, QuerySet):
        children = list(value._result_cache or [])
    elif isinstance(value, Model):
        children = list(value._state.fields_cache.values())
        children += [list(qs._result_cache or []) if isinstance(qs, QuerySet) else qs for qs in getattr(value, "_prefetched_objects_cache", {}).values()]
        children += [v for v in vars(value).values() if isinstance(v, (list, tuple, Model))]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, (list, tuple, set)):
        children = list(value)
    for child in children:
        found += pulses_in(child, seen, depth + 1)
    return found


def visit(client, urls):
    """(url, status, text) for each page, following redirects; asserts no pulse was loaded."""
    seen = []
    for url in urls:
        response = client.get(url, follow=True)
        for context in response.context or []:
            assert not pulses_in(context.flatten()), f"a safety pulse was loaded to render {url}"
        seen.append((url, response.status_code, response.content.decode()))
    return seen


def assert_absent(pages, markers):
    for url, _status, text in pages:
        for marker in markers:
            assert marker.lower() not in text.lower(), f"{marker!r} shown on {url}"


def all_email_text() -> str:
    parts = []
    for message in mail.outbox:
        parts += [message.subject, message.body]
        parts += [str(content) for content, _type in getattr(message, "alternatives", [])]
        parts += [content.decode() if isinstance(content, bytes) else str(content) for _name, content, _type in message.attachments]
    return "\n".join(parts)


def test_the_markers_are_really_there_for_their_owner(planted):
    """The check below means something: each side does see their own private note."""
    page = client_for(planted["mentor_user"]).get(reverse("pair_detail", args=[planted["pair"].pk])).content.decode()
    assert MENTOR_NOTE in page and "shared words" in page
    page = client_for(planted["mentee_user"]).get(reverse("pair_detail", args=[planted["pair"].pk])).content.decode()
    assert MENTEE_NOTE in page and "shared words" in page


def test_the_mentee_never_sees_the_mentors_note_feedback_pulse_concern_or_not_with(planted):
    mentee = client_for(planted["mentee_user"])
    pages = visit(mentee, pair_urls(planted) + my_urls())
    assert_absent(pages, [MENTOR_NOTE, MENTOR_FEEDBACK, MENTEE_FEEDBACK, CONCERN, NOT_WITH_MENTOR, NOT_WITH_MENTEE, *PULSE_WORDS, "Pulse answered"])
    feed = services.calendar_feed_for(me=planted["pair"].mentee.employee)
    ics = Client().get(reverse("calendar_feed", args=[feed.token])).content.decode()
    assert_absent([("feed", 200, ics)], [MENTOR_NOTE, MENTEE_NOTE, MENTOR_FEEDBACK, MENTEE_FEEDBACK, CONCERN])


def test_the_mentor_never_sees_the_mentees_note_feedback_or_not_with_nor_their_own_pulse_answers(planted):
    mentor = client_for(planted["mentor_user"])
    pages = visit(mentor, pair_urls(planted) + my_urls())
    assert_absent(pages, [MENTEE_NOTE, MENTEE_FEEDBACK, MENTOR_FEEDBACK, NOT_WITH_MENTOR, NOT_WITH_MENTEE])
    pair_page = next(text for url, _s, text in pages if url == reverse("pair_detail", args=[planted["pair"].pk]))
    assert "Pulse answered" in pair_page  # that they answered, and nothing more
    assert "felt_heard" not in pair_page and "safe_to_be_candid" not in pair_page


def test_hr_and_executives_see_none_of_it(planted, hr_user, executive_user):
    pair = planted["pair"]
    markers = [MENTOR_NOTE, MENTEE_NOTE, MENTOR_FEEDBACK, MENTEE_FEEDBACK, NOT_WITH_MENTOR, NOT_WITH_MENTEE, *PULSE_WORDS]
    hr = client_for(hr_user)
    hr_pages = visit(hr, pair_urls(planted))
    assert {status for _u, status, _t in hr_pages} == {404}
    hr_pages += visit(
        hr,
        [
            reverse("hr_home"),
            reverse("program_detail", args=[pair.program_id]),
            reverse("program_review", args=[pair.program_id]),
            reverse("pairing_home", args=[pair.program.slug]),
            reverse("pairs_list", args=[pair.program.slug]),
            reverse("employee_detail", args=[pair.mentor.employee_id]),
            reverse("employee_detail", args=[pair.mentee.employee_id]),
            *my_urls(),
        ],
    )
    assert_absent(hr_pages, markers)

    executive = client_for(executive_user)
    executive_pages = visit(executive, pair_urls(planted))
    assert {status for _u, status, _t in executive_pages} == {403}
    executive_pages += visit(executive, [reverse("executive_home")])
    assert_absent(executive_pages, [*markers, CONCERN])


def test_no_email_carries_anything_confidential(planted):
    assert len(mail.outbox) == 8  # two per schedule, move, cancel and schedule
    text = all_email_text()
    assert "shared agenda" in text  # the shared agenda does travel
    for marker in (MENTOR_NOTE, MENTEE_NOTE, MENTOR_FEEDBACK, MENTEE_FEEDBACK, CONCERN, NOT_WITH_MENTOR, NOT_WITH_MENTEE, *PULSE_WORDS):
        assert marker.lower() not in text.lower()


def test_a_participant_with_hr_role_sees_no_one_elses_pair(planted):
    """HR admins hold the participant role too; that never opens someone else's pair."""
    someone = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    client = client_for(someone)
    pages = visit(client, pair_urls(planted) + [reverse("my_pairs")])
    assert_absent(pages, [MENTOR_NOTE, MENTEE_NOTE, "Maya Mentor", "Sam Senior"])
