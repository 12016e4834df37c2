"""Benchmark of the reminder pipeline on PostgreSQL, against a naive one-query-per-meeting loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/upward_bench .venv/bin/python bench/reminders.py
    DATABASE_URL=... .venv/bin/python bench/reminders.py --meetings 100000 --send 5000

The database named in DATABASE_URL is created if missing, migrated and emptied (it must be a
scratch database: every table is flushed). Then `--meetings` active pairs across `--programs`
running programs each get one meeting inside the 24-hour reminder lead time (bulk inserts), so
every meeting owes a reminder to both sides and nothing else is due.

One line per measurement, all on the same data in the same run:
  naive       for each meeting: fetch it with its pair, check each side for an existing
              reminder, insert the missing ones (what an ORM loop written in a hurry does);
  sweep       reminders_sweep() as the beat runs it (every kind of reminder, not just meetings);
  meetings    the sweep's meeting part alone: the like-for-like comparison with naive;
  resweep     the sweep again with nothing new: what every beat tick costs in steady state;
  send        reminders_send_due(): rendered messages into the outbox, rows/s (on `--send` rows);
  drain       outbox_deliver_due() to Django's locmem backend, messages/s (the same rows).
The nudge to the broker is switched off: this measures the database and rendering work.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def line(label: str, text: str) -> None:
    print(f"{label:<10} {text}", flush=True)


def seed(*, meetings: int, programs: int, now) -> None:
    from mentoring.models import Department, Employee
    from pairing.models import Pair
    from programs.models import Enrollment, Program, Topic
    from sessions_log.models import Meeting

    today = now.date()
    day = datetime.timedelta(days=1)
    topic, _ = Topic.objects.get_or_create(name="AI tools")
    progs = Program.objects.bulk_create(
        [
            Program(
                name=f"Bench program {k}", slug=f"bench-{k}", status=Program.Status.ACTIVE, enrollment_opens_on=today - 60 * day,
                enrollment_closes_on=today - 40 * day, starts_on=today - 30 * day, ends_on=today + 150 * day,
            )
            for k in range(programs)
        ]
    )
    for program in progs:
        program.topics.add(topic)
    department = Department.objects.create(name="Bench")
    batch = 5000
    people = Employee.objects.bulk_create(
        (
            Employee(
                employee_id=f"B{k:07d}", email=f"b{k}@bench.example", first_name=f"P{k}", last_name="Bench", department=department,
                level=2 if k % 2 == 0 else 7, time_zone="Europe/London" if k % 2 == 0 else "America/New_York",
            )
            for k in range(2 * meetings)
        ),
        batch_size=batch,
    )
    enrollments = Enrollment.objects.bulk_create(
        (
            Enrollment(program=progs[(k // 2) % programs], employee=person, role="mentor" if k % 2 == 0 else "mentee", status=Enrollment.Status.APPROVED, time_zone=person.time_zone)
            for k, person in enumerate(people)
        ),
        batch_size=batch,
    )
    pairs = Pair.objects.bulk_create(
        (
            Pair(program=progs[k % programs], mentor=enrollments[2 * k], mentee=enrollments[2 * k + 1], status=Pair.Status.ACTIVE, score=600, started_at=now - day)
            for k in range(meetings)
        ),
        batch_size=batch,
    )
    # Between 2 and 22 hours ahead: inside the 24-hour lead time, outside the one-hour reminder.
    span = 20 * 3600
    Meeting.objects.bulk_create(
        (Meeting(pair=pair, starts_at=now + datetime.timedelta(hours=2, seconds=(k * 7919) % span), duration_minutes=45) for k, pair in enumerate(pairs)),
        batch_size=batch,
    )


def naive_sweep(now) -> None:
    """One query for the candidates' ids, then per meeting: its pair, an existence check per
    side, an insert per missing reminder."""
    from sessions_log.models import Meeting, Reminder
    from sessions_log.reminders import LIVE

    ids = list(
        Meeting.objects.filter(status=Meeting.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(hours=168)).values_list("id", flat=True)
    )
    for meeting_id in ids:
        meeting = Meeting.objects.select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee").get(pk=meeting_id)
        pair, program = meeting.pair, meeting.pair.program
        if pair.status not in LIVE or not (program.reminders or {}).get("meeting_upcoming", True):
            continue
        for occurrence, before in (("lead", datetime.timedelta(hours=program.reminder_lead_hours)), ("1h", datetime.timedelta(hours=1))):
            if meeting.starts_at - before > now:
                continue
            for side in (pair.mentor, pair.mentee):
                if side.employee.left_date is not None:
                    continue
                key = f"{Reminder.Kind.MEETING_UPCOMING}:meeting-{meeting.uid}-{meeting.sequence}:{side.employee_id}:{occurrence}"[:255]
                if not Reminder.objects.filter(key=key).exists():
                    Reminder.objects.create(key=key, kind=Reminder.Kind.MEETING_UPCOMING, recipient_id=side.employee_id, program=program, meeting=meeting, pair=pair, due_at=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--programs", type=int, default=10)
    parser.add_argument("--send", type=int, default=5_000, help="rows measured for send and drain (all of them: 0)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive loop (it takes minutes at 100,000)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/upward_bench")
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mentoring.settings")
    os.environ.setdefault("DEBUG", "false")  # no query log in memory
    os.environ.setdefault("UPWARD_VAR_DIR", tempfile.mkdtemp(prefix="upward-bench-"))
    os.environ["CONN_MAX_AGE"] = "0"

    import django

    django.setup()
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.template.loader import get_template
    from django.urls import reverse
    from django.utils import timezone

    import mentoring.services
    from mentoring.models import OutboxMessage
    from mentoring.services import outbox_deliver_due
    from sessions_log import reminders
    from sessions_log.models import Reminder

    mentoring.services.nudge = lambda *args, **kwargs: False
    settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    line("setup", f"database={connection.settings_dict['NAME']} migrated and flushed in {time.perf_counter() - started:.1f}s")

    now = timezone.now()
    t = time.perf_counter()
    seed(meetings=args.meetings, programs=args.programs, now=now)
    line("seed", f"meetings={args.meetings:,} people={2 * args.meetings:,} programs={args.programs} in {time.perf_counter() - t:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    expected = 2 * args.meetings

    def timed(fn):
        counter = QueryCounter()
        t = time.perf_counter()
        with connection.execute_wrapper(counter):
            result = fn()
        return result, time.perf_counter() - t, counter.count

    def reset_reminders():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Reminder._meta.db_table}")

    naive_seconds = None
    if not args.skip_naive:
        _, naive_seconds, queries = timed(lambda: naive_sweep(now))
        naive_keys = set(Reminder.objects.values_list("key", flat=True))
        assert len(naive_keys) == expected, (len(naive_keys), expected)
        line("naive", f"reminders={len(naive_keys):,} in {naive_seconds:.2f}s = {args.meetings / naive_seconds:,.0f} meetings/s, {queries:,} queries")
        reset_reminders()

    # The meeting part of the sweep alone, like for like with the naive loop.
    def meetings_only():
        batch = reminders._Batch()
        reminders._meetings(batch, now)
        Reminder.objects.bulk_create(batch.rows.values(), ignore_conflicts=True, batch_size=1000)

    _, meetings_seconds, queries = timed(meetings_only)
    assert Reminder.objects.count() == expected
    if not args.skip_naive:
        assert set(Reminder.objects.values_list("key", flat=True)) == naive_keys, "the naive loop and the sweep disagree"
    line("meetings", f"reminders={expected:,} in {meetings_seconds:.2f}s = {args.meetings / meetings_seconds:,.0f} meetings/s, {queries:,} queries")
    reset_reminders()

    recorded, sweep_seconds, queries = timed(lambda: reminders.reminders_sweep(now=now))
    assert recorded == expected, (recorded, expected)
    line("sweep", f"reminders={recorded:,} in {sweep_seconds:.2f}s = {args.meetings / sweep_seconds:,.0f} meetings/s, {queries:,} queries (every kind)")
    if naive_seconds:
        line("ratio", f"naive/meetings = {naive_seconds / meetings_seconds:.1f}x, naive/sweep = {naive_seconds / sweep_seconds:.1f}x")

    recorded, seconds, queries = timed(lambda: reminders.reminders_sweep(now=now))
    assert recorded == 0
    line("resweep", f"new=0 in {seconds:.2f}s, {queries:,} queries (each beat tick while {expected:,} reminders exist)")

    # Send and drain a sample: the rest is pushed beyond `now` so that it is not due.
    sample = expected if args.send <= 0 else min(args.send, expected)
    keep = Reminder.objects.order_by("id").values_list("id", flat=True)[sample - 1 : sample]
    if sample < expected:
        Reminder.objects.filter(id__gt=keep[0]).update(due_at=now + datetime.timedelta(days=1))
    reverse("participant_home")  # warm the URL resolver and the templates: one-off costs
    get_template("sessions_log/email/reminder.txt"), get_template("sessions_log/email/reminder.html")

    sent, seconds, queries = timed(lambda: reminders.reminders_send_due(now=now))
    assert sent == sample, (sent, sample)
    line("send", f"rows={sent:,} in {seconds:.2f}s = {sent / seconds:,.0f} rows/s into the outbox, {queries / sent:.1f} queries/row")

    def drain():
        total = 0
        while True:
            report = outbox_deliver_due()
            total += report.sent
            if report.claimed == 0:
                return total

    delivered, seconds, queries = timed(drain)
    assert delivered == sample == len(mail.outbox) == OutboxMessage.objects.filter(status="sent").count()
    line("drain", f"messages={delivered:,} in {seconds:.2f}s = {delivered / seconds:,.0f} messages/s to locmem (batches of 20), {queries / delivered:.1f} queries/message")


if __name__ == "__main__":
    main()
