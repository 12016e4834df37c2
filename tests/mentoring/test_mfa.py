"""HR admins and executives pass a second factor (TOTP) before they reach any page."""

import json
import re
import time
import types

import pytest
from allauth.mfa.models import Authenticator
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from mentoring.auth_policy import MFARequiredMiddleware
from mentoring.models import Role
from tests.auth_helpers import give_totp, login_with_mfa, totp_code, totp_code_to_type
from tests.factories import make_person
from tests.mentoring.test_settings import run_python

pytestmark = pytest.mark.django_db


def password_login(client, user, password):
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


@pytest.fixture
def hr_without_mfa(db):
    return make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)


@pytest.fixture
def frozen_totp_clock(monkeypatch):
    """allauth's TOTP check reads time.time(); pin it to the middle of one 30-second period."""
    clock = {"now": (int(time.time()) // 30) * 30 + 15.0}
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", types.SimpleNamespace(time=lambda: clock["now"]))
    return clock


# --- No authenticator yet: sent to set one up, and nowhere else ------------------------------------


@pytest.mark.parametrize("url", ["/hr/", "/executive/", "/me/", "/hr/directory/", "/programs/", "/admin/", "/accounts/password/change/", "/no-such-page/"])
def test_hr_admin_without_an_authenticator_is_sent_to_set_one_up(client, password, hr_without_mfa, url):
    password_login(client, hr_without_mfa, password)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))


def test_the_setup_page_explains_why(client, password, hr_without_mfa):
    password_login(client, hr_without_mfa, password)
    page = client.get(reverse("hr_home"), follow=True)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="mfa-required-explanation"' in body
    assert "Your role needs two-factor authentication before you continue." in body


def test_a_post_is_refused_too_and_changes_nothing(client, password, hr_without_mfa):
    from programs.models import Topic

    password_login(client, hr_without_mfa, password)
    response = client.post(reverse("topic_create"), {"name": "Quantum", "description": "x"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_activate_totp"))
    assert not Topic.objects.filter(name="Quantum").exists()


def test_sign_out_stays_reachable_during_setup(client, password, hr_without_mfa):
    password_login(client, hr_without_mfa, password)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def test_activating_totp_with_a_code_from_the_app_opens_the_hr_console(client, password, hr_without_mfa):
    password_login(client, hr_without_mfa, password)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session["mfa.totp.secret"]  # what the QR code on that page holds
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code_to_type(secret, seconds_left=2)})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=hr_without_mfa, type=Authenticator.Type.TOTP).exists()
    # Recovery codes were made too, and the console opens without asking for a second code.
    assert Authenticator.objects.filter(user=hr_without_mfa, type=Authenticator.Type.RECOVERY_CODES).exists()
    codes = client.get(reverse("mfa_view_recovery_codes"))
    assert codes.status_code == 200  # no second password prompt
    # The codes page leads on: home sends an HR admin to the console.
    assert f'href="{reverse("home")}">I have saved them: continue to Upward</a>' in codes.content.decode()
    assert client.get(reverse("hr_home")).status_code == 200


def test_changing_factors_that_predate_the_sign_in_still_asks_for_the_password(client, password, hr_without_mfa):
    secret = give_totp(hr_without_mfa)
    password_login(client, hr_without_mfa, password)
    client.post(reverse("mfa_authenticate"), {"code": totp_code_to_type(secret, seconds_left=2)})
    for url in (reverse("mfa_deactivate_totp"), reverse("mfa_generate_recovery_codes")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate")), url


def test_an_app_another_session_activates_meanwhile_is_not_this_sessions_second_factor(client, password, hr_without_mfa):
    """A password-only session posting a wrong code must not be waved through because the
    person activated an app from another browser while that request ran."""
    import datetime

    from django.http import HttpResponse
    from django.utils import timezone

    from mentoring.auth_policy import session_is_mfa_authenticated

    password_login(client, hr_without_mfa, password)
    request = client.post(reverse("mfa_activate_totp"), {"code": "000000"}).wsgi_request  # a real session

    def view_while_another_session_activates(req):
        give_totp(hr_without_mfa)
        Authenticator.objects.filter(user=hr_without_mfa).update(created_at=timezone.now() - datetime.timedelta(seconds=2))
        return HttpResponse("Incorrect code.")

    request.method = "POST"
    MFARequiredMiddleware(view_while_another_session_activates)(request)
    assert not session_is_mfa_authenticated(request)


def test_a_wrong_code_does_not_activate_totp(client, password, hr_without_mfa):
    password_login(client, hr_without_mfa, password)
    client.get(reverse("mfa_activate_totp"))
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp_code(client.session["mfa.totp.secret"]) != "000000" else "111111"})
    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=hr_without_mfa).exists()
    assert client.get(reverse("hr_home")).status_code == 302


