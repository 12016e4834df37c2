import datetime

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count

from mentoring.demo import DEMO_LOGINS, DEMO_PASSWORD
from mentoring.models import Department, Employee, EmployeeEvent, Role, reporting_chains

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_realistic_org_and_runs_twice(capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # running it again must not fail or duplicate
    out = capsys.readouterr().out
    assert "hr@acme.example" in out and DEMO_PASSWORD in out

    assert Employee.objects.count() >= 400
    assert Department.objects.count() >= 6
    depth = max(len(chain) for chain in reporting_chains(Employee.objects.values_list("id", flat=True)).values())
    assert depth >= 5
    assert Employee.objects.filter(left_date__isnull=False).count() > 0
    assert EmployeeEvent.objects.filter(kind=EmployeeEvent.Kind.LEVEL_CHANGE).count() > 0
    assert Employee.objects.values("level").distinct().count() >= 8
    assert Employee.objects.values("hire_date").distinct().count() > 100

    for login in DEMO_LOGINS:
        user = authenticate(email=login.email, password=DEMO_PASSWORD)
        assert user is not None and user.has_role(login.role)
        assert user.employee.is_current
    hr = authenticate(email="hr@acme.example", password=DEMO_PASSWORD)
    assert hr.has_role(Role.PARTICIPANT)


def test_seed_demo_has_a_program_in_every_state_with_real_pairs():
    from pairing.models import Pair
    from programs.models import Enrollment, Program

    call_command("seed_demo")
    assert set(Program.objects.values_list("status", flat=True)) == set(Program.Status.values)
    assert Enrollment.objects.count() >= 200
    active = Program.objects.get(status="active")
    pairs = Pair.objects.filter(program=active, status="active").select_related("mentor__employee", "mentee__employee")
    assert pairs.count() >= 20
    demo_pair = pairs.get(mentor__employee__email="mentor@acme.example")
    assert demo_pair.mentee.employee.email == "mentee@acme.example"
    for pair in pairs:  # the engine's hard rules hold in the demo data too
        assert not pair.mentor.employee.in_reporting_line_of(pair.mentee.employee)
        assert pair.mentee.employee.level - pair.mentor.employee.level >= active.min_level_gap

    # The demo's published runs count as told: the worker's sweep must not mail its people.
    from mentoring.models import OutboxMessage
    from pairing.tasks import resume_match_runs

    before = OutboxMessage.objects.count()
    assert resume_match_runs() == 0 and OutboxMessage.objects.count() == before


def test_seed_demo_refuses_production(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")


def test_seed_demo_gives_pairs_months_of_history():
    from sessions_log.models import Feedback, Meeting, SafetyPulse, SessionLog, SurveyResponse

    call_command("seed_demo")
    demo_pair_meetings = Meeting.objects.filter(pair__mentor__employee__email="mentor@acme.example", pair__status="active")
    assert demo_pair_meetings.count() >= 5
    assert demo_pair_meetings.filter(starts_at__gt=__import__("django.utils.timezone", fromlist=["now"]).now()).exists()  # one coming up
    assert SessionLog.objects.count() > 200 and Feedback.objects.count() > 200 and SafetyPulse.objects.exists()
    assert SurveyResponse.objects.filter(kind="midpoint").exists() and SurveyResponse.objects.filter(kind="final").exists()
    for log in SessionLog.objects.select_related("pair")[:50]:
        assert log.pair.started_at.date() <= log.held_on  # history is consistent with the pair
    count = Meeting.objects.count()
    call_command("seed_demo")
    assert Meeting.objects.count() == count


def test_seed_demo_computes_snapshots_for_the_dashboards():
    from programs.models import MetricSnapshot

    call_command("seed_demo")
    active = MetricSnapshot.objects.filter(program__status="active")
    assert active.count() >= 5
    latest = active.order_by("-as_of").first()
    assert latest.data["pairs"]["active"] >= 20 and latest.data["meetings"]["held"] > 0
    # Finished programs have a trend over their own run, ending on their last day.
    from django.utils import timezone

    from programs.models import Program

    for program in Program.objects.filter(status__in=["completed", "archived"]):
        days = sorted(MetricSnapshot.objects.filter(program=program).values_list("as_of", flat=True))
        assert len(days) >= 4 and days[0] >= program.starts_on and days[-1] == min(program.ends_on, timezone.localdate())


def test_seed_demo_meetings_fall_in_working_hours_where_the_scheduler_lives():
    """Stored in UTC, but a 9:00 meeting in Singapore is 9:00 there, not 17:00."""
    from zoneinfo import ZoneInfo

    from sessions_log.models import Meeting

    call_command("seed_demo")
    meetings = list(Meeting.objects.select_related("scheduled_by"))
    assert len(meetings) > 100
    zones = {m.scheduled_by.time_zone for m in meetings}
    assert len(zones) >= 3  # the demo spans offices, so UTC and local hours really differ
    for meeting in meetings:
        local = meeting.starts_at.astimezone(ZoneInfo(meeting.scheduled_by.time_zone))
        assert 8 <= local.hour <= 17 and local.weekday() < 5, (meeting.pk, meeting.scheduled_by.time_zone, local)


def test_seed_demo_meetings_are_in_working_hours_for_both_sides_when_their_offices_overlap():
    """Lisbon and Singapore share 08:00–09:00 Lisbon: never 01:00 for one of them."""
    from zoneinfo import ZoneInfo

    from sessions_log.models import Meeting

    call_command("seed_demo")
    checked = 0
    for meeting in Meeting.objects.select_related("pair__mentor__employee", "pair__mentee__employee"):
        hours = [meeting.starts_at.astimezone(ZoneInfo(side.employee.time_zone)).hour for side in (meeting.pair.mentor, meeting.pair.mentee)]
        offsets = [meeting.starts_at.astimezone(ZoneInfo(side.employee.time_zone)).utcoffset() for side in (meeting.pair.mentor, meeting.pair.mentee)]
        if abs(offsets[0] - offsets[1]) <= datetime.timedelta(hours=9):  # their working days overlap
            assert all(8 <= h <= 17 for h in hours), (meeting.pk, meeting.pair.mentor.employee.time_zone, meeting.pair.mentee.employee.time_zone, hours)
            checked += 1
    assert checked > 100


def test_seed_demo_enrolls_only_people_already_with_the_organisation(client):
    """A 2024 program's participants were hired before it began: the executive page does not
    say that some "joined the organisation after the program began"."""
    from django.db.models import F
    from django.urls import reverse

    from programs.models import Enrollment, MetricSnapshot, Program

    call_command("seed_demo")
    assert not Enrollment.objects.filter(employee__hire_date__gt=F("program__starts_on")).exists()
    for program in Program.objects.filter(status__in=["active", "completed", "archived"]):
        latest = MetricSnapshot.objects.filter(program=program).order_by("-as_of").first()
        assert latest.data["retention"]["n_joined_after_start"] == 0, program.slug
    from tests.auth_helpers import login_with_mfa

    login_with_mfa(client, Employee.objects.get(email="exec@acme.example").user)
    archived = Program.objects.get(status="archived")
    body = client.get(reverse("executive_home"), {"program": archived.pk}).content.decode()
    assert "Retention and promotion against peers" in body and "joined the organisation after the program began" not in body
