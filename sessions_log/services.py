"""Writes for pairs at work. Every function is atomic, keyword-only, raises SessionError.

`me` is always the Employee acting; services check that they belong to the pair and which
side they are on, so a view cannot forget it.
"""

import datetime
import hashlib
import json
import zoneinfo
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from mentoring.mail import send_templated
from mentoring.models import Employee
from mentoring.services import hr_addressees
from pairing.models import Pair
from pairing.services import WEEKDAYS, MatchError, joined_blocks, pair_end, utc_block
from programs.models import Enrollment, EnrollmentTopic, Program, Topic

from . import ics
from .models import (
    ActionItem,
    Agreement,
    AgreementGoal,
    CalendarFeed,
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

LOG_EDIT_WINDOW = datetime.timedelta(days=7)
LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
# Local hours outside which a meeting is flagged (not refused): early morning or late night.
WAKING_HOURS = (datetime.time(7), datetime.time(22))


class SessionError(Exception):
    """A refused action on a pair, with a message a person can read."""


def side_of(pair: Pair, me: Employee) -> str:
    """'mentor' or 'mentee'; anyone else is refused (views have already 404'd them)."""
    if pair.mentor.employee_id == me.pk:
        return "mentor"
    if pair.mentee.employee_id == me.pk:
        return "mentee"
    raise SessionError(_("You are not part of this pair."))


def partner_of(pair: Pair, me: Employee) -> Employee:
    return pair.mentee.employee if side_of(pair, me) == "mentor" else pair.mentor.employee


def _not_archived(pair: Pair) -> None:
    if pair.program.status == Program.Status.ARCHIVED:
        raise SessionError(_("This program is archived and read-only."))


def _live_pair(pair: Pair, me: Employee) -> str:
    side = side_of(pair, me)
    if pair.status not in LIVE:
        raise SessionError(_("This pair has ended; its record can be read but not changed."))
    if pair.program.status == Program.Status.ARCHIVED:
        raise SessionError(_("This program is archived and read-only."))
    return side


def when_text(moment: datetime.datetime) -> str:
    """A meeting time as people read it elsewhere in Upward, in the reader's (active) zone."""
    return date_format(timezone.localtime(moment), "l j F, H:i")


def day_text(day: datetime.date) -> str:
    return date_format(day, "l j F Y")


def _lock(pair: Pair) -> Pair:
    return Pair.objects.select_for_update(of=("self",)).select_related("program", "mentor__employee", "mentee__employee").get(pk=pair.pk)


# --- Agreement ---------------------------------------------------------------------------------


def agreement_for(pair: Pair) -> Agreement:
    """The pair's agreement, prefilled from the program's template the first time."""
    agreement, created = Agreement.objects.get_or_create(
        pair=pair,
        defaults={
            "meeting_frequency": _("Every %(days)s days, %(minutes)s minutes") % {"days": pair.program.cadence_days, "minutes": pair.program.meeting_minutes},
            "boundaries": pair.program.agreement_template,
            "confidentiality": _("What we share stays between us unless we both agree otherwise. Private notes are visible only to their author."),
        },
    )
    return agreement


@dataclass
class GoalInput:
    title: str
    progress: int = 0
    note: str = ""


class AgreementChanged(SessionError):
    """The agreement changed since the form was opened: saving would silently undo it."""


def agreement_revision(agreement: Agreement) -> str:
    """A short fingerprint of everything the edit form writes (terms, goals, their progress
    and notes): the form carries it, and a save from a form opened on another revision is
    refused instead of overwriting the partner's changes."""
    goals = [(g.title, g.progress, g.note) for g in agreement.goals.order_by("order", "pk")]
    state = json.dumps([agreement.meeting_frequency, agreement.boundaries, agreement.confidentiality, goals], ensure_ascii=False)
    return hashlib.sha256(state.encode()).hexdigest()[:16]


@transaction.atomic
def agreement_save(
    *, pair: Pair, me: Employee, meeting_frequency: str, boundaries: str, confidentiality: str, goals: list[GoalInput], revision: str | None = None
) -> Agreement:
    """Edit the agreement. A change to its terms asks both sides to acknowledge again. With
    ``revision`` (the form's), refused when the agreement changed since (AgreementChanged)."""
    pair = _lock(pair)
    side = _live_pair(pair, me)
    if not [g for g in goals if g.title.strip()]:
        raise SessionError(_("Write at least one goal."))
    if any(not 0 <= g.progress <= 100 for g in goals):
        raise SessionError(_("Progress goes from 0 to 100%."))
    agreement = agreement_for(pair)
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if revision and revision != agreement_revision(agreement):
        raise AgreementChanged(
            _("Your partner changed the agreement while you were editing it: what is saved now is shown above. Your text is still in the form: check it, then save again to replace theirs.")
        )
    old_terms = (agreement.meeting_frequency, agreement.boundaries, agreement.confidentiality, [g.title for g in agreement.goals.all()])
    agreement.meeting_frequency = meeting_frequency.strip()[:200]
    agreement.boundaries = boundaries.strip()
    agreement.confidentiality = confidentiality.strip()
    new_titles = [g.title.strip()[:200] for g in goals if g.title.strip()]
    if (agreement.meeting_frequency, agreement.boundaries, agreement.confidentiality, new_titles) != old_terms:
        agreement.version += 1
    # The editor agrees to what they wrote; the partner is asked again.
    setattr(agreement, f"{side}_acknowledged_version", agreement.version)
    agreement.updated_by = me
    agreement.updated_at = timezone.now()
    agreement.save()
    agreement.goals.all().delete()
    AgreementGoal.objects.bulk_create(
        [AgreementGoal(agreement=agreement, title=g.title.strip()[:200], progress=g.progress, note=g.note.strip()[:500], order=i) for i, g in enumerate(goals) if g.title.strip()]
    )
    return agreement


@transaction.atomic
def agreement_acknowledge(*, pair: Pair, me: Employee, version: int) -> Agreement:
    pair = _lock(pair)
    side = _live_pair(pair, me)
    # agreement_for: acknowledging before anyone opened the agreement page must not be a 500.
    agreement = Agreement.objects.select_for_update().get(pk=agreement_for(pair).pk)
    if version != agreement.version:
        raise SessionError(_("The agreement changed while you were reading it: read the new version and acknowledge again."))
    setattr(agreement, f"{side}_acknowledged_version", agreement.version)
    agreement.save(update_fields=[f"{side}_acknowledged_version"])
    return agreement


@transaction.atomic
def goal_update_progress(*, goal: AgreementGoal, me: Employee, progress: int, note: str = "") -> AgreementGoal:
    """Progress on a goal does not change the terms: no re-acknowledgement needed."""
    # The pair row is the lock agreement_save takes too: an edit of the agreement rewrites its
    # goals, so a goal read before that edit committed may no longer exist.
    pair = _lock(goal.agreement.pair)
    _live_pair(pair, me)
    if not 0 <= progress <= 100:
        raise SessionError(_("Progress goes from 0 to 100%."))
    goal = AgreementGoal.objects.filter(pk=goal.pk, agreement__pair=pair).first()
    if goal is None:
        raise SessionError(_("The agreement changed while you were updating this goal: read it again and update the goal there."))
    goal.progress = progress
    goal.note = note.strip()[:500]
    goal.save(update_fields=["progress", "note"])
    return goal


# --- Meetings and invites ------------------------------------------------------------------------


def _send_invite(
    meeting: Meeting, *, template: str, cancelled: bool = False, reason: str = "", by: Employee | None = None, old_starts_at: datetime.datetime | None = None, only_current: bool = False
) -> None:
    """One email per side, each in the recipient's own time zone, with the ICS attached.
    `reason` is what the person who moved or cancelled it typed for their partner."""
    pair = meeting.pair
    method = "CANCEL" if cancelled else "REQUEST"
    attachment = ("invite.ics", ics.invite(meeting, cancelled=cancelled), f"text/calendar; method={method}; charset=utf-8")
    for me in (pair.mentor.employee, pair.mentee.employee):
        if only_current and (me.left_date is not None or me.erased_at is not None):
            continue  # someone who left the company (or was erased) is not written to
        partner = partner_of(pair, me)
        if partner.erased_at is not None:
            # The partner's notice names nobody (pairs_end_for_withdrawal); neither does the
            # cancellation of their meetings, nor says "Erased person #N".
            partner = SimpleNamespace(full_name=_("your partner"), first_name=_("your partner"))
        context = {
            "partner": partner,
            "meeting": meeting,
            "local_start": meeting.starts_at.astimezone(zoneinfo.ZoneInfo(me.time_zone)),
            "old_local_start": old_starts_at.astimezone(zoneinfo.ZoneInfo(me.time_zone)) if old_starts_at else None,
            "tz": me.time_zone,
            "reason": reason,
            "changed_by_me": by is not None and by.pk == me.pk,
            "changed_by": by,
            "program": pair.program,
            "pair_url": f"{settings.SITE_URL}/pairs/{pair.pk}/",
        }
        send_templated(to=me, template=f"sessions_log/email/{template}", context=context, attachments=[attachment])


def _validate_time(pair: Pair, starts_at: datetime.datetime, duration: int) -> None:
    if timezone.is_naive(starts_at):
        raise SessionError(_("A meeting time needs a time zone."))
    if starts_at <= timezone.now():
        raise SessionError(_("Choose a time in the future."))
    program = pair.program
    if starts_at.date() < program.starts_on:
        raise SessionError(_("The program starts on %(day)s: meetings can be scheduled from then.") % {"day": day_text(program.starts_on)})
    if starts_at.date() > program.ends_on:
        raise SessionError(_("The program ends on %(day)s.") % {"day": day_text(program.ends_on)})
    if not 10 <= duration <= 240:
        raise SessionError(_("A meeting lasts between 10 and 240 minutes."))


def _refuse_overlap(pair: Pair, starts_at: datetime.datetime, duration: int, *, moving: Meeting | None = None) -> None:
    """A pair meets once at a time: both partners picking the same suggested slot at once get
    one meeting (callers hold the pair's lock, so the second sees the first's meeting)."""
    ends_at = starts_at + datetime.timedelta(minutes=duration)
    nearby = Meeting.objects.filter(pair=pair, status=Meeting.Status.SCHEDULED, starts_at__lt=ends_at, starts_at__gt=starts_at - datetime.timedelta(minutes=240))
    if moving is not None:
        nearby = nearby.exclude(pk=moving.pk)
    clash = next((m for m in nearby.order_by("starts_at") if m.ends_at > starts_at), None)
    if clash is not None:
        raise SessionError(
            _("You already have a meeting on %(when)s that overlaps this time: move that one instead.") % {"when": when_text(clash.starts_at)}
        )


@transaction.atomic
def meeting_schedule(*, pair: Pair, me: Employee, starts_at: datetime.datetime, duration_minutes: int, location: str = "", video_url: str = "", agenda: str = "", topics=()) -> Meeting:
    pair = _lock(pair)
    _live_pair(pair, me)
    _validate_time(pair, starts_at, duration_minutes)
    _refuse_overlap(pair, starts_at, duration_minutes)
    meeting = Meeting.objects.create(
        pair=pair, starts_at=starts_at, duration_minutes=duration_minutes, location=location.strip()[:200], video_url=video_url.strip(), agenda=agenda.strip(), scheduled_by=me
    )
    meeting.topics.set(topics)
    _send_invite(meeting, template="meeting_invite")
    return meeting


def _lock_meeting(meeting: Meeting) -> Meeting:
    return Meeting.objects.select_for_update(of=("self",)).select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee").get(pk=meeting.pk)


@transaction.atomic
def meeting_reschedule(
    *, meeting: Meeting, me: Employee, starts_at: datetime.datetime, reason: str = "", duration_minutes: int | None = None, seen_sequence: int | None = None
) -> Meeting:
    """Move a meeting. `seen_sequence` is the version the person saw when choosing the new
    time: if the partner moved it since, this move is refused rather than silently undoing theirs."""
    meeting = _lock_meeting(meeting)
    side = _live_pair(meeting.pair, me)
    if meeting.status == Meeting.Status.CANCELLED:
        raise SessionError(_("This meeting was cancelled; schedule a new one."))
    if seen_sequence is not None and seen_sequence != meeting.sequence:
        last = meeting.changes.order_by("-at", "-id").only("requested_by_id").first()
        if last is not None and last.requested_by_id == me.pk:  # another tab or window of theirs
            message = _("You already changed this meeting in another tab or window: it is now on %(when)s. Check it and move it again if you still need to.")
        else:
            message = _("Your partner changed this meeting while you were choosing a new time: it is now on %(when)s. Check it and move it again if you still need to.")
        raise SessionError(message % {"when": when_text(meeting.starts_at)})
    duration = duration_minutes or meeting.duration_minutes
    if starts_at == meeting.starts_at and duration == meeting.duration_minutes:
        # Not a reschedule: nothing to record (the senior side's changes are a metric) or send.
        raise SessionError(_("Nothing changed: the meeting is still on %(when)s. Choose another time to move it.") % {"when": when_text(meeting.starts_at)})
    _validate_time(meeting.pair, starts_at, duration)
    _refuse_overlap(meeting.pair, starts_at, duration, moving=meeting)
    old_starts_at = meeting.starts_at
    MeetingChange.objects.create(meeting=meeting, kind=MeetingChange.Kind.RESCHEDULED, requested_by=me, requested_by_role=side, reason=reason.strip()[:500], old_starts_at=meeting.starts_at, new_starts_at=starts_at)
    meeting.starts_at = starts_at
    meeting.duration_minutes = duration
    meeting.sequence += 1
    meeting.save(update_fields=["starts_at", "duration_minutes", "sequence"])
    _void_reminders(meeting)
    _send_invite(meeting, template="meeting_rescheduled", reason=reason.strip()[:500], by=me, old_starts_at=old_starts_at)
    return meeting


@transaction.atomic
def meeting_update_details(*, meeting: Meeting, me: Employee, location: str = "", video_url: str = "", agenda: str = "", topics=()) -> Meeting:
    """Change where a meeting happens, its link, agenda or topics (either side may). Both get
    the updated invite with a higher SEQUENCE (calendar apps ignore an update without one);
    the time's version stays, so reminders already sent are not sent again."""
    meeting = _lock_meeting(meeting)
    _live_pair(meeting.pair, me)
    if meeting.status == Meeting.Status.CANCELLED:
        raise SessionError(_("This meeting was cancelled; schedule a new one."))
    if meeting.starts_at <= timezone.now():
        raise SessionError(_("This meeting has already started: its details stay as they were."))
    new = {"location": location.strip()[:200], "video_url": video_url.strip(), "agenda": agenda.strip()}
    topic_ids = sorted(t.pk for t in topics)
    if not set(topic_ids) <= set(meeting.pair.program.topics.values_list("pk", flat=True)):
        raise SessionError(_("Only this program's topics can be chosen."))
    if all(getattr(meeting, k) == v for k, v in new.items()) and topic_ids == sorted(meeting.topics.values_list("pk", flat=True)):
        raise SessionError(_("Nothing changed."))
    for key, value in new.items():
        setattr(meeting, key, value)
    meeting.details_version += 1
    meeting.save(update_fields=[*new, "details_version"])
    meeting.topics.set(topics)
    _send_invite(meeting, template="meeting_updated", by=me)
    return meeting


@transaction.atomic
def meeting_cancel(*, meeting: Meeting, me: Employee, reason: str) -> Meeting:
    meeting = _lock_meeting(meeting)
    side = _live_pair(meeting.pair, me)
    if meeting.status == Meeting.Status.CANCELLED:
        raise SessionError(_("This meeting is already cancelled."))
    if meeting.starts_at <= timezone.now():
        raise SessionError(_("This meeting has already started; log it instead, or leave it unlogged."))
    if not reason.strip():
        raise SessionError(_("Say briefly why, so your partner knows."))
    MeetingChange.objects.create(meeting=meeting, kind=MeetingChange.Kind.CANCELLED, requested_by=me, requested_by_role=side, reason=reason.strip()[:500], old_starts_at=meeting.starts_at)
    meeting.status = Meeting.Status.CANCELLED
    meeting.sequence += 1
    meeting.save(update_fields=["status", "sequence"])
    _void_reminders(meeting)
    _send_invite(meeting, template="meeting_cancelled", cancelled=True, reason=reason.strip()[:500], by=me)
    return meeting


@transaction.atomic
def meetings_cancel_for_ended_pair(*, pair: Pair) -> list[Meeting]:
    """A pair has ended (closed, withdrawn, left, HR): its future meetings are cancelled, both
    people get the calendar cancellation and the meetings' reminders are void.

    Called by pairing.services.pair_end inside its transaction, so the cancellations go out
    through the outbox only if the pair really ended. No MeetingChange is recorded: nobody
    asked to cancel these meetings, and the senior side's cancellations are a metric."""
    meetings = list(
        Meeting.objects.select_for_update(of=("self",))
        .filter(pair=pair, status=Meeting.Status.SCHEDULED, starts_at__gt=timezone.now())
        .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
        .order_by("starts_at")
    )
    for meeting in meetings:
        meeting.status = Meeting.Status.CANCELLED
        meeting.sequence += 1
        meeting.save(update_fields=["status", "sequence"])
        _void_reminders(meeting)
        _send_invite(meeting, template="meeting_cancelled", cancelled=True, reason=_("The pair has ended."), only_current=True)
    return meetings


def _void_reminders(meeting: Meeting) -> None:
    from .reminders import reminders_cancel_for_meeting

    reminders_cancel_for_meeting(meeting=meeting)


def suggested_times(*, pair: Pair, after: datetime.datetime | None = None, count: int = 5) -> list[datetime.datetime]:
    """Hours both partners said they are free (each in their own zone), soonest first, in UTC.

    A slot is a two-hour block in its owner's zone; a suggestion starts on a whole hour of
    either partner's clock and fits an hour inside the free time of each, so London 10:00-12:00
    and Berlin 12:00-14:00 meet at 11:00 UTC, and a partner in Kolkata (UTC+5:30) is offered
    Kolkata's whole hours that fit inside a London block."""
    after = max(after or timezone.now(), datetime.datetime.combine(pair.program.starts_on, datetime.time(0), tzinfo=datetime.UTC))
    hour = datetime.timedelta(hours=1)

    def blocks(enrollment: Enrollment) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The person's blocks (UTC start, end) over the next two weeks (and the day before,
        for a block that began earlier in their zone)."""
        tz = zoneinfo.ZoneInfo(enrollment.time_zone or enrollment.employee.time_zone)
        out = []
        local_today = after.astimezone(tz).date()
        for offset in range(-1, 15):
            day = local_today + datetime.timedelta(days=offset)
            for slot in enrollment.availability:
                name, _, start = slot.partition("-")
                if name == WEEKDAYS[day.weekday()] and start.isdigit() and int(start) < 24:
                    out.append(utc_block(day, int(start), tz))
        return out

    def fits(moment: datetime.datetime, free: list[tuple[datetime.datetime, datetime.datetime]]) -> bool:
        return any(lo <= moment and moment + hour <= hi for lo, hi in free)

    mine, theirs = blocks(pair.mentor), blocks(pair.mentee)
    # Adjacent blocks join (an hour may straddle two), as for the pairing engine's count.
    free_mine, free_theirs = joined_blocks(sorted(set(mine))), joined_blocks(sorted(set(theirs)))
    # A meeting starts on a whole hour of either partner's clock.
    candidates = {t for lo, hi in (*mine, *theirs) for t in (lo, lo + hour)}
    last_day = pair.program.ends_on
    common = sorted(t for t in candidates if t > after and t.date() <= last_day and fits(t, free_mine) and fits(t, free_theirs))
    return common[:count]


@dataclass
class SlotTimes:
    """One meeting time as each side of the pair lives it."""

    mine: datetime.datetime
    partners: datetime.datetime
    partner: Employee

    @staticmethod
    def _odd(moment: datetime.datetime) -> bool:
        start, end = WAKING_HOURS
        return not start <= moment.time() <= end

    @property
    def odd_for_me(self) -> bool:
        return self._odd(self.mine)

    @property
    def odd_for_partner(self) -> bool:
        return self._odd(self.partners)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def slot_times(*, pair: Pair, me: Employee, starts_at: datetime.datetime) -> SlotTimes:
    """The wall-clock time of `starts_at` for me and for my partner, to warn before booking
    someone at 03:00 (a warning only: some pairs do agree on odd hours)."""
    partner = partner_of(pair, me)
    return SlotTimes(mine=starts_at.astimezone(_zone(me.time_zone)), partners=starts_at.astimezone(_zone(partner.time_zone)), partner=partner)


# --- Session logs, notes, pulse, feedback ----------------------------------------------------------


@dataclass
class LogInput:
    held_on: datetime.date
    minutes: int
    topics: list[Topic]
    mentor_learned: str = ""
    mentee_learned: str = ""
    shared_notes: str = ""
    private_note: str = ""
    actions: list[tuple[str, datetime.date | None]] = ()


DUPLICATE_LOG_WINDOW = datetime.timedelta(hours=1)


def log_has_content(data: LogInput, *, log: SessionLog | None = None) -> bool:
    """What makes a log worth keeping: something both sides can read. A date and a length
    alone tell the partner nothing, and a private note is its author's alone. Editing ``log``,
    its actions count: the edit form has no action rows, and a log made of an action alone
    (the mentee's) must stay editable."""
    written = (data.mentor_learned, data.mentee_learned, data.shared_notes, *(text for text, _due in data.actions))
    if bool(data.topics) or any(text.strip() for text in written):
        return True
    return log is not None and log.pk is not None and ActionItem.objects.filter(session_log=log).exists()


@transaction.atomic
def session_log_create(*, pair: Pair, me: Employee, data: LogInput, meeting: Meeting | None = None) -> SessionLog:
    pair = _lock(pair)
    side = _live_pair(pair, me)
    _validate_log(pair, data)
    if meeting is not None:
        if meeting.pair_id != pair.pk:
            raise SessionError(_("That meeting belongs to another pair."))
        if meeting.status == Meeting.Status.CANCELLED:
            raise SessionError(_("That meeting was cancelled."))
        if meeting.starts_at > timezone.now():
            raise SessionError(meeting_not_yet(meeting))
        if SessionLog.objects.filter(meeting=meeting).exists():
            raise SessionError(_("This meeting has already been logged; edit that log instead."))
    else:
        # An ad hoc log has no meeting to make it unique: the same log again within the hour
        # (Back, then Save again; a second tab) is the same session, not another one.
        same = SessionLog.objects.filter(
            pair=pair, meeting=None, author=me, held_on=data.held_on, minutes=data.minutes,
            mentor_learned=data.mentor_learned.strip(), mentee_learned=data.mentee_learned.strip(), shared_notes=data.shared_notes.strip(),
            created_at__gte=timezone.now() - DUPLICATE_LOG_WINDOW,
        )
        if same.exists():
            raise SessionError(
                _("You already logged this session (%(date)s, %(minutes)s minutes): it is on the pair page, where you can edit it.")
                % {"date": date_format(data.held_on, "j F Y"), "minutes": data.minutes}
            )
    try:
        with transaction.atomic():
            log = SessionLog.objects.create(
                pair=pair, meeting=meeting, author=me, held_on=data.held_on, minutes=data.minutes,
                mentor_learned=data.mentor_learned.strip(), mentee_learned=data.mentee_learned.strip(), shared_notes=data.shared_notes.strip(),
            )
    except IntegrityError as exc:  # a double submit for the same meeting
        raise SessionError(_("This meeting has already been logged; edit that log instead.")) from exc
    log.topics.set(data.topics)
    if data.private_note.strip():
        PrivateNote.objects.create(session_log=log, author=me, text=data.private_note.strip())
    _add_actions(pair, log, me, side, data.actions)
    return log


def meeting_not_yet(meeting: Meeting) -> str:
    return _("This meeting has not happened yet (it is on %(when)s): log it once it has, or log a session you held without it.") % {"when": when_text(meeting.starts_at)}


@transaction.atomic
def session_log_join(*, log: SessionLog, me: Employee, data: LogInput) -> int:
    """The partner logged the meeting first: what the second person wrote is kept on that log
    instead of being lost. Their private note is added to their own note on it; what they
    wrote for both of them goes there too (only the log's author may change the log itself);
    a mentee's actions are committed from it. Returns how many actions were added."""
    pair = _lock(log.pair)
    side = _live_pair(pair, me)
    parts = [data.private_note.strip()]
    shared = [(label, text.strip()) for label, text in (
        (_("What the mentor learned"), data.mentor_learned), (_("What the mentee learned"), data.mentee_learned), (_("Shared notes"), data.shared_notes),
    ) if text.strip()]
    if shared:
        parts.append(_("Written for the log that %(name)s saved first:") % {"name": log.author.first_name if log.author else _("your partner")})
        parts.extend(f"{label}: {text}" for label, text in shared)
    earlier = PrivateNote.objects.filter(session_log=log, author=me).values_list("text", flat=True).first() or ""
    added = "\n\n".join(part for part in parts if part)
    if added and not earlier.endswith(added):  # the same post again (a retry) adds nothing
        # Within what the private note form accepts, so the note stays editable.
        text = "\n\n".join(part for part in (earlier, added) if part)[:NOTE_MAX]
        PrivateNote.objects.update_or_create(session_log=log, author=me, defaults={"text": text, "updated_at": timezone.now()})
    actions = [
        (t, due) for t, due in data.actions
        if t.strip() and not _just_written(ActionItem.objects.filter(pair=pair, session_log=log, committed_by=me, text=t.strip()[:500], due_on=due))
    ]
    _add_actions(pair, log, me, side, actions)
    return len(actions)


def _validate_log(pair: Pair, data: LogInput, *, log: SessionLog | None = None) -> None:
    if data.held_on > timezone.localdate():
        raise SessionError(_("A session is logged after it happened: the date is in the future."))
    if pair.started_at and data.held_on < timezone.localtime(pair.started_at).date():
        raise SessionError(_("That date is before the pair started."))
    if not 5 <= data.minutes <= 480:
        raise SessionError(_("Minutes go from 5 to 480."))
    if not log_has_content(data, log=log):
        raise SessionError(_("Say what the session covered: choose a topic, or write what was learned or a shared note."))
    program_topics = set(pair.program.topics.values_list("pk", flat=True))
    if any(t.pk not in program_topics for t in data.topics):
        raise SessionError(_("Only this program's topics can be chosen."))
    if any(due and due < timezone.localdate() for text, due in data.actions if text.strip()):
        raise SessionError(_("The due date is in the past."))  # as `action_commit` says


def _add_actions(pair, log, me, side, actions) -> None:
    if actions and side != "mentee":
        raise SessionError(_("Actions are committed by the mentee."))
    ActionItem.objects.bulk_create(
        [ActionItem(pair=pair, session_log=log, text=text.strip()[:500], due_on=due, committed_by=me) for text, due in actions if text.strip()]
    )


@transaction.atomic
def session_log_update(*, log: SessionLog, me: Employee, data: LogInput) -> SessionLog:
    """Its author may edit a log for a week; their own private note is theirs to edit."""
    log = SessionLog.objects.select_for_update(of=("self",)).select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee").get(pk=log.pk)
    _live_pair(log.pair, me)
    if log.author_id != me.pk:
        raise SessionError(_("Only the person who wrote this log can edit it."))
    if timezone.now() - log.created_at > LOG_EDIT_WINDOW:
        raise SessionError(_("Logs can be edited for a week after they are written."))
    _validate_log(log.pair, data, log=log)
    log.held_on, log.minutes = data.held_on, data.minutes
    log.mentor_learned, log.mentee_learned, log.shared_notes = data.mentor_learned.strip(), data.mentee_learned.strip(), data.shared_notes.strip()
    log.updated_at = timezone.now()
    log.save()
    log.topics.set(data.topics)
    private_note_save(log=log, me=me, text=data.private_note)
    return log


@transaction.atomic
def private_note_save(*, log: SessionLog, me: Employee, text: str) -> None:
    """Either side keeps its own private note on a session; nobody else ever reads it."""
    side_of(log.pair, me)
    _not_archived(log.pair)
    if text.strip():
        PrivateNote.objects.update_or_create(session_log=log, author=me, defaults={"text": text.strip(), "updated_at": timezone.now()})
    else:
        PrivateNote.objects.filter(session_log=log, author=me).delete()


@transaction.atomic
def pulse_submit(*, log: SessionLog, me: Employee, felt_heard: int, safe_to_be_candid: int, wants_to_continue: int) -> SafetyPulse:
    """The mentor's safety pulse. HR gets an alert when it falls below the program's threshold."""
    pair = _lock(log.pair)
    side = _live_pair(pair, me)
    if side != "mentor":
        raise SessionError(_("The safety pulse is for the mentor."))
    values = (felt_heard, safe_to_be_candid, wants_to_continue)
    if any(not 1 <= v <= 5 for v in values):
        raise SessionError(_("Answers go from 1 to 5."))
    try:
        with transaction.atomic():
            pulse = SafetyPulse.objects.create(session_log=log, pair=pair, felt_heard=felt_heard, safe_to_be_candid=safe_to_be_candid, wants_to_continue=wants_to_continue)
    except IntegrityError as exc:
        raise SessionError(_("You have already answered the pulse for this session.")) from exc
    if min(values) <= 2 or pulse.average < float(pair.program.pulse_alert_threshold):
        if not PulseAlert.objects.filter(pair=pair, resolved_at__isnull=True).exists():
            PulseAlert.objects.create(pair=pair)
            # Only that an alert exists: the answers stay with the mentor.
            hr_notify_pair_care(kind=HR_NOTICE_ALERT, pair=pair)
    return pulse


@transaction.atomic
def feedback_submit(*, log: SessionLog, me: Employee, usefulness: int, psychological_safety: int, comment: str = "") -> Feedback:
    pair = _lock(log.pair)
    # A session can be rated after the pair ended (the last one often matters most), not
    # once the program is archived.
    side = side_of(pair, me)
    _not_archived(pair)
    if not (1 <= usefulness <= 5 and 1 <= psychological_safety <= 5):
        raise SessionError(_("Ratings go from 1 to 5."))
    author = pair.mentor if side == "mentor" else pair.mentee
    try:
        with transaction.atomic():
            return Feedback.objects.create(session_log=log, pair=pair, author=author, usefulness=usefulness, psychological_safety=psychological_safety, comment=comment.strip())
    except IntegrityError as exc:
        raise SessionError(_("You have already given feedback on this session.")) from exc


# The longest note, log field or agreement text the forms accept (sessions_log.forms).
NOTE_MAX = 10_000

# The same words sent again this soon are the same submission (a double click, a browser
# retrying a slow request): the first one is kept and returned, nothing is written twice.
RESUBMIT_WINDOW = datetime.timedelta(minutes=1)


def _just_written(queryset):
    """The row a moment ago's identical submission wrote, if any (callers hold the pair's lock)."""
    return queryset.filter(created_at__gte=timezone.now() - RESUBMIT_WINDOW).order_by("-pk").first()


@transaction.atomic
def concern_raise(*, pair: Pair, me: Employee, text: str) -> Concern:
    side = side_of(pair, me)
    _not_archived(pair)
    if side != "mentor":
        raise SessionError(_("Concerns are raised by the mentor; mentees can talk to HR directly."))
    if not text.strip():
        raise SessionError(_("Tell HR what worries you; only HR will read it."))
    _lock(pair)
    if again := _just_written(Concern.objects.filter(pair=pair, raised_by=me, text=text.strip())):
        return again  # HR was told the first time
    concern = Concern.objects.create(pair=pair, raised_by=me, text=text.strip())
    hr_notify_pair_care(kind=HR_NOTICE_CONCERN, pair=pair)
    return concern


# --- Insight to action ---------------------------------------------------------------------------------


@transaction.atomic
def insight_add(*, pair: Pair, me: Employee, text: str, topic: Topic | None = None) -> Insight:
    if _live_pair(pair, me) != "mentor":
        raise SessionError(_("Insights are recorded by the mentor."))
    if not text.strip():
        raise SessionError(_("Write the insight."))
    if topic is not None and not pair.program.topics.filter(pk=topic.pk).exists():
        raise SessionError(_("Only this program's topics can be chosen."))
    _lock(pair)
    if again := _just_written(Insight.objects.filter(pair=pair, topic=topic, text=text.strip(), created_by=me)):
        return again
    return Insight.objects.create(pair=pair, topic=topic, text=text.strip(), created_by=me)


def insight_update(*, insight: Insight, me: Employee, text: str, topic: Topic | None = None) -> Insight:
    """The mentor corrects an insight they recorded (a typo, the wrong topic)."""
    if _live_pair(insight.pair, me) != "mentor":
        raise SessionError(_("Insights are recorded by the mentor."))
    if not text.strip():
        raise SessionError(_("Write the insight."))
    if topic is not None and not insight.pair.program.topics.filter(pk=topic.pk).exists():
        raise SessionError(_("Only this program's topics can be chosen."))
    insight.text, insight.topic = text.strip(), topic
    insight.save(update_fields=["text", "topic"])
    return insight


def insight_remove(*, insight: Insight, me: Employee) -> None:
    """The mentor removes an insight; actions committed from it stay, unlinked."""
    if _live_pair(insight.pair, me) != "mentor":
        raise SessionError(_("Insights are recorded by the mentor."))
    insight.delete()


@transaction.atomic
def action_commit(*, pair: Pair, me: Employee, text: str, due_on: datetime.date | None = None, insight: Insight | None = None) -> ActionItem:
    if _live_pair(pair, me) != "mentee":
        raise SessionError(_("Actions are committed by the mentee."))
    if not text.strip():
        raise SessionError(_("Write the action."))
    if due_on and due_on < timezone.localdate():
        raise SessionError(_("The due date is in the past."))
    if insight is not None and insight.pair_id != pair.pk:
        raise SessionError(_("That insight belongs to another pair."))
    _lock(pair)
    text = text.strip()[:500]
    if again := _just_written(ActionItem.objects.filter(pair=pair, insight=insight, text=text, due_on=due_on, committed_by=me, session_log=None)):
        return again
    return ActionItem.objects.create(pair=pair, insight=insight, text=text, due_on=due_on, committed_by=me)


def action_update(*, action: ActionItem, me: Employee, text: str, due_on: datetime.date | None = None, insight: Insight | None = None) -> ActionItem:
    """The mentee rewords an action or moves its date. A new date must not be in the past; a
    past one already set may stay (the action is simply overdue)."""
    if _live_pair(action.pair, me) != "mentee":
        raise SessionError(_("Actions are committed by the mentee."))
    if not text.strip():
        raise SessionError(_("Write the action."))
    if due_on and due_on != action.due_on and due_on < timezone.localdate():
        raise SessionError(_("The due date is in the past."))
    if insight is not None and insight.pair_id != action.pair_id:
        raise SessionError(_("That insight belongs to another pair."))
    action.text, action.due_on, action.insight = text.strip()[:500], due_on, insight
    action.save(update_fields=["text", "due_on", "insight"])
    return action


def action_remove(*, action: ActionItem, me: Employee) -> None:
    if _live_pair(action.pair, me) != "mentee":
        raise SessionError(_("Actions are committed by the mentee."))
    action.delete()


@transaction.atomic
def action_set_done(*, action: ActionItem, me: Employee, done: bool) -> ActionItem:
    if _live_pair(action.pair, me) != "mentee":
        raise SessionError(_("The mentee closes their own actions."))
    action.status = ActionItem.Status.DONE if done else ActionItem.Status.OPEN
    action.done_at = timezone.now() if done else None
    action.save(update_fields=["status", "done_at"])
    return action


# --- Surveys ---------------------------------------------------------------------------------------------


def survey_window(program: Program, kind: str) -> tuple[datetime.date, datetime.date] | None:
    """When a survey is open, from the program's dates (None: this program has no such survey,
    or it was archived before the survey opened). Archiving closes a survey still open that day
    (Program.surveys_closed_on), which is then its real closing day."""
    window = _planned_survey_window(program, kind)
    closed = program.surveys_closed_on
    if window is None or closed is None or closed >= window[1]:
        return window
    return (window[0], closed) if closed >= window[0] else None


def _planned_survey_window(program: Program, kind: str) -> tuple[datetime.date, datetime.date] | None:
    if kind == SurveyResponse.Kind.BASELINE:
        close = program.midpoint_survey_on or program.starts_on + datetime.timedelta(days=30)
        return program.enrollment_opens_on, close
    if kind == SurveyResponse.Kind.MIDPOINT and program.midpoint_survey_on:
        return program.midpoint_survey_on, program.midpoint_survey_on + datetime.timedelta(days=14)
    if kind == SurveyResponse.Kind.FINAL and program.final_survey_on:
        return program.final_survey_on, max(program.final_survey_on, program.ends_on) + datetime.timedelta(days=30)
    return None


# Midpoint and final ask about a pairing: they are for someone who has or had a pair in the
# program (an unpaired person's NPS and uplift would be about nothing they took part in).
PAIRED_SURVEYS = (SurveyResponse.Kind.MIDPOINT, SurveyResponse.Kind.FINAL)


def survey_open(program: Program, kind: str, today: datetime.date) -> bool:
    """Whether a survey takes answers on ``today``: inside its window, in a program that is
    not archived (read-only); the baseline, the starting point, no longer once the program
    has completed."""
    window = survey_window(program, kind)
    if window is None or program.status == Program.Status.ARCHIVED:
        return False
    # A survey opens on its day where the person is, or as that day begins at the site
    # (settings.TIME_ZONE) for someone west of it still on the eve: the final survey of a
    # program completed early opens at once for everyone.
    site_today = timezone.localdate(timezone=timezone.get_default_timezone())
    opened = today >= window[0] or (site_today >= window[0] and today >= window[0] - datetime.timedelta(days=1))
    if not opened or today > window[1]:
        return False
    return not (kind == SurveyResponse.Kind.BASELINE and program.status == Program.Status.COMPLETED)


# A pair someone has or had (a proposal HR never published does not count).
HAD_PAIR_STATUSES = (Pair.Status.ACTIVE, Pair.Status.PAUSED, Pair.Status.ENDED)


def had_pair(enrollment: Enrollment) -> bool:
    """Has or had a pair in the program."""
    return Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status__in=HAD_PAIR_STATUSES).exists()


