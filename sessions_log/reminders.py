"""Reminders: the database is the source of truth.

`reminders_sweep` derives what is due from the data and records it as Reminder rows with a
unique key (kind, subject, recipient, occurrence): sweeping twice, or two sweeps at once,
records nothing twice. `reminders_send_due` claims due rows and turns each into an outbox
message in the same transaction, with the reminder key as the outbox idempotency key, so a
reminder becomes at most one email.

Both work in chunks, each committed on its own: a sweep stopped midway (its time limit, a
killed worker) keeps what it recorded and sent, and the next tick carries on from there.
"""

import contextlib
import datetime
import itertools
import json
import logging
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from typing import NamedTuple

from django.conf import settings
from django.core import signing
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Case, CharField, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce, Concat, ExtractDay, ExtractMonth, ExtractYear, Left
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from mentoring.mail import render_templated
from mentoring.models import Employee, OutboxMessage, Role as UserRole
from mentoring.services import outbox_add_many
from pairing.models import Pair
from programs.models import LATE_JOIN_STATUSES, Enrollment, Program

from .models import ActionItem, Agreement, Feedback, Meeting, Reminder, ReminderOptOut, SessionLog, SurveyResponse
from .selectors import pairs_quiet, stuck_q
from .services import survey_window

logger = logging.getLogger(__name__)
K = Reminder.Kind
LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
LOG_AFTER = datetime.timedelta(hours=2)
FEEDBACK_AFTER = datetime.timedelta(hours=2)
UNSUBSCRIBE_SALT = "upward.reminders.unsubscribe"
# Source rows (meetings, pairs...) read per chunk; the reminders derived from one chunk are
# written in one transaction.
SWEEP_CHUNK = 5000

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


def _enabled(reminders: dict | None, kind: str) -> bool:
    return bool((reminders or {}).get(POLICY_KEY[kind], True))


class _Programs:
    """Every program's reminder settings, read once per sweep (a few rows, not one per meeting)."""

    def __init__(self):
        self.rows = list(Program.objects.values("id", "status", "reminders", "reminder_lead_hours", "stuck_after_days"))

    def enabled(self, kind: str, *, active: bool = False) -> list[dict]:
        return [p for p in self.rows if _enabled(p["reminders"], kind) and (not active or p["status"] == Program.Status.ACTIVE)]


class _Due(NamedTuple):
    """A reminder the data says is owed; recorded unless its key already exists."""

    key: str
    kind: str
    recipient_id: int
    program_id: int | None
    meeting_id: int | None = None
    pair_id: int | None = None
    context: dict | None = None


def _key(kind: str, subject: str, recipient_id: int, occurrence: str = "") -> str:
    return f"{kind}:{subject}:{recipient_id}:{occurrence}"[:255]


def _text(expression):
    return Cast(expression, output_field=CharField())


def _recorded(kind: str, *subject, recipient: str, occurrence: str = "") -> Exists:
    """A reminder row with the key `_key` would give, built in SQL from the outer row, so the
    anti-join skips what is already recorded without reading it back. `subject` parts are
    text or expressions; only numbers and constants, so it reads the same on every database."""
    parts = [Value(f"{kind}:"), *(Value(p) if isinstance(p, str) else _text(p) for p in subject), Value(":"), _text(OuterRef(recipient)), Value(f":{occurrence}")]
    return Exists(Reminder.objects.filter(key=Concat(*parts)))


def _staying(path: str) -> Q:
    # A person who left the company, or was erased, gets nothing.
    return Q(**{f"{path}__left_date__isnull": True, f"{path}__erased_at__isnull": True})


def _gone(path: str) -> Case:
    """For values_list beside `_staying`: None for a person who gets reminders, True for one who
    left or was erased (a row passes the filter when either side of a pair is staying)."""
    return Case(
        When(Q(**{f"{path}__left_date__isnull": False}) | Q(**{f"{path}__erased_at__isnull": False}), then=Value(True)),
        default=Value(None),
        output_field=BooleanField(),
    )


def _chunks(queryset) -> Iterator[list]:
    """The rows of a values_list() query, SWEEP_CHUNK at a time, from one execution."""
    rows = queryset.iterator(chunk_size=SWEEP_CHUNK)
    while chunk := list(itertools.islice(rows, SWEEP_CHUNK)):
        yield chunk


def reminders_sweep(*, now: datetime.datetime | None = None) -> int:
    """Record every reminder that is due now. Returns how many rows this call inserted (a
    sweep running at the same time counts its own)."""
    now = now or timezone.now()
    programs = _Programs()
    sources = (_meetings, _log_session, _give_feedback, _agreements, _stuck, _surveys, _enrollment, _actions)
    return sum(_record(due, now=now) for source in sources for due in source(now, programs))


_COLUMNS = ("key", "kind", "recipient_id", "program_id", "meeting_id", "pair_id", "context", "due_at", "status", "created_at")


def _record(due: list[_Due], *, now) -> int:
    """Insert one chunk in one transaction, skipping keys already recorded (by an earlier
    tick or a sweep running now). RETURNING counts exactly the rows this call created."""
    if not due:
        return 0
    # The first of a key wins. Ascending key order: two sweeps inserting the same keys wait
    # for each other in one direction only, never in a circle (a deadlock).
    unique = sorted({d.key: d for d in reversed(due)}.values(), key=lambda d: d.key)
    when = Reminder._meta.get_field("due_at")
    constants = [when.get_db_prep_save(now, connection), str(Reminder.Status.PENDING), when.get_db_prep_save(timezone.now(), connection)]
    table = connection.ops.quote_name(Reminder._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: ten parameters for the whole chunk. Ten thousand rows as
            # VALUES tuples cost more to build, send and parse than to insert.
            cursor.execute(
                # Quoted model names formatted in; every value is a parameter.
                f"INSERT INTO {table} ({columns}) SELECT u.*, %s::timestamptz, %s, %s::timestamptz "  # nosec B608
                "FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::jsonb[]) AS u "
                "ON CONFLICT DO NOTHING RETURNING id",
                [*constants, *(list(column) for column in zip(*(_values(d) for d in unique)))],
            )
            return len(cursor.fetchall())
        created = 0
        per_statement = max(1, min(1000, (connection.features.max_query_params or 10_000) // len(_COLUMNS)))
        one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        for start in range(0, len(unique), per_statement):
            part = unique[start : start + per_statement]
            cursor.execute(
                # Quoted model names and %s placeholders formatted in; every value is a parameter.
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))} ON CONFLICT DO NOTHING RETURNING id",  # nosec B608
                [v for d in part for v in (*_values(d), constants[0], constants[1], constants[2])],
            )
            created += len(cursor.fetchall())
        return created


def _values(due: _Due) -> tuple:
    # The first seven columns; the context as JSON text.
    return (due.key, str(due.kind), due.recipient_id, due.program_id, due.meeting_id, due.pair_id, json.dumps(due.context) if due.context else "{}")


def _meeting_unrecorded(side: str, occurrence: str) -> Q:
    # The key holds the meeting's UID, whose text form differs between databases: match the
    # rest of the key among the meeting's own reminders.
    employee = f"pair__{side}__employee_id"
    suffix = Concat(Value("-"), _text(OuterRef("sequence")), Value(":"), _text(OuterRef(employee)), Value(f":{occurrence}"))
    recorded = Reminder.objects.filter(meeting_id=OuterRef("pk"), kind=K.MEETING_UPCOMING, recipient_id=OuterRef(employee), key__endswith=suffix)
    return _staying(f"pair__{side}__employee") & ~Exists(recorded)


def _meetings(now, programs: _Programs) -> Iterator[list[_Due]]:
    """Meeting coming up: at the program's lead time, and again an hour before. A meeting
    already within the hour when first seen gets the one-hour reminder only, not both at once."""
    # Only as far ahead as the longest lead time any running program asks for.
    horizon = max((p["reminder_lead_hours"] for p in programs.rows if p["status"] == Program.Status.ACTIVE), default=1)
    enabled = programs.enabled(K.MEETING_UPCOMING)
    by_lead = defaultdict(list)
    for p in enabled:
        by_lead[min(p["reminder_lead_hours"], horizon)].append(p["id"])
    # (occurrence, window start, window end, programs): the lead time stops where the hour begins.
    hour = now + datetime.timedelta(hours=1)
    windows = [("lead", hour, now + datetime.timedelta(hours=hours), ids) for hours, ids in sorted(by_lead.items()) if hours > 1]
    if enabled:
        windows.append(("1h", now, hour, [p["id"] for p in enabled]))
    for occurrence, after, until, program_ids in windows:
        rows = (
            Meeting.objects.filter(status=Meeting.Status.SCHEDULED, starts_at__gt=after, starts_at__lte=until, pair__status__in=LIVE, pair__program_id__in=program_ids)
            .filter(_meeting_unrecorded("mentor", occurrence) | _meeting_unrecorded("mentee", occurrence))
            .values_list(
                "pk", "uid", "sequence", "pair_id", "pair__program_id",
                "pair__mentor__employee_id", _gone("pair__mentor__employee"), "pair__mentee__employee_id", _gone("pair__mentee__employee"),
            )
        )
        for chunk in _chunks(rows):
            yield [
                _Due(_key(K.MEETING_UPCOMING, f"meeting-{uid}-{sequence}", person, occurrence), K.MEETING_UPCOMING, person, program_id, meeting_id, pair_id)
                for meeting_id, uid, sequence, pair_id, program_id, *sides in chunk
                for person, left in (sides[0:2], sides[2:4])
                if left is None
            ]


def _log_session(now, programs: _Programs) -> Iterator[list[_Due]]:
    """The meeting ended a while ago and nobody has logged it."""

    def unrecorded(side: str) -> Q:
        employee = f"pair__{side}__employee_id"
        return _staying(f"pair__{side}__employee") & ~Exists(Reminder.objects.filter(meeting_id=OuterRef("pk"), kind=K.LOG_SESSION, recipient_id=OuterRef(employee)))

    rows = (
        Meeting.objects.filter(
            status=Meeting.Status.SCHEDULED, session_log__isnull=True, pair__status__in=LIVE, starts_at__lte=now - LOG_AFTER,
            starts_at__gte=now - datetime.timedelta(days=14), pair__program_id__in=[p["id"] for p in programs.enabled(K.LOG_SESSION)],
        )
        .filter(unrecorded("mentor") | unrecorded("mentee"))
        .values_list(
            "pk", "uid", "starts_at", "duration_minutes", "pair_id", "pair__program_id",
            "pair__mentor__employee_id", _gone("pair__mentor__employee"), "pair__mentee__employee_id", _gone("pair__mentee__employee"),
        )
    )
    for chunk in _chunks(rows):
        yield [
            _Due(_key(K.LOG_SESSION, f"meeting-{uid}", person), K.LOG_SESSION, person, program_id, meeting_id, pair_id)
            for meeting_id, uid, starts_at, minutes, pair_id, program_id, *sides in chunk
            if starts_at + datetime.timedelta(minutes=minutes) + LOG_AFTER <= now
            for person, left in (sides[0:2], sides[2:4])
            if left is None
        ]


