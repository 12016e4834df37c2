"""Writes for programs and enrollment. Every function is atomic and raises ProgramError."""

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, Min, OuterRef, Q, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mentoring.mail import send_templated
from mentoring.audit import audit_record, changed_fields
from mentoring.models import AuditEvent, Employee, Role as UserRole, User, validate_time_zone
from mentoring.services import hr_addressees

from .models import DEFAULT_WEIGHTS, DESCRIPTION_MAX, LATE_JOIN_STATUSES, LATE_WINDOW_STATUSES, Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource, ResourceCompletion, Role, Topic

S = Program.Status


class ProgramError(Exception):
    """A refused program or enrollment operation, with a message a person can read."""


# --- Lifecycle ------------------------------------------------------------------------------

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.ENROLLMENT_OPEN, S.ARCHIVED),
    S.ENROLLMENT_OPEN: (S.MATCHING, S.DRAFT),
    S.MATCHING: (S.ACTIVE, S.ENROLLMENT_OPEN),
    S.ACTIVE: (S.COMPLETED,),
    S.COMPLETED: (S.ARCHIVED,),
    S.ARCHIVED: (),
}

TRANSITION_LABELS = {
    (S.DRAFT, S.ENROLLMENT_OPEN): _("Open enrollment"),
    (S.DRAFT, S.ARCHIVED): _("Discard draft"),
    (S.ENROLLMENT_OPEN, S.MATCHING): _("Close enrollment and start matching"),
    (S.ENROLLMENT_OPEN, S.DRAFT): _("Back to draft"),
    (S.MATCHING, S.ACTIVE): _("Start the program"),
    (S.MATCHING, S.ENROLLMENT_OPEN): _("Reopen enrollment"),
    (S.ACTIVE, S.COMPLETED): _("Complete the program"),
    (S.COMPLETED, S.ARCHIVED): _("Archive"),
}


def today() -> datetime.date:
    return timezone.localdate()


def transition_problems(*, program: Program, to: str, on: datetime.date | None = None) -> list[str]:
    """Why `program` cannot move to `to` now (empty when it can)."""
    on = on or today()
    current = program.status
    if to not in S.values:
        return [_("Unknown program status.")]
    if to not in ALLOWED_TRANSITIONS.get(current, ()):
        if current == S.ARCHIVED:
            return [_("This program is archived and read-only.")]
        return [_("A program that is %(current)s cannot become %(to)s.") % {"current": S(current).label.lower(), "to": S(to).label.lower()}]
    problems = []
    if to == S.ENROLLMENT_OPEN and current == S.DRAFT:
        if not program.topics.exists():
            problems.append(_("Choose at least one focus topic first."))
        if program.enrollment_closes_on < on:
            problems.append(_("Enrollment was set to close on %(day)s, which has passed: change the dates first.") % {"day": date_format(program.enrollment_closes_on)})
    elif to == S.DRAFT:
        if program.enrollments.exclude(status=Enrollment.Status.INVITED).exists():
            problems.append(_("People have already applied: close enrollment instead of going back to draft."))
    elif to == S.MATCHING:
        approved = set(program.enrollments.filter(status=Enrollment.Status.APPROVED).values_list("role", flat=True))
        if Role.MENTOR not in approved or Role.MENTEE not in approved:
            problems.append(_("Approve at least one mentor and one mentee before matching."))
    elif to == S.ACTIVE:
        if on > program.ends_on:
            problems.append(_("The program ended on %(day)s: change the dates first.") % {"day": date_format(program.ends_on)})
        problems.extend(_start_problems(program))
    elif to == S.COMPLETED:
        if on < program.starts_on:
            problems.append(_("The program has not started yet (it starts on %(day)s).") % {"day": date_format(program.starts_on)})
    elif to == S.ARCHIVED and current == S.COMPLETED:
        from pairing.services import program_archive_problems  # noqa: PLC0415 - pairing depends on programs

        problems.extend(program_archive_problems(program=program))
    return problems


def _start_problems(program: Program) -> list[str]:
    """Hook for the pairing app: a program starts once its pairs are published."""
    from pairing.services import program_start_problems  # noqa: PLC0415 - pairing depends on programs

    return program_start_problems(program=program)


def available_transitions(program: Program) -> list[tuple[str, str]]:
    return [(to, TRANSITION_LABELS[(program.status, to)]) for to in ALLOWED_TRANSITIONS.get(program.status, ())]


def _require_editable(program: Program) -> None:
    if program.is_archived:
        raise ProgramError(_("This program is archived and read-only."))


def _require_hr(user) -> None:
    if user is None or not user.has_role(UserRole.HR_ADMIN):
        raise ProgramError(_("Only HR admins can do this."))


@dataclass
class SurveyStillOpen:
    """A survey of a completed program that archiving would close before its planned close."""

    kind: str
    label: str
    opens_on: datetime.date
    closes_on: datetime.date
    answers: int
    people: int  # who may answer it: everyone who had a pair

    @property
    def is_open(self) -> bool:
        return self.opens_on <= site_today()

    def describe(self) -> str:
        what = {"label": self.label, "opens": date_format(self.opens_on), "closes": date_format(self.closes_on), "answers": self.answers, "people": self.people}
        if not self.is_open:
            return _("The %(label)s survey opens on %(opens)s and closes on %(closes)s.") % what
        return ngettext(
            "The %(label)s survey is open until %(closes)s: %(answers)s of %(people)s person has answered so far.",
            "The %(label)s survey is open until %(closes)s: %(answers)s of %(people)s people have answered so far.",
            self.people,
        ) % what


def surveys_open_at_archive(program: Program, *, on: datetime.date | None = None) -> list[SurveyStillOpen]:
    """The midpoint and final surveys of a completed program still open on ``on`` (the site's
    date), or still to come: archiving closes them that day. Empty for any other status."""
    if program.status != S.COMPLETED:
        return []
    from sessions_log.models import SurveyResponse  # noqa: PLC0415 - sessions_log depends on programs
    from sessions_log.services import HAD_PAIR_STATUSES, survey_window  # noqa: PLC0415

    on = on or site_today()
    still_open = []
    for kind in (SurveyResponse.Kind.MIDPOINT, SurveyResponse.Kind.FINAL):
        window = survey_window(program, kind)
        if window is None or window[1] < on:
            continue
        if not still_open:  # who may answer: the same people for both surveys
            from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs

            paired = Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status__in=HAD_PAIR_STATUSES)
            people = program.enrollments.filter(Exists(paired)).count()
            answered = dict(SurveyResponse.objects.filter(enrollment__program=program).values("kind").annotate(n=models.Count("id")).order_by().values_list("kind", "n"))
        still_open.append(
            SurveyStillOpen(kind=kind, label=str(kind.label).lower(), opens_on=window[0], closes_on=window[1], answers=answered.get(kind, 0), people=people)
        )
    return still_open