def survey_items(enrollment: Enrollment) -> list[tuple[str, object, str]]:
    """(key, topic or growth key, label): the mentee rates their learning topics, the mentor
    their own growth."""
    if enrollment.role == "mentee":
        topics = Topic.objects.filter(pk__in=enrollment.topic_ratings.filter(kind=EnrollmentTopic.Kind.LEARN).values("topic_id")).order_by("name")
        return [(f"topic-{t.pk}", t, t.name) for t in topics]
    return [(f"growth-{key}", key, str(label)) for key, label in SurveyAnswer.GROWTH_ITEMS.items()]


@transaction.atomic
def survey_submit(*, enrollment: Enrollment, me: Employee, kind: str, scores: dict[str, int], would_recommend: int | None) -> SurveyResponse:
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if enrollment.employee_id != me.pk:
        raise SessionError(_("This survey is someone else's."))
    if not survey_open(enrollment.program, kind, timezone.localdate()):
        raise SessionError(_("This survey is not open now."))
    if kind in PAIRED_SURVEYS and not had_pair(enrollment):
        raise SessionError(_("This survey is about your pair: it opens to you once you are paired."))
    items = survey_items(enrollment)
    missing = [label for key, _item, label in items if not scores.get(key)]
    if missing:
        raise SessionError(_("Rate every item: %(items)s.") % {"items": ", ".join(missing)})
    if any(not 1 <= int(scores[key]) <= 5 for key, _i, _l in items):
        raise SessionError(_("Ratings go from 1 to 5."))
    if kind != SurveyResponse.Kind.BASELINE and (would_recommend is None or not 0 <= would_recommend <= 10):
        raise SessionError(_("Say how likely you are to recommend the program, from 0 to 10."))
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(enrollment=enrollment, kind=kind, would_recommend=would_recommend)
    except IntegrityError as exc:
        raise SessionError(_("You have already answered this survey.")) from exc
    SurveyAnswer.objects.bulk_create(
        [
            SurveyAnswer(response=response, topic=item if isinstance(item, Topic) else None, growth_item="" if isinstance(item, Topic) else item, score=int(scores[key]))
            for key, item, _label in items
        ]
    )
    return response