def _give_feedback(now, programs: _Programs) -> Iterator[list[_Due]]:
    """A logged session one side has not rated yet."""

    def rated(side: str) -> Exists:
        return Exists(Feedback.objects.filter(session_log_id=OuterRef("pk"), author_id=OuterRef(f"pair__{side}_id")))

    def owed(side: str) -> Q:
        return _staying(f"pair__{side}__employee") & ~rated(side) & ~_recorded(K.GIVE_FEEDBACK, "log-", OuterRef("pk"), recipient=f"pair__{side}__employee_id")

    rows = (
        SessionLog.objects.filter(
            pair__status__in=LIVE, created_at__lte=now - FEEDBACK_AFTER, created_at__gte=now - datetime.timedelta(days=7),
            pair__program_id__in=[p["id"] for p in programs.enabled(K.GIVE_FEEDBACK)],
        )
        .filter(owed("mentor") | owed("mentee"))
        .annotate(mentor_rated=rated("mentor"), mentee_rated=rated("mentee"))
        .values_list(
            "pk", "pair_id", "pair__program_id", "pair__mentor__employee_id", _gone("pair__mentor__employee"), "mentor_rated",
            "pair__mentee__employee_id", _gone("pair__mentee__employee"), "mentee_rated",
        )
    )
    for chunk in _chunks(rows):
        yield [
            _Due(_key(K.GIVE_FEEDBACK, f"log-{log_id}", person), K.GIVE_FEEDBACK, person, program_id, pair_id=pair_id)
            for log_id, pair_id, program_id, *sides in chunk
            for person, left, done in (sides[0:3], sides[3:6])
            if left is None and not done
        ]


def _live_pairs(programs: list[dict]):
    return Pair.objects.filter(status__in=LIVE, program__status=Program.Status.ACTIVE, program_id__in=[p["id"] for p in programs])


def _agreements(now, programs: _Programs) -> Iterator[list[_Due]]:
    """Agreement not acknowledged by a side, three days into the pair."""

    def owed(side: str) -> Q:
        recorded = _recorded(K.AGREEMENT_UNSIGNED, "pair-", OuterRef("pk"), "-v", OuterRef("version"), recipient=f"{side}__employee_id")
        return ~Q(**{f"{side}_acknowledged": F("version")}) & _staying(f"{side}__employee") & ~recorded

    rows = (
        _live_pairs(programs.enabled(K.AGREEMENT_UNSIGNED, active=True))
        .annotate(
            began=Coalesce("started_at", "created_at"), version=Coalesce("agreement__version", 1),
            mentor_acknowledged=Coalesce("agreement__mentor_acknowledged_version", 0), mentee_acknowledged=Coalesce("agreement__mentee_acknowledged_version", 0),
        )
        .filter(began__lte=now - datetime.timedelta(days=3))
        .filter(owed("mentor") | owed("mentee"))
        .values_list(
            "pk", "program_id", "version", "mentor__employee_id", _gone("mentor__employee"), "mentor_acknowledged",
            "mentee__employee_id", _gone("mentee__employee"), "mentee_acknowledged",
        )
    )
    for chunk in _chunks(rows):
        yield [
            _Due(_key(K.AGREEMENT_UNSIGNED, f"pair-{pair_id}-v{version}", person), K.AGREEMENT_UNSIGNED, person, program_id, pair_id=pair_id)
            for pair_id, program_id, version, *sides in chunk
            for person, left, acknowledged in (sides[0:3], sides[3:6])
            if left is None and acknowledged != version
        ]


def _hr_people() -> list[int]:
    return list(Employee.objects.filter(user__groups__name=UserRole.HR_ADMIN, user__is_active=True, left_date__isnull=True, erased_at__isnull=True).values_list("pk", flat=True).distinct())


def _stuck(now, programs: _Programs) -> Iterator[list[_Due]]:
    """A stuck pair (`selectors.stuck_q`, the definition the pair page and the HR dashboard
    use): to both sides and HR, once per quiet period."""
    by_threshold = defaultdict(list)
    for p in programs.enabled(K.PAIR_STUCK, active=True):
        by_threshold[p["stuck_after_days"]].append(p)
    hr = None
    for days, group in sorted(by_threshold.items()):
        rows = (
            pairs_quiet(_live_pairs(group), at=now)
            .filter(stuck_q(at=now, after_days=days))
            # Already flagged for this silence (recorded after its last sign of life): its
            # people and HR have their rows, all written in one chunk.
            .exclude(Exists(Reminder.objects.filter(pair_id=OuterRef("pk"), kind=K.PAIR_STUCK, due_at__gt=OuterRef("last_activity"))))
            .values_list("pk", "program_id", "last_activity", "mentor__employee_id", _gone("mentor__employee"), "mentee__employee_id", _gone("mentee__employee"))
        )
        for chunk in _chunks(rows):
            hr = _hr_people() if hr is None else hr
            due = []
            for pair_id, program_id, last, *sides in chunk:
                people = [person for person, left in (sides[0:2], sides[2:4]) if left is None] + hr
                # The occurrence is the quiet period (the day it began): a stuck pair that
                # meets and goes quiet again is flagged again, never twice for one silence.
                due += [
                    _Due(_key(K.PAIR_STUCK, f"pair-{pair_id}", person, last.date().isoformat()), K.PAIR_STUCK, person, program_id, pair_id=pair_id, context={"quiet_days": (now - last).days})
                    for person in people
                ]
            yield due


