"""How long a session lasts, who must use a second factor, and ending a person's sessions.

Two middlewares, after authentication and messages:
- SessionTimeoutMiddleware signs out a session idle for SESSION_IDLE_TIMEOUT seconds or older
  than SESSION_COOKIE_AGE since sign-in, and sends the person to the login page with a message.
- MFARequiredMiddleware keeps people holding a role in MFA_REQUIRED_ROLES away from every page
  until this session has passed a second factor: without an authenticator app they are sent
  to set one up; with one (e.g. a session from before it was required) they are asked for a code.
"""

import datetime
import time
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Role

SIGNED_IN_AT = "upward.signed_in_at"
LAST_SEEN_AT = "upward.last_seen_at"

# Pages a person who still owes a second factor may reach: setting it up, proving it, leaving.
MFA_SETUP_URL_NAMES = frozenset(
    {
        "mfa_index",
        "mfa_activate_totp",
        "mfa_view_recovery_codes",
        "mfa_download_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_reauthenticate",
        "account_reauthenticate",
        # Confirming it's them by a code emailed to their (directory) address: the only way
        # for someone who signs in through SSO and has no password.
        "account_request_reauthentication_code",
        "account_confirm_reauthentication_code",
        "account_logout",
    }
)
MFA_VERIFY_URL_NAMES = frozenset({"mfa_reauthenticate", "account_reauthenticate", "account_logout"})


def _now() -> float:
    return time.time()


@receiver(user_logged_in, dispatch_uid="upward.auth_policy.stamp_sign_in")
def _stamp_sign_in(sender, request, user, **kwargs):
    # Stamped as part of the sign-in's own session save, so the first page after it does not
    # write the session again.
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = request.session[LAST_SEEN_AT] = _now()


class SessionTimeoutMiddleware:
    """Idle and absolute limits on a signed-in session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response = self._check(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _check(self, request):
        session = request.session
        now = _now()
        signed_in_at = session.get(SIGNED_IN_AT)
        last_seen_at = session.get(LAST_SEEN_AT)
        if signed_in_at is None:
            # A session from before these limits existed: its clock starts now.
            session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = now
            return None
        idle = settings.SESSION_IDLE_TIMEOUT
        if idle and last_seen_at is not None and now - last_seen_at > idle:
            minutes = max(1, round(idle / 60))
            return self._sign_out(request, _("You were signed out after %(minutes)d minutes without activity. Sign in again to continue.") % {"minutes": minutes})
        if now - signed_in_at > settings.SESSION_COOKIE_AGE:
            return self._sign_out(request, _("Your session has ended. Sign in again to continue."))
        # Saving the session costs a write, so activity is recorded at most once a minute
        # (or a tenth of the idle limit when that is shorter): the limit stays accurate to that.
        if last_seen_at is None or now - last_seen_at >= min(60, (idle or 600) / 10):
            session[LAST_SEEN_AT] = now
        return None

    def _sign_out(self, request, message: str):
        path = request.get_full_path()
        logout(request)
        messages.info(request, message)
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': path})}")


def session_is_mfa_authenticated(request) -> bool:
    """Whether this session has passed a second factor (allauth records each step it passes)."""
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def setting_up_mfa_after_sign_in(request) -> bool:
    """Signed in (password or SSO) within ACCOUNT_REAUTHENTICATION_TIMEOUT, and every
    authenticator the person has was added since: a first setup in progress, not a change to
    factors that existed before this sign-in."""
    user = request.user
    if not user.is_authenticated:
        return False
    timeout = getattr(settings, "ACCOUNT_REAUTHENTICATION_TIMEOUT", 300)
    sign_ins = [r["at"] for r in get_authentication_records(request, user) if r.get("method") in ("password", "socialaccount") and "at" in r]
    if not sign_ins or _now() - sign_ins[-1] >= timeout:
        return False
    older = Authenticator.objects.filter(user_id=user.pk, created_at__lt=datetime.datetime.fromtimestamp(sign_ins[-1], tz=datetime.UTC))
    return not older.exists()


def mfa_required_for(user) -> bool:
    """A role in MFA_REQUIRED_ROLES, or access to the Django admin (staff, superusers: they
    can grant roles there), needs a second factor whenever enforcement is on."""
    if not settings.MFA_REQUIRED_ROLES:
        return False
    return user.is_staff or user.is_superuser or any(user.has_role(role) for role in settings.MFA_REQUIRED_ROLES)


class MFARequiredMiddleware:
    """People in MFA_REQUIRED_ROLES reach nothing but MFA setup and logout until they pass MFA.

    Sets request.mfa_requirement to "setup" (no authenticator app yet), "verify" (one exists
    but this session has not used it) or None, for the templates' explanations.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        unknown = set(settings.MFA_REQUIRED_ROLES) - set(Role.values)
        if unknown:
            raise ImproperlyConfigured(f"MFA_REQUIRED_ROLES has unknown roles {sorted(unknown)}; use some of {', '.join(Role.values)}.")

    def __call__(self, request):
        request.mfa_requirement = None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not settings.MFA_REQUIRED_ROLES or request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return self.get_response(request)
        if not mfa_required_for(user) or session_is_mfa_authenticated(request):
            return self.get_response(request)
        has_totp = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()
        request.mfa_requirement = "verify" if has_totp else "setup"
        try:
            url_name = resolve(request.path_info).url_name
        except Resolver404:
            url_name = None
        allowed = MFA_VERIFY_URL_NAMES if has_totp else MFA_SETUP_URL_NAMES
        if url_name not in allowed:
            target = "mfa_reauthenticate" if has_totp else "mfa_activate_totp"
            return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        started = timezone.now()
        response = self.get_response(request)
        if not has_totp and url_name == "mfa_activate_totp" and request.method == "POST":
            # Activating the app meant typing a valid code from it: that is this session's second
            # factor, so the person goes on to their pages without a second code (which, inside
            # the same 30 seconds, would be the same code and be refused as a replay).
            # Only an app activated by this very request counts (not one another session of the
            # same person happened to activate meanwhile).
            authenticator = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP, created_at__gte=started).first()
            if authenticator is not None:
                record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type, activated=True)
        return response


def user_sessions_end(*, user_ids: list[int]) -> int:
    """Delete every session of these users (a leaver is signed out everywhere); returns how many.

    The database session engine keeps the user id inside the encoded session data, so the live
    sessions are decoded here: a few thousand rows at most in a company, and it runs only when
    a roster import marks leavers.
    """
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return 0
    store = SessionStore()
    doomed = [
        key
        for key, data in Session.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data").iterator(chunk_size=2000)
        if str(store.decode(data).get("_auth_user_id")) in wanted
    ]
    with transaction.atomic():
        deleted = 0
        for start in range(0, len(doomed), 500):
            deleted += Session.objects.filter(session_key__in=doomed[start : start + 500]).delete()[0]
    return deleted
