"""Deploy hardening that `check --deploy` does not see: inline script and style under the
Content-Security-Policy, and error pages that never show a stack trace.

(`check --deploy --fail-level WARNING` itself, HSTS and secure cookies: tests/mentoring/test_settings.py.)
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path, reverse

from mentoring import urls as site_urls

TEMPLATES = Path(settings.BASE_DIR) / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def _page_templates():
    # Emails are not pages: mail clients need inline style and no CSP applies there.
    return [p for p in TEMPLATES.rglob("*.html") if "email" not in p.parts]


def _inline_problems(html: str, nonce: str | None = None) -> list[str]:
    problems = []
    for match in SCRIPT_TAG.finditer(html):
        attributes = match.group(1)
        if "src=" in attributes:
            continue
        if nonce is None or f'nonce="{nonce}"' not in attributes:
            problems.append(f"inline <script> without the page's nonce: {match.group(0)}")
    problems += [f"inline event handler: {m.group(0)[:80]}" for m in INLINE_HANDLER.finditer(html)]
    problems += [f"style attribute: {m.group(0)[:80]}" for m in STYLE_ATTRIBUTE.finditer(html)]
    return problems


def test_the_scanner_catches_what_the_policy_would_block():
    planted = '<p style="color:red">x</p><button onclick="go()">go</button><script>alert(1)</script>'
    assert len(_inline_problems(planted)) == 3
    assert _inline_problems('<script nonce="abc">ok()</script><script src="/static/a.js"></script>', nonce="abc") == []
    assert _inline_problems('<script nonce="stale">x()</script>', nonce="abc") != []


def test_no_page_template_has_inline_script_handlers_or_style():
    found = {}
    for template in _page_templates():
        problems = _inline_problems(template.read_text())
        # A template may carry a nonce'd script: {{ request.csp_nonce }} is filled in per response.
        problems = [p for p in problems if "csp_nonce" not in p]
        if problems:
            found[str(template.relative_to(TEMPLATES))] = problems
    assert found == {}


def test_the_policy_allows_no_inline_script_or_style(participant_client):
    csp = participant_client.get(reverse("participant_home"))["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["style-src"] == "'self'"
    # Django adds the nonce only to responses whose page used one.
    assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9+/=_-]+')?", directives["script-src"])


@pytest.mark.parametrize(
    "url_name",
    ["account_login", "account_signup", "account_reset_password", "mfa_index", "mfa_activate_totp", "account_change_password"],
)
def test_allauth_pages_we_do_not_template_ourselves_stay_inside_the_policy(url_name, participant_user):
    client = Client()
    if url_name.startswith(("mfa", "account_change")):
        client.force_login(participant_user)
    response = client.get(reverse(url_name), follow=True)
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert _inline_problems(response.content.decode(), nonce.group(1) if nonce else None) == []


SECRET_IN_EXCEPTION = "db-password-Zq81-in-the-exception"


def _crashing_view(request):
    raise RuntimeError(SECRET_IN_EXCEPTION)


def _fine_view(request):
    return HttpResponse("fine")


# The real site plus one view that crashes: the error pages render with the real navigation.
urlpatterns = [path("crash/", _crashing_view), path("fine/", _fine_view), *site_urls.urlpatterns]
handler500 = "mentoring.views.error_500"
handler404 = "mentoring.views.error_404"


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_crash_shows_the_styled_error_page_and_no_stack_trace(db):
    client = Client(raise_request_exception=False)
    response = client.get("/crash/")
    body = response.content.decode()
    assert response.status_code == 500
    assert SECRET_IN_EXCEPTION not in body
    assert "Traceback" not in body and "_crashing_view" not in body and "settings" not in body.lower()
    assert "<html" in body  # our page, not a bare server message


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_an_unknown_url_does_not_list_the_url_patterns(db):
    body = Client().get("/no-such-page/").content.decode()
    assert "crash/" not in body and "fine/" not in body and "URLconf" not in body