# --- Closure ---------------------------------------------------------------------------------------------


@transaction.atomic
def pair_close(*, pair: Pair, me: Employee, reason: str, reflection: str) -> Pair:
    """A participant ends their pair with a reason and a short reflection."""
    pair = _lock(pair)
    side = _live_pair(pair, me)
    if not reflection.strip():
        raise SessionError(_("Write a short reflection: what did you learn, what would you keep?"))
    try:
        pair = pair_end(pair=pair, reason=reason, by=me.user, note="")
    except MatchError as exc:
        raise SessionError(str(exc)) from exc
    reflection_save(pair=pair, me=me, text=reflection, side=side)
    return pair


@transaction.atomic
def reflection_save(*, pair: Pair, me: Employee, text: str, side: str | None = None) -> Reflection:
    """Each side's reflection; the partner of someone who closed the pair adds theirs after."""
    side = side or side_of(pair, me)
    _not_archived(pair)
    if pair.status != Pair.Status.ENDED:
        raise SessionError(_("Reflections are written when the pair ends."))
    author = pair.mentor if side == "mentor" else pair.mentee
    reflection, _created = Reflection.objects.update_or_create(pair=pair, author=author, defaults={"text": text.strip()})
    return reflection


# --- Calendar feed ------------------------------------------------------------------------------------------


