import pytest
from django.urls import reverse

from sessions_log import services
from sessions_log.models import Concern, PulseAlert
from sessions_log.services import LogInput
from tests.factories import make_active_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def troubled_pair():
    from django.utils import timezone

    pair = make_active_pair(pulse_alert_threshold=3)
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=LogInput(held_on=timezone.localdate(), minutes=30, topics=[], shared_notes="We met"))
    services.pulse_submit(log=log, me=pair.mentor.employee, felt_heard=1, safe_to_be_candid=2, wants_to_continue=2)
    services.concern_raise(pair=pair, me=pair.mentor.employee, text="My mentee talks over me")
    return pair


def test_hr_sees_alerts_and_concerns_but_never_pulse_answers(hr_client, troubled_pair):
    body = hr_client.get(reverse("hr_care")).content.decode()
    assert troubled_pair.mentor.employee.full_name in body and "My mentee talks over me" in body
    assert "felt_heard" not in body and "Felt heard" not in body


def test_hr_follows_up(hr_client, troubled_pair):
    alert = PulseAlert.objects.get()
    assert hr_client.post(reverse("hr_alert_resolve", args=[alert.pk])).status_code == 302
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    concern = Concern.objects.get()
    hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "closed"})
    concern.refresh_from_db()
    assert concern.status == "closed"
    assert "My mentee talks over me" not in hr_client.get(reverse("hr_care")).content.decode()


@pytest.mark.parametrize("fixture", ["participant_client", "executive_client"])
def test_only_hr(request, fixture, troubled_pair):
    client = request.getfixturevalue(fixture)
    assert client.get(reverse("hr_care")).status_code == 403
    assert client.post(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk])).status_code == 403
    assert PulseAlert.objects.get().resolved_at is None


def test_actions_are_post_only_and_anonymous_goes_to_login(client, hr_client, troubled_pair):
    assert hr_client.get(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk])).status_code == 405
    assert client.get(reverse("hr_care")).status_code == 302


# --- HR is told: an email per HR admin, a badge on "Pair care" --------------------------------------------


def _hr_mail(deliver_outbox):
    from django.core import mail

    deliver_outbox()
    return [m for m in mail.outbox if "/hr/care/" in m.body]


def _everything_in(message) -> str:
    return "\n".join([message.subject, message.body, *(str(content) for content, _type in message.alternatives)])


def test_a_new_concern_emails_each_active_hr_admin_a_link_never_the_text(hr_user, deliver_outbox, django_capture_on_commit_callbacks):
    from django.conf import settings

    from mentoring.models import Role
    from tests.factories import UserFactory, make_person

    second = make_person(roles=[Role.HR_ADMIN], level=6)
    no_directory_entry = UserFactory(roles=[Role.HR_ADMIN])
    gone = make_person(roles=[Role.HR_ADMIN], level=6)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    leaver = make_person(roles=[Role.HR_ADMIN], level=6)
    leaver.employee.left_date = leaver.employee.hire_date
    leaver.employee.save(update_fields=["left_date"])
    make_person(roles=[Role.PARTICIPANT], level=3)
    pair = make_active_pair()
    with django_capture_on_commit_callbacks(execute=True):
        services.concern_raise(pair=pair, me=pair.mentor.employee, text="qz-secret-concern My mentee talks over me")
    sent = _hr_mail(deliver_outbox)
    assert sorted(m.to[0] for m in sent) == sorted([hr_user.email, second.email, no_directory_entry.email])
    for message in sent:
        text = _everything_in(message)
        assert f"{settings.SITE_URL}/hr/care/" in text and "raised a confidential concern" in text
        assert "qz-secret-concern" not in text and "talks over me" not in text
        assert pair.mentor.employee.full_name not in text and pair.mentee.employee.full_name not in text


