"""GDPR: every link to a person is exported or exempt; a person downloads their own data and
nobody else's secrets; HR erases a person and nothing shows them again, while the numbers stay."""

import base64
import datetime
import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mentoring import gdpr
from mentoring.models import AuditEvent, Employee, OutboxMessage, RosterImport, User
from pairing import services as pairing_services
from pairing.models import MatchRun
from programs import services as program_services
from programs import snapshots
from programs.models import Enrollment, Program
from sessions_log import services
from sessions_log.models import Concern, Feedback, Meeting, PrivateNote, SafetyPulse, SessionLog
from sessions_log.services import GoalInput, LogInput
from tests.factories import PASSWORD, DepartmentFactory, EmployeeFactory, EnrollmentFactory, ProgramFactory, make_active_pair, make_person
from tests.mentoring.test_roster import make_csv, person

pytestmark = pytest.mark.django_db

# Unique markers in every confidential text, and in what each side wrote.
MENTOR_NOTE = "qz-mentor-private-note-6601"
MENTEE_NOTE = "qz-mentee-private-note-6602"
MENTOR_FEEDBACK = "qz-mentor-feedback-comment-6603"
MENTEE_FEEDBACK = "qz-mentee-feedback-comment-6604"
CONCERN = "qz-concern-text-6605"
NOT_WITH_MENTOR = "Qzwyxgdprmentor"  # last names of the people on the "please not with" lists
NOT_WITH_MENTEE = "Qzwyxgdprmentee"
REFLECTION = "qz-mentor-reflection-6610"
INSIGHT = "qz-mentor-insight-6611"
ACTION = "qz-mentee-action-6612"


@pytest.fixture
def planted(deliver_outbox):
    """Maya (mentor) and Sam (mentee): notes, feedback, a low pulse, a concern, "not with"
    lists, a logged session and meeting invites by email."""
    mentor_user = make_person(level=2, time_zone="Europe/London", first_name="Maya", last_name="Mentor")
    mentee_user = make_person(level=7, time_zone="America/New_York", first_name="Sam", last_name="Senior")
    pair = make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)
    mentor, mentee = mentor_user.employee, mentee_user.employee
    pair.mentor.not_with.add(EmployeeFactory(last_name=NOT_WITH_MENTOR))
    pair.mentee.not_with.add(EmployeeFactory(last_name=NOT_WITH_MENTEE))
    services.agreement_save(pair=pair, me=mentor, meeting_frequency="Fortnightly", boundaries="", confidentiality="", goals=[GoalInput("Learn prompts", 30)])
    past = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=1), duration_minutes=45)
    data = LogInput(held_on=timezone.localdate() - datetime.timedelta(days=1), minutes=45, topics=[], shared_notes="shared words", private_note=MENTOR_NOTE)
    log = services.session_log_create(pair=pair, me=mentor, data=data, meeting=past)
    services.private_note_save(log=log, me=mentee, text=MENTEE_NOTE)
    services.pulse_submit(log=log, me=mentor, felt_heard=1, safe_to_be_candid=2, wants_to_continue=1)
    services.feedback_submit(log=log, me=mentor, usefulness=2, psychological_safety=1, comment=MENTOR_FEEDBACK)
    services.feedback_submit(log=log, me=mentee, usefulness=5, psychological_safety=5, comment=MENTEE_FEEDBACK)
    services.concern_raise(pair=pair, me=mentor, text=CONCERN)
    start = datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=4), datetime.time(15), tzinfo=datetime.UTC)
    services.meeting_schedule(pair=pair, me=mentor, starts_at=start, duration_minutes=45, agenda="shared agenda")
    deliver_outbox()
    return {"pair": pair, "log": log, "mentor_user": mentor_user, "mentee_user": mentee_user}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def download(client) -> dict[str, object]:
    response = client.post(reverse("my_data"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: (archive.read(name).decode() if name.endswith(".txt") else json.loads(archive.read(name))) for name in archive.namelist()}


def as_text(files: dict) -> str:
    return json.dumps(files, ensure_ascii=False)


@pytest.fixture
def rich(planted):
    """The privacy fixture's pair, plus a reflection, insight, action, survey, feed and opt-out."""
    pair = planted["pair"]
    mentor, mentee = pair.mentor.employee, pair.mentee.employee
    services.insight_add(pair=pair, me=mentor, text=INSIGHT)
    services.action_commit(pair=pair, me=mentee, text=ACTION)
    services.calendar_feed_for(me=mentor)
    from sessions_log.models import Reflection, ReminderOptOut, SurveyResponse

    # Written as at the end of an earlier pair: reflections come when a pair ends.
    Reflection.objects.create(pair=pair, author=pair.mentor, text=REFLECTION)

    ReminderOptOut.objects.create(employee=mentor, kind="pair_stuck")
    SurveyResponse.objects.create(enrollment=pair.mentor, kind="baseline", would_recommend=9)
    return planted


# --- The registry -------------------------------------------------------------------------------------


def test_every_link_to_a_person_is_exported_or_exempt_with_a_reason():
    relations = gdpr.person_relations()
    # The sweep sees every installed app, allauth's included, and links through enrollments and pairs.
    assert {"account.EmailAddress.user", "admin.LogEntry.user", "sessions_log.PrivateNote.author", "sessions_log.Feedback.author", "sessions_log.SafetyPulse.pair"} <= set(relations)
    unlisted = [r for r in relations if r not in gdpr.EXPORTED and r not in gdpr.EXEMPT]
    assert not unlisted, f"Add these to EXPORTED (and the export) or EXEMPT (with the reason) in mentoring/gdpr.py: {unlisted}"
    assert not set(gdpr.EXPORTED) & set(gdpr.EXEMPT)
    assert all(len(reason.strip()) > 20 for reason in gdpr.EXEMPT.values())


def test_the_registry_names_no_relation_that_does_not_exist():
    from django.apps import apps

    installed = {config.label for config in apps.get_app_configs()}
    relations = set(gdpr.person_relations())
    stale = [key for key in [*gdpr.EXPORTED, *gdpr.EXEMPT] if key.split(".")[0] in installed and key not in relations]
    assert not stale


# --- Download -----------------------------------------------------------------------------------------


def test_the_download_holds_every_file_the_registry_promises(rich):
    files = download(client_for(rich["mentor_user"]))
    assert set(gdpr.EXPORTED.values()) | {"README.txt"} == set(files)


def test_a_mentor_downloads_their_own_data_and_none_of_their_mentees_secrets(rich):
    files = download(client_for(rich["mentor_user"]))
    mentor = rich["mentor_user"]
    assert files["account.json"]["email"] == mentor.email and files["account.json"]["roles"] == ["Participant"]
    assert files["directory.json"]["last_name"] == "Mentor"
    assert [n["text"] for n in files["private_notes.json"]] == [MENTOR_NOTE]
    assert [(f["usefulness"], f["comment"]) for f in files["feedback_given.json"]] == [(2, MENTOR_FEEDBACK)]
    assert [(p["felt_heard"], p["safe_to_be_candid"], p["wants_to_continue"]) for p in files["pulse_answers.json"]] == [(1, 2, 1)]
    assert [c["text"] for c in files["concerns.json"]] == [CONCERN]
    assert [r["text"] for r in files["reflections.json"]] == [REFLECTION]
    assert [s["would_recommend"] for s in files["surveys.json"]] == [9]
    assert files["reminders.json"]["switched_off"] == ["Pair has gone quiet"]
    assert files["calendar_feed.json"]["exists"] is True
    [pair] = files["pairs.json"]
    assert pair["my_role"] == "Mentor" and pair["partner"] == "Sam Senior"
    assert [log["shared_notes"] for log in pair["session_logs"]] == ["shared words"]
    # Yesterday's meeting reads as past and points at its log; the one in four days as upcoming.
    [log_id] = [log["id"] for log in pair["session_logs"]]
    assert [(m["status"], m["session_log"]) for m in pair["meetings"]] == [("past", log_id), ("upcoming", None)]
    assert [i["text"] for i in pair["insights"]] == [INSIGHT]
    assert [a["text"] for a in files["action_items.json"]] == [ACTION]  # the mentee's commitment, shown to both
    [enrollment] = files["enrollments.json"]
    assert enrollment["please_not_with"] and NOT_WITH_MENTOR in enrollment["please_not_with"][0]
    text = as_text(files)
    for secret in (MENTEE_NOTE, MENTEE_FEEDBACK, NOT_WITH_MENTEE, mentor.password, services.calendar_feed_for(me=mentor.employee).token):
        assert secret not in text


def test_a_mentee_gets_no_pulse_answers_and_not_the_mentors_concern_note_or_feedback(rich):
    files = download(client_for(rich["mentee_user"]))
    assert [n["text"] for n in files["private_notes.json"]] == [MENTEE_NOTE]
    assert [f["comment"] for f in files["feedback_given.json"]] == [MENTEE_FEEDBACK]
    assert files["pulse_answers.json"] == [] and files["concerns.json"] == [] and files["reflections.json"] == []
    text = as_text(files)
    for secret in (MENTOR_NOTE, MENTOR_FEEDBACK, CONCERN, REFLECTION, NOT_WITH_MENTOR):
        assert secret not in text


def test_the_data_page_offers_the_download_and_the_download_is_audited_and_never_cached(participant_user):
    client = client_for(participant_user)
    page = client.get(reverse("my_data"))
    assert page.status_code == 200 and "Download my data (ZIP)" in page.content.decode()
    response = client.post(reverse("my_data"))
    assert "no-store" in response["Cache-Control"] and response["Content-Disposition"].startswith('attachment; filename="upward-my-data-')
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED)
    assert (event.actor, event.object_type, event.object_id) == (participant_user, "mentoring.user", participant_user.pk)
    assert participant_user.email in as_text(download(client))