@transaction.atomic
def program_transition(*, program: Program, to: str, by, note: str = "", close_surveys: bool = False) -> Program:
    """Move the program to ``to``. Archiving a completed program whose midpoint or final survey
    is still open (or still to come) closes that survey the same day, and needs
    ``close_surveys``: the answers still to come would be lost, so it is never done silently."""
    _require_hr(by)
    # Lock the row: two HR admins pressing buttons at once must not both move it.
    program = Program.objects.select_for_update().get(pk=program.pk)
    problems = transition_problems(program=program, to=to)
    if problems:
        raise ProgramError(" ".join(problems))
    previous = program.status
    dates_before = {f: getattr(program, f) for f in DATE_FIELDS}
    closing = surveys_open_at_archive(program) if to == S.ARCHIVED else []
    if closing and not close_surveys:
        then = ngettext(
            "Archiving now closes it for good: archive after %(day)s to keep it open, or confirm that it closes now.",
            "Archiving now closes them for good: archive after %(day)s to keep them open, or confirm that they close now.",
            len(closing),
        ) % {"day": date_format(closing[-1].closes_on)}
        raise ProgramError(" ".join([*(survey.describe() for survey in closing), then]))
    if closing:
        program.surveys_closed_on = site_today()
    program.status = to
    if to == S.MATCHING and program.enrollment_closes_on > today():
        # Closing early: the window now says so (never before it opened).
        program.enrollment_closes_on = max(today(), program.enrollment_opens_on)
    if to == S.COMPLETED:
        for field, day in early_end_dates(program).items():
            setattr(program, field, day)
    dates_changed = [f for f in DATE_FIELDS if getattr(program, f) != dates_before[f]]
    program.save(update_fields=["status", "updated_at", *dates_changed, *(["surveys_closed_on"] if closing else [])])
    ProgramTransition.objects.create(program=program, from_status=previous, to_status=to, by=by, note=note[:300])
    # The note is HR's free text: it stays on the transition, not in the audit log.
    before, after = {"status": previous}, {"status": to}
    iso = lambda day: day.isoformat() if day else None  # noqa: E731
    for f in dates_changed:
        before[f], after[f] = iso(dates_before[f]), iso(getattr(program, f))
    if closing:
        before["surveys_closed_on"], after["surveys_closed_on"] = None, iso(program.surveys_closed_on)
        after["surveys_closed"] = {survey.kind: {"planned_close": iso(survey.closes_on), "answers": survey.answers, "people": survey.people} for survey in closing}
    audit_record(action=AuditEvent.Action.PROGRAM_TRANSITIONED, target=program, actor=by, summary=f"{Program.Status(previous).label} → {Program.Status(to).label}", before=before, after=after)
    pairs_left = False
    if to == S.COMPLETED:
        from pairing.services import LIVE, pairs_end_with_program  # noqa: PLC0415 - pairing depends on programs

        pairs_end_with_program(program=program, by=by)
        # A large program's pairs end in a task, which asks for the final figures once done.
        pairs_left = program.pairs.filter(status__in=LIVE).exists()
    if to in (S.COMPLETED, S.ARCHIVED) and not pairs_left:
        # Final figures for the dashboards, as of the program's last day (the nightly task
        # skips archived programs). Queued for Celery after commit, like HR's refresh: the
        # status change neither waits for the computation nor fails with it.
        from .snapshots import snapshot_request  # snapshots reads this module's models

        snapshot_request(program=program, by=by)
    return program