@transaction.atomic
def calendar_feed_for(*, me: Employee) -> CalendarFeed:
    feed, _created = CalendarFeed.objects.get_or_create(employee=me)
    return feed


@transaction.atomic
def calendar_feed_revoke(*, me: Employee) -> CalendarFeed:
    """A new secret URL; the old one stops working at once."""
    from .models import new_feed_token

    feed, _created = CalendarFeed.objects.get_or_create(employee=me)
    feed.token = new_feed_token()
    feed.created_at = timezone.now()
    feed.save(update_fields=["token", "created_at"])
    return feed


# --- HR pair care ---------------------------------------------------------------------------------------

HR_NOTICE_CONCERN = "concern"
HR_NOTICE_ALERT = "alert"


def hr_notify_pair_care(*, kind: str, pair: Pair) -> int:
    """Tell each HR admin that pair care needs them, written to the outbox in the caller's
    transaction (so it is sent after commit, or not at all).

    The mail says only what kind of thing is waiting and links to the page: a concern's text
    and the pulse answers are confidential and never leave Upward by email. Neither person of
    the pair is told, even if they are HR admins too: a concern about a mentee who is an HR
    admin must not land in that mentee's mailbox."""
    from django.urls import reverse

    context = {"kind": kind, "program": pair.program, "care_url": f"{settings.SITE_URL}{reverse('hr_care')}"}
    addressees = hr_addressees(excluding={pair.mentor.employee_id, pair.mentee.employee_id})
    for person in addressees:
        send_templated(to=person, template="sessions_log/email/hr_care_notice", context=context)
    return len(addressees)


