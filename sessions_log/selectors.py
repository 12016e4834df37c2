"""Reads for pairs at work, always scoped to the person asking.

A participant only ever finds their own pairs: any other id is DoesNotExist, which the views
turn into a 404. Confidential rows are never loaded for display: a safety pulse is only tested
for existence, feedback only for "have I given mine", private notes only the reader's own, and
"please not with" lists are never read here at all.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, F, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from mentoring.models import Employee
from pairing.models import Pair
from programs.models import Enrollment, Program

from .models import (
    ActionItem,
    Agreement,
    AgreementGoal,
    Concern,
    Feedback,
    Insight,
    Meeting,
    MeetingChange,
    PrivateNote,
    PulseAlert,
    Reflection,
    SafetyPulse,
    SessionLog,
    SurveyAnswer,
    SurveyResponse,
)
from .services import HAD_PAIR_STATUSES, LOG_EDIT_WINDOW, PAIRED_SURVEYS, survey_open, survey_window

LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
# Proposed pairs are HR's draft until published: participants never see them.
VISIBLE = (*LIVE, Pair.Status.ENDED)
PEOPLE = ("program", "mentor__employee__department", "mentee__employee__department")
SURVEY_KINDS = tuple(SurveyResponse.Kind)


# --- Scoped look-ups (DoesNotExist for anything that is not the person's own) -----------------------


def pairs_of(*, employee: Employee | None) -> QuerySet[Pair]:
    if employee is None:
        return Pair.objects.none()
    return Pair.objects.filter(Q(mentor__employee=employee) | Q(mentee__employee=employee), status__in=VISIBLE).select_related(*PEOPLE)


def pair_for(*, employee: Employee | None, pk: int) -> Pair:
    # With `pairs_quiet`'s annotations, which the pair page reads: no query of their own.
    return pairs_quiet(pairs_of(employee=employee), at=timezone.now()).get(pk=pk)


def meeting_of(*, pair: Pair, pk: int) -> Meeting:
    meeting = Meeting.objects.prefetch_related("topics").get(pk=pk, pair=pair)
    meeting.pair = pair
    return meeting


def log_of(*, pair: Pair, pk: int) -> SessionLog:
    log = SessionLog.objects.prefetch_related("topics").get(pk=pk, pair=pair)
    log.pair = pair
    return log


def goal_of(*, pair: Pair, pk: int) -> AgreementGoal:
    goal = AgreementGoal.objects.select_related("agreement").get(pk=pk, agreement__pair=pair)
    goal.agreement.pair = pair
    return goal


def insight_of(*, pair: Pair, pk: int) -> Insight:
    insight = Insight.objects.select_related("topic").get(pk=pk, pair=pair)
    insight.pair = pair
    return insight


def action_of(*, pair: Pair, pk: int) -> ActionItem:
    action = ActionItem.objects.get(pk=pk, pair=pair)
    action.pair = pair
    return action


def insights_of(*, pair: Pair) -> QuerySet[Insight]:
    return Insight.objects.filter(pair=pair).select_related("topic").order_by("-created_at", "-id")


def my_private_note(*, log: SessionLog, me: Employee) -> str:
    note = PrivateNote.objects.filter(session_log=log, author=me).only("text").first()
    return note.text if note else ""


def enrollment_with_answers(*, employee: Employee | None, pk: int) -> Enrollment:
    """One of the person's enrollments whose survey answers they may read: approved, or left
    after answering (their history stays theirs, as on the survey list)."""
    if employee is None:
        raise Enrollment.DoesNotExist
    return Enrollment.objects.select_related("program").get(
        pk=pk, employee=employee, status__in=[Enrollment.Status.APPROVED, Enrollment.Status.WITHDRAWN]
    )


@dataclass
class AnswerRow:
    label: str
    scores: list  # one per answered survey (None where that survey did not ask it)

    @property
    def change(self) -> int | None:
        """Last score minus the first, when the item was rated more than once."""
        known = [score for score in self.scores if score is not None]
        return known[-1] - known[0] if len(known) > 1 else None


def survey_answers(enrollment: Enrollment, responses: list[SurveyResponse]) -> tuple[list[SurveyResponse], list[AnswerRow], list]:
    """The person's own answers, survey by survey (baseline, midpoint, final): the responses
    in that order, one row per item rated in any of them (topics by name, then the growth
    items), and the would-recommend scores. One query."""
    order = {kind: k for k, kind in enumerate(SURVEY_KINDS)}
    responses = sorted(responses, key=lambda r: order.get(r.kind, len(order)))
    column = {r.pk: k for k, r in enumerate(responses)}
    rows: dict[tuple, AnswerRow] = {}
    for answer in SurveyAnswer.objects.filter(response__in=[r.pk for r in responses]).select_related("topic"):
        if answer.topic_id:
            key, label = (0, answer.topic.name.lower(), answer.topic_id), answer.topic.name
        else:
            growth = list(SurveyAnswer.GROWTH_ITEMS)
            key = (1, growth.index(answer.growth_item) if answer.growth_item in growth else len(growth), answer.growth_item)
            label = str(SurveyAnswer.GROWTH_ITEMS.get(answer.growth_item, answer.growth_item))
        row = rows.setdefault(key, AnswerRow(label, [None] * len(responses)))
        row.scores[column[answer.response_id]] = answer.score
    return responses, [rows[key] for key in sorted(rows)], [r.would_recommend for r in responses]


def feed_meetings(*, employee: Employee) -> QuerySet[Meeting]:
    """Every meeting of the person's pairs, for their calendar feed (cancelled ones included,
    so calendar apps remove them)."""
    return (
        Meeting.objects.filter(Q(pair__mentor__employee=employee) | Q(pair__mentee__employee=employee), pair__status__in=VISIBLE)
        .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
        .order_by("starts_at", "id")
    )


# --- Quiet and stuck pairs ---------------------------------------------------------------------------------
# One definition for the pair page, the participant home, the reminder sweep and the HR
# dashboard's snapshot, so that the pairs HR sees as stuck are the ones that get the "it has
# been quiet" reminder. A live pair is stuck when nothing is booked ahead and its last sign of
# life (it began, met, or logged a session) is the program's `stuck_after_days` old or more. A
# cancelled meeting is no sign of life; a meeting booked for later means the pair is moving.


def pairs_quiet(pairs: QuerySet[Pair], *, at: datetime.datetime) -> QuerySet[Pair]:
    """`pairs` annotated, as they stood at `at`, with `last_activity` (the latest of: the pair
    began or was last resumed, a meeting started, a session was logged) and `booked` (a meeting booked by then
    for later). Whether the pair is live is the caller's filter: it differs for a past day."""
    # A resume restarts the clock (the time on hold was not quiet), once it had happened by `at`.
    began = Greatest(Coalesce("started_at", "created_at"), Case(When(resumed_at__lte=at, then=F("resumed_at")), default=Coalesce("started_at", "created_at")))
    last_meeting = Meeting.objects.filter(pair=OuterRef("pk"), status=Meeting.Status.SCHEDULED, starts_at__lte=at).order_by("-starts_at").values("starts_at")[:1]
    last_log = SessionLog.objects.filter(pair=OuterRef("pk"), created_at__lte=at).order_by("-created_at").values("created_at")[:1]
    booked = Meeting.objects.filter(pair=OuterRef("pk"), status=Meeting.Status.SCHEDULED, starts_at__gt=at, created_at__lte=at)
    return pairs.annotate(
        last_activity=Greatest(began, Coalesce(Subquery(last_meeting), began), Coalesce(Subquery(last_log), began)),
        booked=Exists(booked),
    )


