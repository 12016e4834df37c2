"""HR's page for one published pair: activity without confidential content, pause and resume,
a check-in email, and the pairs list's search, filters and pages."""

import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from mentoring.models import AuditEvent
from pairing import services
from pairing.models import Pair
from programs.models import Program
from sessions_log import selectors as pair_reads, services as sessions
from sessions_log.models import Meeting
from sessions_log.services import GoalInput, LogInput
from tests.factories import EmployeeFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def mentor_user():
    return make_person(level=2, first_name="Maya", last_name="Mentor")


@pytest.fixture
def mentee_user():
    return make_person(level=7, first_name="Sam", last_name="Senior")


@pytest.fixture
def pair(mentor_user, mentee_user):
    return make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)


def page_url(pair, name="hr_pair"):
    return reverse(name, args=[pair.program.slug, pair.pk])


def body(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_pair_page_counts_activity_and_shows_no_confidential_text(pair, hr_client):
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    sessions.agreement_save(pair=pair, me=mentor, meeting_frequency="Fortnightly", boundaries="", confidentiality="", goals=[GoalInput("GOAL-TEXT", 10)])
    Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=3), duration_minutes=45)
    ahead = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=5), duration_minutes=45)
    cancelled = Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=9), duration_minutes=45)
    sessions.meeting_cancel(meeting=cancelled, me=mentee, reason="Board meeting")
    log = sessions.session_log_create(pair=pair, me=mentor, data=LogInput(held_on=timezone.localdate(), minutes=50, topics=[], shared_notes="SHARED-NOTE-TEXT"))
    sessions.private_note_save(log=log, me=mentor, text="PRIVATE-NOTE-TEXT")
    sessions.pulse_submit(log=log, me=mentor, felt_heard=1, safe_to_be_candid=1, wants_to_continue=1)
    sessions.feedback_submit(log=log, me=mentee, usefulness=2, psychological_safety=3, comment="FEEDBACK-COMMENT")
    sessions.concern_raise(pair=pair, me=mentor, text="CONCERN-TEXT")
    sessions.action_commit(pair=pair, me=mentee, text="ACTION-TEXT")

    page = body(hr_client.get(page_url(pair)))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Maya Mentor" in text and "Sam Senior" in text
    assert "Meetings held 1 " in text
    assert "Next meeting None booked" not in text and "(1 booked)" not in text and ahead.pk
    assert "0 by the mentor, 1 by the mentee" in text
    assert "Sessions logged 1 (50 minutes)" in text
    assert "Waiting for the mentee to acknowledge" in text
    assert "0 done, 1 open" in text
    assert "an alert is open" in text and "1 concern from the mentor is open" in text and reverse("hr_care") in page
    for secret in ("SHARED-NOTE-TEXT", "PRIVATE-NOTE-TEXT", "FEEDBACK-COMMENT", "CONCERN-TEXT", "ACTION-TEXT", "Board meeting", "GOAL-TEXT"):
        assert secret not in page
    # The care page's alert leads here.
    assert page_url(pair) in body(hr_client.get(reverse("hr_care")))


def test_pause_tells_both_stops_the_quiet_flag_and_resume_undoes_it(pair, hr_client, hr_user, deliver_outbox, django_capture_on_commit_callbacks):
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=40))
    assert pair_reads.hr_pair_overview(pair=pair).stuck  # 40 quiet days, the program flags after 21

    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(page_url(pair, "hr_pair_pause"), {"note": "Back after parental leave in March"}, follow=True)
    assert any("is paused; both have been told" in m for m in messages_of(response))
    pair.refresh_from_db()
    assert pair.status == "paused" and pair.paused_at is not None and pair.pause_note == "Back after parental leave in March"
    assert not pair_reads.hr_pair_overview(pair=pair).stuck
    assert "Paused since" in body(response) and "Resume the pair" in body(response)

    deliver_outbox()
    sent = {m.to[0]: m for m in mail.outbox}
    assert set(sent) == {pair.mentor.employee.email, pair.mentee.employee.email}
    assert all("on hold" in m.subject and "Back after parental leave in March" in m.body for m in sent.values())
    # The participant's own pair page says so, with the note.
    from django.test import Client

    mentor_client = Client()
    mentor_client.force_login(pair.mentor.employee.user)
    participant_page = body(mentor_client.get(reverse("pair_detail", args=[pair.pk])))
    assert "HR put this pair on hold" in participant_page and "Back after parental leave in March" in participant_page
    for home in ("participant_home", "my_pairs"):  # their pair cards say so too
        assert "On hold since" in body(mentor_client.get(reverse(home)))

    again = hr_client.post(page_url(pair, "hr_pair_pause"), {"note": ""}, follow=True)
    assert any("already paused" in m for m in messages_of(again))

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        resumed = hr_client.post(page_url(pair, "hr_pair_resume"), follow=True)
    assert any("is active again" in m for m in messages_of(resumed))
    pair.refresh_from_db()
    assert (pair.status, pair.paused_at, pair.pause_note) == ("active", None, "")
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])
    assert all("active again" in m.subject for m in mail.outbox)
    actions = list(AuditEvent.objects.filter(object_type="pairing.pair", object_id=pair.pk).values_list("action", "actor_id"))
    assert ("pair_paused", hr_user.pk) in actions and ("pair_resumed", hr_user.pk) in actions
    history = body(hr_client.get(page_url(pair)))
    assert history.index("Pair published") < history.index("Pair paused") < history.index("Pair resumed")  # oldest first