def test_an_executive_without_a_directory_entry_still_gets_their_account_and_audit_data(executive_client, executive_user):
    Employee.objects.filter(user=executive_user).update(user=None)
    files = download(executive_client)
    assert files["account.json"]["email"] == executive_user.email
    assert any(e["action"] == "Signed in" for e in files["audit_events.json"])
    assert files["directory.json"] == {}


def test_the_data_page_needs_a_sign_in_and_refuses_other_methods(client, participant_client):
    assert client.get(reverse("my_data")).status_code == 302
    assert client.post(reverse("my_data")).status_code == 302
    assert participant_client.put(reverse("my_data")).status_code == 405


def test_the_user_menu_links_the_data_page(participant_client):
    assert reverse("my_data") in participant_client.get(reverse("participant_home")).content.decode()


# --- Download by HR, for the person ----------------------------------------------------------------------

HR_FILES = {
    "README.txt", "account.json", "directory.json", "audit_events.json", "enrollments.json", "pairs.json", "action_items.json",
    "surveys.json", "concerns.json", "reminders.json", "calendar_feed.json",
}


def hr_download(client, employee) -> dict[str, object]:
    response = client.post(reverse("employee_export", args=[employee.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == f'attachment; filename="upward-person-{employee.pk}-data-{timezone.localdate().isoformat()}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: (archive.read(name).decode() if name.endswith(".txt") else json.loads(archive.read(name))) for name in archive.namelist()}


def test_hr_downloads_a_persons_data_without_what_is_theirs_alone_or_written_with_their_partner(rich, hr_client, hr_user):
    mentor = rich["mentor_user"]
    page = hr_client.get(reverse("employee_detail", args=[mentor.employee.pk])).content.decode()
    assert reverse("employee_export", args=[mentor.employee.pk]) in page and "Download their data (ZIP)" in page
    files = hr_download(hr_client, mentor.employee)
    assert set(files) == HR_FILES  # no private notes, pulse answers, feedback given or reflections
    assert files["account.json"]["email"] == mentor.email and files["directory.json"]["last_name"] == "Mentor"
    assert [c["text"] for c in files["concerns.json"]] == [CONCERN]  # raised to HR: HR's to see
    [enrollment] = files["enrollments.json"]
    assert enrollment["role"] == "Mentor" and "please_not_with" not in enrollment
    [pair] = files["pairs.json"]
    assert (pair["my_role"], pair["partner"]) == ("Mentor", "Sam Senior")
    assert [(log["minutes"], log["written_by"]) for log in pair["session_logs"]] == [(45, "me")]
    assert "shared_notes" not in pair["session_logs"][0] and set(pair["agreement"]) == {"version", "i_acknowledged_version"}
    assert [set(m) for m in pair["meetings"]][0] == {"starts_at", "duration_minutes", "topics", "status", "session_log", "scheduled_by", "changes"}
    assert [i["raised_by"] for i in pair["insights"]] == ["me"] and "text" not in pair["insights"][0]
    assert [(a["status"], "text" in a) for a in files["action_items.json"]] == [("Open", False)]
    assert files["surveys.json"] == [{"program": pair["program"], "kind": "Baseline", "submitted_at": files["surveys.json"][0]["submitted_at"]}]
    assert "Not included, because HR never sees it" in files["README.txt"] and "Maya Mentor" in files["README.txt"]
    text = as_text(files)
    for secret in (MENTOR_NOTE, MENTEE_NOTE, MENTOR_FEEDBACK, MENTEE_FEEDBACK, NOT_WITH_MENTOR, NOT_WITH_MENTEE, REFLECTION, INSIGHT, ACTION,
                   "shared words", "shared agenda", "Learn prompts", "Fortnightly", "felt_heard", "would_recommend", "usefulness"):
        assert secret not in text, secret
    # The mentee's copy: nothing of the mentor's concern, and none of their own secrets either.
    text = as_text(hr_download(hr_client, rich["mentee_user"].employee))
    for secret in (MENTEE_NOTE, MENTEE_FEEDBACK, NOT_WITH_MENTEE, CONCERN, ACTION, MENTOR_NOTE):
        assert secret not in text, secret


def test_hrs_download_is_audited_on_the_person_with_who_downloaded_it(planted, hr_client, hr_user):
    employee = planted["mentor_user"].employee
    hr_download(hr_client, employee)
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED)
    assert (event.actor, event.object_type, event.object_id) == (hr_user, "mentoring.employee", employee.pk)
    assert set(event.after["files"]) == HR_FILES - {"README.txt"}
    rows = hr_client.get(reverse("audit_log"), {"object_type": "mentoring.employee", "object_id": employee.pk}).context["rows"]
    assert [(row.event.action, row.summary) for row in rows if row.event.action == AuditEvent.Action.DATA_EXPORTED] == [("data_exported", "Personal data export downloaded by HR")]


def test_hr_downloads_the_data_of_a_leaver_without_a_login(hr_client):
    leaver = EmployeeFactory(first_name="Lev", last_name="Gone", left_date=timezone.localdate() - datetime.timedelta(days=30))
    files = hr_download(hr_client, leaver)
    assert files["account.json"] == {} and files["directory.json"]["left_date"] == leaver.left_date.isoformat()
    assert files["enrollments.json"] == [] and files["pairs.json"] == []


def test_only_hr_downloads_a_persons_data(planted, participant_client, participant_user, executive_client, client, hr_client):
    """The attack: a participant guessing another person's id, or their own (theirs is My data)."""
    maya = planted["mentor_user"]
    for pk in (maya.employee.pk, participant_user.employee.pk):
        response = participant_client.post(reverse("employee_export", args=[pk]))
        assert response.status_code == 403 and response["Content-Type"] != "application/zip"
    assert client_for(planted["mentee_user"]).post(reverse("employee_export", args=[maya.employee.pk])).status_code == 403  # her own partner
    assert executive_client.post(reverse("employee_export", args=[maya.employee.pk])).status_code == 403
    anonymous = client.post(reverse("employee_export", args=[maya.employee.pk]))
    assert anonymous.status_code == 302 and reverse("account_login") in anonymous["Location"]
    assert hr_client.get(reverse("employee_export", args=[maya.employee.pk])).status_code == 405
    assert hr_client.post(reverse("employee_export", args=[999999])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED).exists()
    with pytest.raises(gdpr.GdprError, match="Only HR admins"):
        gdpr.person_export_for_hr(employee=maya.employee, by=participant_user)


def test_an_erased_persons_data_is_not_offered_nor_downloaded(hr_client, hr_user):
    target = make_person(first_name="Ida", last_name="Erased").employee
    gdpr.person_erase(employee=target, by=hr_user, confirm_email=target.email)
    assert reverse("employee_export", args=[target.pk]) not in hr_client.get(reverse("employee_detail", args=[target.pk])).content.decode()
    response = hr_client.post(reverse("employee_export", args=[target.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("employee_detail", args=[target.pk])
    assert "Upward holds nothing that identifies them any more" in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_EXPORTED).exists()


# --- Erasure: who may, and the confirmation ------------------------------------------------------------


def test_erasure_needs_hr_and_an_existing_person(participant_client, executive_client, hr_client):
    target = make_person().employee
    url = reverse("employee_erase", args=[target.pk])
    assert participant_client.get(url).status_code == 403
    assert executive_client.post(url, {"email": target.email}).status_code == 403
    assert hr_client.get(reverse("employee_erase", args=[999999])).status_code == 404
    assert hr_client.put(url).status_code == 405
    assert Employee.objects.get(pk=target.pk).erased_at is None


def test_erasure_asks_for_the_persons_email_and_a_wrong_one_changes_nothing(hr_client):
    target = make_person(first_name="Olga", last_name="Keep").employee
    url = reverse("employee_erase", args=[target.pk])
    page = hr_client.get(url).content.decode()
    assert "Erase this person" in page and target.email in page
    assert reverse("employee_erase", args=[target.pk]) in hr_client.get(reverse("employee_detail", args=[target.pk])).content.decode()
    response = hr_client.post(url, {"email": "someone.else@acme.example"})
    assert response.status_code == 200 and "Type the person&#x27;s email address exactly" in response.content.decode()
    target.refresh_from_db()
    assert (target.full_name, target.erased_at, target.user.is_active) == ("Olga Keep", None, True)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PERSON_ERASED).exists()


def test_erasure_says_account_as_the_audit_log_does(hr_client):
    """The erase page and its confirmation said "login" where the audit log, which records the
    erasure, says "account" ("Account #5", "Account open")."""
    target = make_person().employee
    url = reverse("employee_erase", args=[target.pk])
    page = hr_client.get(url).content.decode()
    steps = page.split("It does this, in one step:")[1].split("</ul>")[0]
    assert "their account, every page" in steps and "Their account is closed and they are signed out on every device." in steps
    assert "login" not in steps.lower()

    response = hr_client.post(url, {"email": target.email}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [f"Erased person #{target.pk}: identity pseudonymised, free text deleted, account closed. Program figures are unchanged."]


def test_hr_cannot_erase_themselves(hr_client, hr_user):
    me = hr_user.employee
    url = reverse("employee_erase", args=[me.pk])
    assert "You cannot erase yourself" in hr_client.get(url).content.decode()
    response = hr_client.post(url, {"email": me.email})
    assert "You cannot erase yourself" in response.content.decode()
    me.refresh_from_db()
    assert me.erased_at is None and User.objects.get(pk=hr_user.pk).is_active


def test_a_person_is_erased_once(hr_client, hr_user):
    target = make_person().employee
    email = target.email
    assert hr_client.post(reverse("employee_erase", args=[target.pk]), {"email": email.upper()}).status_code == 302
    target.refresh_from_db()
    assert target.erased_at is not None
    page = hr_client.get(reverse("employee_erase", args=[target.pk])).content.decode()
    assert "This person was erased on" in page and "Erase this person</button>" not in page
    assert "Erase this person…" not in hr_client.get(reverse("employee_detail", args=[target.pk])).content.decode()
    with pytest.raises(gdpr.GdprError, match="already erased"):
        gdpr.person_erase(employee=target, by=hr_user, confirm_email=target.email)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PERSON_ERASED).count() == 1


# --- Erasure: afterwards ------------------------------------------------------------------------------


def pages_text(client, urls) -> str:
    parts = []
    for url in urls:
        response = client.get(url, follow=True)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        parts.append(f"{url} {response.status_code}\n{content.decode()}")
    return "\n".join(parts)


def stored_mail_text() -> str:
    parts = []
    for row in OutboxMessage.objects.all():
        parts += [*row.to, *row.cc, *row.bcc, row.subject, row.body_text, *[a["content"] for a in row.alternatives]]
        parts += [base64.b64decode(a["content_b64"]).decode("utf-8", "replace").replace("\r\n ", "") for a in row.attachments]
    return "\n".join(parts)


def sent_mail_text() -> str:
    parts = []
    for message in mail.outbox:
        parts += [*message.to, message.subject, message.body, *[str(c) for c, _t in message.alternatives]]
        parts += [(c.decode() if isinstance(c, bytes) else str(c)).replace("\r\n ", "") for _n, c, _t in message.attachments]
    return "\n".join(parts)


def test_after_erasure_no_page_export_or_email_shows_them_and_the_numbers_stay(rich, hr_client, hr_user, deliver_outbox, settings, django_capture_on_commit_callbacks):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    pair, program = rich["pair"], rich["pair"].program
    maya_user, sam_user = rich["mentor_user"], rich["mentee_user"]
    maya = maya_user.employee
    old_email, old_id = maya.email, maya.employee_id
    maya_client, sam_client = client_for(maya_user), client_for(sam_user)
    # Generated names of everyone else must not happen to contain hers.
    Employee.objects.exclude(pk=maya.pk).filter(first_name__icontains="maya").update(first_name="Other")
    User.objects.exclude(pk=maya_user.pk).filter(full_name__icontains="maya").update(full_name="Other Person")

    # Copies of her name elsewhere: a roster preview, a match run's reasons, a failed email.
    data = make_csv(person(maya.employee_id, email=maya.email, first_name="Maya", last_name="Mentor-Jones", department=maya.department.name, level="2"))
    hr_client.post(reverse("roster_import"), {"file": SimpleUploadedFile("roster.csv", data)})
    roster_import = RosterImport.objects.get()
    other = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2)
    EnrollmentFactory(program=other, role="mentor", status=Enrollment.Status.APPROVED, employee=maya)
    EnrollmentFactory(program=other, role="mentee", status=Enrollment.Status.APPROVED, employee=make_person(level=3).employee)  # too junior for her
    with django_capture_on_commit_callbacks(execute=True):
        run = pairing_services.match_run_start(program=other, by=hr_user)
    review_url = reverse("match_run_review", args=[other.slug, run.pk])
    services.meeting_schedule(pair=pair, me=sam_user.employee, starts_at=timezone.now() + datetime.timedelta(days=3), duration_minutes=30)
    OutboxMessage.objects.update(status=OutboxMessage.Status.FAILED)  # failed messages are listed on the HR reminders page
    hr_urls = [
        reverse("directory") + "?status=all", reverse("employee_detail", args=[maya.pk]), reverse("employee_detail", args=[sam_user.employee.pk]),
        reverse("program_detail", args=[program.pk]), reverse("program_review", args=[program.pk]), reverse("pairing_home", args=[program.slug]),
        reverse("pairs_list", args=[program.slug]), reverse("program_dashboard", args=[program.pk]), reverse("program_export", args=[program.pk]),
        reverse("hr_care"), reverse("hr_reminders"), reverse("audit_log"), reverse("roster_import"), reverse("roster_import_detail", args=[roster_import.pk]),
        review_url, reverse("program_review", args=[other.pk]),
    ]
    sam_urls = [reverse("pair_detail", args=[pair.pk]), reverse("my_pairs"), reverse("participant_home"), reverse("pair_close", args=[pair.pk])]
    before_pages = pages_text(hr_client, hr_urls) + pages_text(sam_client, sam_urls)
    assert "Maya Mentor" in before_pages and old_email in before_pages and "Mentor-Jones" in before_pages
    assert "Maya Mentor" in pages_text(hr_client, [review_url])  # the engine's reasons quote her name
    assert "Maya Mentor" in stored_mail_text()
    numbers_before = {k: v for k, v in snapshots.compute(program=program).items() if k != "computed_at"}

    response = hr_client.post(reverse("employee_erase", args=[maya.pk]), {"email": old_email})

    assert response.status_code == 302 and response.url == reverse("employee_detail", args=[maya.pk])
    maya.refresh_from_db()
    maya_user.refresh_from_db()
    assert (maya.full_name, maya.email, maya.employee_id, maya.title) == (f"Erased person #{maya.pk}", f"erased-person-{maya.pk}@erased.invalid", f"erased-{maya.pk}", "")
    assert (maya_user.full_name, maya_user.email, maya_user.is_active, maya_user.has_usable_password()) == (f"Erased person #{maya.pk}", maya.email, False, False)
    assert not maya_user.groups.exists()

    # Signed out everywhere.
    assert maya_client.get(reverse("participant_home")).status_code == 302

    # What she wrote is gone; what feeds the metrics is not.
    assert not PrivateNote.objects.filter(author=maya).exists() and PrivateNote.objects.filter(text=MENTEE_NOTE).exists()
    assert list(Feedback.objects.filter(author=pair.mentor).values_list("usefulness", "psychological_safety", "comment")) == [(2, 1, "")]
    assert Feedback.objects.get(author=pair.mentee).comment == MENTEE_FEEDBACK
    assert SessionLog.objects.get(author=maya).shared_notes == "" and SessionLog.objects.get(author=maya).minutes == 45
    assert Concern.objects.get(raised_by=maya).text == "" and SafetyPulse.objects.filter(pair=pair).count() == 1
    # She has left the program as on a withdrawal: who takes part changes, what happened does not.
    numbers_after = {k: v for k, v in snapshots.compute(program=program).items() if k != "computed_at"}
    membership = {"enrollment", "funnel", "pairs", "by_department", "by_level_band", "by_topic", "retention", "promotion"}
    assert {k: v for k, v in numbers_after.items() if k not in membership} == {k: v for k, v in numbers_before.items() if k not in membership}
    assert numbers_before["pairs"]["active"] == 1 and numbers_before["funnel"]["active"] == 2
    assert (numbers_after["pairs"]["active"], numbers_after["pairs"]["ended"], numbers_after["funnel"]["active"]) == (0, 1, 0)

    # No page, download or stored or new email shows her.
    mail.outbox.clear()
    deliver_outbox()
    # Only the partner is written to: their partner left, and their future meetings are off.
    assert {tuple(m.to) for m in mail.outbox} == {(sam_user.email,)}
    assert sum("has left" in m.subject for m in mail.outbox) == 1
    assert all(m.subject.startswith("Cancelled: meeting with your partner") for m in mail.outbox if "has left" not in m.subject)  # no pseudonym: erasure is their own business
    after = "\n".join([
        pages_text(hr_client, hr_urls), pages_text(sam_client, sam_urls), as_text(download(sam_client)),
        sent_mail_text(), stored_mail_text(), json.dumps(RosterImport.objects.get().summary), json.dumps([MatchRun.objects.get(pk=run.pk).inputs, MatchRun.objects.get(pk=run.pk).result]),
    ])
    assert f"Erased person #{maya.pk}" in after
    for identity in ("Maya", "Mentor-Jones", "Maya Mentor", old_email, old_id):
        assert identity not in after, identity
    assert not RosterImport.objects.get().file  # the uploaded file is gone too
    # ... so the preview (never applied) says why it cannot be applied, instead of an Apply button that fails.
    detail = hr_client.get(reverse("roster_import_detail", args=[roster_import.pk])).content.decode()
    assert 'data-testid="file-gone"' in detail and reverse("roster_import_apply", args=[roster_import.pk]) not in detail

    # The erasure itself is audited by id, without her identity.
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.PERSON_ERASED)
    assert (event.actor, event.object_type, event.object_id) == (hr_user, "mentoring.employee", maya.pk)
    assert event.after["private_notes_deleted"] == 1 and event.before["user"] == maya_user.pk
    audit_text = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "Maya" not in audit_text and old_email not in audit_text

    # No way back in, with the old address or the new one. (A failed attempt with an address
    # that no longer belongs to anyone is recorded as its keyed hash, never as typed.)
    for address in (old_email, maya.email):
        login = Client()
        login.post(reverse("account_login"), {"login": address, "password": PASSWORD})
        assert "_auth_user_id" not in login.session
    assert old_email not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_an_erased_person_is_no_longer_counted_listed_or_invited_as_a_current_employee(hr_client, hr_user):
    """Found in review: the HR home page still counted an erased person among its current
    employees, and the directory's "Current" list and department invitations still held them."""
    department = DepartmentFactory(name="Qz Erasure Dept")
    kept = make_person(first_name="Kira", last_name="Stays", department=department, level=2).employee
    gone = make_person(first_name="Gil", last_name="Qzerased", department=department, level=2).employee
    before = hr_client.get(reverse("hr_home")).context["summary"]
    gdpr.person_erase(employee=gone, by=hr_user, confirm_email=gone.email)
    home = hr_client.get(reverse("hr_home"))
    after = home.context["summary"]
    assert (after["current"], after["with_login"], after["erased"]) == (before["current"] - 1, before["with_login"] - 1, 1)
    assert "1 erased person is not counted as a current employee." in home.content.decode()

    def listed(status) -> set[int]:
        return {e.pk for e in hr_client.get(reverse("directory"), {"status": status, "department": department.pk}).context["page"].object_list}

    assert listed("current") == {kept.pk} and listed("erased") == {gone.pk} and listed("all") == {kept.pk, gone.pk}
    assert "Erased</span>" in hr_client.get(reverse("directory"), {"status": "erased"}).content.decode()
    # Inviting a department passes over them: they are not even listed as skipped.
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    preview = hr_client.post(reverse("program_invite", args=[program.pk]), {"role": "mentor", "preview": "1", "department": department.pk}).context["preview"]
    assert preview["invitable"] == [kept] and preview["skipped"] == []
    assert [problem for problem in program_services.eligibility_problems(program=program, employee=Employee.objects.get(pk=gone.pk), role="mentor", check_window=False)] == [
        f"Erased person #{gone.pk} was erased from Upward."
    ]


# --- Erasure: out of every program still running ---------------------------------------------------

ERASED_WROTE = "qz-erased-person-wrote-7701"


def test_erasure_withdraws_open_enrollments_ends_live_pairs_and_the_partner_is_told_nothing_she_wrote(hr_user, deliver_outbox):
    from pairing.models import Pair

    petra_user = make_person(level=2, first_name="Petra", last_name="Qzerasable", hire_date=datetime.date(2019, 2, 3))
    petra = petra_user.employee
    pair = make_active_pair(mentor_user=petra_user)
    partner = pair.mentee.employee
    services.insight_add(pair=pair, me=petra, text=ERASED_WROTE)
    invited = EnrollmentFactory(program=ProgramFactory(status=Program.Status.ENROLLMENT_OPEN), employee=petra, role="mentor", status=Enrollment.Status.INVITED)
    matching = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2)
    approved = EnrollmentFactory(program=matching, employee=petra, role="mentor", status=Enrollment.Status.APPROVED)
    EnrollmentFactory(program=matching, employee=make_person(level=7).employee, role="mentee", status=Enrollment.Status.APPROVED)
    declined = EnrollmentFactory(program=ProgramFactory(status=Program.Status.ENROLLMENT_OPEN), employee=petra, role="mentor", status=Enrollment.Status.DECLINED)
    archived_pair = make_active_pair(mentor_user=petra_user, status=Program.Status.ARCHIVED)  # read-only: left as it is
    assert petra.pk in {m.id for m in pairing_services.build_input(program=matching)[0].mentors}
    deliver_outbox()
    mail.outbox.clear()

    gdpr.person_erase(employee=petra, by=hr_user, confirm_email=petra.email)

    statuses = dict(Enrollment.objects.filter(employee=petra).values_list("pk", "status"))
    assert statuses[pair.mentor_id] == statuses[invited.pk] == statuses[approved.pk] == Enrollment.Status.WITHDRAWN
    assert statuses[declined.pk] == Enrollment.Status.DECLINED and statuses[archived_pair.mentor_id] == Enrollment.Status.APPROVED
    assert Enrollment.objects.get(pk=approved.pk).withdrawn_at is not None
    pair.refresh_from_db()
    assert (pair.status, pair.end_reason, pair.end_note) == (Pair.Status.ENDED, Pair.EndReason.WITHDRAWAL, "") and pair.ended_at is not None
    assert Pair.objects.get(pk=archived_pair.pk).status == Pair.Status.ACTIVE
    petra.refresh_from_db()
    assert petra.hire_date is None
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.PERSON_ERASED)
    assert (event.after["enrollments_withdrawn"], event.after["pairs_ended"]) == (3, 1)

    # The partner gets the usual notice, which names nobody and quotes nothing she wrote.
    deliver_outbox()
    assert [(m.to, m.subject) for m in mail.outbox] == [([partner.email], f"Your partner has left {pair.program.name}")]
    text = sent_mail_text() + stored_mail_text()
    for identity in ("Petra", "Qzerasable", ERASED_WROTE):
        assert identity not in text

    # The next match run does not see her, nor does the reminder sweep.
    assert petra.pk not in {m.id for m in pairing_services.build_input(program=matching)[0].mentors}
    Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(hours=20), duration_minutes=45)
    from sessions_log import reminders
    from sessions_log.models import Reminder

    reminders.reminders_sweep()
    assert not Reminder.objects.filter(recipient=petra).exclude(status=Reminder.Status.CANCELLED).exists()


