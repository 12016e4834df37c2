"""Sign-up is for the directory only; logins land on each role's home page."""

import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse

from mentoring.models import Role, User
from tests.factories import EmployeeFactory, UserFactory, make_person

pytestmark = pytest.mark.django_db

SIGNUP = {"password1": "a-long-Unusual-passphrase-42", "password2": "a-long-Unusual-passphrase-42"}


def signup(client, email):
    return client.post(reverse("account_signup"), {"email": email, **SIGNUP})


def test_signup_refused_for_an_email_outside_the_directory(client):
    response = signup(client, "stranger@gmail.example")
    assert response.status_code == 200
    assert "open to current employees only" in response.content.decode()
    assert not User.objects.filter(email="stranger@gmail.example").exists()


def test_signup_refused_for_a_leaver(client):
    EmployeeFactory(email="gone@acme.example", left_date=datetime.date(2025, 1, 31))
    signup(client, "gone@acme.example")
    assert not User.objects.filter(email="gone@acme.example").exists()


def test_signup_for_an_employee_links_the_directory_entry_and_sends_a_verification_email(client, deliver_outbox):
    employee = EmployeeFactory(email="kemi.adeyemi@acme.example", first_name="Kemi", last_name="Adeyemi")
    response = signup(client, "Kemi.Adeyemi@ACME.example")
    assert response.status_code == 302
    user = User.objects.get(email="kemi.adeyemi@acme.example")
    assert not EmailAddress.objects.get(user=user).verified
    employee.refresh_from_db()
    assert employee.user is None  # not before the address is confirmed
    # The verification email goes through the outbox like every other message.
    assert mail.outbox == []
    assert deliver_outbox() == 1
    assert mail.outbox[0].to == ["kemi.adeyemi@acme.example"]
    confirm_url = next(word for word in mail.outbox[0].body.split() if "/accounts/confirm-email/" in word)
    client.post(confirm_url)
    employee.refresh_from_db()
    user.refresh_from_db()
    assert employee.user == user and user.full_name == "Kemi Adeyemi"
    assert user.has_role(Role.PARTICIPANT)


def test_signup_allowed_domain_works_without_a_directory_entry(client, settings):
    settings.SIGNUP_ALLOWED_DOMAINS = ["partner.example"]
    signup(client, "contractor@partner.example")
    assert User.objects.filter(email="contractor@partner.example").exists()


def test_unverified_email_cannot_sign_in(client):
    EmployeeFactory(email="new@acme.example")
    signup(client, "new@acme.example")
    client.logout()
    response = client.post(reverse("account_login"), {"login": "new@acme.example", "password": SIGNUP["password1"]})
    assert response.status_code == 302 and "confirm-email" in response["Location"]


@pytest.mark.parametrize(
    ("roles", "home"),
    [([Role.HR_ADMIN, Role.PARTICIPANT], "hr_home"), ([Role.EXECUTIVE], "executive_home"), ([Role.PARTICIPANT], "participant_home")],
)
def test_login_lands_on_the_role_home_page(client, password, roles, home, settings):
    settings.MFA_REQUIRED_ROLES = []  # the second factor's own journeys: tests/mentoring/test_mfa.py
    user = UserFactory(roles=roles)
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302
    assert response["Location"] == reverse(home)
    assert client.get(response["Location"]).status_code == 200


