"""From the database: a 5,000-person program scored, solved and persisted (target: under a minute).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/upward_bench .venv/bin/python bench/pairing_db.py
    DATABASE_URL=... .venv/bin/python bench/pairing_db.py --people 5000 --cap 2 --repeat 2

The database named in DATABASE_URL is created if missing, migrated and emptied (it must be a
scratch database: every table is flushed). Then one program in the matching state is built
with bulk inserts: `--people` approved enrollments, half mentors (juniors, levels 1-3) and
half mentees (seniors, levels 6-9), picked from a real reporting tree (CEO, a VP per
department, directors, senior managers, managers, their reports; everyone else in the tree
is not enrolled), with 2-5 topic ratings each, interests, languages, local weekly slots in
five real time zones, a few "please not with" requests, HR exclusions and pins, and an older
active program whose live pairs count against the cross-program cap of some mentors.

The run goes the app's own way: services.match_run_start() as HR (the pool is above
PAIRING_SYNC_MAX_PEOPLE, so the app hands the run to Celery; the nudge to the broker is
switched off) and then services.match_run_execute(), the function the Celery task calls.
One line per phase of that call, with wall time and queries:
  build     services.build_input(): the pool, ratings, live pairs, reporting chains, overrides
  solve     engine.propose_pairs(): scoring, solving with certificate, explanations, reasons
  persist   services._store_proposal(): proposed pairs (bulk insert), the run's inputs/result
  total     the whole match_run_execute() call (claim and progress updates included)
Then the last run is published the app's way:
  publish   services.match_run_publish(), what HR's request waits for (pairs made live; the
            emails too when the run has at most PAIRING_PUBLISH_SYNC_MAX_PAIRS pairs)
  announce  services.match_run_announce(), the Celery task writing both sides' emails and
            the not-paired ones to the outbox, for a larger run
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _scratch import QueryCounter, scratch_database_from_env  # noqa: E402  (bench/ is the script's folder)

DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Finance", "HR", "Operations", "Legal", "Product"]
TOPICS = [
    "AI tools", "social media", "digital collaboration", "inclusion", "Gen Z expectations",
    "data literacy", "cybersecurity hygiene", "personal branding", "remote work", "video content",
    "mobile-first", "sustainability", "mental health", "automation", "product thinking",
]
INTERESTS = [f"interest {k}" for k in range(30)]
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Singapore"]
LANGUAGES = ["English", "French", "German", "Spanish", "Hindi", "Mandarin"]
SLOTS = [f"{d}-{h:02d}" for d in ("mon", "tue", "wed", "thu", "fri") for h in range(8, 18, 2)]


def line(label: str, text: str) -> None:
    print(f"{label:<9} {text}", flush=True)


def seed(*, people: int, cap: int, rng: random.Random):
    """The org, the program in matching and its enrollments; returns (program, HR user)."""
    from django.contrib.auth.models import Group

    from mentoring.models import Department, Employee, Role, User
    from pairing.models import Pair, PairingOverride
    from programs.models import Enrollment, EnrollmentTopic, Program, Topic

    batch = 5000
    today = datetime.date.today()
    day = datetime.timedelta(days=1)
    n_mentors = people // 2
    n_mentees = people - n_mentors
    depts = Department.objects.bulk_create([Department(name=name) for name in DEPARTMENTS])
    topics = Topic.objects.bulk_create([Topic(name=name) for name in TOPICS])
    serial = iter(range(10**9))

    def employees(specs):
        """specs: (manager, department, level) per person; one bulk insert, ids returned."""
        rows = []
        for manager, dept, level in specs:
            k = next(serial)
            rows.append(Employee(
                employee_id=f"E{k:07d}", email=f"e{k}@bench.example", first_name=f"P{k}", last_name="Bench",
                department=dept, level=level, manager=manager, time_zone=rng.choice(ZONES),
            ))
        return Employee.objects.bulk_create(rows, batch_size=batch)

    # Seniors: CEO (10), a VP per department (9), directors (8), senior managers (7) and
    # managers (6), enough of them for the mentee pool; juniors (1-3) report to managers.
    ceo = employees([(None, depts[0], 10)])
    layers = [employees([(ceo[0], d, 9) for d in depts])]
    for level, fan in ((8, 6), (7, 6), (6, 7)):
        layers.append(employees([(boss, boss.department, level) for boss in layers[-1] for _ in range(fan)]))
    seniors = [e for layer in layers for e in layer]
    while len(seniors) < n_mentees:  # a bigger pool than the tree above: more managers
        seniors += employees([(boss, boss.department, 6) for boss in rng.sample(layers[2], min(len(layers[2]), n_mentees - len(seniors)))])
    managers = [e for e in seniors if e.level == 6]
    n_juniors = int(n_mentors * 1.5)
    juniors = employees([(m, m.department, rng.choice((1, 2, 2, 3, 3))) for m in (rng.choice(managers) for _ in range(n_juniors))])

    program = Program.objects.create(
        name="Bench pairing program", slug="bench-pairing", status=Program.Status.MATCHING,
        enrollment_opens_on=today - 30 * day, enrollment_closes_on=today - day, starts_on=today + 7 * day, ends_on=today + 180 * day,
        mentees_per_mentor=cap, min_score=150,
    )
    program.topics.set(topics)
    mentor_people = rng.sample(juniors, n_mentors)
    mentee_people = rng.sample(seniors, n_mentees)

    def enrollment(person, role):
        return Enrollment(
            program=program, employee=person, role=role, status=Enrollment.Status.APPROVED,
            interests=rng.sample(INTERESTS, rng.randint(2, 6)),
            languages=["English"] + rng.sample(LANGUAGES[1:], rng.randint(0, 1)),
            availability=rng.sample(SLOTS, rng.randint(2, 8)), time_zone=person.time_zone,
        )

    mentors = Enrollment.objects.bulk_create([enrollment(p, "mentor") for p in mentor_people], batch_size=batch)
    mentees = Enrollment.objects.bulk_create([enrollment(p, "mentee") for p in mentee_people], batch_size=batch)
    ratings = []
    for enr in mentors:
        ratings += [EnrollmentTopic(enrollment=enr, topic=t, kind="teach", level=rng.randint(2, 5)) for t in rng.sample(topics, rng.randint(2, 5))]
    for enr in mentees:
        ratings += [EnrollmentTopic(enrollment=enr, topic=t, kind="learn", level=rng.randint(1, 4)) for t in rng.sample(topics, rng.randint(2, 5))]
    EnrollmentTopic.objects.bulk_create(ratings, batch_size=batch)

    # Pins across departments (never the same reporting line or manager), kept out of the
    # "not with" requests and exclusions so that every pin can be honoured.
    hr = User.objects.create_user("hr@bench.example", full_name="Bench HR")
    hr.groups.add(Group.objects.get_or_create(name=Role.HR_ADMIN)[0])
    pins = []
    free_mentors = [m for m in mentors if m.employee.level <= 3]
    for mentee in mentees[:10]:
        mentor = next(m for m in free_mentors if m.employee.department_id != mentee.employee.department_id and mentee.employee.level - m.employee.level >= program.min_level_gap)
        free_mentors.remove(mentor)
        pins.append(PairingOverride(program=program, kind="pin", mentor=mentor, mentee=mentee, created_by=hr))
    pinned = {p.mentor_id for p in pins} | {p.mentee_id for p in pins}
    open_mentors = [m for m in mentors if m.pk not in pinned]
    open_mentees = [m for m in mentees if m.pk not in pinned]
    excluded = {(rng.choice(open_mentors).pk, rng.choice(open_mentees).pk) for _ in range(people // 10)}
    PairingOverride.objects.bulk_create(pins + [PairingOverride(program=program, kind="exclude", mentor_id=a, mentee_id=b, created_by=hr) for a, b in excluded])
    through = Enrollment.not_with.through
    asks = [through(enrollment_id=enr.pk, employee_id=rng.choice(mentee_people if enr.role == "mentor" else mentor_people).pk) for enr in rng.sample(open_mentors + open_mentees, people // 100)]
    through.objects.bulk_create(asks, ignore_conflicts=True)

    # An older active program: some mentors already have a live pair there (cross-program cap).
    older = Program.objects.create(
        name="Bench older program", slug="bench-older", status=Program.Status.ACTIVE,
        enrollment_opens_on=today - 120 * day, enrollment_closes_on=today - 100 * day, starts_on=today - 90 * day, ends_on=today + 90 * day,
    )
    busy = rng.sample(open_mentors, n_mentors // 10)
    enrolled = {p.pk for p in mentee_people}
    others = [p for p in seniors if p.pk not in enrolled] or seniors
    partners = rng.sample(others, min(len(busy), len(others)))
    old_mentors = Enrollment.objects.bulk_create([Enrollment(program=older, employee=m.employee, role="mentor", status="approved") for m in busy])
    old_mentees = Enrollment.objects.bulk_create([Enrollment(program=older, employee=p, role="mentee", status="approved") for p in partners])
    Pair.objects.bulk_create([Pair(program=older, mentor=a, mentee=b, status="active", score=500) for a, b in zip(old_mentors, old_mentees)])
    counts = {
        "employees": Employee.objects.count(), "enrollments": n_mentors + n_mentees, "mentors": n_mentors, "mentees": n_mentees,
        "ratings": len(ratings), "pins": len(pins), "exclusions": len(excluded), "not_with": len(asks), "busy_mentors": len(busy),
    }
    return program, hr, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000, help="approved enrollments in the program (half mentors)")
    parser.add_argument("--cap", type=int, default=1, help="mentees per mentor")
    parser.add_argument("--repeat", type=int, default=1, help="match runs in a row on the same data (each supersedes the last)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    scratch_database_from_env()
    # Every run goes through match_run_execute below, timed: a small pool would otherwise be
    # solved inside match_run_start, untimed, and the bench would print zeros.
    os.environ["PAIRING_SYNC_MAX_PEOPLE"] = "0"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from pairing import engine, services
    from pairing.models import MatchRun, Pair

    # The run's row is what matters; the broker nudge is only a wake-up call for a worker.
    services.nudge_on_commit = lambda *args, **kwargs: None

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    line("setup", f"database={connection.settings_dict['NAME']} migrated and flushed in {time.perf_counter() - started:.1f}s")
    t = time.perf_counter()
    program, hr, counts = seed(people=args.people, cap=args.cap, rng=random.Random(args.seed))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    line("seed", " ".join(f"{k}={v:,}" for k, v in counts.items()) + f" in {time.perf_counter() - t:.1f}s")

    # Phase timers around the functions match_run_execute() calls, by module attribute.
    counter = QueryCounter()
    phases: dict[str, tuple[float, int]] = {}
    originals = {"build": (services, "build_input"), "solve": (engine, "propose_pairs"), "persist": (services, "_store_proposal")}

    def timed(label, fn):
        def wrapper(*args, **kwargs):
            q0, t0 = counter.count, time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[label] = (time.perf_counter() - t0, counter.count - q0)

        return wrapper

    for label, (module, name) in originals.items():
        setattr(module, name, timed(label, getattr(module, name)))

    for attempt in range(1, args.repeat + 1):
        phases.clear()
        run = services.match_run_start(program=program, by=hr)
        pool = program.enrollments.filter(status="approved").count()
        path = "celery task" if pool > settings.PAIRING_SYNC_MAX_PEOPLE else "sync on commit"
        load = os.getloadavg()[0]
        with connection.execute_wrapper(counter):
            q0, t0 = counter.count, time.perf_counter()
            services.match_run_execute(run_id=run.pk)
            total, queries = time.perf_counter() - t0, counter.count - q0
        run.refresh_from_db()
        if run.status != MatchRun.Status.PROPOSED:
            sys.exit(f"run {run.pk} ended {run.status}: {run.error}")
        stored = Pair.objects.filter(match_run=run).count()
        assert stored == run.stats["pairs"], (stored, run.stats)
        line("run", f"#{attempt} pool={pool:,} path={path} (PAIRING_SYNC_MAX_PEOPLE={settings.PAIRING_SYNC_MAX_PEOPLE}) load={load:.1f}")
        for label in ("build", "solve", "persist"):
            seconds, n = phases[label]
            extra = ""
            if label == "build":
                extra = f" mentors={run.stats['mentors']:,} mentees={run.stats['mentees']:,}"
            elif label == "solve":
                extra = f" pairs={run.stats['pairs']:,} solver='{run.result.get('solver', '')}'"
            elif label == "persist":
                extra = f" pairs_stored={stored:,}"
            line(label, f"{seconds:.2f}s queries={n}{extra}")
        line("total", f"{total:.2f}s queries={queries} match_rate={run.stats['match_rate']} under_a_minute={'yes' if total < 60 else 'NO'}")

    from mentoring.models import OutboxMessage

    with connection.execute_wrapper(counter):
        q0, t0 = counter.count, time.perf_counter()
        published = services.match_run_publish(run=run, by=hr)
        line("publish", f"{time.perf_counter() - t0:.2f}s queries={counter.count - q0} pairs={published:,} emails_in_request={OutboxMessage.objects.count():,}")
        q0, t0 = counter.count, time.perf_counter()
        written = services.match_run_announce(run_id=run.pk)
        line("announce", f"{time.perf_counter() - t0:.2f}s queries={counter.count - q0} emails={written:,} (Celery task, after the request)")


if __name__ == "__main__":
    main()