# --- An authenticator: allauth's login asks for the code ----------------------------------------------


def test_login_asks_for_the_code_before_signing_in(client, password, hr_without_mfa):
    secret = give_totp(hr_without_mfa)
    response = password_login(client, hr_without_mfa, password)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # not signed in before the code
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code_to_type(secret, seconds_left=2)})
    assert response.status_code == 302 and response["Location"] == reverse("hr_home")
    assert client.get(reverse("hr_home")).status_code == 200


def test_a_recovery_code_also_signs_in(client, password, hr_without_mfa):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    give_totp(hr_without_mfa)
    recovery_code = RecoveryCodes.activate(hr_without_mfa).get_unused_codes()[0]
    password_login(client, hr_without_mfa, password)
    response = client.post(reverse("mfa_authenticate"), {"code": recovery_code})
    assert response.status_code == 302 and response["Location"] == reverse("hr_home")


def test_a_replayed_totp_code_is_refused(password, hr_without_mfa, frozen_totp_clock):
    secret = give_totp(hr_without_mfa)
    code = totp_code(secret, at=frozen_totp_clock["now"])
    first, second = Client(), Client()

    password_login(first, hr_without_mfa, password)
    assert first.post(reverse("mfa_authenticate"), {"code": code})["Location"] == reverse("hr_home")

    # Someone who saw the code (over a shoulder, through a phishing page) tries it at once.
    password_login(second, hr_without_mfa, password)
    response = second.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert "_auth_user_id" not in second.session

    # The refusal is the replay, not the clock: the next period's code is accepted.
    frozen_totp_clock["now"] += 30
    response = second.post(reverse("mfa_authenticate"), {"code": totp_code(secret, at=frozen_totp_clock["now"])})
    assert response.status_code == 302 and response["Location"] == reverse("hr_home")


