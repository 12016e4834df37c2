"""GDPR: a person downloads their data (JSON files in a ZIP), or HR downloads it for them
(less what HR never sees); HR erases a person.

Erasure pseudonymises rather than deletes: the directory row, enrollments, pairs, meetings,
ratings and survey scores stay, so every dashboard number stays what it was, but the identity
("Erased person #<id>", an invalid address) and the free text the person wrote are gone.

Every relation from a model to a person is listed in EXPORTED or EXEMPT below;
tests/mentoring/test_gdpr.py fails when a model gains one that is in neither.
"""

import base64
import html
import io
import json
import re
import zipfile

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from .audit import audit_record
from .auth_policy import user_sessions_end
from .models import AuditEvent, Employee, EmployeeEvent, ErasedIdentity, OutboxMessage, Role, RosterImport, User


class GdprError(Exception):
    """A refused export or erasure, with a message a person can read."""


# --- What is personal, and where it goes ----------------------------------------------------------

# A relation to one of these is a link to a person: a login, a directory entry, one person's
# place in a program, or a pair (two people).
PERSON_MODELS = ("mentoring.User", "mentoring.Employee", "programs.Enrollment", "pairing.Pair")

# "app_label.Model.field" -> the file of the export that holds what the relation links.
EXPORTED: dict[str, str] = {
    "account.EmailAddress.user": "account.json",
    "mfa.Authenticator.user": "account.json",
    "socialaccount.SocialAccount.user": "account.json",
    "mentoring.Employee.user": "directory.json",
    "mentoring.Employee.manager": "directory.json",
    "mentoring.EmployeeEvent.employee": "directory.json",
    "mentoring.AuditEvent.actor": "audit_events.json",
    "programs.Enrollment.employee": "enrollments.json",
    "programs.Enrollment.not_with": "enrollments.json",  # the person's own list, never others' lists naming them
    "programs.EnrollmentTopic.enrollment": "enrollments.json",
    "programs.ResourceCompletion.enrollment": "enrollments.json",
    "pairing.Pair.mentor": "pairs.json",
    "pairing.Pair.mentee": "pairs.json",
    "sessions_log.Agreement.pair": "pairs.json",
    "sessions_log.Agreement.updated_by": "pairs.json",
    "sessions_log.Meeting.pair": "pairs.json",
    "sessions_log.Meeting.scheduled_by": "pairs.json",
    "sessions_log.MeetingChange.requested_by": "pairs.json",
    "sessions_log.SessionLog.pair": "pairs.json",
    "sessions_log.SessionLog.author": "pairs.json",
    "sessions_log.Insight.pair": "pairs.json",
    "sessions_log.Insight.created_by": "pairs.json",
    "sessions_log.ActionItem.pair": "action_items.json",
    "sessions_log.ActionItem.committed_by": "action_items.json",
    "sessions_log.PrivateNote.author": "private_notes.json",
    "sessions_log.SafetyPulse.pair": "pulse_answers.json",  # to the mentor, who answered it
    "sessions_log.Feedback.author": "feedback_given.json",
    "sessions_log.Reflection.author": "reflections.json",
    "sessions_log.SurveyResponse.enrollment": "surveys.json",
    "sessions_log.Concern.raised_by": "concerns.json",
    "sessions_log.Reminder.recipient": "reminders.json",
    "sessions_log.ReminderOptOut.employee": "reminders.json",
    "sessions_log.CalendarFeed.employee": "calendar_feed.json",
}

_HR_WORK = "HR's work record on the organisation's programs, not data about the person; who did it is in the audit events"

# "app_label.Model.field" -> why the export leaves it out.
EXEMPT: dict[str, str] = {
    "admin.LogEntry.user": "Django admin's change history of staff accounts (operators only); erasure renames the person in it",
    "usersessions.UserSession.user": "sign-in sessions (address, browser): technical, and all of them end at erasure",
    "mentoring.RosterImport.uploaded_by": _HR_WORK,
    "mentoring.ErasedIdentity.employee": "only for an erased person: keyed fingerprints that keep the next HRIS import from bringing them back, no data",
    "programs.Program.created_by": _HR_WORK,
    "programs.ProgramTransition.by": _HR_WORK,
    "programs.Enrollment.invited_by": _HR_WORK,
    "programs.Enrollment.decided_by": _HR_WORK,
    "programs.SnapshotRun.requested_by": _HR_WORK,
    "pairing.MatchRun.started_by": _HR_WORK,
    "pairing.MatchRun.published_by": _HR_WORK,
    "pairing.PairingOverride.created_by": _HR_WORK,
    "pairing.PairingOverride.mentor": "HR's pins and exclusions for a proposal: an exclusion can reveal another person's confidential request",
    "pairing.PairingOverride.mentee": "HR's pins and exclusions for a proposal: an exclusion can reveal another person's confidential request",
    "pairing.Pair.created_by": _HR_WORK,
    "pairing.Pair.ended_by": "who ended a pair; the pair's end date and reason are in pairs.json",
    "pairing.Pair.check_in_by": "the HR admin who last wrote to a pair (HR's own work); the message is blanked when they are erased",
    "sessions_log.Feedback.pair": "feedback about the person is confidential to its author; the product never shows it to the person rated",
    "sessions_log.Reflection.pair": "the partner's reflection is theirs; the product only says that they wrote one",
    "sessions_log.Concern.pair": "a concern is confidential between the mentor who raised it and HR",
    "sessions_log.Concern.hr_note_by": "the HR admin who wrote HR's note on a concern (HR's own work); the note is blanked when they are erased",
    "sessions_log.PulseAlert.pair": "HR's alert derived from the mentor's pulse; the pulse answers are exported to the mentor",
    "sessions_log.Reminder.pair": "the partner's reminders are theirs; a person's own reminders are exported by recipient",
}