def test_check_in_mails_both_once_a_day(pair, hr_client, hr_user, deliver_outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(page_url(pair, "hr_pair_check_in"), {"message": "How are the sessions going?"}, follow=True)
    assert any("A check-in went to Maya Mentor and Sam Senior" in m for m in messages_of(response))
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])
    for message in mail.outbox:
        assert "How are the sessions going?" in message.body and f"/pairs/{pair.pk}/" in message.body
        assert hr_user.get_full_name() in message.body
        assert message.reply_to == [hr_user.email] or message.extra_headers.get("Reply-To") == hr_user.email  # replies reach HR
    page = body(hr_client.get(page_url(pair)))
    assert "the next can go from" in page and "Send a check-in" not in page  # no form to type into for nothing
    assert "Check-in sent to the pair" in page
    # Another HR admin opening the pair sees what was sent, and by whom.
    assert f"by {hr_user.get_full_name()}." in page and "How are the sessions going?" in page
    assert AuditEvent.objects.filter(action="pair_nudged").values_list("summary", flat=True).get().find("How are") == -1  # the log keeps no text

    mail.outbox.clear()
    twice = hr_client.post(page_url(pair, "hr_pair_check_in"), {"message": "Again"}, follow=True)
    assert any("already went to this pair" in m and "one a day at most" in m for m in messages_of(twice))
    deliver_outbox()
    assert mail.outbox == []
    assert AuditEvent.objects.filter(action="pair_nudged", object_id=pair.pk).count() == 1

    # A day later it may go again.
    Pair.objects.filter(pk=pair.pk).update(nudged_at=timezone.now() - datetime.timedelta(hours=25))
    hr_client.post(page_url(pair, "hr_pair_check_in"), {"message": ""})
    assert AuditEvent.objects.filter(action="pair_nudged", object_id=pair.pk).count() == 2


def test_check_in_pause_and_resume_are_refused_where_they_make_no_sense(pair, hr_user):
    services.pair_pause(pair=pair, by=hr_user)
    with pytest.raises(services.MatchError, match="resume it before checking in"):
        services.pair_nudge(pair=pair, by=hr_user)
    services.pair_resume(pair=pair, by=hr_user)
    with pytest.raises(services.MatchError, match="not paused"):
        services.pair_resume(pair=pair, by=hr_user)
    services.pair_end(pair=pair, reason="other", by=hr_user)
    for act in (services.pair_pause, services.pair_nudge):
        with pytest.raises(services.MatchError, match="ended"):
            act(pair=pair, by=hr_user)
    other = make_active_pair()
    Program.objects.filter(pk=other.program_id).update(status=Program.Status.ARCHIVED)
    with pytest.raises(services.MatchError, match="archived"):
        services.pair_pause(pair=other, by=hr_user)
    participant = make_person()
    with pytest.raises(services.MatchError, match="Only HR"):
        services.pair_nudge(pair=make_active_pair(), by=participant)