def test_an_hr_admin_in_the_pair_is_not_mailed_about_it(hr_user, deliver_outbox, django_capture_on_commit_callbacks):
    from mentoring.models import Role, User
    from mentoring.services import user_grant_role

    pair = make_active_pair()
    for side in (pair.mentor, pair.mentee):  # both people of the pair happen to be HR admins
        employee = side.employee
        if employee.user_id is None:
            employee.user = User.objects.create_user(email=employee.email, password="x")
            employee.save(update_fields=["user"])
        user_grant_role(user=employee.user, role=Role.HR_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        services.concern_raise(pair=pair, me=pair.mentor.employee, text="My mentee talks over me")
    assert [m.to[0] for m in _hr_mail(deliver_outbox)] == [hr_user.email]


def test_no_hr_mail_is_written_when_raising_the_concern_fails_or_rolls_back(hr_user, deliver_outbox):
    from django.db import transaction

    from mentoring.models import OutboxMessage

    pair = make_active_pair()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.concern_raise(pair=pair, me=pair.mentor.employee, text="Worried")
        raise RuntimeError("the request failed after the concern")
    with pytest.raises(services.SessionError):
        services.concern_raise(pair=pair, me=pair.mentor.employee, text="   ")
    assert not OutboxMessage.objects.exists() and not Concern.objects.exists()


def test_a_pulse_alert_emails_hr_once_and_never_the_answers(hr_user, deliver_outbox):
    from django.utils import timezone

    pair = make_active_pair(pulse_alert_threshold=3)
    mentor = pair.mentor.employee
    for heard in (5, 1, 2):  # a good pulse, then two bad ones while the alert is still open
        log = services.session_log_create(pair=pair, me=mentor, data=LogInput(held_on=timezone.localdate(), minutes=30 + heard, topics=[], shared_notes="We met"))  # three sessions
        services.pulse_submit(log=log, me=mentor, felt_heard=heard, safe_to_be_candid=heard, wants_to_continue=heard)
    sent = _hr_mail(deliver_outbox)
    assert [m.to for m in sent] == [[hr_user.email]]
    text = _everything_in(sent[0])
    assert "safety pulse" in text and pair.program.name in text
    assert "felt heard" not in text.lower() and "candid" not in text.lower() and "wants to continue" not in text.lower()


def test_a_good_pulse_tells_hr_nothing(hr_user, deliver_outbox):
    from django.utils import timezone

    pair = make_active_pair(pulse_alert_threshold=3)
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=LogInput(held_on=timezone.localdate(), minutes=30, topics=[], shared_notes="We met"))
    services.pulse_submit(log=log, me=pair.mentor.employee, felt_heard=5, safe_to_be_candid=4, wants_to_continue=5)
    assert _hr_mail(deliver_outbox) == []


def _pair_care_item(response):
    return next(item for item in response.context["nav_items"] if item["url"] == reverse("hr_care"))


def test_the_pair_care_nav_item_counts_open_concerns_and_unresolved_alerts(hr_client, troubled_pair):
    response = hr_client.get(reverse("hr_home"))
    assert _pair_care_item(response)["badge"] == 2
    assert 'text-bg-danger">2<' in response.content.decode()
    services.concern_raise(pair=troubled_pair, me=troubled_pair.mentor.employee, text="Another one")
    Concern.objects.filter(text="Another one").update(status=Concern.Status.IN_HAND)  # in hand still needs HR
    assert _pair_care_item(hr_client.get(reverse("hr_care")))["badge"] == 3
    hr_client.post(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk]))
    hr_client.post(reverse("hr_concern_status", args=[Concern.objects.get(text="Another one").pk]), {"status": "closed"})
    response = hr_client.get(reverse("hr_care"))
    assert _pair_care_item(response)["badge"] == 1


def test_the_badge_is_one_query_and_only_for_hr(participant_client, troubled_pair, django_assert_num_queries):
    from mentoring.context_processors import pair_care_waiting

    with django_assert_num_queries(1):
        assert pair_care_waiting() == 2
    body = participant_client.get(reverse("participant_home")).content.decode()
    assert "text-bg-danger" not in body and reverse("hr_care") not in body


# --- The record: closed concerns, followed-up alerts, the audit log ------------------------------------------------


def _events(action):
    from mentoring.models import AuditEvent

    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_status_changes_and_follow_ups_are_audited_with_ids_and_statuses_only(hr_client, hr_user, troubled_pair):
    from mentoring.models import AuditEvent

    concern, alert = Concern.objects.get(), PulseAlert.objects.get()
    url = reverse("hr_concern_status", args=[concern.pk])
    hr_client.post(url, {"status": "in_hand", "seen_status": "open"})
    hr_client.post(url, {"status": "in_hand"})  # no change: nothing to record
    hr_client.post(url, {"status": "closed", "seen_status": "in_hand"})
    hr_client.post(reverse("hr_alert_resolve", args=[alert.pk]))
    hr_client.post(reverse("hr_alert_resolve", args=[alert.pk]))  # already done: nothing to record
    changes = _events(AuditEvent.Action.CONCERN_STATUS_CHANGED)
    assert [(e.before, e.after["status"]) for e in changes] == [({"status": "open"}, "in_hand"), ({"status": "in_hand"}, "closed")]
    assert {(e.actor_id, e.object_type, e.object_id) for e in changes} == {(hr_user.pk, "sessions_log.concern", concern.pk)}
    [resolved] = _events(AuditEvent.Action.PULSE_ALERT_RESOLVED)
    assert (resolved.actor_id, resolved.object_type, resolved.object_id) == (hr_user.pk, "sessions_log.pulsealert", alert.pk)
    for event in [*changes, resolved]:
        assert "talks over me" not in f"{event.summary} {event.before} {event.after}"
    # HR can find them in the audit log by what they are about.
    for object_type, label, count in (("sessions_log.concern", "Concern", 2), ("sessions_log.pulsealert", "Safety pulse alert", 1)):
        page = hr_client.get(reverse("audit_log"), {"object_type": object_type})
        assert page.status_code == 200 and len(page.context["rows"]) == count
        assert all(row.type_label == label for row in page.context["rows"])