def _survey_answered(side: str, kind: str) -> Exists:
    return Exists(SurveyResponse.objects.filter(enrollment_id=OuterRef(f"{side}_id"), kind=kind))


def _survey_owed(side: str, kind: str, occurrence: str) -> Q:
    recorded = _recorded(K.SURVEY, f"{kind}-", OuterRef(f"{side}_id"), recipient=f"{side}__employee_id", occurrence=occurrence)
    return _staying(f"{side}__employee") & ~_survey_answered(side, kind) & ~recorded


# The baseline opens with enrollment, before the program runs and before any pair exists: it
# is owed by each approved enrollment, where the midpoint and final surveys are owed by the
# sides of a live pair in a running program.
BASELINE_PROGRAMS = (Program.Status.ENROLLMENT_OPEN, Program.Status.MATCHING, Program.Status.ACTIVE)
# Not on the heels of the approval email: a day after HR approved.
BASELINE_AFTER_APPROVAL = datetime.timedelta(days=1)


def _surveys(now, programs: _Programs) -> Iterator[list[_Due]]:
    """A survey window open (and again when it closes in three days), to each side who has not
    answered. The final survey stays open for a month after the program: its people are
    reminded after it completed too (the sides of the pairs that ended with it)."""
    today = timezone.localdate(now)
    enabled = {p["id"] for p in programs.enabled(K.SURVEY) if p["status"] in (*BASELINE_PROGRAMS, Program.Status.COMPLETED)}
    for program in Program.objects.filter(pk__in=enabled):
        for kind in (SurveyResponse.Kind.BASELINE, SurveyResponse.Kind.MIDPOINT, SurveyResponse.Kind.FINAL):
            window = survey_window(program, kind)
            if window is None or not window[0] <= today <= window[1]:
                continue
            occurrence = "closing" if (window[1] - today).days <= 3 else "open"
            if kind == SurveyResponse.Kind.BASELINE:
                if program.status in BASELINE_PROGRAMS:
                    yield from _baseline(program, occurrence, now)
                continue
            if program.status == Program.Status.ACTIVE:
                pairs = _live_pairs([{"id": program.pk}])
            elif program.status == Program.Status.COMPLETED and kind == SurveyResponse.Kind.FINAL:
                pairs = Pair.objects.filter(program=program, status=Pair.Status.ENDED, end_reason=Pair.EndReason.COMPLETED)
            else:
                continue

            rows = (
                pairs
                .filter(_survey_owed("mentor", kind, occurrence) | _survey_owed("mentee", kind, occurrence))
                .annotate(mentor_answered=_survey_answered("mentor", kind), mentee_answered=_survey_answered("mentee", kind))
                .values_list(
                    "pk", "mentor_id", "mentor__employee_id", _gone("mentor__employee"), "mentor_answered",
                    "mentee_id", "mentee__employee_id", _gone("mentee__employee"), "mentee_answered",
                )
            )
            # A running program's reminder goes with its pair (cancelled if the pair ends
            # first); after completion the pair has ended by design and the survey is the
            # person's, like the baseline.
            with_pair = program.status == Program.Status.ACTIVE
            for chunk in _chunks(rows):
                yield [
                    _Due(_key(K.SURVEY, f"{kind}-{enrollment_id}", person, occurrence), K.SURVEY, person, program.pk, pair_id=pair_id if with_pair else None, context={"survey": kind})
                    for pair_id, *sides in chunk
                    for enrollment_id, person, left, done in (sides[0:4], sides[4:8])
                    if left is None and not done
                ]


def _baseline(program: Program, occurrence: str, now) -> Iterator[list[_Due]]:
    """The baseline survey, to each approved person who has not answered it, paired or not.
    Keyed like the other surveys (kind and enrollment, recipient, occurrence)."""
    kind = SurveyResponse.Kind.BASELINE
    rows = (
        Enrollment.objects.filter(program=program, status=Enrollment.Status.APPROVED)
        .filter(Q(decided_at__isnull=True) | Q(decided_at__lte=now - BASELINE_AFTER_APPROVAL))
        .filter(_staying("employee"))
        .exclude(Exists(SurveyResponse.objects.filter(enrollment_id=OuterRef("pk"), kind=kind)))
        .exclude(_recorded(K.SURVEY, f"{kind}-", OuterRef("pk"), recipient="employee_id", occurrence=occurrence))
        .values_list("pk", "employee_id")
    )
    for chunk in _chunks(rows):
        yield [_Due(_key(K.SURVEY, f"{kind}-{pk}", person, occurrence), K.SURVEY, person, program.pk, context={"survey": kind}) for pk, person in chunk]


