"""Reads for the HR pairing pages, each scoped to one program.

HR admins see every program, so the scope is the program in the URL: a run, pair or override
of another program is never found (404), whatever id is typed.
"""

from dataclasses import dataclass, field, replace

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _, gettext_lazy

from programs.models import Enrollment, Program

from . import engine
from .models import MatchRun, Pair, PairingOverride

LIVE = (Pair.Status.ACTIVE, Pair.Status.PAUSED)
PEOPLE = ("mentor__employee__department", "mentee__employee__department")


def match_runs_of(*, program: Program) -> QuerySet[MatchRun]:
    """The program's runs; ``pair_count``, ``pair_total`` and ``paired_mentees`` are what a
    run holds now (HR may have changed the engine's proposal during review; a replaced
    proposal holds none)."""
    # Ordered here: Django leaves Meta.ordering out of a query with GROUP BY (the count).
    return (
        program.match_runs.select_related("started_by", "published_by")
        .defer("inputs", "result")
        .annotate(pair_count=Count("pairs"), pair_total=Sum("pairs__score"), paired_mentees=Count("pairs__mentee", distinct=True))
        .order_by("-created_at", "-id")
    )


def match_run_of(*, program: Program, run_id: int) -> MatchRun:
    """The run, or MatchRun.DoesNotExist when it belongs to another program."""
    return MatchRun.objects.select_related("program", "started_by", "published_by").get(pk=run_id, program=program)


def run_in_progress(*, program: Program) -> MatchRun | None:
    return program.match_runs.filter(status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]).defer("inputs", "result").first()


def run_pairs(*, run: MatchRun) -> QuerySet[Pair]:
    """The pairs a run produced (proposed, or active/ended once published), best first."""
    return Pair.objects.filter(match_run=run).select_related(*PEOPLE).order_by("-score", "id")


PAIR_FILTERS = {
    "live": gettext_lazy("Live"),
    "stuck": gettext_lazy("Gone quiet"),
    "paused": gettext_lazy("Paused"),
    "ended": gettext_lazy("Ended"),
}


