"""One-click unsubscribe (RFC 8058), the reminder preferences page, and HR's view of what
the reminders and the outbox did."""

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _, gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mentoring.models import Employee, OutboxMessage
from mentoring.roles import hr_required, participant_required
from mentoring.services import outbox_retry
from programs.models import Program

from .models import Reminder, ReminderOptOut
from .reminders import reminder_opt_out, unsubscribe_read

FAILED_SHOWN = 100


# Mail clients POST "List-Unsubscribe=One-Click" without a session or CSRF token; the signed
# token is the authorisation. GET only shows a confirmation, so link scanners change nothing.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def reminder_unsubscribe(request, token: str):
    data = unsubscribe_read(token)
    if data is None:
        raise Http404
    employee = Employee.objects.filter(pk=data[0]).first()
    if employee is None or data[1] not in Reminder.Kind.values:
        raise Http404
    kind_label = Reminder.Kind(data[1]).label
    if request.method == "POST":
        reminder_opt_out(employee=employee, kind=data[1])
        return render(request, "sessions_log/reminder_unsubscribed.html", {"kind_label": kind_label})
    return render(request, "sessions_log/reminder_unsubscribe.html", {"kind_label": kind_label, "token": token})


# What each reminder is about, beside its name on the settings page.
REMINDER_ABOUT = {
    Reminder.Kind.MEETING_UPCOMING: gettext_lazy("before a meeting with your partner"),
    Reminder.Kind.LOG_SESSION: gettext_lazy("after a meeting that nobody has logged yet"),
    Reminder.Kind.GIVE_FEEDBACK: gettext_lazy("after a logged session you have not rated"),
    Reminder.Kind.AGREEMENT_UNSIGNED: gettext_lazy("when your pair's agreement waits for your acknowledgement"),
    Reminder.Kind.PAIR_STUCK: gettext_lazy("when your pair has had no meeting or log for a while"),
    Reminder.Kind.SURVEY: gettext_lazy("when a program survey opens or is about to close"),
    Reminder.Kind.ENROLLMENT_CLOSING: gettext_lazy("before enrollment closes in a program you are invited to"),
    Reminder.Kind.INVITATION_UNANSWERED: gettext_lazy("when an invitation to a program is still unanswered"),
    Reminder.Kind.ACTION_DUE: gettext_lazy("as a mentee, when an action you committed to is due"),
}


@participant_required
@require_http_methods(["GET", "POST"])
def reminder_preferences(request):
    employee = getattr(request.user, "employee", None)
    if employee is None:
        raise Http404
    if request.method == "POST":
        wanted = set(request.POST.getlist("kinds"))
        for kind in Reminder.Kind.values:
            reminder_opt_out(employee=employee, kind=kind, opt_out=kind not in wanted)
        messages.success(request, _("Your reminder settings are saved."))
        return redirect("reminder_preferences")
    off = set(ReminderOptOut.objects.filter(employee=employee).values_list("kind", flat=True))
    kinds = [{"value": k.value, "label": k.label, "about": REMINDER_ABOUT.get(k, ""), "on": k.value not in off} for k in Reminder.Kind]
    return render(request, "sessions_log/reminder_preferences.html", {"kinds": kinds})


def _reminder_counts():
    """Per program, its reminders by status: one grouped query."""
    S = Reminder.Status
    by_status = {status: Count("reminder_rows", filter=Q(reminder_rows__status=status)) for status in (S.SENT, S.PENDING, S.CANCELLED, S.SKIPPED)}
    return (
        Program.objects.annotate(total=Count("reminder_rows"), **by_status)
        .filter(total__gt=0)
        .only("id", "name", "status")
        .order_by("name", "id")
    )


@hr_required
@require_GET
def hr_reminders(request):
    failed = OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED)
    context = {
        "programs": list(_reminder_counts()),
        "failed": list(failed.only("id", "subject", "to", "attempts", "last_error", "created_at").order_by("-created_at", "-id")[:FAILED_SHOWN]),
        "failed_total": failed.count(),
    }
    return render(request, "sessions_log/hr_reminders.html", context)


@hr_required
@require_POST
def hr_reminders_retry(request):
    # Row ids only: ASCII digits within a bigint ("²".isdigit() is true; a 30-digit id overflows).
    ids = [int(value) for value in request.POST.getlist("message_ids") if value.isascii() and value.isdigit() and len(value) <= 18]
    count = outbox_retry(message_ids=ids) if ids else 0
    if count:
        messages.success(request, ngettext("%(count)d message goes out again.", "%(count)d messages go out again.", count) % {"count": count})
    else:
        messages.info(request, _("Nothing to retry: those messages are no longer failed."))
    return redirect("hr_reminders")
