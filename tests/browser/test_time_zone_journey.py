"""The time zone page offers the zone the person's device is set to."""

import pytest

from mentoring.models import Employee
from tests.browser.test_sessions_journey import sign_in
from tests.factories import make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_device_time_zone_is_offered_and_saved_in_one_click(live_server, browser, password, check_accessibility, screenshot):
    user = make_person(level=3, time_zone="Europe/London")
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    sign_in(page, live_server.url, user, password)
    page.goto(f"{live_server.url}/me/time-zone/")
    offer = page.get_by_role("button", name="Use this device's time zone")
    assert "Asia / Kolkata (UTC+05:30)" in offer.inner_text()
    check_accessibility(page)
    screenshot(page, "time-zone-device-offer")
    offer.click()
    assert page.locator("select[name=time_zone]").input_value() == "Asia/Kolkata"
    assert not offer.is_visible()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert Employee.objects.get(pk=user.employee.pk).time_zone == "Asia/Kolkata"
    # Once chosen, the device's zone is the selected one: nothing more to offer.
    page.goto(f"{live_server.url}/me/time-zone/")
    assert not page.get_by_role("button", name="Use this device's time zone").is_visible()
    context.close()