def program_pairs(*, program: Program, show: str = "", search: str = "") -> QuerySet[Pair]:
    """Live and ended pairs of the program (not unpublished proposals): live first, newest
    first, each with ``last_activity`` and ``booked`` (see sessions_log.selectors.pairs_quiet).
    ``show`` narrows to one of PAIR_FILTERS; ``search`` matches either person's name or email."""
    from sessions_log.selectors import pairs_quiet, stuck_q  # sessions_log reads pairing's models

    pairs = Pair.objects.filter(program=program, status__in=[*LIVE, Pair.Status.ENDED])
    if show == "live":
        pairs = pairs.filter(status__in=LIVE)
    elif show in ("paused", "ended"):
        pairs = pairs.filter(status=show)
    for word in search.split()[:5]:
        pairs = pairs.filter(
            Q(mentor__employee__first_name__icontains=word) | Q(mentor__employee__last_name__icontains=word) | Q(mentor__employee__email__icontains=word)
            | Q(mentee__employee__first_name__icontains=word) | Q(mentee__employee__last_name__icontains=word) | Q(mentee__employee__email__icontains=word)
        )
    now = timezone.now()
    pairs = pairs_quiet(pairs, at=now)
    if show == "stuck":
        pairs = pairs.filter(stuck_q(at=now, after_days=program.stuck_after_days), status__in=LIVE) if program.status == Program.Status.ACTIVE else pairs.none()
    return (
        pairs.select_related(*PEOPLE, "ended_by")
        .annotate(ended_last=Case(When(status=Pair.Status.ENDED, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("ended_last", "-started_at", "id")
    )


def pair_counts(*, program: Program) -> dict:
    """Live, paused and ended pairs of the program (one query)."""
    return Pair.objects.filter(program=program).aggregate(
        live=Count("id", filter=Q(status__in=LIVE)), paused=Count("id", filter=Q(status=Pair.Status.PAUSED)), ended=Count("id", filter=Q(status=Pair.Status.ENDED))
    )


def program_pair(*, program: Program, pair_id: int) -> Pair:
    """A published pair of the program, or Pair.DoesNotExist (another program's, or a proposal)."""
    return Pair.objects.select_related("program", *PEOPLE, "ended_by", "check_in_by").get(pk=pair_id, program=program, status__in=[*LIVE, Pair.Status.ENDED])


def overrides_of(*, program: Program) -> QuerySet[PairingOverride]:
    """Pins and exclusions; ``after_end`` marks an exclusion of two people whose pair ended."""
    ended = Pair.objects.filter(program=OuterRef("program"), mentor=OuterRef("mentor"), mentee=OuterRef("mentee"), status=Pair.Status.ENDED)
    return (
        PairingOverride.objects.filter(program=program)
        .select_related("mentor__employee", "mentee__employee", "created_by")
        .annotate(after_end=Exists(ended))
        .order_by("kind", "created_at", "id")
    )


def approved_enrollments(*, program: Program, role: str) -> QuerySet[Enrollment]:
    """Approved people still with the company, each with ``has_pair`` (a live pair in the
    program: only people without one can be pinned, so the choosers say who has)."""
    live = Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status__in=LIVE)
    return (
        program.enrollments.filter(status=Enrollment.Status.APPROVED, role=role, employee__left_date__isnull=True, employee__erased_at__isnull=True)
        .annotate(has_pair=Exists(live))
        .select_related("employee__department")
        .order_by("employee__last_name", "employee__first_name", "id")
    )


def _in_pool() -> Q:
    """Approved people who can still be paired (as build_input reads the pool): not leavers
    (nor leaving on a date still to come), not erased."""
    return Q(status=Enrollment.Status.APPROVED, employee__left_date__isnull=True, employee__erased_at__isnull=True)


def _no_live_pair() -> Exists:
    return ~Exists(Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status__in=LIVE))


def pool_counts(*, program: Program) -> dict:
    """Approved mentors and mentees, how many of the people who can still be paired have no
    live pair (a mentor whose mentee withdrew is one of them), and how many applications wait
    for HR's review (late joiners, once enrollment has closed); one query."""
    approved = Q(status=Enrollment.Status.APPROVED)
    waiting = _in_pool() & _no_live_pair()
    return program.enrollments.filter(status__in=(Enrollment.Status.APPROVED, Enrollment.Status.APPLIED)).aggregate(
        mentors=Count("id", filter=approved & Q(role="mentor")),
        mentees=Count("id", filter=approved & Q(role="mentee")),
        unpaired_mentors=Count("id", filter=waiting & Q(role="mentor")),
        unpaired_mentees=Count("id", filter=waiting & Q(role="mentee")),
        waiting_review=Count("id", filter=Q(status=Enrollment.Status.APPLIED)),
    )


def waiting_for_partner(*, program: Program) -> QuerySet[Enrollment]:
    """The people pool_counts counts as without a live pair: approved, still here, in no live
    pair of the program. Each carries their latest ended pair, if any (``last_pair_id``,
    ``last_pair_ended_at``, ``last_pair_end_reason``): whose pair ended most recently first,
    then those never paired, by name. One query."""
    ended = Pair.objects.filter(Q(mentor=OuterRef("pk")) | Q(mentee=OuterRef("pk")), status=Pair.Status.ENDED).order_by("-ended_at", "-pk")
    return (
        program.enrollments.filter(_in_pool() & _no_live_pair())
        .annotate(
            last_pair_id=Subquery(ended.values("pk")[:1]),
            last_pair_ended_at=Subquery(ended.values("ended_at")[:1]),
            last_pair_end_reason=Subquery(ended.values("end_reason")[:1]),
        )
        .select_related("employee__department")
        .order_by(F("last_pair_ended_at").desc(nulls_last=True), "role", "employee__last_name", "employee__first_name", "id")
    )


def left_program(enrollment: Enrollment) -> str:
    """Why someone of a run's pool can no longer be paired in it, as words that follow their
    name ("withdrew"; "" while they can): they were erased, left the company (or are leaving
    it), withdrew, or are no longer approved. Read
    from the enrollment and its employee only, so a page can ask it of every row for free."""
    employee = enrollment.employee
    if employee.erased_at is not None:
        return _("was erased")
    if employee.left_date is not None:
        if employee.left_date > timezone.localdate():
            return _("is leaving the company on %(day)s") % {"day": date_format(employee.left_date)}
        return _("left the company")
    return {
        Enrollment.Status.APPROVED: "",
        Enrollment.Status.WITHDRAWN: _("withdrew"),
        Enrollment.Status.DECLINED: _("was declined"),
        Enrollment.Status.WAITLISTED: _("is on the waiting list"),
    }.get(enrollment.status, _("is not approved"))


def mark_left_program(enrollments) -> None:
    """Give each enrollment shown its ``left_program`` reason (pairing/_person.html offers no
    alternatives to someone who has one)."""
    for enrollment in enrollments:
        if enrollment is not None:
            enrollment.left_program = left_program(enrollment)


def run_pool_enrollments(*, run: MatchRun, role: str | None = None, current: bool = False) -> QuerySet[Enrollment]:
    """The enrollments of the people in the run's pool (as the engine saw it), by name;
    ``current``: only those who can still be paired (see left_program)."""
    inputs = run.inputs or {}
    sides = ("mentors", "mentees") if role is None else (f"{role}s",)
    ids = [p["id"] for side in sides for p in inputs.get(side, ())]
    qs = Enrollment.objects.filter(program_id=run.program_id, employee_id__in=ids).select_related("employee__department")
    if role is not None:
        qs = qs.filter(role=role)
    if current:
        qs = qs.filter(_in_pool())
    return qs.order_by("employee__last_name", "employee__first_name", "id")


def run_pool(*, run: MatchRun) -> dict[int, Enrollment]:
    """Employee id -> enrollment for everyone in the run's pool, in one query."""
    if not run.inputs:
        return {}
    return {e.employee_id: e for e in run_pool_enrollments(run=run)}


def newer_run(*, run: MatchRun) -> MatchRun | None:
    """The run that superseded this one: the first later run that reached a proposal (a
    failed or unfinished run in between replaced nothing)."""
    return (
        run.program.match_runs.filter(created_at__gt=run.created_at, status__in=(MatchRun.Status.PROPOSED, MatchRun.Status.PUBLISHED, MatchRun.Status.SUPERSEDED))
        .defer("inputs", "result")
        .order_by("created_at", "id")
        .first()
    )


@dataclass
class PairedElsewhere:
    """Someone's live pairs in one other program, on one side: what HR should know before
    pairing them again here (the engine caps a mentor's live pairs across programs, and
    says nothing about the rest)."""

    program: Program
    side: str  # "mentor": they mentor people there; "mentee": someone mentors them there
    partners: list[str] = field(default_factory=list)

    NAMED = 3  # more partners than this are counted, not named

    @property
    def text(self) -> str:
        values = {"program": self.program.name, "names": engine.join_words(self.partners), "n": len(self.partners)}
        if self.side == "mentee":
            return _("Also mentored by %(names)s in %(program)s") % values
        if len(self.partners) > self.NAMED:
            return _("Also mentoring %(n)s people in %(program)s") % values
        return _("Also mentoring %(names)s in %(program)s") % values


def paired_elsewhere(*, program: Program) -> dict[int, list[PairedElsewhere]]:
    """Employee id -> the live pairs (active or paused) that the people enrolled in
    ``program`` have in other programs, one entry per program and side. One query, however
    many people the page shows."""
    enrolled = Enrollment.objects.filter(program=program).values("employee_id")
    pairs = (
        Pair.objects.filter(status__in=LIVE)
        .exclude(program=program)
        .filter(Q(mentor__employee_id__in=enrolled) | Q(mentee__employee_id__in=enrolled))
        .select_related("program", "mentor__employee", "mentee__employee")
        .order_by("program__starts_on", "program_id", "pk")
    )
    found: dict[tuple[int, int, str], PairedElsewhere] = {}
    for pair in pairs:
        for side, me, partner in (("mentor", pair.mentor, pair.mentee), ("mentee", pair.mentee, pair.mentor)):
            entry = found.setdefault((me.employee_id, pair.program_id, side), PairedElsewhere(program=pair.program, side=side))
            entry.partners.append(partner.employee.full_name)
    by_person: dict[int, list[PairedElsewhere]] = {}
    for (employee_id, _program, _side), entry in found.items():
        by_person.setdefault(employee_id, []).append(entry)
    return by_person


def mark_paired_elsewhere(enrollments, elsewhere: dict[int, list[PairedElsewhere]]) -> None:
    """Give each enrollment shown its ``paired_elsewhere`` list (for pairing/_person.html)."""
    for enrollment in enrollments:
        if enrollment is not None:
            enrollment.paired_elsewhere = elsewhere.get(enrollment.employee_id, [])


@dataclass
class Unpaired:
    enrollment: Enrollment | None
    person_id: int
    side: str
    reason: str  # an engine reason code; "" when HR took the pair apart during review, "partner_left" when the partner has gone
    message: str
    reason_label: str = ""  # filled in by the view, in the reader's language


def unpaired_people(*, run: MatchRun, pool: dict[int, Enrollment], pairs: list[Pair]) -> list[Unpaired]:
    """Who the proposal leaves without a partner, with the engine's reason.

    The engine's list is the starting point; while HR edits the proposal, people paired by hand
    drop out of it and people whose pair was taken apart join it.
    """
    paired_mentors = {p.mentor.employee_id for p in pairs}
    paired_mentees = {p.mentee.employee_id for p in pairs}
    # Who has left the program since the run (withdrew, left, erased) is listed apart
    # (people_left_program): nobody can pair them, and nobody took their pair apart.
    gone = {pid for pid, e in pool.items() if left_program(e)}
    out, seen = [], set(gone)
    for u in (run.result or {}).get("unmatched", ()):
        pid, side = u["id"], u["side"]
        if pid in gone:
            continue
        seen.add(pid)
        if pid in (paired_mentors if side == "mentor" else paired_mentees):
            continue
        out.append(Unpaired(enrollment=pool.get(pid), person_id=pid, side=side, reason=u["reason"], message=u["message"]))
    if run.status in (MatchRun.Status.PROPOSED, MatchRun.Status.PUBLISHED):  # taken apart in review
        # The engine's partner, to tell a pair HR took apart from one whose partner has gone.
        proposed_with: dict[int, list[int]] = {}
        for p in (run.result or {}).get("pairs", ()):
            proposed_with.setdefault(p.get("mentor"), []).append(p.get("mentee"))
            proposed_with.setdefault(p.get("mentee"), []).append(p.get("mentor"))
        for side, key, paired in (("mentee", "mentees", paired_mentees), ("mentor", "mentors", paired_mentors)):
            for p in (run.inputs or {}).get(key, ()):
                if p["id"] not in paired and p["id"] not in seen:
                    partner = next((pool[pid] for pid in proposed_with.get(p["id"], ()) if pid in gone and pid not in paired_mentors | paired_mentees), None)
                    if partner is not None:
                        message = _("Their partner in this proposal, %(name)s, %(why)s.") % {"name": partner.employee.full_name, "why": left_program(partner)}
                        out.append(Unpaired(enrollment=pool.get(p["id"]), person_id=p["id"], side=side, reason="partner_left", message=message))
                    else:
                        out.append(Unpaired(enrollment=pool.get(p["id"]), person_id=p["id"], side=side, reason="", message=""))
    out.sort(key=lambda u: (u.side != "mentee", u.enrollment.employee.full_name if u.enrollment else ""))
    return out


def people_left_program(*, pool: dict[int, Enrollment], pairs: list[Pair]) -> list[Enrollment]:
    """The people of the run's pool who can no longer be paired in it and are in none of its
    pairs (a published pair that ended when they left stays in the pairs table), mentees
    first, each with ``left_program`` saying why."""
    in_pairs = {e.employee_id for p in pairs for e in (p.mentor, p.mentee)}
    out = []
    for enrollment in pool.values():
        enrollment.left_program = left_program(enrollment)
        if enrollment.left_program and enrollment.employee_id not in in_pairs:
            out.append(enrollment)
    out.sort(key=lambda e: (e.role != "mentee", e.employee.full_name, e.pk))
    return out


@dataclass
class AlternativeRow:
    enrollment: Enrollment | None
    score: int
    reasons: list[str]
    drawbacks: list[str]
    below_min_score: bool
    paired_with: list[Enrollment] = field(default_factory=list)
    # What "Pair them instead" would do: who it leaves without a partner, or why it would be
    # refused (the mentor's mentees fill their capacity, or they are at the cross-program cap).
    leaves_alone: list[str] = field(default_factory=list)
    blocked: str = ""

    @property
    def leaves_alone_text(self) -> str:
        return engine.join_words(self.leaves_alone) if self.leaves_alone else ""


@dataclass
class Alternatives:
    person: Enrollment
    side: str
    rows: list[AlternativeRow]
    current: list[Enrollment]
    problem: str = ""
    why_none: str = ""  # with no rows: the rules that rule the others out, counted
    left_program: str = ""  # with problem "left_program": why (see left_program)


def alternatives_for(*, run: MatchRun, enrollment: Enrollment, k: int = 3) -> Alternatives:
    """The best `k` allowed partners for one person of the run's pool, other than their
    current partner(s) in the run. Forbidden partners (reporting line, "please not with",
    exclusions, seniority) never appear: the engine scores them -1."""
    side = enrollment.role
    if not run.inputs:
        return Alternatives(person=enrollment, side=side, rows=[], current=[], problem="no_inputs")
    why_left = left_program(enrollment)
    if why_left:
        return Alternatives(person=enrollment, side=side, rows=[], current=[], problem="left_program", left_program=why_left)
    inputs = engine.PairingInput.from_dict(run.inputs)
    # People who have left the program since the run are nobody's alternative.
    gone = set(run_pool_enrollments(run=run).exclude(_in_pool()).values_list("employee_id", flat=True))
    if gone:
        inputs = replace(inputs, mentors=[m for m in inputs.mentors if m.id not in gone], mentees=[m for m in inputs.mentees if m.id not in gone])
    pairs = list(
        Pair.objects.filter(match_run=run)
        .exclude(status=Pair.Status.ENDED)
        .select_related("mentor__employee", "mentee__employee")
    )
    mine = [p for p in pairs if enrollment.pk in (p.mentor_id, p.mentee_id)]
    current = []
    for p in mine:  # each current partner with their pair's score and row, to compare and go back to
        partner = p.mentee if side == "mentor" else p.mentor
        partner.current_score, partner.current_pair_pk = p.score, p.pk
        current.append(partner)
    current_ids = {e.employee_id for e in current}
    try:
        found = engine.alternatives(inputs, enrollment.employee_id, k=k + len(current_ids))
    except engine.PairingError:
        return Alternatives(person=enrollment, side=side, rows=[], current=current, problem="not_in_pool")
    found = [a for a in found if a.partner_id not in current_ids][:k]
    people = {
        e.employee_id: e
        for e in Enrollment.objects.filter(program_id=run.program_id, employee_id__in=[a.partner_id for a in found]).select_related("employee__department")
    }
    partners_of: dict[int, list[Enrollment]] = {}
    for p in pairs:
        partners_of.setdefault(p.mentor.employee_id, []).append(p.mentee)
        partners_of.setdefault(p.mentee.employee_id, []).append(p.mentor)
    mentors = {m.id: m for m in inputs.mentors}

    def effect(mentor_id, mentee_id, mentor_name: str) -> tuple[list[str], str]:
        """Mirrors services.proposal_pair_manually: the mentee's mentor gives them up; a
        mentor with room for one gives up their mentee; a fuller mentor, or one at the limit
        of live pairs across programs, is refused (and gets no button)."""
        left, blocked = [], ""
        theirs = [e for e in partners_of.get(mentor_id, []) if e.employee_id != mentee_id]
        room = inputs.policy.effective_capacity(mentors[mentor_id]) if mentor_id in mentors else 1
        if room == 0:
            blocked = _("%(name)s cannot take a mentee: they are at the limit of active pairs across programs.") % {"name": mentor_name}
        elif len(theirs) >= room:
            if len(theirs) == 1 and room == 1:
                left.append(theirs[0].employee.full_name)
            else:
                blocked = _("%(name)s already has as many mentees as they can take: unpair one of them first to pair these two.") % {"name": mentor_name}
        for old_mentor in partners_of.get(mentee_id, []):
            if old_mentor.employee_id != mentor_id and len(partners_of.get(old_mentor.employee_id, [])) == 1:
                left.append(old_mentor.employee.full_name)
        return sorted(left), blocked

    rows = []
    for a in found:
        items = engine.explain_items(a.breakdown)
        partner = people.get(a.partner_id)
        if side == "mentor":
            leaves_alone, blocked = effect(enrollment.employee_id, a.partner_id, enrollment.employee.full_name)
        else:
            leaves_alone, blocked = effect(a.partner_id, enrollment.employee_id, partner.employee.full_name if partner else "")
        rows.append(
            AlternativeRow(
                enrollment=people.get(a.partner_id),
                score=a.score,
                reasons=[text for text, drawback in items if not drawback],
                drawbacks=[text for text, drawback in items if drawback],
                below_min_score=a.below_min_score,
                paired_with=partners_of.get(a.partner_id, []),
                leaves_alone=leaves_alone,
                blocked=blocked,
            )
        )
    why_none = "" if rows else engine.forbidden_summary(inputs, enrollment.employee_id)
    return Alternatives(person=enrollment, side=side, rows=rows, current=current, why_none=why_none)