def test_pairs_list_finds_by_name_filters_by_state_and_pages(hr_client, hr_user):
    program = make_active_pair().program
    pairs = [make_active_pair(program=program) for _ in range(54)]
    target = make_active_pair(program=program, mentee_user=make_person(level=7, first_name="Zelda", last_name="Quintero"))
    Pair.objects.filter(pk=target.pk).update(started_at=timezone.now() - datetime.timedelta(days=60))
    services.pair_pause(pair=pairs[0], by=hr_user)
    services.pair_end(pair=pairs[1], reason="other", by=hr_user)
    url = reverse("pairs_list", args=[program.slug])

    first = body(hr_client.get(url))
    assert "55 live pairs (1 paused) · 1 ended" in re.sub(r"\s+", " ", first)
    assert "Page 1 of 2" in first and first.count('<tr id="pair-') == 50

    found = body(hr_client.get(url, {"q": "quintero"}))
    assert found.count('<tr id="pair-') == 1 and "Zelda Quintero" in found and "1 pair matches." in found
    assert reverse("hr_pair", args=[program.slug, target.pk]) in found

    quiet = body(hr_client.get(url, {"show": "stuck"}))
    assert quiet.count('<tr id="pair-') == 1 and "Zelda Quintero" in quiet and "Quiet for 60 days" in quiet
    assert body(hr_client.get(url, {"show": "paused"})).count('<tr id="pair-') == 1
    assert body(hr_client.get(url, {"show": "ended"})).count('<tr id="pair-') == 1
    assert "No pair matches that name" in body(hr_client.get(url, {"q": "nobody-by-this-name"}))
    # An unknown filter is ignored, not an error, and does not drop the search beside it.
    odd = body(hr_client.get(url, {"show": "<script>", "q": "quintero"}))
    assert odd.count('<tr id="pair-') == 1 and "Zelda Quintero" in odd
    # HR does not end a pair 'because a participant withdrew': that is the withdrawal's own record.
    assert 'value="withdrawal"' not in first and 'value="not_a_fit"' in first


def test_erasure_blanks_the_pause_note(pair, hr_user):
    from mentoring.gdpr import person_erase

    services.pair_pause(pair=pair, by=hr_user, note="Maya is on leave until March")
    person_erase(employee=pair.mentor.employee, by=hr_user, confirm_email=pair.mentor.employee.email)
    pair.refresh_from_db()
    assert pair.pause_note == ""


def test_the_check_in_message_is_shown_escaped(pair, hr_client, hr_user):
    services.pair_nudge(pair=pair, by=hr_user, message="<script>alert(1)</script>\nSecond line")
    page = body(hr_client.get(page_url(pair)))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Second line" in page and "<script>alert(1)" not in page


def test_erasure_blanks_the_check_in_message(pair, hr_user):
    from mentoring.gdpr import person_erase

    services.pair_nudge(pair=pair, by=hr_user, message="Sam, how is the new role treating you?")
    pair.refresh_from_db()
    assert (pair.check_in_note, pair.check_in_by) == ("Sam, how is the new role treating you?", hr_user)
    person_erase(employee=pair.mentee.employee, by=hr_user, confirm_email=pair.mentee.employee.email)
    pair.refresh_from_db()
    assert pair.check_in_note == ""


def test_a_resumed_pair_is_not_quiet_for_the_time_it_was_on_hold(pair, hr_user):
    from sessions_log import reminders
    from sessions_log.models import Reminder

    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=60))
    services.pair_pause(pair=pair, by=hr_user)
    reminders.reminders_sweep()
    assert not Reminder.objects.filter(kind="pair_stuck").exists()  # on hold: not chased
    services.pair_resume(pair=pair, by=hr_user)
    assert not pair_reads.hr_pair_overview(pair=pair).stuck  # the clock restarts at the resume
    reminders.reminders_sweep()
    assert not Reminder.objects.filter(kind="pair_stuck").exists()
    # ... and runs again from there.
    later = timezone.now() + datetime.timedelta(days=pair.program.stuck_after_days + 1)
    reminders.reminders_sweep(now=later)
    assert Reminder.objects.filter(kind="pair_stuck").exists()


def test_hr_cannot_end_a_pair_as_a_withdrawal(pair, hr_client):
    hr_client.post(reverse("pair_end", args=[pair.program.slug, pair.pk]), {"reason": "withdrawal"})
    pair.refresh_from_db()
    assert pair.status == "active"


def test_a_check_in_too_long_comes_back_with_what_was_typed(pair, hr_client):
    long = "Checking in on how things are going. " * 40  # 1,480 characters, over the 1,000 allowed
    response = hr_client.post(page_url(pair, "hr_pair_check_in"), {"message": long})
    page = body(response)
    assert response.status_code == 200 and "at most 1000 characters" in page
    assert long.strip()[:200] in page  # in the textarea, not lost
    pair.refresh_from_db()
    assert pair.nudged_at is None