def test_mail_already_sent_to_the_partner_loses_what_the_erased_person_wrote_and_their_first_name(hr_user, deliver_outbox):
    """Invites, moves and cancellations quote the agenda, place and reasons the person typed,
    and say "<first name> wrote:"; calendar files write a name with a quote as ^' and escape
    commas and semicolons. None of it may survive in the stored copies."""
    petra_user = make_person(level=2, first_name="Petronella", last_name='Qz"Quote, Semi;colon')
    petra = petra_user.employee
    pair = make_active_pair(mentor_user=petra_user)
    partner = pair.mentee.employee
    Employee.objects.exclude(pk=petra.pk).filter(first_name__icontains="petronella").update(first_name="Other")
    wrote = {
        "agenda": "qz-agenda: talk about\nqz-agenda-second-line",
        "location": "qz-location, room 7; east",
        "moved": "qz-moved-because-of-the-board",
        "cancelled": "qz-cancelled, sorry; really",
    }
    soon = timezone.now() + datetime.timedelta(days=3)
    first = services.meeting_schedule(pair=pair, me=petra, starts_at=soon, duration_minutes=30, location=wrote["location"], agenda=wrote["agenda"])
    services.meeting_reschedule(meeting=first, me=petra, starts_at=soon + datetime.timedelta(hours=2), reason=wrote["moved"])
    second = services.meeting_schedule(pair=pair, me=partner, starts_at=soon + datetime.timedelta(days=1), duration_minutes=30)
    services.meeting_cancel(meeting=second, me=petra, reason=wrote["cancelled"])
    deliver_outbox()
    before = stored_mail_text()
    assert all(text.split("\n")[0] in before or text.replace(",", "\\,").replace(";", "\\;") in before for text in wrote.values())
    assert "Petronella wrote:" in before and "^'Quote" in before  # the ICS attendee name, RFC 6868

    gdpr.person_erase(employee=petra, by=hr_user, confirm_email=petra.email)

    after = stored_mail_text()
    assert OutboxMessage.objects.filter(to__icontains=partner.email).exists()  # the partner's copies stay, cleaned
    for fragment in ("qz-agenda", "qz-location", "qz-moved", "qz-cancelled", "Petronella", "Quote", "Semi"):
        assert fragment not in after, fragment
    assert f"Erased person #{petra.pk} wrote:" in after and "[removed]" in after
    assert partner.first_name in after  # the partner's own name is untouched