def site_today() -> datetime.date:
    """The organisation's date (settings.TIME_ZONE), the same in a request, whoever makes it,
    and in a worker: for the dates everyone shares, such as the day a program ended."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


def early_end_dates(program: Program, on: datetime.date | None = None) -> dict[str, datetime.date | None]:
    """The dates that completing ``program`` on ``on`` (the site's date) changes: none at or
    after its planned end. Before it, the program ended that day, which its end date then says
    (cards, the dashboard's last point, the survey windows); the final survey opens at once
    instead of after the program is over, dated that day (people west of the site's zone,
    still on the previous day, can answer it too: a survey opens when its day begins at the
    site, see sessions_log.services.survey_open); a midpoint survey nobody has answered that
    would fall on or after it is dropped (the program ended first)."""
    on = on or site_today()
    if program.ends_on <= on:
        return {}
    changes: dict[str, datetime.date | None] = {"ends_on": max(on, program.starts_on + datetime.timedelta(days=1))}  # ends after it starts
    final = max(on, program.starts_on)
    midpoint = program.midpoint_survey_on
    if midpoint and midpoint >= final:
        from sessions_log.models import SurveyResponse  # noqa: PLC0415 - sessions_log depends on programs

        if SurveyResponse.objects.filter(enrollment__program=program, kind=SurveyResponse.Kind.MIDPOINT).exists():
            final = midpoint + datetime.timedelta(days=1)  # the final survey comes after the midpoint
        else:
            changes["midpoint_survey_on"] = None
    if program.final_survey_on and program.final_survey_on > final:
        changes["final_survey_on"] = final
    return changes


def _validate(program: Program) -> None:
    try:
        program.full_clean(exclude=["topics", "departments", "slug"] if program.pk is None else ["topics", "departments"])
    except ValidationError as exc:
        raise ProgramError(" ".join(m for msgs in exc.message_dict.values() for m in msgs)) from exc


# --- What can still change -----------------------------------------------------------------------

DATE_FIELDS = ("enrollment_opens_on", "enrollment_closes_on", "starts_on", "ends_on", "midpoint_survey_on", "final_survey_on")
LEVEL_FIELDS = ("mentor_max_level", "mentee_min_level", "min_level_gap")
# The meetings the program expects must fit between its start and end.
SCHEDULE_FIELDS = ("starts_on", "ends_on", "cadence_days", "expected_sessions")
ELIGIBILITY_FIELDS = (*LEVEL_FIELDS, "departments")
SURVEY_FIELDS = ("midpoint_survey_on", "final_survey_on")
PAST_ENROLLMENT = (S.MATCHING, S.ACTIVE, S.COMPLETED, S.ARCHIVED)
# Everything the edit form writes (the status moves only through program_transition).
PROGRAM_SETTINGS = (*(f.name for f in Program._meta.concrete_fields if f.editable and f.name not in {"id", "status", "created_by", "created_at", "updated_at"}), "topics", "departments")
# What a completed program still lets HR change: its name and description, for the record, and
# its reminder switches (the final survey is still open and reminds people). Training resources
# are added and removed on the program page. Everything else shaped how the program ran or what
# its figures measure (the cadence its adherence is measured against, when a pair counts as
# stuck, the topics, the pairing policy, the agreement pairs started from): a finished
# program's results are final, so a later edit must not rewrite them.
EDITABLE_WHEN_COMPLETED = ("name", "description", "reminders")


def locked_fields(program: Program, *, on: datetime.date | None = None) -> dict[str, str]:
    """{field: why it can no longer change} at this point of the program's lifecycle.

    Each step fixes what people have already acted on: invitations link to the short name and
    were sent for the mode and the day enrollment opened; approvals were made under the
    eligibility rules; pairs were formed for the start date; a completed program's dates are
    what its metrics are measured against.
    """
    on = on or today()
    status = program.status
    if program.pk is None or status == S.DRAFT:
        return {}
    locked = {
        "mode": _("The mode cannot change once enrollment has opened."),
        "slug": _("Links already sent to people use the short name, so it cannot change once enrollment has opened."),
        "enrollment_opens_on": _("Enrollment has opened, so the day it opened is fixed."),
    }
    if status in PAST_ENROLLMENT:
        locked["enrollment_closes_on"] = _("Enrollment has closed, so its window is fixed.")
        for name in ELIGIBILITY_FIELDS:
            locked[name] = _("People were approved under these rules, so they are fixed once matching has started.")
        locked["starts_on"] = _("Pairs are formed for this start date, so it is fixed once matching has started.")
    for name in SURVEY_FIELDS:
        day = getattr(program, name)
        if day and day < on:
            locked[name] = _("This survey's day has passed, so it is fixed.")
    if status in (S.COMPLETED, S.ARCHIVED):
        for name in PROGRAM_SETTINGS:
            if name not in EDITABLE_WHEN_COMPLETED:
                locked.setdefault(name, _("The program is completed: its results are final, so what shaped them is fixed."))
        for name in DATE_FIELDS:
            locked[name] = _("The program is completed, so its dates are fixed.")
    return locked


def locked_summary(program: Program) -> str:
    """One line for the top of the edit form: what this status fixes and what may still move."""
    return {
        S.ENROLLMENT_OPEN: _("Enrollment is open: the mode, the short name and the day enrollment opened are fixed. Other dates may move, but not into the past."),
        S.MATCHING: _("Matching has started: the enrollment window, eligibility and the start date are fixed. The end date and future survey days may move, but not into the past."),
        S.ACTIVE: _("The program is running: the enrollment window, eligibility and the start date are fixed. The end date and future survey days may move, but not into the past."),
        S.COMPLETED: _(
            "The program is completed and its results are final, so everything that shaped them is fixed. Its name, description and reminder "
            "switches may still change, and training resources can still be added or removed on the program page."
        ),
    }.get(program.status, _("Dates you set cannot be in the past."))


def _same(name: str, old, new) -> bool:
    if name in ("topics", "departments"):
        return {getattr(x, "pk", x) for x in old} == {getattr(x, "pk", x) for x in new}
    if name == "pairing_weights":  # a criterion left out weighs its default
        return {**DEFAULT_WEIGHTS, **(old or {})} == {**DEFAULT_WEIGHTS, **(new or {})}
    if name in TEXT_FIELDS:
        return _normalise_line_endings(old) == _normalise_line_endings(new)
    return old == new


def program_change_problems(*, program: Program | None, fields: dict, on: datetime.date | None = None, undecided=()) -> dict[str, str]:
    """{field: why this value is refused} for a new program (program=None) or an edit.

    Fields the lifecycle has fixed cannot change (see locked_fields), a date that is set or
    changed cannot be in the past (nobody can enroll, meet or answer a survey yesterday), the
    level rules must allow some pair, and the expected sessions must fit between the start and
    the end. ``undecided`` names fields whose entry is not known (a form field with its own
    error): the rules that need them wait for it, rather than judging the saved value.
    """
    on = on or today()
    problems: dict[str, str] = {}
    locked = locked_fields(program, on=on) if program is not None else {}
    for name, value in fields.items():
        if program is None:
            changed = True
        else:
            current = list(getattr(program, name).all()) if name in ("topics", "departments") else getattr(program, name, value)
            changed = not _same(name, current, value)
        if not changed:
            continue
        if name in locked:
            label = str(Program._meta.get_field(name).verbose_name)
            problems[name] = f"{label[:1].upper()}{label[1:]}: {locked[name]}"
        elif name in DATE_FIELDS and value and value < on:
            problems[name] = _("%(what)s %(day)s, which is in the past: choose today (%(today)s) or a later day.") % {
                "what": _date_label(name), "day": date_format(value), "today": date_format(on)
            }
    # A rule across fields is judged on the entries that are settled: none refused above, none
    # waiting for their own fix (a start refused for being in the past moves later, and the
    # days the program runs with it). The others' problems are reported at the same time.
    unsettled = set(problems) | set(undecided)

    def entries(names) -> dict | None:
        if unsettled & set(names):
            return None
        values = {name: fields.get(name, getattr(program, name, None)) for name in names}
        changed = program is None or any(not _same(name, getattr(program, name), values[name]) for name in names)
        return values if changed and None not in values.values() else None

    if (levels := entries(LEVEL_FIELDS)) and (refusal := _level_rule_refusal(**levels)):
        problems["min_level_gap"] = refusal
    if (schedule := entries(SCHEDULE_FIELDS)) and (refusal := _schedule_refusal(**schedule)):
        # One message for a rule of four fields, under the count it is about.
        problems.setdefault("expected_sessions", refusal)
    return problems


def _days_needed(*, expected_sessions: int, cadence_days: int) -> int:
    """The shortest run the expected sessions fit: one cadence period each, as cadence
    adherence counts them (a pair owes a meeting per whole period it has been live)."""
    return expected_sessions * cadence_days


def _schedule_refusal(*, starts_on: datetime.date, ends_on: datetime.date, cadence_days: int, expected_sessions: int) -> str:
    """Why the expected sessions cannot fit between the start and the end ('' if they fit),
    against _days_needed: the days they need, the days the program runs, and in one sentence
    each change that alone makes them fit."""
    days = (ends_on - starts_on).days
    need = _days_needed(expected_sessions=expected_sessions, cadence_days=cadence_days)
    if days <= 0 or need <= days:
        return ""  # an end before the start is the model's to refuse
    problem = ngettext(
        "%(n)s session %(every)s needs %(need)s days from the start",
        "%(n)s sessions %(every)s need %(need)s days from the start",
        expected_sessions,
    ) % {"n": expected_sessions, "every": _every(cadence_days), "need": need}
    runs = ngettext("but the program runs only %(days)s day", "but the program runs only %(days)s days", days) % {"days": days}
    fixes = [_("end the program on %(day)s or later") % {"day": date_format(starts_on + datetime.timedelta(days=need))}]
    cadence = days // expected_sessions  # the longest gap that fits them all
    if cadence == 1:
        fixes.append(_("meet every day"))
    elif cadence > 1:
        fixes.append(_("meet %(every)s or more often") % {"every": _every(cadence)})
    fit = days // cadence_days  # the most that fit at this cadence
    if fit:
        fixes.append(ngettext("expect only %(fit)s session", "expect %(fit)s sessions or fewer", fit) % {"fit": fit})
    if not cadence and not fit:
        fixes.append(_("expect fewer sessions and meet more often"))
    # Each fix says "or later" or "or more often" itself: a comma before the last keeps them apart.
    either = _("%(a)s, or %(b)s") % {"a": fixes[0], "b": fixes[1]} if len(fixes) == 2 else _("%(a)s, %(b)s, or %(c)s") % dict(zip("abc", fixes, strict=True))
    return _("%(problem)s, %(runs)s. To fix this, %(fixes)s.") % {"problem": problem, "runs": runs, "fixes": either}


def _every(days: int) -> str:
    return _("every day") if days == 1 else _("every %(n)s days") % {"n": days}


def _date_label(name: str) -> str:
    return {
        "enrollment_opens_on": _("Enrollment opens on"),
        "enrollment_closes_on": _("Enrollment closes on"),
        "starts_on": _("The program starts on"),
        "ends_on": _("The program ends on"),
        "midpoint_survey_on": _("The midpoint survey is on"),
        "final_survey_on": _("The final survey is on"),
    }[name]


def _level_rule_refusal(*, mentor_max_level: int, mentee_min_level: int, min_level_gap: int) -> str:
    """Why no pair can ever meet the level rules with the people in the directory ('' if some can)."""
    current = Employee.objects.current()
    most_junior = current.filter(level__lte=mentor_max_level).order_by("level").values_list("level", flat=True).first()
    most_senior = current.filter(level__gte=mentee_min_level).order_by("-level").values_list("level", flat=True).first()
    # An empty side may still be filled by the next roster import: only refuse what the
    # directory proves impossible.
    if most_junior is None or most_senior is None or most_senior - most_junior >= min_level_gap:
        return ""
    return _(
        "No pair can meet these rules: the most junior possible mentor in the directory is at level %(junior)s and the most "
        "senior possible mentee at level %(senior)s, fewer than %(gap)s levels apart. Lower the gap or widen the levels."
    ) % {"junior": most_junior, "senior": most_senior, "gap": min_level_gap}


def level_rule_warnings(program: Program) -> list[str]:
    """The level rules leave some eligible mentors and mentees unpairable (allowed, but said)."""
    need = program.mentor_max_level + program.min_level_gap
    if need <= program.mentee_min_level:
        return []
    # Every way out that exists: a mentor ceiling someone in the directory is at or under (a
    # ceiling of 0 when nobody is at level 0 leaves no mentor at all), a gap of 0 or more (none
    # when mentors may be more senior than mentees), and a higher floor for mentees (always).
    ways = []
    lowest = Employee.objects.current().aggregate(low=Min("level"))["low"]
    if lowest is not None and program.mentee_min_level - program.min_level_gap >= lowest:
        ways.append(_("keep the mentors' highest level at %(level)s or below") % {"level": program.mentee_min_level - program.min_level_gap})
    ways.append(_("raise the mentees' lowest level to %(level)s") % {"level": need})
    if program.mentee_min_level - program.mentor_max_level >= 0:
        ways.append(_("lower the gap to %(gap)s") % {"gap": program.mentee_min_level - program.mentor_max_level})
    return [
        _(
            "Not every eligible pair is possible: a mentor at level %(max)s needs a mentee at level %(need)s or above (a gap of at least %(gap)s), "
            "but mentees start at level %(min)s. To make every eligible mentor and mentee pairable, %(ways)s."
        )
        % {"max": program.mentor_max_level, "need": need, "gap": program.min_level_gap, "min": program.mentee_min_level, "ways": _(", or ").join(ways)}
    ]


def _raise_change_problems(problems: dict[str, str]) -> None:
    if problems:
        raise ProgramError(" ".join(problems.values()))


# Free-text bodies are recorded as changed, without their text: the audit log cannot be edited.
AUDIT_TEXT_FIELDS = {"description", "objectives", "agreement_template"}


# The program's free-text fields. A browser sends a text area's line breaks as \r\n: saved
# as typed, text nobody touched would differ from what is stored and read as edited.
TEXT_FIELDS = tuple(f.name for f in Program._meta.concrete_fields if isinstance(f, models.TextField))


def _normalise_line_endings(text):
    return text.replace("\r\n", "\n").replace("\r", "\n") if isinstance(text, str) else text


def _normalise_text(fields: dict) -> dict:
    return {name: (_normalise_line_endings(value) if name in TEXT_FIELDS else value) for name, value in fields.items()}


def _audit_values(program: Program) -> dict:
    values = {}
    for f in Program._meta.concrete_fields:
        if f.name in {"id", "created_by", "created_at", "updated_at"}:
            continue
        value = getattr(program, f.name)
        if f.name in TEXT_FIELDS:
            # Text saved before line endings were normalised compares equal to the same text now.
            value = _normalise_line_endings(value)
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        elif not isinstance(value, (str, int, float, bool, dict, list, type(None))):
            value = str(value)
        values[f.name] = value
    values["topics"] = sorted(program.topics.values_list("pk", flat=True))
    values["departments"] = sorted(program.departments.values_list("pk", flat=True))
    return values


def _hide_text(values: dict) -> dict:
    return {name: ("(changed)" if name in AUDIT_TEXT_FIELDS else value) for name, value in values.items()}


@transaction.atomic
def program_create(*, by, topics, departments=(), **fields) -> Program:
    _require_hr(by)
    fields = _normalise_text(fields)
    program = Program(created_by=by, status=S.DRAFT, **fields)
    _validate(program)
    checked = {name: fields[name] for name in (*DATE_FIELDS, *LEVEL_FIELDS) if name in fields}
    # The schedule as it will be saved: a cadence or session count not given is the default.
    checked |= {name: getattr(program, name) for name in SCHEDULE_FIELDS}
    _raise_change_problems(program_change_problems(program=None, fields=checked))
    if Program.objects.filter(slug=program.slug).exists():
        raise ProgramError(_("Another program already uses the short name %(slug)s.") % {"slug": program.slug})
    program.save()
    program.topics.set(topics)
    program.departments.set(departments)
    ProgramTransition.objects.create(program=program, from_status="", to_status=S.DRAFT, by=by, note=_("Created"))
    after = {name: value for name, value in _audit_values(program).items() if name not in AUDIT_TEXT_FIELDS}
    audit_record(action=AuditEvent.Action.PROGRAM_CREATED, target=program, actor=by, summary="Created as a draft", after=after)
    return program


class ProgramChanged(ProgramError):
    """The program changed since the edit form was opened: saving would silently undo that."""


def program_revision(program: Program) -> str:
    """A short fingerprint of everything the edit form writes (every field but the status, with
    the topics and departments): the form carries it, and a save from a form opened on another
    revision is refused instead of writing the whole form back over what someone saved since.

    Being a fingerprint of the values rather than a counter, every writer moves it without
    having to remember to: an edit, and a status change that moves a date (closing enrollment
    or completing the program early); a status change alone does not, so a form opened
    before it still saves."""
    values = {name: value for name, value in _audit_values(program).items() if name != "status"}
    for f in Program._meta.concrete_fields:
        # 3 as typed or defaulted, 3.0 as read back: the same threshold, the same revision.
        if isinstance(f, models.DecimalField) and getattr(program, f.name) is not None:
            values[f.name] = str(f.to_python(getattr(program, f.name)).quantize(Decimal(1).scaleb(-f.decimal_places)))
    state = json.dumps(values, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def _changed_since_message(program: Program, *, by) -> str:
    # Who and when from the audit log: the last edit, or status change that moved a date
    # (one that moved only the status left the form's values as they were).
    last = (
        AuditEvent.objects.filter(object_type=Program._meta.label_lower, object_id=program.pk)
        .filter(Q(action=AuditEvent.Action.PROGRAM_UPDATED) | Q(action=AuditEvent.Action.PROGRAM_TRANSITIONED, after__has_any_keys=list(DATE_FIELDS)))
        .select_related("actor")
        .order_by("-occurred_at", "-id")
        .first()
    )
    then = _("Nothing was saved: your entries are kept below, and each field that differs from what is saved now shows the saved value. Check them, then save again to replace what is saved.")
    if last is None or last.actor is None:
        return _("This program was changed since you opened it. %(then)s") % {"then": then}
    who = _("you, in another tab or window,") if last.actor_id == by.pk else last.actor.get_full_name()
    return _("This program was changed by %(who)s on %(when)s since you opened it. %(then)s") % {
        "who": who, "when": date_format(timezone.localtime(last.occurred_at), "DATETIME_FORMAT"), "then": then
    }


@transaction.atomic
def program_update(*, program: Program, by, topics=None, departments=None, revision: str | None = None, **fields) -> Program:
    """Write the edit form's fields. With ``revision`` (the form's, see program_revision),
    refused when the program changed since the form was opened (ProgramChanged)."""
    _require_hr(by)
    # The lock makes check-then-write one step: of two saves from forms opened on the same
    # revision, the second waits here and then finds the revision moved on.
    program = Program.objects.select_for_update().get(pk=program.pk)
    _require_editable(program)
    if revision and revision != program_revision(program):
        raise ProgramChanged(_changed_since_message(program, by=by))
    fields = _normalise_text(fields)
    checked = {**fields, **({"topics": topics} if topics is not None else {}), **({"departments": departments} if departments is not None else {})}
    _raise_change_problems(program_change_problems(program=program, fields=checked))
    before = _audit_values(program)
    for name, value in fields.items():
        setattr(program, name, value)
    _validate(program)
    program.save()
    if topics is not None:
        program.topics.set(topics)
    if departments is not None:
        program.departments.set(departments)
    old, new = changed_fields(before, _audit_values(program))
    if new:
        audit_record(
            action=AuditEvent.Action.PROGRAM_UPDATED, target=program, actor=by, summary=f"Edited: {', '.join(new)}"[:300], before=_hide_text(old), after=_hide_text(new)
        )
    return program


@dataclass
class ProgramCloned:
    program: Program
    # What differs from the original beyond the moved dates, said to HR with the success.
    changes: list[str] = field(default_factory=list)


def _planned_dates(program: Program) -> dict[str, datetime.date | None]:
    """The dates ``program`` had before completing it early moved them (early_end_dates): the
    completion's audit entry keeps them. {} when it was not completed early, or nothing says."""
    completed = (
        AuditEvent.objects.filter(
            object_type=Program._meta.label_lower, object_id=program.pk, action=AuditEvent.Action.PROGRAM_TRANSITIONED, after__status=S.COMPLETED
        )
        .order_by("-occurred_at", "-id")
        .values_list("before", flat=True)
        .first()
    )
    planned = {}
    for name in DATE_FIELDS:
        if name in (completed or {}):
            value = completed[name]
            planned[name] = datetime.date.fromisoformat(value) if value else None
    return planned


@transaction.atomic
def program_clone(*, program: Program, by, name: str, slug: str, enrollment_opens_on: datetime.date) -> ProgramCloned:
    """A new draft with the same setup; every date moves by the same number of days.

    The clone runs as the original was planned: a program completed early ended that day
    (early_end_dates), and its shortened run would not fit its sessions. Where the plan is not
    known, the run is lengthened just enough for them. A description longer than today's limit
    (written before there was one) is shortened: the clone form cannot edit it, and HR can on
    the draft."""
    _require_hr(by)
    shift = enrollment_opens_on - program.enrollment_opens_on
    changes = []

    def moved(day):
        return day + shift if day else None

    copy_fields = {
        f.name: getattr(program, f.name)
        for f in Program._meta.concrete_fields
        if f.editable and f.name not in {"id", "name", "slug", "status", "created_by", "created_at", "updated_at"}
    }
    planned = _planned_dates(program)
    for day_field in DATE_FIELDS:
        copy_fields[day_field] = moved(planned.get(day_field, getattr(program, day_field)))
    if planned.get("ends_on", program.ends_on) != program.ends_on:
        changes.append(_("It runs until %(day)s, as the original was planned before it was completed early.") % {"day": date_format(copy_fields["ends_on"])})
    starts_on, ends_on = copy_fields["starts_on"], copy_fields["ends_on"]
    need = datetime.timedelta(days=_days_needed(expected_sessions=copy_fields["expected_sessions"], cadence_days=copy_fields["cadence_days"]))
    if ends_on - starts_on < need:
        # The schedule rule's own minimum. The final survey keeps its place relative to the end.
        longer = starts_on + need - ends_on
        copy_fields["ends_on"] = ends_on + longer
        if copy_fields["final_survey_on"] and copy_fields["final_survey_on"] >= ends_on - datetime.timedelta(days=1):
            copy_fields["final_survey_on"] += longer
        changes.append(
            _("It runs until %(day)s, so that its %(n)s sessions %(every)s fit.")
            % {"day": date_format(copy_fields["ends_on"]), "n": copy_fields["expected_sessions"], "every": _every(copy_fields["cadence_days"])}
        )
    description = _normalise_line_endings(copy_fields["description"])
    if len(description) > DESCRIPTION_MAX:
        copy_fields["description"] = Truncator(description).chars(DESCRIPTION_MAX)
        changes.append(
            _("Its description was %(n)s characters long, over today's limit of %(max)s: it is shortened to fit, so edit it on the draft.")
            % {"n": f"{len(description):,}", "max": f"{DESCRIPTION_MAX:,}"}
        )
    clone = program_create(by=by, topics=list(program.topics.all()), departments=list(program.departments.all()), name=name, slug=slug, **copy_fields)
    Resource.objects.bulk_create(
        [Resource(program=clone, title=r.title, url=r.url, file=r.file.name if r.file else "", audience=r.audience, order=r.order) for r in program.resources.all()]
    )
    ProgramTransition.objects.filter(program=clone).update(note=_("Cloned from %(name)s") % {"name": program.name})
    return ProgramCloned(program=clone, changes=changes)


@transaction.atomic
def resource_add(*, program: Program, by, title: str, url: str = "", file=None, audience: str = Resource.Audience.EVERYONE) -> Resource:
    _require_hr(by)
    _require_editable(program)
    resource = Resource(program=program, title=title, url=url, audience=audience, order=program.resources.count())
    if file is not None:
        resource.file = file
    try:
        resource.full_clean()
    except ValidationError as exc:
        raise ProgramError(" ".join(exc.messages)) from exc
    resource.save()
    audit_record(
        action=AuditEvent.Action.PROGRAM_UPDATED, target=program, actor=by, summary=f"Resource added: {title}"[:300],
        after={"resource": title, "file" if resource.file else "link": resource.file.name if resource.file else url, "for": audience},
    )
    return resource


@transaction.atomic
def resource_remove(*, resource: Resource, by) -> None:
    _require_hr(by)
    _require_editable(resource.program)
    audit_record(
        action=AuditEvent.Action.PROGRAM_UPDATED, target=resource.program, actor=by, summary=f"Resource removed: {resource.title}"[:300],
        before={"resource": resource.title, "file" if resource.file else "link": resource.file.name if resource.file else resource.url},
    )
    resource.delete()


# --- Eligibility -----------------------------------------------------------------------------


# Late joiners: while a program is matching or running, HR can still invite people; each
# late invitation carries its own last day to apply (Enrollment.apply_by), and once HR approves
# the application the next re-match pairs them from the remaining pool.
LATE_APPLY_DAYS = 14  # the default window of a late invitation


def late_join_problems(program: Program) -> list[str]:
    """Why HR cannot invite late joiners to this program now (empty: they can)."""
    if program.is_archived:
        return [_("This program is archived and read-only.")]
    if program.status not in LATE_JOIN_STATUSES:
        if program.status == S.COMPLETED:
            return [_("This program is completed: it takes no new people.")]
        return [_("Open enrollment before inviting people.")]
    if not program.takes_late_joiners:
        return [_("The program ends on %(day)s: it is too late to join.") % {"day": date_format(program.ends_on)}]
    return []


def late_apply_by_first(*, on: datetime.date | None = None) -> datetime.date:
    """The earliest last day a late invitation can have: tomorrow. Today is already over in
    time zones ahead of the server's (up to 14 hours), so an invitation sent late in the day
    could arrive expired."""
    return (on or today()) + datetime.timedelta(days=1)


def late_apply_by_default(program: Program, *, on: datetime.date | None = None) -> datetime.date:
    on = on or today()
    return max(late_apply_by_first(on=on), min(on + datetime.timedelta(days=LATE_APPLY_DAYS), program.ends_on - datetime.timedelta(days=1)))


def late_window_open(*, program: Program, enrollment: Enrollment | None, on: datetime.date | None = None) -> bool:
    """Whether a late invitation lets this person apply (or edit their application) today."""
    if enrollment is None:
        return False
    if enrollment.program_id == program.pk:
        enrollment.program = program  # the caller's copy, fresh from its own (locked) query
    return enrollment.late_window_open(on)  # on None: the person's own today


def eligibility_problems(
    *, program: Program, employee: Employee, role: str, on: datetime.date | None = None, check_window: bool = True, enrollment: Enrollment | None = None
) -> list[str]:
    """Why this person cannot apply for this role now, in words they can act on.

    `enrollment` is their place in the program if they have one: a late invitation opens its
    own window after enrollment has closed."""
    late_open = check_window and late_window_open(program=program, enrollment=enrollment, on=on)
    on = on or today()
    problems = []
    if program.is_archived:
        return [_("This program is archived.")]
    if employee.erased_at is not None:
        problems.append(_("%(name)s was erased from Upward.") % {"name": employee.full_name})
    elif not employee.is_current:
        problems.append(_("%(name)s has left the company.") % {"name": employee.full_name})
    if check_window and not late_open:
        if enrollment is not None and enrollment.apply_by is not None and enrollment.status in LATE_WINDOW_STATUSES and program.status in LATE_JOIN_STATUSES:
            day = date_format(enrollment.late_last_day)
            if enrollment.status == Enrollment.Status.APPLIED:
                problems.append(_("Your application is waiting for HR's review; the last day to change it was %(day)s.") % {"day": day})
            else:
                problems.append(_("Your invitation to join was open until %(day)s. Ask HR if you would still like to join.") % {"day": day})
        elif program.status != S.ENROLLMENT_OPEN:
            problems.append(_("Enrollment for this program is not open (the program is %(status)s).") % {"status": program.get_status_display().lower()})
        elif on < program.enrollment_opens_on:
            problems.append(_("Enrollment opens on %(day)s.") % {"day": date_format(program.enrollment_opens_on)})
        elif on > program.enrollment_closes_on:
            problems.append(_("Enrollment closed on %(day)s.") % {"day": date_format(program.enrollment_closes_on)})
    department_ids = {d.pk for d in program.departments.all()}
    if department_ids and employee.department_id not in department_ids:
        names = ", ".join(sorted(d.name for d in program.departments.all()))
        problems.append(_("This program is for %(departments)s only.") % {"departments": names})
    if role == Role.MENTOR and employee.level > program.mentor_max_level:
        problems.append(_("Mentors in this program are at level %(max)s or below; %(name)s is at level %(level)s.") % {"max": program.mentor_max_level, "name": employee.first_name, "level": employee.level})
    if role == Role.MENTEE and employee.level < program.mentee_min_level:
        problems.append(_("Mentees in this program are at level %(min)s or above; %(name)s is at level %(level)s.") % {"min": program.mentee_min_level, "name": employee.first_name, "level": employee.level})
    return problems


def eligible_roles(*, program: Program, employee: Employee, on: datetime.date | None = None) -> list[str]:
    return [role for role in Role.values if not eligibility_problems(program=program, employee=employee, role=role, on=on)]


# --- Mail ------------------------------------------------------------------------------------


def _send(*, to: Employee, template: str, context: dict) -> None:
    send_templated(to=to, template=f"programs/email/{template}", context=context)


def _absolute(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


# --- Invitations ---------------------------------------------------------------------------------


@dataclass
class InviteResult:
    invited: list[Employee] = field(default_factory=list)
    skipped: list[tuple[Employee, str]] = field(default_factory=list)
    unknown_emails: list[str] = field(default_factory=list)
    # Late invitations only: people whose unanswered invitation was sent again with the new date.
    renewed: list[Employee] = field(default_factory=list)
    apply_by: datetime.date | None = None


def late_apply_by_problems(program: Program, apply_by: datetime.date | None, *, on: datetime.date | None = None) -> list[str]:
    on = on or today()
    if apply_by is None:
        return [_("Choose the last day to apply.")]
    if apply_by < on:
        return [_("The last day to apply cannot be in the past.")]
    if apply_by < late_apply_by_first(on=on):
        return [_("The last day to apply must be tomorrow or later: today is already over where some invitees are.")]
    if apply_by >= program.ends_on:
        return [_("The last day to apply must be before the program ends on %(day)s.") % {"day": date_format(program.ends_on)}]
    return []


@dataclass
class InvitePlan:
    # (person, their unanswered invitation to send again with a new date, or None)
    invitable: list[tuple[Employee, Enrollment | None]] = field(default_factory=list)
    skipped: list[tuple[Employee, str]] = field(default_factory=list)


def _already_in(enrollment: Enrollment) -> str:
    """Why someone already in the program is not invited again, by where they stand."""
    ES = Enrollment.Status
    return {
        ES.INVITED: _("already invited"),
        ES.APPLIED: _("already applied"),
        ES.APPROVED: _("already in this program"),
        ES.WAITLISTED: _("on the waiting list"),
        ES.DECLINED: _("declined earlier (HR can reopen the application in the review queue)"),
        ES.WITHDRAWN: _("left this program or declined the invitation"),
    }.get(enrollment.status, _("already in this program"))


def invite_plan(*, program: Program, employees, role: str, apply_by: datetime.date | None = None, lock: bool = False) -> InvitePlan:
    """Who an invitation would reach, and why the others are skipped: what the preview shows
    and what enrollment_invite() does. A late invitation (enrollment closed) goes again to
    someone who has not answered an earlier one, with its new date; not when it already has
    that date (a double submit or a reload of the result page sends nothing twice)."""
    late = program.status != S.ENROLLMENT_OPEN
    plan = InvitePlan()
    employees = list({e.pk: e for e in employees}.values())
    existing_qs = Enrollment.objects.filter(program=program, employee__in=employees)
    already = {e.employee_id: e for e in (existing_qs.select_for_update() if lock else existing_qs)}
    for employee in employees:
        existing = already.get(employee.pk)
        if existing is not None and not (late and existing.status == Enrollment.Status.INVITED):
            plan.skipped.append((employee, _already_in(existing)))
            continue
        if existing is not None and apply_by is not None and existing.apply_by == apply_by:
            plan.skipped.append((employee, _("already invited, to apply by %(day)s") % {"day": date_format(apply_by)}))
            continue
        if existing is not None and existing.role != role:
            # Renewing would silently turn their earlier invitation into the other role.
            plan.skipped.append((employee, _("invited earlier as a %(role)s, not answered") % {"role": existing.get_role_display().lower()}))
            continue
        problems = eligibility_problems(program=program, employee=employee, role=role, check_window=False)
        if problems:
            plan.skipped.append((employee, problems[0]))
        else:
            plan.invitable.append((employee, existing))
    return plan


@transaction.atomic
def enrollment_invite(
    *, program: Program, employees, role: str, by, message: str = "", unknown_emails=(), apply_by: datetime.date | None = None
) -> InviteResult:
    """Invite people as mentor or mentee; each gets an email (through the outbox).

    While enrollment is open they apply within its window. Once it has closed (the program
    matching or running), an invitation is a late one: it needs `apply_by`, the last day to
    apply, and an unanswered invitation is sent again with that date."""
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    prefetch_related_objects([program], "departments")  # eligibility reads them per person
    _require_editable(program)
    late = program.status != S.ENROLLMENT_OPEN
    if late:
        problems = late_join_problems(program) or late_apply_by_problems(program, apply_by)
        if problems:
            raise ProgramError(problems[0])
    else:
        apply_by = None
    result = InviteResult(unknown_emails=list(unknown_emails), apply_by=apply_by)
    plan = invite_plan(program=program, employees=employees, role=role, apply_by=apply_by, lock=True)
    result.skipped = plan.skipped
    now = timezone.now()
    to_create, to_renew = [], []
    for employee, existing in plan.invitable:
        if existing is not None:
            existing.apply_by, existing.invited_by, existing.invited_at = apply_by, by, now
            to_renew.append(existing)
            result.renewed.append(employee)
        else:
            to_create.append(
                Enrollment(program=program, employee=employee, role=role, status=Enrollment.Status.INVITED, invited_by=by, invited_at=now, apply_by=apply_by, time_zone=employee.time_zone)
            )
        result.invited.append(employee)
    Enrollment.objects.bulk_create(to_create)
    Enrollment.objects.bulk_update(to_renew, ["apply_by", "invited_by", "invited_at"])
    if result.invited:
        # Ids and counts only: the personal message is free text and stays out of the log.
        invited_ids = list(Enrollment.objects.filter(program=program, employee__in=result.invited).order_by("pk").values_list("pk", flat=True))
        after = {"role": role, "enrollments": invited_ids, "skipped": len(result.skipped), "unknown_emails": len(result.unknown_emails)}
        if late:
            after.update(apply_by=apply_by.isoformat(), renewed=len(to_renew))
        audit_record(
            action=AuditEvent.Action.ENROLLMENTS_INVITED,
            target=program,
            actor=by,
            summary=_plural(len(result.invited), "person invited", "people invited") + f" as {role}" + (f" (late, apply by {apply_by.isoformat()})" if late else ""),
            after=after,
        )
    apply_url = _absolute("program_apply", program.slug)
    renewed = {e.pk for e in result.renewed}
    for employee in result.invited:
        _send(
            to=employee, template="invitation",
            context={"program": program, "role": Role(role).label.lower(), "message": message, "apply_url": apply_url, "apply_by": apply_by, "renewed": employee.pk in renewed},
        )
    return result


# --- Applying ---------------------------------------------------------------------------------


@dataclass
class Application:
    """What a person answers on the enrollment form."""

    role: str
    topic_levels: dict[int, int]  # topic id -> 1..5 (mentor: confidence; mentee: current level)
    interests: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    availability: list[str] = field(default_factory=list)
    time_zone: str = "UTC"
    motivation: str = ""
    not_with: list[Employee] = field(default_factory=list)
    # Two-way programs: what a mentee can also teach, or a mentor also wants to learn.
    extra_topic_levels: dict[int, int] = field(default_factory=dict)


OPEN_STATUSES = (Enrollment.Status.APPLIED, Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED)


@transaction.atomic
def enrollment_apply(*, program: Program, employee: Employee, application: Application) -> Enrollment:
    """Create or update this person's application. A double submit yields one enrollment."""
    program = Program.objects.get(pk=program.pk)
    existing = Enrollment.objects.select_for_update().filter(program=program, employee=employee).first()
    if existing is not None:  # what HR decided comes first: "enrollment closed" would mislead
        if existing.status == Enrollment.Status.DECLINED:
            raise ProgramError(_("Your application was declined. HR can reopen it if circumstances have changed."))
        if existing.status in (Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED):
            raise ProgramError(_("HR has already reviewed your application; it can no longer be changed here."))
    problems = eligibility_problems(program=program, employee=employee, role=application.role, enrollment=existing)
    if problems:
        raise ProgramError(" ".join(problems))
    topic_ids = set(program.topics.values_list("id", flat=True))
    levels = {int(k): int(v) for k, v in application.topic_levels.items() if v}
    if not levels:
        raise ProgramError(_("Rate at least one topic.") if application.role == Role.MENTEE else _("Choose at least one topic you can teach."))
    if set(levels) - topic_ids or set(application.extra_topic_levels) - topic_ids:
        raise ProgramError(_("Only this program's topics can be chosen."))
    if any(not 1 <= v <= 5 for v in [*levels.values(), *application.extra_topic_levels.values()]):
        raise ProgramError(_("Ratings go from 1 to 5."))
    if any(other.pk == employee.pk for other in application.not_with):
        raise ProgramError(_("You cannot list yourself under 'please not with'."))

    if existing is None and not program.self_enrollment:
        raise ProgramError(_("This program is by invitation only."))
    if existing is not None:
        if existing.status == Enrollment.Status.INVITED and existing.role != application.role:
            raise ProgramError(_("You were invited as a %(role)s.") % {"role": existing.get_role_display().lower()})
        enrollment = existing
    else:
        enrollment = Enrollment(program=program, employee=employee)

    enrollment.role = application.role
    enrollment.status = Enrollment.Status.APPLIED
    enrollment.interests = _clean_words(application.interests)
    enrollment.languages = _clean_words(application.languages)
    enrollment.availability = sorted(set(application.availability))
    enrollment.time_zone = application.time_zone or employee.time_zone
    enrollment.motivation = application.motivation
    enrollment.applied_at = timezone.now()
    enrollment.withdrawn_at = None
    enrollment.withdrawal_reason = ""
    if enrollment.pk is None:
        try:
            with transaction.atomic():  # a savepoint: the losing double submit lands here
                enrollment.save()
        except IntegrityError as exc:
            raise ProgramError(_("You have already applied to this program.")) from exc
    else:
        enrollment.save()

    enrollment.topic_ratings.all().delete()
    own_kind = EnrollmentTopic.Kind.TEACH if application.role == Role.MENTOR else EnrollmentTopic.Kind.LEARN
    other_kind = EnrollmentTopic.Kind.LEARN if own_kind == EnrollmentTopic.Kind.TEACH else EnrollmentTopic.Kind.TEACH
    ratings = [EnrollmentTopic(enrollment=enrollment, topic_id=t, kind=own_kind, level=v) for t, v in levels.items()]
    if program.mode == Program.Mode.TWO_WAY:
        ratings += [EnrollmentTopic(enrollment=enrollment, topic_id=t, kind=other_kind, level=v) for t, v in application.extra_topic_levels.items() if v]
    EnrollmentTopic.objects.bulk_create(ratings)
    enrollment.not_with.set(application.not_with)
    return enrollment


def _clean_words(words) -> list[str]:
    seen, out = set(), []
    for word in words:
        word = " ".join(str(word).split())[:60]
        if word and word.lower() not in seen:
            seen.add(word.lower())
            out.append(word)
    return out[:20]


@transaction.atomic
def enrollment_withdraw(*, enrollment: Enrollment, by_employee: Employee, reason: str) -> Enrollment:
    """A participant leaves a program at any time; the pairing app ends their pair."""
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if enrollment.employee_id != by_employee.pk:
        raise ProgramError(_("Only the person enrolled can withdraw."))
    _require_editable(enrollment.program)
    if enrollment.program.status == S.COMPLETED:
        raise ProgramError(_("This program is complete: there is nothing to leave, and your part in it stays on record."))
    if enrollment.status in (Enrollment.Status.WITHDRAWN, Enrollment.Status.DECLINED):
        raise ProgramError(_("You are no longer in this program."))
    # Declining an invitation needs no reason; leaving once in does (HR re-matches the partner).
    if not reason.strip() and enrollment.status != Enrollment.Status.INVITED:
        raise ProgramError(_("Tell us briefly why you are leaving; it helps HR re-match your partner."))
    declined_invitation = enrollment.status == Enrollment.Status.INVITED
    enrollment.status = Enrollment.Status.WITHDRAWN
    enrollment.withdrawn_at = timezone.now()
    enrollment.withdrawal_reason = reason.strip()[:2000]
    enrollment.save(update_fields=["status", "withdrawn_at", "withdrawal_reason"])
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs
    from pairing.services import pairs_end_for_withdrawal  # noqa: PLC0415

    # Read before they go: ending the pairs deletes the proposed ones, whose partners the match
    # run under review now leaves without a partner.
    proposed = list(
        Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status=Pair.Status.PROPOSED)
        .select_related("match_run", "mentor__employee", "mentee__employee")
        .order_by("pk")
    )
    ended = pairs_end_for_withdrawal(enrollment=enrollment)
    # Someone who only declined an invitation was never in: the review queue shows it.
    if not declined_invitation:
        hr_notify_withdrawal(enrollment=enrollment, ended=ended, proposed=proposed)
    return enrollment


def hr_notify_withdrawal(*, enrollment: Enrollment, ended, proposed=()) -> int:
    """Tell HR that someone left a program: who, their reason, and which partner now waits for
    a re-match (with the pairing page's link); with ``proposed``, the pairs a match run under
    review had proposed for them (dropped with the withdrawal), whose partners that proposal
    now leaves without a partner. Written to the outbox in the caller's transaction, as all
    mail is. Returns how many HR admins were written to.

    The HR admin who created the program runs it and is told; if they no longer can act
    (no longer HR, login closed, left), every HR admin is, so that nobody's partner is
    forgotten. The people of the ended or dropped pairs are never among them, even as HR
    admins: the reason was written for HR, not for the partner."""
    from pairing.engine import join_words as engine_join_words  # noqa: PLC0415 - pairing depends on programs
    from pairing.selectors import waiting_for_partner  # noqa: PLC0415

    program = enrollment.program
    partners = [(pair, pair.mentee if pair.mentor_id == enrollment.pk else pair.mentor) for pair in ended]
    waiting = set(waiting_for_partner(program=program).filter(pk__in=[p.pk for _pair, p in partners]).values_list("pk", flat=True))
    unpaired = [(pair, pair.mentee if pair.mentor_id == enrollment.pk else pair.mentor) for pair in proposed]
    excluding = {enrollment.employee_id, *(p.employee_id for _pair, p in partners), *(p.employee_id for _pair, p in unpaired)}
    owner = hr_addressees(users=User.objects.filter(pk=program.created_by_id), excluding=excluding) if program.created_by_id else []
    addressees = owner or hr_addressees(excluding=excluding)
    needing = [*(p.employee.full_name for _pair, p in partners if p.pk in waiting), *(p.employee.full_name for _pair, p in unpaired)]
    context = {
        "program": program,
        "withdrawn": enrollment,
        "name": enrollment.employee.full_name,
        "role": enrollment.get_role_display().lower(),
        "partners": [
            {"name": p.employee.full_name, "role": p.get_role_display().lower(), "waiting": p.pk in waiting, "pair_url": _absolute("hr_pair", program.slug, pair.pk)}
            for pair, p in partners
        ],
        "proposed": [
            {
                "name": p.employee.full_name, "role": p.get_role_display().lower(), "run": pair.match_run_id,
                "run_url": _absolute("match_run_review", program.slug, pair.match_run_id) if pair.match_run_id else "",
            }
            for pair, p in unpaired
        ],
        "waiting_names": engine_join_words(needing) if needing else "",
        "waiting_count": len(needing),
        "pairing_url": _absolute("pairing_home", program.slug) + ("#waiting-heading" if waiting and program.status == S.ACTIVE else ""),
        "review_url": _absolute("program_review", program.pk),
        "as_owner": bool(owner),
    }
    for person in addressees:
        send_templated(to=person, template="programs/email/hr_withdrawal", context=context)
    return len(addressees)


# --- Keeping availability current ---------------------------------------------------------------

# A weekly slot as the pairing engine and the scheduler read it: a weekday and the hour its
# two-hour block starts, in the person's own time zone ("tue-10").
SLOT_PATTERN = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-([01][0-9]|2[0-3])$")


def availability_update_problem(enrollment: Enrollment) -> str:
    """Why this person cannot update their availability now ("" when they can)."""
    if enrollment.availability_editable:
        return ""
    program = enrollment.program
    if program.is_archived:
        return _("This program is archived and read-only.")
    if program.status == S.COMPLETED:
        return _("This program is complete: there are no more meetings to plan.")
    if enrollment.status in (Enrollment.Status.WITHDRAWN, Enrollment.Status.DECLINED):
        return _("You are no longer in this program.")
    if enrollment.status in (Enrollment.Status.INVITED, Enrollment.Status.APPLIED):
        return _("Your application has not been approved yet: change your availability on the application itself while you can.")
    if enrollment.status == Enrollment.Status.WAITLISTED:
        return _("You are on the waiting list; your answers can no longer be changed here.")
    return _("This program is not running at the moment (it is back in draft).")


@transaction.atomic
def enrollment_availability_update(*, enrollment: Enrollment, by_employee: Employee, languages: list[str], availability: list[str], time_zone: str) -> Enrollment:
    """An approved participant updates when they can meet, in which zone and languages. What
    the application said about topics, role and baseline stays as HR approved it. The
    scheduler's suggestions (read per request) and the next pairing round use the new answers."""
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if enrollment.employee_id != by_employee.pk:
        raise ProgramError(_("Only the person enrolled can change their availability."))
    if problem := availability_update_problem(enrollment):
        raise ProgramError(problem)
    languages = _clean_words(languages)
    if not languages:
        raise ProgramError(_("Give at least one language you can hold a meeting in."))
    slots = sorted(set(availability))
    if any(not isinstance(slot, str) or not SLOT_PATTERN.match(slot) for slot in slots):
        raise ProgramError(_("Choose your availability from the weekly grid."))
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise ProgramError(exc.messages[0]) from exc
    enrollment.languages = languages
    enrollment.availability = slots
    enrollment.time_zone = time_zone
    enrollment.save(update_fields=["languages", "availability", "time_zone"])
    return enrollment


# --- Review -----------------------------------------------------------------------------------

DECISIONS = {
    Enrollment.Status.APPROVED: (Enrollment.Status.APPLIED, Enrollment.Status.WAITLISTED),
    Enrollment.Status.WAITLISTED: (Enrollment.Status.APPLIED, Enrollment.Status.APPROVED),
    Enrollment.Status.DECLINED: (Enrollment.Status.APPLIED, Enrollment.Status.WAITLISTED, Enrollment.Status.APPROVED),
}


@dataclass
class ReviewResult:
    changed: int = 0
    skipped: int = 0  # every selected application left as it was, for whatever reason below
    decided_meanwhile: int = 0  # decided by someone else after the reviewer loaded the queue
    # Why the others were left as they were: their status (invited, withdrawn, declined, or
    # already what was decided) -> how many; the people who have left the company; and ids
    # that are not in this program.
    kept_by_status: dict[str, int] = field(default_factory=dict)
    leavers: list[Employee] = field(default_factory=list)
    not_found: int = 0
    # Approved people in a live pair, or in the proposal under review, cannot be waitlisted
    # or declined here: their pair would run on (or be published) with them out.
    paired: int = 0


def review_closed_problem(program: Program) -> str:
    """Why HR can no longer decide or reopen applications to this program ("" when they can).
    A completed program's people took part or did not: approving someone now would email them
    a welcome ("you will hear from us when you have been paired") to a program that is over."""
    if program.is_archived:
        return _("This program is archived and read-only.")
    if program.status == S.COMPLETED:
        return _("This program is completed: its applications are final and can no longer be approved, waitlisted, declined or reopened.")
    return ""


def _require_review_open(program: Program) -> None:
    if problem := review_closed_problem(program):
        raise ProgramError(problem)


# Leavers can be declined (that closes their application) but not approved or waitlisted.
LEAVER_REFUSED = (Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED)
MESSAGE_MAX = 2000


def _plural(count: int, singular: str, plural: str) -> str:
    """For audit summaries, which are stored in English like the others."""
    return f"{count} {singular if count == 1 else plural}"


@transaction.atomic
def enrollments_decide(*, program: Program, enrollment_ids, decision: str, by, message: str = "", seen_at: datetime.datetime | None = None) -> ReviewResult:
    """Bulk approve / waitlist / decline; each person is told by email.

    `seen_at` is when the reviewer loaded the queue: an application decided after that (by
    another HR admin, a moment earlier) is left as it is and counted in decided_meanwhile,
    so two admins deciding differently at once do not send the person two contradictory emails.
    People who have left the company are not approved or waitlisted, and never emailed.
    """
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    _require_review_open(program)
    if decision not in DECISIONS:
        raise ProgramError(_("Unknown decision."))
    message = message.strip()
    if len(message) > MESSAGE_MAX:
        raise ProgramError(
            _("The message is %(length)s characters long; keep it to %(max)s or fewer.") % {"length": f"{len(message):,}", "max": f"{MESSAGE_MAX:,}"}
        )
    candidates = list(Enrollment.objects.select_for_update().filter(program=program, pk__in=list(enrollment_ids)).select_related("employee"))
    result = ReviewResult()
    in_a_pair = set()
    if decision != Enrollment.Status.APPROVED:
        from pairing.models import MatchRun, Pair  # noqa: PLC0415 - pairing depends on programs
        from pairing.selectors import LIVE  # noqa: PLC0415

        pairs = Pair.objects.filter(Q(status__in=LIVE) | Q(status=Pair.Status.PROPOSED, match_run__status=MatchRun.Status.PROPOSED), program=program)
        for mentor_id, mentee_id in pairs.values_list("mentor_id", "mentee_id"):
            in_a_pair.update((mentor_id, mentee_id))
    now = timezone.now()
    changed, before = [], {}
    for enrollment in candidates:
        if seen_at is not None and enrollment.decided_at is not None and enrollment.decided_at > seen_at:
            result.decided_meanwhile += 1
            continue
        if enrollment.status not in DECISIONS[decision]:
            result.kept_by_status[enrollment.status] = result.kept_by_status.get(enrollment.status, 0) + 1
            continue
        if enrollment.pk in in_a_pair:
            result.paired += 1
            continue
        if decision in LEAVER_REFUSED and not enrollment.employee.is_current:
            result.leavers.append(enrollment.employee)
            continue
        before[str(enrollment.pk)] = enrollment.status
        enrollment.status = decision
        enrollment.decided_by = by
        enrollment.decided_at = now
        enrollment.decision_message = message
        changed.append(enrollment)
    Enrollment.objects.bulk_update(changed, ["status", "decided_by", "decided_at", "decision_message"])
    result.changed = len(changed)
    result.not_found = len(set(map(int, enrollment_ids))) - len(candidates)
    result.skipped = sum(result.kept_by_status.values()) + len(result.leavers) + result.not_found + result.paired
    if changed:
        # Statuses only: the message to the people is free text and stays out of the log.
        audit_record(
            action=AuditEvent.Action.ENROLLMENTS_DECIDED,
            target=program,
            actor=by,
            summary=_plural(len(changed), "application", "applications") + f" {decision}",
            before={"enrollments": before},
            after={"enrollments": {str(e.pk): decision for e in changed}},
        )
    for enrollment in changed:
        if not enrollment.employee.is_current:
            continue  # a leaver's decline closes the application; their mailbox is gone
        _send(
            to=enrollment.employee,
            template=f"decision_{decision}",
            context={"program": program, "enrollment": enrollment, "message": enrollment.decision_message, "home_url": _absolute("participant_home")},
        )
    return result


@transaction.atomic
def enrollment_reopen(*, enrollment: Enrollment, by) -> Enrollment:
    _require_hr(by)
    # The program's row is locked first, as completing it does: a reopen cannot slip in
    # while the program is being completed.
    program = Program.objects.select_for_update().get(pk=enrollment.program_id)
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    enrollment.program = program
    _require_review_open(program)
    if enrollment.status != Enrollment.Status.DECLINED:
        raise ProgramError(_("Only a declined application can be reopened."))
    enrollment.status = Enrollment.Status.APPLIED
    enrollment.decided_by = by
    enrollment.decided_at = timezone.now()
    enrollment.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action=AuditEvent.Action.ENROLLMENTS_DECIDED,
        target=enrollment.program,
        actor=by,
        summary="1 application reopened",
        before={"enrollments": {str(enrollment.pk): Enrollment.Status.DECLINED}},
        after={"enrollments": {str(enrollment.pk): Enrollment.Status.APPLIED}},
    )
    return enrollment


