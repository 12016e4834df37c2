"""Single sign-on: OpenID Connect end to end against a provider on loopback, SAML from the
environment, and the directory check that lets in current employees only."""

import base64
import datetime
import json
import uuid
from urllib.parse import parse_qs, parse_qsl, urlparse

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mentoring.models import Role, User
from tests.auth_helpers import give_totp, totp_code_to_type
from tests.factories import EmployeeFactory, make_person
from tests.loopback_oidc import CLIENT_ID, CLIENT_SECRET, LoopbackOIDCProvider
from tests.mentoring.test_settings import run_python

pytestmark = pytest.mark.django_db

PROVIDERS_PROBE = "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))"


def providers_from_env(tmp_path, **env) -> dict:
    result = run_python(PROVIDERS_PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- OpenID Connect ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_provider():
    with LoopbackOIDCProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def oidc_providers_setting(oidc_provider, tmp_path_factory):
    """SOCIALACCOUNT_PROVIDERS exactly as settings.py builds it from the SSO_OIDC_* variables."""
    return providers_from_env(
        tmp_path_factory.mktemp("oidc"),
        SSO_OIDC_SERVER_URL=oidc_provider.url,
        SSO_OIDC_CLIENT_ID=CLIENT_ID,
        SSO_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        SSO_OIDC_NAME="Acme SSO",
    )


@pytest.fixture
def oidc(settings, oidc_provider, oidc_providers_setting):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers_setting
    oidc_provider.next_login = None
    return oidc_provider


def oidc_sign_in(client, provider, **claims):
    """The browser's round trip: Upward -> the provider's authorize page -> Upward's callback."""
    provider.next_login = {"sub": str(uuid.uuid4()), "email_verified": True, **claims}
    response = client.post(reverse("openid_connect_login", kwargs={"provider_id": "company"}))
    assert response.status_code == 302
    authorize = response["Location"]
    assert authorize.startswith(f"{provider.url}/authorize?")
    assert parse_qs(urlparse(authorize).query)["code_challenge_method"] == ["S256"]
    back = requests.get(authorize, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    return client.get(callback.path, dict(parse_qsl(callback.query)))


def test_without_sso_variables_there_are_no_sso_buttons(client, tmp_path):
    assert providers_from_env(tmp_path) == {}
    page = client.get(reverse("account_login")).content.decode()
    assert "/accounts/oidc/" not in page and "/accounts/saml/" not in page


def test_the_login_page_offers_the_configured_provider(client, oidc):
    page = client.get(reverse("account_login")).content.decode()
    assert "Acme SSO" in page and "/accounts/oidc/company/login/" in page


def test_oidc_settings_come_from_the_environment(oidc_providers_setting, oidc_provider):
    [app] = oidc_providers_setting["openid_connect"]["APPS"]
    assert app["client_id"] == CLIENT_ID and app["secret"] == CLIENT_SECRET
    assert app["settings"]["server_url"] == oidc_provider.url
    assert oidc_providers_setting["openid_connect"]["OAUTH_PKCE_ENABLED"] is True


def test_a_known_employee_signs_in_through_oidc(client, oidc):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    response = oidc_sign_in(client, oidc, email=user.email.upper(), name="Any Name")
    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("participant_home")).status_code == 200
    assert SocialAccount.objects.get(user=user).provider == "company"
    # The real token exchange happened: client secret and PKCE verifier were sent and checked.
    assert oidc.token_requests[-1]["code_verifier"]


def test_the_next_sso_login_uses_the_linked_account(client, oidc):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    oidc_sign_in(client, oidc, email=user.email, sub="stable-subject")
    client.logout()
    response = oidc_sign_in(Client(), oidc, email=user.email, sub="stable-subject")
    assert response.status_code == 302
    assert SocialAccount.objects.filter(user=user).count() == 1


def test_a_directory_employee_without_an_account_gets_one_linked_to_their_entry(client, oidc):
    employee = EmployeeFactory(email="new.joiner@acme.example", first_name="Nia", last_name="Joiner", level=2)
    response = oidc_sign_in(client, oidc, email="new.joiner@acme.example")
    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    employee.refresh_from_db()
    user = User.objects.get(email="new.joiner@acme.example")
    assert employee.user == user and user.full_name == "Nia Joiner"
    assert user.has_role(Role.PARTICIPANT) and not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified


def test_an_email_outside_the_directory_is_refused_and_no_account_is_created(client, oidc):
    response = oidc_sign_in(client, oidc, email="stranger@elsewhere.example")
    assert response.status_code == 403
    body = response.content.decode()
    assert "stranger@elsewhere.example" in body and "not a current employee" in body
    assert not User.objects.filter(email="stranger@elsewhere.example").exists()
    assert not SocialAccount.objects.exists()
    assert "_auth_user_id" not in client.session


def test_an_allowed_signup_domain_does_not_open_sso_to_people_outside_the_directory(client, oidc, settings):
    settings.SIGNUP_ALLOWED_DOMAINS = ["partner.example"]
    response = oidc_sign_in(client, oidc, email="contractor@partner.example")
    assert response.status_code == 403
    assert not User.objects.filter(email="contractor@partner.example").exists()


def test_an_address_the_provider_does_not_vouch_for_is_refused(client, oidc):
    """A multi-tenant provider lets anyone type a colleague's address into their profile."""
    user = make_person(roles=[Role.HR_ADMIN], level=6)
    response = oidc_sign_in(client, oidc, email=user.email, email_verified=False)
    assert response.status_code == 403
    assert "does not vouch that the address is yours" in response.content.decode()
    assert "_auth_user_id" not in client.session and not SocialAccount.objects.exists()


def test_a_reused_address_does_not_open_the_previous_holders_account(client, oidc):
    old = make_person(roles=[Role.PARTICIPANT], level=2)
    old.employee.left_date, old.employee.email = datetime.date(2025, 6, 30), "left.long.ago@acme.example"
    old.employee.save()
    EmployeeFactory(email=old.email, first_name="New", last_name="Hire", level=2)  # HR gave the address to a new hire
    response = oidc_sign_in(client, oidc, email=old.email)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session and not SocialAccount.objects.exists()


def test_no_email_from_the_provider_is_refused(client, oidc):
    response = oidc_sign_in(client, oidc)
    assert response.status_code == 403
    assert "did not tell Upward your email address" in response.content.decode()
    assert User.objects.count() == 0


def test_a_leaver_is_refused(client, oidc):
    EmployeeFactory(email="gone@acme.example", left_date=datetime.date(2025, 1, 31))
    assert oidc_sign_in(client, oidc, email="gone@acme.example").status_code == 403
    assert not User.objects.filter(email="gone@acme.example").exists()


def test_a_linked_account_is_refused_once_its_owner_has_left(client, oidc):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    oidc_sign_in(client, oidc, email=user.email, sub="leaver-subject")
    user.employee.left_date = datetime.date(2025, 3, 1)
    user.employee.save()
    other = Client()
    assert oidc_sign_in(other, oidc, email=user.email, sub="leaver-subject").status_code == 403
    assert "_auth_user_id" not in other.session


def test_a_deactivated_account_is_refused(client, oidc):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert oidc_sign_in(client, oidc, email=user.email).status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_forged_state_is_refused(client, oidc):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    oidc.next_login = {"sub": "x", "email": user.email, "email_verified": True}
    client.post(reverse("openid_connect_login", kwargs={"provider_id": "company"}))
    # An attacker's own authorization code, delivered to the victim's browser with another state.
    attacker = Client()
    authorize = attacker.post(reverse("openid_connect_login", kwargs={"provider_id": "company"}))["Location"]
    callback = urlparse(requests.get(authorize, allow_redirects=False, timeout=10).headers["Location"])
    params = dict(parse_qsl(callback.query))
    response = client.get(callback.path, params)
    assert "_auth_user_id" not in client.session
    assert response.status_code == 401 and "Third-Party Login Failure" in response.content.decode()


def test_sso_is_not_a_second_factor_for_hr_admins(client, oidc):
    """SSO replaces the password only: an HR admin with an authenticator app is asked for a code."""
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    secret = give_totp(hr)
    response = oidc_sign_in(client, oidc, email=hr.email)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code_to_type(secret, seconds_left=2)})
    assert response["Location"] == reverse("hr_home")
    assert client.get(reverse("hr_home")).status_code == 200