def stuck_q(*, at: datetime.datetime, after_days: int) -> Q:
    """Over `pairs_quiet(at=at)`: the pairs stuck at `at` for a program that flags them after
    `after_days` (the same test as `_is_stuck`: quiet for whole days >= after_days, and not
    paused: a paused pair is quiet on purpose)."""
    return Q(booked=False, last_activity__lte=at - datetime.timedelta(days=after_days)) & ~Q(status=Pair.Status.PAUSED)


# --- What is due, surveys, quiet days (helpers over rows already loaded) --------------------------------


@dataclass
class Due:
    """Something the person should do on a pair. `kind` picks the wording in the template."""

    kind: str  # "agreement_setup" | "agreement" | "log" | "feedback" | "pulse" | "survey" | "reflection"
    meeting: Meeting | None = None
    log: SessionLog | None = None
    survey: "SurveyRow | None" = None


@dataclass
class SurveyRow:
    enrollment: Enrollment
    kind: str
    label: str
    opens_on: datetime.date
    closes_on: datetime.date
    state: str  # "answered" | "open" | "upcoming" | "closed"
    response: SurveyResponse | None = None


def survey_rows(enrollment: Enrollment, responses: list[SurveyResponse], today: datetime.date, *, had_pair: bool = True) -> list[SurveyRow]:
    """The program's surveys for one enrollment with their state today (answered, open, ...).
    Midpoint and final only for someone who has or had a pair (``had_pair``), or answered."""
    by_kind = {r.kind: r for r in responses}
    rows = []
    for kind in SURVEY_KINDS:
        window = survey_window(enrollment.program, kind)
        if window is None:
            continue
        response = by_kind.get(kind)
        if response is None and kind in PAIRED_SURVEYS and not had_pair:
            continue
        if response is not None:
            state = "answered"
        elif survey_open(enrollment.program, kind, today):
            state = "open"
        elif today < window[0]:
            state = "upcoming"
        else:
            state = "closed"
        rows.append(SurveyRow(enrollment=enrollment, kind=kind, label=kind.label, opens_on=window[0], closes_on=window[1], state=state, response=response))
    return rows


