"""Pairs at work through the browser's eyes: who may open what, and what each page does."""

import datetime
import re
import zoneinfo

import icalendar
import pytest
import vobject
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mentoring.models import Role
from pairing.models import Pair
from programs.models import Enrollment, Program
from sessions_log import services
from sessions_log.models import (
    ActionItem,
    Agreement,
    AgreementGoal,
    CalendarFeed,
    Concern,
    Feedback,
    Insight,
    Meeting,
    MeetingChange,
    PrivateNote,
    Reflection,
    SafetyPulse,
    SessionLog,
    SurveyResponse,
)
from sessions_log.services import GoalInput, LogInput
from tests.factories import UserFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


# --- Fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture
def mentor_user():
    return make_person(level=2, time_zone="Europe/London", first_name="Maya", last_name="Mentor", title="Data Analyst")


@pytest.fixture
def mentee_user():
    return make_person(level=7, time_zone="America/New_York", first_name="Sam", last_name="Senior", title="VP Finance")


@pytest.fixture
def pair(mentor_user, mentee_user):
    return make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mentor(mentor_user):
    return client_for(mentor_user)


@pytest.fixture
def mentee(mentee_user):
    return client_for(mentee_user)


def local_slot(days=3, hour=15, zone=LONDON) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=zone)


def a_log(pair, **overrides) -> LogInput:
    values = dict(held_on=timezone.localdate(), minutes=45, topics=list(pair.program.topics.all()[:1]), shared_notes="We tried prompts")
    values.update(overrides)
    return LogInput(**values)


@pytest.fixture
def world(pair):
    """A pair with an agreement goal, a future meeting, a past one, a log and an action."""
    agreement = services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="Fortnightly", boundaries="", confidentiality="", goals=[GoalInput("Use an AI assistant weekly", 20)])
    future = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=4), duration_minutes=45)
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=2), duration_minutes=45)
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair))
    action = services.action_commit(pair=pair, me=pair.mentee.employee, text="Reply in team chat")
    return {"pair": pair, "goal_id": agreement.goals.get().pk, "meeting_id": future.pk, "past_meeting_id": past.pk, "log_id": log.pk, "action_id": action.pk}


GP, G, P = ("GET", "POST"), ("GET",), ("POST",)
# (url name, ids it needs from `world`, methods it answers)
PAIR_ROUTES = [
    ("pair_detail", (), G),
    ("agreement_edit", (), GP),
    ("agreement_acknowledge", (), P),
    ("goal_progress", ("goal_id",), P),
    ("meeting_schedule", (), GP),
    ("meeting_reschedule", ("meeting_id",), GP),
    ("meeting_cancel", ("meeting_id",), GP),
    ("meeting_ics", ("meeting_id",), G),
    ("meeting_details", ("meeting_id",), GP),
    ("session_log_create", (), GP),
    ("session_log_edit", ("log_id",), GP),
    ("private_note_edit", ("log_id",), GP),
    ("pulse_submit", ("log_id",), GP),
    ("feedback_submit", ("log_id",), GP),
    ("concern_raise", (), GP),
    ("insight_add", (), P),
    ("action_commit", (), P),
    ("action_set_done", ("action_id",), P),
    ("pair_close", (), GP),
    ("reflection_save", (), P),
]
ME_ROUTES = [("my_pairs", G), ("survey_list", G), ("calendar_settings", G), ("calendar_revoke", P)]
ROUTE_IDS = [name for name, _ids, _m in PAIR_ROUTES]


def url_for(name, ids, world):
    return reverse(name, kwargs={"pk": world["pair"].pk, **{key: world[key] for key in ids}})


def snapshot():
    """Row counts a stray write would change."""
    return (
        Meeting.objects.filter(status="scheduled").count(), SessionLog.objects.count(), PrivateNote.objects.count(), Feedback.objects.count(),
        SafetyPulse.objects.count(), Concern.objects.count(), Insight.objects.count(), ActionItem.objects.filter(status="open").count(),
        Pair.objects.filter(status="active").count(), Reflection.objects.count(),
        list(Agreement.objects.values_list("version", "mentor_acknowledged_version", "mentee_acknowledged_version")),
        list(AgreementGoal.objects.values_list("progress", flat=True)), CalendarFeed.objects.count(),
    )


POST_DATA = {"version": "1", "progress": "90", "text": "stranger text", "reason": "completed", "reflection": "x", "done": "1", "day": "2030-01-01", "time": "10:00", "duration_minutes": "45"}


# --- Who may open what ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "ids", "methods"), PAIR_ROUTES, ids=ROUTE_IDS)
def test_outsider_participant_gets_404_on_every_pair_url_and_method(world, participant_client, name, ids, methods):
    url = url_for(name, ids, world)
    before = snapshot()
    assert participant_client.get(url).status_code == 404
    assert participant_client.post(url, POST_DATA).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("name", "ids", "methods"), PAIR_ROUTES, ids=ROUTE_IDS)
def test_hr_admin_gets_404_on_someone_elses_pair(world, hr_client, name, ids, methods):
    url = url_for(name, ids, world)
    before = snapshot()
    assert hr_client.get(url).status_code == 404
    assert hr_client.post(url, POST_DATA).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("name", "ids", "methods"), PAIR_ROUTES, ids=ROUTE_IDS)
def test_executive_gets_403_on_pair_urls(world, executive_client, name, ids, methods):
    url = url_for(name, ids, world)
    assert executive_client.get(url).status_code == 403
    assert executive_client.post(url, POST_DATA).status_code == 403


@pytest.mark.parametrize(("name", "ids", "methods"), PAIR_ROUTES, ids=ROUTE_IDS)
def test_anonymous_is_sent_to_login(world, client, name, ids, methods):
    url = url_for(name, ids, world)
    for response in (client.get(url), client.post(url, POST_DATA)):
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("name", "ids", "methods"), PAIR_ROUTES, ids=ROUTE_IDS)
def test_wrong_method_is_refused_for_the_owner(world, mentor, name, ids, methods):
    url = url_for(name, ids, world)
    if methods == P:
        # The pair page's small forms post here; a GET (the address bar after an error, the
        # sign-in page's "next") goes back to that part of the pair page, not to a bare 405.
        before = snapshot()
        response = mentor.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("pair_detail", args=[world["pair"].pk]) + "#")
        assert snapshot() == before
    elif methods == G:
        assert mentor.post(url).status_code == 405
    assert mentor.put(url).status_code == 405


PAGES = [(name, ids) for name, ids, methods in PAIR_ROUTES if "GET" in methods]


@pytest.mark.parametrize(("name", "ids"), PAGES, ids=[n for n, _i in PAGES])
@pytest.mark.parametrize("side", ["mentor", "mentee"])
def test_both_sides_open_their_pair_pages(world, mentor, mentee, side, name, ids):
    response = (mentor if side == "mentor" else mentee).get(url_for(name, ids, world))
    if name in ("pulse_submit", "concern_raise") and side == "mentee":
        assert response.status_code == 404  # the pulse and concerns are the mentor's alone
    elif name == "session_log_edit" and side == "mentee":
        assert response.status_code == 302 and response["Location"] == reverse("private_note_edit", args=[world["pair"].pk, world["log_id"]])
    else:
        assert response.status_code == 200


def test_a_proposed_pair_is_not_shown_to_its_people(pair, mentor):
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.PROPOSED)
    assert mentor.get(reverse("pair_detail", args=[pair.pk])).status_code == 404


def test_a_meeting_downloads_as_a_calendar_file_that_asks_nobody_to_reply(world, mentee):
    pair, meeting = world["pair"], Meeting.objects.get(pk=world["meeting_id"])
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    url = reverse("meeting_ics", args=[pair.pk, meeting.pk])
    assert url in page and "Add to calendar" in page
    response = mentee.get(url)
    assert response["Content-Type"].startswith("text/calendar") and response["Content-Disposition"].startswith("attachment;")
    event = icalendar.Calendar.from_ical(response.content)
    assert event["METHOD"] == "PUBLISH"
    [vevent] = event.walk("VEVENT")
    assert str(vevent["UID"]) == f"{meeting.uid}@upward" and vevent.decoded("DTSTART") == meeting.starts_at.replace(microsecond=0)
    attendees = vevent["ATTENDEE"]
    assert len(attendees) == 2 and all(a.params["RSVP"] == "FALSE" and a.params["PARTSTAT"] == "ACCEPTED" for a in attendees)


def test_either_side_edits_the_place_link_and_agenda_and_both_get_the_updated_invite(world, mentee, deliver_outbox):
    pair, meeting = world["pair"], Meeting.objects.get(pk=world["meeting_id"])
    url = reverse("meeting_details", args=[pair.pk, meeting.pk])
    assert url in mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    deliver_outbox()
    mail.outbox.clear()
    before = (meeting.starts_at, meeting.sequence)
    response = mentee.post(url, {"location": "Café Nero, 2nd floor", "video_url": "meet.example.com/abc", "agenda": "Prompts for reports", "topics": []})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.location, meeting.video_url, meeting.agenda) == ("Café Nero, 2nd floor", "https://meet.example.com/abc", "Prompts for reports")
    assert (meeting.starts_at, meeting.sequence) == before  # same time, same version: no reminder sent twice
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])
    to_mentor = next(m for m in mail.outbox if m.to == [pair.mentor.employee.email])
    assert to_mentor.subject.startswith("Updated: meeting with") and "updated the details" in to_mentor.body and "Café Nero" in to_mentor.body
    invite = icalendar.Calendar.from_ical(to_mentor.attachments[0][1])
    assert str(invite.walk("VEVENT")[0]["LOCATION"]) == "Café Nero, 2nd floor"
    # A higher SEQUENCE than the first invite's (found in QA: calendar apps may ignore an
    # update without one), while the time's version (reminders) stays.
    assert int(invite.walk("VEVENT")[0]["SEQUENCE"]) == before[1] + 1
    # The same again changes nothing and says so; a past meeting keeps its details.
    again = mentee.post(url, {"location": "Café Nero, 2nd floor", "video_url": "https://meet.example.com/abc", "agenda": "Prompts for reports", "topics": []})
    assert "Nothing changed." in again.content.decode()
    past = reverse("meeting_details", args=[pair.pk, world["past_meeting_id"]])
    assert "already started" in mentee.post(past, {"location": "Elsewhere", "video_url": "", "agenda": "", "topics": []}).content.decode()


def test_open_actions_come_first_soonest_due_and_an_overdue_one_says_so(pair, mentee):
    today = timezone.localdate()
    done = ActionItem.objects.create(pair=pair, text="qz-done", status=ActionItem.Status.DONE, done_at=timezone.now(), committed_by=pair.mentee.employee)
    later = ActionItem.objects.create(pair=pair, text="qz-later", due_on=today + datetime.timedelta(days=9), committed_by=pair.mentee.employee)
    undated = ActionItem.objects.create(pair=pair, text="qz-undated", committed_by=pair.mentee.employee)
    late = ActionItem.objects.create(pair=pair, text="qz-late", due_on=today - datetime.timedelta(days=3), committed_by=pair.mentee.employee)
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    order = sorted((page.index(a.text), a.text) for a in (done, later, undated, late))
    assert [text for _i, text in order] == ["qz-late", "qz-later", "qz-undated", "qz-done"]
    late_row = page[page.index(f'id="action-{late.pk}"') :][:800]
    assert "Overdue: due" in late_row and "Overdue" not in page[page.index(f'id="action-{later.pk}"') :][:800]


