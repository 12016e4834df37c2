"""Sign-ins as a real login leaves them, for people whose role needs MFA (HR admins, executives)."""

import time

from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.internal.userkit import user_id_to_str
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

AUTHENTICATED_USER_SESSION_KEY = "account_authentication_methods_user"


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for `secret` at time `at` (now by default)."""
    return format_hotp_value(hotp_value(secret, int(at if at is not None else time.time()) // 30))


def totp_code_to_type(secret: str, seconds_left: float = 8) -> str:
    """A code that stays valid while a browser types and submits it: near the end of a
    30-second period, wait for the next one (allauth accepts the current period only)."""
    remaining = 30 - time.time() % 30
    if remaining < seconds_left:
        time.sleep(remaining + 0.1)
    return totp_code(secret)


def give_totp(user) -> str:
    """Activate an authenticator app for `user`; returns its secret (to compute codes)."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        from allauth.mfa.utils import decrypt

        return decrypt(existing.data["secret"])
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def login_with_mfa(client, user) -> str:
    """force_login plus what allauth records when the password and then a TOTP code were
    accepted; the user gets an authenticator app if they had none. Returns its secret."""
    secret = give_totp(user)
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    client.force_login(user)
    session = client.session
    now = time.time()
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "id": authenticator.pk, "type": Authenticator.Type.TOTP},
    ]
    session[AUTHENTICATED_USER_SESSION_KEY] = user_id_to_str(user)
    session.save()
    return secret


def sign_in(client, user) -> None:
    """force_login as a real sign-in leaves it: with the second factor when the user's role
    needs one (MFA_REQUIRED_ROLES), plain otherwise."""
    from mentoring.auth_policy import mfa_required_for

    if mfa_required_for(user):
        login_with_mfa(client, user)
    else:
        client.force_login(user)