def _agreement_of(pair: Pair) -> Agreement | None:
    try:
        return pair.agreement
    except Agreement.DoesNotExist:
        return None


def _quiet_days(pair: Pair, now: datetime.datetime) -> int | None:
    """Days since the pair's last sign of life, or None when it is not idle (a meeting is
    booked, or the pair is not live in a running program). `pair` carries `pairs_quiet`'s
    annotations."""
    if pair.status not in LIVE or pair.program.status != Program.Status.ACTIVE or pair.booked:
        return None
    return max(0, (now - pair.last_activity).days)


def stuck_days(pair: Pair, now: datetime.datetime) -> int | None:
    """Days a stuck pair has been quiet, or None when it is not stuck (`pairs_quiet`'s
    annotations on the pair; pair.program loaded)."""
    quiet = _quiet_days(pair, now)
    return quiet if _is_stuck(pair, quiet) else None


def _is_stuck(pair: Pair, quiet_days: int | None) -> bool:
    # A paused pair is quiet on purpose (HR paused it): not stuck, not nudged.
    return pair.status != Pair.Status.PAUSED and quiet_days is not None and quiet_days >= pair.program.stuck_after_days


# What is "due" stays recent: a session from months ago is history, not a to-do
# (the reminder sweep uses the same horizon).
DUE_WINDOW = datetime.timedelta(days=14)


# The reflection is asked for this long after a pair ends (the email asks once; the home
# page keeps it in view meanwhile).
REFLECTION_WINDOW = datetime.timedelta(days=30)


def _due(
    *, pair: Pair, side: str, agreement: Agreement | None, meetings: list[Meeting], logs: list[SessionLog], surveys: list[SurveyRow], now: datetime.datetime,
    reflected: bool = True,
) -> list[Due]:
    if pair.program.status == Program.Status.ARCHIVED:
        return []
    if pair.status not in LIVE:
        due = []
        if not reflected and pair.ended_at and pair.ended_at >= now - REFLECTION_WINDOW:
            due.append(Due(kind="reflection"))
        # An ended pair's recent sessions can still be rated: the last one often is the
        # one that mattered.
        return due + [Due(kind="feedback", log=log) for log in logs if log.created_at >= now - DUE_WINDOW and not log.my_feedback]
    due: list[Due] = []
    if agreement is None:
        due.append(Due(kind="agreement_setup"))
    elif getattr(agreement, f"{side}_acknowledged_version") != agreement.version:
        due.append(Due(kind="agreement"))
    for meeting in meetings:
        if meeting.status == Meeting.Status.SCHEDULED and now - DUE_WINDOW <= meeting.starts_at <= now and not meeting.logged:
            due.append(Due(kind="log", meeting=meeting))
    for log in logs:
        if log.created_at < now - DUE_WINDOW:
            continue
        if side == "mentor" and not log.has_pulse:
            due.append(Due(kind="pulse", log=log))
        if not log.my_feedback:
            due.append(Due(kind="feedback", log=log))
    due += [Due(kind="survey", survey=row) for row in surveys if row.state == "open"]
    return due


