from allauth.account.adapter import DefaultAccountAdapter
from . import services


class AccountAdapter(DefaultAccountAdapter):
    """Links new accounts to the directory and sends people to their role's home page."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            services.user_link_employee(user=user)
        return user

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        from .roles import home_url_name

        return reverse(home_url_name(request.user))
