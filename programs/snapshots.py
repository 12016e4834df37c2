"""Compute a program's metric snapshot with SQL aggregates (no Python loop over rows).

The numbers gathered here go through the pure formulas in programs/metrics.py; the result
is stored as one MetricSnapshot per program per day, replaced when recomputed.
"""

import datetime

from django.db import transaction
from django.db.models import Avg, Count, DurationField, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from mentoring.models import Employee, EmployeeEvent

from . import metrics
from .models import Enrollment, EnrollmentTopic, MetricSnapshot, Program

LIVE = ("active", "paused")
LEVEL_BANDS = [("L1–3", 1, 3), ("L4–5", 4, 5), ("L6–7", 6, 7), ("L8+", 8, 99)]


def _days(delta) -> float:
    if delta is None:
        return 0.0
    if isinstance(delta, datetime.timedelta):
        return delta.total_seconds() / 86400
    return float(delta) / 86_400_000_000  # SQLite returns microseconds


def compute(*, program: Program, now: datetime.datetime | None = None) -> dict:
    from pairing.models import Pair
    from sessions_log.models import ActionItem, AgreementGoal, Feedback, Insight, Meeting, MeetingChange, PulseAlert, SessionLog, SurveyAnswer, SurveyResponse

    now = now or timezone.now()
    today = timezone.localdate(now)
    data: dict = {"as_of": today.isoformat(), "computed_at": now.isoformat()}

    # --- enrollment and funnel
    enrollment = {role: {s: 0 for s in Enrollment.Status.values} for role in ("mentor", "mentee")}
    for row in Enrollment.objects.filter(program=program).values("role", "status").annotate(n=Count("id")):
        enrollment[row["role"]][row["status"]] = row["n"]
    data["enrollment"] = enrollment
    pairs = Pair.objects.filter(program=program).exclude(status="proposed")
    paired_people = pairs.aggregate(mentees=Count("mentee", distinct=True), mentors=Count("mentor", distinct=True))
    active_people = pairs.filter(status__in=LIVE).aggregate(mentees=Count("mentee", distinct=True), mentors=Count("mentor", distinct=True))
    total = {s: enrollment["mentor"][s] + enrollment["mentee"][s] for s in Enrollment.Status.values}
    ever_applied = total["applied"] + total["approved"] + total["waitlisted"] + total["declined"] + total["withdrawn"]
    data["funnel"] = {
        "invited": ever_applied + total["invited"],
        "applied": ever_applied,
        "approved": total["approved"],
        "paired": paired_people["mentees"] + paired_people["mentors"],
        "active": active_people["mentees"] + active_people["mentors"],
    }
    approved_mentees = Enrollment.objects.filter(program=program, role="mentee").filter(Q(status="approved") | Q(pairs_as_mentee__status__in=[*LIVE, "ended"])).distinct().count()
    data["match_rate"] = metrics.match_rate(paired_mentees=paired_people["mentees"], approved_mentees=approved_mentees)

    # --- pairs and activity
    last_meeting = Meeting.objects.filter(pair=OuterRef("pk"), status="scheduled", starts_at__lte=now).order_by("-starts_at").values("starts_at")[:1]
    last_log = SessionLog.objects.filter(pair=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    stuck_before = now - datetime.timedelta(days=program.stuck_after_days)
    live = pairs.filter(status__in=LIVE).annotate(
        last_activity=Coalesce(Subquery(last_log), Subquery(last_meeting), F("started_at")),
        last_meeting_at=Subquery(last_meeting),
    )
    counts = pairs.aggregate(active=Count("id", filter=Q(status="active")), paused=Count("id", filter=Q(status="paused")), ended=Count("id", filter=Q(status="ended")))
    stuck_ids = list(live.filter(Q(last_activity__lt=stuck_before) & (Q(last_meeting_at__isnull=True) | Q(last_meeting_at__lt=stuck_before))).values_list("id", flat=True))
    data["pairs"] = {**counts, "stuck": len(stuck_ids)}

    first_meeting = Meeting.objects.filter(pair=OuterRef("pk"), status="scheduled").order_by("starts_at").values("starts_at")[:1]
    ttfm = pairs.annotate(first=Subquery(first_meeting)).filter(first__isnull=False, started_at__isnull=False).aggregate(
        avg=Avg(ExpressionWrapper(F("first") - F("started_at"), output_field=DurationField())), n=Count("id")
    )
    data["time_to_first_meeting_days"] = {"mean": round(_days(ttfm["avg"]), 1) if ttfm["n"] else None, "n": ttfm["n"]}

    pair_time = pairs.filter(started_at__isnull=False).aggregate(
        total=Sum(ExpressionWrapper(Least(Coalesce(F("ended_at"), Value(now)), Value(now)) - F("started_at"), output_field=DurationField()))
    )
    pair_days = _days(pair_time["total"])
    meetings = Meeting.objects.filter(pair__in=pairs)
    held = meetings.filter(status="scheduled", starts_at__lte=now).count()
    minutes = SessionLog.objects.filter(pair__in=pairs).aggregate(m=Coalesce(Sum("minutes"), 0), n=Count("id"))
    data["meetings"] = {
        "held": held,
        "logged_sessions": minutes["n"],
        "minutes_logged": minutes["m"],
        "per_pair_per_month": _round(metrics.meetings_per_pair_per_month(meetings=held, pair_days=pair_days)),
        "cadence_adherence": _round(metrics.cadence_adherence(meetings=held, pair_days=pair_days, cadence_days=program.cadence_days)),
    }
    cancellations = {"mentor": 0, "mentee": 0}
    for row in MeetingChange.objects.filter(meeting__pair__in=pairs, kind="cancelled").values("requested_by_role").annotate(n=Count("id")):
        cancellations[row["requested_by_role"]] = row["n"]
    data["cancellations"] = {**cancellations, "senior_side": cancellations["mentee"], "senior_side_per_pair": _round(metrics.ratio(cancellations["mentee"], counts["active"] + counts["ended"] + counts["paused"]))}

    fb = Feedback.objects.filter(pair__in=pairs).aggregate(u=Avg("usefulness"), s=Avg("psychological_safety"), n=Count("id"))
    data["feedback"] = {"usefulness": {"mean": _round(fb["u"]), "n": fb["n"]}, "psychological_safety": {"mean": _round(fb["s"]), "n": fb["n"]}}
    data["pulse_alerts"] = {"open": PulseAlert.objects.filter(pair__in=pairs, resolved_at__isnull=True).count(), "total": PulseAlert.objects.filter(pair__in=pairs).count()}

    # --- surveys: NPS from each person's latest answer (final, else midpoint)
    responses = SurveyResponse.objects.filter(enrollment__program=program, would_recommend__isnull=False)
    latest = responses.filter(Q(kind="final") | (Q(kind="midpoint") & ~Exists(SurveyResponse.objects.filter(enrollment=OuterRef("enrollment"), kind="final"))))
    buckets = latest.aggregate(p=Count("id", filter=Q(would_recommend__gte=9)), d=Count("id", filter=Q(would_recommend__lte=6)), n=Count("id"))
    score, n = metrics.nps_from_counts(promoters=buckets["p"], passives=buckets["n"] - buckets["p"] - buckets["d"], detractors=buckets["d"])
    data["nps"] = {"score": _round(score, 1), "n": n}

    baseline = EnrollmentTopic.objects.filter(enrollment=OuterRef("response__enrollment"), topic=OuterRef("topic"), kind="learn").values("level")[:1]
    uplift = (
        SurveyAnswer.objects.filter(response__enrollment__program=program, response__kind="final", topic__isnull=False)
        .annotate(baseline=Subquery(baseline, output_field=IntegerField()))
        .filter(baseline__isnull=False)
        .values("topic__name")
        .annotate(mean=Avg(F("score") - F("baseline")), n=Count("id"))
        .order_by("topic__name")
    )
    data["uplift_mentee"] = [{"topic": row["topic__name"], "mean": _round(row["mean"]), "n": row["n"]} for row in uplift]
    growth_base = SurveyAnswer.objects.filter(response__enrollment=OuterRef("response__enrollment"), response__kind="baseline", growth_item=OuterRef("growth_item")).values("score")[:1]
    growth = (
        SurveyAnswer.objects.filter(response__enrollment__program=program, response__kind="final", topic__isnull=True)
        .annotate(baseline=Subquery(growth_base, output_field=IntegerField()))
        .filter(baseline__isnull=False)
        .values("growth_item")
        .annotate(mean=Avg(F("score") - F("baseline")), n=Count("id"))
        .order_by("growth_item")
    )
    labels = dict(SurveyAnswer.GROWTH_ITEMS)
    data["growth_mentor"] = [{"item": row["growth_item"], "label": str(labels.get(row["growth_item"], row["growth_item"])), "mean": _round(row["mean"]), "n": row["n"]} for row in growth]
    goals = AgreementGoal.objects.filter(agreement__pair__in=pairs).aggregate(mean=Avg("progress"), n=Count("id"))
    data["goal_progress"] = {"mean": _round(goals["mean"], 1), "n": goals["n"]}

    # --- insight to action: counts and topics, never the text
    insights = Insight.objects.filter(pair__in=pairs)
    actions = ActionItem.objects.filter(pair__in=pairs)
    by_topic = {row["topic__name"] or "Other": {"topic": row["topic__name"] or "Other", "insights": row["n"], "actions": 0, "done": 0} for row in insights.values("topic__name").annotate(n=Count("id"))}
    for row in actions.values("insight__topic__name").annotate(n=Count("id"), done=Count("id", filter=Q(status="done"))):
        entry = by_topic.setdefault(row["insight__topic__name"] or "Other", {"topic": row["insight__topic__name"] or "Other", "insights": 0, "actions": 0, "done": 0})
        entry["actions"], entry["done"] = row["n"], row["done"]
    data["insight_to_action"] = {"insights": insights.count(), "actions_committed": actions.count(), "actions_done": actions.filter(status="done").count(), "by_topic": sorted(by_topic.values(), key=lambda r: r["topic"])}

    # --- retention and promotion against peers of the same levels, over the same period
    data["retention"], data["promotion"] = _career(program=program, today=today)

    # --- breakdowns (suppressed at display time; n travels with each value)
    participants = Enrollment.objects.filter(program=program, status="approved")
    by_dept = participants.values("employee__department__name").annotate(people=Count("id"), active=Count("pairs_as_mentor", filter=Q(pairs_as_mentor__status__in=LIVE), distinct=True) + Count("pairs_as_mentee", filter=Q(pairs_as_mentee__status__in=LIVE), distinct=True)).order_by("employee__department__name")
    data["by_department"] = [{"group": r["employee__department__name"], "people": r["people"], "in_active_pairs": r["active"]} for r in by_dept]
    bands = participants.aggregate(**{label: Count("id", filter=Q(employee__level__gte=lo, employee__level__lte=hi)) for label, lo, hi in LEVEL_BANDS})
    data["by_level_band"] = [{"group": label, "people": bands[label]} for label, _lo, _hi in LEVEL_BANDS]
    data["by_topic"] = [
        {"group": r["topic__name"], "people": r["people"]}
        for r in EnrollmentTopic.objects.filter(enrollment__in=participants).values("topic__name").annotate(people=Count("enrollment", distinct=True)).order_by("topic__name")
    ]
    data["pair_health"] = {"stuck_pair_ids": stuck_ids}
    return data


def _career(*, program: Program, today: datetime.date):
    """Participants against current non-participants at the same levels over the program's period."""
    start, end = program.starts_on, min(today, program.ends_on)
    participant_ids = Enrollment.objects.filter(program=program, status="approved").values("employee_id")
    levels = list(Employee.objects.filter(pk__in=participant_ids).values_list("level", flat=True).distinct())
    at_start = Employee.objects.filter(level__in=levels).filter(Q(hire_date__isnull=True) | Q(hire_date__lte=start)).filter(Q(left_date__isnull=True) | Q(left_date__gte=start))
    promoted = EmployeeEvent.objects.filter(employee=OuterRef("pk"), kind=EmployeeEvent.Kind.LEVEL_CHANGE, effective_date__gte=start, effective_date__lte=end, to_level__gt=F("from_level"))
    stats = at_start.annotate(in_program=Exists(Enrollment.objects.filter(program=program, status="approved", employee=OuterRef("pk"))), was_promoted=Exists(promoted)).aggregate(
        p_n=Count("id", filter=Q(in_program=True)),
        p_stayed=Count("id", filter=Q(in_program=True) & (Q(left_date__isnull=True) | Q(left_date__gt=end))),
        p_promoted=Count("id", filter=Q(in_program=True, was_promoted=True)),
        o_n=Count("id", filter=Q(in_program=False)),
        o_stayed=Count("id", filter=Q(in_program=False) & (Q(left_date__isnull=True) | Q(left_date__gt=end))),
        o_promoted=Count("id", filter=Q(in_program=False, was_promoted=True)),
    )
    retention = metrics.rate_difference(group_events=stats["p_stayed"], group_size=stats["p_n"], peer_events=stats["o_stayed"], peer_size=stats["o_n"])
    promotion = metrics.rate_difference(group_events=stats["p_promoted"], group_size=stats["p_n"], peer_events=stats["o_promoted"], peer_size=stats["o_n"])
    return _rounded(retention), _rounded(promotion)


def _round(value, digits: int = 2):
    return None if value is None else round(float(value), digits)


def _rounded(d: dict) -> dict:
    return {k: (_round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


@transaction.atomic
def snapshot_save(*, program: Program, now: datetime.datetime | None = None) -> MetricSnapshot:
    """Compute and store today's snapshot; running it again the same day replaces it."""
    now = now or timezone.now()
    data = compute(program=program, now=now)
    snapshot, _created = MetricSnapshot.objects.update_or_create(program=program, as_of=timezone.localdate(now), defaults={"data": data, "computed_at": now})
    return snapshot


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