def test_the_partner_is_not_told_by_a_meeting_cancellation_that_the_person_asked_to_be_erased(hr_user):
    """The partner's notice names nobody; the cancellations of their booked meetings, written
    in the same erasure, must not name the pseudonym either (nor list its address in the
    calendar file)."""
    person_user = make_person(level=2, first_name="Ines", last_name="Qzbauer")
    person = person_user.employee
    pair = make_active_pair(mentor_user=person_user)
    partner = pair.mentee.employee
    services.meeting_schedule(pair=pair, me=partner, starts_at=timezone.now() + datetime.timedelta(days=3), duration_minutes=30)
    OutboxMessage.objects.all().delete()

    gdpr.person_erase(employee=person, by=hr_user, confirm_email=person.email)

    to_partner = [row for row in OutboxMessage.objects.all() if partner.email in row.to]
    assert any(row.subject.startswith("Cancelled: meeting with your partner") for row in to_partner)
    person.refresh_from_db()
    text = stored_mail_text()
    for revealing in ("Erased person", person.full_name, person.email, "Qzbauer"):
        assert revealing not in text, revealing


def test_an_erased_person_without_a_login_is_not_offered_a_sign_up(hr_client, hr_user):
    person = EmployeeFactory()
    gdpr.person_erase(employee=person, by=hr_user, confirm_email=person.email)
    page = hr_client.get(reverse("employee_detail", args=[person.pk])).content.decode()
    assert "This person was erased" in page and "signing up" not in page and "erased.invalid" not in page.split('id="roles-heading"')[1]


