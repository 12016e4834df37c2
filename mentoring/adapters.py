import datetime
import zoneinfo

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.conf import settings
from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import auth_policy, services
from .models import Employee, User


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


class AccountAdapter(DefaultAccountAdapter):
    """Links new accounts to the directory and sends people to their role's home page."""

    # Say how long to wait (settings.ACCOUNT_RATE_LIMITS: 5 failures per account per 5 minutes).
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": _("Too many failed sign-ins for this account. Wait 5 minutes and try again, or reset your password."),
    }

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth builds the links in its mail (password reset, email confirmation) from the
        # request's Host header, which a caller chooses: any port on an allowed host passes
        # ALLOWED_HOSTS, and a proxy may pass more. Links and the signature use SITE_URL, as
        # every other mail does.
        request = self.request or allauth_context.request
        # Greet people by the name the directory knows (an account is linked to its entry
        # only once the address is confirmed), and show times such as a notification's "when"
        # in their own time zone, as Upward's other mail does (mentoring.mail).
        employee = services.employee_for_email(email)
        zone = _zone(employee.time_zone if employee else "UTC")
        values = dict(context, site_url=settings.SITE_URL, first_name=employee.first_name if employee else "", time_zone=str(zone))
        if request is not None:
            origin = request.build_absolute_uri("/")
            for key, value in context.items():
                if isinstance(value, str) and value.startswith(origin):
                    values[key] = settings.SITE_URL + "/" + value[len(origin):]
        with timezone.override(zone):
            super().send_mail(template_prefix, email, values)

    def confirm_email(self, request, email_address):
        # Link the account to its directory entry only once the person has proved they own
        # the address: otherwise anyone could claim a colleague's entry by signing up first.
        # allauth reads the result: without it a confirmation counted as failed, so the person
        # was not signed in (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION) and landed on the sign-in page.
        confirmed = super().confirm_email(request, email_address)
        if confirmed and (email_address.primary or email_address.email.lower() == email_address.user.email.lower()):
            services.user_link_employee(user=email_address.user)
        return confirmed

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # allauth asks for the password again before adding an authenticator or showing
        # recovery codes. Right after signing in that is the same proof twice, and it is where
        # MFA_REQUIRED_ROLES sends people: a sign-in within the reauthentication window counts
        # while setting up factors added since that sign-in. Changing older ones still asks.
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = self.request or allauth_context.request
        if required and app == "allauth.mfa" and request is not None and auth_policy.setting_up_mfa_after_sign_in(request):
            return False
        return required

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        from .roles import home_url_name

        return reverse(home_url_name(request.user))

    def get_signup_redirect_url(self, request):
        # An account created at sign-in (SSO) lands where a sign-in does.
        return self.get_login_redirect_url(request)


def _sso_refused(request, sociallogin, *, email: str, unverified: bool = False) -> ImmediateHttpResponse:
    provider = sociallogin.provider.name if sociallogin.account.provider else "single sign-on"
    return ImmediateHttpResponse(
        render(request, "socialaccount/sso_refused.html", {"email": email, "provider": provider, "unverified": unverified}, status=403)
    )


def _address_unverified(sociallogin, email: str) -> bool:
    """OpenID Connect says whether the address is the person's (email_verified). A provider
    open to many tenants lets anyone put any address in their profile, so an address it does
    not vouch for must not pick a directory entry. SAML IdPs are the company's own: trusted."""
    if not isinstance(sociallogin.provider, OpenIDConnectProvider):
        return False
    return not any(a.verified for a in sociallogin.email_addresses if a.email.strip().lower() == email)


def _sso_email(sociallogin) -> str:
    """The address the identity provider asserted: the user it suggests, else its first address."""
    email = (sociallogin.user.email if sociallogin.user is not None else "") or ""
    if not email and sociallogin.email_addresses:
        email = sociallogin.email_addresses[0].email
    return email.strip().lower()


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """SSO (OpenID Connect, SAML) maps only onto a current employee of the org directory.

    The identity provider proves who someone is; the directory decides whether they may use
    Upward. A login whose address is not a current employee's, or whose account was
    deactivated (a leaver), is refused with a page that says why, and SSO never creates an
    account for someone the directory does not know.
    """

    def pre_social_login(self, request, sociallogin):
        if sociallogin.is_existing:
            # Linked before: the directory may have changed since (a leaver, a new address).
            user = sociallogin.user
            employee = services.employee_for_email(user.email)
            if not user.is_active or employee is None or not employee.is_current:
                raise _sso_refused(request, sociallogin, email=user.email)
            return
        email = _sso_email(sociallogin)
        employee = services.employee_for_email(email) if email else None
        if employee is None or not employee.is_current:
            raise _sso_refused(request, sociallogin, email=email)
        if _address_unverified(sociallogin, email):
            raise _sso_refused(request, sociallogin, email=email, unverified=True)
        user = employee.user or User.objects.filter(email__iexact=email).first()
        if user is not None and not user.is_active:
            raise _sso_refused(request, sociallogin, email=email)
        if user is not None and employee.user_id is None and Employee.objects.filter(user=user).exclude(pk=employee.pk).exists():
            # The address was someone else's before (reused for a new hire): their account is
            # not this person's.
            raise _sso_refused(request, sociallogin, email=email)
        # The company's identity provider vouches for the address and the directory knows it,
        # so it counts as verified: no confirmation mail before the first sign-in.
        for address in sociallogin.email_addresses:
            if address.email.strip().lower() == email:
                address.verified = True
        if user is not None:
            with transaction.atomic():
                sociallogin.connect(request, user)
                EmailAddress.objects.filter(user=user, email__iexact=email).update(verified=True)
                if employee.user_id is None:
                    services.user_link_employee(user=user)

    def is_auto_signup_allowed(self, request, sociallogin):
        # pre_social_login has matched the address to a current employee without an account:
        # create it from the directory, never through a form where an address could be typed.
        return True

    def is_open_for_signup(self, request, sociallogin):
        employee = services.employee_for_email(_sso_email(sociallogin))
        return employee is not None and employee.is_current

    def save_user(self, request, sociallogin, form=None):
        email = _sso_email(sociallogin)
        employee = services.employee_for_email(email) if email else None
        if employee is None or not employee.is_current:
            raise _sso_refused(request, sociallogin, email=email)
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form=form)
            services.user_link_employee(user=user)
        return user