def person_relations() -> list[str]:
    """Every forward relation (FK, one-to-one, many-to-many) to a person model, as model.field."""
    from django.apps import apps

    person_models = {apps.get_model(label) for label in PERSON_MODELS}
    found = []
    for model in apps.get_models():
        for field in [*model._meta.fields, *model._meta.many_to_many]:
            if field.is_relation and field.related_model in person_models:
                found.append(f"{model._meta.label}.{field.name}")
    return sorted(found)


# --- Export -------------------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def _words(choices, code):
    """A stored code as the pages name it ("hr_admin" is "HR admin", "mon-14" is "Monday
    14:00–16:00"); one they no longer name, as it is. The files are read by the person: the
    keys stay as they were, the values read in Upward's words."""
    return str(dict(choices).get(code, code)) if code else code


def _account(user: User) -> dict:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "active": user.is_active,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        "roles": [_words(Role.choices, name) for name in sorted(user.groups.values_list("name", flat=True))],
        "email_addresses": [
            {"email": e.email, "verified": e.verified, "primary": e.primary} for e in EmailAddress.objects.filter(user=user).order_by("id")
        ],
        # Which kinds of second factor exist and when they were used; never their secrets.
        "second_factors": [
            {"type": a.get_type_display(), "created_at": _iso(a.created_at), "last_used_at": _iso(a.last_used_at)} for a in Authenticator.objects.filter(user=user).order_by("id")
        ],
        "single_sign_on": [
            {"provider": s.provider, "uid": s.uid, "last_login": _iso(s.last_login), "date_joined": _iso(s.date_joined)}
            for s in SocialAccount.objects.filter(user=user).order_by("id")
        ],
    }


def _directory(employee: Employee | None) -> dict:
    if employee is None:
        return {}
    manager = employee.manager
    return {
        "employee_id": employee.employee_id,
        "email": employee.email,
        "first_name": employee.first_name,
        "last_name": employee.last_name,
        "title": employee.title,
        "department": employee.department.name,
        "level": employee.level,
        "level_label": employee.level_label,
        "manager": {"employee_id": manager.employee_id, "name": manager.full_name} if manager else None,
        "location": employee.location,
        "time_zone": employee.time_zone,
        "hire_date": _iso(employee.hire_date),
        "left_date": _iso(employee.left_date),
        "history": [
            {"kind": ev.get_kind_display(), "effective_date": _iso(ev.effective_date), "from_level": ev.from_level, "to_level": ev.to_level}
            for ev in employee.events.order_by("effective_date", "id")
        ],
    }


def _enrollments(enrollments, *, for_hr: bool = False) -> list[dict]:
    from programs.forms import SLOTS  # the application form's labels for the weekly blocks

    out = []
    for e in enrollments:
        done = {c.resource_id: c.completed_at for c in e.completed_resources.all()}
        row = {
            "id": e.pk,
            "program": e.program.name,
            "role": e.get_role_display(),
            "status": e.get_status_display(),
            "interests": e.interests,
            "languages": e.languages,
            # Blocks in the person's own time zone (time_zone below), as the form offered them.
            "availability": [_words(SLOTS, slot) for slot in e.availability],
            "time_zone": e.time_zone,
            "motivation": e.motivation,
            "topics": [{"topic": r.topic.name, "kind": r.get_kind_display(), "level": r.level} for r in e.topic_ratings.all()],
            # The person's own "please not with" list: confidential to them, so theirs to see;
            # the application form promises that HR never sees it.
            **({} if for_hr else {"please_not_with": [p.full_name for p in e.not_with.all()]}),
            "invited_at": _iso(e.invited_at),
            "applied_at": _iso(e.applied_at),
            "decided_at": _iso(e.decided_at),
            "decision_message": e.decision_message,
            "withdrawn_at": _iso(e.withdrawn_at),
            "withdrawal_reason": e.withdrawal_reason,
            "resources_completed": [{"resource": r.title, "completed_at": _iso(done[r.pk])} for r in e.program.resources.all() if r.pk in done],
        }
        out.append(row)
    return out


def _pairs(employee: Employee, pairs) -> list[dict]:
    from programs.models import Role as ProgramRole
    from sessions_log.models import Agreement

    agreements = {a.pair_id: a for a in Agreement.objects.filter(pair__in=pairs).prefetch_related("goals")}
    now = timezone.now()

    def meeting_status(m) -> str:
        # Stored status is scheduled or cancelled; a scheduled meeting that has ended reads
        # as past, as on the pair page, not as if it were still to come.
        if m.status == m.Status.CANCELLED:
            return "cancelled"
        return "past" if m.ends_at <= now else "upcoming"

    out = []
    for pair in pairs:
        logged = {log.meeting_id: log.pk for log in pair.session_logs.all() if log.meeting_id}
        side = "mentor" if pair.mentor.employee_id == employee.pk else "mentee"
        partner = pair.mentee if side == "mentor" else pair.mentor
        agreement = agreements.get(pair.pk)

        def who(person_id):
            return "me" if person_id == employee.pk else ("partner" if person_id == partner.employee_id else None)

        out.append(
            {
                "id": pair.pk,
                "program": pair.program.name,
                "my_role": _words(ProgramRole.choices, side),
                "partner": partner.employee.full_name,
                "status": pair.get_status_display(),
                "started_at": _iso(pair.started_at),
                "ended_at": _iso(pair.ended_at),
                "end_reason": pair.get_end_reason_display() if pair.end_reason else pair.end_reason,
                "agreement": {
                    "meeting_frequency": agreement.meeting_frequency,
                    "boundaries": agreement.boundaries,
                    "confidentiality": agreement.confidentiality,
                    "version": agreement.version,
                    "i_acknowledged_version": getattr(agreement, f"{side}_acknowledged_version"),
                    "goals": [{"title": g.title, "progress": g.progress, "note": g.note} for g in agreement.goals.all()],
                }
                if agreement
                else None,
                "meetings": [
                    {
                        "starts_at": _iso(m.starts_at),
                        "duration_minutes": m.duration_minutes,
                        "location": m.location,
                        "video_url": m.video_url,
                        "agenda": m.agenda,
                        "topics": [t.name for t in m.topics.all()],
                        "status": meeting_status(m),
                        "session_log": logged.get(m.pk),
                        "scheduled_by": who(m.scheduled_by_id),
                        "changes": [
                            {"kind": c.get_kind_display(), "requested_by": who(c.requested_by_id), "reason": c.reason, "old_starts_at": _iso(c.old_starts_at), "new_starts_at": _iso(c.new_starts_at), "at": _iso(c.at)}
                            for c in m.changes.all()
                        ],
                    }
                    for m in pair.meetings.all()
                ],
                # What both sides see of a session; private notes are in private_notes.json.
                "session_logs": [
                    {
                        "id": log.pk,
                        "held_on": _iso(log.held_on),
                        "minutes": log.minutes,
                        "topics": [t.name for t in log.topics.all()],
                        "written_by": who(log.author_id),
                        "mentor_learned": log.mentor_learned,
                        "mentee_learned": log.mentee_learned,
                        "shared_notes": log.shared_notes,
                    }
                    for log in pair.session_logs.all()
                ],
                "insights": [
                    {"topic": i.topic.name if i.topic else None, "text": i.text, "raised_by": who(i.created_by_id), "created_at": _iso(i.created_at)}
                    for i in pair.insights.all()
                ],
            }
        )
    return out