def test_a_closed_concern_is_listed_with_who_closed_it_and_can_be_reopened(hr_client, hr_user, troubled_pair):
    concern = Concern.objects.get()
    hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "closed", "seen_status": "open"})
    hr_client.post(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk]))
    assert "talks over me" not in hr_client.get(reverse("hr_care")).content.decode()
    page = hr_client.get(reverse("hr_care"), {"closed": "1"})
    body = page.content.decode()
    assert list(page.context["closed_concerns"]) == [concern] and len(page.context["resolved_alerts"]) == 1
    assert "talks over me" in body and f"by {hr_user.full_name}" in body and "Reopen" in body
    response = hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "open", "seen_status": "closed", "return": "closed"})
    assert response.status_code == 302 and response.url == reverse("hr_care") + "?closed=1"
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN
    assert list(hr_client.get(reverse("hr_care"), {"closed": "1"}).context["closed_concerns"]) == []
    assert "talks over me" in hr_client.get(reverse("hr_care")).content.decode()


def test_a_status_chosen_on_a_stale_page_does_not_undo_another_admins_change(hr_client, troubled_pair):
    concern = Concern.objects.get()
    Concern.objects.filter(pk=concern.pk).update(status=Concern.Status.CLOSED)  # another admin, meanwhile
    response = hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "in_hand", "seen_status": "open"}, follow=True)
    assert "Someone else set this concern to" in response.content.decode()
    concern.refresh_from_db()
    assert concern.status == Concern.Status.CLOSED


def test_an_unknown_status_is_refused(hr_client, troubled_pair):
    concern = Concern.objects.get()
    response = hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "deleted"}, follow=True)
    assert "Choose a status." in response.content.decode()
    concern.refresh_from_db()
    assert concern.status == Concern.Status.OPEN


def _close_many(n, *, by):
    from sessions_log.services import concern_set_status, pulse_alert_resolve

    for _ in range(n):
        pair = make_active_pair()
        concern = services.concern_raise(pair=pair, me=pair.mentor.employee, text="Worried")
        concern_set_status(concern=concern, status=Concern.Status.CLOSED, by=by, note="Called them; agreed a re-match")
        services.concern_raise(pair=pair, me=pair.mentor.employee, text="Still open")
        pulse_alert_resolve(alert=PulseAlert.objects.create(pair=pair), by=by)
        PulseAlert.objects.create(pair=pair)


def test_the_care_page_costs_the_same_queries_for_few_or_many_and_pages_the_history(hr_client, hr_user, django_assert_max_num_queries):
    from mentoring.models import Role
    from sessions_log.care_views import HISTORY_PAGE_SIZE
    from tests.factories import make_person

    url = reverse("hr_care") + "?closed=1"
    _close_many(2, by=hr_user)
    hr_client.get(url)  # warm up the session
    with django_assert_max_num_queries(25) as few:
        assert hr_client.get(url).status_code == 200
    _close_many(HISTORY_PAGE_SIZE + 3, by=make_person(roles=[Role.HR_ADMIN], level=6))  # another admin's notes: one more person to name
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = hr_client.get(url)
    assert len(page.context["concerns"]) == len(page.context["alerts"]) == HISTORY_PAGE_SIZE + 5
    assert len(page.context["closed_concerns"]) == len(page.context["resolved_alerts"]) == HISTORY_PAGE_SIZE
    second = hr_client.get(url, {"closed": "1", "concerns_page": "2"})
    assert len(second.context["closed_concerns"]) == 5 and second.context["resolved_alerts"].number == 1
    assert "alerts_page=2" in second.content.decode()



# --- Reaching the mentor, and noting what HR did -------------------------------------------------------------