def _enrollment(now, programs: _Programs) -> Iterator[list[_Due]]:
    """Invited and not answered: enrollment closing in three days, or invited five days ago.
    A late invitation (sent after enrollment closed, with its own last day) is reminded once,
    five days after it was sent or two days before its last day, whichever comes first."""
    today = timezone.localdate(now)
    yield from _late_invitations(now, programs)
    open_programs = {p["id"]: p for p in programs.rows if p["status"] == Program.Status.ENROLLMENT_OPEN}
    if not open_programs:
        return
    closing = set(
        Program.objects.filter(pk__in=[pid for pid, p in open_programs.items() if _enabled(p["reminders"], K.ENROLLMENT_CLOSING)], enrollment_closes_on__gte=today, enrollment_closes_on__lte=today + datetime.timedelta(days=3)).values_list("pk", flat=True)
    )
    unanswered = {pid for pid, p in open_programs.items() if _enabled(p["reminders"], K.INVITATION_UNANSWERED)} - closing
    invited = Enrollment.objects.filter(status=Enrollment.Status.INVITED).filter(_staying("employee"))
    closing_rows = invited.filter(program_id__in=closing).exclude(_recorded(K.ENROLLMENT_CLOSING, "program-", OuterRef("program_id"), recipient="employee_id"))
    for chunk in _chunks(closing_rows.values_list("program_id", "employee_id")):
        yield [_Due(_key(K.ENROLLMENT_CLOSING, f"program-{program_id}", person), K.ENROLLMENT_CLOSING, person, program_id) for program_id, person in chunk]
    unanswered_rows = invited.filter(program_id__in=unanswered, invited_at__lte=now - datetime.timedelta(days=5)).exclude(
        _recorded(K.INVITATION_UNANSWERED, "enrollment-", OuterRef("pk"), recipient="employee_id")
    )
    for chunk in _chunks(unanswered_rows.values_list("pk", "program_id", "employee_id")):
        yield [_Due(_key(K.INVITATION_UNANSWERED, f"enrollment-{pk}", person), K.INVITATION_UNANSWERED, person, program_id) for pk, program_id, person in chunk]


def _late_invitations(now, programs: _Programs) -> Iterator[list[_Due]]:
    """Keyed by the invitation's last day as well ("enrollment-5-by-20261210"): an invitation
    HR sends again with a new day is reminded again, whatever was reminded before."""
    today = timezone.localdate(now)
    late = [p["id"] for p in programs.rows if p["status"] in LATE_JOIN_STATUSES and _enabled(p["reminders"], K.INVITATION_UNANSWERED)]
    if not late:
        return
    day = datetime.timedelta(days=1)
    rows = (
        Enrollment.objects.filter(program_id__in=late, status=Enrollment.Status.INVITED, apply_by__gte=today, program__ends_on__gt=today)
        # Five days after it was sent, or two days before its last day, but never on the
        # heels of the invitation itself.
        .filter(Q(invited_at__lte=now - 5 * day) | Q(apply_by__lte=today + 2 * day, invited_at__lte=now - day))
        .filter(_staying("employee"))
        .annotate(by_day=ExtractYear("apply_by") * 10000 + ExtractMonth("apply_by") * 100 + ExtractDay("apply_by"))
        .exclude(_recorded(K.INVITATION_UNANSWERED, "enrollment-", OuterRef("pk"), "-by-", OuterRef("by_day"), recipient="employee_id"))
    )
    for chunk in _chunks(rows.values_list("pk", "program_id", "employee_id", "apply_by", "program__ends_on")):
        yield [
            _Due(
                _key(K.INVITATION_UNANSWERED, f"enrollment-{pk}-by-{apply_by:%Y%m%d}", person), K.INVITATION_UNANSWERED, person, program_id,
                context={"apply_by": min(apply_by, ends_on - day).isoformat()},
            )
            for pk, program_id, person, apply_by, ends_on in chunk
        ]


def _actions(now, programs: _Programs) -> Iterator[list[_Due]]:
    """An open action item due today or tomorrow, to the mentee who committed to it."""
    today = timezone.localdate(now)
    rows = (
        ActionItem.objects.filter(
            status=ActionItem.Status.OPEN, due_on__gte=today, due_on__lte=today + datetime.timedelta(days=1), pair__status__in=LIVE,
            pair__program_id__in=[p["id"] for p in programs.enabled(K.ACTION_DUE)],
        )
        .filter(_staying("pair__mentee__employee"))
        .exclude(_recorded(K.ACTION_DUE, "action-", OuterRef("pk"), recipient="pair__mentee__employee_id"))
        .values_list("pk", "pair_id", "pair__program_id", "pair__mentee__employee_id")
    )
    for chunk in _chunks(rows):
        yield [_Due(_key(K.ACTION_DUE, f"action-{pk}", person), K.ACTION_DUE, person, program_id, pair_id=pair_id) for pk, pair_id, program_id, person in chunk]


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
    K.SURVEY: _("%(survey)s survey for %(program)s"),
    K.ENROLLMENT_CLOSING: _("Enrollment for %(program)s closes soon"),
    K.INVITATION_UNANSWERED: _("You're invited to %(program)s"),
    K.ACTION_DUE: _("Your action is due: %(action)s"),
}


