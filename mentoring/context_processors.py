from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Role


def navigation(request):
    """Role-aware navigation: each role sees its own pages."""
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        if user.has_role(Role.PARTICIPANT):
            items.append({"label": _("My mentoring"), "url": reverse("participant_home"), "icon": "people"})
        if user.has_role(Role.HR_ADMIN):
            items.append({"label": _("HR console"), "url": reverse("hr_home"), "icon": "clipboard-data"})
            items.append({"label": _("Directory"), "url": reverse("directory"), "icon": "diagram-3"})
            items.append({"label": _("Roster import"), "url": reverse("roster_import"), "icon": "upload"})
        if user.has_role(Role.EXECUTIVE):
            items.append({"label": _("Impact"), "url": reverse("executive_home"), "icon": "graph-up"})
    path = request.path if request else ""
    for item in items:
        item["active"] = path.startswith(item["url"])
    return {"nav_items": items}