def _meetings_qs(pair_ids_filter: dict) -> QuerySet[Meeting]:
    return (
        Meeting.objects.filter(**pair_ids_filter)
        .annotate(logged=Exists(SessionLog.objects.filter(meeting=OuterRef("pk"))))
        .prefetch_related("topics")
        .order_by("starts_at", "id")
    )


def _logs_qs(pair_ids_filter: dict, me: Employee) -> QuerySet[SessionLog]:
    # Only existence of a pulse and of *my* feedback is read; never their values.
    return (
        SessionLog.objects.filter(**pair_ids_filter)
        .annotate(
            has_pulse=Exists(SafetyPulse.objects.filter(session_log=OuterRef("pk"))),
            my_feedback=Exists(Feedback.objects.filter(session_log=OuterRef("pk"), author__employee=me)),
        )
        .select_related("author", "meeting")
        .prefetch_related("topics", Prefetch("private_notes", queryset=PrivateNote.objects.filter(author=me), to_attr="my_notes"))
        .order_by("-held_on", "-id")
    )


# --- The pair page ----------------------------------------------------------------------------------------


# The pair page shows this many of the latest session logs and past meetings in full; the
# rest are folded under them.
RECENT_LOGS = 2
RECENT_PAST_MEETINGS = 3


@dataclass
class PairPage:
    pair: Pair
    side: str
    me: Employee
    partner: Employee
    partner_side: str
    partner_now: datetime.datetime
    editable: bool
    # Sessions can be rated after the pair ended, until the program is archived.
    can_rate: bool
    agreement: Agreement | None
    goals: list[AgreementGoal]
    i_acknowledged: bool
    partner_acknowledged: bool
    next_meeting: Meeting | None
    # Later meetings, cancelled ones among them (struck through), soonest first.
    upcoming: list[Meeting]
    # Meetings that have happened or whose time has passed (cancelled ones too), latest first.
    past: list[Meeting]
    logs: list[SessionLog]
    insights: list[Insight]
    actions: list[ActionItem]
    due: list[Due]
    quiet_days: int | None
    stuck: bool
    my_reflection: Reflection | None
    partner_reflected: bool
    surveys: list[SurveyRow] = field(default_factory=list)

    @property
    def recent_logs(self) -> list[SessionLog]:
        """Shown open; the older ones are folded (the page stays short on a phone)."""
        return self.logs[:RECENT_LOGS]

    @property
    def older_logs(self) -> list[SessionLog]:
        return self.logs[RECENT_LOGS:]

    @property
    def recent_past(self) -> list[Meeting]:
        return self.past[:RECENT_PAST_MEETINGS]

    @property
    def older_past(self) -> list[Meeting]:
        return self.past[RECENT_PAST_MEETINGS:]

    @property
    def upcoming_heading(self) -> str:
        """'Also coming up' only over meetings that are: struck-through ones alone (all
        cancelled, or the pair ended) are 'Cancelled meetings'."""
        if any(m.status == Meeting.Status.SCHEDULED for m in self.upcoming):
            return _("Also coming up") if self.next_meeting else _("Coming up")
        return _("Cancelled meetings")