def _card(body: str, concern) -> str:
    card = body[body.index(f'id="concern-{concern.pk}"') :]
    return card[: card.index("</article>")]


def test_a_concern_card_leads_to_the_pair_and_both_people_and_says_how_to_reach_the_mentor(hr_client, troubled_pair):
    import datetime
    import re
    import zoneinfo

    from mentoring.models import Employee

    mentor, mentee = troubled_pair.mentor.employee, troubled_pair.mentee.employee
    Employee.objects.filter(pk=mentor.pk).update(time_zone="Asia/Tokyo")
    before = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo"))
    card = _card(hr_client.get(reverse("hr_care")).content.decode(), Concern.objects.get())
    after = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f'href="{reverse("hr_pair", args=[troubled_pair.program.slug, troubled_pair.pk])}"' in card
    assert f'href="{reverse("employee_detail", args=[mentor.pk])}"' in card and f'href="{reverse("employee_detail", args=[mentee.pk])}"' in card
    assert f'href="mailto:{mentor.email}"' in card and mentee.full_name in card
    local = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card[card.index('data-testid="raiser-local-time"') :]))
    assert f"for {mentor.first_name} now (Asia/Tokyo)" in local
    assert any(f"It is {t:%H:%M} on {t:%A}" in local for t in (before, after))  # the mentor's clock, not HR's


def test_hr_notes_what_they_did_when_closing_a_concern_and_the_log_keeps_no_text(hr_client, hr_user, troubled_pair):
    from mentoring.models import AuditEvent

    concern = Concern.objects.get()
    url = reverse("hr_concern_status", args=[concern.pk])
    response = hr_client.post(url, {"status": "in_hand", "seen_status": "open", "hr_note": "  qz-hr-note-8120 Called Maya on Tuesday  "}, follow=True)
    assert "Concern set to “In hand”. Your note is saved." in response.content.decode()
    concern.refresh_from_db()
    assert (concern.status, concern.hr_note, concern.hr_note_by) == ("in_hand", "qz-hr-note-8120 Called Maya on Tuesday", hr_user)
    assert concern.hr_note_at is not None
    card = _card(hr_client.get(reverse("hr_care")).content.decode(), concern)
    assert "qz-hr-note-8120 Called Maya on Tuesday" in card and f"note by {hr_user.get_full_name()}" in card

    # The note alone, the status unchanged.
    response = hr_client.post(url, {"status": "in_hand", "seen_status": "in_hand", "hr_note": "qz-hr-note-8121 Re-match agreed"}, follow=True)
    assert "Your note is saved; the concern stays “In hand”." in response.content.decode()
    hr_client.post(url, {"status": "closed", "seen_status": "in_hand", "hr_note": "qz-hr-note-8121 Re-match agreed"})
    # Reopening from the closed list sends no note: it stays.
    hr_client.post(url, {"status": "open", "seen_status": "closed", "return": "closed"})
    hr_client.post(url, {"status": "closed", "seen_status": "open"})
    concern.refresh_from_db()
    assert (concern.status, concern.hr_note) == ("closed", "qz-hr-note-8121 Re-match agreed")
    closed = hr_client.get(reverse("hr_care"), {"closed": "1"}).content.decode()
    assert "qz-hr-note-8121 Re-match agreed" in closed
    assert reverse("hr_pair", args=[troubled_pair.program.slug, troubled_pair.pk]) in closed
    events = AuditEvent.objects.filter(action=AuditEvent.Action.CONCERN_STATUS_CHANGED)
    assert events.count() == 4
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONCERN_NOTE_CHANGED).count() == 2  # written, then changed
    assert all("qz-hr-note" not in f"{e.summary} {e.before} {e.after}" for e in AuditEvent.objects.all())


def test_a_note_edited_alone_is_audited_as_written_changed_or_cleared_without_its_words(hr_client, hr_user, troubled_pair):
    """Found in review: a note-only edit left no trace in the audit log (status changes did)."""
    from mentoring.models import AuditEvent

    concern = Concern.objects.get()
    url = reverse("hr_concern_status", args=[concern.pk])
    for note in ("qz-hr-note-7001 Called Maya", "qz-hr-note-7001 Called Maya", "qz-hr-note-7002 Re-match agreed", ""):
        hr_client.post(url, {"status": "open", "seen_status": "open", "hr_note": note})  # the second: no change, nothing recorded
    notes = _events(AuditEvent.Action.CONCERN_NOTE_CHANGED)
    assert [(e.actor_id, e.object_type, e.object_id, e.after) for e in notes] == [
        (hr_user.pk, "sessions_log.concern", concern.pk, {"note": change, "pair": troubled_pair.pk}) for change in ("added", "changed", "cleared")
    ]
    assert not _events(AuditEvent.Action.CONCERN_STATUS_CHANGED)
    assert all("qz-hr-note" not in f"{e.summary} {e.before} {e.after}" for e in AuditEvent.objects.all())
    # HR finds the edits in the log, with who and what happened to the note, never its words.
    response = hr_client.get(reverse("audit_log"), {"object_type": "sessions_log.concern", "object_id": concern.pk})
    assert [row.event.get_action_display() for row in response.context["rows"]] == ["HR's note on a concern edited"] * 3
    html = response.content.decode()
    assert "qz-hr-note" not in html
    for change in ("written", "changed", "cleared"):
        assert f"HR&#x27;s note</span>: {change}" in html


