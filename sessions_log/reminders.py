"""Reminders: the database is the source of truth.

`reminders_sweep` derives what is due from the data and records it as Reminder rows with a
unique key (kind, subject, recipient, occurrence): sweeping twice, or two sweeps at once,
records nothing twice. `reminders_send_due` claims due rows and turns each into an outbox
message in the same transaction, with the reminder key as the outbox idempotency key, so a
reminder becomes at most one email.
"""

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mentoring.mail import render_templated
from mentoring.models import Employee, Role as UserRole
from mentoring.services import outbox_add
from pairing.models import Pair
from programs.models import Enrollment, Program

from .models import ActionItem, Agreement, Meeting, Reminder, ReminderOptOut, SessionLog, SurveyResponse
from .services import survey_window

logger = logging.getLogger(__name__)
K = Reminder.Kind
LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
LOG_AFTER = datetime.timedelta(hours=2)
FEEDBACK_AFTER = datetime.timedelta(hours=2)
UNSUBSCRIBE_SALT = "upward.reminders.unsubscribe"

# Which program reminder switch (Program.reminders) governs each kind.
POLICY_KEY = {
    K.MEETING_UPCOMING: "meeting_upcoming",
    K.LOG_SESSION: "log_session",
    K.GIVE_FEEDBACK: "give_feedback",
    K.AGREEMENT_UNSIGNED: "agreement_unsigned",
    K.PAIR_STUCK: "pair_stuck",
    K.SURVEY: "survey",
    K.ENROLLMENT_CLOSING: "enrollment_closing",
    K.INVITATION_UNANSWERED: "invitation_unanswered",
    K.ACTION_DUE: "action_due",
}


def _enabled(program: Program, kind: str) -> bool:
    return bool((program.reminders or {}).get(POLICY_KEY[kind], True))


class _Batch:
    def __init__(self):
        self.rows: dict[str, Reminder] = {}

    def add(self, *, kind, subject: str, recipient: Employee, occurrence: str = "", due_at, program=None, meeting=None, pair=None, context=None):
        if recipient.left_date is not None:
            return  # a person who left the company gets nothing
        key = f"{kind}:{subject}:{recipient.pk}:{occurrence}"[:255]
        self.rows.setdefault(
            key, Reminder(key=key, kind=kind, recipient=recipient, program=program, meeting=meeting, pair=pair, due_at=due_at, context=context or {})
        )


def _live_pairs():
    return Pair.objects.filter(status__in=LIVE, program__status=Program.Status.ACTIVE).select_related("program", "mentor__employee", "mentee__employee")


def reminders_sweep(*, now: datetime.datetime | None = None) -> int:
    """Record every reminder that is due now. Returns how many new rows were recorded."""
    now = now or timezone.now()
    batch = _Batch()
    _meetings(batch, now)
    _after_sessions(batch, now)
    _pairs(batch, now)
    _enrollment(batch, now)
    _actions(batch, now)
    if not batch.rows:
        return 0
    before = Reminder.objects.count()
    Reminder.objects.bulk_create(batch.rows.values(), ignore_conflicts=True, batch_size=1000)
    return Reminder.objects.count() - before


def _meetings(batch: _Batch, now):
    horizon_by_program = {}
    # Only as far ahead as the longest lead time any running program asks for.
    longest = Program.objects.filter(status=Program.Status.ACTIVE).aggregate(h=Max("reminder_lead_hours"))["h"] or 1
    meetings = (
        Meeting.objects.filter(status=Meeting.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(hours=max(longest, 1)), pair__status__in=LIVE)
        .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
    )
    for meeting in meetings:
        program = meeting.pair.program
        if not _enabled(program, K.MEETING_UPCOMING):
            continue
        lead = horizon_by_program.setdefault(program.pk, datetime.timedelta(hours=program.reminder_lead_hours))
        for occurrence, before in (("lead", lead), ("1h", datetime.timedelta(hours=1))):
            if meeting.starts_at - before <= now:
                for side in (meeting.pair.mentor, meeting.pair.mentee):
                    batch.add(kind=K.MEETING_UPCOMING, subject=f"meeting-{meeting.uid}-{meeting.sequence}", recipient=side.employee, occurrence=occurrence, due_at=now, program=program, meeting=meeting, pair=meeting.pair)


