"""HR gives and takes roles from a person's directory page."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .models import Employee, Role
from .roles import hr_required


@hr_required
@require_POST
def employee_role_change(request, pk: int):
    employee = get_object_or_404(Employee.objects.select_related("user"), pk=pk)
    role, change = request.POST.get("role", ""), request.POST.get("change", "")
    if role not in Role.values or change not in ("grant", "revoke"):
        messages.error(request, _("Choose a role to give or take away."))
        return redirect("employee_detail", pk=employee.pk)
    from .views import ROLE_ROWS  # noqa: PLC0415 - the names the page shows

    label = next((str(name) for r, name, _allows, _grant in ROLE_ROWS if r == role), Role(role).label)
    try:
        if change == "grant":
            services.employee_role_grant(employee=employee, role=role)
        else:
            services.employee_role_revoke(employee=employee, role=role)
    except services.MentoringError as exc:
        messages.error(request, str(exc))
        return redirect("employee_detail", pk=employee.pk)
    if change == "revoke":
        messages.success(request, _("%(name)s no longer has the %(role)s role.") % {"name": employee.full_name, "role": label})
    elif role in settings.MFA_REQUIRED_ROLES:
        messages.success(
            request,
            _("%(name)s now has the %(role)s role. From their next page on they need an authenticator app (two-factor authentication): they are asked to set one up if they have none, and for a code at each sign-in.")
            % {"name": employee.full_name, "role": label},
        )
    else:
        messages.success(request, _("%(name)s now has the %(role)s role.") % {"name": employee.full_name, "role": label})
    return redirect("employee_detail", pk=employee.pk)