# What a pair wrote for each other. HR's pair page shows how often they met, logged and agreed,
# never what they wrote: HR's copy of a person's data leaves these out.
_PAIR_WRITTEN = {
    "agreement": ("meeting_frequency", "boundaries", "confidentiality", "goals"),
    "meetings": ("location", "video_url", "agenda"),
    "session_logs": ("mentor_learned", "mentee_learned", "shared_notes"),
    "insights": ("text",),
}


def _without_pair_text(pair: dict) -> dict:
    pair = dict(pair)
    if pair["agreement"]:
        pair["agreement"] = {k: v for k, v in pair["agreement"].items() if k not in _PAIR_WRITTEN["agreement"]}
    for part in ("meetings", "session_logs", "insights"):
        pair[part] = [{k: v for k, v in item.items() if k not in _PAIR_WRITTEN[part]} for item in pair[part]]
    for meeting in pair["meetings"]:
        meeting["changes"] = [{k: v for k, v in change.items() if k != "reason"} for change in meeting["changes"]]
    return pair


def _audit_events(events, *, user: User | None, employee: Employee | None) -> list[dict]:
    """The audit events in the person's export, in the audit log's words. The values an event
    changed only when it is about them (their login or directory entry): what they did to
    others (an HR admin's roster import, role changes, erasures) is shown as the action, when,
    and on which object by its kind and number, never the other people's names or values."""
    from .audit import OBJECT_TYPES
    from .audit_display import audit_rows

    def about_me(event):
        return (user is not None and event.object_type == "mentoring.user" and event.object_id == user.pk) or (
            employee is not None and event.object_type == "mentoring.employee" and event.object_id == employee.pk
        )

    events = list(events)
    shown = {row.event.pk: row for row in audit_rows([e for e in events if about_me(e)])}
    out = []
    for event in events:
        where = f"{OBJECT_TYPES.get(event.object_type, event.object_type)} #{event.object_id}" if event.object_type else ""
        row = {"at": _iso(event.occurred_at), "action": event.get_action_display(), "by_me": user is not None and event.actor_id == user.pk, "object": where}
        if event.pk in shown:
            changes = shown[event.pk].changes
            row.update(
                summary=shown[event.pk].summary,
                before={c.label: c.before for c in changes if c.before is not None},
                after={c.label: c.after for c in changes},
            )
        # The address is the person's own when they did it, or the sign-in attempt on their account.
        row["ip"] = event.ip
        out.append(row)
    return out


def person_export_data(*, user: User) -> dict[str, object]:
    """{file name: JSON-able content} of everything Upward holds about this person that is
    theirs to see. Never another person's confidential data: the partner's private notes,
    pulse answers, feedback, reflections and "please not with" lists stay out."""
    employee = Employee.objects.select_related("department", "manager").filter(user=user).first()
    return _export_data(user=user, employee=employee, for_hr=False)


def person_export_data_for_hr(*, employee: Employee) -> dict[str, object]:
    """What HR hands over on a request for a person's data: the person's data as HR may see
    it. Never what is private to the person (private notes, safety pulse answers, the feedback
    they gave, their reflections, survey answers, their "please not with" list) nor what the
    pair wrote for each other (agreement, agendas, session notes, insights, actions): the
    person downloads all of that themselves from My data."""
    employee = Employee.objects.select_related("department", "manager", "user").get(pk=employee.pk)
    return _export_data(user=employee.user, employee=employee, for_hr=True)


