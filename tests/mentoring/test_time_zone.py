"""A person chooses the time zone Upward shows them times in; the directory then leaves it."""

import html
import re

import pytest
from django.urls import reverse

from mentoring.models import Employee
from mentoring.roster import roster_apply, roster_preview
from mentoring.timezones import canonical_zones, time_zone_choices
from tests.mentoring.test_roster import make_csv, person

pytestmark = pytest.mark.django_db


def test_the_list_holds_places_not_aliases():
    zones = canonical_zones()
    assert {"Europe/Lisbon", "America/New_York", "Asia/Kolkata", "Asia/Singapore", "UTC"} <= set(zones)
    assert not {"Asia/Calcutta", "US/Eastern", "Factory", "localtime", "Etc/GMT+5", "posixrules"} & set(zones)
    assert 300 < len(zones) < 500


def test_each_zone_is_labelled_with_its_offset_today(participant_client):
    labels = dict(time_zone_choices())
    assert labels["Asia/Kolkata"] == "Asia / Kolkata (UTC+05:30)" and labels["UTC"] == "UTC (UTC+00:00)"
    assert labels["America/St_Johns"] in ("America / St Johns (UTC-03:30)", "America / St Johns (UTC-02:30)")  # DST or not
    page = participant_client.get(reverse("time_zone_settings")).content.decode()
    assert "Asia / Kolkata (UTC+05:30)" in page and "data-device-zone" in page and "js/timezone" in page


def test_choosing_a_time_zone_changes_the_times_shown(participant_client, participant_user):
    employee = participant_user.employee
    employee.time_zone = "Europe/Lisbon"
    employee.save()
    url = reverse("time_zone_settings")
    page = participant_client.get(url).content.decode()
    assert "from the company directory" in page and "Times shown in Europe/Lisbon" in page
    assert 'value="Asia/Calcutta"' not in page and ">America / New York (UTC-0" in page

    response = participant_client.post(url, {"time_zone": "America/New_York"}, follow=True)
    page = response.content.decode()
    assert "Times are now shown in America/New_York" in page and "Times shown in America/New_York" in page
    employee.refresh_from_db()
    assert (employee.time_zone, employee.time_zone_chosen) == ("America/New_York", True)


def test_a_made_up_zone_is_refused_and_nothing_changes(participant_client, participant_user):
    before = participant_user.employee.time_zone
    response = participant_client.post(reverse("time_zone_settings"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200 and re.search(r"Select a valid choice", response.content.decode())
    participant_user.employee.refresh_from_db()
    assert participant_user.employee.time_zone == before and not participant_user.employee.time_zone_chosen


def test_the_roster_leaves_a_chosen_zone_alone_and_says_so(participant_user):
    employee = participant_user.employee
    employee.time_zone, employee.time_zone_chosen = "America/New_York", True
    employee.save()
    row = person(employee.employee_id, email=employee.email, first_name=employee.first_name, last_name=employee.last_name,
                 department=employee.department.name, level=str(employee.level), time_zone="Europe/Lisbon", title="Changed title")
    data = make_csv(row)
    assert roster_preview(data=data, filename="roster.csv").to_summary()["kept_chosen"] == 1
    roster_apply(data=data, filename="roster.csv")
    employee = Employee.objects.get(pk=employee.pk)
    assert employee.time_zone == "America/New_York" and employee.title == "Changed title"


def test_the_roster_still_sets_a_zone_nobody_chose(participant_user):
    employee = participant_user.employee
    row = person(employee.employee_id, email=employee.email, first_name=employee.first_name, last_name=employee.last_name,
                 department=employee.department.name, level=str(employee.level), time_zone="Asia/Singapore")
    roster_apply(data=make_csv(row), filename="roster.csv")
    assert Employee.objects.get(pk=employee.pk).time_zone == "Asia/Singapore"


def test_going_back_to_the_office_zone_follows_the_directory_again(participant_client, participant_user):
    employee = participant_user.employee
    employee.time_zone = "Europe/Lisbon"
    employee.save()
    url = reverse("time_zone_settings")
    participant_client.post(url, {"time_zone": "America/New_York"})
    assert "Use my office's time zone (Europe/Lisbon)" in html.unescape(participant_client.get(url).content.decode())

    # Meanwhile the person moves office in the directory: their choice stays, the office is noted.
    row = person(employee.employee_id, email=employee.email, first_name=employee.first_name, last_name=employee.last_name,
                 department=employee.department.name, level=str(employee.level), time_zone="Europe/Paris")
    roster_apply(data=make_csv(row), filename="roster.csv")
    employee.refresh_from_db()
    assert (employee.time_zone, employee.office_time_zone) == ("America/New_York", "Europe/Paris")

    response = participant_client.post(url, {"use_office": "1"}, follow=True)
    assert "Times are shown in your office's time zone again: Europe/Paris." in html.unescape(response.content.decode())
    employee.refresh_from_db()
    assert (employee.time_zone, employee.time_zone_chosen, employee.office_time_zone) == ("Europe/Paris", False, "")
    # The directory later moves them to the zone they had chosen: that is their office now.
    participant_client.post(url, {"time_zone": "Asia/Singapore"})
    roster_apply(data=make_csv({**row, "time_zone": "Asia/Singapore"}), filename="roster.csv")
    employee.refresh_from_db()
    assert employee.office_time_zone == "Asia/Singapore"
    participant_client.post(url, {"use_office": "1"})
    employee.refresh_from_db()
    assert (employee.time_zone, employee.time_zone_chosen) == ("Asia/Singapore", False)
    # And the directory sets it again from now on.
    roster_apply(data=make_csv({**row, "time_zone": "Asia/Tokyo"}), filename="roster.csv")
    assert Employee.objects.get(pk=employee.pk).time_zone == "Asia/Tokyo"


def test_a_persons_zone_does_not_outlive_their_request(participant_client, participant_user, settings):
    # Left active, the zone stays on the thread: the next request (someone else's, or an
    # anonymous one) and any code after it would read "today" in Tokyo.
    from django.utils import timezone

    participant_user.employee.time_zone = "Asia/Tokyo"
    participant_user.employee.save()
    assert participant_client.get(reverse("participant_home")).status_code == 200
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE

