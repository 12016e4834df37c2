import zoneinfo

from django.utils import timezone


class UserTimezoneMiddleware:
    """Show each person times in their own zone (from the directory); store UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            employee = getattr(user, "employee", None)
            tz_name = employee.time_zone if employee is not None else None
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