def pair_page(*, pair: Pair, me: Employee) -> PairPage:
    """Everything the pair page shows, in a fixed number of queries whatever the history."""
    side = "mentor" if pair.mentor.employee_id == me.pk else "mentee"
    mine, theirs = (pair.mentor, pair.mentee) if side == "mentor" else (pair.mentee, pair.mentor)
    now = timezone.now()
    editable = pair.status in LIVE and pair.program.status != Program.Status.ARCHIVED

    agreement = Agreement.objects.filter(pair=pair).prefetch_related("goals").first()
    goals = list(agreement.goals.all()) if agreement else []
    meetings = list(_meetings_qs({"pair": pair}))
    # The latest move or cancel of each meeting, with the reason the person gave their partner.
    last_change = {c.meeting_id: c for c in MeetingChange.objects.filter(meeting__pair=pair).select_related("requested_by").order_by("at", "id")}
    for meeting in meetings:
        meeting.pair = pair
        meeting.started = meeting.starts_at <= now
        meeting.last_change = last_change.get(meeting.pk)
        meeting.is_cancelled = meeting.status == Meeting.Status.CANCELLED
        # Cancelled with no one's request on record: it went when the pair ended.
        meeting.cancelled_with_pair = meeting.is_cancelled and (meeting.last_change is None or meeting.last_change.kind != MeetingChange.Kind.CANCELLED)
    logs = list(_logs_qs({"pair": pair}, me))
    for log in logs:
        log.pair = pair
        log.my_note = log.my_notes[0].text if log.my_notes else ""
        log.editable = editable and log.author_id == me.pk and now - log.created_at <= LOG_EDIT_WINDOW
    insights = list(insights_of(pair=pair))
    # Open actions first, soonest due first (undated after), then the done ones, latest first;
    # an open action past its date says so.
    actions = list(ActionItem.objects.filter(pair=pair).select_related("insight"))
    today = timezone.localdate()
    for action in actions:
        action.overdue = action.status == ActionItem.Status.OPEN and action.due_on is not None and action.due_on < today

    def order(a):
        if a.status == ActionItem.Status.OPEN:
            return (0, a.due_on or datetime.date.max, 0.0, a.pk)
        return (1, datetime.date.max, -(a.done_at or a.created_at).timestamp(), a.pk)

    actions.sort(key=order)
    reflections = list(Reflection.objects.filter(pair=pair).only("id", "author_id", "text", "created_at"))
    responses = list(SurveyResponse.objects.filter(enrollment=mine).only("id", "enrollment_id", "kind", "submitted_at"))
    mine.program = pair.program
    surveys = survey_rows(mine, responses, timezone.localdate()) if editable else []

    scheduled = [m for m in meetings if m.status == Meeting.Status.SCHEDULED]
    upcoming = [m for m in scheduled if m.ends_at > now]
    cancelled = [m for m in meetings if m.status == Meeting.Status.CANCELLED]
    if not hasattr(pair, "booked"):  # a pair not read through `pair_for`
        pair.last_activity, pair.booked = pairs_quiet(Pair.objects.filter(pk=pair.pk), at=now).values_list("last_activity", "booked").get()
    quiet = _quiet_days(pair, now)
    return PairPage(
        pair=pair,
        side=side,
        me=me,
        partner=theirs.employee,
        partner_side=theirs.role,
        partner_now=now.astimezone(_zone(theirs.employee.time_zone)),
        editable=editable,
        can_rate=pair.program.status != Program.Status.ARCHIVED,
        agreement=agreement,
        goals=goals,
        i_acknowledged=bool(agreement) and getattr(agreement, f"{side}_acknowledged_version") == agreement.version,
        partner_acknowledged=bool(agreement) and getattr(agreement, f"{theirs.role}_acknowledged_version") == agreement.version,
        next_meeting=upcoming[0] if upcoming else None,
        upcoming=sorted(upcoming[1:] + [m for m in cancelled if m.ends_at > now], key=lambda m: (m.starts_at, m.pk)),
        past=sorted([m for m in scheduled if m.ends_at <= now] + [m for m in cancelled if m.ends_at <= now], key=lambda m: (m.starts_at, m.pk), reverse=True),
        logs=logs,
        insights=insights,
        actions=actions,
        due=_due(pair=pair, side=side, agreement=agreement, meetings=meetings, logs=logs, surveys=surveys, now=now, reflected=any(r.author_id == mine.pk for r in reflections)),
        quiet_days=quiet,
        stuck=_is_stuck(pair, quiet),
        my_reflection=next((r for r in reflections if r.author_id == mine.pk), None),
        partner_reflected=any(r.author_id == theirs.pk for r in reflections),
        surveys=surveys,
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# --- The participant home: my pairs at a glance -------------------------------------------------------------


@dataclass
class PairSummary:
    pair: Pair
    side: str
    partner: Employee
    next_meeting: Meeting | None
    due: list[Due]
    stuck: bool
    quiet_days: int | None
    live: bool


def pairs_for_home(*, employee: Employee | None, with_surveys: bool = True) -> list[PairSummary]:
    """The person's pairs (live first) with the next meeting, what is due and whether the pair
    has gone quiet, in a fixed number of queries however many pairs and sessions they have.
    Without surveys among what is due: the participant home lists them once, per enrollment
    (`surveys_due`), pair or no pair."""
    if employee is None:
        return []
    now, today = timezone.now(), timezone.localdate()
    pairs = list(
        pairs_quiet(pairs_of(employee=employee), at=now)
        .select_related("agreement")
        .annotate(i_reflected=Exists(Reflection.objects.filter(pair=OuterRef("pk"), author__employee=employee)))
    )
    if not pairs:
        return []
    ids = [p.pk for p in pairs]
    meetings: dict[int, list[Meeting]] = {pk: [] for pk in ids}
    for meeting in _meetings_qs({"pair_id__in": ids}):
        meetings[meeting.pair_id].append(meeting)
    logs: dict[int, list[SessionLog]] = {pk: [] for pk in ids}
    for log in _logs_qs({"pair_id__in": ids}, employee):
        logs[log.pair_id].append(log)
    my_enrollments = [p.mentor if p.mentor.employee_id == employee.pk else p.mentee for p in pairs]
    responses: dict[int, list[SurveyResponse]] = {}
    if with_surveys:
        for response in SurveyResponse.objects.filter(enrollment__in=my_enrollments).only("id", "enrollment_id", "kind", "submitted_at"):
            responses.setdefault(response.enrollment_id, []).append(response)

    out = []
    for pair, mine in zip(pairs, my_enrollments, strict=True):
        side = mine.role
        live = pair.status in LIVE and pair.program.status != Program.Status.ARCHIVED
        mine.program = pair.program
        for m in meetings[pair.pk]:
            m.pair = pair
        surveys = survey_rows(mine, responses.get(mine.pk, []), today) if live and with_surveys else []
        quiet = _quiet_days(pair, now)
        upcoming = [m for m in meetings[pair.pk] if m.status == Meeting.Status.SCHEDULED and m.ends_at > now]
        out.append(
            PairSummary(
                pair=pair,
                side=side,
                partner=(pair.mentee if side == "mentor" else pair.mentor).employee,
                next_meeting=upcoming[0] if upcoming else None,
                due=_due(pair=pair, side=side, agreement=_agreement_of(pair), meetings=meetings[pair.pk], logs=logs[pair.pk], surveys=surveys, now=now, reflected=pair.i_reflected),
                stuck=_is_stuck(pair, quiet),
                quiet_days=quiet,
                live=live,
            )
        )
    out.sort(key=lambda s: (not s.live, -(s.pair.started_at or s.pair.created_at).timestamp()))
    return out


# --- Surveys page ----------------------------------------------------------------------------------------------


def surveys_for(*, employee: Employee | None) -> list[tuple[Enrollment, list[SurveyRow]]]:
    """Each approved enrollment of the person with its surveys' state today, and each one they
    left after answering a survey, with those answers only (their history stays theirs)."""
    if employee is None:
        return []
    answered_then_left = Q(status=Enrollment.Status.WITHDRAWN) & Exists(SurveyResponse.objects.filter(enrollment=OuterRef("pk")))
    enrollments = (
        Enrollment.objects.filter(Q(status=Enrollment.Status.APPROVED) | answered_then_left, employee=employee)
        .exclude(program__status=Program.Status.DRAFT)
        .select_related("program")
        .prefetch_related(Prefetch("survey_responses", queryset=SurveyResponse.objects.only("id", "enrollment_id", "kind", "submitted_at")))
        .annotate(
            has_live_pair=Exists(Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status__in=LIVE)),
            had_pair=Exists(Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status__in=HAD_PAIR_STATUSES)),
        )
        .order_by("-program__starts_on", "id")
    )
    today = timezone.localdate()
    out = []
    for e in enrollments:
        rows = survey_rows(e, list(e.survey_responses.all()), today, had_pair=e.had_pair)
        out.append((e, rows if e.status == Enrollment.Status.APPROVED else [r for r in rows if r.state == "answered"]))
    return out