def _render(reminder: Reminder, actions: dict[int, dict] | None = None):
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
    elif reminder.kind == K.GIVE_FEEDBACK and partner is not None and (log_id := _subject_id(reminder)) is not None:
        action_url = settings.SITE_URL + reverse("feedback_submit", args=[pair.pk, log_id])  # straight to the two ratings
    elif reminder.kind == K.LOG_SESSION and partner is not None and meeting is not None:
        action_url = settings.SITE_URL + reverse("session_log_create", args=[pair.pk]) + f"?meeting={meeting.pk}"
    elif reminder.kind == K.PAIR_STUCK and partner is None:
        action_url = settings.SITE_URL + reverse("pairs_list", args=[program.slug]) + f"#pair-{pair.pk}"
    elif pair is not None:
        action_url = f"{settings.SITE_URL}/pairs/{pair.pk}/"
    else:
        action_url = settings.SITE_URL + reverse("participant_home")
    token = unsubscribe_token(employee=person, kind=reminder.kind)
    unsubscribe_url = settings.SITE_URL + reverse("reminder_unsubscribe", args=[token])
    local_start = meeting.starts_at.astimezone(tz) if meeting else None
    survey_closes = None
    if reminder.kind == K.SURVEY and program is not None and (window := survey_window(program, reminder.context.get("survey", ""))):
        survey_closes = window[1]  # said in the mail: which survey, open until when
    # The action's text is read when sent (see _render_each), not stored with the reminder:
    # it is the pair's own words, which may be edited or erased in between.
    action = (actions or {}).get(_subject_id(reminder)) if reminder.kind == K.ACTION_DUE else None
    apply_by = None
    if reminder.kind == K.INVITATION_UNANSWERED and reminder.context.get("apply_by"):
        apply_by = datetime.date.fromisoformat(reminder.context["apply_by"])  # a late invitation's last day
    context = {
        "survey_closes": survey_closes,
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
        "apply_by": apply_by,
        "action": action,
    }
    subject = SUBJECTS[reminder.kind] % {
        "partner": partner.full_name if partner else "",
        "when": f"{local_start:%a} {local_start.day} {local_start:%b %H:%M} ({person.time_zone})" if local_start else "",
        "pair": f"{pair.mentor.employee.full_name} & {pair.mentee.employee.full_name}" if pair else "",
        "program": program.name if program else "",
        "action": Truncator(" ".join(action["text"].split())).chars(60) if action else _("an action you committed to"),
        "survey": str(SurveyResponse.Kind(reminder.context["survey"]).label) if reminder.context.get("survey") in SurveyResponse.Kind.values else _("A short"),
    }
    return render_templated(
        to=person, template="sessions_log/email/reminder", context=context, subject=subject,
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _outbox_key(reminder: Reminder) -> str:
    return f"reminder:{reminder.key}"[:255]


# What `_render` and the reminder templates read, and what `_void` checks, and no more:
# building five related model instances per reminder with every column is a good part of the
# cost of a batch.
_RENDERED = (
    "key", "kind", "context", "status", "due_at", "recipient", "program", "meeting", "pair",
    "recipient__first_name", "recipient__last_name", "recipient__email", "recipient__time_zone", "recipient__left_date", "recipient__erased_at",
    "program__slug", "program__name", "program__enrollment_closes_on",
    "program__enrollment_opens_on", "program__starts_on", "program__ends_on", "program__midpoint_survey_on", "program__final_survey_on", "program__surveys_closed_on",
    "meeting__uid", "meeting__sequence", "meeting__starts_at", "meeting__duration_minutes", "meeting__location", "meeting__video_url", "meeting__status",
    "pair__status", "pair__mentor", "pair__mentee", "pair__mentor__employee", "pair__mentee__employee",
    "pair__mentor__employee__first_name", "pair__mentor__employee__last_name", "pair__mentee__employee__first_name", "pair__mentee__employee__last_name",
)

# How late a reminder may still go out, counted from when the sweep found it due (a sender
# that was down, a backlog). Later than that it is voided: "your meeting is tomorrow", "log
# yesterday's session" or "enrollment closes soon" a day late is noise or wrong. The kinds
# about a state that lasts (an unsigned agreement, a quiet pair, an open invitation) keep a
# few days.
MAX_LATE = datetime.timedelta(hours=24)
MAX_LATE_BY_KIND = {
    K.AGREEMENT_UNSIGNED: datetime.timedelta(days=3),
    K.PAIR_STUCK: datetime.timedelta(days=3),
    K.INVITATION_UNANSWERED: datetime.timedelta(days=3),
}


def reminders_send_due(*, now=None, batch_size: int = 200, max_seconds: float | None = None) -> int:
    """Turn due reminders into outbox messages, a batch per transaction: a reminder is marked
    sent in the transaction that writes its outbox row. Safe with several workers: rows are
    claimed with SKIP LOCKED, and the outbox refuses a second message with the same key.
    Returns how many were queued; the ones voided (`_void`) or failing to render are not
    counted, and are logged.

    With `max_seconds`, no new batch starts after that long; what is left waits for the next
    call. Delivery is not nudged here: the caller does it once, not once per batch.
    """
    now = now or timezone.now()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    queued = 0
    while deadline is None or time.monotonic() < deadline:
        with transaction.atomic():
            rows = list(
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Reminder.Status.PENDING, due_at__lte=now)
                .select_related("recipient", "program", "meeting", "pair__mentor__employee", "pair__mentee__employee")
                .only(*_RENDERED)
                .order_by("due_at", "id")[:batch_size]
            )
            if not rows:
                break
            # Checked against the time this batch goes out, not when the call began: with a
            # time budget, a later batch may go out minutes after the first.
            queued += _queue(rows, now=max(now, timezone.now()))
    return queued


