from allauth.account import forms as allauth_forms
from allauth.account.forms import SignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from . import services


class DirectorySignupForm(SignupForm):
    """Sign-up only for people in the org directory (or an allowed domain)."""

    def clean_email(self):
        email = super().clean_email()
        if not services.signup_allowed(email):
            raise forms.ValidationError(
                _("Sign-up is open to current employees only: use your work email address. If you think you should have access, ask your HR team.")
            )
        return email.lower()


def _relabel(form: forms.Form, labels: dict) -> None:
    # allauth labels its password fields in Title Case ("New Password"); Upward's pages use
    # sentence case. Its fields show the label as the placeholder too.
    for name, label in labels.items():
        form.fields[name].label = label
        form.fields[name].widget.attrs["placeholder"] = label


NEW_PASSWORD_LABELS = {"password1": _("New password"), "password2": _("New password (again)")}


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self, {"oldpassword": _("Current password"), **NEW_PASSWORD_LABELS})


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _relabel(self, NEW_PASSWORD_LABELS)
