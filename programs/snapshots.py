"""Compute a program's metric snapshot with SQL aggregates (no Python loop over rows).

The numbers gathered here go through the pure formulas in programs/metrics.py; the result
is stored as one MetricSnapshot per program per day, replaced when recomputed.

A snapshot can describe a past day (`as_of`): every row counts from its own date (a pair
from its start, a session log from when it was logged, a survey from when it was sent in)
and statuses are read back from the dates that changed them, so a snapshot as of three
weeks ago shows what a snapshot taken then would have shown. That is how the trends of a
program are backfilled. A change that leaves no date behind (a pause, a goal's progress, a
person's level) is read as it stands now. Survey answers to a finished program count on its
last day whenever they came in: its final survey closes weeks after it.
"""

import datetime
import time

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Avg, Case, Count, DurationField, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from mentoring.models import Employee, EmployeeEvent

from . import metrics
from .models import Enrollment, EnrollmentTopic, MetricSnapshot, Program

LIVE = ("active", "paused")
FINISHED = (Program.Status.COMPLETED, Program.Status.ARCHIVED)
LEVEL_BANDS = [("L1–3", 1, 3), ("L4–5", 4, 5), ("L6–7", 6, 7), ("L8+", 8, 99)]
# The figures the executive trend draws, by their path in a snapshot. Each snapshot also
# carries them as one small "trend" object: the trend reads a year of snapshots, and picking
# eight paths out of each whole document costs the database eight reads of it.
TREND_FIGURES = {
    "match_rate": "match_rate",
    "paired_mentees": "matching__paired_mentees",
    "approved_mentees": "matching__approved_mentees",
    "cadence": "meetings__cadence_adherence",
    "meetings": "meetings__per_pair_per_month",
    "nps": "nps__score",
    "nps_n": "nps__n",
    "insights": "insight_to_action__insights",
    "actions": "insight_to_action__actions_committed",
    "done": "insight_to_action__actions_done",
}
# The HR page names the quietest stuck pairs; the snapshot keeps that many and the count of
# all, so that a snapshot's size (read on every page view) does not grow with the program.
STUCK_LIST_LIMIT = 50
# Meetings a month are shown once the pairs have had this many days each on average.
MIN_DAYS_FOR_A_RATE = 7


def _days(delta) -> float:
    if delta is None:
        return 0.0
    if isinstance(delta, datetime.timedelta):
        return delta.total_seconds() / 86400
    return float(delta) / 86_400_000_000  # SQLite returns microseconds


def snapshot_moment(as_of: datetime.date | None = None) -> tuple[datetime.date, datetime.datetime]:
    """The day a snapshot is for and the moment its numbers describe: now for today (or a
    day not yet over), the last instant of the day for a past day."""
    now = timezone.now()
    today = timezone.localdate(now)
    if as_of is None or as_of >= today:
        return today, now
    return as_of, timezone.make_aware(datetime.datetime.combine(as_of, datetime.time.max))


def _enrollments_then(program: Program, at: datetime.datetime):
    """The program's enrollments that existed at `at`, each with its status then.

    A status change with no date recorded (rows made before dates were kept, or by tests) is
    taken to date from when the enrollment was created."""
    S = Enrollment.Status
    return (
        Enrollment.objects.filter(program=program, created_at__lte=at)
        .alias(
            withdrawn_on=Coalesce("withdrawn_at", "created_at"),
            decided_on=Coalesce("decided_at", "applied_at", "created_at"),
            applied_on=Coalesce("applied_at", "created_at"),
        )
        .annotate(
            status_then=Case(
                When(status=S.WITHDRAWN, withdrawn_on__lte=at, then=Value(S.WITHDRAWN)),
                When(status__in=[S.APPROVED, S.WAITLISTED, S.DECLINED], decided_on__lte=at, then=F("status")),
                # Withdrew after that day, and had been decided on by then: people withdraw from a
                # place they hold far more often than from the waitlist, so count an approval.
                When(status=S.WITHDRAWN, decided_at__lte=at, then=Value(S.APPROVED)),
                When(~Q(status=S.INVITED), applied_on__lte=at, then=Value(S.APPLIED)),
                default=Value(S.INVITED),
            )
        )
    )


def _pairs_then(program: Program, at: datetime.datetime):
    """Pairs published by `at` (proposals never count), each with its status then."""
    from pairing.models import Pair

    return (
        Pair.objects.filter(program=program)
        .exclude(status=Pair.Status.PROPOSED)
        .alias(began=Coalesce("started_at", "created_at"))
        .filter(began__lte=at)
        .annotate(status_then=Case(When(ended_at__lte=at, then=Value("ended")), When(status="paused", then=Value("paused")), default=Value("active")))
    )


