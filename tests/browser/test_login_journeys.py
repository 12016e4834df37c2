"""Each role signs in through the real login form (and, for HR admins and executives, the
authenticator code) and lands on its own home page; an HR admin without MFA sets it up first."""

import pytest

from mentoring.models import Role
from tests.auth_helpers import give_totp, totp_code_to_type
from tests.factories import make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("roles", "path", "heading"),
    [
        ([Role.HR_ADMIN, Role.PARTICIPANT], "/hr/", "HR console"),
        ([Role.EXECUTIVE], "/executive/", "Impact of reverse mentoring"),
        ([Role.PARTICIPANT], "/me/", "Welcome,"),
    ],
    ids=["hr_admin", "executive", "participant"],
)
def test_sign_in_lands_on_the_role_home(live_server, page, password, check_accessibility, screenshot, mfa_enforced, roles, path, heading):
    user = make_person(roles=roles, level=4)
    needs_code = Role.HR_ADMIN in roles or Role.EXECUTIVE in roles
    secret = give_totp(user) if needs_code else None
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    check_accessibility(page)
    screenshot(page, "login")

    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if needs_code:
        page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
        check_accessibility(page)
        screenshot(page, "mfa-code")
        page.locator("input[name=code]").fill(totp_code_to_type(secret))
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{path}")
    assert heading in page.locator("h1").first.inner_text()
    check_accessibility(page)
    screenshot(page, f"home-{roles[0]}")


def test_hr_admin_without_mfa_sets_it_up_then_reaches_the_console(live_server, page, password, check_accessibility, screenshot, mfa_enforced):
    user = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()

    # Sent to set up an authenticator app, with the reason, instead of the console.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/**")
    assert "Your role needs two-factor authentication" in page.locator("#mfa-required-explanation").inner_text()
    check_accessibility(page)
    screenshot(page, "mfa-setup")
    page.goto(f"{live_server.url}/hr/directory/")
    assert "/accounts/2fa/totp/activate/" in page.url  # nothing else opens meanwhile

    # The "authenticator app": read the secret the page offers, compute the current code.
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code_to_type(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    screenshot(page, "mfa-recovery-codes")

    page.goto(f"{live_server.url}/hr/")
    assert "HR console" in page.locator("h1").first.inner_text()
    check_accessibility(page)


def test_participant_sees_403_page_on_hr_console(live_server, page, password, check_accessibility, screenshot):
    user = make_person(roles=[Role.PARTICIPANT])
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/me/")
    response = page.goto(f"{live_server.url}/hr/")
    assert response.status == 403
    assert "not part of your role" in page.content()
    check_accessibility(page)
    screenshot(page, "403")
