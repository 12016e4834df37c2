import ctypes
import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def _stop_with(parent_pid: int):
    """preexec_fn for the worker: on Linux, the kernel sends it SIGTERM when this command
    dies, even by SIGKILL, which runs no finally block; otherwise a killed demo would leave
    a worker running against its database.  prctl is looked up here, in the parent: between
    fork and exec the child must not load libraries (this process already runs threads)."""
    prctl = None
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None

    def arrange() -> None:
        if prctl is None or prctl(1, signal.SIGTERM) != 0:  # PR_SET_PDEATHSIG
            return  # not available here: the demo's own clean-up still stops the worker
        if os.getppid() != parent_pid:  # the command died before the call above
            os._exit(0)

    return arrange


def _stop_worker(worker: subprocess.Popen, grace: float = 10.0) -> None:
    """Warm shutdown first: SIGTERM to the worker's main process only, which stops its own
    pool and beat.  (SIGTERM to the whole group killed the pool children under the main
    process, which could then hang in its warm shutdown for good.)  Whatever is still there
    after ``grace`` seconds is killed: unsent mail is an outbox row whose lease runs out, so
    the next worker sends it."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool children
        except ProcessLookupError:
            pass
        worker.wait(timeout=5)


class Command(BaseCommand):
    help = "Run Upward with demo data: migrate, seed, then the web server plus a Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default=os.environ.get("UPWARD_ADDRPORT", "127.0.0.1:8000"))
        parser.add_argument("--no-worker", action="store_true", help="Do not start the Celery worker and beat.")

    def handle(self, *args, addrport, no_worker, **options):
        # SIGTERM/SIGHUP (not only Ctrl+C) must stop the worker we start below.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: sys.exit(0))
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        # Links in demo emails point at where the demo actually serves.
        os.environ.setdefault("SITE_URL", f"http://{host}")
        settings.SITE_URL = os.environ["SITE_URL"].rstrip("/")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        worker = None
        if not no_worker:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "mentoring", "worker", "--beat", "--concurrency", "2",
                 "--loglevel", "WARNING", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME],
                start_new_session=True,
                preexec_fn=_stop_with(os.getpid()),
            )
        broker = "Redis" if settings.REDIS_URL else "embedded filesystem broker"
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(self.style.SUCCESS(f"\nUpward is running at http://{host}/  (database: {database}, Celery: {broker})"))
        if "DEBUG" not in os.environ:
            # A demo shows the product's own 404 and error pages, not Django's debug pages
            # (every URL pattern, stack traces); DEBUG=true turns those back on.
            settings.DEBUG = False
        if "MFA_REQUIRED_ROLES" not in os.environ:
            # The demo logins should open at once; set the variable to see the real sign-in.
            settings.MFA_REQUIRED_ROLES = []
            self.stdout.write("MFA is off in the demo: to try it, run with MFA_REQUIRED_ROLES=hr_admin,executive (HR admins and executives then set up an authenticator app).")
        self.stdout.write("Sign in with one of the demo logins above. Stop with Ctrl+C.\n")
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                _stop_worker(worker)
