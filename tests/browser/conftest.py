import os
from pathlib import Path

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
AXE = (ROOT / "static" / "vendor" / "axe-core" / "axe.min.js").read_text()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    }


@pytest.fixture(autouse=True)
def _mfa_only_where_asked(request, settings):
    """Journeys about other things sign HR admins and executives in with a password only;
    a test that asks for the `mfa_enforced` fixture runs with MFA_REQUIRED_ROLES as configured."""
    if "mfa_enforced" not in request.fixturenames:
        settings.MFA_REQUIRED_ROLES = []


@pytest.fixture
def mfa_enforced(settings):
    from mentoring.models import Role

    settings.MFA_REQUIRED_ROLES = [Role.HR_ADMIN, Role.EXECUTIVE]


@pytest.fixture
def check_accessibility():
    """Run axe-core on the current page; fail on serious or critical violations."""

    def check(page):
        # The pointer off the content and no colour transition under way: a button just
        # clicked (and swapped by htmx) was measured mid-hover-fade, a contrast failure
        # that came and went with the machine's speed.
        page.mouse.move(0, 0)
        page.evaluate("() => Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition).map(a => a.finished.catch(() => null)))")
        # Through DevTools, not a <script> tag: the page's CSP rightly forbids inline scripts.
        page.evaluate(AXE)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        details = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad]
        assert not bad, f"axe found accessibility problems on {page.url}:\n" + "\n".join(details)

    return check


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return shot