def test_wrong_password_is_refused(client):
    user = UserFactory(roles=[Role.PARTICIPANT])
    response = client.post(reverse("account_login"), {"login": user.email, "password": "not-it"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_mail_goes_through_the_outbox(client, deliver_outbox):
    user = UserFactory(roles=[Role.PARTICIPANT])
    client.post(reverse("account_reset_password"), {"email": user.email})
    assert deliver_outbox() == 1
    assert mail.outbox[0].to == [user.email]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    # It comes from Upward, not from "testserver" (allauth's default greets with the host name).
    assert mail.outbox[0].subject == "[Upward] Reset your password"
    assert mail.outbox[0].body.startswith("Hello") and "— Upward" in mail.outbox[0].body and "testserver" not in mail.outbox[0].body


def test_the_reset_link_uses_the_site_address_not_the_host_the_request_named(client, deliver_outbox, settings):
    # Any port on an allowed host passes ALLOWED_HOSTS: a reset asked for through
    # 127.0.0.1:6666 must still link to the site, or the key goes to whoever listens there.
    settings.SITE_URL = "https://upward.acme.example"
    user = UserFactory(roles=[Role.PARTICIPANT])
    client.post(reverse("account_reset_password"), {"email": user.email}, headers={"host": "127.0.0.1:6666"})
    assert deliver_outbox() == 1
    body = mail.outbox[0].body
    assert "https://upward.acme.example/accounts/password/reset/key/" in body
    assert "6666" not in body and "127.0.0.1" not in body


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, deliver_outbox):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@elsewhere.example"}, follow=True)
    assert response.status_code == 200
    assert deliver_outbox() == 0 and not mail.outbox


def test_an_inactive_user_holds_no_role():
    user = UserFactory(roles=[Role.HR_ADMIN], is_active=False)
    assert not user.has_role(Role.HR_ADMIN)


# --- What the account mail and pages say ------------------------------------------------------------


def link_in(message, path_part: str) -> str:
    return next(word for word in message.body.split() if path_part in word)


def h1_of(page: str) -> str:
    return re.search(r"<h1[^>]*>\s*(.*?)\s*</h1>", page, re.S).group(1)


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_the_sign_up_confirmation_mail_speaks_as_upward(client, deliver_outbox, settings):
    settings.SITE_URL = "https://upward.acme.example"
    EmployeeFactory(email="freya.fischer@acme.example", first_name="Freya")
    signup(client, "freya.fischer@acme.example")
    deliver_outbox()
    [message] = mail.outbox
    assert message.subject == "[Upward] Confirm your email address to finish signing up"
    assert message.body.startswith("Hello Freya,\n")
    assert "Thanks for signing up to Upward" in message.body
    assert "If you didn't sign up for Upward, you can ignore this email" in message.body
    assert link_in(message, "/accounts/confirm-email/").startswith("https://upward.acme.example/accounts/confirm-email/")
    # Not the library's words, nor the host the request came through.
    assert "has given your email address" not in message.body and "user freya" not in message.body
    assert "testserver" not in message.body and "example.com" not in message.body
    # An HTML version too, as Upward's other mail has, with the same link.
    html = html_of(message)
    assert "Hello Freya," in html and "didn't sign up for Upward" in html
    assert f'href="{link_in(message, "/accounts/confirm-email/")}"' in html


def test_the_confirmation_page_asks_about_the_address_not_a_user(client, deliver_outbox):
    EmployeeFactory(email="freya.fischer@acme.example")
    signup(client, "freya.fischer@acme.example")
    deliver_outbox()
    page = client.get(link_in(mail.outbox[0], "/accounts/confirm-email/")).content.decode()
    assert "Confirm your email address" in page and "<strong>freya.fischer@acme.example</strong> is your email address" in page
    assert "for user" not in page and "Confirm Email Address" not in page


def test_confirming_in_the_sign_up_browser_signs_the_person_in(client, deliver_outbox):
    # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION: the adapter must report the confirmation to allauth.
    EmployeeFactory(email="freya.fischer@acme.example")
    signup(client, "freya.fischer@acme.example")
    deliver_outbox()
    response = client.post(link_in(mail.outbox[0], "/accounts/confirm-email/"))
    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    assert client.get(reverse("participant_home")).status_code == 200


def test_a_used_confirmation_link_says_the_address_is_already_confirmed(client, deliver_outbox):
    EmployeeFactory(email="freya.fischer@acme.example")
    signup(client, "freya.fischer@acme.example")
    deliver_outbox()
    link = link_in(mail.outbox[0], "/accounts/confirm-email/")
    assert client.post(link).status_code == 302  # confirmed, and signed in

    again = client.get(link)
    page = again.content.decode()
    assert again.status_code == 200
    assert h1_of(page) == "This email address is already confirmed" and "Continue to Upward" in page
    assert "expired" not in page

    # Pressed twice (two tabs): the second press says the same instead of a 404.
    twice = client.post(link)
    assert twice.status_code == 200 and "already confirmed" in twice.content.decode()

    # Signed out (another browser), the link leads to the sign-in page.
    elsewhere = Client().get(link).content.decode()
    assert "This email address is already confirmed" in elsewhere and f'href="{reverse("account_login")}"' in elsewhere


def test_a_made_up_confirmation_link_says_only_that_it_is_not_valid(client):
    # A key anyone can write (the id of an address that exists and is verified, unsigned or
    # signed with another key) tells nothing about that address.
    from django.core import signing

    address = EmailAddress.objects.get(user=UserFactory())
    for key in [str(address.pk), signing.dumps(address.pk, salt="not-allauth"), signing.dumps(address.pk, key="another-secret-key-for-this-test", salt="allauth.account")]:
        page = client.get(reverse("account_confirm_email", args=[key])).content.decode()
        assert "This confirmation link has expired or isn't valid" in page, key
        assert "already confirmed" not in page, key


def test_a_used_password_reset_link_says_so_and_offers_a_new_one(client, deliver_outbox, password):
    user = make_person(first_name="Freya")
    client.post(reverse("account_reset_password"), {"email": user.email})
    deliver_outbox()
    link = link_in(mail.outbox[0], "/accounts/password/reset/key/")
    form_url = client.get(link)["Location"]  # allauth moves the key into the session
    form = client.get(form_url).content.decode()
    assert h1_of(form) == "Choose a new password" and "New password (again)" in form
    new = "an-Even-longer-passphrase-77"
    assert client.post(form_url, {"password1": new, "password2": new}).status_code == 302

    page = client.get(link, follow=True).content.decode()
    assert h1_of(page) == "This link has already been used or has expired"
    assert f'href="{reverse("account_reset_password")}"' in page and "Send me a new link" in page
    assert "Bad Token" not in page

    # And the reset itself is reported to the address, in Upward's words.
    mail.outbox.clear()
    deliver_outbox()
    [notice] = mail.outbox
    assert notice.subject == "[Upward] Your password was reset" and notice.body.startswith("Hello Freya,")


def test_changing_the_password_sends_a_password_changed_mail(client, deliver_outbox, password, settings):
    settings.SITE_URL = "https://upward.acme.example"
    user = make_person(first_name="Freya", time_zone="Asia/Tokyo")
    client.force_login(user)
    new = "an-Even-longer-passphrase-77"
    response = client.post(reverse("account_change_password"), {"oldpassword": password, "password1": new, "password2": new})
    assert response.status_code == 302
    deliver_outbox()
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "[Upward] Your password was changed"
    assert message.body.startswith("Hello Freya,\n")
    assert f"The password of your Upward account ({user.email}) was changed." in message.body
    # Not "ignore it": a change they did not make means someone else knows their password.
    assert "If it wasn't you, someone else may know your password: reset it now at https://upward.acme.example/accounts/password/reset/" in message.body
    assert re.search(r"When: \w+ \d+ \w+ \d{4}, \d\d:\d\d \(Asia/Tokyo\)", message.body)  # the person's own time
    assert "Password Changed" not in message.body and "You are receiving this mail" not in message.body
    assert 'href="https://upward.acme.example/accounts/password/reset/"' in html_of(message)


# Every mail allauth sends in this configuration: sign-up, reset, and the notifications
# (ACCOUNT_EMAIL_NOTIFICATIONS) for passwords, addresses, the authenticator and SSO links.
UPWARD_SUBJECTS = {
    "account/email/email_confirmation_signup": "Confirm your email address to finish signing up",
    "account/email/email_confirmation": "Confirm your email address",
    "account/email/account_already_exists": "You already have an Upward account",
    "account/email/password_reset_key": "Reset your password",
    "account/email/password_reset": "Your password was reset",
    "account/email/password_changed": "Your password was changed",
    "account/email/password_set": "A password was set for your account",
    "account/email/email_changed": "Your email address was changed",
    "account/email/email_deleted": "An email address was removed from your account",
    "mfa/email/totp_activated": "Two-factor authentication is on",
    "mfa/email/totp_deactivated": "Two-factor authentication is off",
    "mfa/email/recovery_codes_generated": "New recovery codes for your account",
    "socialaccount/email/account_connected": "Single sign-on is linked to your account",
    "socialaccount/email/account_disconnected": "Single sign-on was unlinked from your account",
    # Reauthentication by an emailed code (ACCOUNT_REAUTHENTICATION_METHODS' default).
    "account/email/login_code": "Your code to confirm it's you",
}


@pytest.mark.parametrize("template_prefix", sorted(UPWARD_SUBJECTS))
def test_every_account_mail_speaks_as_upward_in_text_and_html(rf, template_prefix, settings):
    from allauth.account.adapter import get_adapter
    from allauth.core import context

    settings.SITE_URL = "https://upward.acme.example"
    user = make_person(first_name="Freya")
    request = rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")
    request.user = user
    values = {
        "user": user, "activate_url": "https://upward.acme.example/accounts/confirm-email/k/", "password_reset_url": "https://upward.acme.example/r/",
        "signup_url": "https://upward.acme.example/s/", "from_email": "old@acme.example", "to_email": user.email, "deleted_email": "old@acme.example",
        "provider": "Acme SSO", "code": "ABC123", "reauthentication": True, "timestamp": datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC), "ip": "203.0.113.9", "user_agent": "Firefox",
    }
    with context.request_context(request):
        adapter = get_adapter(request)
        message = adapter.render_mail(template_prefix, user.email, {**values, "email": user.email, "site_url": settings.SITE_URL, "first_name": "Freya"})
    assert message.subject == "[Upward] " + UPWARD_SUBJECTS[template_prefix]
    html = html_of(message)
    for body in (message.body, html):
        assert body.startswith(("Hello Freya,", "<p>Hello Freya,</p>")) and "— Upward" in body
        assert "https://upward.acme.example" in body
        for library_words in ("Thank you for using", "You are receiving this", "You're receiving this", "Hello from", "{{", "{%"):
            assert library_words not in body, (library_words, body)
    assert "&amp;" not in message.body and "&#x27;" not in message.body  # plain text is not HTML-escaped