def test_an_hr_admin_without_an_authenticator_is_sent_to_set_one_up_after_sso(client, oidc):
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    oidc_sign_in(client, oidc, email=hr.email)
    response = client.get(reverse("hr_home"))
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    # Right after an SSO sign-in, setup needs no password (an SSO user may not have one).
    assert client.get(response["Location"]).status_code == 200


# --- SAML ---------------------------------------------------------------------------------------------

HOST = "upward.example.com"
IDP_ENTITY_ID = "https://idp.acme.example/saml"
IDP_SSO_URL = "https://idp.acme.example/saml/sso"
EMAIL_OID = "urn:oid:0.9.2342.19200300.100.1.3"


def _idp_key_and_cert() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.acme.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def idp_keys():
    return _idp_key_and_cert()


@pytest.fixture(scope="module")
def saml_providers_setting(idp_keys, tmp_path_factory):
    _key, cert = idp_keys
    tmp = tmp_path_factory.mktemp("saml")
    cert_file = tmp / "idp.crt"
    cert_file.write_text(cert)
    return providers_from_env(
        tmp,
        SSO_SAML_IDP_ENTITY_ID=IDP_ENTITY_ID,
        SSO_SAML_IDP_SSO_URL=IDP_SSO_URL,
        SSO_SAML_IDP_X509CERT_FILE=str(cert_file),
        SSO_SAML_NAME="Acme SAML",
    )


@pytest.fixture
def saml(settings, saml_providers_setting):
    settings.SOCIALACCOUNT_PROVIDERS = saml_providers_setting
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    return Client(HTTP_HOST=HOST)