def test_an_id_from_another_pair_is_404_inside_my_pair(world, mentor_user):
    other = make_active_pair(mentor_user=mentor_user)  # same mentor, second mentee
    foreign = Meeting.objects.create(pair=other, starts_at=timezone.now() + datetime.timedelta(days=2), duration_minutes=30)
    client = client_for(mentor_user)
    assert client.get(reverse("meeting_cancel", args=[world["pair"].pk, foreign.pk])).status_code == 404
    assert client.get(reverse("meeting_ics", args=[world["pair"].pk, foreign.pk])).status_code == 404
    assert client.get(reverse("meeting_details", args=[world["pair"].pk, foreign.pk])).status_code == 404
    assert client.get(reverse("session_log_create", args=[world["pair"].pk]) + f"?meeting={foreign.pk}").status_code == 404


@pytest.mark.parametrize(("name", "methods"), ME_ROUTES, ids=[n for n, _m in ME_ROUTES])
def test_my_pages_need_a_participant(client, executive_client, participant_client, name, methods):
    url = reverse(name)
    assert client.get(url).status_code == 302
    assert executive_client.get(url).status_code == 403
    if methods == G:
        assert participant_client.get(url).status_code == 200
        assert participant_client.post(url).status_code == 405
    else:
        assert participant_client.get(url).status_code == 405


def test_survey_answer_and_feed_check_role_and_method(pair, mentee, client, executive_client):
    url = reverse("survey_answer", args=[pair.mentee.pk, "baseline"])
    assert client.get(url).status_code == 302
    assert executive_client.get(url).status_code == 403
    assert mentee.put(url).status_code == 405
    feed = services.calendar_feed_for(me=pair.mentee.employee)
    assert client.post(reverse("calendar_feed", args=[feed.token])).status_code == 405


# --- The pair page --------------------------------------------------------------------------------------------------


def test_pair_page_shows_partner_program_goals_and_what_is_due(world, mentor, mentee):
    pair = world["pair"]
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "Sam Senior" in page and "VP Finance" in page and pair.program.name in page
    assert "Use an AI assistant weekly" in page and '<progress class="goal-progress" max="100" value="20"' in page
    assert "Log your session of" in page  # the past meeting is not logged
    assert "Answer the safety pulse for" in page and "Raise a confidential concern" in page
    assert "End this pair" in page
    mentee_page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    version = Agreement.objects.get(pair=pair).version
    assert "Read and acknowledge the agreement" in mentee_page and f"I agree to version {version}" in mentee_page
    assert "Answer the safety pulse" not in mentee_page and "Raise a confidential concern" not in mentee_page
    assert "Mark done" in mentee_page and "Reply in team chat" in mentee_page


def test_partner_local_time_is_shown(pair, mentor):
    now_ny = timezone.now().astimezone(NEW_YORK)
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "America/New_York" in page
    assert now_ny.strftime("%H:%M") in page or (now_ny + datetime.timedelta(minutes=1)).strftime("%H:%M") in page


def test_each_side_sees_the_meeting_in_their_own_time_zone(pair, mentor, mentee):
    start = datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=5), datetime.time(15, 30), tzinfo=datetime.UTC)
    Meeting.objects.create(pair=pair, starts_at=start, duration_minutes=45)
    london = start.astimezone(LONDON).strftime("%H:%M")
    new_york = start.astimezone(NEW_YORK).strftime("%H:%M")
    assert london != new_york
    mentor_page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    mentee_page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert f"{london}</time>" in mentor_page and f"{new_york}</time>" not in mentor_page
    assert f"{new_york}</time>" in mentee_page and f"{london}</time>" not in mentee_page
    assert "Europe/London" in mentor_page and "America/New_York" in mentee_page


def test_a_meeting_under_way_offers_logging_not_moving(pair, mentor):
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(minutes=10), duration_minutes=45)
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert f"?meeting={meeting.pk}" in page
    assert reverse("meeting_cancel", args=[pair.pk, meeting.pk]) not in page


def test_a_quiet_pair_is_flagged_stuck(pair, mentor):
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=30))
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "Quiet for 30 days" in page
    Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=30)
    assert "Quiet for" not in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()


def test_an_ended_pair_is_read_only_history(world, mentor):
    pair = world["pair"]
    services.pair_close(pair=pair, me=pair.mentee.employee, reason="completed", reflection="I learned to ask.")
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "This pair ended on" in page and "We tried prompts" in page
    assert "Schedule a meeting" not in page and "End this pair" not in page and "Mark done" not in page
    assert "Save my reflection" in page and "I learned to ask." not in page  # the partner's reflection stays theirs
    response = mentor.get(reverse("meeting_schedule", args=[pair.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("pair_detail", args=[pair.pk])
    agreement = mentor.get(reverse("agreement_edit", args=[pair.pk])).content.decode()
    assert "Use an AI assistant weekly" in agreement and "Save the agreement" not in agreement and "I have read it and agree" not in agreement
    response = mentor.post(reverse("agreement_edit", args=[pair.pk]), agreement_post(**{"goals-0-title": "New goal"}))
    assert "This pair has ended" in response.content.decode() and not AgreementGoal.objects.filter(title="New goal").exists()


def add_history(pair, n, start=0):
    topics = list(pair.program.topics.all())
    for i in range(start, start + n):
        meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=i + 1), duration_minutes=30)
        meeting.topics.set(topics)
        Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=i + 1), duration_minutes=30)
        Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=i + 1, hours=3), duration_minutes=30, status=Meeting.Status.CANCELLED)
        log = services.session_log_create(pair=pair, me=pair.mentee.employee, data=a_log(pair, topics=topics, private_note=f"note {i}", actions=[(f"act {i}", None)]), meeting=meeting)
        services.private_note_save(log=log, me=pair.mentor.employee, text=f"mentor note {i}")
        services.feedback_submit(log=log, me=pair.mentor.employee, usefulness=4, psychological_safety=4)
        services.insight_add(pair=pair, me=pair.mentor.employee, text=f"insight {i}", topic=topics[0])


@pytest.mark.parametrize("client_side", ["mentor", "mentee"])
def test_pair_page_query_count_does_not_grow_with_history(pair, mentor, mentee, django_assert_max_num_queries, client_side):
    client = mentor if client_side == "mentor" else mentee
    services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="x", boundaries="", confidentiality="", goals=[GoalInput(f"Goal {i}") for i in range(3)])
    add_history(pair, 2)
    # 19: the mentor's page also reads where their own concerns stand (one query, however many).
    with django_assert_max_num_queries(19) as small:
        assert client.get(reverse("pair_detail", args=[pair.pk])).status_code == 200
    add_history(pair, 10, start=2)
    with django_assert_max_num_queries(19) as large:
        response = client.get(reverse("pair_detail", args=[pair.pk]))
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(response.context["page"].logs) == 12 and len(response.context["page"].past) == 12


def log_history(pair, days):
    """One log a day ago for each of `days`, each with its own shared note; the newest first."""
    topics = list(pair.program.topics.all()[:1])
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=max(days) + 1))
    pair.refresh_from_db()
    logs = []
    for day in days:
        meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=day), duration_minutes=30)
        logs.append(services.session_log_create(pair=pair, me=pair.mentee.employee, meeting=meeting, data=a_log(pair, held_on=timezone.localdate() - datetime.timedelta(days=day), topics=topics, shared_notes=f"notes of day {day}")))
    return logs


def test_the_pair_page_shows_the_latest_logs_open_and_folds_the_older_ones(pair, mentor):
    logs = log_history(pair, [1, 8, 15, 22, 29])
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    open_ids = re.findall(r'<article class="card mb-3 session-log" id="log-(\d+)"', page)
    folded_ids = re.findall(r'<details class="card mb-2 session-log" id="log-(\d+)">', page)
    assert open_ids == [str(logs[0].pk), str(logs[1].pk)]
    assert folded_ids == [str(log.pk) for log in logs[2:]]
    assert "3 earlier sessions: open one to read it." in page
    # Folded, not gone: without any script, each opens on a click and all is in the page.
    for day in (1, 8, 15, 22, 29):
        assert f"notes of day {day}" in page
    for log in logs[2:]:
        assert reverse("feedback_submit", args=[pair.pk, log.pk]) in page and reverse("private_note_edit", args=[pair.pk, log.pk]) in page
    # Past meetings: the three latest, then the rest under a summary.
    assert page.index(f'id="meeting-{logs[2].meeting_id}"') < page.index('<details class="mt-2" id="older-meetings">') < page.index(f'id="meeting-{logs[3].meeting_id}"')
    assert "2 earlier meetings" in page
    assert "js/sessions.js" in page  # which opens a folded log that a link points to (#log-12)


def test_two_logs_are_both_open_and_nothing_is_folded(pair, mentor):
    log_history(pair, [1, 8])
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert page.count('<article class="card mb-3 session-log"') == 2
    assert "<details class=\"card" not in page and "earlier session" not in page and "earlier meeting" not in page


def test_the_concern_link_is_near_the_top_for_the_mentor_whether_or_not_one_was_raised(pair, mentor, mentee):
    url = reverse("concern_raise", args=[pair.pk])
    before = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    mentee_before = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    # In the header, ahead of the meetings and logs (on a phone the "More" card comes last).
    assert before.index("<h1") < before.index(f'href="{url}"') < before.index('id="next-meeting"')
    services.concern_raise(pair=pair, me=pair.mentor.employee, text="My mentee dismisses me")
    after = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert after.count(f'href="{url}"') == before.count(f'href="{url}"') == 2  # the top link and the one in "More"
    assert after.index(f'href="{url}"') < after.index('id="next-meeting"')
    # The mentee's page has no such link and shows nothing of it, before or after.
    mentee_after = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    for page in (mentee_before, mentee_after):
        assert url not in page and "concern" not in page.lower()


# --- Agreement ------------------------------------------------------------------------------------------------------------


def agreement_post(**goals):
    data = {"meeting_frequency": "Every two weeks", "boundaries": "No HR topics", "confidentiality": "Chatham House", "goals-TOTAL_FORMS": "5", "goals-INITIAL_FORMS": "5"}
    for i in range(5):
        data.update({f"goals-{i}-title": "", f"goals-{i}-progress": "", f"goals-{i}-note": ""})
    data.update(goals)
    return data


def test_agreement_is_written_then_acknowledged_by_the_partner(pair, mentor, mentee):
    assert mentor.get(reverse("agreement_edit", args=[pair.pk])).status_code == 200
    response = mentor.post(reverse("agreement_edit", args=[pair.pk]), agreement_post(**{"goals-0-title": "Ship a prompt library", "goals-0-progress": "10", "goals-2-title": "Post on the intranet"}))
    assert response.status_code == 302
    agreement = Agreement.objects.get(pair=pair)
    assert [g.title for g in agreement.goals.all()] == ["Ship a prompt library", "Post on the intranet"]
    assert agreement.mentor_acknowledged_version == agreement.version and agreement.mentee_acknowledged_version != agreement.version
    response = mentee.post(reverse("agreement_acknowledge", args=[pair.pk]), {"version": agreement.version})
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.fully_acknowledged