def compute(*, program: Program, as_of: datetime.date | None = None) -> dict:
    """The program's metrics at the end of `as_of` (today, up to now, when not given)."""
    from sessions_log.models import ActionItem, AgreementGoal, Feedback, Insight, Meeting, MeetingChange, PulseAlert, SessionLog, SurveyAnswer, SurveyResponse
    from sessions_log.selectors import pairs_quiet, stuck_q

    day, at = snapshot_moment(as_of)
    data: dict = {"as_of": day.isoformat(), "computed_at": at.isoformat()}

    # --- enrollment and funnel
    enrollments = _enrollments_then(program, at)
    enrollment = {role: {s: 0 for s in Enrollment.Status.values} for role in ("mentor", "mentee")}
    for row in enrollments.values("role", "status_then").annotate(n=Count("id")).order_by():
        enrollment[row["role"]][row["status_then"]] = row["n"]
    data["enrollment"] = enrollment
    pairs = _pairs_then(program, at)
    live = pairs.filter(status_then__in=LIVE)
    people = pairs.aggregate(
        mentees=Count("mentee", distinct=True),
        mentors=Count("mentor", distinct=True),
        live_mentees=Count("mentee", distinct=True, filter=Q(status_then__in=LIVE)),
        live_mentors=Count("mentor", distinct=True, filter=Q(status_then__in=LIVE)),
        active=Count("id", filter=Q(status_then="active")),
        paused=Count("id", filter=Q(status_then="paused")),
        ended=Count("id", filter=Q(status_then="ended")),
    )
    total = {s: enrollment["mentor"][s] + enrollment["mentee"][s] for s in Enrollment.Status.values}
    ever_applied = total["applied"] + total["approved"] + total["waitlisted"] + total["declined"] + total["withdrawn"]
    data["funnel"] = {
        "invited": ever_applied + total["invited"],
        "applied": ever_applied,
        "approved": total["approved"],
        "paired": people["mentees"] + people["mentors"],
        "active": people["live_mentees"] + people["live_mentors"],
    }
    # Mentees who were paired count as approved even if they withdrew since.
    approved_mentees = enrollments.filter(role="mentee").filter(Q(status_then="approved") | Q(pk__in=pairs.values("mentee_id"))).count()
    data["match_rate"] = metrics.match_rate(paired_mentees=people["mentees"], approved_mentees=approved_mentees)
    # Both sides of the rate travel with it: the rate falls when newly approved mentees wait
    # for a pair (the denominator grows), never because a pair ended, and the pages say so.
    data["matching"] = {"paired_mentees": people["mentees"], "approved_mentees": approved_mentees}

    # --- pairs and activity
    # Stuck as the pair page and the reminder sweep have it (one definition, in the selectors).
    # Quietest first: the HR page names the first of them.
    stuck = list(
        pairs_quiet(live, at=at)
        .filter(stuck_q(at=at, after_days=program.stuck_after_days))
        .order_by("last_activity", "pk")
        .values_list("pk", "mentor__employee_id", "mentee__employee_id")
    )
    data["pairs"] = {"active": people["active"], "paused": people["paused"], "ended": people["ended"], "stuck": len(stuck)}

    first_meeting = Meeting.objects.filter(pair=OuterRef("pk"), status="scheduled", created_at__lte=at).order_by("starts_at").values("starts_at")[:1]
    ttfm = pairs.annotate(first=Subquery(first_meeting)).filter(first__isnull=False, started_at__isnull=False).aggregate(
        avg=Avg(ExpressionWrapper(F("first") - F("started_at"), output_field=DurationField())), n=Count("id")
    )
    data["time_to_first_meeting_days"] = {"mean": round(_days(ttfm["avg"]), 1) if ttfm["n"] else None, "n": ttfm["n"]}

    # Days each pair has been live up to `at`, and the meetings each held by then.
    spans = {pk: max((min(ended or at, at) - started).total_seconds() / 86400, 0.0) for pk, started, ended in pairs.filter(started_at__isnull=False).values_list("pk", "started_at", "ended_at")}
    pair_days = sum(spans.values())
    held_by_pair = dict(
        Meeting.objects.filter(pair__in=pairs, status="scheduled", starts_at__lte=at, created_at__lte=at).values("pair").annotate(n=Count("id")).order_by().values_list("pair", "n")
    )
    held = sum(held_by_pair.values())
    minutes = SessionLog.objects.filter(pair__in=pairs, created_at__lte=at).aggregate(m=Coalesce(Sum("minutes"), 0), n=Count("id"))
    data["meetings"] = {
        "held": held,
        "logged_sessions": minutes["n"],
        "minutes_logged": minutes["m"],
        # A rate over pairs a week old on average or more: pairs an hour old read "0.0 a month".
        "per_pair_per_month": _round(metrics.meetings_per_pair_per_month(meetings=held, pair_days=pair_days, min_pair_days=MIN_DAYS_FOR_A_RATE * len(spans))),
        "cadence_adherence": _round(metrics.cadence_adherence(pairs=((held_by_pair.get(pk, 0), days) for pk, days in spans.items()), cadence_days=program.cadence_days)),
    }
    cancellations = {"mentor": 0, "mentee": 0}
    for row in MeetingChange.objects.filter(meeting__pair__in=pairs, kind="cancelled", at__lte=at).values("requested_by_role").annotate(n=Count("id")).order_by():
        cancellations[row["requested_by_role"]] = row["n"]
    published = people["active"] + people["paused"] + people["ended"]
    data["cancellations"] = {**cancellations, "senior_side": cancellations["mentee"], "senior_side_per_pair": _round(metrics.ratio(cancellations["mentee"], published))}

    fb = Feedback.objects.filter(pair__in=pairs, created_at__lte=at).aggregate(u=Avg("usefulness"), s=Avg("psychological_safety"), n=Count("id"))
    data["feedback"] = {"usefulness": {"mean": _round(fb["u"]), "n": fb["n"]}, "psychological_safety": {"mean": _round(fb["s"]), "n": fb["n"]}}
    data["pulse_alerts"] = PulseAlert.objects.filter(pair__in=pairs, created_at__lte=at).aggregate(
        open=Count("id", filter=Q(resolved_at__isnull=True) | Q(resolved_at__gt=at)), total=Count("id")
    )

    # --- surveys: NPS from each person's latest answer (final, else midpoint)
    # A finished program's final survey stays open for weeks after its last day (and opens only
    # then when it ended early): its figures as of that day count every answer given so far.
    answered_by = max(at, timezone.now()) if program.status in FINISHED and day >= program.ends_on else at
    submitted = SurveyResponse.objects.filter(enrollment__program=program, submitted_at__lte=answered_by)
    has_final = Exists(SurveyResponse.objects.filter(enrollment=OuterRef("enrollment"), kind="final", submitted_at__lte=answered_by))
    latest = submitted.filter(would_recommend__isnull=False).filter(Q(kind="final") | (Q(kind="midpoint") & ~has_final))
    buckets = latest.aggregate(p=Count("id", filter=Q(would_recommend__gte=9)), d=Count("id", filter=Q(would_recommend__lte=6)), n=Count("id"))
    score, n = metrics.nps_from_counts(promoters=buckets["p"], passives=buckets["n"] - buckets["p"] - buckets["d"], detractors=buckets["d"])
    data["nps"] = {"score": _round(score, 1), "n": n}

    final_answers = SurveyAnswer.objects.filter(response__in=submitted.filter(kind="final"))
    baseline = EnrollmentTopic.objects.filter(enrollment=OuterRef("response__enrollment"), topic=OuterRef("topic"), kind="learn").values("level")[:1]
    uplift = (
        final_answers.filter(topic__isnull=False)
        .annotate(baseline=Subquery(baseline, output_field=IntegerField()))
        .filter(baseline__isnull=False)
        .values("topic__name")
        .annotate(mean=Avg(F("score") - F("baseline")), n=Count("id"))
        .order_by("topic__name")
    )
    data["uplift_mentee"] = [{"topic": row["topic__name"], "mean": _round(row["mean"]), "n": row["n"]} for row in uplift]
    growth_base = SurveyAnswer.objects.filter(response__enrollment=OuterRef("response__enrollment"), response__kind="baseline", growth_item=OuterRef("growth_item")).values("score")[:1]
    growth = (
        final_answers.filter(topic__isnull=True)
        .annotate(baseline=Subquery(growth_base, output_field=IntegerField()))
        .filter(baseline__isnull=False)
        .values("growth_item")
        .annotate(mean=Avg(F("score") - F("baseline")), n=Count("id"))
        .order_by("growth_item")
    )
    labels = dict(SurveyAnswer.GROWTH_ITEMS)
    data["growth_mentor"] = [{"item": row["growth_item"], "label": str(labels.get(row["growth_item"], row["growth_item"])), "mean": _round(row["mean"]), "n": row["n"]} for row in growth]
    # Goals keep no history of their progress: a past day shows today's progress of the goals
    # of the pairs that existed then.
    goals = AgreementGoal.objects.filter(agreement__pair__in=pairs).aggregate(mean=Avg("progress"), n=Count("id"))
    data["goal_progress"] = {"mean": _round(goals["mean"], 1), "n": goals["n"]}

    # --- insight to action: counts and topics, never the text
    insights = Insight.objects.filter(pair__in=pairs, created_at__lte=at)
    actions = ActionItem.objects.filter(pair__in=pairs, created_at__lte=at).alias(done_on=Coalesce("done_at", "created_at"))
    by_topic = {row["topic__name"] or "Other": {"topic": row["topic__name"] or "Other", "insights": row["n"], "actions": 0, "done": 0} for row in insights.values("topic__name").annotate(n=Count("id")).order_by()}
    for row in actions.values("insight__topic__name").annotate(n=Count("id"), done=Count("id", filter=Q(status="done", done_on__lte=at))).order_by():
        entry = by_topic.setdefault(row["insight__topic__name"] or "Other", {"topic": row["insight__topic__name"] or "Other", "insights": 0, "actions": 0, "done": 0})
        entry["actions"], entry["done"] = row["n"], row["done"]
    themes = sorted(by_topic.values(), key=lambda r: r["topic"])
    data["insight_to_action"] = {
        "insights": sum(t["insights"] for t in themes),
        "actions_committed": sum(t["actions"] for t in themes),
        "actions_done": sum(t["done"] for t in themes),
        "by_topic": themes,
    }

    # --- retention and promotion against peers of the same levels, over the same period
    participants = enrollments.filter(status_then="approved")
    data["retention"], data["promotion"] = _career(program=program, participants=participants, until=day)

    # --- breakdowns (suppressed at display time; n travels with each value)
    in_live_pair = Q(pk__in=live.values("mentor_id")) | Q(pk__in=live.values("mentee_id"))
    by_dept = participants.values("employee__department__name").annotate(people=Count("id"), active=Count("id", filter=in_live_pair)).order_by("employee__department__name")
    data["by_department"] = [{"group": r["employee__department__name"], "people": r["people"], "in_active_pairs": r["active"]} for r in by_dept]
    bands = participants.aggregate(**{label: Count("id", filter=Q(employee__level__gte=lo, employee__level__lte=hi)) for label, lo, hi in LEVEL_BANDS})
    data["by_level_band"] = [{"group": label, "people": bands[label]} for label, _lo, _hi in LEVEL_BANDS]
    data["by_topic"] = [
        {"group": r["topic__name"], "people": r["people"]}
        for r in EnrollmentTopic.objects.filter(enrollment__in=participants).values("topic__name").annotate(people=Count("enrollment", distinct=True)).order_by("topic__name")
    ]
    # Who is in each pair by directory id, never by name: the page reads names when it shows
    # them, so a corrected or erased name does not live on in a snapshot.
    data["pair_health"] = {"stuck_pairs": [{"pair": pk, "mentor": mentor, "mentee": mentee} for pk, mentor, mentee in stuck[:STUCK_LIST_LIMIT]]}
    data["trend"] = {key: _pick(data, path) for key, path in TREND_FIGURES.items()}
    return data


