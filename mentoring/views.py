import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponseServerError, JsonResponse
from django.template import loader
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from programs import selectors as program_selectors
from sessions_log import selectors as pair_selectors

from . import selectors, services
from .forms import TimeZoneForm
from .models import Department, Employee, reporting_chains
from .roles import Role, home_url_name, hr_required, participant_required, role_required
from .timezones import zone_aliases

logger = logging.getLogger(__name__)


@login_required
@require_GET
def home(request):
    return redirect(home_url_name(request.user))


@participant_required
@require_GET
def participant_home(request):
    employee = getattr(request.user, "employee", None)
    enrollments, open_programs = [], []
    if employee is not None:
        enrollments = list(program_selectors.enrollments_of(employee=employee))
        for enrollment in enrollments:
            # The resources for this person's side, ticked or not (from the selector's prefetches).
            done = {c.resource_id for c in enrollment.completed_resources.all()}
            enrollment.checklist = [(r, r.pk in done) for r in enrollment.program.resources.all() if r.is_for(enrollment.role)]
        open_programs = program_selectors.programs_open_to(employee=employee)
    # Surveys belong to the enrollment, not the pair: listed once, above the pairs.
    my_pairs = pair_selectors.pairs_for_home(employee=employee, with_surveys=False)
    to_do = pair_selectors.surveys_due(employee=employee)
    return render(
        request,
        "mentoring/participant_home.html",
        {"employee": employee, "enrollments": enrollments, "open_programs": open_programs, "my_pairs": my_pairs, "to_do": to_do, "today": timezone.localdate()},
    )


@hr_required
@require_GET
def hr_home(request):
    programs = list(program_selectors.programs_for_hr())
    return render(
        request,
        "mentoring/hr_home.html",
        {
            "summary": selectors.directory_summary(),
            "programs": programs[:8],
            "program_total": len(programs),
            "programs_open": sum(1 for p in programs if p.status == "enrollment_open"),
        },
    )


# HR admins run the programs and prepare the sponsors' reports: they read the same page,
# with the same aggregates and small-group suppression (it shows nothing about the viewer).
@role_required(Role.EXECUTIVE, Role.HR_ADMIN)
@require_GET
def executive_home(request):
    from programs.dashboards import executive_dashboard_render

    return executive_dashboard_render(request)


@hr_required
@require_GET
def directory(request):
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "current")
    try:
        department_id = int(request.GET.get("department") or 0) or None
    except ValueError:
        department_id = None
    employees = selectors.employees_for_directory(query=query, department_id=department_id, status=status)
    page = Paginator(employees, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mentoring/directory.html",
        {"page": page, "query": query, "status": status, "department_id": department_id, "departments": Department.objects.all()},
    )


@hr_required
@require_GET
def employee_detail(request, pk: int):
    employee = get_object_or_404(Employee.objects.select_related("department", "manager", "user"), pk=pk)
    chain_ids = reporting_chains([employee.pk])[employee.pk]
    managers = {e.pk: e for e in Employee.objects.filter(pk__in=chain_ids).select_related("department")}
    return render(
        request,
        "mentoring/employee_detail.html",
        {
            "employee": employee,
            "manager_chain": [managers[i] for i in chain_ids if i in managers],
            "direct_reports": employee.direct_reports.select_related("department").order_by("last_name"),
            "subtree_size": len(employee.subtree_ids()),
            "events": employee.events.all(),
            "role_rows": _role_rows(employee),
            "participation": _participation(employee),
            # The roles this installation asks a second factor of, by the names the page uses.
            "mfa_roles": [str(name) for role, name, _allows, _grant in ROLE_ROWS if role in settings.MFA_REQUIRED_ROLES],
        },
    )