def test_saving_an_agreement_the_partner_changed_meanwhile_is_refused_and_keeps_my_text(pair, mentor, mentee):
    """Found in QA: the mentor's form, opened before the mentee changed the boundaries and a
    goal's progress, saved over both without a word."""
    import re as _re

    services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="Every two weeks", boundaries="Template", confidentiality="", goals=[GoalInput("Learn prompts", 30)])
    page = mentor.get(reverse("agreement_edit", args=[pair.pk])).content.decode()
    revision = _re.search(r'name="revision" value="([0-9a-f]+)"', page).group(1)
    services.agreement_save(pair=pair, me=pair.mentee.employee, meeting_frequency="Every two weeks", boundaries="No calls after 19:00", confidentiality="", goals=[GoalInput("Learn prompts", 60, "Asked 3 of 8")])
    mine = agreement_post(**{"revision": revision, "confidentiality": "Only what we both agree", "goals-0-title": "Learn prompts", "goals-0-progress": "30"})

    response = mentor.post(reverse("agreement_edit", args=[pair.pk]), mine)
    body = response.content.decode()
    assert response.status_code == 200 and "Your partner changed the agreement while you were editing it" in body
    assert "No calls after 19:00" in body and "Only what we both agree" in body  # theirs above, mine kept in the form
    agreement = Agreement.objects.get(pair=pair)
    assert agreement.boundaries == "No calls after 19:00" and agreement.goals.get().progress == 60
    # Saving again (the form now carries the new revision) replaces theirs, knowingly.
    again = {**mine, "revision": _re.search(r'name="revision" value="([0-9a-f]+)"', body).group(1)}
    assert mentor.post(reverse("agreement_edit", args=[pair.pk]), again).status_code == 302
    assert Agreement.objects.get(pair=pair).confidentiality == "Only what we both agree"


def test_acknowledging_an_old_version_is_refused_with_a_message(pair, mentor, mentee):
    services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="a", boundaries="", confidentiality="", goals=[GoalInput("g")])
    services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="b", boundaries="", confidentiality="", goals=[GoalInput("g")])
    response = mentee.post(reverse("agreement_acknowledge", args=[pair.pk]), {"version": 1}, follow=True)
    assert "changed while you were reading it" in response.content.decode()
    assert Agreement.objects.get(pair=pair).mentee_acknowledged_version == 0


def test_acknowledging_before_the_agreement_exists_is_not_an_error(pair, mentee):
    response = mentee.post(reverse("agreement_acknowledge", args=[pair.pk]), {"version": 1})
    assert response.status_code == 302
    assert Agreement.objects.get(pair=pair).mentee_acknowledged_version == 1


def test_an_agreement_without_goals_is_refused(pair, mentor):
    response = mentor.post(reverse("agreement_edit", args=[pair.pk]), agreement_post())
    assert response.status_code == 200 and "Write at least one goal." in response.content.decode()
    assert not AgreementGoal.objects.exists()


def test_goal_progress_is_updated_without_a_new_version(world, mentee):
    version = Agreement.objects.get(pair=world["pair"]).version
    response = mentee.post(reverse("goal_progress", args=[world["pair"].pk, world["goal_id"]]), {"progress": "60", "note": "halfway"})
    assert response.status_code == 302
    goal = AgreementGoal.objects.get(pk=world["goal_id"])
    assert (goal.progress, goal.note, goal.agreement.version) == (60, "halfway", version)
    mentee.post(reverse("goal_progress", args=[world["pair"].pk, world["goal_id"]]), {"progress": "150"})
    goal.refresh_from_db()
    assert goal.progress == 60


# --- Meetings ---------------------------------------------------------------------------------------------------------------


def meeting_post(when: datetime.datetime, **extra):
    return {"day": when.date().isoformat(), "time": when.strftime("%H:%M"), "duration_minutes": "45", "location": "", "video_url": "https://meet.example/abc", "agenda": "AI tools demo", **extra}


def parse_ics(message):
    [(name, content, mimetype)] = message.attachments
    assert name == "invite.ics" and mimetype.startswith("text/calendar")
    return vobject.readOne(content if isinstance(content, str) else content.decode())


def test_schedule_form_defaults_to_the_program_length_and_offers_common_times(pair, mentor):
    pair.mentor.availability = ["tue-14"]
    pair.mentor.save()
    pair.mentee.availability = ["tue-10"]
    pair.mentee.save()
    response = mentor.get(reverse("meeting_schedule", args=[pair.pk]))
    page = response.content.decode()
    assert response.context["form"].initial["duration_minutes"] == pair.program.meeting_minutes
    [first, *_rest] = services.suggested_times(pair=pair)
    assert first.astimezone(LONDON).strftime("%a %-d %b, %H:%M") in page
    prefilled = mentor.get(reverse("meeting_schedule", args=[pair.pk]), {"at": first.isoformat()})
    initial = prefilled.context["form"].initial
    assert (initial["day"], initial["time"]) == (first.astimezone(LONDON).date(), first.astimezone(LONDON).time())


def test_scheduling_emails_both_sides_an_invite_with_the_utc_start(pair, mentor, deliver_outbox):
    when = local_slot(hour=15)  # 15:00 in the mentor's London
    response = mentor.post(reverse("meeting_schedule", args=[pair.pk]), meeting_post(when, topics=[pair.program.topics.first().pk]))
    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert meeting.starts_at == when.astimezone(datetime.UTC) and meeting.scheduled_by == pair.mentor.employee
    assert deliver_outbox() == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}
    for email in by_recipient.values():
        event = parse_ics(email).vevent
        assert event.dtstart.value == when.astimezone(datetime.UTC)
        assert event.uid.value == f"{meeting.uid}@upward"
    # Each side's email reads in their own zone, whoever scheduled it.
    assert when.astimezone(LONDON).strftime("%H:%M") in by_recipient[pair.mentor.employee.email].subject
    assert when.astimezone(NEW_YORK).strftime("%H:%M") in by_recipient[pair.mentee.employee.email].subject


@pytest.mark.parametrize(
    ("when", "extra", "message"),
    [
        (lambda: timezone.now().astimezone(LONDON) - datetime.timedelta(hours=2), {}, "Choose a time in the future."),
        (lambda: local_slot(), {"duration_minutes": "-30"}, "Ensure this value is greater than or equal to 10."),
        (lambda: local_slot(), {"duration_minutes": "0"}, "Ensure this value is greater than or equal to 10."),
        (lambda: datetime.datetime(2027, 3, 28, 1, 30), {}, "That time does not exist in your time zone"),
    ],
    ids=["in-the-past", "ends-before-it-starts", "no-length", "clocks-go-forward"],
)
def test_refused_times_are_form_errors_and_nothing_is_written(pair, mentor, deliver_outbox, when, extra, message):
    response = mentor.post(reverse("meeting_schedule", args=[pair.pk]), meeting_post(when(), **extra))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "AI tools demo" in page  # what was typed is kept
    assert not Meeting.objects.exists()
    assert deliver_outbox() == 0 and not mail.outbox


def test_reschedule_moves_the_meeting_and_sends_updated_invites(world, mentee, deliver_outbox):
    pair = world["pair"]
    later = local_slot(days=6, hour=11, zone=NEW_YORK)
    url = reverse("meeting_reschedule", args=[pair.pk, world["meeting_id"]])
    assert mentee.get(url).status_code == 200
    response = mentee.post(url, {"day": later.date().isoformat(), "time": "11:00", "duration_minutes": "30", "reason": "Board meeting"})
    assert response.status_code == 302
    meeting = Meeting.objects.get(pk=world["meeting_id"])
    assert meeting.starts_at == later.astimezone(datetime.UTC) and meeting.duration_minutes == 30 and meeting.sequence == 1
    change = MeetingChange.objects.get(meeting=meeting)
    assert (change.kind, change.requested_by_role, change.reason) == ("rescheduled", "mentee", "Board meeting")
    assert deliver_outbox() == 2
    event = parse_ics(mail.outbox[0]).vevent
    assert int(event.sequence.value) == 1 and event.dtstart.value == later.astimezone(datetime.UTC)


def test_the_move_page_shows_the_booking_in_both_peoples_time(world, mentee):
    meeting = Meeting.objects.get(pk=world["meeting_id"])
    here = meeting.starts_at.astimezone(NEW_YORK)
    there = meeting.starts_at.astimezone(zoneinfo.ZoneInfo("Europe/London"))
    page = mentee.get(reverse("meeting_reschedule", args=[world["pair"].pk, meeting.pk])).content.decode()
    assert f"{here:%H:%M} ({there:%A %H:%M} for Maya)" in page
    assert "Times are in your time zone (America/New_York); Maya is in Europe/London." in page


def test_reschedule_to_the_past_keeps_the_meeting(world, mentee):
    url = reverse("meeting_reschedule", args=[world["pair"].pk, world["meeting_id"]])
    yesterday = timezone.now().astimezone(NEW_YORK) - datetime.timedelta(days=1)
    response = mentee.post(url, {"day": yesterday.date().isoformat(), "time": "11:00", "duration_minutes": "30", "reason": "x"})
    assert response.status_code == 200 and "Choose a time in the future." in response.content.decode()
    assert Meeting.objects.get(pk=world["meeting_id"]).sequence == 0


def test_a_refused_form_says_at_the_top_that_nothing_was_saved_and_which_field_to_fix(world, mentor):
    """The summary said only "Some answers need another look" for field errors, and for a
    form-wide message said nothing of it not being saved."""
    url = reverse("meeting_cancel", args=[world["pair"].pk, world["meeting_id"]])
    body = mentor.post(url, {"reason": ""}).content.decode()
    summary = re.search(r'<div class="alert alert-danger form-errors" role="alert">(.*?)</div>', body, re.S).group(1)
    assert " ".join(re.sub(r"<[^>]+>", " ", summary).split()) == "Nothing was saved. 1 field below needs another look, with the message next to it: Why it is cancelled"
    assert 'href="#id_reason"' in summary and 'id="id_reason"' in body


def test_a_form_wide_refusal_is_listed_under_nothing_was_saved(pair, mentor):
    services.agreement_save(pair=pair, me=pair.mentor.employee, meeting_frequency="Every two weeks", boundaries="Template", confidentiality="", goals=[GoalInput("Learn prompts", 30)])
    page = mentor.get(reverse("agreement_edit", args=[pair.pk])).content.decode()
    revision = re.search(r'name="revision" value="([0-9a-f]+)"', page).group(1)
    services.agreement_save(pair=pair, me=pair.mentee.employee, meeting_frequency="Every two weeks", boundaries="Later", confidentiality="", goals=[GoalInput("Learn prompts", 60)])

    body = mentor.post(reverse("agreement_edit", args=[pair.pk]), agreement_post(**{"revision": revision, "goals-0-title": "Learn prompts", "goals-0-progress": "30"})).content.decode()

    summary = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'<div class="alert alert-danger form-errors" role="alert">(.*?)</div>', body, re.S).group(1)).split())
    assert summary.startswith("Nothing was saved. Your partner changed the agreement while you were editing it") and "field below" not in summary