def test_saml_settings_from_the_environment_build_a_valid_configuration(saml, saml_providers_setting, idp_keys):
    from allauth.socialaccount.providers.saml.utils import build_saml_config
    from django.test import RequestFactory
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    [app] = saml_providers_setting["saml"]["APPS"]
    assert app["client_id"] == "company" and app["provider_id"] == IDP_ENTITY_ID
    assert app["settings"]["advanced"]["reject_idp_initiated_sso"] is True
    assert app["settings"]["idp"]["x509cert"].strip() == idp_keys[1].strip()

    request = RequestFactory().get("/", HTTP_HOST=HOST)
    config = build_saml_config(request, app["settings"], app["client_id"])
    settings_object = OneLogin_Saml2_Settings(settings=config)  # raises on an invalid configuration
    assert settings_object.get_idp_data()["singleSignOnService"]["url"] == IDP_SSO_URL
    assert settings_object.get_security_data()["wantAssertionsSigned"] is True

    metadata = saml.get(reverse("saml_metadata", args=["company"]))
    assert metadata.status_code == 200
    assert f"http://{HOST}/accounts/saml/company/acs/" in metadata.content.decode()
    assert "Acme SAML" in saml.get(reverse("account_login")).content.decode()


def saml_response(*, email: str, key: str, cert: str, in_response_to: str | None) -> str:
    """A SAML Response from the IdP with a signed assertion, base64-encoded as the POST binding sends it."""
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    now = timezone.now()
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    issued, soon, before = now.strftime(fmt), (now + datetime.timedelta(minutes=5)).strftime(fmt), (now - datetime.timedelta(minutes=1)).strftime(fmt)
    acs = f"http://{HOST}/accounts/saml/company/acs/"
    audience = f"http://{HOST}/accounts/saml/company/metadata/"
    reply_to = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    assertion = f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}">
<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>
<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{soon}" Recipient="{acs}"{reply_to}/></saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{before}" NotOnOrAfter="{soon}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="_s{uuid.uuid4().hex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement><saml:Attribute Name="{EMAIL_OID}"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
</saml:Assertion>"""
    signed = OneLogin_Saml2_Utils.add_sign(assertion, key, cert)
    signed = signed.decode() if isinstance(signed, bytes) else signed
    response = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}" Destination="{acs}"{reply_to}>
<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{signed}
</samlp:Response>"""
    return base64.b64encode(response.encode()).decode()


def post_to_acs(client, saml_response_b64: str, relay_state: str = ""):
    response = client.post(reverse("saml_acs", args=["company"]), {"SAMLResponse": saml_response_b64, "RelayState": relay_state})
    assert response.status_code == 302  # allauth parks the POST, then finishes on a GET
    return client.get(response["Location"])


def test_sp_initiated_saml_login_signs_a_known_employee_in(saml, idp_keys):
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    user = make_person(roles=[Role.PARTICIPANT], level=2)
    start = saml.post(reverse("saml_login", args=["company"]))
    assert start.status_code == 302 and start["Location"].startswith(IDP_SSO_URL)
    query = dict(parse_qsl(urlparse(start["Location"]).query))
    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"]).decode()
    request_id = request_xml.split(' ID="', 1)[1].split('"', 1)[0]

    key, cert = idp_keys
    response = post_to_acs(saml, saml_response(email=user.email, key=key, cert=cert, in_response_to=request_id), query.get("RelayState", ""))
    assert response.status_code == 302 and response["Location"] == reverse("participant_home")
    assert saml.session["_auth_user_id"] == str(user.pk)


def test_idp_initiated_saml_is_refused(saml, idp_keys):
    """The same valid, signed assertion, but unsolicited: nothing of ours it answers."""
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    key, cert = idp_keys
    response = post_to_acs(saml, saml_response(email=user.email, key=key, cert=cert, in_response_to=None), "/me/")
    assert "_auth_user_id" not in saml.session
    assert response.status_code == 401 and "Third-Party Login Failure" in response.content.decode()


def test_a_saml_assertion_signed_by_another_key_is_refused(saml, idp_keys):
    user = make_person(roles=[Role.PARTICIPANT], level=2)
    start = saml.post(reverse("saml_login", args=["company"]))
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    query = dict(parse_qsl(urlparse(start["Location"]).query))
    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"]).decode()
    request_id = request_xml.split(' ID="', 1)[1].split('"', 1)[0]
    forged_key, forged_cert = _idp_key_and_cert()
    post_to_acs(saml, saml_response(email=user.email, key=forged_key, cert=forged_cert, in_response_to=request_id))
    assert "_auth_user_id" not in saml.session


def test_saml_for_an_email_outside_the_directory_is_refused(saml, idp_keys):
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    start = saml.post(reverse("saml_login", args=["company"]))
    query = dict(parse_qsl(urlparse(start["Location"]).query))
    request_id = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"]).decode().split(' ID="', 1)[1].split('"', 1)[0]
    key, cert = idp_keys
    response = post_to_acs(saml, saml_response(email="stranger@elsewhere.example", key=key, cert=cert, in_response_to=request_id))
    assert response.status_code == 403
    assert not User.objects.filter(email="stranger@elsewhere.example").exists()
