"""HR's pair-care page: safety-pulse alerts (never the answers) and mentors' concerns."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mentoring.models import AuditEvent, User
from mentoring.roles import hr_required
from mentoring.timezones import now_in
from programs.models import Program

from . import services
from .models import Concern, PulseAlert

# Closed concerns and followed-up alerts pile up for as long as programs run: a page at a time.
HISTORY_PAGE_SIZE = 25


def _last_audit(model, action: str, field: str) -> Subquery:
    """`field` of the latest audit event of `action` on each row: who changed it, and when."""
    events = AuditEvent.objects.filter(object_type=model._meta.label_lower, object_id=OuterRef("pk"), action=action).order_by("-occurred_at", "-id")
    return Subquery(events.values(field)[:1])


def _concerns():
    action = AuditEvent.Action.CONCERN_STATUS_CHANGED
    return Concern.objects.select_related("pair__program", "raised_by", "pair__mentor__employee", "pair__mentee__employee", "hr_note_by").annotate(
        changed_at=_last_audit(Concern, action, "occurred_at"), changed_by_id=_last_audit(Concern, action, "actor_id")
    )


def _who_to_contact(rows, now) -> None:
    """Set `partner` (the other person of the pair) and `raiser_now` (the time where the person
    who raised it is, for a call) on each concern, from what is already loaded."""
    for concern in rows:
        mentor, mentee = concern.pair.mentor.employee, concern.pair.mentee.employee
        concern.partner = mentee if concern.raised_by_id == mentor.pk else mentor
        concern.raiser_now = now_in(concern.raised_by.time_zone, at=now)


def _name_changers(*rows_lists) -> None:
    """Set `changed_by` on every row from one query for all the people named on the page."""
    rows = [row for rows in rows_lists for row in rows]
    ids = {row.changed_by_id for row in rows if row.changed_by_id}
    people = User.objects.only("email", "full_name").in_bulk(ids) if ids else {}
    for row in rows:
        person = people.get(row.changed_by_id)
        row.changed_by = (person.full_name or person.email) if person else None


@hr_required
@require_GET
def hr_care(request):
    alerts = list(
        PulseAlert.objects.filter(resolved_at__isnull=True).select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee").order_by("-created_at")
    )
    concerns = list(_concerns().exclude(status=Concern.Status.CLOSED).order_by("-created_at"))
    show_closed = request.GET.get("closed") == "1"
    context = {"alerts": alerts, "concerns": concerns, "show_closed": show_closed}
    pages = []
    if show_closed:
        closed = _concerns().filter(status=Concern.Status.CLOSED).order_by(Coalesce("changed_at", "created_at").desc(), "-pk")
        resolved = (
            PulseAlert.objects.filter(resolved_at__isnull=False)
            .select_related("pair__program", "pair__mentor__employee", "pair__mentee__employee")
            .annotate(changed_by_id=_last_audit(PulseAlert, AuditEvent.Action.PULSE_ALERT_RESOLVED, "actor_id"))
            .order_by("-resolved_at", "-pk")
        )
        context["closed_concerns"] = Paginator(closed, HISTORY_PAGE_SIZE).get_page(request.GET.get("concerns_page"))
        context["resolved_alerts"] = Paginator(resolved, HISTORY_PAGE_SIZE).get_page(request.GET.get("alerts_page"))
        pages = [context["closed_concerns"].object_list, context["resolved_alerts"].object_list]
    _name_changers(concerns, *pages)
    _who_to_contact([*concerns, *(pages[0] if pages else ())], timezone.now())
    # Pairs gone quiet are flagged per program (its dashboard's pair health and its pairs
    # list), not here: this page is for the junior side's safety. Links to where they are.
    context["running_programs"] = Program.objects.filter(status=Program.Status.ACTIVE).only("name", "slug").order_by("name")
    context["note_max"] = services.CONCERN_NOTE_MAX
    return render(request, "sessions_log/hr_care.html", context)


def _back_to_care(request):
    # The closed list's reopen button brings HR back to that list, not to the open one.
    if request.POST.get("return") == "closed":
        return redirect(f"{reverse('hr_care')}?closed=1")
    return redirect("hr_care")


@hr_required
@require_POST
def hr_alert_resolve(request, pk: int):
    alert = get_object_or_404(PulseAlert, pk=pk)
    if services.pulse_alert_resolve(alert=alert, by=request.user):
        messages.success(request, _("Alert marked as followed up."))
    else:
        messages.info(request, _("Someone else marked this alert as followed up a moment ago."))
    return redirect("hr_care")


@hr_required
@require_POST
def hr_concern_status(request, pk: int):
    concern = get_object_or_404(Concern, pk=pk)
    status = request.POST.get("status", "")
    # None when the form has no note field (the reopen button): the note stays as it is.
    note = request.POST.get("hr_note")
    try:
        changed = services.concern_set_status(concern=concern, status=status, by=request.user, seen_status=request.POST.get("seen_status", ""), note=note)
    except services.SessionError as exc:
        messages.error(request, str(exc))
    else:
        label = Concern.Status(status).label
        if changed.status_changed:
            text = _("Concern set to “%(status)s”.") % {"status": label}
            messages.success(request, text + (" " + _("Your note is saved.") if changed.note_changed else ""))
        elif changed.note_changed:
            messages.success(request, _("Your note is saved; the concern stays “%(status)s”.") % {"status": label})
        else:
            messages.info(request, _("The concern was already “%(status)s”.") % {"status": label})
    return _back_to_care(request)