@pytest.mark.parametrize(
    ("url_name", "heading"),
    [
        ("account_login", "Sign in to Upward"),
        ("account_signup", "Create your Upward account"),
        ("account_reset_password", "Reset your password"),
        ("account_reset_password_done", "Check your email"),
        ("account_email_verification_sent", "Check your email"),
        ("account_reset_password_from_key_done", "Your password is changed"),
    ],
)
def test_signed_out_account_pages_have_sentence_case_headings(client, url_name, heading):
    page = client.get(reverse(url_name)).content.decode()
    assert h1_of(page) == heading
    assert "Upward" in page and 'class="navbar' in page  # the project's layout


@pytest.mark.parametrize(
    ("url_name", "heading", "words"),
    [
        ("account_change_password", "Change password", ["Current password", "New password (again)"]),
        ("account_email", "Email address", ["comes from the company directory"]),
        ("mfa_index", "Two-factor authentication", ["Authenticator app", "Recovery codes"]),
        ("mfa_activate_totp", "Confirm it's you", ["Enter your password"]),  # asked before adding a factor
    ],
)
def test_signed_in_account_pages_have_sentence_case_headings(client, url_name, heading, words):
    client.force_login(make_person())
    page = client.get(reverse(url_name), follow=True).content.decode()
    assert h1_of(page) == heading
    for word in words:
        assert word in page
    for title_case in ("Change Password", "Current Password", "New Password", "Two-Factor", "Authenticator App", "Recovery Codes", "Confirm Access", "Email Addresses"):
        assert title_case not in page