def _after_sessions(batch: _Batch, now):
    # Log your session: the meeting ended a while ago and nobody has logged it.
    ended = (
        Meeting.objects.filter(status=Meeting.Status.SCHEDULED, session_log__isnull=True, pair__status__in=LIVE, starts_at__lte=now - LOG_AFTER, starts_at__gte=now - datetime.timedelta(days=14))
        .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
    )
    for meeting in ended:
        if meeting.ends_at + LOG_AFTER <= now and _enabled(meeting.pair.program, K.LOG_SESSION):
            for side in (meeting.pair.mentor, meeting.pair.mentee):
                batch.add(kind=K.LOG_SESSION, subject=f"meeting-{meeting.uid}", recipient=side.employee, due_at=now, program=meeting.pair.program, meeting=meeting, pair=meeting.pair)
    # Give feedback: a logged session one side has not rated yet.
    logs = (
        SessionLog.objects.filter(pair__status__in=LIVE, created_at__lte=now - FEEDBACK_AFTER, created_at__gte=now - datetime.timedelta(days=7))
        .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
        .prefetch_related("feedback")
    )
    for log in logs:
        if not _enabled(log.pair.program, K.GIVE_FEEDBACK):
            continue
        rated = {f.author_id for f in log.feedback.all()}
        for side in (log.pair.mentor, log.pair.mentee):
            if side.pk not in rated:
                batch.add(kind=K.GIVE_FEEDBACK, subject=f"log-{log.pk}", recipient=side.employee, due_at=now, program=log.pair.program, pair=log.pair)


def _hr_people() -> list[Employee]:
    return list(Employee.objects.filter(user__groups__name=UserRole.HR_ADMIN, user__is_active=True, left_date__isnull=True).distinct())


def _pairs(batch: _Batch, now):
    pairs = list(_live_pairs().annotate(last_meeting=Max("meetings__starts_at", filter=Q(meetings__starts_at__lte=now)), last_log=Max("session_logs__created_at")))
    agreements = {a.pair_id: a for a in Agreement.objects.filter(pair__in=pairs)}
    enrollment_ids = [p.mentor_id for p in pairs] + [p.mentee_id for p in pairs]
    answered = set(SurveyResponse.objects.filter(enrollment_id__in=enrollment_ids).values_list("enrollment_id", "kind"))
    hr = None
    for pair in pairs:
        program = pair.program
        started = pair.started_at or pair.created_at
        # Agreement not acknowledged by a side, three days into the pair.
        if _enabled(program, K.AGREEMENT_UNSIGNED) and now - started >= datetime.timedelta(days=3):
            agreement = agreements.get(pair.pk)
            version = agreement.version if agreement else 1
            for side, acknowledged in ((pair.mentor, agreement.mentor_acknowledged_version if agreement else 0), (pair.mentee, agreement.mentee_acknowledged_version if agreement else 0)):
                if acknowledged != version:
                    batch.add(kind=K.AGREEMENT_UNSIGNED, subject=f"pair-{pair.pk}-v{version}", recipient=side.employee, due_at=now, program=program, pair=pair)
        # Stuck: no meeting or log for the program's threshold; once per quiet period.
        last = max(d for d in (started, pair.last_meeting, pair.last_log) if d is not None)
        quiet_days = (now - last).days
        if _enabled(program, K.PAIR_STUCK) and quiet_days >= program.stuck_after_days:
            period = f"{last.date().isoformat()}"
            hr = _hr_people() if hr is None else hr
            for person in (pair.mentor.employee, pair.mentee.employee, *hr):
                batch.add(kind=K.PAIR_STUCK, subject=f"pair-{pair.pk}", recipient=person, occurrence=period, due_at=now, program=program, pair=pair, context={"quiet_days": quiet_days})
        # Surveys: when one opens, and three days before it closes.
        if _enabled(program, K.SURVEY):
            _surveys(batch, now, pair, answered)


