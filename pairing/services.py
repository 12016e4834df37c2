"""Writes for pairing: match runs, HR review (manual pairs, pins, exclusions), publish, ending.

The optimisation itself lives in pairing/engine.py (no Django); this module turns the
database into the engine's plain records and the engine's result back into rows.
"""

import datetime
import functools
import logging
import statistics
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import replace

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _, ngettext

from mentoring.audit import FROM_REQUEST, audit_record
from mentoring.mail import render_templated, send_templated
from mentoring.models import AuditEvent, Employee, OutboxMessage, Role as UserRole, reporting_chains
from mentoring.queue import nudge_on_commit
from programs.models import AVAILABILITY_BLOCK, Enrollment, EnrollmentTopic, Program

from . import engine
from .models import MatchRun, Pair, PairingOverride
from .selectors import left_program

logger = logging.getLogger(__name__)

LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
RS = MatchRun.Status


class MatchError(Exception):
    """A refused pairing operation, with a message a person can read."""


def _require_hr(user) -> None:
    if user is None or not user.has_role(UserRole.HR_ADMIN):
        raise MatchError(_("Only HR admins can do this."))


def _require_not_archived(program: Program) -> None:
    if program.is_archived:
        raise MatchError(_("This program is archived and read-only."))


# --- From the database to the engine ---------------------------------------------------------

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# Availability reaches the engine as the UTC half hours of the week a person is free: fine
# enough for zones half an hour off (Kolkata, Adelaide), coarse enough to keep the engine's
# shared-item sweep small (at most 336 items a week).
AVAILABILITY_CELL = datetime.timedelta(minutes=30)


def _utc_slots(slots, tz_name: str, reference: datetime.date) -> frozenset[str]:
    """Local weekly slots ("tue-10": the two-hour block from 10:00 in the person's zone) to
    the UTC half hours of the week they cover whole ("tue-09:00", "tue-09:30", ...), in the
    week of `reference`.  Two people share an item for every half hour both are free, in any
    pair of zones: London 10:00-12:00 and Berlin 12:00-14:00 share the hour from 11:00, two
    Kolkata colleagues with the same block share all of it, and Kolkata 10:00-12:00 with
    London 04:00-06:00 UTC share an hour and a half.  Adjacent blocks join first."""
    blocks = sorted({block for slot in slots if isinstance(slot, str) and (block := _utc_block(slot, tz_name, reference))})
    out = set()
    for lo, hi in joined_blocks(blocks):
        moment = lo.replace(minute=lo.minute - lo.minute % 30, second=0, microsecond=0)
        if moment < lo:
            moment += AVAILABILITY_CELL
        while moment + AVAILABILITY_CELL <= hi:
            out.add(f"{WEEKDAYS[moment.weekday()]}-{moment.hour:02d}:{moment.minute:02d}")
            moment += AVAILABILITY_CELL
    return frozenset(out)


def joined_blocks(blocks: list[tuple[datetime.datetime, datetime.datetime]]) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """Sorted (start, end) blocks with touching or overlapping ones joined."""
    out: list[list[datetime.datetime]] = []
    for lo, hi in blocks:
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def utc_block(day: datetime.date, start_hour: int, tz: zoneinfo.ZoneInfo | datetime.timezone) -> tuple[datetime.datetime, datetime.datetime]:
    """A slot's block on a given local day, in UTC: from start_hour to two hours later on the
    person's clock (one or three real hours on the nights clocks change)."""
    local = datetime.datetime.combine(day, datetime.time(start_hour), tzinfo=tz)
    return local.astimezone(datetime.UTC), (local + AVAILABILITY_BLOCK).astimezone(datetime.UTC)