def _export_data(*, user: User | None, employee: Employee | None, for_hr: bool) -> dict[str, object]:
    from pairing.models import Pair
    from programs.models import Enrollment
    from sessions_log.models import ActionItem, CalendarFeed, Concern, Feedback, Meeting, PrivateNote, Reflection, Reminder, ReminderOptOut, SafetyPulse, SessionLog, SurveyResponse

    data: dict[str, object] = {"account.json": _account(user) if user is not None else {}, "directory.json": _directory(employee)}
    events = AuditEvent.objects.none()
    if user is not None:
        events = AuditEvent.objects.filter(Q(actor=user) | Q(object_type="mentoring.user", object_id=user.pk))
    if employee is not None:
        events = events | AuditEvent.objects.filter(object_type="mentoring.employee", object_id=employee.pk)
    data["audit_events.json"] = _audit_events(events.order_by("occurred_at", "id"), user=user, employee=employee)
    if employee is None:
        return data

    enrollments = list(
        Enrollment.objects.filter(employee=employee)
        .select_related("program")
        .prefetch_related("topic_ratings__topic", *(() if for_hr else ("not_with",)), "completed_resources", "program__resources")
        .order_by("created_at", "id")
    )
    data["enrollments.json"] = _enrollments(enrollments, for_hr=for_hr)
    # Proposed pairs are HR's draft: the person never sees them, so they are not "theirs" yet.
    pairs = list(
        Pair.objects.filter(Q(mentor__employee=employee) | Q(mentee__employee=employee))
        .exclude(status=Pair.Status.PROPOSED)
        .select_related("program", "mentor__employee", "mentee__employee")
        .prefetch_related(
            Prefetch("meetings", Meeting.objects.prefetch_related("topics", "changes").order_by("starts_at")),
            Prefetch("session_logs", SessionLog.objects.prefetch_related("topics").order_by("held_on", "id")),
            "insights__topic",
        )
        .order_by("created_at", "id")
    )
    data["pairs.json"] = [_without_pair_text(p) for p in _pairs(employee, pairs)] if for_hr else _pairs(employee, pairs)
    data["action_items.json"] = [
        {"pair": a.pair_id, **({} if for_hr else {"text": a.text}), "due_on": _iso(a.due_on), "status": a.get_status_display(), "committed_by_me": a.committed_by_id == employee.pk, "done_at": _iso(a.done_at)}
        for a in ActionItem.objects.filter(pair__in=pairs).order_by("created_at", "id")
    ]
    if not for_hr:
        # Theirs alone: HR sees a pulse alert, never the answers, and feedback only as figures.
        data["private_notes.json"] = [
            {"pair": n.session_log.pair_id, "session_held_on": _iso(n.session_log.held_on), "text": n.text, "updated_at": _iso(n.updated_at)}
            for n in PrivateNote.objects.filter(author=employee).select_related("session_log").order_by("id")
        ]
        mentor_pairs = [p for p in pairs if p.mentor.employee_id == employee.pk]
        data["pulse_answers.json"] = [
            {"pair": p.pair_id, "session_held_on": _iso(p.session_log.held_on), "felt_heard": p.felt_heard, "safe_to_be_candid": p.safe_to_be_candid, "wants_to_continue": p.wants_to_continue}
            for p in SafetyPulse.objects.filter(pair__in=mentor_pairs).select_related("session_log").order_by("id")
        ]
        data["feedback_given.json"] = [
            {"pair": f.pair_id, "session_held_on": _iso(f.session_log.held_on), "usefulness": f.usefulness, "psychological_safety": f.psychological_safety, "comment": f.comment}
            for f in Feedback.objects.filter(author__in=enrollments).select_related("session_log").order_by("id")
        ]
        data["reflections.json"] = [{"pair": r.pair_id, "text": r.text, "created_at": _iso(r.created_at)} for r in Reflection.objects.filter(author__in=enrollments).order_by("id")]
    surveys = SurveyResponse.objects.filter(enrollment__in=enrollments).select_related("enrollment__program").order_by("id")
    if for_hr:
        # That a survey was answered, not the answers: dashboards hide groups below five.
        data["surveys.json"] = [{"program": s.enrollment.program.name, "kind": s.get_kind_display(), "submitted_at": _iso(s.submitted_at)} for s in surveys]
    else:
        data["surveys.json"] = [
            {
                "program": s.enrollment.program.name,
                "kind": s.get_kind_display(),
                "would_recommend": s.would_recommend,
                "submitted_at": _iso(s.submitted_at),
                "answers": [{"topic": a.topic.name if a.topic else None, "growth_item": a.growth_item, "score": a.score} for a in s.answers.all()],
            }
            for s in surveys.prefetch_related("answers__topic")
        ]
    data["concerns.json"] = [{"pair": c.pair_id, "text": c.text, "status": c.get_status_display(), "created_at": _iso(c.created_at)} for c in Concern.objects.filter(raised_by=employee).order_by("id")]
    data["reminders.json"] = {
        "switched_off": [_words(Reminder.Kind.choices, kind) for kind in sorted(ReminderOptOut.objects.filter(employee=employee).values_list("kind", flat=True))],
        "reminders": [
            {"kind": r.get_kind_display(), "due_at": _iso(r.due_at), "status": r.get_status_display(), "sent_at": _iso(r.sent_at)}
            for r in Reminder.objects.filter(recipient=employee).order_by("due_at", "id")
        ],
    }
    feed = CalendarFeed.objects.filter(employee=employee).first()
    # That a secret calendar URL exists, never the token: a copy of the export must not open it.
    data["calendar_feed.json"] = {"exists": feed is not None, "created_at": _iso(feed.created_at) if feed else None}
    return data


EXPORT_README = """Your data in Upward, as of {when} (UTC).

Each .json file holds one part: account.json (your login), directory.json (your entry in the
org directory), enrollments.json, pairs.json (agreements, meetings, session logs and insights
of your pairs, as both of you see them), action_items.json, private_notes.json (yours only),
pulse_answers.json (mentors' own answers), feedback_given.json, reflections.json, surveys.json,
concerns.json, reminders.json, calendar_feed.json and audit_events.json (what the audit log
records about you). Roles, statuses, kinds and actions read as Upward's pages name them, and
your availability as the weekly blocks you chose, in your own time zone; the names of the
fields are the same in every export. A meeting's status is upcoming, past or cancelled, and
session_log names the session log written for it, if any.

Not included: what other people keep confidential (your partner's private notes, pulse answers,
feedback and reflections, and anyone's "please not with" list other than your own).
"""


