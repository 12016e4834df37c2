"""A pair at work, on a phone: the mentor books a meeting, both get the invite; after the
meeting the mentee logs it, the mentor answers the safety pulse, and both rate the session."""

import datetime
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from mentoring.models import Role
from sessions_log.models import Feedback, Meeting, PrivateNote, SafetyPulse, SessionLog
from tests.browser.helpers import sign_in as _sign_in
from tests.factories import make_active_pair, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def sign_in(page, base_url, user, password):
    """A participant lands on their home page."""
    _sign_in(page, base_url, user, password)
    page.wait_for_url(f"{base_url}/me/")


def fits_the_screen(page):
    """Nothing wider than the phone: no sideways scrolling."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{page.url} scrolls sideways on a phone"


def rate(page, name: str, value: int):
    page.locator(f"label[for='id_{name}_{value - 1}']").click()


def test_a_pair_meets_logs_and_rates_on_a_phone(live_server, browser, password, deliver_outbox, check_accessibility, screenshot):
    mentor_user = make_person(roles=[Role.PARTICIPANT], level=2, time_zone="Europe/London", first_name="Maya", last_name="Mentor", title="Data Analyst")
    mentee_user = make_person(roles=[Role.PARTICIPANT], level=7, time_zone="America/New_York", first_name="Sam", last_name="Senior", title="VP Finance")
    pair = make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)
    # Both free on Tuesdays and Thursdays: 14:00–16:00 in London overlaps 10:00–12:00 in New York.
    pair.mentor.availability = ["tue-14", "thu-14"]
    pair.mentor.save()
    pair.mentee.availability = ["tue-10", "thu-10"]
    pair.mentee.save()
    base = live_server.url

    # --- The mentor books a meeting from a suggested time.
    mentor_context = browser.new_context(**PHONE)
    page = mentor_context.new_page()
    sign_in(page, base, mentor_user, password)
    page.goto(f"{base}/me/pairs/")
    check_accessibility(page)
    page.get_by_role("link", name="Sam Senior").first.click()
    page.wait_for_url(f"{base}/pairs/{pair.pk}/")
    expect(page.locator("h1")).to_have_text("Sam Senior")
    expect(page.get_by_text("It is ")).to_contain_text("America/New_York")
    check_accessibility(page)
    fits_the_screen(page)
    screenshot(page, "pair-mentor-phone")

    page.get_by_role("link", name="Schedule a meeting").first.click()
    page.wait_for_url(re.compile(r"/meetings/new/"))
    check_accessibility(page)
    fits_the_screen(page)
    page.locator("a.suggestion").first.click()
    page.wait_for_url(re.compile(r"\?at="))
    assert page.get_by_label("Date").input_value() and page.get_by_label("Start time").input_value() == "15:00"
    expect(page.get_by_label("Length (minutes)")).to_have_value(str(pair.program.meeting_minutes))
    page.get_by_label("Video link").fill("https://meet.example/maya-sam")
    page.get_by_label("Agenda").fill("Try three AI assistants on a real task")
    page.get_by_label("AI tools").check()
    screenshot(page, "meeting-schedule-phone")
    page.get_by_role("button", name="Book and send the invites").click()
    page.wait_for_url(re.compile(rf"/pairs/{pair.pk}/#meeting-\d+$"))
    expect(page.get_by_role("status").first).to_contain_text("Meeting booked")
    expect(page.locator("#next-meeting")).to_contain_text("15:00")
    check_accessibility(page)

    meeting = Meeting.objects.get(pair=pair)
    deliver_outbox()
    invites = [m for m in mail.outbox if m.attachments]
    assert sorted(m.to[0] for m in invites) == sorted([mentor_user.email, mentee_user.email])
    assert all("BEGIN:VCALENDAR" in (m.attachments[0][1].decode() if isinstance(m.attachments[0][1], bytes) else m.attachments[0][1]) for m in invites)
    assert any("10:00" in m.subject for m in invites if m.to == [mentee_user.email])  # 15:00 London is 10:00 in New York

    # --- The meeting happened (moved to the past); the mentee logs it.
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=timezone.now() - datetime.timedelta(hours=2))
    mentee_context = browser.new_context(**PHONE)
    their = mentee_context.new_page()
    sign_in(their, base, mentee_user, password)
    their.goto(f"{base}/me/pairs/")
    their.get_by_role("link", name="Maya Mentor").first.click()
    their.wait_for_url(f"{base}/pairs/{pair.pk}/")
    expect(their.locator("#due")).to_contain_text("Log your session of")
    check_accessibility(their)
    screenshot(their, "pair-mentee-phone-due")
    their.locator("#due").get_by_role("link", name=re.compile("Log your session of")).click()
    their.wait_for_url(re.compile(rf"/pairs/{pair.pk}/logs/new/\?meeting={meeting.pk}$"))
    check_accessibility(their)
    fits_the_screen(their)
    expect(their.get_by_label("AI tools")).to_be_checked()  # from the meeting's topics
    their.get_by_label("What the mentor learned").fill("How a budget review really works")
    their.get_by_label("What the mentee learned").fill("Prompting with examples")
    their.get_by_label("Shared notes").fill("Next time: image tools")
    their.get_by_label("My private note").fill("I was nervous about asking basic questions")
    their.get_by_label("Action 1").fill("Use an assistant for my weekly summary")
    screenshot(their, "session-log-phone")
    their.get_by_role("button", name="Save the log").click()
    their.wait_for_url(re.compile(r"/logs/\d+/feedback/$"))
    expect(their.get_by_text("never sees your ratings or your comment")).to_be_visible()
    check_accessibility(their)
    rate(their, "usefulness", 5)
    rate(their, "psychological_safety", 4)
    their.get_by_label("Comment (optional)").fill("Very practical")
    screenshot(their, "feedback-phone")
    their.get_by_role("button", name="Send my feedback").click()
    their.wait_for_url(re.compile(rf"/pairs/{pair.pk}/#log-\d+$"))
    expect(their.locator("#logs")).to_contain_text("I was nervous about asking basic questions")
    expect(their.locator("#actions").locator("..")).to_contain_text("Use an assistant for my weekly summary")
    check_accessibility(their)
    screenshot(their, "pair-mentee-phone-after")

    # --- The mentor answers the pulse, then rates the session.
    page.goto(f"{base}/pairs/{pair.pk}/")
    expect(page.locator("#logs")).to_contain_text("Prompting with examples")
    expect(page.locator("#logs")).not_to_contain_text("I was nervous")  # the mentee's private note
    page.locator("#due").get_by_role("link", name=re.compile("Answer the safety pulse")).click()
    page.wait_for_url(re.compile(r"/logs/\d+/pulse/$"))
    expect(page.get_by_role("note")).to_contain_text("never shown to your mentee, and never to HR")
    check_accessibility(page)
    fits_the_screen(page)
    rate(page, "felt_heard", 4)
    rate(page, "safe_to_be_candid", 5)
    rate(page, "wants_to_continue", 5)
    screenshot(page, "pulse-phone")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/logs/\d+/feedback/$"))
    rate(page, "usefulness", 4)
    rate(page, "psychological_safety", 5)
    page.get_by_role("button", name="Send my feedback").click()
    page.wait_for_url(re.compile(rf"/pairs/{pair.pk}/#log-\d+$"))
    expect(page.locator("#logs")).to_contain_text("Pulse answered")
    expect(page.locator("#logs")).to_contain_text("You rated this session")
    check_accessibility(page)
    screenshot(page, "pair-mentor-phone-after")

    log = SessionLog.objects.get(pair=pair)
    assert log.meeting_id == meeting.pk and log.author == mentee_user.employee
    assert Feedback.objects.filter(session_log=log).count() == 2 and SafetyPulse.objects.filter(session_log=log).count() == 1
    assert PrivateNote.objects.get(session_log=log).author == mentee_user.employee
    mentor_context.close()
    mentee_context.close()


def test_every_pair_page_is_accessible_and_fits_a_phone(live_server, browser, password, check_accessibility, screenshot):
    from pairing.models import Pair
    from programs.models import Program
    from sessions_log import services
    from sessions_log.services import GoalInput, LogInput

    mentor_user = make_person(roles=[Role.PARTICIPANT], level=2, time_zone="Europe/London", first_name="Maya", last_name="Mentor")
    pair = make_active_pair(mentor_user=mentor_user)
    Program.objects.filter(pk=pair.program_id).update(midpoint_survey_on=timezone.localdate() - datetime.timedelta(days=3))
    pair.refresh_from_db()
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    services.agreement_save(pair=pair, me=mentee, meeting_frequency="Every two weeks, 45 minutes", boundaries="No HR topics", confidentiality="Chatham House",
                            goals=[GoalInput("Use an AI assistant every week", 40, "Started with email"), GoalInput("Post on the intranet", 10)])
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=2), duration_minutes=45)
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=9), duration_minutes=45, status=Meeting.Status.CANCELLED)
    upcoming = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=3), duration_minutes=45, video_url="https://meet.example/x", agenda="Image tools")
    log = services.session_log_create(pair=pair, me=mentor, meeting=past, data=LogInput(held_on=timezone.localdate() - datetime.timedelta(days=2), minutes=45, topics=list(pair.program.topics.all()), mentor_learned="Budgets", mentee_learned="Prompts", shared_notes="Good", private_note="Mine only"))
    insight = services.insight_add(pair=pair, me=mentor, text="Chat beats email for quick questions", topic=pair.program.topics.first())
    services.action_commit(pair=pair, me=mentee, text="Answer in chat for a week", insight=insight)
    ended = make_active_pair(mentor_user=mentor_user)
    Pair.objects.filter(pk=ended.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now(), end_reason="completed")

    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in(page, live_server.url, mentor_user, password)
    p = f"{live_server.url}/pairs/{pair.pk}"
    pages = {
        "pair-full": f"{p}/",
        "agreement": f"{p}/agreement/",
        "meeting-reschedule": f"{p}/meetings/{upcoming.pk}/reschedule/",
        "meeting-cancel": f"{p}/meetings/{upcoming.pk}/cancel/",
        "log-edit": f"{p}/logs/{log.pk}/edit/",
        "private-note": f"{p}/logs/{log.pk}/note/",
        "concern": f"{p}/concern/",
        "insight-edit": f"{p}/insights/{insight.pk}/edit/",
        "pair-close": f"{p}/end/",
        "pair-ended": f"{live_server.url}/pairs/{ended.pk}/",
        "my-pairs": f"{live_server.url}/me/pairs/",
        "surveys": f"{live_server.url}/me/surveys/",
        "survey-midpoint": f"{live_server.url}/me/surveys/{pair.mentor.pk}/midpoint/",
        "calendar": f"{live_server.url}/me/calendar/",
    }
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, f"{name}: {response.status}"
        check_accessibility(page)
        fits_the_screen(page)
        screenshot(page, f"sessions-{name}-phone")
    # The same pages on a laptop.
    page.set_viewport_size({"width": 1280, "height": 900})
    for name in ("pair-full", "agreement"):
        page.goto(pages[name])
        check_accessibility(page)
        screenshot(page, f"sessions-{name}-laptop")
    context.close()


def test_a_long_history_stays_short_on_a_phone_and_a_link_opens_a_folded_log(live_server, browser, password, check_accessibility, screenshot):
    from pairing.models import Pair
    from sessions_log import services
    from sessions_log.services import LogInput

    mentor_user = make_person(roles=[Role.PARTICIPANT], level=2, first_name="Maya", last_name="Mentor")
    pair = make_active_pair(mentor_user=mentor_user)
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=90))
    pair.refresh_from_db()
    topics = list(pair.program.topics.all()[:1])
    logs = []
    for week in range(1, 11):
        meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(weeks=week), duration_minutes=45)
        notes = "\n".join(f"Week {week}, point {n}: what we tried and what we keep." for n in range(6))
        logs.append(services.session_log_create(pair=pair, me=pair.mentee.employee, meeting=meeting, data=LogInput(
            held_on=timezone.localdate() - datetime.timedelta(weeks=week), minutes=45, topics=topics, mentor_learned=f"Week {week} for the mentor", shared_notes=notes)))

    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in(page, live_server.url, mentor_user, password)
    page.goto(f"{live_server.url}/pairs/{pair.pk}/")
    check_accessibility(page)
    fits_the_screen(page)
    screenshot(page, "pair-long-history-phone")
    # The confidential concern is on the first screen, not below ten sessions.
    concern = page.locator("header").get_by_role("link", name="Raise a confidential concern")
    expect(concern).to_be_visible()
    assert concern.bounding_box()["y"] < 844
    # Two sessions open, eight folded: the page is a few screens, not twenty.
    expect(page.locator("article.session-log")).to_have_count(2)
    expect(page.locator("details.session-log")).to_have_count(8)
    assert page.evaluate("document.documentElement.scrollHeight") < 844 * 6
    oldest = logs[-1]
    expect(page.get_by_text("Week 10 for the mentor")).to_be_hidden()
    page.locator(f"#log-{oldest.pk} summary").click()
    expect(page.get_by_text("Week 10 for the mentor")).to_be_visible()
    # Coming back to a folded log by its address (after rating it, editing it) opens it.
    page.goto(f"{live_server.url}/pairs/{pair.pk}/#log-{logs[-2].pk}")
    expect(page.get_by_text("Week 9 for the mentor")).to_be_visible()
    check_accessibility(page)
    context.close()


def test_a_double_click_on_save_posts_once(live_server, browser, password):
    from sessions_log.models import ActionItem

    mentee_user = make_person(roles=[Role.PARTICIPANT], level=7, first_name="Sam", last_name="Senior")
    pair = make_active_pair(mentee_user=mentee_user)
    page = browser.new_page()
    sign_in(page, live_server.url, mentee_user, password)
    page.goto(f"{live_server.url}/pairs/{pair.pk}/")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_text("Commit to an action").click()
    page.get_by_label("What I will do").fill("Answer in chat for a week")
    # The second click 30 ms after the first, while the first post is still on its way.
    page.evaluate("""() => {
        const button = [...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Commit");
        button.click();
        setTimeout(() => button.click(), 30);
    }""")
    expect(page.get_by_text("Action committed.")).to_be_visible()
    assert [url for url in posts if url.endswith("/actions/")] == [f"{live_server.url}/pairs/{pair.pk}/actions/"]
    assert ActionItem.objects.filter(pair=pair).count() == 1
    # Back on the page (kept by the browser), the form can be sent again.
    page.go_back()
    page.go_forward()
    page.get_by_text("Commit to an action").click()
    page.get_by_label("What I will do").fill("Try an AI summary")
    page.get_by_role("button", name="Commit", exact=True).click()
    expect(page.get_by_role("button", name="Mark done “Try an AI summary”")).to_be_visible()
    assert ActionItem.objects.filter(pair=pair).count() == 2


def test_a_time_hint_answered_by_the_sign_in_page_reloads_instead_of_nesting_it(live_server, browser, password):
    """QA: signed out in another tab, changing the meeting's time put the whole sign-in page
    (header, footer) inside the form, between 'Start time' and 'Place'."""
    mentor_user = make_person(roles=[Role.PARTICIPANT], level=2, first_name="Maya", last_name="Mentor")
    pair = make_active_pair(mentor_user=mentor_user)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server.url, mentor_user, password)
    page.goto(f"{live_server.url}/pairs/{pair.pk}/meetings/new/")
    context.clear_cookies()  # the session ends elsewhere
    page.get_by_label("Start time").fill("11:30")
    page.get_by_label("Start time").dispatch_event("change")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.locator("#slot-hint").count() == 0
    assert page.locator("footer").count() == 1  # one page, not a page inside a page
