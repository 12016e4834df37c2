from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Role


def pair_care_waiting() -> int:
    """Concerns not closed plus pulse alerts not followed up: what HR still has to act on.
    One query (a UNION ALL counted in the database) on every HR page."""
    from sessions_log.models import Concern, PulseAlert

    concerns = Concern.objects.exclude(status=Concern.Status.CLOSED).values("pk")
    alerts = PulseAlert.objects.filter(resolved_at__isnull=True).values("pk")
    return concerns.union(alerts, all=True).count()


def navigation(request):
    """Role-aware navigation: each role sees its own pages."""
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        if user.has_role(Role.PARTICIPANT):
            items.append({"label": _("My mentoring"), "url": reverse("participant_home"), "icon": "people"})
        if user.has_role(Role.HR_ADMIN):
            items.append({"label": _("HR console"), "url": reverse("hr_home"), "icon": "clipboard-data"})
            items.append({"label": _("Programs"), "url": reverse("program_list"), "icon": "journal-text"})
            items.append({"label": _("Directory"), "url": reverse("directory"), "icon": "diagram-3"})
            items.append({"label": _("Roster import"), "url": reverse("roster_import"), "icon": "upload"})
            items.append({"label": _("Pair care"), "url": reverse("hr_care"), "icon": "heart-pulse", "badge": pair_care_waiting()})
            items.append({"label": _("Reminders"), "url": reverse("hr_reminders"), "icon": "bell"})
            items.append({"label": _("Audit log"), "url": reverse("audit_log"), "icon": "journal-check"})
        if user.has_role(Role.EXECUTIVE) or user.has_role(Role.HR_ADMIN):
            items.append({"label": _("Impact"), "url": reverse("executive_home"), "icon": "graph-up"})
    # The most specific match is the current page: /hr/roster/ is "Roster import", not "HR console".
    path = request.path if request else ""
    matches = [item for item in items if path.startswith(item["url"])]
    current = max(matches, key=lambda item: len(item["url"]), default=None)
    for item in items:
        item["active"] = item is current
    return {"nav_items": items}
