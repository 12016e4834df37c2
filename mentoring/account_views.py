"""allauth's account views, where Upward needs more than a template override."""

from allauth.account import app_settings as account_settings
from allauth.account.models import EmailAddress
from allauth.account.views import ConfirmEmailView as AllauthConfirmEmailView
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import render


def _address_confirmed_by_link(key: str) -> EmailAddress | None:
    """The already-verified address a confirmation link was made for.

    allauth's link key is the address's id signed with SECRET_KEY, so only someone who was
    sent the link can ask about it: nobody can look up an address whose link they do not
    hold. Expiry does not matter here: a used link stays used.
    """
    if not account_settings.EMAIL_CONFIRMATION_HMAC:
        return None
    try:
        pk = signing.loads(key, salt=account_settings.SALT)
    except signing.BadSignature:
        return None
    return EmailAddress.objects.filter(pk=pk, verified=True).first()


class ConfirmEmailView(AllauthConfirmEmailView):
    """A link opened again after it confirmed the address says so, instead of "expired or
    invalid" (allauth finds no pending confirmation for a verified address)."""

    def post(self, *args, **kwargs):
        try:
            return super().post(*args, **kwargs)
        except Http404:
            # The button pressed twice, or in two tabs: the first press confirmed the address.
            self.object = None
            return self.render_to_response(self.get_context_data())

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        if context["confirmation"] is None:
            context["already_confirmed"] = _address_confirmed_by_link(self.kwargs["key"])
        return context


confirm_email = ConfirmEmailView.as_view()


@login_required
def email_address(request):
    """In place of allauth's address management: the company directory owns a person's
    address (roster imports key on it, SSO and sign-up match on it), so nobody adds another
    one or makes another one primary here. The page says where the address comes from; any
    form posted to it (an old allauth page still open) changes nothing and says why."""
    employee = getattr(request.user, "employee", None)
    refused = request.method not in ("GET", "HEAD")
    response = render(request, "account/email.html", {"directory_email": employee.email if employee else "", "refused": refused}, status=405 if refused else 200)
    if refused:
        response["Allow"] = "GET, HEAD"
    return response