# --- A withdrawal: HR reads why, and who is left without a partner --------------------------------------

REASON = "qz-withdrawal-reason-7301 My new role leaves no time before June"


def _withdraw(pair, *, deliver_outbox, django_capture_on_commit_callbacks):
    """The mentee leaves the program from their own page, giving the reason the form asks for."""
    from django.test import Client

    mentee = Client()
    mentee.force_login(pair.mentee.employee.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = mentee.post(reverse("enrollment_withdraw", args=[pair.mentee.pk]), {"reason": REASON})
    assert response.status_code == 302
    deliver_outbox()
    pair.refresh_from_db()
    assert (pair.status, pair.end_reason, pair.ended_by) == ("ended", "withdrawal", None)
    return mentee


def test_hr_sees_on_the_ended_pair_who_withdrew_when_and_why_and_that_the_mentor_waits(pair, hr_client, deliver_outbox, django_capture_on_commit_callbacks):
    _withdraw(pair, deliver_outbox=deliver_outbox, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    page = body(hr_client.get(page_url(pair)))
    ended = page[page.index('data-testid="pair-ended"') : page.index('id="people-heading"')]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", ended))
    assert "This pair ended on" in text and "A participant withdrew" in text
    assert "Sam Senior (mentee) left the program on" in text and "which ended the pair" in text
    assert REASON in text and "written for HR" in text
    assert reverse("employee_detail", args=[pair.mentee.employee_id]) in ended
    # The mentor stays in the running program without a partner: HR is pointed to a re-match.
    assert "Maya Mentor (mentor) is still in the program with no live pair" in text
    assert reverse("pairing_home", args=[pair.program.slug]) + "#waiting-heading" in ended


def test_a_pair_ended_otherwise_quotes_no_withdrawal_reason(pair, hr_client, hr_user):
    from programs.models import Enrollment

    # Left over from an earlier time: a reason on an enrollment that did not end this pair.
    Enrollment.objects.filter(pk=pair.mentee_id).update(withdrawal_reason=REASON)
    services.pair_end(pair=pair, reason=Pair.EndReason.NOT_A_FIT, by=hr_user)
    page = body(hr_client.get(page_url(pair)))
    assert REASON not in page and "left the program" not in page
    assert "Maya Mentor (mentor) is still in the program with no live pair" in page and "Sam Senior (mentee) is still in the program" in page


def test_the_withdrawal_reason_reaches_hr_only(pair, hr_user, hr_client, executive_client, participant_client, deliver_outbox, django_capture_on_commit_callbacks):
    from django.test import Client

    mentee = _withdraw(pair, deliver_outbox=deliver_outbox, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    mentor = Client()
    mentor.force_login(pair.mentor.employee.user)
    other = participant_client  # a participant in no pair with them
    hr_pages = [
        page_url(pair),
        reverse("program_review", args=[pair.program.pk]) + "?status=withdrawn",
        reverse("employee_detail", args=[pair.mentee.employee_id]),
        reverse("pairing_home", args=[pair.program.slug]),
    ]
    assert all(REASON in body(hr_client.get(url)) for url in hr_pages[:3])
    for client in (mentor, other, executive_client):
        for url in hr_pages:
            response = client.get(url)
            assert response.status_code == 403 and REASON not in body(response)
    # The partner's own pages, and anything they were sent, say only that the mentee left.
    for url in (reverse("pair_detail", args=[pair.pk]), reverse("participant_home"), reverse("my_pairs")):
        response = mentor.get(url)
        assert response.status_code == 200 and REASON not in body(response)
    assert REASON not in body(other.get(reverse("participant_home")))
    # HR is emailed the reason (the notice of the withdrawal); nobody else is sent it.
    to_hr = [m for m in mail.outbox if m.to == [hr_user.email]]
    assert len(to_hr) == 1 and REASON in to_hr[0].body
    others = [m for m in mail.outbox if m not in to_hr]
    assert others and all(REASON not in m.body and all(REASON not in str(c) for c, _t in m.alternatives) for m in others)
    # The log keeps no free text.
    assert all(REASON not in f"{e.summary} {e.before} {e.after}" for e in AuditEvent.objects.all())
    # The person who wrote it finds it in their own data, as before.
    from mentoring.gdpr import person_export_data

    assert REASON in str(person_export_data(user=pair.mentee.employee.user)["enrollments.json"])
    assert REASON not in str(person_export_data(user=pair.mentor.employee.user))
    assert mentee  # signed in as themselves throughout
