"""The audit log: who did what, when, to which object, with the values that changed.

`audit_record` is called by the services that make the change, inside their transaction: the
event is written if and only if the change is. Callers pass ids, statuses and counts; never
names, emails or free text (notes, comments, pulse answers, feedback): the log cannot be
edited, so it must never hold anything an erasure would have to remove.

Also here: the sign-in receivers and the HR search over the log; how an entry reads to HR is
mentoring/audit_display.py.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, Employee, User

Action = AuditEvent.Action

# "Take it from the request being served", the default for actor and ip.
FROM_REQUEST = object()

SUMMARY_MAX = 300


def _current_request():
    # allauth's AccountMiddleware keeps the request being served in a context variable; outside
    # a request (Celery, management commands) there is none and the event is the system's.
    from allauth.core import context

    return context.request


def client_ip(request) -> str | None:
    """The client's address, as allauth's rate limits see it (proxies per TRUSTED_PROXY_COUNT)."""
    if request is None:
        return None
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


def object_type_of(obj: Model) -> str:
    return obj._meta.label_lower


def audit_record(
    *,
    action: str,
    target: Model | None = None,
    object_type: str = "",
    object_id: int | None = None,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor=FROM_REQUEST,
    ip=FROM_REQUEST,
) -> AuditEvent:
    """Append one event. `actor` and `ip` default to the signed-in person of the current request
    (None outside a request: the system did it)."""
    if action not in Action.values:
        raise ValueError(f"Unknown audit action {action!r}")
    request = _current_request() if actor is FROM_REQUEST or ip is FROM_REQUEST else None
    if actor is FROM_REQUEST:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    if ip is FROM_REQUEST:
        ip = client_ip(request)
    if target is not None:
        object_type, object_id = object_type_of(target), target.pk
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:SUMMARY_MAX],
        before=before or {},
        after=after or {},
        ip=ip,
    )


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields whose value differs, on both sides."""
    names = [name for name in dict.fromkeys([*before, *after]) if before.get(name) != after.get(name)]
    return {n: before.get(n) for n in names if n in before}, {n: after.get(n) for n in names if n in after}


# --- Sign-in ------------------------------------------------------------------------------------


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def _on_user_logged_in(sender, request, user, **kwargs):
    audit_record(action=Action.LOGIN, target=user, actor=user, ip=client_ip(request))


# Hex digits kept of the keyed hash: 96 bits, ample to tell addresses apart.
EMAIL_HASH_LENGTH = 24


def email_hash(address: str) -> str:
    """A keyed hash (HMAC-SHA256 under SECRET_KEY) of a normalised email address.

    Failed sign-ins for an address without an account record this, never the address: the log
    cannot be edited, so it must hold nothing an erasure would have to remove. The same address
    always gives the same hash (so repeated attempts can be correlated, and HR can look one up
    by typing the address), but the hash cannot be turned back into the address without the
    key. Rotating SECRET_KEY starts new hashes: older events no longer match.
    """
    normalised = address.strip().lower()[:254]
    return salted_hmac("upward.audit.login_failed.email", normalised, secret=settings.SECRET_KEY, algorithm="sha256").hexdigest()[:EMAIL_HASH_LENGTH]


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def _on_user_login_failed(sender, credentials, request=None, **kwargs):
    # Only the address that was tried: Django has already masked the password in `credentials`,
    # and it is not read here at all. An address that belongs to an account is stored as that
    # account's id; any other address only as its keyed hash. No email ever reaches the log.
    attempted = str(credentials.get("email") or credentials.get("username") or "").strip().lower()[:254]
    user = User.objects.filter(email__iexact=attempted).only("pk").first() if attempted else None
    audit_record(
        action=Action.LOGIN_FAILED,
        object_type=object_type_of(user) if user else "",
        object_id=user.pk if user else None,
        after={} if user or not attempted else {"email_hash": email_hash(attempted)},
        actor=None,
        ip=client_ip(request),
    )


# --- HR search ------------------------------------------------------------------------------------

PAGE_SIZE = 50


@dataclass
class AuditFilters:
    actor: str = ""  # email or name fragment, a user id, or "system"; a whole address also finds failed sign-ins with it
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    since: datetime.date | None = None  # in the viewer's time zone
    until: datetime.date | None = None  # inclusive


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), timezone.get_current_timezone())


def audit_search(*, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Events matching HR's filters, newest first; dates are days in the viewer's time zone."""
    qs = AuditEvent.objects.select_related("actor")
    actor = filters.actor.strip()
    if actor.lower() == "system":
        qs = qs.filter(actor__isnull=True)
    elif actor.isdigit():
        qs = qs.filter(actor_id=int(actor))
    elif actor:
        match = Q(actor__email__icontains=actor) | Q(actor__full_name__icontains=actor)
        if "@" in actor and " " not in actor:
            # Failed sign-ins for an address without an account hold only its keyed hash: a
            # whole address typed here finds them (a fragment cannot).
            match |= Q(action=Action.LOGIN_FAILED, after__email_hash=email_hash(actor))
        qs = qs.filter(match)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type == "mentoring.employee" and filters.object_id is not None:
        # A person's events include those on their login (roles, sign-ins) and the roster
        # imports that created or changed them (one event per import, or per part of 2,000
        # people of a large one, listing each by id).
        person = Q(object_type=filters.object_type, object_id=filters.object_id) | Q(
            action=Action.ROSTER_IMPORTED, after__employees__has_key=str(filters.object_id)
        )
        user_id = Employee.objects.filter(pk=filters.object_id).values_list("user_id", flat=True).first()
        if user_id is not None:
            person |= Q(object_type="mentoring.user", object_id=user_id)
        # Imports logged before created people were keys of "employees" listed them under
        # "created", a list of ids: PostgreSQL looks inside it with containment; SQLite, which
        # has no JSON containment, matches the id as a whole element of the list's text.
        if connections[qs.db].features.supports_json_field_contains:
            person |= Q(action=Action.ROSTER_IMPORTED, after__created__contains=[filters.object_id])
        else:
            person |= Q(action=Action.ROSTER_IMPORTED, after__created__regex=rf"[\[,]\s*{int(filters.object_id)}\s*[,\]]")
        qs = qs.filter(person)
    else:
        if filters.object_type:
            qs = qs.filter(object_type=filters.object_type)
        if filters.object_id is not None:
            qs = qs.filter(object_id=filters.object_id)
    if filters.since:
        qs = qs.filter(occurred_at__gte=_day_start(filters.since))
    if filters.until:
        qs = qs.filter(occurred_at__lt=_day_start(filters.until + datetime.timedelta(days=1)))
    return qs.order_by("-occurred_at", "-id")


# The object types the log names, with how a page labels one of them.
OBJECT_TYPES = {
    "mentoring.user": _("Account"),
    "mentoring.employee": _("Person"),
    "mentoring.rosterimport": _("Roster import"),
    "programs.program": _("Program"),
    "pairing.matchrun": _("Match run"),
    "pairing.pairingoverride": _("Pin or exclusion"),
    "pairing.pair": _("Pair"),
    "sessions_log.concern": _("Concern"),
    "sessions_log.pulsealert": _("Safety pulse alert"),
}