def test_cancel_needs_a_reason_then_tells_both_calendars(world, mentor, deliver_outbox):
    url = reverse("meeting_cancel", args=[world["pair"].pk, world["meeting_id"]])
    response = mentor.post(url, {"reason": ""})
    assert response.status_code == 200 and "Say briefly why" in response.content.decode()
    assert Meeting.objects.get(pk=world["meeting_id"]).status == "scheduled"
    assert mentor.post(url, {"reason": "Sick"}).status_code == 302
    meeting = Meeting.objects.get(pk=world["meeting_id"])
    assert meeting.status == "cancelled" and meeting.changes.get().requested_by_role == "mentor"
    deliver_outbox()
    calendar = parse_ics(mail.outbox[0])
    assert calendar.method.value == "CANCEL" and calendar.vevent.status.value == "CANCELLED"


# --- Session logs, pulse, feedback ---------------------------------------------------------------------------------------------


def today_in(zone) -> datetime.date:
    return timezone.now().astimezone(zone).date()


def log_post(pair, zone=LONDON, **extra):
    return {"held_on": today_in(zone).isoformat(), "minutes": "45", "topics": [pair.program.topics.first().pk], "mentor_learned": "How budgets work",
            "mentee_learned": "Prompting", "shared_notes": "Good session", "private_note": "", **extra}


def test_log_against_a_meeting_is_prefilled_and_the_mentor_goes_on_to_the_pulse(world, mentor):
    pair = world["pair"]
    url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={world['past_meeting_id']}"
    form = mentor.get(url).context["form"]
    assert form.initial["minutes"] == 45 and "action_0_text" not in form.fields  # actions are the mentee's
    response = mentor.post(url, log_post(pair, private_note="felt rushed"))
    log = SessionLog.objects.get(meeting_id=world["past_meeting_id"])
    assert response.status_code == 302 and response["Location"] == reverse("pulse_submit", args=[pair.pk, log.pk])
    assert log.author == pair.mentor.employee and log.private_notes.get().text == "felt rushed"


def test_the_mentee_logs_with_actions_and_goes_on_to_feedback(pair, mentee):
    url = reverse("session_log_create", args=[pair.pk])
    response = mentee.post(url, log_post(pair, NEW_YORK, action_0_text="Try Copilot for a week", action_0_due=(today_in(NEW_YORK) + datetime.timedelta(days=7)).isoformat()))
    log = SessionLog.objects.get()
    assert response["Location"] == reverse("feedback_submit", args=[pair.pk, log.pk])
    assert ActionItem.objects.get().text == "Try Copilot for a week"


def test_no_log_for_an_ended_pair(pair, mentor):
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now(), end_reason="completed")
    url = reverse("session_log_create", args=[pair.pk])
    response = mentor.post(url, log_post(pair))
    assert response.status_code == 200 and "This pair has ended" in response.content.decode()
    assert not SessionLog.objects.exists()
    assert mentor.get(url).status_code == 302


def test_a_log_in_the_future_is_a_form_error(pair, mentor):
    response = mentor.post(reverse("session_log_create", args=[pair.pk]), log_post(pair, held_on=(timezone.localdate() + datetime.timedelta(days=2)).isoformat()))
    assert "the date is in the future" in response.content.decode() and not SessionLog.objects.exists()


EMPTY_LOG = {"topics": [], "mentor_learned": "", "mentee_learned": "", "shared_notes": ""}


def test_an_empty_log_is_refused_and_what_was_typed_stays(pair, mentor):
    url = reverse("session_log_create", args=[pair.pk])
    response = mentor.post(url, log_post(pair, **EMPTY_LOG, minutes="50", private_note="I felt rushed"))
    assert response.status_code == 200 and not SessionLog.objects.exists() and not PrivateNote.objects.exists()
    page = response.content.decode()
    assert "Say what the session covered: choose a topic, or write what was learned or a shared note." in page
    assert "only you can read it, so your partner would see an empty log" in page  # why the private note is not enough
    assert "an action you commit to" not in page  # the mentor has no actions to write
    assert 'value="50"' in page and "I felt rushed</textarea>" in page  # nothing typed is lost
    # Spaces are not content either; one topic is enough.
    assert mentor.post(url, log_post(pair, **{**EMPTY_LOG, "shared_notes": "   "})).status_code == 200 and not SessionLog.objects.exists()
    assert mentor.post(url, log_post(pair, **{**EMPTY_LOG, "topics": [pair.program.topics.first().pk]})).status_code == 302
    assert SessionLog.objects.count() == 1


def test_the_mentees_empty_log_is_refused_but_an_action_alone_is_a_log(pair, mentee):
    url = reverse("session_log_create", args=[pair.pk])
    response = mentee.post(url, log_post(pair, NEW_YORK, **EMPTY_LOG))
    assert response.status_code == 200 and "a shared note or an action you commit to" in response.content.decode()
    assert not SessionLog.objects.exists()
    assert mentee.post(url, log_post(pair, NEW_YORK, **EMPTY_LOG, action_0_text="Try Copilot for a week")).status_code == 302
    assert ActionItem.objects.get().session_log == SessionLog.objects.get()


def test_a_log_made_of_an_action_alone_can_have_its_date_and_minutes_fixed(pair, mentee):
    url = reverse("session_log_create", args=[pair.pk])
    assert mentee.post(url, log_post(pair, NEW_YORK, **EMPTY_LOG, action_0_text="Try Copilot for a week")).status_code == 302
    log = SessionLog.objects.get()
    edit = reverse("session_log_edit", args=[pair.pk, log.pk])
    assert "Try Copilot" not in mentee.get(edit).content.decode()  # the edit form has no action rows

    response = mentee.post(edit, log_post(pair, NEW_YORK, **EMPTY_LOG, minutes="30"))

    assert response.status_code == 302
    log.refresh_from_db()
    assert log.minutes == 30 and log.actions.get().text == "Try Copilot for a week"


def test_a_log_cannot_be_emptied_by_an_edit(world, mentor):
    pair = world["pair"]
    response = mentor.post(reverse("session_log_edit", args=[pair.pk, world["log_id"]]), log_post(pair, **EMPTY_LOG))
    assert response.status_code == 200 and "Say what the session covered" in response.content.decode()
    log = SessionLog.objects.get(pk=world["log_id"])
    assert log.shared_notes and log.topics.exists()


def test_an_action_due_in_the_past_is_refused_on_the_log_form_as_on_the_pair_page(pair, mentee):
    url = reverse("session_log_create", args=[pair.pk])
    yesterday = (today_in(NEW_YORK) - datetime.timedelta(days=1)).isoformat()
    response = mentee.post(url, log_post(pair, NEW_YORK, action_0_text="Try Copilot", action_0_due=yesterday))
    assert response.status_code == 200
    assert response.context["form"].errors["action_0_due"] == ["The due date is in the past."]
    assert not SessionLog.objects.exists() and not ActionItem.objects.exists()
    assert 'value="Try Copilot"' in response.content.decode()  # what was typed stays


def test_saving_the_same_ad_hoc_log_twice_keeps_one(pair, mentor):
    # Back after saving, then Save again: the same session, not a second one.
    url = reverse("session_log_create", args=[pair.pk])
    assert mentor.post(url, log_post(pair)).status_code == 302
    again = mentor.post(url, log_post(pair))
    assert again.status_code == 200 and "You already logged this session" in again.content.decode()
    assert SessionLog.objects.count() == 1
    # Another session the same day, with other notes, is logged.
    assert mentor.post(url, log_post(pair, shared_notes="Second chat, on prompts")).status_code == 302
    assert SessionLog.objects.count() == 2


def test_only_the_author_edits_a_log(world, mentor, mentee):
    pair = world["pair"]
    url = reverse("session_log_edit", args=[pair.pk, world["log_id"]])
    assert mentor.post(url, log_post(pair, minutes="60", private_note="mine")).status_code == 302
    log = SessionLog.objects.get(pk=world["log_id"])
    assert log.minutes == 60 and log.private_notes.get().text == "mine"
    response = mentee.post(url, log_post(pair, NEW_YORK, minutes="90"))
    assert "Only the person who wrote this log can edit it." in response.content.decode()
    log.refresh_from_db()
    assert log.minutes == 60


def test_the_partner_keeps_their_own_private_note_on_a_log(world, mentee):
    url = reverse("private_note_edit", args=[world["pair"].pk, world["log_id"]])
    assert mentee.post(url, {"text": "Ask about budgets"}).status_code == 302
    assert PrivateNote.objects.get(author=world["pair"].mentee.employee).text == "Ask about budgets"
    mentee.post(url, {"text": ""})
    assert not PrivateNote.objects.filter(author=world["pair"].mentee.employee).exists()


def test_pulse_then_feedback(world, mentor):
    pair = world["pair"]
    response = mentor.post(reverse("pulse_submit", args=[pair.pk, world["log_id"]]), {"felt_heard": "4", "safe_to_be_candid": "5", "wants_to_continue": "5"})
    assert response["Location"] == reverse("feedback_submit", args=[pair.pk, world["log_id"]])
    assert SafetyPulse.objects.get().felt_heard == 4
    again = mentor.get(reverse("pulse_submit", args=[pair.pk, world["log_id"]]), follow=True)
    assert "already answered the pulse" in again.content.decode()
    assert "Pulse answered" in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()


def test_pulse_page_says_who_never_sees_the_answers(world, mentor):
    page = mentor.get(reverse("pulse_submit", args=[world["pair"].pk, world["log_id"]])).content.decode()
    assert "never shown to your mentee, and never to HR" in page


def test_incomplete_pulse_is_a_form_error(world, mentor):
    response = mentor.post(reverse("pulse_submit", args=[world["pair"].pk, world["log_id"]]), {"felt_heard": "4"})
    assert response.status_code == 200 and "Choose a number from 1 to 5." in response.content.decode() and "This field is required." not in response.content.decode()
    assert not SafetyPulse.objects.exists()


def test_duplicate_feedback_gives_a_message_and_keeps_one_row(world, mentee):
    url = reverse("feedback_submit", args=[world["pair"].pk, world["log_id"]])
    data = {"usefulness": "5", "psychological_safety": "4", "comment": "Great"}
    assert mentee.post(url, data).status_code == 302
    response = mentee.post(url, data, follow=True)
    assert "You have already given feedback on this session." in response.content.decode()
    assert Feedback.objects.count() == 1
    assert "never sees your ratings" not in response.content.decode()