def test_a_session_that_never_passed_mfa_is_asked_for_the_code(client, hr_without_mfa):
    """E.g. a session from before MFA was required: signed in, authenticator exists, no MFA record."""
    secret = give_totp(hr_without_mfa)
    client.force_login(hr_without_mfa)
    response = client.get(reverse("directory"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('mfa_reauthenticate')}?next=%2Fhr%2Fdirectory%2F"
    page = client.get(response["Location"])
    assert 'id="mfa-verify-explanation"' in page.content.decode()
    # Only the code, sign-out and password confirmation are open; not the setup pages.
    assert client.get(reverse("mfa_index")).status_code == 302
    response = client.post(response["Location"], {"code": totp_code_to_type(secret, seconds_left=2)})
    assert response.status_code == 302 and response["Location"] == reverse("directory")
    assert client.get(reverse("directory")).status_code == 200


def test_executives_need_mfa_too(client, password):
    executive = make_person(roles=[Role.EXECUTIVE], level=9)
    password_login(client, executive, password)
    assert client.get(reverse("executive_home"))["Location"].startswith(reverse("mfa_activate_totp"))


def test_the_mfa_complete_fixture_clients_reach_their_pages(hr_client, executive_client):
    assert hr_client.get(reverse("hr_home")).status_code == 200
    assert executive_client.get(reverse("executive_home")).status_code == 200


def test_participants_are_not_asked(client, password):
    participant = make_person(roles=[Role.PARTICIPANT], level=2)
    response = password_login(client, participant, password)
    assert response["Location"] == reverse("participant_home")
    assert client.get(reverse("participant_home")).status_code == 200


def test_an_hr_admin_added_after_sign_in_is_stopped_at_the_next_request(client, password):
    from mentoring.services import user_grant_role

    person = make_person(roles=[Role.PARTICIPANT], level=5)
    password_login(client, person, password)
    assert client.get(reverse("participant_home")).status_code == 200
    user_grant_role(user=person, role=Role.HR_ADMIN)
    assert client.get(reverse("participant_home"))["Location"].startswith(reverse("mfa_activate_totp"))


def test_login_with_mfa_helper_leaves_what_a_real_login_leaves(client, password, hr_without_mfa):
    """The fixtures' shortcut must not grant more than the real flow: compare session records."""
    secret = give_totp(hr_without_mfa)
    password_login(client, hr_without_mfa, password)
    client.post(reverse("mfa_authenticate"), {"code": totp_code_to_type(secret, seconds_left=2)})
    real = [r["method"] for r in client.session["account_authentication_methods"]]
    shortcut = Client()
    login_with_mfa(shortcut, hr_without_mfa)
    assert [r["method"] for r in shortcut.session["account_authentication_methods"]] == real == ["password", "mfa"]


# --- The setting ----------------------------------------------------------------------------------------


def test_an_empty_setting_turns_enforcement_off(client, password, hr_without_mfa, settings):
    settings.MFA_REQUIRED_ROLES = []
    password_login(client, hr_without_mfa, password)
    assert client.get(reverse("hr_home")).status_code == 200


def test_only_the_listed_roles_are_asked(client, password, settings):
    settings.MFA_REQUIRED_ROLES = [Role.HR_ADMIN]
    executive = make_person(roles=[Role.EXECUTIVE], level=9)
    password_login(client, executive, password)
    assert client.get(reverse("executive_home")).status_code == 200


def test_an_unknown_role_in_the_setting_stops_startup(settings):
    settings.MFA_REQUIRED_ROLES = ["hr-admin"]
    with pytest.raises(ImproperlyConfigured, match="hr-admin"):
        MFARequiredMiddleware(lambda request: None)


PROBE = "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.MFA_REQUIRED_ROLES))"


@pytest.mark.parametrize(("value", "expected"), [(None, ["hr_admin", "executive"]), ("", []), ("hr_admin", ["hr_admin"])])
def test_mfa_required_roles_comes_from_the_environment(tmp_path, value, expected):
    env = {} if value is None else {"MFA_REQUIRED_ROLES": value}
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_production_keeps_mfa_on_by_default(tmp_path):
    result = run_python(PROBE, tmp_path, PRODUCTION="true", SECRET_KEY="s" * 60, ALLOWED_HOSTS="upward.example.com")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["hr_admin", "executive"]


@pytest.mark.parametrize("variable", [None, "hr_admin,executive"])
def test_rundemo_turns_mfa_off_unless_the_variable_is_set(monkeypatch, settings, variable):
    import io

    from django.core.management import call_command

    from mentoring.management.commands import rundemo

    monkeypatch.setattr(rundemo, "call_command", lambda *args, **kwargs: None)  # no migrate, seed or server
    monkeypatch.setattr(rundemo.signal, "signal", lambda *args: None)
    monkeypatch.setenv("SITE_URL", "http://127.0.0.1:8000")
    if variable is None:
        monkeypatch.delenv("MFA_REQUIRED_ROLES", raising=False)
    else:
        monkeypatch.setenv("MFA_REQUIRED_ROLES", variable)
    settings.MFA_REQUIRED_ROLES = [Role.HR_ADMIN, Role.EXECUTIVE]
    out = io.StringIO()
    call_command("rundemo", "--no-worker", stdout=out)
    said = [line for line in out.getvalue().splitlines() if "MFA" in line]
    if variable is None:
        assert settings.MFA_REQUIRED_ROLES == []
        assert said == ["MFA is off in the demo: to try it, run with MFA_REQUIRED_ROLES=hr_admin,executive (HR admins and executives then set up an authenticator app)."]
    else:
        assert settings.MFA_REQUIRED_ROLES == [Role.HR_ADMIN, Role.EXECUTIVE]
        assert said == []


# --- Confirming it's you by an emailed code (allauth's reauthentication by code) -------------------


def test_an_sso_only_hr_admin_confirms_by_emailed_code_while_setting_up_the_app(client, deliver_outbox):
    """Someone who signs in through SSO has no password: past the first minutes after signing
    in, adding an authenticator asks them to confirm it's them, and the code emailed to their
    directory address is the way. It used to bounce between that page and the setup page."""
    from django.core import mail

    admin = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    admin.set_unusable_password()
    admin.save()
    client.force_login(admin)  # a session with no recent sign-in on record
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.wsgi_request.path == reverse("account_request_reauthentication_code")
    assert response.status_code == 200 and "Email me a code" in response.content.decode()
    next_url = response.wsgi_request.GET["next"]
    response = client.post(reverse("account_request_reauthentication_code"), {"recipient": admin.email, "next": next_url})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_confirm_reauthentication_code"))
    assert deliver_outbox() == 1 and mail.outbox[0].to == [admin.email]
    code = re.search(r"^\s*([A-Z0-9-]{6,})\s*$", mail.outbox[0].body, re.MULTILINE).group(1)
    response = client.post(response["Location"], {"code": code, "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("mfa_activate_totp")).status_code == 200  # the setup page, at last


def test_a_session_owing_its_authenticator_code_is_offered_no_other_way_to_confirm(client, password):
    """Only the authenticator passes that check: a password or an emailed code would lead
    straight back to it."""
    admin = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    give_totp(admin)
    client.force_login(admin)  # a session from before the role needed MFA
    response = client.get(reverse("hr_home"), follow=True)
    page = response.content.decode()
    assert 'id="mfa-verify-explanation"' in page
    assert "Other ways to confirm" not in page and reverse("account_request_reauthentication_code") not in page
