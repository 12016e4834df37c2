"""The reminder and mail pipeline against real processes: Celery worker and beat subprocesses
on a real Redis, PostgreSQL, and an SMTP server on loopback that counts every message it is
handed by Message-ID (the outbox row's, so a resent message is recognisable).

Each test prints `lost=… duplicated=…` and asserts the exact number received.
"""

import datetime
import json
import logging
import time
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mentoring.models import OutboxMessage, Role
from pairing.models import MatchRun, Pair
from programs.models import Enrollment, Program
from sessions_log.models import Meeting, Reminder, SurveyResponse
from tests.auth_helpers import sign_in
from tests.factories import EnrollmentFactory, ProgramFactory, make_person

from .conftest import outbox_ids, outbox_statuses, seed_due_meetings, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Generous bounds for a loaded two-core CI machine; the printed timings show the real ones.
DELIVERY_TIMEOUT = 150


@pytest.fixture(autouse=True)
def _quiet_smtp_log():
    """aiosmtpd logs every SMTP command at INFO: thousands of lines that hide the report."""
    logger = logging.getLogger("mail.log")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def report(smtp, started: float, label: str) -> tuple[int, int, int]:
    lost, duplicated, unexpected = smtp.tally(outbox_ids())
    print(
        f"{label}: received={smtp.count()} lost={lost} duplicated={duplicated} unexpected={unexpected} "
        f"outbox={outbox_statuses()} in {time.monotonic() - started:.1f}s"
    )
    return lost, duplicated, unexpected


def test_a_thousand_due_reminders_arrive_exactly_once(fleet, smtp):
    expected = seed_due_meetings(500)  # two sides each
    started = time.monotonic()
    fleet.start()

    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT)

    lost, duplicated, unexpected = report(smtp, started, "1000 reminders")
    assert (smtp.count(), lost, duplicated, unexpected) == (expected, 0, 0, 0)
    assert Reminder.objects.filter(status=Reminder.Status.SENT).count() == expected
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == expected


def test_a_worker_killed_twice_mid_batch_loses_nothing(fleet, smtp):
    expected = seed_due_meetings(500)
    started = time.monotonic()
    fleet.env["OUTBOX_LEASE_SECONDS"] = "5"  # the rows a killed worker held come back in 5 s
    # One pool process: at the instant of a kill at most one message is between the SMTP
    # server's "250 accepted" and the row's "sent", so a kill can cause at most one duplicate.
    worker, _beat = fleet.start(concurrency=1)
    moments = [
        # while the sweep turns reminders into outbox rows (200 per transaction)...
        ("mid-sweep", lambda: OutboxMessage.objects.count() >= 300),
        # ...and while the outbox is being handed to the SMTP server.
        ("mid-delivery", lambda: smtp.count() >= expected // 2),
    ]
    for moment, due in moments:
        assert wait_until(due, timeout=DELIVERY_TIMEOUT), f"never reached {moment}: received={smtp.count()} outbox={outbox_statuses()}"
        fleet.kill(worker)
        print(f"kill {fleet.killed} ({moment}): received={smtp.count()} reminders pending={Reminder.objects.filter(status='pending').count()} outbox={outbox_statuses()}")
        worker = fleet.worker(concurrency=1)

    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT, settle=6)  # settle > the 5 s lease

    lost, duplicated, unexpected = report(smtp, started, f"1000 reminders, {fleet.killed} kills")
    assert (lost, unexpected) == (0, 0)
    assert duplicated <= fleet.killed
    assert smtp.count() == expected + duplicated
    # Every message carries its outbox row's Message-ID: a resend is the same message.
    assert {m.message_id for m in smtp.messages()} == outbox_ids()
    assert OutboxMessage.objects.count() == OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == expected


SWEEP = """
import json, os, pathlib, time
from django.db import connection
from sessions_log.tasks import sweep_reminders
connection.ensure_connection()
pathlib.Path(os.environ["SWEEP_READY"]).touch()
while not pathlib.Path(os.environ["SWEEP_GO"]).exists():
    time.sleep(0.005)
start = time.time()
result = sweep_reminders()
print("SWEEP " + json.dumps({**result, "start": start, "end": time.time()}))
"""