CONCERN_NOTE_MAX = 1000


@dataclass(frozen=True)
class ConcernChange:
    status_changed: bool
    note_changed: bool

    def __bool__(self) -> bool:
        return self.status_changed or self.note_changed


@transaction.atomic
def concern_set_status(*, concern: Concern, status: str, by, seen_status: str = "", note: str | None = None) -> ConcernChange:
    """HR moves a concern along (or reopens it), optionally with a note of what HR did (None:
    the note stays as it is; "" clears it). Says what changed; nothing when the concern already
    had that status and note.

    `seen_status` is the status on the page HR acted from: if another admin changed it since,
    nothing is changed and the admin is asked to look again, rather than silently undoing it."""
    from mentoring.audit import audit_record
    from mentoring.models import AuditEvent

    if status not in Concern.Status.values:
        raise SessionError(_("Choose a status."))
    if note is not None and len(note.strip()) > CONCERN_NOTE_MAX:
        raise SessionError(_("Keep the note to %(n)d characters; it is a record for HR, not the whole story.") % {"n": CONCERN_NOTE_MAX})
    concern = Concern.objects.select_for_update().get(pk=concern.pk)
    if seen_status and seen_status != concern.status:
        raise SessionError(_("Someone else set this concern to “%(status)s” a moment ago: check it and try again.") % {"status": concern.get_status_display()})
    note_changed = note is not None and note.strip() != concern.hr_note
    if note_changed:
        had_note = bool(concern.hr_note)
        concern.hr_note, concern.hr_note_by, concern.hr_note_at = note.strip(), by, timezone.now()
        concern.save(update_fields=["hr_note", "hr_note_by", "hr_note_at"])
        # That HR's note was written, changed or cleared, and by whom; never its words. The
        # note often names people ("called Sam on Tuesday") and is blanked when one of them is
        # erased, which the append-only log could not follow.
        change = "cleared" if not concern.hr_note else ("changed" if had_note else "added")
        audit_record(
            action=AuditEvent.Action.CONCERN_NOTE_CHANGED,
            target=concern,
            actor=by,
            summary=f"HR's note {change}",
            after={"note": change, "pair": concern.pair_id},
        )
    if concern.status == status:
        return ConcernChange(status_changed=False, note_changed=note_changed)
    before = concern.status
    concern.status = status
    concern.save(update_fields=["status"])
    # Ids and statuses only: the concern's text, and HR's note, never reach the log.
    audit_record(
        action=AuditEvent.Action.CONCERN_STATUS_CHANGED,
        target=concern,
        actor=by,
        summary=f"{Concern.Status(before).label} → {Concern.Status(status).label}",
        before={"status": before},
        after={"status": status, "pair": concern.pair_id},
    )
    return ConcernChange(status_changed=True, note_changed=note_changed)


@transaction.atomic
def pulse_alert_resolve(*, alert: PulseAlert, by) -> bool:
    """HR has followed up. False when someone else already had."""
    from mentoring.audit import audit_record
    from mentoring.models import AuditEvent

    now = timezone.now()
    # Two HR admins following up at once: a conditional update, so the first stamp stands and
    # the second is told instead of both being thanked.
    if not PulseAlert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now):
        return False
    audit_record(action=AuditEvent.Action.PULSE_ALERT_RESOLVED, target=alert, actor=by, summary="Followed up", after={"resolved": True, "pair": alert.pair_id})
    return True