def _pick(data: dict, path: str):
    for key in path.split("__"):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _career(*, program: Program, participants, until: datetime.date):
    """Participants against current non-participants at the same levels over the program's period."""
    start, end = program.starts_on, min(until, program.ends_on)
    participant_ids = participants.values("employee_id")
    levels = list(Employee.objects.filter(pk__in=participant_ids).order_by().values_list("level", flat=True).distinct())
    at_start = Employee.objects.filter(level__in=levels).filter(Q(hire_date__isnull=True) | Q(hire_date__lte=start)).filter(Q(left_date__isnull=True) | Q(left_date__gte=start))
    promoted = EmployeeEvent.objects.filter(employee=OuterRef("pk"), kind=EmployeeEvent.Kind.LEVEL_CHANGE, effective_date__gte=start, effective_date__lte=end, to_level__gt=F("from_level"))
    # Grouped by taking part (rather than one filtered count per figure) so that each
    # person's membership is looked up once, not once per figure.
    groups = {
        row["in_program"]: row
        for row in at_start.annotate(in_program=Exists(participants.filter(employee=OuterRef("pk"))))
        .values("in_program")
        .annotate(n=Count("id"), stayed=Count("id", filter=Q(left_date__isnull=True) | Q(left_date__gt=end)), promoted=Count("id", filter=Q(Exists(promoted))))
        .order_by()
    }
    empty = {"n": 0, "stayed": 0, "promoted": 0}
    group, peers = groups.get(True, empty), groups.get(False, empty)
    # Only people with the company when the program began can be compared with peers over its
    # period; the pages say how many participants that leaves out, and why, so the figure
    # reconciles with the participant total next to it.
    left_out = participants.aggregate(
        all=Count("id"), joined_after_start=Count("id", filter=Q(employee__hire_date__gt=start)), left_before_start=Count("id", filter=Q(employee__left_date__lt=start))
    )
    coverage = {"n_all_participants": left_out["all"], "n_joined_after_start": left_out["joined_after_start"], "n_left_before_start": left_out["left_before_start"]}
    retention = metrics.rate_difference(group_events=group["stayed"], group_size=group["n"], peer_events=peers["stayed"], peer_size=peers["n"])
    promotion = metrics.rate_difference(group_events=group["promoted"], group_size=group["n"], peer_events=peers["promoted"], peer_size=peers["n"])
    return _rounded({**retention, **coverage}), _rounded({**promotion, **coverage})


