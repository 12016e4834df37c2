"""Real processes on loopback: an SMTP server that counts what it is handed, Celery worker
and beat subprocesses on a Redis database of their own, and a test database whose rows are
committed so that those processes see them.

Run like CI (they skip on SQLite or without REDIS_URL, with the reason):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/upward_integ REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/pytest tests/integration -q -p no:cacheprovider -m integration

The workers get their own Redis database (INTEGRATION_REDIS_DB, 14 unless set) on the server
REDIS_URL names, and the test database pytest-django creates (test_<name>) as DATABASE_URL.
"""

import collections
import datetime
import email
import email.header
import email.parser
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The workers' broker: a Redis database of their own, flushed before and after each test, so
# a leftover task from another test (or from the developer's own worker) never runs here.
# INTEGRATION_REDIS_DB picks it (e.g. one per person sharing a Redis); 14 unless set.
WORKER_REDIS_DB = int(os.environ.get("INTEGRATION_REDIS_DB", "14"))
PROCESS_START_TIMEOUT = 60


def _why_not_here() -> str | None:
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return (
            "integration tests need PostgreSQL (DATABASE_URL=postgres://...): a worker process "
            "cannot see pytest's in-memory SQLite test database"
        )
    if not settings.REDIS_URL:
        return "integration tests need Redis (REDIS_URL=redis://...): the worker and beat talk through a real broker"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_not_here()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: tuple[str, ...]
    subject: str
    has_invite: bool  # an ICS calendar part
    at: float = field(default_factory=time.monotonic)


class SmtpRecorder:
    """An aiosmtpd server on 127.0.0.1 that records every message it accepts.

    `refusing = True` answers 451 to MAIL FROM (the client sees a transient failure for each
    message); `stop()` closes the port (the client cannot even connect); `start()` reopens it.
    """

    def __init__(self):
        self.port = free_port()
        self.refusing = False
        self.refused = 0
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._controller = None

    # aiosmtpd handler hooks (run in the controller's thread)
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refusing:
            with self._lock:
                self.refused += 1
            return "451 4.3.2 Try again later (the test switched the server to refusing)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Headers only, with the legacy policy: a full parse costs ~10 ms of this process's
        # CPU per message, which the workers on a two-core machine would feel.
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(envelope.content)
        record = Received(
            message_id=str(headers.get("Message-ID", "")).strip(),
            to=tuple(envelope.rcpt_tos),
            subject=str(email.header.make_header(email.header.decode_header(headers.get("Subject", "")))),
            has_invite=b"text/calendar" in envelope.content,
        )
        with self._lock:
            self.received.append(record)
        return "250 2.0.0 Accepted"

    # control
    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    # reading
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def wait_for(self, expected: int, *, timeout: float, settle: float = 3.0) -> float:
        """Poll until `expected` messages arrived or the deadline; then keep listening for
        `settle` seconds so that a late duplicate is counted too. Returns the seconds waited."""
        started = time.monotonic()
        wait_until(lambda: self.count() >= expected, timeout=timeout)
        time.sleep(settle)
        return time.monotonic() - started

    def tally(self, expected_ids) -> tuple[int, int, int]:
        """(lost, duplicated, unexpected), counted by Message-ID against the outbox rows."""
        counts = collections.Counter(m.message_id for m in self.messages())
        expected_ids = set(expected_ids)
        lost = len(expected_ids - set(counts))
        duplicated = sum(n - 1 for n in counts.values() if n > 1)
        unexpected = sum(n for mid, n in counts.items() if mid not in expected_ids)
        return lost, duplicated, unexpected


@pytest.fixture
def smtp():
    server = SmtpRecorder()
    server.start()
    yield server
    server.stop()
    print(f"smtp: received={server.count()} refused={server.refused}")


