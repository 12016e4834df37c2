"""Each role signs in through the real login form and lands on its own home page."""

import pytest

from mentoring.models import Role
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
def test_sign_in_lands_on_the_role_home(live_server, page, password, check_accessibility, screenshot, roles, path, heading):
    user = make_person(roles=roles, level=4)
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    check_accessibility(page)
    screenshot(page, "login")

    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}{path}")
    assert heading in page.locator("h1").first.inner_text()
    check_accessibility(page)
    screenshot(page, f"home-{roles[0]}")


def test_participant_sees_403_page_on_hr_console(live_server, page, password, check_accessibility, screenshot):
    user = make_person(roles=[Role.PARTICIPANT])
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/me/")
    response = page.goto(f"{live_server.url}/hr/")
    assert response.status == 403
    assert "not part of your role" in page.content()
    check_accessibility(page)
    screenshot(page, "403")
