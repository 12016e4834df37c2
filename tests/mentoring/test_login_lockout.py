"""Password and code guessing is locked out: the site login, the admin's entrance and the MFA step.

allauth's ACCOUNT_RATE_LIMITS["login_failed"] is "10/m/ip,5/5m/key"; the counters live in the
shared cache (the database cache here, Redis when configured), so every process sees them.
"""

import pytest
from django.test import Client
from django.urls import reverse

from mentoring.models import Role
from tests.auth_helpers import give_totp, totp_code
from tests.factories import UserFactory, make_person

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins for this account. Wait 5 minutes and try again, or reset your password."


def attempt(client, email, password, url=None, **extra):
    return client.post(url or reverse("account_login"), {"login": email, "password": password}, **extra)


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(password):
    user = make_person(roles=[Role.PARTICIPANT])
    for _ in range(5):
        assert LOCKED not in attempt(Client(), user.email, "wrong-password").content.decode()
    # A new client (another browser, another web process): the counter is per account, shared.
    client = Client()
    response = attempt(client, user.email, password)
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_four_wrong_passwords_do_not_lock(client, password):
    user = make_person(roles=[Role.PARTICIPANT])
    for _ in range(4):
        attempt(client, user.email, "wrong-password")
    assert attempt(client, user.email, password).status_code == 302


def test_the_admin_entrance_is_the_same_login_and_locks_out_too(client, password):
    staff = UserFactory(is_staff=True, is_superuser=True)
    entrance = client.get("/admin/login/?next=/admin/")
    assert entrance.status_code == 302
    login_url = entrance["Location"]
    assert login_url.startswith(reverse("account_login"))
    for _ in range(5):
        attempt(client, staff.email, "wrong-password", url=login_url)
    response = attempt(client, staff.email, password, url=login_url)
    assert LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still not in
    # The admin's own form does not offer a way around it.
    client.post("/admin/login/", {"username": staff.email, "password": password})
    assert "_auth_user_id" not in client.session


def test_many_accounts_tried_from_one_address_lock_that_address(password):
    """Password spraying: one wrong guess each on many accounts from one IP."""
    people = [UserFactory() for _ in range(11)]
    for target in people[:10]:
        attempt(Client(), target.email, "Summer2025!", REMOTE_ADDR="203.0.113.9")
    response = attempt(Client(), people[10].email, password, REMOTE_ADDR="203.0.113.9")
    assert LOCKED in response.content.decode()
    # The same person from another address is not blocked by the sprayer.
    assert attempt(Client(), people[10].email, password, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_guessing_the_totp_code_locks_out(client, password):
    hr = make_person(roles=[Role.HR_ADMIN])
    secret = give_totp(hr)
    attempt(client, hr.email, password)
    right = totp_code(secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": wrong})
    response = client.post(reverse("mfa_authenticate"), {"code": right})
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_too_many_password_changes_get_the_sites_own_429_page(client, password):
    """QA hit a bare, unstyled '429 Too Many Requests' after a few password changes."""
    user = make_person(roles=[Role.PARTICIPANT])
    client.force_login(user)
    url = reverse("account_change_password")
    responses = [client.post(url, {"oldpassword": "wrong", "password1": "x", "password2": "x"}) for _ in range(8)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    page = limited[0].content.decode()
    assert "Too many attempts in a short time" in page and "Wait five minutes" in page
    assert 'href="/me/"' in page or "Go to your home page" in page  # the site's own page, with its menu
