import zoneinfo

from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers


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
        try:
            return self.get_response(request)
        finally:
            # The zone is per request: left active, it would stay on this thread for the next
            # request (another person's, or none) and for any code run after it.
            timezone.deactivate()


class NoStoreForSignedInMiddleware:
    """Pages for a signed-in person are never kept by a browser or a proxy.

    They hold private notes, feedback and pair details: a shared computer's back button, a
    browser's disk cache or a corporate proxy must not hold a copy after the person signs out.
    A response that sets its own Cache-Control (never_cache, a download) keeps it; anonymous
    pages (login, health check) and static files (served by WhiteNoise before this runs) are
    left to their own caching.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response


class FriendlyMethodNotAllowedMiddleware:
    """A browser that opens an address meant for a form's POST (the address bar after a form
    came back with an error, the sign-in page's "next" once a session had expired, a bookmark)
    gets a page of the product saying so, with a link to the nearest page above it, instead
    of Django's blank 405. The status stays 405 and the Allow header stays; API-style
    callers (no text/html in Accept) keep the bare response. Only for a GET of an address
    that takes a POST: a HEAD or a PUT gets Django's answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code != 405
            or request.method != "GET"
            or response.streaming
            or response.content
            or "POST" not in response.get("Allow", "")
        ):
            return response
        patch_vary_headers(response, ["Accept"])
        if "text/html" not in request.headers.get("Accept", ""):
            return response
        from django.shortcuts import render  # noqa: PLC0415 - templates load after apps

        page = render(request, "405.html", {"up_url": nearest_page_above(request.path_info)}, status=405)
        page["Allow"] = response["Allow"]
        patch_vary_headers(page, ["Accept"])
        return page


def nearest_page_above(path: str) -> str | None:
    """The closest shorter path that is a page of the site: /pairs/28/insights/add/ -> /pairs/28/.
    A path that is itself only a form's address (/hr/programs/1/resources/, where the "add"
    form posts) is passed over."""
    from django.urls import Resolver404, get_script_prefix, resolve  # noqa: PLC0415

    parts = [p for p in path.split("/") if p]
    while parts:
        parts.pop()
        candidate = "/" + "".join(f"{p}/" for p in parts)
        try:
            match = resolve(candidate)
        except Resolver404:
            continue
        if "GET" not in _allowed_methods(match.func):
            continue
        return get_script_prefix().rstrip("/") + candidate
    return None


def _allowed_methods(view) -> tuple[str, ...]:
    """The methods a function view takes, read from Django's require_http_methods wrapper
    (require_POST, require_GET...) in its chain of decorators; all of them when it has none."""
    seen = 0
    while view is not None and seen < 20:
        code, cells = getattr(view, "__code__", None), getattr(view, "__closure__", None)
        if code is not None and cells and "request_method_list" in code.co_freevars:
            return tuple(cells[code.co_freevars.index("request_method_list")].cell_contents)
        view, seen = getattr(view, "__wrapped__", None), seen + 1
    return ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
