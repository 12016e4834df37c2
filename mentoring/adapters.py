from allauth.account.adapter import DefaultAccountAdapter
from . import services


class AccountAdapter(DefaultAccountAdapter):
    """Links new accounts to the directory and sends people to their role's home page."""

    def confirm_email(self, request, email_address):
        # Link the account to its directory entry only once the person has proved they own
        # the address: otherwise anyone could claim a colleague's entry by signing up first.
        super().confirm_email(request, email_address)
        if email_address.primary or email_address.email.lower() == email_address.user.email.lower():
            services.user_link_employee(user=email_address.user)

    def get_login_redirect_url(self, request):
        from django.urls import reverse

        from .roles import home_url_name

        return reverse(home_url_name(request.user))
