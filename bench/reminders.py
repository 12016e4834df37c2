"""Benchmark of the reminder pipeline on PostgreSQL, against a naive one-query-per-meeting loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/upward_bench .venv/bin/python bench/reminders.py
    DATABASE_URL=... .venv/bin/python bench/reminders.py --meetings 100000 --send 5000 --smtp

The database named in DATABASE_URL is created if missing, migrated and emptied (it must be a
scratch database: every table is flushed). Then `--meetings` active pairs across `--programs`
running programs each get one meeting inside the 24-hour reminder lead time (bulk inserts), so
every meeting owes a reminder to both sides and nothing else is due.

One line per measurement, all on the same data in the same run:
  naive       for each meeting: fetch it with its pair, check each side for an existing
              reminder, insert the missing ones (what an ORM loop written in a hurry does);
              timed on the first `--naive-sample` meetings and extrapolated to all of them
              (the whole loop takes minutes at 100,000), or on all with --naive-sample 0;
  meetings    the sweep's meeting part alone: the like-for-like comparison with naive;
  sweep       reminders_sweep() as the beat runs it (every kind of reminder, not just
              meetings): the first tick, which records everything;
  resweep     the sweep again with nothing new: what every beat tick costs in steady state;
  naive-send  the send step one reminder at a time (outbox_add and save per row, as before
              it was batched), on `--naive-send` of the rows below, then undone;
  send        reminders_send_due(): rendered messages into the outbox, rows/s (on `--send` rows);
  drain       outbox_deliver_due() to Django's locmem backend, messages/s (the same rows),
              then again to the dummy backend (no MIME message built: the pipeline's cost);
  smtp        with --smtp: the same rows again (put back to pending), delivered over SMTP to
              an aiosmtpd sink in another process on loopback.
The nudge to the broker is switched off: this measures the database and rendering work.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _scratch import QueryCounter, scratch_database_from_env  # noqa: E402  (bench/ is the script's folder)


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


def naive_sweep(now, *, limit: int | None = None) -> int:
    """One query for the candidates' ids, then per meeting: its pair, an existence check per
    side, an insert per missing reminder. Returns how many meetings it went through."""
    from sessions_log.models import Meeting, Reminder
    from sessions_log.reminders import LIVE

    ids = list(
        Meeting.objects.filter(status=Meeting.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(hours=168))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
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
    return len(ids)


def naive_send(now, *, limit: int) -> int:
    """The send step one reminder at a time, as it was before batching: per reminder an
    outbox_add() (an idempotency check and an insert, in a savepoint) and a save()."""
    from django.db import transaction

    from mentoring.services import outbox_add
    from sessions_log import reminders
    from sessions_log.models import Reminder

    sent = 0
    with transaction.atomic():
        rows = list(
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Reminder.Status.PENDING, due_at__lte=now)
            .select_related("recipient", "program", "meeting", "pair__mentor__employee", "pair__mentee__employee")
            .order_by("due_at", "id")[:limit]
        )
        for reminder in rows:
            reminder.outbox_message = outbox_add(message=reminders._render(reminder), idempotency_key=reminders._outbox_key(reminder))
            reminder.status, reminder.sent_at = Reminder.Status.SENT, now
            reminder.save(update_fields=["status", "outbox_message", "sent_at"])
            sent += 1
    return sent


class SmtpSink:
    """aiosmtpd's Sink handler (accepts and drops every message) in a process of its own, so
    that the server's work does not share this process's interpreter."""

    def __init__(self):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--programs", type=int, default=10)
    parser.add_argument("--send", type=int, default=5_000, help="rows measured for send and drain (all of them: 0)")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="meetings the naive loop is timed on, then extrapolated (all of them: 0)")
    parser.add_argument("--naive-send", type=int, default=1_000, help="reminders the one-at-a-time send is timed on (none: 0)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive loops")
    parser.add_argument("--smtp", action="store_true", help="also deliver over SMTP to an aiosmtpd sink on loopback")
    args = parser.parse_args()

    scratch_database_from_env()
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
            cursor.execute(f"VACUUM ANALYZE {Reminder._meta.db_table}")

    naive_seconds = None
    if not args.skip_naive:
        sample = args.naive_sample if 0 < args.naive_sample < args.meetings else None
        walked, seconds, queries = timed(lambda: naive_sweep(now, limit=sample))
        naive_keys = set(Reminder.objects.values_list("key", flat=True))
        assert len(naive_keys) == 2 * walked, (len(naive_keys), walked)
        naive_seconds = seconds * args.meetings / walked
        how = f"timed on {walked:,} meetings in {seconds:.2f}s, extrapolated to {args.meetings:,}" if sample else "timed on all of them"
        line("naive", f"reminders={expected:,} in {naive_seconds:.1f}s = {walked / seconds:,.0f} meetings/s, {queries / walked:.1f} queries/meeting ({how})")
        reset_reminders()

    # The meeting part of the sweep alone, like for like with the naive loop.
    def meetings_only():
        programs = reminders._Programs()
        return sum(reminders._record(due, now=now) for due in reminders._meetings(now, programs))

    recorded, meetings_seconds, queries = timed(meetings_only)
    assert recorded == Reminder.objects.count() == expected, (recorded, expected)
    if not args.skip_naive:
        assert naive_keys <= set(Reminder.objects.values_list("key", flat=True)), "the naive loop and the sweep disagree"
    line("meetings", f"reminders={expected:,} in {meetings_seconds:.2f}s = {args.meetings / meetings_seconds:,.0f} meetings/s, {queries:,} queries")
    reset_reminders()

    recorded, sweep_seconds, queries = timed(lambda: reminders.reminders_sweep(now=now))
    assert recorded == expected, (recorded, expected)
    line("sweep", f"reminders={recorded:,} in {sweep_seconds:.2f}s = {args.meetings / sweep_seconds:,.0f} meetings/s, {queries:,} queries (first tick, every kind)")
    if naive_seconds:
        line("ratio", f"naive/meetings = {naive_seconds / meetings_seconds:.1f}x, naive/sweep = {naive_seconds / sweep_seconds:.1f}x")

    recorded, seconds, queries = timed(lambda: reminders.reminders_sweep(now=now))
    assert recorded == 0
    line("resweep", f"new=0 in {seconds:.2f}s, {queries:,} queries (each later beat tick while {expected:,} reminders exist)")

    # Send and drain a sample: the rest is pushed beyond `now` so that it is not due.
    sample = expected if args.send <= 0 else min(args.send, expected)
    keep = Reminder.objects.order_by("id").values_list("id", flat=True)[sample - 1 : sample]
    if sample < expected:
        Reminder.objects.filter(id__gt=keep[0]).update(due_at=now + datetime.timedelta(days=1))
    reverse("participant_home")  # warm the URL resolver and the templates: one-off costs
    get_template("sessions_log/email/reminder.txt"), get_template("sessions_log/email/reminder.html")

    if not args.skip_naive and args.naive_send > 0:
        walked, seconds, queries = timed(lambda: naive_send(now, limit=min(args.naive_send, sample)))
        line("naive-send", f"rows={walked:,} in {seconds:.2f}s = {walked / seconds:,.0f} rows/s into the outbox, {queries / walked:.2f} queries/row (one reminder at a time)")
        naive_send_rate = walked / seconds
        Reminder.objects.filter(status="sent").update(status="pending", outbox_message=None, sent_at=None)
        OutboxMessage.objects.all().delete()

    sent, seconds, queries = timed(lambda: reminders.reminders_send_due(now=now))
    assert sent == sample, (sent, sample)
    ratio = f", {sent / seconds / naive_send_rate:.1f}x naive-send" if not args.skip_naive and args.naive_send > 0 else ""
    line("send", f"rows={sent:,} in {seconds:.2f}s = {sent / seconds:,.0f} rows/s into the outbox, {queries / sent:.2f} queries/row (batches of 200{ratio})")

    def drain():
        total = 0
        while True:
            report = outbox_deliver_due()
            total += report.sent
            if report.claimed == 0:
                return total

    delivered, seconds, queries = timed(drain)
    assert delivered == sample == len(mail.outbox) == OutboxMessage.objects.filter(status="sent").count()
    line("drain", f"messages={delivered:,} in {seconds:.2f}s = {delivered / seconds:,.0f} messages/s to locmem, {queries / delivered:.2f} queries/message")

    # The same rows again to Django's dummy backend, which does not build the MIME message:
    # the pipeline's own cost (claim, mark, release), without the email library's.
    settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    OutboxMessage.objects.update(status="pending", sent_at=None, attempts=0)
    delivered, seconds, queries = timed(drain)
    assert delivered == sample, delivered
    line("drain", f"messages={delivered:,} in {seconds:.2f}s = {delivered / seconds:,.0f} messages/s to the dummy backend, {queries / delivered:.2f} queries/message")

    if args.smtp:
        sink = SmtpSink()
        try:
            settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = "127.0.0.1", sink.port, False, False
            OutboxMessage.objects.update(status="pending", sent_at=None, attempts=0)
            delivered, seconds, queries = timed(drain)
        finally:
            sink.stop()
        assert delivered == sample == OutboxMessage.objects.filter(status="sent").count(), delivered
        line("smtp", f"messages={delivered:,} in {seconds:.2f}s = {delivered / seconds:,.0f} messages/s over SMTP to an aiosmtpd sink on loopback, {queries / delivered:.2f} queries/message")


if __name__ == "__main__":
    main()