def test_two_sweeps_at_once_record_and_queue_each_reminder_once(fleet, smtp, tmp_path):
    expected = seed_due_meetings(150)  # more than one claim batch (200), so both sweeps get rows to send
    started = time.monotonic()
    go = tmp_path / "go"
    sweeps = [fleet.manage(f"sweep{k}", "shell", "-c", SWEEP, SWEEP_READY=str(tmp_path / f"ready{k}"), SWEEP_GO=str(go)) for k in (1, 2)]
    assert wait_until(lambda: all((tmp_path / f"ready{k}").exists() for k in (1, 2)), timeout=60), [s.tail() for s in sweeps]
    go.touch()  # both start at once
    for sweep in sweeps:
        sweep.popen.wait(timeout=DELIVERY_TIMEOUT)
    results = [json.loads(line.split(" ", 1)[1]) for sweep in sweeps for line in sweep.log_text().splitlines() if line.startswith("SWEEP ")]
    print("sweeps:", results)
    assert len(results) == 2, [s.tail() for s in sweeps]
    assert max(r["start"] for r in results) < min(r["end"] for r in results), "the two sweeps did not overlap"
    # Each reminder was recorded by exactly one of them and queued by exactly one of them:
    # each sweep counts the rows its own inserts created.
    assert sum(r["recorded"] for r in results) == expected
    assert sum(r["queued"] for r in results) == expected
    assert Reminder.objects.count() == OutboxMessage.objects.count() == expected

    fleet.start()
    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT)

    lost, duplicated, unexpected = report(smtp, started, "two sweeps at once")
    assert (smtp.count(), lost, duplicated, unexpected) == (expected, 0, 0, 0)


class Refusals(logging.Handler):
    """Counts the web process's failed enqueues (mentoring.queue logs each one)."""

    count = 0

    def emit(self, record):
        self.count += 1


@pytest.fixture
def refusals():
    handler = Refusals(logging.WARNING)
    logger = logging.getLogger("mentoring.queue")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def broker_down():
    """The test process's Celery app publishes to a port nobody listens on: Redis is down
    for the web (the machine's Redis, which the workers use later, keeps running)."""
    from mentoring.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    app._pool = app.amqp._producer_pool = None  # pools are cached per broker URL
    yield
    app.conf.update(saved)
    app._pool = app.amqp._producer_pool = None