def _participation(employee: Employee) -> list[dict]:
    """The person's programs, newest first, each with their role, status and pairs (partner,
    status, a link to HR's pair page). Two queries."""
    from django.db.models import Q  # noqa: PLC0415

    from pairing.models import Pair  # noqa: PLC0415 - pairing builds on the directory
    from programs.models import Enrollment  # noqa: PLC0415

    enrollments = list(Enrollment.objects.filter(employee=employee).select_related("program").order_by("-program__starts_on", "-pk"))
    pairs = Pair.objects.filter(Q(mentor__employee=employee) | Q(mentee__employee=employee)).exclude(status=Pair.Status.PROPOSED)
    by_enrollment: dict[int, list] = {}
    for pair in pairs.select_related("mentor__employee", "mentee__employee").order_by("-created_at"):
        mine, partner = (pair.mentor, pair.mentee) if pair.mentor.employee_id == employee.pk else (pair.mentee, pair.mentor)
        by_enrollment.setdefault(mine.pk, []).append({"pair": pair, "partner": partner.employee})
    return [{"enrollment": e, "program": e.program, "pairs": by_enrollment.get(e.pk, [])} for e in enrollments]


# The roles HR gives from a person's page: (role, name, what it allows, the grant button).
ROLE_ROWS = (
    (Role.HR_ADMIN, _lazy("HR admin"), _lazy("The HR console: directory and roster, programs, applications, pairing, pair care, reports, the sponsors' impact dashboard and the audit log, and giving roles."), _lazy("Make HR admin")),
    (Role.EXECUTIVE, _lazy("Executive sponsor"), _lazy("The impact dashboard: program figures only, never anyone's notes or feedback."), _lazy("Make executive sponsor")),
    (Role.PARTICIPANT, _lazy("Participant"), _lazy("Applies to programs as a mentor or mentee, meets their partner and logs sessions. Given automatically at sign-up."), _lazy("Make participant")),
)


def _role_rows(employee: Employee) -> list[dict]:
    held = employee.user.role_names if employee.user else frozenset()
    name_of = employee.full_name
    # Giving HR admin opens everything (and executive sponsor the figures): the button asks first.
    confirm = {
        Role.HR_ADMIN: _("Make %(name)s an HR admin? They will see the directory, every program and application, pair care, reports and the audit log, and can give roles to others.") % {"name": name_of},
        Role.EXECUTIVE: _("Make %(name)s an executive sponsor? They will see every program's impact dashboard.") % {"name": name_of},
    }
    return [
        {"role": role, "name": name, "allows": allows, "grant": grant, "held": role in held, "confirm": confirm.get(role, "")}
        for role, name, allows, grant in ROLE_ROWS
    ]


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:  # noqa: BLE001
        logger.exception("Health check: database unreachable")
        return "error"


def _broker_state() -> str:
    if not settings.REDIS_URL:
        return "embedded"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception:  # noqa: BLE001
        logger.warning("Health check: broker unreachable")
        return "error"


@never_cache
@require_GET
def healthz(request):
    """Database and broker state for load balancers and monitors: 200 healthy, 503 not."""
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = all(state in ("ok", "embedded") for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # No request context: the failure may be the database the context processors need.
    return HttpResponseServerError(loader.get_template("500.html").render())


@role_required(*Role.values)
@never_cache
@require_http_methods(["GET", "POST"])
def time_zone_settings(request):
    """Anyone signed in picks the zone Upward shows them times in (the directory's office zone
    until they do); roster imports then leave their choice alone."""
    employee = getattr(request.user, "employee", None)
    if employee is None:
        return render(request, "mentoring/time_zone.html", {"employee": None})
    if request.method == "POST" and "use_office" in request.POST:
        services.time_zone_use_office(employee=employee)
        messages.success(request, _("Times are shown in your office's time zone again: %(tz)s.") % {"tz": employee.time_zone})
        return redirect("time_zone_settings")
    form = TimeZoneForm(request.POST or None, current=employee.time_zone)
    if request.method == "POST" and form.is_valid():
        services.time_zone_choose(employee=employee, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, _("Times are now shown in %(tz)s, on every page, in emails and in calendar invites.") % {"tz": employee.time_zone})
        return redirect("time_zone_settings")
    # Browsers name some zones by old names (Chrome: "Asia/Calcutta"): the page maps them.
    return render(request, "mentoring/time_zone.html", {"employee": employee, "form": form, "zone_aliases": zone_aliases()})
