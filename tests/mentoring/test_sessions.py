"""Sessions: leavers are signed out everywhere, the id rotates at sign-in, idle and absolute limits."""

import datetime
import json

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mentoring import auth_policy
from mentoring.models import Role
from tests.factories import make_person
from tests.mentoring.test_roster import make_csv, person
from tests.mentoring.test_settings import run_python

pytestmark = pytest.mark.django_db


def sessions_of(user) -> int:
    return sum(1 for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk))


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(reverse("participant_home")).status_code == 200
    return client


# --- Leavers ----------------------------------------------------------------------------------------


def test_a_leaver_marked_by_the_roster_import_is_signed_out_of_every_session(hr_client):
    leaver = make_person(employee_id="E5", level=3, hire_date=datetime.date(2019, 1, 1))
    colleague = make_person(employee_id="E6", level=3, hire_date=datetime.date(2019, 1, 1))
    laptop, phone, colleague_client = signed_in(leaver), signed_in(leaver), signed_in(colleague)
    assert sessions_of(leaver) == 2

    data = make_csv(
        person("E5", email=leaver.email, hire_date="2019-01-01", left_date="2025-02-28"),
        person("E6", email=colleague.email, hire_date="2019-01-01"),
    )
    response = hr_client.post(reverse("roster_import"), {"file": SimpleUploadedFile("roster.csv", data, content_type="text/csv")})
    assert response.status_code == 302
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[-1])
    hr_client.post(reverse("roster_import_apply", args=[pk]))

    assert sessions_of(leaver) == 0  # the rows are gone, not merely unusable
    for client in (laptop, phone):
        response = client.get(reverse("participant_home"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    # Everyone else stays signed in, the HR admin who ran the import included.
    assert colleague_client.get(reverse("participant_home")).status_code == 200
    assert hr_client.get(reverse("hr_home")).status_code == 200


def test_user_sessions_end_leaves_other_people_and_anonymous_sessions_alone():
    leaver, other = make_person(), make_person()
    signed_in(leaver)
    signed_in(other)
    anonymous = Client()
    anonymous_session = anonymous.session
    anonymous_session["something"] = 1
    anonymous_session.save()

    assert auth_policy.user_sessions_end(user_ids=[leaver.pk]) == 1
    assert sessions_of(leaver) == 0 and sessions_of(other) == 1
    assert Session.objects.filter(session_key=anonymous_session.session_key).exists()


# --- Rotation at sign-in ----------------------------------------------------------------------------


def test_the_session_id_changes_at_sign_in(client, password):
    """A session id planted before sign-in (session fixation) is worthless after it."""
    user = make_person(roles=[Role.PARTICIPANT])
    session = client.session
    session["planted"] = True
    session.save()
    before = session.session_key

    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.get(session_key=after).get_decoded()["_auth_user_id"] == str(user.pk)
    # The old id does not carry the sign-in.
    attacker = Client()
    attacker.cookies["sessionid"] = before
    assert attacker.get(reverse("participant_home")).status_code == 302


# --- Idle and absolute limits -----------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch, settings):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    settings.SESSION_COOKIE_AGE = 8 * 60 * 60
    now = {"t": 1_800_000_000.0}
    monkeypatch.setattr(auth_policy, "_now", lambda: now["t"])

    def advance(seconds: float):
        now["t"] += seconds

    return advance


def test_a_request_after_the_idle_limit_is_signed_out_with_a_message(clock):
    client = signed_in(make_person())
    clock(30 * 60 + 1)
    response = client.get(reverse("participant_home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next=%2Fme%2F"
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"])
    assert "You were signed out after 30 minutes without activity." in [str(m) for m in get_messages(page.wsgi_request)][0]


def test_activity_keeps_the_session_alive(clock):
    client = signed_in(make_person())
    for _ in range(5):  # 5 × 20 minutes: well past 30 minutes in total, never 30 idle
        clock(20 * 60)
        assert client.get(reverse("participant_home")).status_code == 200


def test_just_under_the_idle_limit_is_fine(clock):
    client = signed_in(make_person())
    clock(30 * 60 - 5)
    assert client.get(reverse("participant_home")).status_code == 200


def test_the_absolute_limit_ends_even_an_active_session(clock):
    client = signed_in(make_person())
    for _ in range(8 * 3):  # every 20 minutes for 8 hours
        clock(20 * 60)
        response = client.get(reverse("participant_home"))
    assert response.status_code == 200
    clock(20 * 60 + 1)
    response = client.get(reverse("participant_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    page = client.get(response["Location"])
    assert "Your session has ended." in [str(m) for m in get_messages(page.wsgi_request)][0]


def test_mfa_clients_are_timed_out_too(clock, hr_client):
    assert hr_client.get(reverse("hr_home")).status_code == 200
    clock(31 * 60)
    assert hr_client.get(reverse("hr_home"))["Location"].startswith(reverse("account_login"))


PROBE = "import json, django; django.setup(); from django.conf import settings; print(json.dumps([settings.SESSION_IDLE_TIMEOUT, settings.SESSION_COOKIE_AGE, settings.SESSION_ENGINE]))"


def test_limits_come_from_the_environment(tmp_path):
    default = run_python(PROBE, tmp_path)
    assert json.loads(default.stdout.strip().splitlines()[-1]) == [1800, 28800, "django.contrib.sessions.backends.db"]
    custom = run_python(PROBE, tmp_path, SESSION_IDLE_TIMEOUT="600", SESSION_COOKIE_AGE="3600")
    assert json.loads(custom.stdout.strip().splitlines()[-1])[:2] == [600, 3600]


def test_a_session_from_before_the_limits_starts_its_clock_at_its_next_request(clock):
    client = signed_in(make_person())
    session = client.session
    for key in (auth_policy.SIGNED_IN_AT, auth_policy.LAST_SEEN_AT):
        session.pop(key)
    session.save()
    clock(5 * 60 * 60)  # however old it is, it is not cut off for lack of a stamp
    assert client.get(reverse("participant_home")).status_code == 200
    clock(30 * 60 + 1)
    assert client.get(reverse("participant_home")).status_code == 302