def _surveys(batch: _Batch, now, pair, answered):
    today = timezone.localdate(now)
    for kind in (SurveyResponse.Kind.MIDPOINT, SurveyResponse.Kind.FINAL):
        window = survey_window(pair.program, kind)
        if window is None or not window[0] <= today <= window[1]:
            continue
        occurrence = "closing" if (window[1] - today).days <= 3 else "open"
        for side in (pair.mentor, pair.mentee):
            if (side.pk, kind) not in answered:
                batch.add(kind=K.SURVEY, subject=f"{kind}-{side.pk}", recipient=side.employee, occurrence=occurrence, due_at=now, program=pair.program, pair=pair, context={"survey": kind})


def _enrollment(batch: _Batch, now):
    today = timezone.localdate(now)
    invited = Enrollment.objects.filter(status=Enrollment.Status.INVITED, program__status=Program.Status.ENROLLMENT_OPEN).select_related("program", "employee")
    for enrollment in invited:
        program = enrollment.program
        if _enabled(program, K.ENROLLMENT_CLOSING) and 0 <= (program.enrollment_closes_on - today).days <= 3:
            batch.add(kind=K.ENROLLMENT_CLOSING, subject=f"program-{program.pk}", recipient=enrollment.employee, due_at=now, program=program)
        elif _enabled(program, K.INVITATION_UNANSWERED) and enrollment.invited_at and now - enrollment.invited_at >= datetime.timedelta(days=5):
            batch.add(kind=K.INVITATION_UNANSWERED, subject=f"enrollment-{enrollment.pk}", recipient=enrollment.employee, due_at=now, program=program)


def _actions(batch: _Batch, now):
    today = timezone.localdate(now)
    actions = ActionItem.objects.filter(status=ActionItem.Status.OPEN, due_on__gte=today, due_on__lte=today + datetime.timedelta(days=1), pair__status__in=LIVE).select_related("pair__program", "pair__mentee__employee")
    for action in actions:
        if _enabled(action.pair.program, K.ACTION_DUE):
            batch.add(kind=K.ACTION_DUE, subject=f"action-{action.pk}", recipient=action.pair.mentee.employee, due_at=now, program=action.pair.program, pair=action.pair)


# --- Sending ------------------------------------------------------------------------------------------