def test_a_note_too_long_is_refused_and_nothing_changes(hr_client, troubled_pair):
    from sessions_log.services import CONCERN_NOTE_MAX

    concern = Concern.objects.get()
    response = hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "closed", "hr_note": "x" * (CONCERN_NOTE_MAX + 1)}, follow=True)
    assert "Keep the note to 1000 characters" in response.content.decode()
    concern.refresh_from_db()
    assert (concern.status, concern.hr_note) == ("open", "")


def test_hrs_note_is_for_hr_only(hr_client, troubled_pair, participant_client):
    from django.test import Client

    from mentoring.gdpr import person_export_data
    from mentoring.models import Role
    from tests.factories import UserFactory

    concern = Concern.objects.get()
    hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "in_hand", "hr_note": "qz-hr-note-8130 Spoke to the mentee's manager"})
    # A participant cannot write one.
    assert participant_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "closed", "hr_note": "mine"}).status_code == 403
    concern.refresh_from_db()
    assert (concern.status, concern.hr_note) == ("in_hand", "qz-hr-note-8130 Spoke to the mentee's manager")
    for side in (troubled_pair.mentor, troubled_pair.mentee):  # both have a login
        user = UserFactory(email=side.employee.email, roles=[Role.PARTICIPANT])
        side.employee.user = user
        side.employee.save(update_fields=["user"])
        client = Client()
        client.force_login(user)
        response = client.get(reverse("pair_detail", args=[troubled_pair.pk]))
        assert response.status_code == 200 and "qz-hr-note-8130" not in response.content.decode()
        assert "qz-hr-note-8130" not in str(person_export_data(user=user))


def test_the_care_page_points_to_the_quiet_pairs_of_each_running_program(hr_client, troubled_pair):
    from programs.models import Program
    from tests.factories import ProgramFactory

    draft = ProgramFactory(status=Program.Status.DRAFT)
    body = hr_client.get(reverse("hr_care")).content.decode()
    assert f'href="{reverse("pairs_list", args=[troubled_pair.program.slug])}?show=stuck"' in body
    assert reverse("pairs_list", args=[draft.slug]) not in body


def test_erasure_blanks_hrs_note_on_a_concern_about_the_person_and_the_notes_they_wrote_as_hr(hr_user, troubled_pair):
    from mentoring.gdpr import person_erase
    from mentoring.models import Role
    from sessions_log.services import concern_set_status
    from tests.factories import make_person

    about = Concern.objects.get()
    concern_set_status(concern=about, status=Concern.Status.IN_HAND, by=hr_user, note="Sam agreed to listen more")
    other_pair = make_active_pair()
    written = services.concern_raise(pair=other_pair, me=other_pair.mentor.employee, text="Worried")
    second_hr = make_person(roles=[Role.HR_ADMIN], level=6)
    concern_set_status(concern=written, status=Concern.Status.IN_HAND, by=second_hr, note="Met them both")
    third_pair = make_active_pair()
    untouched = services.concern_raise(pair=third_pair, me=third_pair.mentor.employee, text="Also worried")
    concern_set_status(concern=untouched, status=Concern.Status.IN_HAND, by=hr_user, note="Checked in")

    mentee = troubled_pair.mentee.employee
    person_erase(employee=mentee, by=hr_user, confirm_email=mentee.email)
    about.refresh_from_db()
    written.refresh_from_db()
    assert about.hr_note == "" and about.text == "My mentee talks over me"  # the mentor's words are theirs, kept
    assert written.hr_note == "Met them both"
    person_erase(employee=second_hr.employee, by=hr_user, confirm_email=second_hr.employee.email)
    written.refresh_from_db()
    untouched.refresh_from_db()
    assert written.hr_note == "" and untouched.hr_note == "Checked in"