def test_the_last_session_can_still_be_rated_after_the_pair_ended(world, mentee):
    pair = world["pair"]
    services.pair_close(pair=pair, me=pair.mentee.employee, reason="completed", reflection="We both learned.")
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    url = reverse("feedback_submit", args=[pair.pk, world["log_id"]])
    assert f'href="{url}"' in page and "Rate the session of" in page
    assert "Maya never sees your ratings" in mentee.get(url).content.decode()
    assert mentee.post(url, {"usefulness": "4", "psychological_safety": "5", "comment": ""}).status_code == 302
    assert Feedback.objects.filter(session_log_id=world["log_id"], author__employee=pair.mentee.employee).exists()
    # Not once the program is archived: its record is final.
    Feedback.objects.all().delete()
    Program.objects.filter(pk=pair.program_id).update(status=Program.Status.ARCHIVED)
    assert mentee.get(url).status_code == 302
    mentee.post(url, {"usefulness": "4", "psychological_safety": "5", "comment": ""})
    assert not Feedback.objects.exists()


def test_each_sessions_buttons_say_which_session_for_screen_readers(world, mentee):
    pair = world["pair"]
    services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair, held_on=timezone.localdate() - datetime.timedelta(days=3)))
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    names = [re.sub(r"<[^>]+>|\s+", " ", m).strip() for m in re.findall(r'<a class="btn btn-sm[^"]*" href="/pairs/\d+/logs/\d+/[^"]*">(.*?)</a>', page, re.S)]
    notes = [n for n in names if "private note" in n]
    rates = [n for n in names if "Rate this session" in n]
    assert len(notes) == 2 and len(set(notes)) == 2 and len(rates) == 2 and len(set(rates)) == 2, names


def test_feedback_page_says_the_partner_never_sees_it(world, mentee):
    page = mentee.get(reverse("feedback_submit", args=[world["pair"].pk, world["log_id"]])).content.decode()
    assert "Maya never sees your ratings or your comment." in page


# --- Concern, insights, actions, closure -----------------------------------------------------------------------------------------


def test_the_mentor_raises_a_confidential_concern(pair, mentor, mentee):
    page = mentor.get(reverse("concern_raise", args=[pair.pk])).content.decode()
    assert "Only HR reads this." in page
    assert mentor.post(reverse("concern_raise", args=[pair.pk]), {"text": "My mentee dismisses me"}).status_code == 302
    assert Concern.objects.get().text == "My mentee dismisses me"
    # The mentor sees where it stands with HR; the mentee sees nothing of it.
    Concern.objects.update(status=Concern.Status.IN_HAND)
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "in hand with HR" in page and 'data-testid="my-concern"' in page
    assert 'data-testid="my-concern"' not in mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()


def test_insights_by_the_mentor_actions_by_the_mentee(pair, mentor, mentee):
    topic = pair.program.topics.first()
    assert mentor.post(reverse("insight_add", args=[pair.pk]), {"topic": topic.pk, "text": "Teams prefer chat"}).status_code == 302
    insight = Insight.objects.get()
    response = mentee.post(reverse("insight_add", args=[pair.pk]), {"text": "mine"}, follow=True)
    assert "Insights are recorded by the mentor." in response.content.decode() and Insight.objects.count() == 1
    assert mentee.post(reverse("action_commit", args=[pair.pk]), {"text": "Use chat for a week", "insight": insight.pk}).status_code == 302
    action = ActionItem.objects.get()
    assert action.insight == insight
    response = mentor.post(reverse("action_commit", args=[pair.pk]), {"text": "not mine"}, follow=True)
    assert "Actions are committed by the mentee." in response.content.decode() and ActionItem.objects.count() == 1
    mentee.post(reverse("action_set_done", args=[pair.pk, action.pk]), {"done": "1"})
    action.refresh_from_db()
    assert action.status == "done"
    both = [c.get(reverse("pair_detail", args=[pair.pk])).content.decode() for c in (mentor, mentee)]
    assert all("Teams prefer chat" in p and "Use chat for a week" in p for p in both)


def test_the_same_insight_action_or_concern_sent_twice_is_saved_once(pair, mentor, mentee):
    from mentoring.models import OutboxMessage

    UserFactory(roles=[Role.HR_ADMIN])  # told of the concern
    topic = pair.program.topics.first()
    for _ in range(2):  # a double click, or a browser retrying a slow post
        assert mentor.post(reverse("insight_add", args=[pair.pk]), {"topic": topic.pk, "text": "Chat beats email"}).status_code == 302
        assert mentee.post(reverse("action_commit", args=[pair.pk]), {"text": "Answer in chat"}).status_code == 302
        assert mentor.post(reverse("concern_raise", args=[pair.pk]), {"text": "Meetings run late"}).status_code == 302
    assert (Insight.objects.count(), ActionItem.objects.count(), Concern.objects.count()) == (1, 1, 1)
    assert OutboxMessage.objects.count() == 1  # HR is told once
    # Different words, or the same ones a while later, are new.
    mentee.post(reverse("action_commit", args=[pair.pk]), {"text": "Answer in chat", "due_on": (timezone.localdate() + datetime.timedelta(days=9)).isoformat()})
    assert ActionItem.objects.count() == 2
    Insight.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    mentor.post(reverse("insight_add", args=[pair.pk]), {"topic": topic.pk, "text": "Chat beats email"})
    assert Insight.objects.count() == 2


def test_a_second_click_on_end_the_pair_lands_on_the_ended_pair(pair, mentor):
    url = reverse("pair_close", args=[pair.pk])
    data = {"reason": "completed", "reflection": "I learned to explain."}
    assert mentor.post(url, data).status_code == 302
    again = mentor.post(url, data)
    assert again.status_code == 302 and again.url == reverse("pair_detail", args=[pair.pk])
    assert Reflection.objects.count() == 1


def test_the_mentor_corrects_or_removes_an_insight_the_mentee_cannot(pair, mentor, mentee):
    topics = list(pair.program.topics.order_by("name")[:2])
    insight = services.insight_add(pair=pair, me=pair.mentor.employee, text="Teams prefr chat", topic=topics[0])
    action = services.action_commit(pair=pair, me=pair.mentee.employee, text="Use chat for a week", insight=insight)
    url = reverse("insight_edit", args=[pair.pk, insight.pk])
    assert f'href="{url}"' in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert f'href="{url}"' not in mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()

    page = mentor.get(url).content.decode()
    assert "Teams prefr chat" in page and "Removing it keeps the action your mentee committed to from it." in page
    blank = mentor.post(url, {"topic": topics[0].pk, "text": "  "})
    assert blank.status_code == 200 and "Write the insight." in blank.content.decode()
    assert mentor.post(url, {"topic": topics[1].pk, "text": "Teams prefer chat"}).status_code == 302
    insight.refresh_from_db()
    assert (insight.text, insight.topic) == ("Teams prefer chat", topics[1])

    refused = mentee.post(url, {"text": "Mine now"}, follow=True)
    assert "Insights are recorded by the mentor." in refused.content.decode()
    assert mentee.post(url, {"remove": "1"}).status_code == 302
    assert Insight.objects.get().text == "Teams prefer chat"

    assert mentor.post(url, {"remove": "1"}).status_code == 302
    assert not Insight.objects.exists()
    action.refresh_from_db()
    assert action.insight is None and action.text == "Use chat for a week"  # the action stays
    assert mentor.get(url).status_code == 404


def test_the_mentee_rewords_redates_or_removes_an_action(pair, mentor, mentee):
    today = timezone.localdate()
    action = services.action_commit(pair=pair, me=pair.mentee.employee, text="Try Copilt", due_on=today + datetime.timedelta(days=3))
    url = reverse("action_edit", args=[pair.pk, action.pk])
    assert f'href="{url}"' in mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert f'href="{url}"' not in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()

    past = mentee.post(url, {"text": "Try Copilot", "due_on": (today - datetime.timedelta(days=3)).isoformat()})
    assert past.status_code == 200 and "The due date is in the past." in past.content.decode()
    assert 'value="Try Copilot"' in past.content.decode()  # what was typed is kept
    assert mentee.post(url, {"text": "Try Copilot", "due_on": (today + datetime.timedelta(days=10)).isoformat()}).status_code == 302
    action.refresh_from_db()
    assert (action.text, action.due_on) == ("Try Copilot", today + datetime.timedelta(days=10))

    # A date that has passed may stay while the wording changes (the action is overdue).
    ActionItem.objects.filter(pk=action.pk).update(due_on=today - datetime.timedelta(days=2))
    assert mentee.post(url, {"text": "Try Copilot in Word", "due_on": (today - datetime.timedelta(days=2)).isoformat()}).status_code == 302
    action.refresh_from_db()
    assert action.text == "Try Copilot in Word"

    assert "Actions are committed by the mentee." in mentor.post(url, {"remove": "1"}, follow=True).content.decode()
    assert ActionItem.objects.exists()
    assert mentee.post(url, {"remove": "1"}).status_code == 302
    assert not ActionItem.objects.exists()


def test_insights_and_actions_of_an_ended_pair_cannot_be_edited(pair, mentor, mentee):
    insight = services.insight_add(pair=pair, me=pair.mentor.employee, text="Kept as it was")
    action = services.action_commit(pair=pair, me=pair.mentee.employee, text="Kept too")
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now())
    for client, url in ((mentor, reverse("insight_edit", args=[pair.pk, insight.pk])), (mentee, reverse("action_edit", args=[pair.pk, action.pk]))):
        assert "can be read but not changed" in client.get(url, follow=True).content.decode()
        client.post(url, {"text": "Changed", "remove": "1"})
    assert Insight.objects.get().text == "Kept as it was" and ActionItem.objects.get().text == "Kept too"
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert reverse("insight_edit", args=[pair.pk, insight.pk]) not in page


def test_the_partner_of_someone_who_ended_the_pair_is_asked_for_a_reflection_at_home(pair, mentor, mentee):
    services.pair_close(pair=pair, me=pair.mentor.employee, reason="completed", reflection="I learned to explain.")
    ask = "Write your reflection on the pair that ended"
    assert ask in mentee.get(reverse("participant_home")).content.decode()
    assert ask not in mentor.get(reverse("participant_home")).content.decode()  # theirs is written
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert page.count("Your reflection") == 1 and 'aria-labelledby="reflection-heading"' in page  # the heading labels the box
    mentee.post(reverse("reflection_save", args=[pair.pk]), {"text": "I learned to ask."})
    assert ask not in mentee.get(reverse("participant_home")).content.decode()
    my_pairs = mentee.get(reverse("my_pairs")).content.decode()
    assert my_pairs.count(">My pairs<") == 2  # breadcrumb and title, no third heading


def test_ending_a_pair_takes_a_reason_and_a_reflection_then_the_partner_adds_theirs(pair, mentor, mentee):
    url = reverse("pair_close", args=[pair.pk])
    response = mentor.post(url, {"reason": "completed", "reflection": ""})
    assert response.status_code == 200 and "Write a short reflection" in response.content.decode()
    assert mentor.post(url, {"reason": "hr_decision", "reflection": "x"}).status_code == 200  # not a participant's reason
    assert mentor.post(url, {"reason": "completed", "reflection": "I learned to explain."}).status_code == 302
    pair.refresh_from_db()
    assert pair.status == "ended" and pair.end_reason == "completed"
    assert mentee.post(reverse("reflection_save", args=[pair.pk]), {"text": "I learned to ask."}).status_code == 302
    assert sorted(Reflection.objects.values_list("text", flat=True)) == ["I learned to ask.", "I learned to explain."]


# --- Surveys ----------------------------------------------------------------------------------------------------------------------


