"""What the race fixes look like in the browser, one request after the other (any database):
a form filled in on an outdated page does not undo what someone else did meanwhile."""

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from programs.models import Enrollment, Program
from sessions_log import services
from sessions_log.models import Meeting
from tests.factories import EnrollmentFactory, ProgramFactory, make_active_pair, make_person

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_decision_from_a_stale_review_queue_keeps_the_other_admins_decision(hr_client, hr_user, deliver_outbox):
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    enrollment = EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPLIED)
    page = hr_client.get(reverse("program_review", args=[program.pk]))
    seen_at = page.context["seen_at"]
    assert f'name="seen_at" value="{seen_at}"' in page.content.decode()
    # Another HR admin approves it after this page was loaded...
    other_admin = make_person(roles=["hr_admin"], level=6)
    from programs.services import enrollments_decide

    enrollments_decide(program=program, enrollment_ids=[enrollment.pk], decision="approved", by=other_admin)
    deliver_outbox()
    mail.outbox.clear()
    # ...then this one, still looking at "applied", declines it.
    response = hr_client.post(reverse("program_review_decide", args=[program.pk]), {"enrollment": [enrollment.pk], "decision": "declined", "seen_at": seen_at}, follow=True)
    assert "decided by another HR admin while you were reviewing" in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.APPROVED and enrollment.decided_by == other_admin
    deliver_outbox()
    assert mail.outbox == []
    # Reloaded, the queue shows the new state and the decision goes through.
    seen_at = hr_client.get(reverse("program_review", args=[program.pk])).context["seen_at"]
    hr_client.post(reverse("program_review_decide", args=[program.pk]), {"enrollment": [enrollment.pk], "decision": "declined", "seen_at": seen_at})
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.DECLINED


@pytest.fixture
def pair():
    return make_active_pair(mentor_user=make_person(level=2, time_zone="Europe/London"), mentee_user=make_person(level=7, time_zone="Europe/London"))


def _slot(days: int, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=days), datetime.time(hour), tzinfo=datetime.UTC)


def test_a_move_from_my_own_other_tab_says_so_not_that_the_partner_moved_it(pair):
    mentee = pair.mentee.employee
    meeting = services.meeting_schedule(pair=pair, me=mentee, starts_at=_slot(3, 14), duration_minutes=45)
    url = reverse("meeting_reschedule", args=[pair.pk, meeting.pk])
    client = signed_in(mentee.user)
    services.meeting_reschedule(meeting=meeting, me=mentee, starts_at=_slot(4, 14), seen_sequence=0)  # the first tab
    response = client.post(url, {"day": _slot(5, 10).date().isoformat(), "time": "10:00", "duration_minutes": "45", "reason": "", "sequence": "0"})
    body = response.content.decode()
    assert "You already changed this meeting in another tab or window" in body and "Your partner changed" not in body


def test_a_move_from_a_stale_form_does_not_undo_the_partners_move(pair):
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    meeting = services.meeting_schedule(pair=pair, me=mentor, starts_at=_slot(3, 14), duration_minutes=45)
    url = reverse("meeting_reschedule", args=[pair.pk, meeting.pk])
    mentee_client = signed_in(mentee.user)
    form = mentee_client.get(url).context["form"]
    assert form["sequence"].value() == 0
    services.meeting_reschedule(meeting=meeting, me=mentor, starts_at=_slot(4, 14), seen_sequence=0)  # the mentor moved it meanwhile
    response = mentee_client.post(url, {"day": _slot(5, 10).date().isoformat(), "time": "10:00", "duration_minutes": "45", "reason": "", "sequence": "0"})
    assert response.status_code == 200
    assert "Your partner changed this meeting while you were choosing a new time" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.starts_at == _slot(4, 14) and meeting.sequence == 1
    # The form comes back on the current version: a second try, seeing the new time, goes through.
    assert response.context["form"]["sequence"].value() == 1
    response = mentee_client.post(url, {"day": _slot(5, 10).date().isoformat(), "time": "10:00", "duration_minutes": "45", "reason": "", "sequence": "1"})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.sequence == 2


def test_a_pair_cannot_book_two_meetings_at_the_same_time(pair):
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    services.meeting_schedule(pair=pair, me=mentor, starts_at=_slot(3, 14), duration_minutes=60)
    with pytest.raises(services.SessionError, match="already have a meeting"):
        services.meeting_schedule(pair=pair, me=mentee, starts_at=_slot(3, 14) + datetime.timedelta(minutes=30), duration_minutes=30)
    # Back to back is fine; a cancelled meeting frees its slot; moving onto another meeting is refused.
    after = services.meeting_schedule(pair=pair, me=mentee, starts_at=_slot(3, 15), duration_minutes=30)
    with pytest.raises(services.SessionError, match="already have a meeting"):
        services.meeting_reschedule(meeting=after, me=mentee, starts_at=_slot(3, 14) + datetime.timedelta(minutes=15))
    services.meeting_cancel(meeting=Meeting.objects.get(pair=pair, starts_at=_slot(3, 14)), me=mentor, reason="Clash")
    services.meeting_schedule(pair=pair, me=mentee, starts_at=_slot(3, 14), duration_minutes=45)
    assert Meeting.objects.filter(pair=pair, status=Meeting.Status.SCHEDULED).count() == 2
