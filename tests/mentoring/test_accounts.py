"""Sign-up is for the directory only; logins land on each role's home page."""

import datetime

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from mentoring.models import Role, User
from tests.factories import EmployeeFactory, UserFactory

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
    assert mail.outbox[0].body.startswith("Hello from Upward!") and mail.outbox[0].subject.startswith("[Upward] ")


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