def test_the_pool_and_the_reminders_pass_over_an_erased_person_even_where_a_place_or_pair_remains(hr_user):
    """An erased person's declined application can still be reopened (but no longer approved:
    they are not a current employee), and erasures made before programs were left behind kept
    their places and pairs: neither reaches them."""
    from programs.services import enrollment_reopen, enrollments_decide
    from sessions_log import reminders
    from sessions_log.models import Reminder

    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN, min_score=0, min_level_gap=2)
    erased = make_person(level=2).employee
    declined = EnrollmentFactory(program=program, employee=erased, role="mentor", status=Enrollment.Status.DECLINED)
    staying = EnrollmentFactory(program=program, employee=make_person(level=2).employee, role="mentor", status=Enrollment.Status.APPROVED)
    gdpr.person_erase(employee=erased, by=hr_user, confirm_email=erased.email)
    enrollment_reopen(enrollment=declined, by=hr_user)
    result = enrollments_decide(program=program, enrollment_ids=[declined.pk], decision=Enrollment.Status.APPROVED, by=hr_user)
    assert [e.pk for e in result.leavers] == [erased.pk] and Enrollment.objects.get(pk=declined.pk).status == Enrollment.Status.APPLIED
    # A place approved before that still leaves them out of the pool.
    Enrollment.objects.filter(pk=declined.pk).update(status=Enrollment.Status.APPROVED)
    assert {m.id for m in pairing_services.build_input(program=program)[0].mentors} == {staying.employee_id}

    pair = make_active_pair()
    gone, partner = pair.mentor.employee, pair.mentee.employee
    Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(hours=20), duration_minutes=45)
    reminders.reminders_sweep()
    assert Reminder.objects.filter(recipient=gone, status=Reminder.Status.PENDING).exists()
    Employee.objects.filter(pk=gone.pk).update(erased_at=timezone.now())
    reminders.reminders_send_due()  # what was already due for her is skipped
    assert set(Reminder.objects.filter(recipient=gone).values_list("status", flat=True)) == {Reminder.Status.SKIPPED}
    assert Reminder.objects.filter(recipient=partner, status=Reminder.Status.SENT).exists()
    Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(hours=10), duration_minutes=45)
    assert reminders.reminders_sweep() > 0  # the partner's: the new meeting, the unsigned agreement
    assert not Reminder.objects.filter(recipient=gone).exclude(status=Reminder.Status.SKIPPED).exists()


