import pytest
from django.urls import reverse

from sessions_log import services
from sessions_log.models import Concern, PulseAlert
from sessions_log.services import LogInput
from tests.factories import make_active_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def troubled_pair():
    from django.utils import timezone

    pair = make_active_pair(pulse_alert_threshold=3)
    log = services.session_log_create(pair=pair, me=pair.mentor.employee, data=LogInput(held_on=timezone.localdate(), minutes=30, topics=[]))
    services.pulse_submit(log=log, me=pair.mentor.employee, felt_heard=1, safe_to_be_candid=2, wants_to_continue=2)
    services.concern_raise(pair=pair, me=pair.mentor.employee, text="My mentee talks over me")
    return pair


def test_hr_sees_alerts_and_concerns_but_never_pulse_answers(hr_client, troubled_pair):
    body = hr_client.get(reverse("hr_care")).content.decode()
    assert troubled_pair.mentor.employee.full_name in body and "My mentee talks over me" in body
    assert "felt_heard" not in body and "Felt heard" not in body


def test_hr_follows_up(hr_client, troubled_pair):
    alert = PulseAlert.objects.get()
    assert hr_client.post(reverse("hr_alert_resolve", args=[alert.pk])).status_code == 302
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    concern = Concern.objects.get()
    hr_client.post(reverse("hr_concern_status", args=[concern.pk]), {"status": "closed"})
    concern.refresh_from_db()
    assert concern.status == "closed"
    assert "My mentee talks over me" not in hr_client.get(reverse("hr_care")).content.decode()


@pytest.mark.parametrize("fixture", ["participant_client", "executive_client"])
def test_only_hr(request, fixture, troubled_pair):
    client = request.getfixturevalue(fixture)
    assert client.get(reverse("hr_care")).status_code == 403
    assert client.post(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk])).status_code == 403
    assert PulseAlert.objects.get().resolved_at is None


def test_actions_are_post_only_and_anonymous_goes_to_login(client, hr_client, troubled_pair):
    assert hr_client.get(reverse("hr_alert_resolve", args=[PulseAlert.objects.get().pk])).status_code == 405
    assert client.get(reverse("hr_care")).status_code == 302