def test_the_web_works_with_the_broker_down_and_mail_follows_once_it_is_back(fleet, smtp, broker_down, refusals):
    """HR runs the matching and publishes, a mentor books a meeting, all while the web
    process cannot reach Redis. Every request succeeds and leaves its mail in the outbox; a
    worker and beat on the real Redis then deliver it all."""
    from mentoring.queue import nudge
    from mentoring.tasks import drain_outbox

    assert nudge(drain_outbox) is False  # the web process really cannot reach a broker

    today = timezone.localdate()
    program = ProgramFactory(
        status=Program.Status.MATCHING, min_score=0, enrollment_opens_on=today - datetime.timedelta(days=20),
        enrollment_closes_on=today - datetime.timedelta(days=2), starts_on=today, ends_on=today + datetime.timedelta(days=150),
    )
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    mentors = [make_person(level=2, time_zone="Europe/London") for _ in range(2)]
    mentees = [make_person(level=7, time_zone="America/New_York") for _ in range(2)]
    for user, role in [*((m, "mentor") for m in mentors), *((m, "mentee") for m in mentees)]:
        enrollment = EnrollmentFactory(program=program, role=role, status=Enrollment.Status.APPROVED, employee=user.employee, time_zone=user.employee.time_zone)
        # Baselines answered: the only mail is what the requests below make, counted exactly.
        SurveyResponse.objects.create(enrollment=enrollment, kind=SurveyResponse.Kind.BASELINE)
    hr_client = Client()
    sign_in(hr_client, hr)  # with the second factor HR admins need

    timings, attempts = {}, {}

    def timed(name, call):
        t, before = time.monotonic(), refusals.count
        response = call()
        timings[name] = round(time.monotonic() - t, 2)
        attempts[name] = refusals.count - before
        return response

    response = timed("match run", lambda: hr_client.post(reverse("match_run_start", args=[program.slug])))
    assert response.status_code == 302
    run = MatchRun.objects.get(program=program)
    assert run.status == MatchRun.Status.PROPOSED
    response = timed("publish", lambda: hr_client.post(reverse("match_run_publish", args=[program.slug, run.pk])))
    assert response.status_code == 302
    pairs = list(Pair.objects.filter(program=program, status=Pair.Status.ACTIVE).select_related("mentor__employee__user", "mentee__employee__user"))
    assert len(pairs) == 2

    pair = pairs[0]
    booker = Client()
    booker.force_login(pair.mentor.employee.user)
    day = timezone.localdate() + datetime.timedelta(days=3)  # beyond the reminder lead time
    when = datetime.datetime.combine(day, datetime.time(15), tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    form = {"day": when.date().isoformat(), "time": "15:00", "duration_minutes": "45", "location": "", "video_url": "https://meet.example/abc", "agenda": "AI tools"}
    response = timed("schedule", lambda: booker.post(reverse("meeting_schedule", args=[pair.pk]), form))
    assert response.status_code == 302, response.context["form"].errors
    assert Meeting.objects.filter(pair=pair).count() == 1
    print("request seconds with the broker down:", timings, "enqueue attempts:", attempts)
    # Each request tried the broker once, after its commit, and went on: not once per email.
    assert attempts == {"match run": 0, "publish": 1, "schedule": 1}

    people = {p.mentor.employee.email for p in pairs} | {p.mentee.employee.email for p in pairs}
    expected = len(people) + 2  # a pairing notice to each side of each pair, an invite to each side of the meeting
    assert OutboxMessage.objects.count() == expected
    assert set(outbox_statuses()) == {"pending"}  # nothing could be delivered yet

    started = time.monotonic()
    fleet.start()
    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT)

    lost, duplicated, unexpected = report(smtp, started, "broker back")
    assert (smtp.count(), lost, duplicated, unexpected) == (expected, 0, 0, 0)
    received = smtp.messages()
    invites = [m for m in received if m.has_invite]
    notices = [m for m in received if not m.has_invite]
    assert sorted(to for m in notices for to in m.to) == sorted(people)
    assert sorted(to for m in invites for to in m.to) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])


def test_mail_refused_for_a_while_arrives_once_the_server_recovers(fleet, smtp):
    expected = seed_due_meetings(25)
    started = time.monotonic()
    smtp.refusing = True
    fleet.start()

    def all_refused_once():
        # last_error stays on the row while a retry is under way: status does not matter here.
        return OutboxMessage.objects.filter(attempts__gte=1).exclude(last_error="").count() == expected

    assert wait_until(all_refused_once, timeout=DELIVERY_TIMEOUT), outbox_statuses()
    time.sleep(3)  # refused a while longer: retries meanwhile are refused too
    smtp.refusing = False
    print(f"server accepts again after {time.monotonic() - started:.1f}s; refused {smtp.refused} times; outbox={outbox_statuses()}")
    # Retries wait OUTBOX_BACKOFF_SECONDS (1 s in the workers' environment), doubling.
    recovered = time.monotonic()
    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT)

    lost, duplicated, unexpected = report(smtp, started, "server refused, then recovered")
    print(f"delivered {time.monotonic() - recovered:.1f}s after recovery")
    assert (smtp.count(), lost, duplicated, unexpected) == (expected, 0, 0, 0)
    assert smtp.refused >= expected
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT, attempts__gte=2).count() == expected
    assert not OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED).exists()


def test_two_beats_by_mistake_still_send_each_reminder_once(fleet, smtp):
    expected = seed_due_meetings(50)
    started = time.monotonic()
    _worker, *beats = fleet.start(beats=("beat-a", "beat-b"))

    smtp.wait_for(expected, timeout=DELIVERY_TIMEOUT)

    lost, duplicated, unexpected = report(smtp, started, "two beats")
    sweeps_sent = [beat.log_text().count("Sending due task sweep-reminders") for beat in beats]
    print("sweep-reminders sent by each beat:", sweeps_sent)
    assert all(n >= 2 for n in sweeps_sent)  # both beats really were scheduling
    assert (smtp.count(), lost, duplicated, unexpected) == (expected, 0, 0, 0)