def test_erasure_is_all_or_nothing(hr_user, monkeypatch):
    from pairing.models import Pair

    erased = make_person(level=2, hire_date=datetime.date(2019, 2, 3)).employee
    pair = make_active_pair(mentor_user=erased.user)

    def fail(*args, **kwargs):
        raise RuntimeError("late failure")

    monkeypatch.setattr(gdpr, "_scrub_match_runs", fail)
    with pytest.raises(RuntimeError):
        gdpr.person_erase(employee=erased, by=hr_user, confirm_email=erased.email)
    erased.refresh_from_db()
    assert (erased.erased_at, erased.hire_date) == (None, datetime.date(2019, 2, 3))
    assert Pair.objects.get(pk=pair.pk).status == Pair.Status.ACTIVE and Enrollment.objects.get(pk=pair.mentor_id).status == Enrollment.Status.APPROVED
    assert not OutboxMessage.objects.exists()  # nor was the partner told


# --- Export: in the pages' words ----------------------------------------------------------------------


def test_both_exports_read_in_the_words_of_the_pages_under_the_same_keys(rich, hr_client):
    """Found in QA: the files said 'role_granted', 'mon-14' and 'approved' where the pages say
    'Role granted', 'Monday 14:00–16:00' and 'Approved'."""
    from mentoring.models import Role
    from mentoring.services import user_grant_role, user_revoke_role

    mentor = rich["mentor_user"]
    Enrollment.objects.filter(employee=mentor.employee).update(availability=["mon-14", "wed-08"])
    user_grant_role(user=mentor, role=Role.EXECUTIVE)
    user_revoke_role(user=mentor, role=Role.EXECUTIVE)  # an executive would first be asked to set up MFA
    for files in (download(client_for(mentor)), hr_download(hr_client, mentor.employee)):
        [enrollment] = files["enrollments.json"]
        assert enrollment["availability"] == ["Monday 14:00–16:00", "Wednesday 08:00–10:00"]
        assert (enrollment["role"], enrollment["status"], {t["kind"] for t in enrollment["topics"]}) == ("Mentor", "Approved", {"Can teach"})
        [pair] = files["pairs.json"]
        assert (pair["my_role"], pair["status"]) == ("Mentor", "Active")
        assert files["account.json"]["roles"] == ["Participant"]
        [granted] = [e for e in files["audit_events.json"] if e["action"] == "Role granted"]
        assert granted == {
            "at": granted["at"], "action": "Role granted", "by_me": False, "object": f"Account #{mentor.pk}",
            "summary": "Executive", "before": {"Roles": "Participant"}, "after": {"Roles": "Executive, Participant"}, "ip": None,
        }  # fmt: skip
        assert list(granted) == ["at", "action", "by_me", "object", "summary", "before", "after", "ip"]  # the keys as before
        text = as_text(files)
        for code in ("role_granted", "role_revoked", "hr_admin", "executive", "mon-14", "wed-08", '"approved"', '"mentor"', '"participant"', "mentoring.user#", '"teach"'):
            assert code not in text, code
        assert "read as Upward's pages name them" in " ".join(files["README.txt"].split())