def _round(value, digits: int = 2):
    return None if value is None else round(float(value), digits)


def _rounded(d: dict) -> dict:
    return {k: (_round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


@transaction.atomic
def snapshot_save(*, program: Program, as_of: datetime.date | None = None) -> MetricSnapshot:
    """Compute and store the snapshot for `as_of` (today when not given; a completed or archived
    program's last day when that has passed, so that its final figures stay its latest);
    running it again for the same day replaces it. Its computed_at is the moment the numbers
    describe."""
    if as_of is None and program.status in (Program.Status.COMPLETED, Program.Status.ARCHIVED):
        as_of = min(program.ends_on, timezone.localdate())
    if connection.vendor == "postgresql":
        # PostgreSQL's JIT compiles each of these one-off aggregates for longer (over a second
        # apiece at a million session logs) than it then takes to run it.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
    data = compute(program=program, as_of=as_of)
    computed_at = datetime.datetime.fromisoformat(data["computed_at"])
    snapshot, _created = MetricSnapshot.objects.update_or_create(program=program, as_of=datetime.date.fromisoformat(data["as_of"]), defaults={"data": data, "computed_at": computed_at})
    # A recomputed past day keeps its computed_at (the day's last instant): bump the program's
    # dashboard version so a cached executive page is not served for it.
    transaction.on_commit(lambda: cache.set(dashboard_version_key(program.pk), time.time_ns(), None))
    return snapshot


def snapshot_save_run(*, program: Program) -> int:
    """Snapshots over the program's own run: as of the last day (Sunday) of each week from its
    start, and as of its last day (today, for a program still running). For a program whose
    nightly snapshots began after it had ended, or stopped when it was archived, so that its
    trend covers the run. Safe to run twice: each day is replaced. Returns the days saved."""
    last = min(program.ends_on, timezone.localdate())
    if last < program.starts_on:
        return 0
    days = []
    day = program.starts_on + datetime.timedelta(days=6 - program.starts_on.weekday())
    while day < last:
        days.append(day)
        day += datetime.timedelta(weeks=1)
    days.append(last)
    for day in days:
        snapshot_save(program=program, as_of=day)
    return len(days)


def dashboard_version_key(program_id: int) -> str:
    return f"executive-dashboard-version:{program_id}"


@transaction.atomic
def snapshot_request(*, program: Program, by) -> "SnapshotRun":
    """HR asks for fresh numbers: a run is queued (one at a time per program) and Celery
    computes it after commit; the dashboard shows its progress."""
    from mentoring.queue import nudge_on_commit

    from .models import SnapshotRun
    from .tasks import run_snapshot

    existing = SnapshotRun.objects.filter(program=program, status__in=[SnapshotRun.Status.QUEUED, SnapshotRun.Status.RUNNING]).first()
    if existing is not None:
        return existing
    run = SnapshotRun.objects.create(program=program, requested_by=by)
    nudge_on_commit(run_snapshot, run.pk)
    return run
