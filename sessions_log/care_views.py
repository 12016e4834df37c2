"""HR's pair-care page: safety-pulse alerts (never the answers) and mentors' concerns."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mentoring.roles import hr_required

from .models import Concern, PulseAlert


@hr_required
@require_GET
def hr_care(request):
    alerts = PulseAlert.objects.filter(resolved_at__isnull=True).select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee").order_by("-created_at")
    concerns = Concern.objects.exclude(status=Concern.Status.CLOSED).select_related("pair__program", "raised_by", "pair__mentee__employee").order_by("-created_at")
    return render(request, "sessions_log/hr_care.html", {"alerts": alerts, "concerns": concerns})


@hr_required
@require_POST
def hr_alert_resolve(request, pk: int):
    alert = get_object_or_404(PulseAlert, pk=pk, resolved_at__isnull=True)
    # Two HR admins following up at once: a conditional update, so the first stamp stands and
    # the second is told instead of both being thanked.
    if PulseAlert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=timezone.now()):
        messages.success(request, _("Alert marked as followed up."))
    else:
        messages.info(request, _("Someone else marked this alert as followed up a moment ago."))
    return redirect("hr_care")


@hr_required
@require_POST
def hr_concern_status(request, pk: int):
    concern = get_object_or_404(Concern, pk=pk)
    status = request.POST.get("status")
    if status not in Concern.Status.values:
        messages.error(request, _("Choose a status."))
    else:
        concern.status = status
        concern.save(update_fields=["status"])
        messages.success(request, _("Concern updated."))
    return redirect("hr_care")
