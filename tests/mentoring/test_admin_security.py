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


def test_a_superuser_without_any_role_must_pass_mfa_before_the_admin(client, password):
    """createsuperuser gives no role: the admin, where roles are granted, still needs the code."""
    root = UserFactory(is_staff=True, is_superuser=True)
    client.post(reverse("account_login"), {"login": root.email, "password": password})
    assert "_auth_user_id" in client.session  # the password was right...
    response = client.get("/admin/mentoring/user/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_activate_totp"))  # ...but no admin yet


def test_granting_a_role_in_the_admin_is_audited(staff_client):
    from django.contrib.auth.models import Group

    from mentoring.models import AuditEvent
    from mentoring.services import role_group

    target = UserFactory(roles=[Role.PARTICIPANT])
    hr_group = role_group(Role.HR_ADMIN)
    participant_group = Group.objects.get(name=Role.PARTICIPANT)
    response = staff_client.post(
        reverse("admin:mentoring_user_change", args=[target.pk]),
        {
            "email": target.email, "full_name": target.full_name or "Someone", "is_active": "on",
            "groups": [hr_group.pk, participant_group.pk], "last_login_0": "", "last_login_1": "",
            "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(target.groups.values_list("name", flat=True)) == {"hr_admin", "participant"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROLE_GRANTED, object_id=target.pk)
    assert event.before == {"roles": ["participant"]} and event.after == {"roles": ["hr_admin", "participant"]}
    assert event.actor is not None and event.actor.is_superuser
    assert event.summary == "Role HR admin granted in the Django admin"