# A pool has thousands of people but only a few zones and weekly slots: convert each once.
@functools.lru_cache(maxsize=4096)
def _utc_block(slot, tz_name: str, reference: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    monday = reference - datetime.timedelta(days=reference.weekday())
    try:
        day, hour = slot.split("-")
        return utc_block(monday + datetime.timedelta(days=WEEKDAYS.index(day)), int(hour), tz)
    except (ValueError, IndexError):
        return None


@functools.lru_cache(maxsize=1024)
def _utc_offset_minutes(tz_name: str, reference: datetime.date) -> int:
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return 0
    moment = datetime.datetime.combine(reference, datetime.time(12), tzinfo=tz)
    return int(moment.utcoffset().total_seconds() // 60)


def program_policy(program: Program) -> engine.Policy:
    return engine.Policy(
        strategy=program.pairing_strategy,
        min_score=program.min_score,
        weights={k: v for k, v in program.pairing_weights.items() if k in engine.CRITERIA},
        min_level_gap=program.min_level_gap,
        forbid_same_manager=program.ban_same_manager,
        forbid_same_department=program.ban_same_department,
        max_active_pairs=program.max_active_pairs_per_mentor,
        # Availability items are half hours (_utc_slots): four hours in common (two whole
        # blocks) score full marks.
        availability_cap=8,
        availability_minutes=30,
    )


def build_input(*, program: Program) -> tuple[engine.PairingInput, dict[int, Enrollment]]:
    """The engine's input for the program's remaining pool, and employee id -> enrollment.

    The pool: approved enrollments without a live pair (mentees) or with spare capacity
    (mentors), of people still here and not erased. Live pairs are never touched, so a
    re-match only pairs who is left.
    """
    enrollments = list(
        Enrollment.objects.filter(
            program=program, status=Enrollment.Status.APPROVED, employee__left_date__isnull=True, employee__erased_at__isnull=True
        ).select_related("employee__department")
    )
    # Ratings and "not with" lists as plain tuples joined on the program, not model instances
    # or an IN list of every enrollment: a 5,000-person pool has ~17,000 ratings.
    ratings = defaultdict(list)
    for enrollment_id, kind, level, topic in EnrollmentTopic.objects.filter(
        enrollment__program=program, enrollment__status=Enrollment.Status.APPROVED
    ).values_list("enrollment_id", "kind", "level", "topic__name"):
        ratings[enrollment_id].append((kind, level, topic))
    not_with = defaultdict(set)
    for enrollment_id, employee_id in Enrollment.not_with.through.objects.filter(enrollment__program=program).values_list("enrollment_id", "employee_id"):
        not_with[enrollment_id].add(employee_id)
    live_in_program = Counter()
    paired_mentees = set()
    for mentor_id, mentee_id in Pair.objects.filter(program=program, status__in=LIVE).values_list("mentor_id", "mentee_id"):
        live_in_program[mentor_id] += 1
        paired_mentees.add(mentee_id)
    employee_ids = [e.employee_id for e in enrollments]
    pool_mentors = Enrollment.objects.filter(program=program, role="mentor", status=Enrollment.Status.APPROVED).values("employee_id")
    elsewhere = dict(
        Pair.objects.filter(status__in=LIVE, mentor__employee_id__in=pool_mentors)
        .exclude(program=program)
        .values_list("mentor__employee_id")
        .annotate(n=Count("id"))
    )
    chains = reporting_chains(employee_ids)
    reference = max(program.starts_on, timezone.localdate())

    mentors, mentees, by_employee = [], [], {}
    for enrollment in enrollments:
        e = enrollment.employee
        is_mentor = enrollment.role == "mentor"
        if not is_mentor and enrollment.pk in paired_mentees:
            continue
        capacity = program.mentees_per_mentor - live_in_program[enrollment.pk] if is_mentor else 1
        if is_mentor and capacity <= 0:
            continue
        record = engine.Participant(
            id=e.pk,
            name=e.full_name,
            level=e.level,
            department=e.department.name,
            manager_chain=tuple(chains.get(e.pk, ())),
            teaches={topic: level for kind, level, topic in ratings[enrollment.pk] if kind == EnrollmentTopic.Kind.TEACH} if is_mentor else {},
            wants={topic: level for kind, level, topic in ratings[enrollment.pk] if kind == EnrollmentTopic.Kind.LEARN} if not is_mentor else {},
            interests=frozenset(i.lower() for i in enrollment.interests),
            languages=frozenset(lang.strip().title() for lang in enrollment.languages),
            availability=_utc_slots(enrollment.availability, enrollment.time_zone, reference),
            utc_offset_minutes=_utc_offset_minutes(enrollment.time_zone, reference),
            capacity=max(capacity, 0),
            active_pairs_elsewhere=elsewhere.get(e.pk, 0),
            not_with=frozenset(not_with.get(enrollment.pk, ())),
        )
        (mentors if is_mentor else mentees).append(record)
        by_employee[e.pk] = enrollment

    pins, exclusions = [], []
    for o in PairingOverride.objects.filter(program=program).select_related("mentor", "mentee"):
        pair = (o.mentor.employee_id, o.mentee.employee_id)
        if o.kind == PairingOverride.Kind.EXCLUDE:
            exclusions.append(pair)
        elif pair[0] in by_employee and pair[1] in by_employee:
            pins.append(pair)
    inputs = engine.PairingInput(mentors=mentors, mentees=mentees, policy=program_policy(program), pins=pins, exclusions=exclusions)
    return inputs, by_employee


# --- Match runs --------------------------------------------------------------------------------


@transaction.atomic
def match_run_start(*, program: Program, by) -> MatchRun:
    """Queue a run for the program; small pools are solved at once, large ones by Celery."""
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    _require_not_archived(program)
    if program.status == Program.Status.MATCHING:
        kind = MatchRun.Kind.INITIAL
    elif program.status == Program.Status.ACTIVE:
        kind = MatchRun.Kind.REMATCH
    else:
        raise MatchError(_("Pairing runs once enrollment has closed: the program must be in matching (or active, to re-match)."))
    if program.match_runs.filter(status__in=[RS.QUEUED, RS.RUNNING]).exists():
        raise MatchError(_("A match run for this program is already in progress."))
    run = MatchRun.objects.create(program=program, kind=kind, started_by=by, progress_note=_("Waiting for a worker"))
    pool = program.enrollments.filter(status=Enrollment.Status.APPROVED).count()
    audit_record(action=AuditEvent.Action.MATCH_RUN_STARTED, target=run, actor=by, summary=f"{kind} run for “{program.name}” (program #{program.pk})", after={"program": program.pk, "kind": kind, "pool": pool})
    if pool <= settings.PAIRING_SYNC_MAX_PEOPLE:
        transaction.on_commit(lambda: match_run_execute(run_id=run.pk))
    else:
        from .tasks import execute_match_run

        nudge_on_commit(execute_match_run, run.pk)
    return run


def _claim(run_id: int) -> bool:
    """queued -> running, once: a second worker (or a retried task) finds nothing to do."""
    return MatchRun.objects.filter(pk=run_id, status=RS.QUEUED).update(status=RS.RUNNING, started_at=timezone.now(), progress=10, progress_note=_("Reading the pool")) == 1


def _progress(run_id: int, percent: int, note: str) -> None:
    MatchRun.objects.filter(pk=run_id, status=RS.RUNNING).update(progress=percent, progress_note=note)


def match_run_execute(*, run_id: int) -> None:
    """Run the engine and store its proposal. Safe to call twice; never half-writes."""
    if not _claim(run_id):
        return
    run = MatchRun.objects.select_related("program").get(pk=run_id)
    try:
        inputs, by_employee = build_input(program=run.program)
        _progress(run_id, 40, _("Scoring and solving"))
        result = engine.propose_pairs(inputs)
    except engine.PairingError as exc:
        message = str(exc)
        if "asked not to be paired" in message:
            # Never tell HR whose "please not with" list blocked a pin.
            message = _("A pinned pair is ruled out by a confidential preference: remove that pin and run the matching again.")
        MatchRun.objects.filter(pk=run_id).update(status=RS.FAILED, error=message, finished_at=timezone.now(), progress=100, progress_note="")
        return
    except Exception as exc:  # noqa: BLE001 - recorded on the run so HR sees it; re-raised for the logs
        MatchRun.objects.filter(pk=run_id).update(status=RS.FAILED, error=_("Unexpected error: %(e)s") % {"e": type(exc).__name__}, finished_at=timezone.now(), progress=100)
        raise
    _progress(run_id, 80, _("Saving the proposal"))
    _store_proposal(run_id=run_id, inputs=inputs, result=result, by_employee=by_employee)


@transaction.atomic
def _store_proposal(*, run_id: int, inputs, result, by_employee: dict[int, Enrollment]) -> None:
    run = MatchRun.objects.select_for_update().select_related("program").get(pk=run_id)
    if run.status != RS.RUNNING:
        return
    program = run.program
    # An older unpublished proposal for this program gives way to this one.  Only the ids are
    # loaded for the cascade: thousands of breakdowns need not be decoded to be deleted.
    Pair.objects.filter(program=program, status=Pair.Status.PROPOSED).only("id").delete()
    program.match_runs.filter(status=RS.PROPOSED).exclude(pk=run.pk).update(status=RS.SUPERSEDED)
    Pair.objects.bulk_create(
        [
            Pair(
                program=program,
                mentor=by_employee[p.mentor_id],
                mentee=by_employee[p.mentee_id],
                match_run=run,
                source=Pair.Source.PINNED if p.pinned else Pair.Source.ENGINE,
                score=p.score,
                breakdown=p.breakdown.to_dict(),
                reasons=engine.explain(p.breakdown),
            )
            for p in result.pairs
        ]
    )
    run.inputs = inputs.to_dict()
    run.result = result.to_dict()
    run.stats = proposal_stats(scores=[p.score for p in result.pairs], n_mentors=len(inputs.mentors), n_mentees=len(inputs.mentees))
    run.status = RS.PROPOSED
    run.progress = 100
    run.progress_note = ""
    run.finished_at = timezone.now()
    run.save()
    # The engine proposed these pairs, not a person: the event has no actor.
    audit_record(
        action=AuditEvent.Action.MATCH_RUN_PROPOSED, target=run, actor=None, ip=None, summary=f"{run.stats['pairs']} {'pair' if run.stats['pairs'] == 1 else 'pairs'} proposed for “{program.name}” (program #{program.pk})",
        after={"program": program.pk, "pairs": [[by_employee[p.mentor_id].pk, by_employee[p.mentee_id].pk, p.score] for p in result.pairs], **{k: run.stats[k] for k in ("match_rate", "total_score")}},
    )


def proposal_stats(*, scores: list[int], n_mentors: int, n_mentees: int, paired_mentees: int | None = None) -> dict:
    """Summary figures of a set of pairs: count, share of the mentee pool matched, total,
    median and lowest score, and a histogram in bands of 100 points.  ``paired_mentees`` is
    how many distinct mentees the pairs hold (each pair has its own mentee when omitted)."""
    scores = sorted(scores)
    buckets = [0] * 10
    for s in scores:
        buckets[min(s // 100, 9)] += 1
    matched = len(scores) if paired_mentees is None else paired_mentees
    return {
        "pairs": len(scores),
        "mentors": n_mentors,
        "mentees": n_mentees,
        "match_rate": round(matched / n_mentees, 3) if n_mentees else 0,
        "total_score": sum(scores),
        "min_score": scores[0] if scores else None,
        "median_score": _whole_if_whole(statistics.median(scores)) if scores else None,
        "histogram": buckets,
    }


def _whole_if_whole(x: float) -> int | float:
    """754.0 -> 754 (the median of an even count may fall halfway: 754.5 stays)."""
    return int(x) if x == int(x) else x


def current_stats(*, run: MatchRun, pairs: list[Pair], left: tuple[int, int] = (0, 0)) -> dict:
    """The run's figures as its pairs stand now: HR may have swapped, unpaired or paired by
    hand since the engine proposed them.  A superseded run's pairs were deleted, so its
    figures stay the engine's. ``left``: the mentors and mentees of the pool who have left the
    program since (withdrew, left, erased); a proposal's pool no longer counts them, a
    published run's stays as it was published."""
    engine_stats = run.stats or {}
    if run.status not in (RS.PROPOSED, RS.PUBLISHED):
        return engine_stats
    left_mentors, left_mentees = left if run.status == RS.PROPOSED else (0, 0)
    return proposal_stats(
        scores=[p.score for p in pairs],
        n_mentors=max(engine_stats.get("mentors", 0) - left_mentors, 0),
        n_mentees=max(engine_stats.get("mentees", 0) - left_mentees, 0),
        paired_mentees=len({p.mentee_id for p in pairs}),
    )


# --- Review: manual pairs, pins and exclusions ----------------------------------------------------


def _run_inputs(run: MatchRun) -> engine.PairingInput:
    if not run.inputs:
        raise MatchError(_("This run has no proposal to review."))
    return engine.PairingInput.from_dict(run.inputs)


def _editable_run(run: MatchRun, by) -> MatchRun:
    _require_hr(by)
    run = MatchRun.objects.select_for_update().select_related("program").get(pk=run.pk)
    _require_not_archived(run.program)
    if run.status != RS.PROPOSED:
        raise MatchError(_("Only an unpublished proposal can be changed (this run is %(status)s).") % {"status": run.get_status_display().lower()})
    return run


def _pair_problems(mentor: engine.Participant, mentee: engine.Participant, policy: engine.Policy, **kwargs) -> list[str]:
    """engine.check_pair for a pair HR chose, without naming anyone's "please not with" request.

    Those lists are confidential to their author: HR learns that a confidential preference
    rules the pair out, never who asked.
    """
    problems = engine.check_pair(replace(mentor, not_with=frozenset()), replace(mentee, not_with=frozenset()), policy, **kwargs)
    if mentee.id in mentor.not_with or mentor.id in mentee.not_with:
        problems.append(_("a confidential preference rules this pair out"))
    return problems


def _exclusions_now(run: MatchRun, inputs: engine.PairingInput) -> list[tuple]:
    """The run's exclusions and those HR has set since it ran: a pair kept apart after the run
    is not formed by hand in its proposal either."""
    since = PairingOverride.objects.filter(program_id=run.program_id, kind=PairingOverride.Kind.EXCLUDE).values_list("mentor__employee_id", "mentee__employee_id")
    return [*inputs.exclusions, *since]


def score_one(*, inputs: engine.PairingInput, mentor_id: int, mentee_id: int) -> engine.ProposedPair | None:
    """The engine's score and breakdown for one pair, ignoring the minimum score."""
    mentor = next((m for m in inputs.mentors if m.id == mentor_id), None)
    mentee = next((m for m in inputs.mentees if m.id == mentee_id), None)
    if mentor is None or mentee is None:
        return None
    single = engine.PairingInput(mentors=[replace(mentor, capacity=1, active_pairs_elsewhere=0)], mentees=[mentee], policy=replace(inputs.policy, min_score=0, max_active_pairs=None))
    result = engine.propose_pairs(single)
    return result.pairs[0] if result.pairs else None


def _source_of(run: MatchRun, mentor_id: int, mentee_id: int) -> str:
    """An edit that puts back a pair the engine proposed in this run (an unpair undone, a
    swap swapped back) gives it back the engine's mark; any other pair is HR's."""
    for p in (run.result or {}).get("pairs", ()):
        if p.get("mentor") == mentor_id and p.get("mentee") == mentee_id:
            return Pair.Source.PINNED if p.get("pinned") else Pair.Source.ENGINE
    return Pair.Source.MANUAL


@transaction.atomic
def proposal_pair_manually(*, run: MatchRun, mentor: Enrollment, mentee: Enrollment, by, undo: bool = False) -> Pair:
    """HR pairs two people by hand in a proposal; a hard-constraint violation is refused with why.

    ``undo``: putting back a pair HR took apart. Unlike a pair by hand it takes nobody's
    partner away: if either has been paired since, it is refused and says with whom."""
    run = _editable_run(run, by)
    if mentor.program_id != run.program_id or mentee.program_id != run.program_id or mentor.role != "mentor" or mentee.role != "mentee":
        raise MatchError(_("Choose a mentor and a mentee of this program."))
    _require_still_in_program(mentor, mentee)
    inputs = _run_inputs(run)
    records = {p.id: p for p in (*inputs.mentors, *inputs.mentees)}
    m, e = records.get(mentor.employee_id), records.get(mentee.employee_id)
    if m is None or e is None:
        raise MatchError(_("One of them is not in this run's pool (already paired, or not approved when the run started)."))
    proposed = Pair.objects.filter(match_run=run, status=Pair.Status.PROPOSED)
    if undo:
        _check_undo(proposed, mentor, mentee, inputs.policy.effective_capacity(m))
    others = list(proposed.filter(mentor=mentor).exclude(mentee=mentee).values_list("pk", flat=True))
    # A mentor with room for one mentee who already has one is re-paired, as the mentee is:
    # their current pair gives way (that mentee goes back to the unpaired list).  A mentor
    # with several mentees must be freed by hand first: which pair would go is HR's call.
    if len(others) == 1 and inputs.policy.effective_capacity(m) == 1:
        released = others
        others = []
    else:
        released = []
    problems = _pair_problems(m, e, inputs.policy, exclusions=_exclusions_now(run, inputs), pairs_in_program=len(others))
    if problems:
        if others and len(others) >= inputs.policy.effective_capacity(m):
            problems.append(_("unpair one of their mentees first"))
        raise MatchError(_("Refused: %(why)s.") % {"why": "; ".join(problems)})
    scored = score_one(inputs=inputs, mentor_id=m.id, mentee_id=e.id)
    giving_way = proposed.filter(Q(mentee=mentee) | Q(pk__in=released))
    replaced = list(giving_way.values_list("mentor_id", "mentee_id"))
    # Who is left without a partner by this: the mentor's former mentee, and the mentee's
    # former mentor unless they keep another mentee.
    left_alone = [p.mentee.employee.full_name for p in proposed.filter(pk__in=released).select_related("mentee__employee")]
    for p in proposed.filter(mentee=mentee).exclude(mentor=mentor).select_related("mentor__employee"):
        if not proposed.filter(mentor_id=p.mentor_id).exclude(mentee=mentee).exists():
            left_alone.append(p.mentor.employee.full_name)
    giving_way.delete()
    pair = Pair.objects.create(
        program=run.program,
        mentor=mentor,
        mentee=mentee,
        match_run=run,
        source=_source_of(run, m.id, e.id),
        score=scored.score if scored else 0,
        breakdown=scored.breakdown.to_dict() if scored else {},
        reasons=engine.explain(scored.breakdown) if scored else [],
        created_by=by,
    )
    # Pairs are written as [mentor enrollment id, mentee enrollment id].
    audit_record(
        action=AuditEvent.Action.PROPOSAL_CHANGED, target=run, actor=by, summary="Paired by hand",
        before={"pairs": [list(p) for p in replaced]}, after={"pairs": [[mentor.pk, mentee.pk]]},
    )
    pair.left_alone = sorted(left_alone)
    return pair


def _require_still_in_program(*people: Enrollment) -> None:
    """Someone who withdrew, left or was erased after the run cannot be paired in it (a page
    loaded before they went may still offer it)."""
    fresh = Enrollment.objects.select_related("employee").in_bulk([p.pk for p in people])
    for person in people:
        person = fresh.get(person.pk, person)
        why = left_program(person)
        if why:
            raise MatchError(_("%(name)s %(why)s, so they cannot be paired in this proposal.") % {"name": person.employee.full_name, "why": why})


def _check_undo(proposed, mentor: Enrollment, mentee: Enrollment, capacity: int) -> None:
    names = {"mentor": mentor.employee.full_name, "mentee": mentee.employee.full_name}
    if proposed.filter(mentor=mentor, mentee=mentee).exists():
        raise MatchError(_("%(mentor)s and %(mentee)s are already paired again.") % names)
    hint = _("To pair them anyway, use “Pair two people by hand”.")
    since = proposed.filter(mentee=mentee).select_related("mentor__employee").first()
    if since is not None:
        raise MatchError(_("Not undone: %(mentee)s has been paired with %(other)s since.") % {**names, "other": since.mentor.employee.full_name} + " " + hint)
    theirs = list(proposed.filter(mentor=mentor).select_related("mentee__employee"))
    if len(theirs) >= capacity:
        others = engine.join_words([p.mentee.employee.full_name for p in theirs])
        raise MatchError(_("Not undone: %(mentor)s has been paired with %(other)s since.") % {**names, "other": others} + " " + hint)


@transaction.atomic
def proposal_swap(*, run: MatchRun, pair_a: Pair, pair_b: Pair, by) -> tuple[Pair, Pair]:
    """Exchange the mentors of two proposed pairs, if both new pairs are allowed."""
    run = _editable_run(run, by)
    inputs = _run_inputs(run)
    records = {p.id: p for p in (*inputs.mentors, *inputs.mentees)}
    a = Pair.objects.select_related("mentor", "mentee").get(pk=pair_a.pk, match_run=run, status=Pair.Status.PROPOSED)
    b = Pair.objects.select_related("mentor", "mentee").get(pk=pair_b.pk, match_run=run, status=Pair.Status.PROPOSED)
    problems = []
    exclusions = _exclusions_now(run, inputs)
    for mentor, mentee in ((a.mentor, b.mentee), (b.mentor, a.mentee)):
        violations = _pair_problems(records[mentor.employee_id], records[mentee.employee_id], inputs.policy, exclusions=exclusions)
        problems += [f"{mentor.employee.full_name} + {mentee.employee.full_name}: {v}" for v in violations]
    if problems:
        raise MatchError(_("Refused: %(why)s.") % {"why": "; ".join(problems)})
    a_mentor, b_mentor = a.mentor, b.mentor
    audit_record(
        action=AuditEvent.Action.PROPOSAL_CHANGED, target=run, actor=by, summary="Mentors swapped",
        before={"pairs": [[a.mentor_id, a.mentee_id], [b.mentor_id, b.mentee_id]]}, after={"pairs": [[b.mentor_id, a.mentee_id], [a.mentor_id, b.mentee_id]]},
    )
    a.delete()
    b.delete()
    new = []
    for mentor, mentee in ((b_mentor, a.mentee), (a_mentor, b.mentee)):
        scored = score_one(inputs=inputs, mentor_id=mentor.employee_id, mentee_id=mentee.employee_id)
        new.append(
            Pair.objects.create(
                program=run.program, mentor=mentor, mentee=mentee, match_run=run, source=_source_of(run, mentor.employee_id, mentee.employee_id), created_by=by,
                score=scored.score if scored else 0, breakdown=scored.breakdown.to_dict() if scored else {},
                reasons=engine.explain(scored.breakdown) if scored else [],
            )
        )
    return new[0], new[1]


@transaction.atomic
def proposal_unpair(*, run: MatchRun, pair: Pair, by) -> None:
    run = _editable_run(run, by)
    removed = list(Pair.objects.filter(pk=pair.pk, match_run=run, status=Pair.Status.PROPOSED).values_list("mentor_id", "mentee_id"))
    Pair.objects.filter(pk=pair.pk, match_run=run, status=Pair.Status.PROPOSED).delete()
    if removed:
        audit_record(action=AuditEvent.Action.PROPOSAL_CHANGED, target=run, actor=by, summary="Pair taken apart", before={"pairs": [list(p) for p in removed]}, after={"pairs": []})


def _require_runs_ahead(program: Program) -> None:
    """Pins and exclusions steer the next run: a completed program has none."""
    _require_not_archived(program)
    if program.status == Program.Status.COMPLETED:
        raise MatchError(_("The program has completed: there is no next run to steer."))


@transaction.atomic
def override_set(*, program: Program, mentor: Enrollment, mentee: Enrollment, kind: str, by) -> PairingOverride:
    """Pin or exclude a pair for the next run. A pin that breaks a hard rule is refused now."""
    _require_hr(by)
    _require_runs_ahead(program)
    if mentor.program_id != program.pk or mentee.program_id != program.pk or mentor.role != "mentor" or mentee.role != "mentee":
        raise MatchError(_("Choose a mentor and a mentee of this program."))
    if kind == PairingOverride.Kind.PIN:
        inputs, _by_employee = build_input(program=program)
        records = {p.id: p for p in (*inputs.mentors, *inputs.mentees)}
        m, e = records.get(mentor.employee_id), records.get(mentee.employee_id)
        if m is None or e is None:
            raise MatchError(_("Only approved people who are not yet paired can be pinned."))
        # This pair's own exclusion is what the pin replaces: HR changed their mind.
        others = [x for x in inputs.exclusions if tuple(x) != (m.id, e.id)]
        problems = _pair_problems(m, e, inputs.policy, exclusions=others)
        if problems:
            raise MatchError(_("Refused: %(why)s.") % {"why": "; ".join(problems)})
        if PairingOverride.objects.filter(program=program, mentee=mentee, kind=PairingOverride.Kind.PIN).exclude(mentor=mentor).exists():
            raise MatchError(_("%(name)s is already pinned to someone else.") % {"name": mentee.employee.full_name})
        pinned = [
            o.mentee.employee.full_name
            for o in PairingOverride.objects.filter(program=program, mentor=mentor, kind=PairingOverride.Kind.PIN).exclude(mentee=mentee).select_related("mentee__employee")
        ]
        room = inputs.policy.effective_capacity(m)
        if len(pinned) >= room:
            raise MatchError(
                ngettext(
                    "Refused: %(mentor)s can take %(n)s mentee in this program and is already pinned to %(names)s.",
                    "Refused: %(mentor)s can take %(n)s mentees in this program and is already pinned to %(names)s.",
                    room,
                )
                % {"mentor": mentor.employee.full_name, "n": room, "names": ", ".join(pinned)}
            )
    previous = PairingOverride.objects.filter(program=program, mentor=mentor, mentee=mentee).values_list("kind", flat=True).first()
    override, _created = PairingOverride.objects.update_or_create(program=program, mentor=mentor, mentee=mentee, defaults={"kind": kind, "created_by": by})
    override.replaced = previous if previous and previous != kind else None
    audit_record(
        action=AuditEvent.Action.OVERRIDE_SET, target=override, actor=by, summary=f"{kind} for “{program.name}” (program #{program.pk})",
        before={"kind": previous} if previous else {}, after={"kind": kind, "program": program.pk, "mentor": mentor.pk, "mentee": mentee.pk},
    )
    return override


@transaction.atomic
def override_remove(*, override: PairingOverride, by) -> None:
    _require_hr(by)
    _require_runs_ahead(override.program)
    audit_record(
        action=AuditEvent.Action.OVERRIDE_REMOVED, target=override, actor=by, summary=f"{override.kind} removed for program #{override.program_id}",
        before={"kind": override.kind, "program": override.program_id, "mentor": override.mentor_id, "mentee": override.mentee_id},
    )
    override.delete()


# --- Publish ----------------------------------------------------------------------------------------


def _absolute(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def _send(*, to: Employee, template: str, context: dict) -> None:
    send_templated(to=to, template=f"pairing/email/{template}", context=context)


@transaction.atomic
def match_run_publish(*, run: MatchRun, by) -> int:
    """Proposed pairs become active, both sides are told, the program moves on. Once."""
    _require_hr(by)
    # The run row is the lock: of two HR admins publishing at once, the second waits here
    # and then finds the run already published.
    run = MatchRun.objects.select_for_update(of=("self",)).select_related("program", "published_by").get(pk=run.pk)
    _require_not_archived(run.program)
    if run.status == RS.PUBLISHED:
        who = run.published_by.get_full_name() if run.published_by else _("someone")
        raise MatchError(_("These pairs were already published by %(who)s (%(when)s).") % {"who": who, "when": date_format(timezone.localtime(run.published_at), "DATETIME_FORMAT")})
    if run.status != RS.PROPOSED:
        raise MatchError(_("Only a finished proposal can be published (this run is %(status)s).") % {"status": run.get_status_display().lower()})
    now = timezone.now()
    pairs = list(Pair.objects.filter(match_run=run, status=Pair.Status.PROPOSED).select_related("mentor__employee__department", "mentee__employee__department"))
    if not pairs:
        raise MatchError(_("There are no pairs to publish."))
    try:
        with transaction.atomic():
            Pair.objects.filter(pk__in=[p.pk for p in pairs]).update(status=Pair.Status.ACTIVE, started_at=now)
    except IntegrityError as exc:
        raise MatchError(_("Someone in this proposal already has a live pair; run the matching again.")) from exc
    run.status = RS.PUBLISHED
    run.published_by = by
    run.published_at = now
    run.save(update_fields=["status", "published_by", "published_at"])
    audit_record(
        action=AuditEvent.Action.MATCH_RUN_PUBLISHED, target=run, actor=by, summary=f"{len(pairs)} {'pair' if len(pairs) == 1 else 'pairs'} published for program #{run.program_id}",
        before={"status": RS.PROPOSED}, after={"status": RS.PUBLISHED, "pairs": [p.pk for p in pairs]},
    )
    # A pin has done its work once its pair is live: it would otherwise stay listed "for the
    # next run", and pin the two together again if their pair ended.
    published = {(p.mentor_id, p.mentee_id) for p in pairs}
    for pin in PairingOverride.objects.filter(program=run.program, kind=PairingOverride.Kind.PIN):
        if (pin.mentor_id, pin.mentee_id) in published:
            audit_record(
                action=AuditEvent.Action.OVERRIDE_REMOVED, target=pin, actor=by, summary=f"pin removed for program #{run.program_id}: its pair was published",
                before={"kind": pin.kind, "program": pin.program_id, "mentor": pin.mentor_id, "mentee": pin.mentee_id},
            )
            pin.delete()
    program = run.program
    if program.status == Program.Status.MATCHING:
        from programs.services import program_transition

        program_transition(program=program, to=Program.Status.ACTIVE, by=by, note=_("Pairs published"))
    # Telling everyone renders two emails a pair: ~1.7 ms each, 8 s at 2,500 pairs. A small
    # run is told here, in this transaction; a large one by a Celery task moments later (the
    # run row, announced_at still null, is what owes it: a lost nudge is found by the sweep).
    if len(pairs) <= settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS:
        _announce(run, pairs)
    else:
        from .tasks import announce_match_run

        nudge_on_commit(announce_match_run, run.pk)
    return len(pairs)


def match_run_announce(*, run_id: int) -> int:
    """Tell everyone of a published run that has not been told yet; returns the emails
    written. Exactly once: the emails and announced_at commit together, and a second worker
    skips a run another holds (or finds it told)."""
    with transaction.atomic():
        run = (
            MatchRun.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=run_id, status=RS.PUBLISHED, announced_at__isnull=True)
            .select_related("program")
            .first()
        )
        if run is None:
            return 0
        # A pair ended in the seconds since publishing has had its own email.
        pairs = list(Pair.objects.filter(match_run=run, status__in=LIVE).select_related("mentor__employee__department", "mentee__employee__department"))
        return _announce(run, pairs)


def _announce(run: MatchRun, pairs: list[Pair]) -> int:
    """Both sides of each pair, then whoever the run left without a partner: written to the
    outbox in bulk, each under a key of its own (a second pass adds nothing)."""
    from mentoring.services import outbox_add_many

    program = run.program
    home = _absolute("participant_home")
    today = timezone.localdate()
    mail = []

    def add(key: str, to: Employee, template: str, context: dict) -> None:
        mail.append((render_templated(to=to, template=f"pairing/email/{template}", context=context), key))

    for pair in pairs:
        for me, partner, role in ((pair.mentor, pair.mentee, "mentor"), (pair.mentee, pair.mentor, "mentee")):
            add(f"pair-published:{pair.pk}:{role}", me.employee, "paired", {"program": program, "partner": partner.employee, "role": role, "home_url": home, "pair": pair, "today": today})
    # Everyone this run considered who is still without a partner hears so too, rather than
    # wondering: no reason is given (the engine's may rest on someone's confidential request).
    pool = {person["id"] for side in ("mentors", "mentees") for person in (run.inputs or {}).get(side, ())}
    # Not someone this run paired whose pair HR has ended since (they were paired, not left out).
    paired = Q(mentor_id=OuterRef("pk")) | Q(mentee_id=OuterRef("pk"))
    left_out = (
        Enrollment.objects.filter(program=program, status=Enrollment.Status.APPROVED, employee_id__in=pool, employee__left_date__isnull=True, employee__erased_at__isnull=True)
        .exclude(Exists(Pair.objects.filter(paired, status__in=LIVE)))
        .exclude(Exists(Pair.objects.filter(paired, match_run=run)))
        .annotate(
            last_pair=Subquery(Pair.objects.filter(paired, status=Pair.Status.ENDED).order_by("-ended_at", "-pk").values("pk")[:1]),
            last_ended_at=Subquery(Pair.objects.filter(paired, status=Pair.Status.ENDED).order_by("-ended_at", "-pk").values("ended_at")[:1]),
        )
        .select_related("employee")
    )
    # Once per spell without a partner, not per run: the email promises the next one will
    # say they are paired, and a re-match that leaves them out again has nothing new to tell.
    # Someone whose pair has ended since is in a new spell (the pair-ended email said they
    # could be paired again): their key names that pair. Told under an earlier key (per run
    # before this rule, per person before spells) after that pair ended counts as told.
    left_out = list(left_out)
    earlier_runs = MatchRun.objects.filter(program=program, status=RS.PUBLISHED).exclude(pk=run.pk).values_list("pk", flat=True)
    told_at: dict[int, datetime.datetime] = {}
    earlier_keys = [f"run-not-paired:{r}:{e.pk}" for r in earlier_runs for e in left_out] + [f"not-paired:{e.pk}" for e in left_out]
    for key, at in OutboxMessage.objects.filter(idempotency_key__in=earlier_keys).values_list("idempotency_key", "created_at"):
        pk = int(key.rsplit(":", 1)[1])
        told_at[pk] = max(at, told_at.get(pk, at))
    for enrollment in left_out:
        told = told_at.get(enrollment.pk)
        if told is not None and (enrollment.last_ended_at is None or told >= enrollment.last_ended_at):
            continue
        spell = f":after-pair-{enrollment.last_pair}" if enrollment.last_pair is not None else ""
        add(f"not-paired:{enrollment.pk}{spell}", enrollment.employee, "not_paired", {"program": program, "role": enrollment.role, "home_url": home})
    outbox_add_many(messages=mail)
    run.announced_at = timezone.now()
    run.save(update_fields=["announced_at"])
    return len(mail)


def program_start_problems(*, program: Program) -> list[str]:
    """A program becomes active when its pairs are published."""
    if not Pair.objects.filter(program=program, status__in=LIVE).exists():
        return [_("Publish the proposed pairs first: publishing starts the program.")]
    return []


# --- Ending pairs -----------------------------------------------------------------------------------


@transaction.atomic
def pair_end(*, pair: Pair, reason: str, by, note: str = "", notify: bool = True, with_program: bool = False) -> Pair:
    """End a live pair with a reason and date; the people in it are told."""
    # The pair's row only: locking its program too (select_related) made every ending in a
    # program queue behind one another and could deadlock with a transition of the program.
    pair = Pair.objects.select_for_update(of=("self",)).select_related("program", "mentor__employee", "mentee__employee").get(pk=pair.pk)
    _require_not_archived(pair.program)
    if pair.status not in LIVE:
        raise MatchError(_("This pair has already ended."))
    if reason not in Pair.EndReason.values:
        raise MatchError(_("Choose why the pair ends."))
    was = pair.status
    pair.status = Pair.Status.ENDED
    pair.ended_at = timezone.now()
    pair.end_reason = reason
    pair.end_note = note[:500]
    pair.ended_by = by
    pair.save(update_fields=["status", "ended_at", "end_reason", "end_note", "ended_by"])
    # Who ended it and why; the note is the person's own words and stays out of the log.
    audit_record(
        # Ended by nobody in particular (a leaver in an import, a withdrawal): whoever's request
        # it was (the HR admin applying the roster, the person withdrawing); a task's is System.
        action=AuditEvent.Action.PAIR_ENDED, target=pair, actor=by if by is not None else FROM_REQUEST, summary=f"Pair #{pair.pk} ended ({pair.get_end_reason_display().lower()}) in program #{pair.program_id}",
        before={"status": was}, after={"status": Pair.Status.ENDED, "reason": reason},
    )
    # Its future meetings go with it: both calendars get the cancellation, reminders stop.
    from sessions_log.services import meetings_cancel_for_ended_pair  # sessions_log imports this module

    cancelled = meetings_cancel_for_ended_pair(pair=pair)
    pair.kept_apart = _keep_apart_after_end(pair, by)
    if notify:
        home = _absolute("participant_home")
        for me, partner in ((pair.mentor, pair.mentee), (pair.mentee, pair.mentor)):
            if by is not None and me.employee.user_id == by.pk:
                continue  # the person who ended it knows
            _send(
                to=me.employee, template="pair_ended",
                context={
                    "program": pair.program, "partner": partner.employee, "reason": pair.get_end_reason_display(), "home_url": home,
                    "pair_url": f"{settings.SITE_URL}/pairs/{pair.pk}/",
                    # Who ended it: the partner, or HR (anyone else); and whether they stay in a
                    # program that can pair them again.
                    "ended_by_partner": by is not None and partner.employee.user_id == by.pk,
                    # A pair that ends with its program is not HR's doing, whoever pressed the button.
                    "ended_by_hr": by is not None and partner.employee.user_id != by.pk and not with_program,
                    "rematch": pair.end_reason != Pair.EndReason.COMPLETED and pair.program.status == Program.Status.ACTIVE and me.status == Enrollment.Status.APPROVED,
                    "early": pair.end_reason != Pair.EndReason.COMPLETED,
                    "cancelled_meetings": len(cancelled),
                },
            )
    return pair


# Check-ins: HR may write to a pair at most once in this long.
NUDGE_INTERVAL = datetime.timedelta(hours=24)


def _live_pair_for_hr(pair: Pair, by) -> Pair:
    _require_hr(by)
    pair = Pair.objects.select_for_update(of=("self",)).select_related("program", "mentor__employee", "mentee__employee").get(pk=pair.pk)
    _require_not_archived(pair.program)
    if pair.status not in LIVE:
        raise MatchError(_("This pair has ended."))
    return pair


def _tell_both(pair: Pair, template: str, context: dict, headers: dict | None = None) -> None:
    for me, partner in ((pair.mentor, pair.mentee), (pair.mentee, pair.mentor)):
        send_templated(
            to=me.employee, template=f"pairing/email/{template}", headers=headers,
            context={"program": pair.program, "partner": partner.employee, "pair_url": _absolute("pair_detail", pair.pk), **context},
        )


@transaction.atomic
def pair_pause(*, pair: Pair, by, note: str = "") -> Pair:
    """Put a live pair on hold (leave, workload): it is not flagged as stuck or chased for
    going quiet while paused; both people are told, with the note."""
    pair = _live_pair_for_hr(pair, by)
    if pair.status == Pair.Status.PAUSED:
        raise MatchError(_("This pair is already paused."))
    pair.status, pair.paused_at, pair.pause_note = Pair.Status.PAUSED, timezone.now(), note.strip()[:500]
    pair.save(update_fields=["status", "paused_at", "pause_note"])
    audit_record(action=AuditEvent.Action.PAIR_PAUSED, target=pair, actor=by, summary=f"Pair #{pair.pk} paused in program #{pair.program_id}", before={"status": Pair.Status.ACTIVE}, after={"status": Pair.Status.PAUSED})
    _tell_both(pair, "pair_paused", {"note": pair.pause_note})
    return pair


@transaction.atomic
def pair_resume(*, pair: Pair, by) -> Pair:
    """A paused pair is active again; both people are told."""
    pair = _live_pair_for_hr(pair, by)
    if pair.status != Pair.Status.PAUSED:
        raise MatchError(_("This pair is not paused."))
    paused_at = pair.paused_at
    pair.status, pair.paused_at, pair.pause_note, pair.resumed_at = Pair.Status.ACTIVE, None, "", timezone.now()
    pair.save(update_fields=["status", "paused_at", "pause_note", "resumed_at"])
    audit_record(action=AuditEvent.Action.PAIR_RESUMED, target=pair, actor=by, summary=f"Pair #{pair.pk} resumed in program #{pair.program_id}", before={"status": Pair.Status.PAUSED}, after={"status": Pair.Status.ACTIVE})
    _tell_both(pair, "pair_resumed", {"paused_at": paused_at})
    return pair


def next_check_in(pair: Pair):
    """When HR may check in on the pair again, or None when they may now."""
    if pair.nudged_at is None or timezone.now() - pair.nudged_at >= NUDGE_INTERVAL:
        return None
    return pair.nudged_at + NUDGE_INTERVAL


@transaction.atomic
def pair_nudge(*, pair: Pair, by, message: str = "") -> Pair:
    """HR checks in on a pair: one email to each of them, with HR's message and a link to
    their pair page. At most one a day, so a double click or a second admin sends nothing twice."""
    pair = _live_pair_for_hr(pair, by)
    if pair.status == Pair.Status.PAUSED:
        raise MatchError(_("This pair is paused: resume it before checking in."))
    if pair.program.status != Program.Status.ACTIVE:
        raise MatchError(_("Check-ins are for pairs of a program that is running."))
    if next_check_in(pair) is not None:
        when = date_format(timezone.localtime(pair.nudged_at), "DATETIME_FORMAT")
        raise MatchError(_("A check-in already went to this pair on %(when)s; one a day at most.") % {"when": when})
    pair.nudged_at = timezone.now()
    pair.check_in_note, pair.check_in_by = message.strip()[:1000], by
    pair.save(update_fields=["nudged_at", "check_in_note", "check_in_by"])
    audit_record(action=AuditEvent.Action.PAIR_NUDGED, target=pair, actor=by, summary=f"Check-in sent to pair #{pair.pk} in program #{pair.program_id}")
    # Replies go to the HR admin who wrote, not to the no-reply sender.
    _tell_both(pair, "pair_nudge", {"message": message.strip()[:1000], "sender": by.get_full_name() or _("HR")}, headers={"Reply-To": by.email})
    return pair


def pairs_end_with_program(*, program: Program, by) -> int:
    """A program that completes ends its live pairs ("Program completed"): their future
    meetings are cancelled and both people are told and asked for their reflection.

    Up to PAIRING_PUBLISH_SYNC_MAX_PAIRS pairs end in the caller's transaction; more (about
    14 queries and two emails each: a request would time out and roll back) end in a Celery
    task right after commit. The live pairs of a completed program are what is owed, so the
    beat sweep finds a lost nudge. Returns how many ended here (0 when left to the task)."""
    live = Pair.objects.filter(program=program, status__in=LIVE).order_by("pk")
    if live.count() > settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS:
        from .tasks import end_pairs_of_completed_program

        nudge_on_commit(end_pairs_of_completed_program, program.pk)
        return 0
    ended = 0
    for pair in live:
        pair_end(pair=pair, reason=Pair.EndReason.COMPLETED, by=by, with_program=True)
        ended += 1
    return ended


# Pairs ended per transaction by the task: a worker stopped midway keeps what it finished.
PROGRAM_END_BATCH = 50


def pairs_end_for_completed_program(*, program_id: int) -> int:
    """End what is left live in a completed program, in batches of their own transactions.
    Safe to run twice at once: each pair is locked and ended once, the other run skips it.
    Ended by whoever completed the program (the emails do not blame them either way)."""
    from programs.models import ProgramTransition  # noqa: PLC0415 - the transition row says who

    last = ProgramTransition.objects.filter(program_id=program_id, to_status=Program.Status.COMPLETED).select_related("by").order_by("-pk").first()
    by = last.by if last else None
    ended, after = 0, 0
    while True:
        with transaction.atomic():
            # Rows another run holds are skipped, not waited for: it is ending them.
            batch = list(
                Pair.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(program_id=program_id, program__status=Program.Status.COMPLETED, status__in=LIVE, pk__gt=after)
                .order_by("pk")[:PROGRAM_END_BATCH]
            )
            if not batch:
                break
            after = batch[-1].pk
            for pair in batch:
                try:
                    pair_end(pair=pair, reason=Pair.EndReason.COMPLETED, by=by, with_program=True)  # a savepoint of its own
                except MatchError:
                    continue  # another run ended it first
                except Exception:  # noqa: BLE001 - one pair that cannot end must not hold up the rest
                    logger.exception("Could not end pair %s of completed program %s; it stays live for HR to end.", pair.pk, program_id)
                    continue
                ended += 1
    if ended and not Pair.objects.filter(program_id=program_id, status__in=LIVE).exists():
        # The final figures, now that every pair has ended (the transition left them to us).
        from programs.snapshots import snapshot_request  # noqa: PLC0415 - snapshots reads programs

        with transaction.atomic():
            snapshot_request(program=Program.objects.get(pk=program_id), by=by)
    return ended


def program_archive_problems(*, program: Program) -> list[str]:
    """A completed program is archived once its pairs have all ended (a large one ends them
    in the background for a minute or two)."""
    if Pair.objects.filter(program=program, status__in=LIVE).exists():
        return [_("Its pairs are still being ended and their people told: archive it once that has finished (usually a minute or two).")]
    return []


def _keep_apart_after_end(pair: Pair, by) -> bool:
    """A pair that ended while both people stay in the program is not proposed again: an
    exclusion for the next runs, shown with the other pins and exclusions, where HR can remove
    it.  Not after the program completed, nor when one of them has withdrawn, left or been
    erased (they are out of the pool anyway).  True when the exclusion is in place."""
    if pair.end_reason == Pair.EndReason.COMPLETED:
        return False
    people = Enrollment.objects.filter(pk__in=(pair.mentor_id, pair.mentee_id), status=Enrollment.Status.APPROVED, employee__left_date__isnull=True, employee__erased_at__isnull=True)
    if people.count() != 2:
        return False
    override, created = PairingOverride.objects.get_or_create(
        program=pair.program, mentor_id=pair.mentor_id, mentee_id=pair.mentee_id, defaults={"kind": PairingOverride.Kind.EXCLUDE, "created_by": by}
    )
    if not created and override.kind == PairingOverride.Kind.EXCLUDE:
        return True
    previous = None if created else override.kind
    if previous:  # a pin of a pair that has now ended
        override.kind, override.created_by = PairingOverride.Kind.EXCLUDE, by
        override.save(update_fields=["kind", "created_by"])
    audit_record(
        action=AuditEvent.Action.OVERRIDE_SET, target=override, actor=by, summary=f"exclude for program #{pair.program_id}: the pair ended",
        before={"kind": previous} if previous else {}, after={"kind": PairingOverride.Kind.EXCLUDE, "program": pair.program_id, "mentor": pair.mentor_id, "mentee": pair.mentee_id, "pair": pair.pk},
    )
    return True


@transaction.atomic
def pairs_end_for_withdrawal(*, enrollment: Enrollment) -> list[Pair]:
    """A participant withdrew: their proposed pairs go, live ones end, partners are told."""
    Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status=Pair.Status.PROPOSED).delete()
    ended = []
    for pair in Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status__in=LIVE):
        ended.append(pair_end(pair=pair, reason=Pair.EndReason.WITHDRAWAL, by=None, notify=False))
        partner = pair.mentee if pair.mentor_id == enrollment.pk else pair.mentor
        _send(to=partner.employee, template="partner_left", context={"program": pair.program, "home_url": _absolute("participant_home")})
    return ended


@transaction.atomic
def pairs_end_for_leavers(*, employee_ids) -> list[Pair]:
    """People who left the company: their live pairs end, partners still here are told."""
    employee_ids = set(employee_ids)
    Pair.objects.filter(Q(mentor__employee_id__in=employee_ids) | Q(mentee__employee_id__in=employee_ids), status=Pair.Status.PROPOSED).delete()
    ended = []
    live = Pair.objects.filter(Q(mentor__employee_id__in=employee_ids) | Q(mentee__employee_id__in=employee_ids), status__in=LIVE).select_related("program", "mentor__employee", "mentee__employee")
    for pair in live:
        ended.append(pair_end(pair=pair, reason=Pair.EndReason.LEFT_COMPANY, by=None, notify=False))
        for partner in (pair.mentor, pair.mentee):
            if partner.employee_id not in employee_ids:
                _send(to=partner.employee, template="partner_left", context={"program": pair.program, "home_url": _absolute("participant_home")})
    return ended