# Open places a leaver no longer takes: not yet decided, or approved but never paired.
LEAVER_WITHDRAWN = (Enrollment.Status.INVITED, Enrollment.Status.APPLIED, Enrollment.Status.WAITLISTED, Enrollment.Status.APPROVED)


@transaction.atomic
def enrollments_withdraw_for_leavers(*, employee_ids, reason: str = "") -> int:
    """The roster recorded these people as having left: their open enrollments are withdrawn.

    Called after their pairs were ended (pairing.services.pairs_end_for_leavers), which also
    removed their proposed pairs: an approved enrollment with a pair left took part and keeps
    its status (the pair records the end); one never paired is withdrawn. Archived programs are
    read-only and kept as they are. Returns how many enrollments were withdrawn.
    """
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs

    paired = Pair.objects.filter(Q(mentor_id=OuterRef("pk")) | Q(mentee_id=OuterRef("pk")))
    enrollments = list(
        Enrollment.objects.select_for_update()
        .filter(employee_id__in=list(employee_ids), status__in=LEAVER_WITHDRAWN)
        .exclude(program__status=S.ARCHIVED)
        .exclude(Q(status=Enrollment.Status.APPROVED) & Exists(paired))
        .order_by("program_id", "pk")
    )
    now = timezone.now()
    by_program: dict[int, dict[str, str]] = {}
    for enrollment in enrollments:
        by_program.setdefault(enrollment.program_id, {})[str(enrollment.pk)] = enrollment.status
        enrollment.status = Enrollment.Status.WITHDRAWN
        enrollment.withdrawn_at = now
        enrollment.withdrawal_reason = reason or _("Left the company (recorded by a roster import).")
    Enrollment.objects.bulk_update(enrollments, ["status", "withdrawn_at", "withdrawal_reason"])
    for program_id, before in by_program.items():
        audit_record(
            action=AuditEvent.Action.ENROLLMENTS_WITHDRAWN,
            object_type="programs.program",
            object_id=program_id,
            summary=_plural(len(before), "enrollment", "enrollments") + " withdrawn: left the company",
            before={"enrollments": before},
            after={"enrollments": dict.fromkeys(before, Enrollment.Status.WITHDRAWN), "reason": "left_company"},
        )
    return len(enrollments)


# --- Resources checklist ----------------------------------------------------------------------


@transaction.atomic
def resource_mark(*, resource: Resource, enrollment: Enrollment, done: bool) -> None:
    _require_editable(resource.program)
    if resource.program_id != enrollment.program_id or not resource.is_for(enrollment.role):
        raise ProgramError(_("This resource is not part of your program."))
    if done:
        ResourceCompletion.objects.get_or_create(resource=resource, enrollment=enrollment)
    else:
        ResourceCompletion.objects.filter(resource=resource, enrollment=enrollment).delete()


# --- Topics -------------------------------------------------------------------------------------


@transaction.atomic
def topic_save(*, by, topic: Topic | None = None, name: str, description: str = "", active: bool = True) -> Topic:
    _require_hr(by)
    name = " ".join(name.split())
    if not name:
        raise ProgramError(_("A topic needs a name."))
    clash = Topic.objects.filter(name__iexact=name)
    if topic is not None:
        clash = clash.exclude(pk=topic.pk)
    if existing := clash.first():
        raise ProgramError(_("There is already a topic called %(name)s.") % {"name": existing.name})
    topic = topic or Topic()
    topic.name, topic.description, topic.active = name, description, active
    topic.save()
    return topic
