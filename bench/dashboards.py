"""Benchmark of metric snapshots and the two impact dashboards on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/upward_bench .venv/bin/python bench/dashboards.py
    DATABASE_URL=... .venv/bin/python bench/dashboards.py --scale 0.1     # a quick run
    DATABASE_URL=... .venv/bin/python bench/dashboards.py --reuse         # keep data already built

The database named in DATABASE_URL is created if missing, migrated and emptied (it must be a
scratch database: every table is flushed). With REDIS_URL set the cache is Redis, as in
production; without it, the database cache. At --scale 1 the database then holds, written with
COPY: 100,000 employees (with their joined/promoted/left history), one active program a year
old with 42,000 enrollments and 20,000 pairs (late joiners, ended, paused and quiet pairs),
about 1,100,000 meetings and 1,000,000 session logs in time order (pairs interleaved, as a
real table fills up), as much feedback, cancellations by side, insights and actions,
agreements with goals, and baseline/midpoint/final surveys.

One line per measurement:
  build       rows written and how long it took (ANALYZE included);
  snapshot    snapshot_save() for today: the nightly job's work on the program (SQL aggregates);
  backfill    snapshot_save(as_of=...) for past weeks, as seed_demo writes its trends;
  hr          the HR program dashboard: median and p95 over --requests requests through
              Django's test Client, signed in as HR (password + TOTP), against a minimal view
              (the same login, middleware and role check, one query, a few bytes) measured in
              the same run, request by request in turn; and the ratio of the two;
  executive   the executive dashboard, signed in as an executive, idem: its body (aggregates
              only) is rendered once per set of snapshots and then served from the cache;
  executive (fresh)  the same page with the cache emptied before each request: the first view
              after the snapshots change;
  growth      each page's ratio at --scale against its ratio at 10x less data (skip with
              --no-small): reading cost must not grow with data, so this should stay near 1.

The executive trend reads a year of nightly snapshots. The bench computes today's and
--backfill weekly ones for real; the other nights repeat the nearest computed snapshot's
numbers, which costs the page what real ones would (same keys, same sizes).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _scratch import scratch_database_from_env  # noqa: E402  (bench/ is the script's folder)

DAY = datetime.timedelta(days=1)
PASSWORD = "bench-dashboards-2026"
TOPICS = ["AI tools", "Digital collaboration", "Social media", "Data literacy"]
LEVEL_WEIGHTS = {1: 18, 2: 18, 3: 14, 4: 13, 5: 12, 6: 10, 7: 7, 8: 4, 9: 3, 10: 1}
GROWTH = ["confidence_with_leaders", "communication", "visibility"]


def line(label: str, text: str) -> None:
    print(f"{label:<10} {text}", flush=True)


# --- building the organisation ----------------------------------------------------------------


class Copier:
    """COPY rows into a table through Django's own connection; counts what it wrote."""

    def __init__(self):
        from django.db import connection

        self.connection = connection
        self.rows = 0

    def __call__(self, model, columns: list[str], rows) -> int:
        table = model._meta.db_table
        cols = ", ".join(f'"{c}"' for c in columns)
        n = 0
        with self.connection.cursor() as cursor, cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        self.rows += n
        return n

    def reset_sequences(self, models) -> None:
        with self.connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)")


class Plan:
    """One pair's history: when it started and stopped, how many sessions it logged."""

    __slots__ = ("pair_id", "mentor_id", "mentee_id", "mentor_emp", "mentee_emp", "start", "end", "live", "quiet", "n_logs", "step")

    def __init__(self, **kw):
        for key, value in kw.items():
            setattr(self, key, value)


def _meetings(plans, now) -> list[tuple]:
    """Every meeting as (meeting_id, plan, kind, starts_at), kind held, cancelled or upcoming,
    numbered in time order as a real table fills up (pairs interleaved, not one pair's rows
    side by side, which would flatter every per-pair lookup). Every tenth held meeting is
    followed by a cancelled one; live pairs that have not gone quiet have one booked in the
    coming week."""
    rows = []
    for plan in plans:
        first = plan.start + 5 * DAY
        for i in range(plan.n_logs):
            at = first + i * plan.step
            rows.append((at, plan, "held"))
            if i % 10 == 9:
                rows.append((at + plan.step / 2, plan, "cancelled"))
        if plan.live and not plan.quiet:
            rows.append((now + (1 + plan.pair_id % 7) * DAY, plan, "upcoming"))
    rows.sort(key=lambda row: row[0])
    return [(k, plan, kind, at) for k, (at, plan, kind) in enumerate(rows, start=1)]


