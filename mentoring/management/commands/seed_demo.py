import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mentoring.demo import DEMO_LOGINS, DEMO_PASSWORD, build_demo_org


class Command(BaseCommand):
    help = "Build a realistic demo organisation and demo logins (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7, help="Random seed for the generated organisation.")
        parser.add_argument("--force", action="store_true", help="Allow running with PRODUCTION=true.")

    def handle(self, *args, seed, force, **options):
        if settings.PRODUCTION and not force:
            raise CommandError("Refusing to create demo logins with known passwords in production (use --force on a staging copy).")
        started = time.monotonic()
        result = build_demo_org(seed=seed)
        elapsed = time.monotonic() - started
        what = "Built" if result["created"] else "Kept the existing"
        self.stdout.write(
            self.style.SUCCESS(f"{what} demo organisation: {result['employees']} employees, {result['programs']} programs, {result['meetings']} meetings ({elapsed:.1f} s).")
        )
        self.stdout.write("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.email:<24} {login.who}")