def _void(reminder: Reminder, opted_out: set, now) -> str | None:
    """The status for a reminder that must not go out any more, or None to send it."""
    person = reminder.recipient
    if person.left_date is not None or person.erased_at is not None or (reminder.recipient_id, reminder.kind) in opted_out:
        return Reminder.Status.SKIPPED
    if now - reminder.due_at > MAX_LATE_BY_KIND.get(reminder.kind, MAX_LATE):
        return Reminder.Status.SKIPPED
    if reminder.pair is not None and reminder.pair.status not in LIVE:
        return Reminder.Status.CANCELLED
    meeting = reminder.meeting
    if meeting is not None:
        if meeting.status == Meeting.Status.CANCELLED:
            return Reminder.Status.CANCELLED
        if reminder.kind == K.MEETING_UPCOMING and (meeting.starts_at <= now or not _for_this_version(reminder, meeting)):
            return Reminder.Status.CANCELLED
    return None


def _for_this_version(reminder: Reminder, meeting: Meeting) -> bool:
    """Whether a meeting reminder was recorded for the meeting as it is now. A move bumps the
    meeting's sequence and voids its pending reminders, but a sweep that read the meeting
    before the move may record the old time's reminders after it: their key names the old
    sequence (`_meetings`)."""
    occurrence = reminder.key.rsplit(":", 1)[-1]
    return reminder.key == _key(K.MEETING_UPCOMING, f"meeting-{meeting.uid}-{meeting.sequence}", reminder.recipient_id, occurrence)


def _subject_id(reminder: Reminder) -> int | None:
    """The number in the key's subject ("baseline-17", "enrollment-5", "log-9", "pair-3-v2",
    "action-4", "program-2": `_key` and the sweep's sources), or None."""
    parts = reminder.key.split(":", 2)
    if len(parts) < 2:
        return None
    digits = parts[1].split("-")[1:2]
    return int(digits[0]) if digits and digits[0].isdigit() else None


