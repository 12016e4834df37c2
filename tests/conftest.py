import os

# Playwright's sync API runs an event loop in the test thread; Django must allow the ORM there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402

from mentoring.celery import app as celery_app  # noqa: E402
from mentoring.models import Role  # noqa: E402
from tests.auth_helpers import login_with_mfa  # noqa: E402
from tests.factories import PASSWORD, make_person  # noqa: E402

celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _outbox_mail(settings):
    """Tests send mail the way production does: through the outbox, delivered to locmem."""
    settings.EMAIL_BACKEND = "mentoring.mail.OutboxEmailBackend"
    settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Real hashing costs about a second per user; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _clear_cache():
    try:
        cache.clear()
    except RuntimeError:
        pass  # the database cache in a test without database access: nothing to clear


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and other cached state must not leak between tests."""
    _clear_cache()
    yield
    _clear_cache()


@pytest.fixture
def deliver_outbox(db):
    """Drain the outbox as the worker would; returns the number of messages sent."""
    from mentoring.services import outbox_deliver_due

    def deliver() -> int:
        sent = 0
        while True:
            report = outbox_deliver_due(batch_size=50)
            sent += report.sent
            if report.claimed == 0:
                return sent

    return deliver


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def hr_user(db):
    return make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6, title="People Partner")


@pytest.fixture
def executive_user(db):
    return make_person(roles=[Role.EXECUTIVE], level=9, title="Chief Operating Officer")


@pytest.fixture
def participant_user(db):
    return make_person(roles=[Role.PARTICIPANT], level=2, title="Software Engineer")


@pytest.fixture
def hr_client(hr_user):
    """Signed in with password and TOTP code: HR admins must pass MFA to reach any page."""
    client = Client()
    login_with_mfa(client, hr_user)
    return client


@pytest.fixture
def executive_client(executive_user):
    """Signed in with password and TOTP code, as MFA_REQUIRED_ROLES requires for executives."""
    client = Client()
    login_with_mfa(client, executive_user)
    return client


@pytest.fixture
def participant_client(participant_user):
    client = Client()
    client.force_login(participant_user)
    return client
