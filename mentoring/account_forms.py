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