def unsubscribe_token(*, employee: Employee, kind: str) -> str:
    return signing.dumps({"e": employee.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=60 * 60 * 24 * 365)
    except signing.BadSignature:
        return None
    return data["e"], data["k"]


SUBJECTS = {
    K.MEETING_UPCOMING: _("Coming up: your meeting with %(partner)s, %(when)s"),
    K.LOG_SESSION: _("How did it go? Log your session with %(partner)s"),
    K.GIVE_FEEDBACK: _("Two quick ratings for your session with %(partner)s"),
    K.AGREEMENT_UNSIGNED: _("Your agreement with %(partner)s is waiting for you"),
    K.PAIR_STUCK: _("It has been quiet: %(pair)s"),
    K.SURVEY: _("A short survey for %(program)s"),
    K.ENROLLMENT_CLOSING: _("Enrollment for %(program)s closes soon"),
    K.INVITATION_UNANSWERED: _("You're invited to %(program)s"),
    K.ACTION_DUE: _("Your action is due: %(action)s"),
}


def _render(reminder: Reminder):
    person = reminder.recipient
    tz = zoneinfo.ZoneInfo(person.time_zone)
    pair, meeting, program = reminder.pair, reminder.meeting, reminder.program
    partner = None
    if pair is not None and person.pk in (pair.mentor.employee_id, pair.mentee.employee_id):
        partner = pair.mentee.employee if pair.mentor.employee_id == person.pk else pair.mentor.employee
    if reminder.kind == K.ENROLLMENT_CLOSING or reminder.kind == K.INVITATION_UNANSWERED:
        action_url = settings.SITE_URL + reverse("program_apply", args=[program.slug])
    elif reminder.kind == K.SURVEY:
        action_url = settings.SITE_URL + "/me/surveys/"
    elif reminder.kind == K.PAIR_STUCK and partner is None:
        action_url = settings.SITE_URL + reverse("pairs_list", args=[program.slug]) + f"#pair-{pair.pk}"
    elif pair is not None:
        action_url = f"{settings.SITE_URL}/pairs/{pair.pk}/"
    else:
        action_url = settings.SITE_URL + reverse("participant_home")
    token = unsubscribe_token(employee=person, kind=reminder.kind)
    unsubscribe_url = settings.SITE_URL + reverse("reminder_unsubscribe", args=[token])
    local_start = meeting.starts_at.astimezone(tz) if meeting else None
    context = {
        "reminder": reminder,
        "person": person,
        "partner": partner,
        "pair": pair,
        "meeting": meeting,
        "program": program,
        "local_start": local_start,
        "tz": person.time_zone,
        "action_url": action_url,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": settings.SITE_URL + reverse("reminder_preferences"),
        **reminder.context,
    }
    subject = SUBJECTS[reminder.kind] % {
        "partner": partner.full_name if partner else "",
        "when": local_start.strftime("%a %d %b %H:%M") + f" ({person.time_zone})" if local_start else "",
        "pair": f"{pair.mentor.employee.full_name} & {pair.mentee.employee.full_name}" if pair else "",
        "program": program.name if program else "",
        "action": reminder.context.get("action", ""),
    }
    message = render_templated(
        to=person, template="sessions_log/email/reminder", context=context,
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.subject = subject
    return message


def reminders_send_due(*, now=None, batch_size: int = 200) -> int:
    """Turn due reminders into outbox messages. Safe with several workers: rows are claimed
    with SKIP LOCKED, and the outbox refuses a second message with the same key."""
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Reminder.Status.PENDING, due_at__lte=now)
                .select_related("recipient", "program", "meeting", "pair__mentor__employee", "pair__mentee__employee")
                .order_by("due_at", "id")[:batch_size]
            )
            if not rows:
                return sent
            opted_out = set(ReminderOptOut.objects.filter(employee__in={r.recipient_id for r in rows}).values_list("employee_id", "kind"))
            for reminder in rows:
                if reminder.recipient.left_date is not None or (reminder.recipient_id, reminder.kind) in opted_out:
                    reminder.status = Reminder.Status.SKIPPED
                    reminder.save(update_fields=["status"])
                    continue
                if reminder.meeting is not None and reminder.meeting.status == Meeting.Status.CANCELLED:
                    reminder.status = Reminder.Status.CANCELLED
                    reminder.save(update_fields=["status"])
                    continue
                row = outbox_add(message=_render(reminder), idempotency_key=f"reminder:{reminder.key}"[:255])
                reminder.status = Reminder.Status.SENT
                reminder.outbox_message = row
                reminder.sent_at = timezone.now()
                reminder.save(update_fields=["status", "outbox_message", "sent_at"])
                sent += 1


@transaction.atomic
def reminders_cancel_for_meeting(*, meeting: Meeting) -> int:
    """A moved or cancelled meeting: its pending reminders are void (new ones follow the new time)."""
    return Reminder.objects.filter(meeting=meeting, status=Reminder.Status.PENDING).update(status=Reminder.Status.CANCELLED)


@transaction.atomic
def reminder_opt_out(*, employee: Employee, kind: str, opt_out: bool = True) -> None:
    if kind not in K.values:
        raise ValueError(kind)
    if opt_out:
        ReminderOptOut.objects.get_or_create(employee=employee, kind=kind)
    else:
        ReminderOptOut.objects.filter(employee=employee, kind=kind).delete()