def surveys_due(*, employee: Employee | None) -> list[Due]:
    """The surveys of the person's approved enrollments that are open now and not yet
    answered, soonest to close first. The baseline is among them from approval on, before any
    pair exists: it is the starting point of the mentee's uplift and the mentor's growth."""
    rows = [
        row
        for enrollment, rows in surveys_for(employee=employee)
        if enrollment.program.status != Program.Status.ARCHIVED
        for row in rows
        # Midpoint and final ask about a pairing (rows only for someone who had one): due while
        # the pair is live, and once the program has completed (its emails go to the pairs
        # that ended with it).
        if row.state == "open" and (row.kind == SurveyResponse.Kind.BASELINE or enrollment.has_live_pair or enrollment.program.status == Program.Status.COMPLETED)
    ]
    return [Due(kind="survey", survey=row) for row in sorted(rows, key=lambda r: (r.closes_on, r.enrollment.pk))]


# --- What HR sees of one pair --------------------------------------------------------------------------


@dataclass
class HrPairOverview:
    """Activity counts for HR's pair page: how often and how recently the pair met, logged and
    agreed, never what was said. Feedback and pulse answers are not read; a pulse shows only
    as an open alert, a concern only as a count (the care page holds both)."""

    quiet_days: int | None
    stuck: bool
    last_activity: datetime.datetime | None
    meetings_held: int
    next_meeting: datetime.datetime | None
    meetings_booked: int
    cancelled_by_mentor: int
    cancelled_by_mentee: int
    logs: int
    minutes: int
    last_log_on: datetime.date | None
    agreement_version: int | None
    mentor_acknowledged: bool
    mentee_acknowledged: bool
    actions_open: int
    actions_done: int
    open_alerts: int
    open_concerns: int