HR_EXPORT_README = """Data Upward holds about {name}, as of {when} (UTC), downloaded by an HR admin.

Each .json file holds one part: account.json (their login, if they have one), directory.json
(their entry in the org directory), enrollments.json (their applications), pairs.json (their
pairs: partner, status, dates, meetings and session logs with times, minutes and topics),
action_items.json (status and dates), surveys.json (which surveys they answered), concerns.json
(concerns they raised), reminders.json, calendar_feed.json and audit_events.json (what the
audit log records about them). Roles, statuses, kinds and actions read as Upward's pages name
them, and their availability as the weekly blocks they chose, in their own time zone; the
names of the fields are the same in every export.

Not included, because HR never sees it: their private notes, safety pulse answers, the feedback
they gave, their reflections, their survey answers and their "please not with" list, and what
they and their partner wrote for each other (agreement, agendas, session notes, insights and
actions). The person can download all of it themselves from My data in Upward while their login
is open.
"""


def _zip(data: dict[str, object], readme: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme)
        for name, content in data.items():
            archive.writestr(name, json.dumps(content, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
    return buffer.getvalue()


@transaction.atomic
def person_export(*, user: User) -> bytes:
    """The person's data as a ZIP of JSON files; the download itself is audited."""
    if not user.is_active:
        raise GdprError("This account is deactivated.")
    data = person_export_data(user=user)
    archive = _zip(data, EXPORT_README.format(when=timezone.now().strftime("%Y-%m-%d %H:%M")))
    audit_record(action=AuditEvent.Action.DATA_EXPORTED, target=user, actor=user, summary="Personal data export downloaded", after={"files": sorted(data)})
    return archive


@transaction.atomic
def person_export_for_hr(*, employee: Employee, by: User) -> bytes:
    """A person's data as HR may see it (person_export_data_for_hr), as a ZIP of JSON files,
    for a data-protection request made through HR (a leaver, someone without a login). The
    download is an HR action: audited on the person, with who downloaded it."""
    if by is None or not by.has_role(Role.HR_ADMIN):
        raise GdprError("Only HR admins can download a person's data.")
    employee = Employee.objects.get(pk=employee.pk)
    if employee.erased_at is not None:
        raise GdprError(f"{erased_name(employee)} was erased on {timezone.localtime(employee.erased_at):%Y-%m-%d}: Upward holds nothing that identifies them any more.")
    data = person_export_data_for_hr(employee=employee)
    archive = _zip(data, HR_EXPORT_README.format(name=employee.full_name, when=timezone.now().strftime("%Y-%m-%d %H:%M")))
    audit_record(
        action=AuditEvent.Action.DATA_EXPORTED, target=employee, actor=by, summary="Personal data export downloaded by HR", after={"files": sorted(data)},
    )
    return archive


# --- Erasure ----------------------------------------------------------------------------------------


def erased_name(employee: Employee) -> str:
    return f"Erased person #{employee.pk}"


def erased_email(employee: Employee) -> str:
    # .invalid never resolves (RFC 2606): nothing can ever be delivered to it.
    return f"erased-person-{employee.pk}@erased.invalid"


def address_of(recipient: str) -> str:
    """'Maya Mentor <maya@acme.example>' -> 'maya@acme.example'."""
    return recipient.rsplit("<", 1)[-1].rstrip(">").strip().lower()


def _variants(text: str) -> set[str]:
    ics_text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    ics_param = text.replace("^", "^^").replace('"', "^'").replace("\r\n", "^n").replace("\n", "^n")
    return {v for base in (text, text.replace("\r\n", "\n")) for v in (base, html.escape(base), ics_text, ics_param)}


class _Scrubber:
    """Replaces a person's identifying strings (email, names, employee id) in text and JSON."""

    def __init__(self, *, phrases: dict[str, str], exact: dict[str, str] | None = None, words: bool = False):
        # Each phrase also as HTML shows it ("O'Brien" is "O&#x27;Brien" in an HTML email), and
        # as a calendar file writes it: TEXT values escape \\ ; , and newlines (RFC 5545), and
        # parameter values such as ATTENDEE;CN= encode " as ^' (RFC 6868).
        phrases = {variant: new for old, new in phrases.items() if old and old.strip() for variant in _variants(old)}
        alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
        if words:  # whole words only: a first name inside another word is left alone
            alternatives = rf"(?<!\w)(?:{alternatives})(?!\w)"
        self.pattern = re.compile(alternatives, re.IGNORECASE) if phrases else None
        self.lookup = {old.lower(): new for old, new in phrases.items()}
        self.exact = {old: new for old, new in (exact or {}).items() if old}

    def text(self, value: str) -> str:
        if value in self.exact:
            return self.exact[value]
        if self.pattern is None or not value:
            return value
        return self.pattern.sub(lambda m: self.lookup[m.group(0).lower()], value)

    def json(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


# What a person wrote that mail quotes to their partner (an agenda, a place, a reason) is
# matched in stored mail only from this length: shorter strings ("ok", "Zoom") are too common
# to cut from other people's messages.
_QUOTED_MIN_LENGTH = 6
REMOVED = "[removed]"


def _scrub_outbox(scrub: _Scrubber, emails: list[str], names: list[str], *, first_name: str = "", new_name: str = "", quoted: list[str] = ()) -> dict[str, int]:
    """Mail only to the person is dropped (they will never read it); every other stored message
    loses their address and name, what they wrote that it quotes (`quoted`), and, in a message
    that is about them, their first name ("Alex wrote: ...", "Alex brings questions")."""
    mine = Q()
    for email in emails:
        mine |= Q(to__icontains=email) | Q(cc__icontains=email) | Q(bcc__icontains=email)
    deleted = 0
    for row in OutboxMessage.objects.filter(mine).only("id", "to", "cc", "bcc"):
        if all(address_of(a) in emails for a in (*row.to, *row.cc, *row.bcc)):
            deleted += OutboxMessage.objects.filter(pk=row.pk).delete()[0]
    # Whole texts, and each line alone: HTML mail breaks lines with <br>.
    quoted = sorted({q.strip() for text in quoted if text for q in (text, *text.splitlines()) if len(q.strip()) >= _QUOTED_MIN_LENGTH})
    mentions = mine
    for phrase in [*emails, *names, *quoted]:
        mentions |= Q(subject__icontains=phrase) | Q(body_text__icontains=phrase) | Q(alternatives__icontains=phrase) | Q(reply_to__icontains=phrase)
    quotes = _Scrubber(phrases=dict.fromkeys(quoted, REMOVED))
    first = _Scrubber(phrases={first_name: new_name}, words=True) if first_name and new_name else None

    def clean(value: str, about: bool) -> str:
        value = quotes.text(scrub.text(value))
        return first.text(value) if about and first is not None else value

    def is_about(*values: str) -> bool:
        return any(p.pattern is not None and p.pattern.search(v) for p in (scrub, quotes) for v in values if v)

    # Calendar invites are base64 attachments: they are decoded and checked one by one.
    candidates = OutboxMessage.objects.filter(mentions | ~Q(attachments=[]))
    redacted = 0
    for row in candidates.iterator(chunk_size=200):
        texts = []
        for attachment in row.attachments:
            # Calendar lines are folded at 75 octets: unfold first, or a name split across
            # two lines would survive.
            texts.append(
                base64.b64decode(attachment["content_b64"]).decode("utf-8", errors="replace").replace("\r\n ", "").replace("\r\n\t", "")
                if attachment["mimetype"].startswith("text/") else None
            )
        about = is_about(row.subject, row.body_text, *(alt["content"] for alt in row.alternatives), *(t for t in texts if t), *row.to, *row.cc, *row.reply_to)
        attachments = []
        for attachment, text in zip(row.attachments, texts):
            if text is not None:
                scrubbed = clean(text, about)
                if scrubbed != text:
                    attachment = {**attachment, "content_b64": base64.b64encode(scrubbed.encode("utf-8")).decode("ascii")}
            attachments.append(attachment)
        changes = {
            "to": [scrub.text(a) for a in row.to],
            "cc": [scrub.text(a) for a in row.cc],
            "bcc": [scrub.text(a) for a in row.bcc],
            "reply_to": [scrub.text(a) for a in row.reply_to],
            "subject": clean(row.subject, about),
            "body_text": clean(row.body_text, about),
            "alternatives": [{**alt, "content": clean(alt["content"], about)} for alt in row.alternatives],
            "attachments": attachments,
        }
        if any(getattr(row, name) != value for name, value in changes.items()):
            OutboxMessage.objects.filter(pk=row.pk).update(**changes)
            redacted += 1
    return {"outbox_messages_deleted": deleted, "outbox_messages_redacted": redacted}


# Fields of a roster preview's planned change that say who the person is (FIELD_LABELS' words).
_ROSTER_IDENTITY_FIELDS = {"email", "first name", "last name", "name", "title", "location"}


def _scrub_roster_entry(entry, *, old_id: str, new_id: str, new_name: str, new_email: str):
    """The person's own rows of a preview: every identity value goes, whatever the file said."""
    if isinstance(entry, list):
        return [_scrub_roster_entry(e, old_id=old_id, new_id=new_id, new_name=new_name, new_email=new_email) for e in entry]
    if not isinstance(entry, dict):
        return entry
    if entry.get("employee_id") != old_id:
        return {k: _scrub_roster_entry(v, old_id=old_id, new_id=new_id, new_name=new_name, new_email=new_email) for k, v in entry.items()}
    entry = {**entry, "employee_id": new_id, "name": new_name}
    if "email" in entry:
        entry["email"] = new_email
    if "changes" in entry:
        entry["changes"] = [{**c, "old": "—", "new": "—"} if c.get("field") in _ROSTER_IDENTITY_FIELDS else c for c in entry["changes"]]
    return entry


def _scrub_roster_imports(scrub: _Scrubber, needles: list[str], **person) -> tuple[int, int]:
    """Roster import previews list names and emails (the person's own rows, or among the
    people a file left out): they are scrubbed. An uploaded file goes only when it names the
    person (their row, or their id as someone's manager): a file that never mentioned them
    stays usable. Returns (previews scrubbed, files removed)."""
    text = Cast("summary", TextField())
    match = Q()
    for needle in needles:
        match |= Q(summary_text__icontains=needle)
    files = []
    count = 0
    for roster_import in RosterImport.objects.annotate(summary_text=text).filter(match | (Q(file__isnull=False) & ~Q(file=""))):
        changes = {}
        summary = scrub.json(_scrub_roster_entry(roster_import.summary, **person))
        if summary != roster_import.summary:
            changes["summary"] = summary
        # Every stored file is read, not only those whose preview names them: a row the import
        # left unchanged is in the file but not in the preview.
        if roster_import.file and _roster_file_names(roster_import, person["old_id"], needles):
            files.append((roster_import.file.storage, roster_import.file.name))
            changes["file"] = ""
        if changes:
            RosterImport.objects.filter(pk=roster_import.pk).update(**changes)
            count += 1

    def delete_files():
        for storage, name in files:
            storage.delete(name)

    # Files are not transactional: they go only once the erasure is committed.
    transaction.on_commit(delete_files)
    return count, len(files)


def _roster_file_names(roster_import: RosterImport, employee_id: str, needles: list[str]) -> bool:
    """Whether an uploaded roster file mentions the person: a cell holding their employee id
    or one of their addresses. A file that cannot be read counts as naming them (it goes)."""
    from .roster import RosterError, read_table  # noqa: PLC0415 - roster imports this module's neighbours

    wanted = {employee_id.strip().lower(), *(n.strip().lower() for n in needles if "@" in n)}
    try:
        with roster_import.file.open("rb") as handle:
            _format, table = read_table(data=handle.read(), filename=roster_import.filename)
    except (FileNotFoundError, OSError, ValueError, RosterError):
        return True
    return any(str(cell).strip().lower() in wanted for _line, cells in table for cell in cells if cell not in (None, ""))


def _scrub_match_runs(scrub: _Scrubber, employee: Employee) -> int:
    """The engine's stored input and output carry names (and the reasons quote them)."""
    from pairing.models import MatchRun

    count = 0
    for run in MatchRun.objects.filter(program__enrollments__employee=employee).distinct().only("id", "inputs", "result"):
        inputs, result = scrub.json(run.inputs), scrub.json(run.result)
        for side in ("mentors", "mentees"):
            for person in inputs.get(side, ()):
                if person.get("id") == employee.pk:
                    person["name"] = erased_name(employee)
        if inputs != run.inputs or result != run.result:
            MatchRun.objects.filter(pk=run.pk).update(inputs=inputs, result=result)
            count += 1
    return count


@transaction.atomic
def person_erase(*, employee: Employee, by: User, confirm_email: str) -> Employee:
    """Erase a person: pseudonymise their identity, delete what they wrote, keep the numbers.

    Their login is deactivated and signed out everywhere, and they leave every program still
    running: open enrollments are withdrawn and live pairs end (reason: withdrawal), so matching
    and reminders pass them by. Ratings, minutes, dates and survey scores stay, so what programs
    measured does not change. All of it in one transaction: either the whole erasure or nothing.
    """
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount

    from pairing.models import Pair
    from pairing.services import pairs_end_for_withdrawal
    from programs.models import Enrollment, Program
    from sessions_log.models import ActionItem, CalendarFeed, Concern, Feedback, Insight, Meeting, MeetingChange, PrivateNote, Reflection, Reminder, ReminderOptOut, SessionLog

    open_enrollment = (Enrollment.Status.INVITED, Enrollment.Status.APPLIED, Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED)
    open_pair = (Pair.Status.PROPOSED, Pair.Status.ACTIVE, Pair.Status.PAUSED)

    if by is None or not by.has_role(Role.HR_ADMIN):
        raise GdprError("Only HR admins can erase a person.")
    # Not beside a roster import: an apply previewed before the erasure would write the name
    # back onto the record, and an upload stored meanwhile would keep it in its preview.
    from .roster import _lock_roster  # noqa: PLC0415

    _lock_roster()
    employee = Employee.objects.select_for_update(of=("self",)).select_related("user").get(pk=employee.pk)
    if employee.erased_at is not None:
        raise GdprError(f"{erased_name(employee)} was already erased on {timezone.localtime(employee.erased_at):%Y-%m-%d}.")
    if employee.user_id is not None and employee.user_id == by.pk:
        raise GdprError("You cannot erase yourself: ask another HR admin.")
    if confirm_email.strip().lower() != employee.email.lower():
        raise GdprError("Type the person's email address exactly as the directory shows it to confirm the erasure.")

    user = employee.user
    old = {"email": employee.email, "full_name": employee.full_name, "employee_id": employee.employee_id, "first_name": employee.first_name, "last_name": employee.last_name}
    new_name, new_email = erased_name(employee), erased_email(employee)
    emails = sorted({old["email"].lower(), *([user.email.lower()] if user is not None else [])})
    names = sorted({old["full_name"], *([user.full_name] if user is not None and user.full_name else [])})
    phrases = {**{email: new_email for email in emails}, **{name: new_name for name in names}}
    scrub = _Scrubber(phrases=phrases)
    # Elsewhere in roster previews (another person's manager) the HRIS id stands alone as a
    # value: replaced only where it is the whole value, as a short id is a common string.
    # Names only beside their id ("Name (D00016)", as previews label people) or in the
    # person's own entries (_scrub_roster_entry): a namesake in the same preview keeps theirs.
    roster_phrases = {**{email: new_email for email in emails}, **{f"{name} ({old['employee_id']})": f"{new_name} (erased-{employee.pk})" for name in names}}
    roster_scrub = _Scrubber(phrases=roster_phrases, exact={old["employee_id"]: f"erased-{employee.pk}"})
    counts: dict[str, int] = {}

    # Recognised, not brought back, by the next HRIS import that still lists them.
    ErasedIdentity.objects.bulk_create(
        [ErasedIdentity(digest=ErasedIdentity.digest_of(kind, value), employee=employee) for kind, value in (("employee_id", old["employee_id"]), ("email", old["email"]))],
        ignore_conflicts=True,
    )
    # The hire date goes from the record below; its "Joined" line in the history goes with it.
    counts["history_joined_deleted"] = EmployeeEvent.objects.filter(employee=employee, kind=EmployeeEvent.Kind.JOINED).delete()[0]
    # Identity.
    Employee.objects.filter(pk=employee.pk).update(
        first_name="Erased", last_name=f"person #{employee.pk}", email=new_email, employee_id=f"erased-{employee.pk}",
        title="", location="", hire_date=None, erased_at=timezone.now(), updated_at=timezone.now(),
    )
    roles_before: list[str] = []
    was_active = user.is_active if user is not None else None
    if user is not None:
        roles_before = sorted(user.groups.values_list("name", flat=True))
        user.email, user.full_name, user.is_active = new_email, new_name, False
        # A new password hash also invalidates every session's auth hash: no session survives.
        user.set_unusable_password()
        user.save(update_fields=["email", "full_name", "is_active", "password"])
        user.groups.clear()
        counts["sessions_ended"] = user_sessions_end(user_ids=[user.pk])
        counts["email_addresses_deleted"] = EmailAddress.objects.filter(user=user).delete()[0]
        counts["second_factors_deleted"] = Authenticator.objects.filter(user=user).delete()[0]
        counts["sso_links_deleted"] = SocialAccount.objects.filter(user=user).delete()[0]
        ct = ContentType.objects.get_for_model(User)
        LogEntry.objects.filter(content_type=ct, object_id=str(user.pk)).update(object_repr=new_name)
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Employee), object_id=str(employee.pk)).update(object_repr=new_name)

    # Out of every program that is still running: open enrollments are withdrawn, proposed
    # pairs go and live pairs end as for a withdrawal (the partner gets the usual "your partner
    # is no longer in the program" notice, which names nobody and quotes nothing). Archived
    # programs are read-only and stay as they are.
    enrollments = Enrollment.objects.filter(employee=employee)
    running = enrollments.exclude(program__status=Program.Status.ARCHIVED)
    now = timezone.now()
    counts["enrollments_withdrawn"] = running.filter(status__in=open_enrollment).update(status=Enrollment.Status.WITHDRAWN, withdrawn_at=now)
    ending = running.filter(Q(pairs_as_mentor__status__in=open_pair) | Q(pairs_as_mentee__status__in=open_pair)).distinct()
    counts["pairs_ended"] = sum(len(pairs_end_for_withdrawal(enrollment=enrollment)) for enrollment in list(ending))

    # What mail may have quoted to others, read before it is blanked below.
    quoted = [
        *(text for row in Meeting.objects.filter(scheduled_by=employee).values_list("agenda", "location", "video_url") for text in row),
        *MeetingChange.objects.filter(requested_by=employee).values_list("reason", flat=True),
        *ActionItem.objects.filter(committed_by=employee).values_list("text", flat=True),
        *enrollments.values_list("withdrawal_reason", flat=True),
        *(Pair.objects.filter(ended_by=user).values_list("end_note", flat=True) if user is not None else ()),
        *(Pair.objects.filter(check_in_by=user).values_list("check_in_note", flat=True) if user is not None else ()),
    ]

    # Free text the person wrote. Counts, ratings, minutes and dates stay for the metrics.
    counts["private_notes_deleted"] = PrivateNote.objects.filter(author=employee).delete()[0]
    counts["session_logs_blanked"] = SessionLog.objects.filter(author=employee).update(mentor_learned="", mentee_learned="", shared_notes="")
    counts["feedback_comments_blanked"] = Feedback.objects.filter(author__in=enrollments).exclude(comment="").update(comment="")
    counts["reflections_blanked"] = Reflection.objects.filter(author__in=enrollments).update(text="")
    counts["concerns_blanked"] = Concern.objects.filter(raised_by=employee).update(text="")
    counts["insights_blanked"] = Insight.objects.filter(created_by=employee).update(text="")
    counts["action_items_blanked"] = ActionItem.objects.filter(committed_by=employee).update(text="")
    counts["meetings_blanked"] = Meeting.objects.filter(scheduled_by=employee).update(agenda="", location="", video_url="")
    counts["meeting_changes_blanked"] = MeetingChange.objects.filter(requested_by=employee).exclude(reason="").update(reason="")
    counts["enrollments_blanked"] = enrollments.update(motivation="", withdrawal_reason="", decision_message="")
    if user is not None:
        Pair.objects.filter(ended_by=user).exclude(end_note="").update(end_note="")
    # HR's note on a pair they put on hold is often about this person ("on leave until March").
    Pair.objects.filter(Q(mentor__in=enrollments) | Q(mentee__in=enrollments)).exclude(pause_note="").update(pause_note="")
    # So is HR's last check-in message to the pair; and what this person wrote as HR.
    Pair.objects.filter(Q(mentor__in=enrollments) | Q(mentee__in=enrollments)).exclude(check_in_note="").update(check_in_note="")
    if user is not None:
        Pair.objects.filter(check_in_by=user).exclude(check_in_note="").update(check_in_note="")
    # HR's note on a concern about this person's pair names them as often ("called Sam, who
    # agreed to ..."); and the notes this person wrote as HR.
    Concern.objects.filter(Q(pair__mentor__in=enrollments) | Q(pair__mentee__in=enrollments)).exclude(hr_note="").update(hr_note="")
    if user is not None:
        Concern.objects.filter(hr_note_by=user).exclude(hr_note="").update(hr_note="")

    # Nothing more goes to them.
    counts["reminders_cancelled"] = Reminder.objects.filter(recipient=employee, status=Reminder.Status.PENDING).update(status=Reminder.Status.CANCELLED)
    ReminderOptOut.objects.filter(employee=employee).delete()
    counts["calendar_feeds_deleted"] = CalendarFeed.objects.filter(employee=employee).delete()[0]

    # Copies of their name and address elsewhere.
    counts.update(_scrub_outbox(scrub, emails, names, first_name=old["first_name"], new_name=new_name, quoted=quoted))
    counts["roster_imports_redacted"], counts["roster_files_removed"] = _scrub_roster_imports(
        roster_scrub, [*emails, *names, old["employee_id"]], old_id=old["employee_id"], new_id=f"erased-{employee.pk}", new_name=new_name, new_email=new_email
    )
    counts["match_runs_redacted"] = _scrub_match_runs(scrub, employee)

    audit_record(
        action=AuditEvent.Action.PERSON_ERASED,
        target=employee,
        actor=by,
        summary=f"Employee #{employee.pk} erased" + (f" (login #{user.pk})" if user is not None else ""),
        before={"user": user.pk if user is not None else None, "roles": roles_before, "active": was_active},
        after={"pseudonym": new_name, "active": False if user is not None else None, **counts},
    )
    employee.refresh_from_db()
    return employee