def build(*, scale: float, now: datetime.datetime, seed: int = 7) -> dict:
    from django.db import DatabaseError

    from mentoring.models import Department, Employee, EmployeeEvent, Role, User
    from mentoring.services import user_grant_role
    from pairing.models import Pair
    from programs.models import Enrollment, EnrollmentTopic, Program, Topic
    from sessions_log.models import ActionItem, Agreement, AgreementGoal, Feedback, Insight, Meeting, MeetingChange, PulseAlert, SessionLog, SurveyAnswer, SurveyResponse

    rng = random.Random(seed)
    copy = Copier()
    # Rows are written consistent by construction: skip the per-row foreign-key triggers while
    # loading, as pg_restore --disable-triggers does (needs a superuser; without one, COPY just
    # checks every row and takes longer).
    with copy.connection.cursor() as cursor:
        try:
            cursor.execute("SET session_replication_role = replica")
        except DatabaseError:
            pass
    today = now.date()
    n_people, n_pairs, n_logs = round(100_000 * scale), round(20_000 * scale), round(1_000_000 * scale)
    n_extra = max(5, n_pairs // 20)  # per role: applied, waitlisted, declined, withdrawn, invited, approved but unpaired

    topics = [Topic.objects.get_or_create(name=name)[0] for name in TOPICS]
    # Twenty-two departments of every size, and two tiny ones whose groups must show as "fewer than 5".
    departments = [Department.objects.create(name=f"Department {i:02d}") for i in range(1, 23)] + [Department.objects.create(name=n) for n in ("Legal", "Internal Audit")]
    program = Program.objects.create(
        name="Digital fluency at scale", slug="bench-dashboards", status=Program.Status.ACTIVE, cadence_days=7, expected_sessions=50, stuck_after_days=21,
        enrollment_opens_on=today - 420 * DAY, enrollment_closes_on=today - 385 * DAY, starts_on=today - 370 * DAY, ends_on=today + 30 * DAY,
        midpoint_survey_on=today - 190 * DAY, final_survey_on=today - 12 * DAY, mentor_max_level=3, mentee_min_level=6, min_level_gap=3,
    )
    program.topics.set(topics)
    start = datetime.datetime.combine(program.starts_on, datetime.time(9), tzinfo=datetime.UTC)

    # Employees: a manager tree (k reports to k // 8), hire dates over fifteen years, 7% gone.
    levels = rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()), k=n_people)
    hired = [today - rng.randint(30, 15 * 365) * DAY for _ in range(n_people)]
    left = [max(h + 30 * DAY, today - rng.randint(1, 700) * DAY) if rng.random() < 0.07 else None for h in hired]
    tiny = {n_people - k for k in range(1, 8)}  # the two tiny departments: 4 and 3 people

    def department_of(k):
        if k in tiny:
            return departments[22 if k > n_people - 5 else 23].pk
        return departments[k % 22].pk

    copy(
        Employee,
        ["id", "employee_id", "email", "first_name", "last_name", "title", "level", "level_label", "location", "time_zone", "hire_date", "left_date", "updated_at", "department_id", "manager_id"],
        (
            (k, f"B{k:07d}", f"person{k}@bench.example", f"First{k}", f"Last{k % 997}", "Staff", levels[k - 1], f"L{levels[k - 1]}", "London", "Europe/London",
             hired[k - 1], left[k - 1], now, department_of(k), None if k == 1 else max(1, k // 8))
            for k in range(1, n_people + 1)
        ),
    )  # fmt: skip
    events = [(EmployeeEvent.Kind.JOINED, k, hired[k - 1], None, None) for k in range(1, n_people + 1)]
    for k in range(1, n_people + 1):
        if levels[k - 1] > 1 and rng.random() < 0.15 and (today - hired[k - 1]).days > 400:
            events.append((EmployeeEvent.Kind.LEVEL_CHANGE, k, hired[k - 1] + rng.randint(365, (today - hired[k - 1]).days) * DAY, levels[k - 1] - 1, levels[k - 1]))
        if left[k - 1]:
            events.append((EmployeeEvent.Kind.LEFT, k, left[k - 1], None, None))
    copy(EmployeeEvent, ["kind", "employee_id", "effective_date", "from_level", "to_level", "recorded_at"], (e + (now,) for e in events))

    # The people who log in: an HR admin and an executive with directory entries.
    users = {}
    for role, employee_id in ((Role.HR_ADMIN, 2), (Role.EXECUTIVE, 3)):
        user = User.objects.create_user(email=f"{role}@bench.example", password=PASSWORD, full_name=role)
        user_grant_role(user=user, role=role)
        Employee.objects.filter(pk=employee_id).update(user=user)
        users[role] = user

    # Enrollments: mentors from current juniors, mentees from current seniors.
    current = [k for k in range(4, n_people + 1) if left[k - 1] is None and k not in tiny]
    juniors = [k for k in current if levels[k - 1] <= 3]
    seniors = [k for k in current if levels[k - 1] >= 6]
    rng.shuffle(juniors)
    rng.shuffle(seniors)
    assert len(seniors) >= n_pairs + n_extra, "not enough senior people for the mentees"
    opens = datetime.datetime.combine(program.enrollment_opens_on, datetime.time(10), tzinfo=datetime.UTC)
    decided = datetime.datetime.combine(program.enrollment_closes_on, datetime.time(16), tzinfo=datetime.UTC)
    # A fifth of the pairs are late joiners, started in the program's first six months.
    starts = [start if rng.random() < 0.8 else start + rng.randint(10, 180) * DAY for _ in range(n_pairs)]
    enrollments, ratings = [], []
    extra_statuses = ["applied", "waitlisted", "declined", "withdrawn", "invited", "approved"]

    def enroll(employee, role, status, joined):
        eid = len(enrollments) + 1
        invited = joined - 20 * DAY
        applied = None if status == "invited" else invited + rng.randint(1, 10) * DAY
        decision = joined - 5 * DAY if status in ("approved", "waitlisted", "declined", "withdrawn") else None
        enrollments.append((eid, role, status, "[]", '["English"]', '["tue-10", "thu-14"]', "Europe/London", "", invited, applied, decision, "", decision + 9 * DAY if status == "withdrawn" else None, "", invited, employee, program.pk))
        if status != "invited":
            kind = "teach" if role == "mentor" else "learn"
            for topic in rng.sample(topics, 2):
                ratings.append((kind, rng.randint(3, 5) if role == "mentor" else rng.randint(1, 3), eid, topic.pk))
        return eid

    pair_sides = [(enroll(juniors[k], "mentor", "approved", max(starts[k], opens + 30 * DAY)), enroll(seniors[k], "mentee", "approved", max(starts[k], opens + 30 * DAY))) for k in range(n_pairs)]
    for k in range(n_extra):
        status = extra_statuses[k % len(extra_statuses)]
        enroll(juniors[n_pairs + k], "mentor", status, decided)
        enroll(seniors[n_pairs + k], "mentee", status, decided)
    copy(
        Enrollment,
        ["id", "role", "status", "interests", "languages", "availability", "time_zone", "motivation", "invited_at", "applied_at", "decided_at", "decision_message",
         "withdrawn_at", "withdrawal_reason", "created_at", "employee_id", "program_id"],
        enrollments,
    )  # fmt: skip
    copy(EnrollmentTopic, ["kind", "level", "enrollment_id", "topic_id"], ratings)

    # Pairs: 8% ended early, 2% paused, 10% of the live ones went quiet forty days ago.
    plans, pair_rows = [], []
    for k in range(n_pairs):
        pid, began = k + 1, starts[k]
        roll = rng.random()
        ended = began + rng.randint(30, max(31, (now - began).days - 1)) * DAY if roll < 0.08 else None
        status = "ended" if ended else ("paused" if roll < 0.10 else "active")
        quiet = status == "active" and rng.random() < 0.10
        last = ended or (now - 40 * DAY if quiet else now - DAY)
        mentor, mentee = pair_sides[k]
        plans.append(Plan(pair_id=pid, mentor_id=mentor, mentee_id=mentee, mentor_emp=juniors[k], mentee_emp=seniors[k], start=began, end=last, live=ended is None, quiet=quiet, n_logs=0, step=DAY))
        pair_rows.append((pid, status, "engine", rng.randint(300, 900), "{}", "[]", began - DAY, began, ended, "not_a_fit" if ended else "", "", mentee, mentor, program.pk))
    copy(Pair, ["id", "status", "source", "score", "breakdown", "reasons", "created_at", "started_at", "ended_at", "end_reason", "end_note", "mentee_id", "mentor_id", "program_id"], pair_rows)

    # Session logs shared out in proportion to each pair's active time: n_logs in all.
    spans = [max(1.0, (p.end - p.start).total_seconds() / 86400 - 6) for p in plans]
    total = sum(spans)
    for plan, span in zip(plans, spans, strict=True):
        plan.n_logs = int(n_logs * span / total)
    # The remainder goes to the pairs with the largest fractions left over.
    for plan in sorted(plans, key=lambda p: p.n_logs - n_logs * spans[p.pair_id - 1] / total)[: n_logs - sum(p.n_logs for p in plans)]:
        plan.n_logs += 1
    for plan, span in zip(plans, spans, strict=True):
        plan.step = span * DAY / max(1, plan.n_logs)

    meetings = _meetings(plans, now)
    copy(
        Meeting,
        ["id", "uid", "sequence", "starts_at", "duration_minutes", "location", "video_url", "agenda", "status", "created_at", "pair_id", "scheduled_by_id"],
        ((mid, uuid.UUID(int=mid), 0, at, 45, "Video call", "", "", "cancelled" if kind == "cancelled" else "scheduled", min(at, now) - 3 * DAY, plan.pair_id, plan.mentor_emp) for mid, plan, kind, at in meetings),
    )  # fmt: skip
    copy(
        MeetingChange,
        ["kind", "requested_by_role", "reason", "old_starts_at", "at", "meeting_id", "requested_by_id"],
        (("cancelled", "mentee" if mid % 5 < 3 else "mentor", "Travelling", at, at - DAY, mid, plan.mentee_emp if mid % 5 < 3 else plan.mentor_emp) for mid, plan, kind, at in meetings if kind == "cancelled"),
    )  # fmt: skip

    def held():
        log_id = 0
        for mid, plan, kind, at in meetings:
            if kind == "held":
                log_id += 1
                yield log_id, mid, plan, at

    copy(
        SessionLog,
        ["id", "held_on", "minutes", "mentor_learned", "mentee_learned", "shared_notes", "created_at", "updated_at", "author_id", "meeting_id", "pair_id"],
        ((lid, at.date(), 40 + lid % 3 * 5, "How budgets are decided", "How my team uses chat", "", at + 2 * datetime.timedelta(hours=1), at + 2 * datetime.timedelta(hours=1), plan.mentor_emp, mid, plan.pair_id) for lid, mid, plan, at in held()),
    )  # fmt: skip
    copy(
        Feedback,
        ["id", "usefulness", "psychological_safety", "comment", "created_at", "author_id", "pair_id", "session_log_id"],
        ((lid, 3 + lid % 3, 3 + (lid // 3) % 3, "", at + 3 * datetime.timedelta(hours=1), plan.mentor_id if lid % 2 else plan.mentee_id, plan.pair_id, lid) for lid, mid, plan, at in held()),
    )  # fmt: skip

    # Alerts, insights and actions, agreements and goals.
    copy(PulseAlert, ["created_at", "resolved_at", "pair_id"], ((p.start + 40 * DAY, None if p.pair_id % 3 else p.start + 45 * DAY, p.pair_id) for p in plans if p.pair_id % 97 == 0))
    insights, actions = [], []
    for p in plans:
        for j in range(1 + p.pair_id % 3):
            iid = len(insights) + 1
            at = p.start + (10 + 20 * j) * DAY
            insights.append((iid, "An insight", min(at, now), p.mentor_emp, p.pair_id, topics[(p.pair_id + j) % len(topics)].pk))
            if iid % 5:
                done = iid % 2 == 0 and at + 20 * DAY < now
                actions.append(("An action", (at + 30 * DAY).date(), "done" if done else "open", min(at, now), at + 20 * DAY if done else None, p.mentee_emp, p.pair_id, iid))
    copy(Insight, ["id", "text", "created_at", "created_by_id", "pair_id", "topic_id"], insights)
    copy(ActionItem, ["text", "due_on", "status", "created_at", "done_at", "committed_by_id", "pair_id", "insight_id"], actions)
    copy(Agreement, ["id", "meeting_frequency", "boundaries", "confidentiality", "version", "mentor_acknowledged_version", "mentee_acknowledged_version", "updated_at", "pair_id"],
         ((p.pair_id, "Weekly", "", "", 1, 1, 1, p.start, p.pair_id) for p in plans))  # fmt: skip
    copy(AgreementGoal, ["title", "progress", "note", "order", "agreement_id"], ((f"Goal {j}", (p.pair_id * 7 + j * 30) % 101, "", j, p.pair_id) for p in plans for j in range(2)))

    # Surveys: mentors' baseline at the start, midpoint and final from most people who were there.
    learn = {}
    for kind, level, eid, topic_id in ratings:
        if kind == "learn":
            learn.setdefault(eid, []).append((topic_id, level))
    responses, answers = [], []
    midpoint = datetime.datetime.combine(program.midpoint_survey_on, datetime.time(12), tzinfo=datetime.UTC)
    final = datetime.datetime.combine(program.final_survey_on, datetime.time(12), tzinfo=datetime.UTC)
    for p in plans:
        for step, (kind, when) in enumerate((("baseline", p.start), ("midpoint", midpoint), ("final", final))):
            if when < p.start or (p.end < when and not p.live):
                continue
            for side, role in ((p.mentor_id, "mentor"), (p.mentee_id, "mentee")):
                if (kind == "baseline" and role == "mentee") or (kind != "baseline" and (side + step) % 7 == 0):
                    continue
                rid = len(responses) + 1
                responses.append((rid, kind, None if kind == "baseline" else 5 + (side + step) % 6, when + (side % 9) * DAY if kind != "final" else min(now, when + (side % 9) * DAY), side))
                if role == "mentee":
                    answers += [("", min(5, level + step), topic_id, rid) for topic_id, level in learn.get(side, [])]
                else:
                    answers += [(g, min(5, 2 + step + side % 2), None, rid) for g in GROWTH]
    copy(SurveyResponse, ["id", "kind", "would_recommend", "submitted_at", "enrollment_id"], responses)
    copy(SurveyAnswer, ["growth_item", "score", "topic_id", "response_id"], answers)
    with copy.connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
    copy.reset_sequences([Employee, EmployeeEvent, Enrollment, EnrollmentTopic, Pair, Meeting, MeetingChange, SessionLog, Feedback, PulseAlert, Insight, ActionItem, Agreement, AgreementGoal, SurveyResponse, SurveyAnswer])
    return {"program": program, "users": users, "rows": copy.rows, "people": n_people, "pairs": n_pairs, "logs": n_logs}


# --- measuring --------------------------------------------------------------------------------


def snapshot_history(*, program, now, backfill: int, history: int) -> None:
    """Today's snapshot and `backfill` weekly ones computed for real, timed; then the other
    nights of a year, each a copy of the nearest computed one (see the module docstring)."""
    from programs import snapshots
    from programs.models import MetricSnapshot

    today = now.date()
    t = time.perf_counter()
    snapshots.snapshot_save(program=program)
    line("snapshot", f"today in {time.perf_counter() - t:.2f}s")
    timings = []
    for weeks in range(1, backfill + 1):
        t = time.perf_counter()
        snapshots.snapshot_save(program=program, as_of=today - weeks * 7 * DAY)
        timings.append(time.perf_counter() - t)
    if timings:
        line("backfill", f"{len(timings)} weekly snapshots as of past dates: mean {statistics.mean(timings):.2f}s, max {max(timings):.2f}s")
    computed = {s.as_of: s.data for s in MetricSnapshot.objects.filter(program=program)}
    filler = []
    for days in range(history):
        day = today - days * DAY
        if day not in computed:
            nearest = min(computed, key=lambda d: abs((d - day).days))
            filler.append(MetricSnapshot(program=program, as_of=day, computed_at=now, data={**computed[nearest], "as_of": day.isoformat()}))
    MetricSnapshot.objects.bulk_create(filler, batch_size=200)
    data = computed[today]
    line("data", f"snapshots={MetricSnapshot.objects.filter(program=program).count()} pairs={data['pairs']} held={data['meetings']['held']:,} logged={data['meetings']['logged_sessions']:,} match_rate={data['match_rate']:.3f}")


def _timed_get(client, url: str, before=None) -> float:
    if before is not None:
        before()
    t = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - t
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def measure_reading(*, program, users, requests: int) -> dict:
    """Interleave the pages request by request, so that load from other processes on the
    machine falls on all of them alike."""
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from mentoring.models import Role
    from tests.auth_helpers import login_with_mfa

    # Both roles must pass a second factor: sign in as a password + TOTP login leaves the session.
    hr, executive = Client(), Client()
    login_with_mfa(hr, users[Role.HR_ADMIN])
    login_with_mfa(executive, users[Role.EXECUTIVE])
    pages = {
        "minimal (hr)": (hr, "/bench/minimal/", None),
        "hr": (hr, reverse("program_dashboard", args=[program.pk]), None),
        "minimal (exec)": (executive, "/bench/minimal/", None),
        "executive": (executive, reverse("executive_home"), None),
        # The same page with its body rendered afresh each time, as on the first view of the day.
        "executive (fresh)": (executive, reverse("executive_home"), cache.clear),
    }
    for client, url, before in pages.values():
        for _ in range(5):  # warm templates, URL resolver, connection
            _timed_get(client, url, before)
    samples = {name: [] for name in pages}
    for _ in range(requests):
        for name, (client, url, before) in pages.items():
            samples[name].append(_timed_get(client, url, before))
    result = {name: (statistics.median(values), statistics.quantiles(values, n=20)[18]) for name, values in samples.items()}
    ratios = {}
    for name, base in (("hr", "minimal (hr)"), ("executive", "minimal (exec)"), ("executive (fresh)", "minimal (exec)")):
        (med, p95), (bmed, bp95) = result[name], result[base]
        ratios[name] = med / bmed
        line(name, f"median {med * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; minimal view median {bmed * 1000:.1f} ms, p95 {bp95 * 1000:.1f} ms; ratio {med / bmed:.2f}x (p95 {p95 / bp95:.2f}x)")
    return ratios


def install_minimal_view(program_id: int) -> None:
    """The yardstick: the same login, middleware and role check as the dashboards, one query,
    a few bytes of response. Served by this module as the URLconf, ahead of the product's."""
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import clear_url_caches, include, path

    from mentoring.models import Role
    from mentoring.roles import role_required
    from programs.models import Program

    @role_required(Role.HR_ADMIN, Role.EXECUTIVE)
    def minimal(request):
        return HttpResponse(Program.objects.filter(pk=program_id).values_list("name", flat=True).first(), content_type="text/plain")

    globals()["urlpatterns"] = [path("bench/minimal/", minimal), path("", include("mentoring.urls"))]
    settings.ROOT_URLCONF = __name__
    clear_url_caches()


def run(*, scale: float, args) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from mentoring.models import Role, User
    from programs.models import MetricSnapshot, Program

    now = timezone.now()
    program = Program.objects.filter(slug="bench-dashboards").first()
    if args.reuse and program is not None and program.pairs.count() == round(20_000 * scale):
        users = {role: User.objects.get(email=f"{role}@bench.example") for role in (Role.HR_ADMIN, Role.EXECUTIVE)}
        MetricSnapshot.objects.filter(program=program).delete()
        line("build", f"scale={scale}: reusing the data already in the database")
    else:
        call_command("flush", interactive=False, verbosity=0)
        t = time.perf_counter()
        built = build(scale=scale, now=now)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        program, users = built["program"], built["users"]
        line("build", f"scale={scale}: {built['people']:,} employees, {built['pairs']:,} pairs, {built['logs']:,} session logs; {built['rows']:,} rows by COPY in {time.perf_counter() - t:.1f}s (with ANALYZE)")
    snapshot_history(program=program, now=now, backfill=args.backfill, history=args.history)
    install_minimal_view(program.pk)
    return measure_reading(program=program, users=users, requests=args.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100,000 employees, 20,000 pairs, 1,000,000 session logs")
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    parser.add_argument("--backfill", type=int, default=4, help="weekly snapshots as of past dates, computed for real")
    parser.add_argument("--history", type=int, default=365, help="nightly snapshots the executive trend reads")
    parser.add_argument("--no-small", action="store_true", help="skip the second run at 10x less data")
    parser.add_argument("--reuse", action="store_true", help="keep the data already built at this scale (development)")
    args = parser.parse_args()

    scratch_database_from_env()
    os.environ.setdefault("CONN_MAX_AGE", "600")  # one connection for the whole run, as a worker keeps it

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the embedded cache, when REDIS_URL is not set
    line("setup", f"database={connection.settings_dict['NAME']} migrated in {time.perf_counter() - t:.1f}s")

    ratios = {args.scale: run(scale=args.scale, args=args)}
    if not args.no_small:
        small = args.scale / 10
        ratios[small] = run(scale=small, args=args)
        big, little = ratios[args.scale], ratios[small]
        for page in big:
            line("growth", f"{page}: ratio {big[page]:.2f}x at scale {args.scale:g}, {little[page]:.2f}x at {small:g}; {big[page] / little[page]:.2f} between the two")


if __name__ == "__main__":
    main()