# --- Database and broker --------------------------------------------------------------------------


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def live_db(transactional_db):
    """The test database, committed (no wrapping transaction), as a URL for other processes."""
    s = connection.settings_dict
    credentials = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    url = f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    yield url
    # The processes are dead by now, but PostgreSQL may take a moment to notice a SIGKILLed
    # client; the flush (and the final DROP DATABASE) must not race their sessions.
    if not wait_until(lambda: _other_sessions() == 0, timeout=15):
        with connection.cursor() as cursor:
            # Only sessions on this test database, which only this test's processes opened.
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def worker_redis():
    """REDIS_URL for the workers: the configured server, database 14, empty before and after."""
    import redis

    parts = urlsplit(settings.REDIS_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{WORKER_REDIS_DB}", "", ""))
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"REDIS_URL is set but Redis does not answer at {parts.netloc}: {exc}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


# --- Processes ------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Fleet:
    """Celery worker and beat subprocesses, each in its own session (process group), so that
    a kill takes the whole worker: the main process and every pool child."""

    def __init__(self, *, tmp: Path, env: dict):
        self.tmp = tmp
        self.env = env
        self.procs: list[Proc] = []
        self.killed = 0

    def _spawn(self, name: str, args: list[str], **env) -> Proc:
        log = self.tmp / f"{name}-{len(self.procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def _await(self, *pairs: tuple[Proc, str]) -> None:
        def up(proc, marker):
            return marker in proc.log_text() or proc.popen.poll() is not None

        wait_until(lambda: all(up(proc, marker) for proc, marker in pairs), timeout=PROCESS_START_TIMEOUT)
        for proc, marker in pairs:
            if proc.popen.poll() is not None or marker not in proc.log_text():
                pytest.fail(f"{proc.name} did not start (exit={proc.popen.poll()}):\n{proc.tail(40)}")
            print(f"{proc.name}: started pid={proc.popen.pid}")

    def _worker(self, name: str, concurrency: int) -> tuple[Proc, str]:
        args = ["-m", "celery", "-A", "mentoring", "worker", "-n", f"{name}@%h", "--loglevel", "INFO", "--pool", "prefork", "--concurrency", str(concurrency),
                "--without-gossip", "--without-mingle", "--without-heartbeat"]
        return self._spawn(name, args), " ready."

    def _beat(self, name: str) -> tuple[Proc, str]:
        args = ["-m", "celery", "-A", "mentoring", "beat", "--loglevel", "INFO", "--schedule", str(self.tmp / f"{name}-schedule"), "--pidfile", str(self.tmp / f"{name}.pid"), "--max-interval", "1"]
        return self._spawn(name, args), "beat: Starting"

    def start(self, *, worker: str | None = "worker", concurrency: int = 2, beats: tuple[str, ...] = ("beat",)) -> list[Proc]:
        """Start a worker and beat(s) side by side (each boots Django: seconds on a busy
        machine) and wait until all of them are up. Returns them in that order."""
        pairs = ([self._worker(worker, concurrency)] if worker else []) + [self._beat(name) for name in beats]
        self._await(*pairs)
        return [proc for proc, _marker in pairs]

    def worker(self, name: str = "worker", *, concurrency: int = 2) -> Proc:
        [proc] = self.start(worker=name, concurrency=concurrency, beats=())
        return proc

    def manage(self, name: str, *args: str, **env) -> Proc:
        return self._spawn(name, [str(ROOT / "manage.py"), *args], **env)

    def kill(self, proc: Proc) -> None:
        """SIGKILL the whole process group: no graceful shutdown, no acks, no cleanup."""
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.popen.wait(timeout=10)
        self.killed += 1
        print(f"{proc.name}: killed pid={proc.popen.pid} (whole group, SIGKILL)")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print(f"{proc.name}: pid={proc.popen.pid} did not exit after SIGKILL")
        # pool children that outlived their parent (they are in the same group; be sure)
        for proc in self.procs:
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in self.procs:
            print(f"--- {proc.name} pid={proc.popen.pid} exit={proc.popen.returncode}, last lines of {proc.log.name}:\n{proc.tail(8)}")


@pytest.fixture
def fleet(live_db, worker_redis, smtp, tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL", "CELERY_TASK_ALWAYS_EAGER"}}
    env.update(
        DJANGO_SETTINGS_MODULE="mentoring.settings",
        DATABASE_URL=live_db,
        REDIS_URL=worker_redis,
        EMAIL_URL=smtp.url,
        EMAIL_TIMEOUT="10",
        BEAT_INTERVAL_SECONDS="1",
        # Claimed rows come back after the lease (default 5 min). A minute here; the kill test
        # shortens it to 5 s. (Not 5 s everywhere: a batch that outlives its lease on a busy
        # machine would be sent twice, by its worker and by the one that reclaims it.)
        OUTBOX_LEASE_SECONDS="60",
        # The first retry after a refusal waits 1 s instead of 30 s, then doubles.
        OUTBOX_BACKOFF_SECONDS="1",
        UPWARD_VAR_DIR=str(var_dir),
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    crew = Fleet(tmp=tmp_path, env=env)
    yield crew
    crew.stop_all()


# --- Data -------------------------------------------------------------------------------------------------


def seed_due_meetings(count: int, *, prefix: str = "load") -> int:
    """`count` active pairs in one running program, each with a meeting three hours from now:
    inside the 24-hour lead time, outside the one-hour reminder. Nothing else is due (the pairs
    started yesterday, no surveys are set), so the sweep records exactly two reminders per
    meeting, one per side. Bulk inserts: a thousand people take well under a second."""
    from mentoring.models import Department, Employee
    from pairing.models import Pair
    from programs.models import Enrollment, Program
    from sessions_log.models import Meeting
    from tests.factories import ProgramFactory

    now = timezone.now()
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    program = ProgramFactory(
        # Started 45 days ago: the baseline survey's window (30 days from the start) has closed,
        # so the sweep has no survey reminder to record.
        status=Program.Status.ACTIVE, slug=f"{prefix}-program", enrollment_opens_on=today - 75 * day, enrollment_closes_on=today - 55 * day,
        starts_on=today - 45 * day, ends_on=today + 150 * day,
    )
    department, _ = Department.objects.get_or_create(name=f"{prefix} department")
    people = Employee.objects.bulk_create(
        [
            Employee(
                employee_id=f"{prefix}-{k:06d}", email=f"{prefix}{k}@acme.example", first_name=f"Person{k}", last_name=prefix.title(), department=department,
                level=2 if k % 2 == 0 else 7, time_zone="Europe/London" if k % 2 == 0 else "America/New_York",
            )
            for k in range(2 * count)
        ],
        batch_size=2000,
    )
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(program=program, employee=person, role="mentor" if k % 2 == 0 else "mentee", status=Enrollment.Status.APPROVED, time_zone=person.time_zone, languages=["English"])
            for k, person in enumerate(people)
        ],
        batch_size=2000,
    )
    pairs = Pair.objects.bulk_create(
        [Pair(program=program, mentor=enrollments[2 * k], mentee=enrollments[2 * k + 1], status=Pair.Status.ACTIVE, score=600, started_at=now - day) for k in range(count)],
        batch_size=2000,
    )
    Meeting.objects.bulk_create(
        [Meeting(pair=pair, starts_at=now + datetime.timedelta(hours=3, seconds=k), duration_minutes=45, location="Room 4") for k, pair in enumerate(pairs)],
        batch_size=2000,
    )
    return 2 * count


def outbox_ids() -> set[str]:
    from mentoring.models import OutboxMessage

    return set(OutboxMessage.objects.values_list("message_id", flat=True))


def outbox_statuses() -> dict[str, int]:
    from django.db.models import Count

    from mentoring.models import OutboxMessage

    return dict(OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by("status"))
