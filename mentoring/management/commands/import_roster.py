import datetime
import re
from argparse import ArgumentTypeError
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mentoring.roster import RosterError, roster_apply, roster_import_create, roster_preview


def _iso_date(value: str) -> datetime.date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.date.fromisoformat(value)
    except ValueError:
        pass
    raise ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD")


class Command(BaseCommand):
    help = "Import an HRIS roster export (CSV or XLSX): check every row, then upsert the org directory."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to a .csv or .xlsx roster export.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and show what would change; write nothing.")
        parser.add_argument(
            "--effective-date", type=_iso_date, default=None, metavar="YYYY-MM-DD",
            help="Date for the level changes and rejoins this import records (default: today).",
        )

    def handle(self, *args, file, dry_run, effective_date, verbosity, **options):
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        try:
            plan = roster_preview(data=data, filename=path.name, today=effective_date)
        except RosterError as exc:
            raise CommandError(str(exc)) from exc
        if plan.errors:
            for error in plan.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(plan.errors)} error(s) in {path.name}; nothing was imported.")
        self._print_plan(plan, verbose=verbosity >= 2)
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
            return
        try:
            # Kept as a RosterImport so the HR console's history shows command-line imports too.
            with transaction.atomic():
                roster_import = roster_import_create(data=data, filename=path.name)
                plan = roster_apply(data=data, filename=path.name, effective_date=effective_date, roster_import=roster_import)
        except RosterError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Applied {path.name} (import #{roster_import.pk})."))

    def _print_plan(self, plan, *, verbose: bool):
        counts = plan.counts()
        self.stdout.write(
            f"{plan.filename}: {counts['rows']} rows, {counts['creates']} to create, {counts['updates']} to update, "
            f"{counts['level_changes']} level changes, {counts['leavers']} leavers, {counts['rejoiners']} rejoiners, "
            f"{counts['unchanged']} unchanged, {counts['not_in_file']} current people not in the file."
        )
        for name, people in plan.new_departments:
            self.stdout.write(f"New department (check the spelling): {name} ({people} {'person' if people == 1 else 'people'})")
        for employee_id, name, level, usual_top in plan.unusual_levels:
            self.stdout.write(f"Unusual level (check it is not a typo): {employee_id} {name}: level {level}, where 95% of people are at level {usual_top} or below")
        for employee_id, name, left in plan.leaving_later:
            self.stdout.write(f"Leaves on {left.isoformat()}, not recorded yet (import again on or after that date): {employee_id} {name}")
        for name, kept in plan.kept_blank.items():
            self.stdout.write(f"Blank {name} cells keep the current value for {kept} {'person' if kept == 1 else 'people'}.")
        if verbose:
            for create in plan.creates:
                self.stdout.write(f"  + {create.employee_id} {create.name}")
            for update in plan.updates:
                changes = ", ".join(f"{name}: {old} -> {new}" for name, (old, new) in update.changes.items())
                self.stdout.write(f"  ~ {update.employee_id} {update.name}: {changes}")
