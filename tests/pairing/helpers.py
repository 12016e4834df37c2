"""Shared builders for the pairing app's tests."""

from pairing import services
from pairing.models import MatchRun
from programs.models import Enrollment
from tests.factories import EmployeeFactory, EnrollmentFactory

A = Enrollment.Status.APPROVED


def mentor(program, **employee):
    employee.setdefault("level", 2)
    return EnrollmentFactory(program=program, role="mentor", status=A, employee=EmployeeFactory(**employee))


def mentee(program, **employee):
    employee.setdefault("level", 7)
    return EnrollmentFactory(program=program, role="mentee", status=A, employee=EmployeeFactory(**employee))


def run_now(program, hr_user, capture) -> MatchRun:
    """A match run solved now (the on-commit work executed), refreshed from the database."""
    with capture(execute=True):
        run = services.match_run_start(program=program, by=hr_user)
    run.refresh_from_db()
    return run
