"""The machinery of the authorization matrix: walk the URL configuration, build each URL from
the world, request it as a role, and say what came back."""

import hashlib
import re
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security import url_rules
from tests.security.world import MARKERS, PAIR_TEXT, World

# What the session machinery writes on every request; nothing else may change on a refusal.
NOT_FINGERPRINTED = {Session}


@dataclass(frozen=True)
class Pattern:
    key: str  # the URL name (namespaced), or the route for an unnamed pattern
    route: str
    name: str | None


def walk(resolver=None, prefix: str = "", namespace: str | None = None):
    """Every URL pattern of the site, including those of included URLconfs (allauth, admin)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Pattern(key=name or route, route=route, name=name)


def all_patterns() -> list[Pattern]:
    seen, out = set(), []
    for p in walk():
        if (p.key, p.route) not in seen:
            seen.add((p.key, p.route))
            out.append(p)
    return out


_CONVERTER = re.compile(r"(?<!\?P)<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)")


def build_path(route: str, kwargs: dict) -> str:
    """The path for a route string (path() converters or regex groups), kwargs filled in."""
    path = _CONVERTER.sub(lambda m: str(kwargs[m.group("name")]), route)
    path = _GROUP.sub(lambda m: str(kwargs[m.group("name")]), path)
    return "/" + path.replace("^", "").replace("$", "")


def route_params(route: str) -> list[str]:
    return [m.group("name") for m in _CONVERTER.finditer(route)] + [m.group("name") for m in _GROUP.finditer(route)]


# Values for third-party URL parameters (allauth, admin): harmless, mostly unknown ids.
THIRD_PARTY_VALUES = {
    "organization_slug": "acme",
    "provider_id": "oidc",
    "key": "not-a-real-key",
    "uidb36": "1",
    "url": "nowhere/",
}


def admin_kwargs(route: str, world: World) -> dict:
    """An admin URL's parameters, pointing at a real row of the model where there is one."""
    kwargs = {}
    params = route_params(route)
    if "app_label" in params:
        group = re.search(r"\(\?P<app_label>([^)]*)\)", route).group(1)
        kwargs["app_label"] = group.split("|")[-1]
    if "content_type_id" in params:
        kwargs["content_type_id"] = ContentType.objects.get_for_model(world.pair_a).pk
        kwargs["object_id"] = world.pair_a.pk
    elif "object_id" in params:
        parts = route.split("/")
        model = apps.get_model(parts[1], parts[2])
        row = model._base_manager.order_by("pk").first()
        kwargs["object_id"] = row.pk if row is not None else 1
    for name in params:
        kwargs.setdefault(name, THIRD_PARTY_VALUES.get(name, "1"))
    return kwargs


def url_for(pattern: Pattern, world: World) -> str:
    category = url_rules.category_of(pattern.route)
    if category == "admin":
        kwargs = admin_kwargs(pattern.route, world)
    elif category is not None:
        kwargs = {name: THIRD_PARTY_VALUES.get(name, "1") for name in route_params(pattern.route)}
    else:
        rule = url_rules.URLS[pattern.key]
        kwargs = rule.kwargs(world)
        if pattern.name:
            # reverse() proves the table's kwargs are exactly the view's parameters.
            return reverse(pattern.name, kwargs=kwargs) + (f"?{rule.query}" if rule.query else "")
    return build_path(pattern.route, kwargs)


# --- The database fingerprint ----------------------------------------------------------------


def fingerprint() -> dict[str, str]:
    """Per table, a hash of every row's values: any insert, update or delete changes it."""
    out = {}
    for model in apps.get_models(include_auto_created=True):
        if model in NOT_FINGERPRINTED or model._meta.proxy or not model._meta.managed:
            continue
        rows = model._base_manager.order_by("pk").values_list()
        out[model._meta.db_table] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return out


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def rows_written() -> int:
    """How many rows this connection has inserted, updated or deleted so far (any table).

    Hashing every table costs tens of milliseconds; this counter costs one query. A request
    that leaves it unchanged wrote nothing, so the full fingerprint is only taken when it moved.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT total_changes()")
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_all_tables")
        else:
            return -1  # unknown database: always take the full fingerprint
        return int(cursor.fetchone()[0])


# --- Requests and outcomes ---------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    kind: str  # ok / 404 / 403 / 405 / login / admin_login / mfa / error
    location: str
    body: str
    context: list | None = None
    cache_control: str = ""


def classify(response) -> tuple[str, str]:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return "error", location
    if status in (301, 302, 303, 307, 308):
        path = location.split("?", 1)[0]
        if path.startswith(reverse("admin:login")):
            return "admin_login", location
        if path.startswith(reverse("account_login")):
            return "login", location
        if path.startswith(reverse("mfa_index")):
            return "mfa", location  # a role that owes a second factor never reaches the page
        return "ok", location
    if status in (403, 404, 405):
        return str(status), location
    if 200 <= status < 300 or status == 304:
        return "ok", location
    return str(status), location


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", "replace")


def request(client, method: str, url: str, *, rollback: bool, keep_context: bool = False) -> Outcome:
    """One request. With rollback, whatever the view writes is undone (the world stays as built
    for the next request); the test client runs the view on this thread's connection."""
    try:
        if rollback:
            with transaction.atomic():
                response = client.get(url) if method == "GET" else client.post(url)
                transaction.set_rollback(True)
        else:
            response = client.get(url) if method == "GET" else client.post(url)
    except Exception as exc:  # noqa: BLE001 - a crash is an outcome the matrix reports
        return Outcome(500, "error", "", f"{type(exc).__name__}: {exc}")
    kind, location = classify(response)
    context = None
    if keep_context and response.context is not None:
        context = [c.flatten() for c in response.context] if isinstance(response.context, list) else [response.context.flatten()]
    return Outcome(response.status_code, kind, location, body_of(response), context, response.headers.get("Cache-Control", ""))


def world_secrets(world: World, role: str) -> list[str]:
    """What a refusal (or a third-party page) must never show to `role`."""
    secrets = [m.text for m in (*MARKERS, *PAIR_TEXT)]
    secrets += [name for owner, name in world.names_of_pair_a().items() if owner != role]
    return secrets


def secrets_in(body: str, secrets: list[str]) -> list[str]:
    lowered = body.lower()
    return [s for s in secrets if s.lower() in lowered]


# Lines for the terminal summary (tests/security/conftest.py), e.g. "1234 requests tried, 0 leaks".
REPORT: list[str] = []