# --- The email address belongs to the directory -----------------------------------------------------


def test_the_email_page_says_the_directory_owns_the_address_and_offers_no_change(client):
    user = make_person()
    client.force_login(user)
    response = client.get(reverse("account_email"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f"You sign in with <strong>{user.email}</strong>." in page and "ask HR to correct it in the directory" in page
    for control in ('name="action_add"', 'name="action_primary"', 'name="action_remove"', 'name="action_send"', "Add an email address"):
        assert control not in page


@pytest.mark.parametrize(
    "post",
    [
        {"action_add": "", "email": "me@gmail.example"},
        {"action_primary": "", "email": "old@acme.example"},
        {"action_remove": "", "email": "SELF"},
    ],
    ids=["add", "make-primary", "remove"],
)
def test_posting_to_the_email_page_changes_no_address(client, deliver_outbox, post):
    user = make_person()
    # An address from before this page was closed, verified: it must not become the login.
    EmailAddress.objects.create(user=user, email="old@acme.example", verified=True, primary=False)
    client.force_login(user)
    if post.get("email") == "SELF":
        post = {**post, "email": user.email}
    response = client.post(reverse("account_email"), post)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert "Nothing was changed: email addresses cannot be added or changed in Upward." in response.content.decode()
    user.refresh_from_db()
    assert user.email == user.employee.email
    assert sorted(EmailAddress.objects.filter(user=user).values_list("email", "primary")) == sorted([(user.email, True), ("old@acme.example", False)])
    assert deliver_outbox() == 0  # no confirmation mail to the typed address either


def test_allauths_add_address_form_refuses_a_second_address():
    """Should allauth's own page ever be reachable again, its form still refuses."""
    from allauth.account.forms import AddEmailForm

    user = make_person()
    form = AddEmailForm(user=user, data={"email": "me@gmail.example"})
    assert not form.is_valid()
    assert not EmailAddress.objects.filter(email="me@gmail.example").exists()


def test_the_email_page_names_the_directory_address_when_the_login_differs(client):
    user = make_person()
    user.employee.email = "new.name@acme.example"
    user.employee.save(update_fields=["email"])
    client.force_login(user)
    page = client.get(reverse("account_email")).content.decode()
    assert "The company directory has <strong>new.name@acme.example</strong> for you" in page


def test_the_email_page_needs_a_sign_in(client):
    response = client.get(reverse("account_email"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