def hr_pair_overview(*, pair: Pair) -> HrPairOverview:
    now = timezone.now()
    annotated = pairs_quiet(Pair.objects.filter(pk=pair.pk), at=now).select_related("program").get()
    quiet = _quiet_days(annotated, now)
    held = Q(status=Meeting.Status.SCHEDULED, starts_at__lte=now)
    ahead = Q(status=Meeting.Status.SCHEDULED, starts_at__gt=now)
    meetings = Meeting.objects.filter(pair=pair).aggregate(held=Count("id", filter=held), booked=Count("id", filter=ahead), next=Min("starts_at", filter=ahead))
    cancels = MeetingChange.objects.filter(meeting__pair=pair, kind=MeetingChange.Kind.CANCELLED).aggregate(
        mentor=Count("id", filter=Q(requested_by_role="mentor")), mentee=Count("id", filter=Q(requested_by_role="mentee"))
    )
    logs = SessionLog.objects.filter(pair=pair).aggregate(n=Count("id"), minutes=Sum("minutes"), last=Max("held_on"))
    actions = ActionItem.objects.filter(pair=pair).aggregate(open=Count("id", filter=~Q(status=ActionItem.Status.DONE)), done=Count("id", filter=Q(status=ActionItem.Status.DONE)))
    agreement = Agreement.objects.filter(pair=pair).first()
    return HrPairOverview(
        quiet_days=quiet,
        stuck=_is_stuck(annotated, quiet),
        last_activity=annotated.last_activity,
        meetings_held=meetings["held"],
        next_meeting=meetings["next"],
        meetings_booked=meetings["booked"],
        cancelled_by_mentor=cancels["mentor"],
        cancelled_by_mentee=cancels["mentee"],
        logs=logs["n"],
        minutes=logs["minutes"] or 0,
        last_log_on=logs["last"],
        agreement_version=agreement.version if agreement else None,
        mentor_acknowledged=bool(agreement and agreement.mentor_acknowledged_version == agreement.version),
        mentee_acknowledged=bool(agreement and agreement.mentee_acknowledged_version == agreement.version),
        actions_open=actions["open"],
        actions_done=actions["done"],
        open_alerts=PulseAlert.objects.filter(pair=pair, resolved_at__isnull=True).count(),
        open_concerns=Concern.objects.filter(pair=pair).exclude(status=Concern.Status.CLOSED).count(),
    )