def _done_since(rows: list[Reminder], now) -> set[int]:
    """The reminders whose reason went away after the sweep recorded them: the survey was
    answered (or, for the baseline, the person withdrew or was declined), the invitation
    answered, the session logged or rated, the agreement acknowledged, the action closed, the
    quiet pair met. A sender that was down can send hours or days late (`MAX_LATE_BY_KIND`),
    and "you have not answered" after the answer is wrong, not just late. A few queries per
    batch, one per kind present."""
    by_kind: dict[str, dict[int, list[Reminder]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if (subject := _subject_id(r)) is not None:
            by_kind[r.kind][subject].append(r)
    done: set[int] = set()

    def drop(kind, subjects, still):
        """Marks done the reminders of `kind` whose subject is missing from `subjects` or for
        which still(reminder, subjects[subject]) is false."""
        for subject, reminders in by_kind[kind].items():
            row = subjects.get(subject)
            done.update(r.pk for r in reminders if row is None or not still(r, row))

    if surveys := by_kind.get(K.SURVEY):
        enrollments = {e["pk"]: e for e in Enrollment.objects.filter(pk__in=surveys).values("pk", "status")}
        answered = set(SurveyResponse.objects.filter(enrollment_id__in=surveys).values_list("enrollment_id", "kind"))

        def owed(r, e):
            kind = r.key.split(":", 2)[1].split("-")[0]  # "baseline-17": the survey, then the enrollment
            return (e["pk"], kind) not in answered and (kind != SurveyResponse.Kind.BASELINE or e["status"] == Enrollment.Status.APPROVED)

        drop(K.SURVEY, enrollments, owed)
    if invited := by_kind.get(K.INVITATION_UNANSWERED):
        today = timezone.localdate(now)
        state = {
            pk: (apply_by, ends_on, status)
            for pk, apply_by, ends_on, status in Enrollment.objects.filter(pk__in=invited, status=Enrollment.Status.INVITED).values_list("pk", "apply_by", "program__ends_on", "program__status")
        }

        def unanswered(r, row):
            apply_by, ends_on, status = row
            if r.context.get("apply_by"):  # a late invitation: still its day, still open
                said = datetime.date.fromisoformat(r.context["apply_by"])
                return status in LATE_JOIN_STATUSES and apply_by is not None and said == min(apply_by, ends_on - datetime.timedelta(days=1)) and today <= said
            # One from enrollment time says "enrollment is open until": only while it is.
            return apply_by is None and status == Program.Status.ENROLLMENT_OPEN

        drop(K.INVITATION_UNANSWERED, state, unanswered)
    if closing := by_kind.get(K.ENROLLMENT_CLOSING):
        still = set(
            Enrollment.objects.filter(program_id__in=closing, program__status=Program.Status.ENROLLMENT_OPEN, status=Enrollment.Status.INVITED).values_list("program_id", "employee_id")
        )
        drop(K.ENROLLMENT_CLOSING, {pid: True for pid in closing}, lambda r, row: (r.program_id, r.recipient_id) in still)
    if logs := by_kind.get(K.GIVE_FEEDBACK):
        rated = set(Feedback.objects.filter(session_log_id__in=logs).values_list("session_log_id", "author__employee_id"))
        drop(K.GIVE_FEEDBACK, {pk: pk for pk in logs}, lambda r, log: (log, r.recipient_id) not in rated)
    if agreements := by_kind.get(K.AGREEMENT_UNSIGNED):
        state = {
            a["pair_id"]: a
            for a in Agreement.objects.filter(pair_id__in=agreements).values("pair_id", "version", "mentor_acknowledged_version", "mentee_acknowledged_version", "pair__mentor__employee_id")
        }

        def unsigned(r, a):
            if not a:  # no agreement yet: nothing acknowledged
                return True
            side = "mentor" if r.recipient_id == a["pair__mentor__employee_id"] else "mentee"
            return a[f"{side}_acknowledged_version"] < a["version"]

        drop(K.AGREEMENT_UNSIGNED, {pk: state.get(pk, {}) for pk in agreements}, unsigned)
    if actions := by_kind.get(K.ACTION_DUE):
        drop(K.ACTION_DUE, {pk: True for pk in ActionItem.objects.filter(pk__in=actions, status=ActionItem.Status.OPEN).values_list("pk", flat=True)}, lambda r, row: True)
    if quiet := by_kind.get(K.PAIR_STUCK):
        quiet_now = {pk: (last, booked) for pk, last, booked in pairs_quiet(Pair.objects.filter(pk__in=quiet), at=now).values_list("pk", "last_activity", "booked")}
        # Met, logged a session or booked a meeting after the sweep flagged the silence.
        drop(K.PAIR_STUCK, quiet_now, lambda r, row: row[0] <= r.due_at and not row[1])
    logs_done = {m for m in (r.meeting_id for r in rows if r.kind == K.LOG_SESSION) if m is not None}
    if logs_done:
        logged = set(SessionLog.objects.filter(meeting_id__in=logs_done).values_list("meeting_id", flat=True))
        done.update(r.pk for r in rows if r.kind == K.LOG_SESSION and r.meeting_id in logged)
    return done


def _queue(rows: list[Reminder], *, now) -> int:
    opted_out = set(ReminderOptOut.objects.filter(employee__in={r.recipient_id for r in rows}).values_list("employee_id", "kind"))
    voided: dict[str, list[int]] = defaultdict(list)
    outgoing = []
    done = _done_since(rows, now)
    for reminder in rows:
        if status := _void(reminder, opted_out, now):
            voided[status].append(reminder.pk)
        elif reminder.pk in done:
            voided[Reminder.Status.CANCELLED].append(reminder.pk)
        else:
            outgoing.append(reminder)
    for status, ids in voided.items():
        Reminder.objects.filter(pk__in=ids).update(status=status)
        logger.info("%s reminders %s at sending", len(ids), status)
    rendered = _render_all(outgoing)
    if not rendered:
        return 0
    outbox_add_many(messages=[(message, _outbox_key(r)) for r, message in rendered], nudge=False)
    # Each reminder points at its message through the key they share (`_outbox_key`): one
    # statement for the batch instead of an update per row.
    message = OutboxMessage.objects.filter(idempotency_key=Left(Concat(Value("reminder:"), OuterRef("key")), 255)).values("pk")[:1]
    Reminder.objects.filter(pk__in=[r.pk for r, _message in rendered]).update(status=Reminder.Status.SENT, sent_at=timezone.now(), outbox_message_id=Subquery(message))
    return len(rendered)


def _render_all(reminders: list[Reminder]) -> list[tuple[Reminder, object]]:
    """Each reminder's message; one that cannot be rendered is marked skipped with the error,
    and the others go out. Otherwise the batch would roll back, and the same oldest rows
    would come first again at every tick: nothing would be sent ever again.

    Rendering writes nothing, so it runs in one savepoint for the batch (a savepoint per
    reminder would cost two statements each). Only if a query inside it failed, which on
    PostgreSQL aborts the transaction, is the batch rendered again a savepoint per reminder."""
    try:
        with transaction.atomic():
            rendered, failed = _render_each(reminders, isolated=False)
    except DatabaseError:
        rendered, failed = _render_each(reminders, isolated=True)
    for reminder, exc in failed:
        # The exception's type and message, like the outbox's last_error: the reminder's own
        # text is not copied in.
        error = f"{type(exc).__name__}: {exc}"[:500]
        Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.SKIPPED, context={**reminder.context, "send_error": error})
        logger.warning("Reminder %s (%s) could not be rendered and is skipped: %s", reminder.pk, reminder.kind, type(exc).__name__, exc_info=exc)
    return rendered


def _render_each(reminders: list[Reminder], *, isolated: bool) -> tuple[list, list]:
    rendered, failed = [], []
    action_ids = {_subject_id(r) for r in reminders if r.kind == K.ACTION_DUE} - {None}
    actions = {row["pk"]: row for row in ActionItem.objects.filter(pk__in=action_ids).values("pk", "text", "due_on")} if action_ids else {}
    for reminder in reminders:
        try:
            with transaction.atomic() if isolated else contextlib.nullcontext():
                message = _render(reminder, actions)
        except DatabaseError as exc:
            if not isolated:
                raise  # the batch's savepoint is spoiled: start again, one savepoint each
            failed.append((reminder, exc))
        except Exception as exc:  # noqa: BLE001 - any rendering bug is this reminder's alone
            failed.append((reminder, exc))
        else:
            rendered.append((reminder, message))
    return rendered, failed


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