def test_surveys_list_their_state_and_an_open_one_can_be_answered(pair, mentee, mentee_user):
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=3))
    page = mentee.get(reverse("survey_list")).content.decode()
    assert "Baseline survey" in page and "Midpoint survey" in page and "Closed on" in page and "Open until" in page
    url = reverse("survey_answer", args=[pair.mentee.pk, "midpoint"])
    form = mentee.get(url).context["form"]
    data = {key: "3" for key in form.item_keys}
    response = mentee.post(url, data)
    assert response.status_code == 200 and "Choose a number from 0 to 10." in response.content.decode()  # would-recommend missing
    assert mentee.post(url, {**data, "would_recommend": "9"}).status_code == 302
    response = SurveyResponse.objects.get()
    assert response.would_recommend == 9 and response.answers.count() == len(data)
    assert "Answered on" in mentee.get(reverse("survey_list")).content.decode()


def test_answered_surveys_stay_listed_after_leaving_the_program(pair, mentee):
    SurveyResponse.objects.create(enrollment=pair.mentee, kind="baseline")
    Enrollment.objects.filter(pk=pair.mentee.pk).update(status=Enrollment.Status.WITHDRAWN, withdrawn_at=timezone.now())
    page = mentee.get(reverse("survey_list")).content.decode()
    assert pair.program.name in page and "Baseline survey" in page and "Answered on" in page
    assert "you left this program" in page and "Midpoint survey" not in page and "No survey for you yet" not in page
    assert reverse("survey_answer", args=[pair.mentee.pk, "midpoint"]) not in page


def test_the_baseline_survey_has_no_recommend_question(pair, mentor):
    Program.objects.filter(pk=pair.program_id).update(starts_on=timezone.localdate() - datetime.timedelta(days=10))
    url = reverse("survey_answer", args=[pair.mentor.pk, "baseline"])
    response = mentor.get(url)
    assert "would_recommend" not in response.context["form"].fields and "recommend" not in response.content.decode()
    assert mentor.post(url, {key: "2" for key in response.context["form"].item_keys}).status_code == 302
    assert SurveyResponse.objects.get().would_recommend is None


def test_a_closed_survey_cannot_be_answered(pair, mentee):
    # The baseline closes 30 days after the program starts.
    Program.objects.filter(pk=pair.program_id).update(starts_on=timezone.localdate() - datetime.timedelta(days=35))
    url = reverse("survey_answer", args=[pair.mentee.pk, "baseline"])
    page = mentee.get(url).content.decode()
    assert "This survey closed on" in page and "Send my answers" not in page
    answers = {key: "3" for key, _i, _l in services.survey_items(pair.mentee)}
    page = mentee.post(url, answers, follow=True).content.decode()
    assert "This survey has closed." in page and "need another look" not in page and not SurveyResponse.objects.exists()
    # One not open yet says when it opens, in words.
    Program.objects.filter(pk=pair.program_id).update(final_survey_on=timezone.localdate() + datetime.timedelta(days=40), ends_on=timezone.localdate() + datetime.timedelta(days=60))
    final = reverse("survey_answer", args=[pair.mentee.pk, "final"])
    page = mentee.post(final, {**answers, "would_recommend": "9"}, follow=True).content.decode()
    assert "This survey opens on" in page and "need another look" not in page and not SurveyResponse.objects.exists()


def test_after_completion_the_final_survey_is_a_to_do_and_the_baseline_is_closed(pair, mentee, mentee_user, hr_user):
    """Found in QA: once the pair had ended with the program, the open final survey was on
    the surveys page but not on the home page (only people with a live pair had it there),
    while an unanswered baseline stayed open as the only to-do of a finished program."""
    from programs.services import program_transition

    today = timezone.localdate()
    Program.objects.filter(pk=pair.program_id).update(starts_on=today - datetime.timedelta(days=20), final_survey_on=today + datetime.timedelta(days=60))
    pair.program.refresh_from_db()
    program_transition(program=pair.program, to=Program.Status.COMPLETED, by=hr_user)
    home = mentee.get(reverse("participant_home")).content.decode()
    assert "Answer the final survey" in home
    assert "Answer the baseline survey" not in home
    baseline = reverse("survey_answer", args=[pair.mentee.pk, "baseline"])
    answers = {key: "3" for key, _i, _l in services.survey_items(pair.mentee)}
    assert "This survey has closed." in mentee.post(baseline, answers, follow=True).content.decode()
    assert mentee.post(reverse("survey_answer", args=[pair.mentee.pk, "final"]), {**answers, "would_recommend": "8"}).status_code == 302
    assert list(SurveyResponse.objects.values_list("kind", flat=True)) == ["final"]


def test_the_midpoint_and_final_surveys_are_for_people_who_had_a_pair(pair, hr_user):
    """Someone approved but never paired answering NPS and uplift would be about nothing
    they took part in: those surveys are not listed for them and refuse their answers."""
    user = make_person(level=7)
    unpaired = Enrollment.objects.create(program=pair.program, employee=user.employee, role="mentee", status=Enrollment.Status.APPROVED)
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=2))
    client = client_for(user)
    page = client.get(reverse("survey_list")).content.decode()
    assert "Baseline survey" in page and "Midpoint survey" not in page
    assert "Answer the midpoint survey" not in client.get(reverse("participant_home")).content.decode()
    url = reverse("survey_answer", args=[unpaired.pk, "midpoint"])
    assert client.post(url, {"would_recommend": "9"}).status_code == 404
    with pytest.raises(services.SessionError, match="about your pair"):
        services.survey_submit(enrollment=unpaired, me=user.employee, kind="midpoint", scores={}, would_recommend=9)
    # Once paired (and after the pair ended), they are.
    Pair.objects.create(program=pair.program, mentor=pair.mentor, mentee=unpaired, status=Pair.Status.ENDED, ended_at=timezone.now())
    assert "Midpoint survey" in client.get(reverse("survey_list")).content.decode()


def test_an_archived_programs_surveys_take_no_answers(pair, mentee):
    today = timezone.localdate()
    Program.objects.filter(pk=pair.program_id).update(status=Program.Status.ARCHIVED, final_survey_on=today - datetime.timedelta(days=2), ends_on=today - datetime.timedelta(days=1))
    answers = {key: "3" for key, _i, _l in services.survey_items(pair.mentee)}
    page = mentee.post(reverse("survey_answer", args=[pair.mentee.pk, "final"]), {**answers, "would_recommend": "9"}, follow=True).content.decode()
    assert "This survey has closed." in page and not SurveyResponse.objects.exists()


def _answer(enrollment, kind, scores, would_recommend=None):
    response = SurveyResponse.objects.create(enrollment=enrollment, kind=kind, would_recommend=would_recommend)
    for (key, item, _label), score in zip(services.survey_items(enrollment), scores):
        if key.startswith("topic-"):
            response.answers.create(topic=item, score=score)
        else:
            response.answers.create(growth_item=item, score=score)
    return response


def test_an_answered_survey_shows_my_answers_beside_my_earlier_ones(pair, mentee, mentor, django_assert_max_num_queries):
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=3))
    items = services.survey_items(pair.mentee)
    assert len(items) >= 2
    _answer(pair.mentee, "baseline", [2] * len(items))
    _answer(pair.mentee, "midpoint", [4] + [1] * (len(items) - 1), would_recommend=8)

    listing = mentee.get(reverse("survey_list")).content.decode()
    url = reverse("survey_answer", args=[pair.mentee.pk, "midpoint"])
    assert f'href="{url}"' in listing and "See my answers" in listing
    with django_assert_max_num_queries(12):
        page = mentee.get(url).content.decode()
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page[page.index('id="my-answers"'):page.index("</table>")]))
    first, second = items[0][2], items[1][2]
    assert f"{first} 2/5 4/5 +2" in table and f"{second} 2/5 1/5 -1" in table
    assert "Baseline" in table and "Midpoint" in table and "Would recommend the program — 8/10" in table
    assert "Send my answers" not in page
    # The partner cannot read them.
    assert mentor.get(url).status_code == 404


def test_the_baseline_alone_shows_its_answers_without_a_change_column(pair, mentor):
    _answer(pair.mentor, "baseline", [3, 4, 5])
    page = mentor.get(reverse("survey_answer", args=[pair.mentor.pk, "baseline"])).content.decode()
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page[page.index('id="my-answers"'):page.index("</table>")]))
    assert "Confidence with senior leaders 3/5" in table and "Visibility in the organisation 5/5" in table
    assert "Change" not in table and "recommend" not in table


def test_someone_who_left_reads_what_they_answered_and_nothing_more(pair, mentee):
    items = services.survey_items(pair.mentee)
    _answer(pair.mentee, "baseline", [3] * len(items))
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=3))
    Enrollment.objects.filter(pk=pair.mentee.pk).update(status=Enrollment.Status.WITHDRAWN, withdrawn_at=timezone.now())

    answered = mentee.get(reverse("survey_answer", args=[pair.mentee.pk, "baseline"]))
    assert answered.status_code == 200 and f"{items[0][2]}" in answered.content.decode()
    midpoint = reverse("survey_answer", args=[pair.mentee.pk, "midpoint"])  # open, but they left
    assert mentee.get(midpoint).status_code == 404
    assert mentee.post(midpoint, {key: "3" for key, _i, _l in items} | {"would_recommend": "5"}).status_code == 404
    assert SurveyResponse.objects.filter(kind="midpoint").count() == 0


def test_someone_elses_survey_is_404(pair, mentor, participant_client):
    assert participant_client.get(reverse("survey_answer", args=[pair.mentee.pk, "baseline"])).status_code == 404
    assert mentor.get(reverse("survey_answer", args=[pair.mentee.pk, "baseline"])).status_code == 404
    assert mentor.get(reverse("survey_answer", args=[pair.mentor.pk, "nonsense"])).status_code == 404


# --- Calendar feed ----------------------------------------------------------------------------------------------------------------


def test_calendar_page_shows_my_absolute_secret_url(pair, mentor):
    page = mentor.get(reverse("calendar_settings")).content.decode()
    feed = CalendarFeed.objects.get(employee=pair.mentor.employee)
    assert f"http://testserver/calendar/{feed.token}.ics" in page and f"webcal://testserver/calendar/{feed.token}.ics" in page


