"""Privacy pages: a person's data download (by them, or by HR for them), HR's erasure of a
person, HR's audit log search."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import audit, audit_display, gdpr
from .models import AuditEvent, Employee, Role
from .roles import hr_required, role_required

# Every signed-in person has data here, whatever their roles.
any_role_required = role_required(*Role.values)


@any_role_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_data(request):
    if request.method == "POST":
        try:
            archive = gdpr.person_export(user=request.user)
        except gdpr.GdprError as exc:
            messages.error(request, str(exc))
            return redirect("my_data")
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="upward-my-data-{timezone.localdate().isoformat()}.zip"'
        return response
    return render(request, "mentoring/privacy_my_data.html", {"employee": getattr(request.user, "employee", None)})


@hr_required
@never_cache
@require_POST
def employee_export(request, pk: int):
    """HR downloads a person's data for them (a request made through HR, a leaver without a
    login): what HR may see of it, never what is private to them or their pair."""
    employee = get_object_or_404(Employee, pk=pk)
    try:
        archive = gdpr.person_export_for_hr(employee=employee, by=request.user)
    except gdpr.GdprError as exc:
        messages.error(request, str(exc))
        return redirect("employee_detail", pk=employee.pk)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="upward-person-{employee.pk}-data-{timezone.localdate().isoformat()}.zip"'
    return response


class ErasureForm(forms.Form):
    email = forms.CharField(label=gettext_lazy("Type the person's email address to confirm"), max_length=254, widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))


@hr_required
@never_cache
@require_http_methods(["GET", "POST"])
def employee_erase(request, pk: int):
    employee = get_object_or_404(Employee.objects.select_related("department", "user"), pk=pk)
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            gdpr.person_erase(employee=employee, by=request.user, confirm_email=form.cleaned_data["email"])
        except gdpr.GdprError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, _("%(name)s: identity pseudonymised, free text deleted, account closed. Program figures are unchanged.") % {"name": gdpr.erased_name(employee)})
            return redirect("employee_detail", pk=employee.pk)
    is_self = employee.user_id is not None and employee.user_id == request.user.pk
    return render(request, "mentoring/privacy_erase.html", {"employee": employee, "form": form, "is_self": is_self})


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=gettext_lazy("Who"), required=False, help_text=gettext_lazy("Email or name, an account number, or “system”. A whole email address also finds failed sign-ins for it."))
    action = forms.ChoiceField(label=gettext_lazy("What"), required=False, choices=[("", gettext_lazy("Any action")), *AuditEvent.Action.choices])
    object_type = forms.ChoiceField(label=gettext_lazy("Object"), required=False, choices=[("", gettext_lazy("Any object")), *audit.OBJECT_TYPES.items()])
    object_id = forms.IntegerField(label=gettext_lazy("Object number"), required=False, min_value=1)
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", gettext_lazy("The end date is before the start date."))
        return data

    def filters(self) -> audit.AuditFilters:
        data = self.cleaned_data
        return audit.AuditFilters(
            actor=data["actor"], action=data["action"], object_type=data["object_type"], object_id=data["object_id"], since=data["since"], until=data["until"]
        )


@hr_required
@require_GET
def audit_log(request):
    form = AuditFilterForm(request.GET)
    # Filters that do not make sense list nothing (with the reason above), not everything.
    events = audit.audit_search(filters=form.filters()) if form.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, audit.PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = not form.is_valid() or any(value not in (None, "") for value in form.cleaned_data.values())
    # Filtered to a person: the page names them, and an import's row shows what it changed
    # of them, not of everyone.
    person_pk = form.cleaned_data["object_id"] if form.is_valid() and form.cleaned_data["object_type"] == "mentoring.employee" else None
    person = Employee.objects.filter(pk=person_pk).first() if person_pk else None
    rows = audit_display.audit_rows(page.object_list, person_pk=person_pk)
    return render(request, "mentoring/audit_log.html", {"form": form, "page": page, "rows": rows, "filtered": filtered, "person": person})
