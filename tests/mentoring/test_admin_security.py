"""The Django admin is behind allauth's login and cannot query hidden fields."""

import pytest
from django.urls import reverse

from mentoring.models import Role
from tests.auth_helpers import sign_in
from tests.factories import EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = UserFactory(roles=[Role.HR_ADMIN], is_staff=True, is_superuser=True)
    sign_in(client, user)  # with the second factor HR admins need
    return client


def test_admin_login_goes_through_allauth_with_its_rate_limits(client, password):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    user = UserFactory(is_staff=True, is_superuser=True)
    # The admin's own form no longer signs anyone in.
    client.post("/admin/login/", {"username": user.email, "password": password})
    assert "_auth_user_id" not in client.session


def test_allauth_login_locks_out_after_repeated_failures(client, password):
    user = UserFactory(roles=[Role.PARTICIPANT])
    for _ in range(6):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"})
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/programs/enrollment/?not_with={pk}",
        "/admin/programs/enrollment/?not_with__id__exact={pk}",
        "/admin/mentoring/outboxmessage/?body_text__icontains=secret",
        "/admin/pairing/matchrun/?inputs__icontains=not_with",
    ],
)
def test_admin_refuses_lookups_on_undeclared_fields(staff_client, url):
    enrollment = EnrollmentFactory()
    response = staff_client.get(url.format(pk=enrollment.employee_id))
    assert response.status_code == 400


def test_admin_declared_filters_still_work(staff_client):
    EnrollmentFactory()
    assert staff_client.get("/admin/programs/enrollment/?status__exact=applied").status_code == 200