# --- Export: the audit events of an HR admin ---------------------------------------------------------


def test_an_hr_admins_export_holds_no_other_persons_before_and_after(hr_client, hr_user, settings):
    from mentoring.models import Role
    from mentoring.services import user_grant_role

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    department = hr_user.employee.department
    other = Employee.objects.create(employee_id="QZX-1", email="qzx1@acme.example", first_name="Ann", last_name="Other", department=department, level=3, title="Qztitle-Before")
    data = make_csv(person("QZX-1", email="qzx1@acme.example", first_name="Ann", last_name="Other", department=department.name, level="5", title="Qztitle-After"))
    hr_client.post(reverse("roster_import"), {"file": SimpleUploadedFile("roster.csv", data)})
    roster_import = RosterImport.objects.get()
    hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))
    victim = make_person()
    gdpr.person_erase(employee=victim.employee, by=hr_user, confirm_email=victim.email)
    user_grant_role(user=hr_user, role=Role.EXECUTIVE)  # about her: shown in full
    assert AuditEvent.objects.get(action=AuditEvent.Action.ROSTER_IMPORTED).after["employees"][str(other.pk)]["level"] == 5

    events = download(hr_client)["audit_events.json"]
    by_action = {e["action"]: e for e in events}
    imported = by_action["Roster imported"]
    assert imported == {"at": imported["at"], "action": "Roster imported", "by_me": True, "object": f"Roster import #{roster_import.pk}", "ip": "127.0.0.1"}
    assert by_action["Person erased"]["object"] == f"Person #{victim.employee.pk}" and "after" not in by_action["Person erased"]
    assert by_action["Role granted"]["after"] == {"Roles": "Executive, HR admin, Participant"}
    text = json.dumps(events)
    for other_people in ('"level"', "qztitle", "pseudonym", "private_notes_deleted", str(victim.pk) + '"'):
        assert other_people.lower() not in text.lower(), other_people