def test_calendar_feed_needs_no_login_and_lists_my_meetings(world, client):
    other = make_active_pair()
    Meeting.objects.create(pair=other, starts_at=timezone.now() + datetime.timedelta(days=1), duration_minutes=30)
    feed = services.calendar_feed_for(me=world["pair"].mentee.employee)
    response = client.get(reverse("calendar_feed", args=[feed.token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = vobject.readOne(response.content.decode())
    uids = {event.uid.value for event in calendar.vevent_list}
    assert uids == {f"{m.uid}@upward" for m in Meeting.objects.filter(pair=world["pair"])}


def test_a_revoked_or_unknown_feed_is_404(pair, mentor, client):
    old = services.calendar_feed_for(me=pair.mentor.employee).token
    assert mentor.post(reverse("calendar_revoke")).status_code == 302
    new = CalendarFeed.objects.get(employee=pair.mentor.employee).token
    assert new != old
    assert client.get(reverse("calendar_feed", args=[old])).status_code == 404
    assert client.get(reverse("calendar_feed", args=["not-a-token"])).status_code == 404
    assert client.get(reverse("calendar_feed", args=[new])).status_code == 200


# --- My pairs ----------------------------------------------------------------------------------------------------------------------


def test_my_pairs_lists_live_and_past_pairs_with_what_is_due(world, mentor_user):
    ended = make_active_pair(mentor_user=mentor_user)
    services.pair_close(pair=ended, me=mentor_user.employee, reason="completed", reflection="done")
    page = client_for(mentor_user).get(reverse("my_pairs")).content.decode()
    assert "Sam Senior" in page and "Past pairs" in page and ended.mentee.employee.full_name in page
    assert "things to do" in page
    assert reverse("pair_detail", args=[world["pair"].pk]) in page


def test_my_pairs_empty_state(participant_client):
    assert "No partner yet" in participant_client.get(reverse("my_pairs")).content.decode()


def test_participant_without_directory_entry_gets_404_not_500(client):
    c = client_for(UserFactory(roles=[Role.PARTICIPANT]))
    assert c.get(reverse("pair_detail", args=[1])).status_code == 404
    assert c.get(reverse("calendar_settings")).status_code == 404
    assert c.get(reverse("survey_list")).status_code == 200


def test_a_leavers_calendar_feed_stops(client):
    import datetime as _dt

    from sessions_log.models import CalendarFeed
    from tests.factories import make_active_pair as _pair

    pair = _pair()
    feed = CalendarFeed.objects.create(employee=pair.mentor.employee)
    url = f"/calendar/{feed.token}.ics"
    assert client.get(url).status_code == 200
    pair.mentor.employee.left_date = _dt.date(2026, 11, 1)
    pair.mentor.employee.save()
    assert client.get(url).status_code == 404


# --- What a QA pass as participants found ---------------------------------------------------------------------------------------


def book(pair, *, days=4, hour=15, zone=LONDON, by=None, **fields) -> Meeting:
    return services.meeting_schedule(pair=pair, me=by or pair.mentor.employee, starts_at=local_slot(days=days, hour=hour, zone=zone), duration_minutes=45, video_url="https://meet.example/x", **fields)


def test_ending_a_pair_cancels_its_future_meetings_on_the_page_and_in_the_feed(pair, mentor, mentee, client, deliver_outbox):
    meeting = book(pair)
    deliver_outbox()
    mail.outbox.clear()
    assert mentor.post(reverse("pair_close", args=[pair.pk]), {"reason": "not_a_fit", "reflection": "We tried."}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == "cancelled" and meeting.sequence == 1
    for side in (mentor, mentee):
        page = side.get(reverse("pair_detail", args=[pair.pk])).content.decode()
        assert "Join the call" not in page and "Cancelled when the pair ended." in page
    feed = services.calendar_feed_for(me=pair.mentee.employee)
    [event] = vobject.readOne(client.get(reverse("calendar_feed", args=[feed.token])).content.decode()).vevent_list
    assert event.status.value == "CANCELLED"
    deliver_outbox()
    cancellations = [m for m in mail.outbox if m.attachments]
    assert sorted(m.to[0] for m in cancellations) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])
    assert all(parse_ics(m).method.value == "CANCEL" for m in cancellations)
    # QA: the partner got 'X has ended your pair (not a good fit)' and two bare cancellations.
    [ended] = [m for m in mail.outbox if "ended" in m.subject.lower()]
    assert ended.to == [pair.mentee.employee.email]
    body = " ".join(ended.body.split())
    assert "it says nothing about what you bring" in body
    assert "Your upcoming meeting is cancelled: your calendar gets a cancellation for it in a separate email." in body


def test_the_reason_for_a_move_or_a_cancel_is_in_both_emails_and_on_the_pair_page(pair, mentor, mentee, deliver_outbox):
    moved, cancelled = book(pair, days=4), book(pair, days=6)
    deliver_outbox()
    mail.outbox.clear()
    later = local_slot(days=5, hour=11, zone=NEW_YORK)
    url = reverse("meeting_reschedule", args=[pair.pk, moved.pk])
    assert mentee.post(url, {"day": later.date().isoformat(), "time": "11:00", "duration_minutes": "45", "reason": "Board meeting ran over", "sequence": "0"}).status_code == 302
    assert mentor.post(reverse("meeting_cancel", args=[pair.pk, cancelled.pk]), {"reason": "Off sick all week"}).status_code == 302
    deliver_outbox()
    moved_mail = [m for m in mail.outbox if m.subject.startswith("Moved")]
    cancelled_mail = [m for m in mail.outbox if m.subject.startswith("Cancelled")]
    assert len(moved_mail) == len(cancelled_mail) == 2
    assert all("Board meeting ran over" in m.body and "Board meeting ran over" in m.alternatives[0][0] for m in moved_mail)
    assert all("Off sick all week" in m.body and "Off sick all week" in m.alternatives[0][0] for m in cancelled_mail)
    to_mentor = next(m for m in moved_mail if m.to == [pair.mentor.employee.email])
    assert "Sam wrote: Board meeting ran over" in to_mentor.body
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "Board meeting ran over" in page and "Moved by Sam from" in page
    assert "Off sick all week" in page and "Cancelled by you" in page


def test_moving_a_meeting_to_the_same_time_changes_nothing(pair, mentor, deliver_outbox):
    meeting = book(pair)
    deliver_outbox()
    mail.outbox.clear()
    local = meeting.starts_at.astimezone(LONDON)
    url = reverse("meeting_reschedule", args=[pair.pk, meeting.pk])
    response = mentor.post(url, {"day": local.date().isoformat(), "time": local.strftime("%H:%M"), "duration_minutes": "45", "reason": "", "sequence": "0"})
    assert response.status_code == 200 and "Nothing changed" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.sequence == 0 and not MeetingChange.objects.exists()
    assert deliver_outbox() == 0 and not mail.outbox


def test_a_refused_goal_progress_comes_back_in_place_with_the_note_kept(world, mentee):
    pair = world["pair"]
    response = mentee.post(reverse("goal_progress", args=[pair.pk, world["goal_id"]]), {"progress": "150", "note": "Used it on three reports"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="Used it on three reports"' in page and 'value="150"' in page
    form_html = page[page.index(f'action="{reverse("goal_progress", args=[pair.pk, world["goal_id"]])}"') :]
    assert "less than or equal to 100" in form_html[:2500] and "autofocus" in form_html[:2500]
    assert AgreementGoal.objects.get(pk=world["goal_id"]).progress == 20


def test_an_action_due_in_the_past_comes_back_open_with_the_text_kept(pair, mentee):
    yesterday = timezone.now().astimezone(NEW_YORK).date() - datetime.timedelta(days=1)
    response = mentee.post(reverse("action_commit", args=[pair.pk]), {"text": "Post in the team channel", "due_on": yesterday.isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<details class="mb-3" id="action-form" open>' in page
    assert "Post in the team channel" in page and "The due date is in the past." in page
    assert not ActionItem.objects.exists()


@pytest.mark.parametrize(
    ("who", "url_name", "needs_log", "data", "limit"),
    [
        ("mentor", "session_log_create", False, {"shared_notes": "x" * 50_000}, "10,000"),
        ("mentor", "private_note_edit", True, {"text": "x" * 100_000}, "10,000"),
        ("mentee", "feedback_submit", True, {"usefulness": "4", "psychological_safety": "4", "comment": "x" * 20_000}, "2,000"),
        ("mentor", "insight_add", False, {"text": "x" * 5_000}, "1,000"),
    ],
    ids=["shared-notes", "private-note", "feedback-comment", "insight"],
)
def test_long_texts_are_refused_with_the_limit(world, mentor, mentee, who, url_name, needs_log, data, limit):
    pair = world["pair"]
    client = mentor if who == "mentor" else mentee
    args = [pair.pk, world["log_id"]] if needs_log else [pair.pk]
    if url_name == "session_log_create":
        data = {**log_post(pair), **data}
    before = (SessionLog.objects.count(), PrivateNote.objects.count(), Feedback.objects.count(), Insight.objects.count())
    response = client.post(reverse(url_name, args=args), data)
    assert response.status_code == 200
    assert f"{limit} characters at most" in response.content.decode()
    assert (SessionLog.objects.count(), PrivateNote.objects.count(), Feedback.objects.count(), Insight.objects.count()) == before


def test_a_cancelled_meeting_is_listed_in_date_order_among_the_upcoming_ones(pair, mentor):
    first, cancelled, last = book(pair, days=3), book(pair, days=5), book(pair, days=9)
    services.meeting_cancel(meeting=cancelled, me=pair.mentee.employee, reason="Travel")
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    positions = [page.index(f'id="meeting-{m.pk}"') for m in (first, cancelled, last)]
    assert positions == sorted(positions) and positions[-1] < page.index('id="logs"')  # not under past meetings
    assert "Past meetings" not in page


def test_the_move_page_of_a_cancelled_meeting_only_says_it_was_cancelled(pair, mentor):
    meeting = book(pair)
    services.meeting_cancel(meeting=meeting, me=pair.mentor.employee, reason="Travel")
    page = mentor.get(reverse("meeting_reschedule", args=[pair.pk, meeting.pk])).content.decode()
    assert "was cancelled" in page
    assert "Now booked for" not in page and "updated invite" not in page and "Move the meeting" not in page


def test_refusals_write_dates_as_the_rest_of_the_app_in_my_time_zone(pair, mentor):
    meeting = book(pair, days=4, hour=8)
    response = mentor.post(reverse("meeting_schedule", args=[pair.pk]), meeting_post(local_slot(days=4, hour=8)))
    page = response.content.decode()
    assert f"You already have a meeting on {meeting.starts_at.astimezone(LONDON):%A %-d %B}, 08:00" in page
    ends_on = pair.program.ends_on
    response = mentor.post(reverse("meeting_schedule", args=[pair.pk]), meeting_post(datetime.datetime.combine(ends_on + datetime.timedelta(days=3), datetime.time(10))))
    assert f"The program ends on {ends_on:%A %-d %B %Y}." in response.content.decode()
    stale = mentor.post(
        reverse("meeting_reschedule", args=[pair.pk, meeting.pk]),
        {"day": local_slot(days=6).date().isoformat(), "time": "10:00", "duration_minutes": "45", "sequence": "7"},
    ).content.decode()
    assert f"it is now on {meeting.starts_at.astimezone(LONDON):%A %-d %B}, 08:00" in stale
    assert "-" + f"{meeting.starts_at:%m}-" not in (stale.split("it is now on")[1][:40])


def test_the_schedule_form_shows_the_partners_time_and_warns_at_night(pair, mentor):
    night_for_sam = local_slot(days=4, hour=8)  # 08:00 in London is 03:00 in New York (04:00 in the weeks between their clock changes)
    there = night_for_sam.astimezone(NEW_YORK)
    page = mentor.get(reverse("meeting_schedule", args=[pair.pk]), {"at": night_for_sam.isoformat()}).content.decode()
    assert f"That is {there:%A} {there:%H:%M} for Sam (America/New_York)." in page and "outside usual waking hours" in page
    hint = mentor.get(reverse("meeting_schedule", args=[pair.pk]), {"hint": "1", "day": night_for_sam.date().isoformat(), "time": "08:00"}, HTTP_HX_REQUEST="true")
    assert hint.status_code == 200 and "<html" not in hint.content.decode() and f"{there:%H:%M} for Sam" in hint.content.decode()
    afternoon = local_slot(days=4, hour=15).astimezone(NEW_YORK)
    fine = mentor.get(reverse("meeting_schedule", args=[pair.pk]), {"hint": "1", "day": night_for_sam.date().isoformat(), "time": "15:00"}, HTTP_HX_REQUEST="true").content.decode()
    assert f"{afternoon:%H:%M} for Sam" in fine and "outside usual waking hours" not in fine
    response = mentor.post(reverse("meeting_schedule", args=[pair.pk]), meeting_post(night_for_sam), follow=True)
    assert Meeting.objects.filter(starts_at=night_for_sam).exists()  # a warning, not a refusal
    assert "outside usual waking hours: check it suits them" in response.content.decode()


def test_an_ended_pair_does_not_wait_for_an_acknowledgement(world, mentee):
    pair = world["pair"]
    assert "Waiting for your acknowledgement." in mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    services.pair_close(pair=pair, me=pair.mentor.employee, reason="completed", reflection="Done.")
    page = mentee.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "Waiting for your acknowledgement." not in page and "to acknowledge." not in page


def test_logging_a_meeting_already_logged_says_so_up_front_with_a_link(world, mentor, mentee):
    pair = world["pair"]
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair), meeting=Meeting.objects.get(pk=world["past_meeting_id"]))
    url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={world['past_meeting_id']}"
    page = mentee.get(url).content.decode()
    assert "Maya has already logged this meeting." in page and f"#log-{log.pk}" in page
    assert 'name="shared_notes"' not in page
    page = mentor.get(url).content.decode()
    assert "You have already logged this meeting." in page and reverse("session_log_edit", args=[pair.pk, log.pk]) in page


def test_when_the_partner_logs_the_meeting_first_what_i_wrote_is_kept_on_their_log(world, mentor, mentee):
    pair = world["pair"]
    url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={world['past_meeting_id']}"
    form = mentee.get(url).context["form"]  # both have the form open
    assert form is not None
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair), meeting=Meeting.objects.get(pk=world["past_meeting_id"]))
    data = {
        "held_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(), "minutes": "45", "mentee_learned": "How to prompt", "shared_notes": "Great session",
        "private_note": "Ask about budgets", "action_0_text": "Prompt daily", "action_0_due": "",
    }
    response = mentee.post(url, data, follow=True)
    page = response.content.decode()
    assert "Maya logged this meeting first. What you wrote is kept in your private note on that log" in page
    assert "1 action of yours is added to it." in page
    assert SessionLog.objects.filter(meeting_id=world["past_meeting_id"]).count() == 1
    note = PrivateNote.objects.get(session_log=log, author=pair.mentee.employee).text
    assert note.startswith("Ask about budgets") and "What the mentee learned: How to prompt" in note and "Shared notes: Great session" in note
    assert ActionItem.objects.filter(session_log=log, text="Prompt daily").count() == 1
    log.refresh_from_db()
    assert log.shared_notes == "We tried prompts"  # the author's log is unchanged


def test_pages_that_can_no_longer_change_say_so_before_the_form(world, mentor):
    pair = world["pair"]
    past = world["past_meeting_id"]
    for name in ("meeting_cancel", "meeting_reschedule"):
        response = mentor.get(reverse(name, args=[pair.pk, past]), follow=True)
        page = response.content.decode()
        assert response.redirect_chain[-1][0] == reverse("pair_detail", args=[pair.pk]) + "#meetings"
        assert "This meeting has already started; log it instead, or leave it unlogged." in page
    log = SessionLog.objects.get(pk=world["log_id"])
    SessionLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - datetime.timedelta(days=8))
    response = mentor.get(reverse("session_log_edit", args=[pair.pk, log.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("private_note_edit", args=[pair.pk, log.pk])
    assert "Logs can be edited for a week after they are written" in response.content.decode()
    # A meeting still to come opens its forms as before.
    assert mentor.get(reverse("meeting_cancel", args=[pair.pk, world["meeting_id"]])).status_code == 200


def test_a_due_date_without_its_action_is_not_dropped_silently(pair, mentee):
    data = {"held_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(), "minutes": "45", "action_0_text": "", "action_0_due": (timezone.localdate() + datetime.timedelta(days=5)).isoformat()}
    response = mentee.post(reverse("session_log_create", args=[pair.pk]), data)
    assert response.status_code == 200 and "Write the action this date is for, or clear the date." in response.content.decode()
    assert not SessionLog.objects.exists()


def test_the_partner_first_path_posted_twice_keeps_one_copy_and_stays_editable(world, mentee):
    from sessions_log.services import NOTE_MAX

    pair = world["pair"]
    url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={world['past_meeting_id']}"
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=a_log(pair), meeting=Meeting.objects.get(pk=world["past_meeting_id"]))
    data = {"held_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(), "minutes": "45", "private_note": "Ask about budgets", "action_0_text": "Prompt daily"}
    for _ in range(2):  # a browser retrying the post
        assert mentee.post(url, data).status_code == 302
    note = PrivateNote.objects.get(session_log=log, author=pair.mentee.employee).text
    assert note.count("Ask about budgets") == 1
    assert ActionItem.objects.filter(session_log=log, text="Prompt daily").count() == 1
    long = {**data, "private_note": "x" * 9000, "shared_notes": "y" * 9000, "action_0_text": ""}
    mentee.post(url, long)
    assert len(PrivateNote.objects.get(session_log=log, author=pair.mentee.employee).text) <= NOTE_MAX


def test_a_reflection_typed_while_the_partner_ended_the_pair_is_kept(pair, mentor, mentee):
    url = reverse("pair_close", args=[pair.pk])
    assert mentee.get(url).status_code == 200  # the mentee has the form open
    services.pair_close(pair=pair, me=pair.mentor.employee, reason="completed", reflection="Mine.")
    response = mentee.post(url, {"reason": "completed", "reflection": "I learned to ask."}, follow=True)
    assert "had already ended the pair; your reflection is saved." in response.content.decode()
    assert Reflection.objects.get(author=pair.mentee).text == "I learned to ask."


def test_a_meeting_still_to_come_cannot_be_logged(world, mentor):
    pair = world["pair"]
    url = reverse("session_log_create", args=[pair.pk]) + f"?meeting={world['meeting_id']}"
    shown = mentor.get(url, follow=True).content.decode()
    assert "This meeting has not happened yet" in shown and 'name="shared_notes"' not in shown
    before = SessionLog.objects.count()
    posted = mentor.post(url, {"held_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(), "minutes": "45", "shared_notes": "Early"})
    assert posted.status_code == 200 and "This meeting has not happened yet" in posted.content.decode()
    assert SessionLog.objects.count() == before


def test_an_insight_with_another_programs_topic_says_so(pair, mentor):
    from tests.factories import TopicFactory

    other_topic = TopicFactory(name="Not in this program")
    response = mentor.post(reverse("insight_add", args=[pair.pk]), {"topic": other_topic.pk, "text": "Teams prefer chat"})
    page = response.content.decode()
    assert response.status_code == 200 and "Choose one of this program" in page and "Write the insight." not in page
    assert "Teams prefer chat" in page and not Insight.objects.exists()


def test_a_partner_who_left_is_not_said_to_owe_a_reflection(pair, mentor):
    from pairing.services import pair_end

    pair_end(pair=pair, reason=Pair.EndReason.LEFT_COMPANY, by=None, notify=False)
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert "has not written theirs yet" in page
    type(pair.mentee.employee).objects.filter(pk=pair.mentee.employee_id).update(left_date=timezone.localdate())
    page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
    assert f"{pair.mentee.employee.full_name} has left and will not write one." in page and "has not written theirs yet" not in page


def test_a_logged_meetings_day_is_each_readers_own(pair, mentor, mentee):
    """Found in QA: a meeting at 02:00 London logged from New York (21:00 the evening before)
    showed the New York day to the London mentor, beside 'Past meetings' showing the London
    day for the same session."""
    london_day = timezone.localdate() - datetime.timedelta(days=3)
    starts = datetime.datetime.combine(london_day, datetime.time(2, 0), tzinfo=LONDON)
    meeting = Meeting.objects.create(pair=pair, starts_at=starts, duration_minutes=45)
    new_york_day = starts.astimezone(NEW_YORK).date()
    assert new_york_day == london_day - datetime.timedelta(days=1)
    services.session_log_create(pair=pair, me=pair.mentee.employee, meeting=meeting, data=LogInput(held_on=new_york_day, minutes=45, topics=[], shared_notes="Good talk"))
    title = lambda client: re.search(r'id="log-\d+-title">([^<]+)', client.get(reverse("pair_detail", args=[pair.pk])).content.decode()).group(1)  # noqa: E731
    assert title(mentor).startswith(f"{london_day:%A} {london_day.day} {london_day:%B %Y}")
    assert title(mentee).startswith(f"{new_york_day:%A} {new_york_day.day} {new_york_day:%B %Y}")


def test_an_action_whose_text_was_erased_says_so_instead_of_a_blank_line(pair, mentor):
    """Found in QA: after the mentee's erasure, their actions showed only 'Overdue: due ...'."""
    ActionItem.objects.create(pair=pair, text="", committed_by=pair.mentee.employee, due_on=timezone.localdate() + datetime.timedelta(days=3))
    assert "(text removed at its author's request)" in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()


def test_cancelled_meetings_alone_are_not_headed_also_coming_up(pair, mentor):
    """QA: on a pair whose meetings were all cancelled, they sat struck through under 'Also
    coming up'."""
    import re

    def heading():
        page = mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()
        found = re.search(r'<h2 id="upcoming-heading"[^>]*>([^<]*)</h2>', page)
        return found and found.group(1)

    first, second, third = book(pair, days=3), book(pair, days=5), book(pair, days=7)
    assert heading() == "Also coming up"
    services.meeting_cancel(meeting=second, me=pair.mentor.employee, reason="Travel")
    services.meeting_cancel(meeting=third, me=pair.mentor.employee, reason="Travel")
    assert heading() == "Cancelled meetings"  # the next meeting stands, the later ones are off
    services.meeting_cancel(meeting=first, me=pair.mentor.employee, reason="Travel")
    assert heading() == "Cancelled meetings"


def test_the_next_meeting_on_my_pairs_says_whose_clock_it_is(pair, mentor):
    """QA: home read 'Next meeting: Thursday 10 December, 01:00' with the zone only in the footer."""
    meeting = book(pair, days=4, hour=15)
    page = " ".join(mentor.get(reverse("my_pairs")).content.decode().split())
    mine = pair.mentor.employee.time_zone
    local = meeting.starts_at.astimezone(__import__("zoneinfo").ZoneInfo(mine))
    assert f"Next meeting: {local:%A} {local.day} {local:%B, %H:%M} ({mine})" in page