def test_erasing_someone_keeps_the_roster_files_that_never_named_them(hr_user, settings):
    """Found in QA: every stored upload lost its file (11 of them), because each preview's list
    of people missing from the file named the erased person. Only a file with their row, or
    their id as a manager, goes; the previews are scrubbed either way."""
    from django.core.files.storage import default_storage

    from mentoring.gdpr import person_erase
    from mentoring.roster import roster_import_create

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    gone = make_person(level=3).employee
    stays = make_person(level=3).employee
    naming = roster_import_create(data=make_csv(person("NEW-1", manager_id=gone.employee_id), person(gone.employee_id, email=gone.email)), filename="with-her.csv", uploaded_by=hr_user)
    silent = roster_import_create(data=make_csv(person(stays.employee_id, email=stays.email, first_name=stays.first_name, last_name=stays.last_name)), filename="without.csv", uploaded_by=hr_user)
    assert gone.full_name in json.dumps(silent.summary)  # listed among the people the file leaves out
    from mentoring.models import EmployeeEvent

    EmployeeEvent.objects.create(employee=gone, kind=EmployeeEvent.Kind.JOINED, effective_date=datetime.date(2020, 2, 3))
    person_erase(employee=gone, by=hr_user, confirm_email=gone.email)
    # Found in QA too: the record's hire date was blank, its history still said "Joined 3 Feb 2020".
    assert not EmployeeEvent.objects.filter(employee=gone, kind=EmployeeEvent.Kind.JOINED).exists()
    naming.refresh_from_db()
    silent.refresh_from_db()
    assert not naming.file and silent.file and default_storage.exists(silent.file.name)
    assert gone.full_name not in json.dumps(silent.summary) and gone.full_name not in json.dumps(naming.summary)


def test_the_next_hris_import_does_not_bring_an_erased_person_back(hr_user, hr_client, settings):
    """Found in QA: the HRIS export still lists the erased person; importing it created them
    again under their name, and their report's manager 'erased-16 becomes D00016'."""
    from mentoring.gdpr import person_erase
    from mentoring.models import ErasedIdentity

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    gone = make_person(level=5, first_name="Hamza", last_name="Fernandes").employee
    report = make_person(level=3).employee
    type(report).objects.filter(pk=report.pk).update(manager=gone)
    old_id, old_email = gone.employee_id, gone.email
    person_erase(employee=gone, by=hr_user, confirm_email=gone.email)
    assert ErasedIdentity.objects.filter(employee=gone).count() == 2  # id and address, as keyed fingerprints only
    rows = [
        person(old_id, email=old_email, first_name="Hamza", last_name="Fernandes", level="5", department=gone.department.name),
        person(report.employee_id, email=report.email, first_name=report.first_name, last_name=report.last_name, level="3", department=report.department.name, manager_id=old_id),
    ]
    hr_client.post(reverse("roster_import"), {"file": SimpleUploadedFile("roster.csv", make_csv(*rows))})
    roster_import = RosterImport.objects.latest("pk")
    assert roster_import.summary["erased_lines"] == [2] and "Hamza" not in json.dumps(roster_import.summary)
    page = hr_client.get(reverse("roster_import_detail", args=[roster_import.pk])).content.decode()
    assert "Line 2 is someone erased from Upward at their request" in page
    hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))
    assert not Employee.objects.filter(email__iexact=old_email).exists() and not Employee.objects.filter(employee_id=old_id).exists()
    report.refresh_from_db()
    assert report.manager_id == gone.pk  # still the erased record, not a new person

    # A SECRET_KEY rotated the Django way (the old one kept as a fallback) still recognises them.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    hr_client.post(reverse("roster_import"), {"file": SimpleUploadedFile("roster.csv", make_csv(*rows))})
    assert RosterImport.objects.latest("pk").summary["erased_lines"] == [2]


def test_erasure_finds_a_pending_upload_that_lists_the_person_unchanged_and_spares_a_namesake(hr_user, settings):
    """From a review and a QA pass: an upload holding the person's row unchanged (so not in its
    preview) kept their name and address; and a different person of the same name was renamed
    'Erased person' in a stored preview."""
    from django.core.files.storage import default_storage

    from mentoring.gdpr import person_erase
    from mentoring.roster import roster_apply, roster_import_create

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    lena = make_person(level=3, first_name="Lena", last_name="Diallo").employee
    namesake = make_person(level=3, first_name="Lena", last_name="Diallo").employee
    lena_row = person(lena.employee_id, email=lena.email, first_name="Lena", last_name="Diallo", level="3", department=lena.department.name, title=lena.title, location=lena.location, time_zone=lena.time_zone, hire_date=lena.hire_date.isoformat() if lena.hire_date else "", level_label=lena.level_label)
    roster_apply(data=make_csv(lena_row), filename="first.csv")  # her row now matches the directory exactly
    pending = roster_import_create(data=make_csv(lena_row, person("NEW-9")), filename="pending.csv", uploaded_by=hr_user)
    assert lena.email not in json.dumps(pending.summary) and namesake.employee_id in json.dumps(pending.summary)
    person_erase(employee=lena, by=hr_user, confirm_email=lena.email)
    pending.refresh_from_db()
    assert not pending.file
    assert {"employee_id": namesake.employee_id, "name": "Lena Diallo"} in pending.summary["not_in_file"]  # the namesake keeps her name
