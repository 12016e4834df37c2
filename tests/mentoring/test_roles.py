"""HR gives and takes roles from a person's directory page: who may, and the rules that hold."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from mentoring import services
from mentoring.models import AuditEvent, Role
from tests.auth_helpers import login_with_mfa
from tests.factories import EmployeeFactory, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return make_person(roles=[Role.PARTICIPANT], level=7, title="Director")


def change_url(user) -> str:
    return reverse("employee_role_change", args=[user.employee.pk])


def roles_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def role_events():
    return AuditEvent.objects.filter(action__in=[AuditEvent.Action.ROLE_GRANTED, AuditEvent.Action.ROLE_REVOKED])


def test_hr_sees_roles_and_the_buttons_on_the_directory_page(hr_client, person):
    page = hr_client.get(reverse("employee_detail", args=[person.employee.pk])).content.decode()
    assert "Roles in Upward" in page and change_url(person) in page
    assert "Make HR admin" in page and "Make executive sponsor" in page and "Take away" in page
    assert "authenticator app" in page and person.email in page


def test_giving_hr_admin_or_executive_asks_first_naming_the_person(hr_client, person):
    """One click made someone HR admin (every program, the directory, the audit log): the
    grant buttons of the two powerful roles ask, by name; taking away and Participant do not."""
    import html
    import re

    page = hr_client.get(reverse("employee_detail", args=[person.employee.pk])).content.decode()
    asks = [html.unescape(a) for a in re.findall(r'data-confirm="([^"]*)"', page)]
    name = person.employee.full_name
    assert any(a.startswith(f"Make {name} an HR admin?") and "audit log" in a for a in asks), asks
    assert any(a.startswith(f"Make {name} an executive sponsor?") for a in asks), asks
    assert len(asks) == 2  # Participant is held (Take away) or harmless to give: no question


def test_hr_makes_someone_executive_and_the_audit_log_says_who(hr_client, hr_user, person):
    response = hr_client.post(change_url(person), {"role": "executive", "change": "grant"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("employee_detail", args=[person.employee.pk])
    assert "now has the Executive sponsor role" in response.content.decode() and "authenticator app" in response.content.decode()
    assert roles_of(person) == {"executive", "participant"}
    event = role_events().get()
    assert (event.action, event.actor, event.object_id) == (AuditEvent.Action.ROLE_GRANTED, hr_user, person.pk)
    assert event.after == {"roles": ["executive", "participant"]}


def test_hr_makes_a_second_hr_admin_and_takes_a_role_away(hr_client, hr_user, person):
    hr_client.post(change_url(person), {"role": "hr_admin", "change": "grant"})
    hr_client.post(change_url(person), {"role": "participant", "change": "revoke"})
    assert roles_of(person) == {"hr_admin"}
    revoked = role_events().get(action=AuditEvent.Action.ROLE_REVOKED)
    assert (revoked.actor, revoked.before, revoked.after) == (hr_user, {"roles": ["hr_admin", "participant"]}, {"roles": ["hr_admin"]})


def test_the_participant_role_stays_while_its_holder_is_in_a_live_pair(hr_client, person):
    from pairing.models import Pair
    from tests.factories import make_active_pair

    pair = make_active_pair(mentee_user=person)
    response = hr_client.post(change_url(person), {"role": "participant", "change": "revoke"}, follow=True)
    page = response.content.decode()
    assert f"{person.employee.full_name} is in a live pair ({pair.program.name}): without the Participant role they could no longer open it." in page
    assert roles_of(person) == {"participant"} and not role_events().exists()
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.ENDED, ended_at=pair.started_at)
    hr_client.post(change_url(person), {"role": "participant", "change": "revoke"})
    assert roles_of(person) == set()



def test_a_pair_left_live_in_a_completed_program_does_not_hold_the_role(hr_client, person):
    from programs.models import Program
    from tests.factories import make_active_pair

    pair = make_active_pair(mentee_user=person)
    Program.objects.filter(pk=pair.program_id).update(status=Program.Status.ARCHIVED)  # completed before completing ended pairs
    hr_client.post(change_url(person), {"role": "participant", "change": "revoke"})
    assert roles_of(person) == set()


def test_without_mfa_required_the_grant_message_does_not_ask_for_it(hr_client, person, settings):
    settings.MFA_REQUIRED_ROLES = ["hr_admin"]
    response = hr_client.post(change_url(person), {"role": "executive", "change": "grant"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"{person.employee.full_name} now has the Executive sponsor role."]
    # The page's note names what this installation requires, not a setting's name.
    page = hr_client.get(reverse("employee_detail", args=[person.employee.pk])).content.decode()
    note = page[page.index('data-testid="mfa-note"') :][:400]
    assert "in this installation, HR admin must set up" in note and "MFA_REQUIRED_ROLES" not in note
    settings.MFA_REQUIRED_ROLES = []
    page = hr_client.get(reverse("employee_detail", args=[person.employee.pk])).content.decode()
    assert "not required for any role" in page


@pytest.mark.parametrize("client_fixture", ["participant_client", "executive_client"])
def test_other_roles_posting_get_403_and_nothing_changes(request, client_fixture, person):
    client = request.getfixturevalue(client_fixture)
    user = request.getfixturevalue(client_fixture.replace("_client", "_user"))
    for target in (person, user):  # someone else, or a promotion for themselves
        assert client.post(change_url(target), {"role": "hr_admin", "change": "grant"}).status_code == 403
    assert not person.has_role(Role.HR_ADMIN) and "hr_admin" not in roles_of(user)
    assert not role_events().exists()


def test_anonymous_post_goes_to_login_and_changes_nothing(client, person):
    response = client.post(change_url(person), {"role": "hr_admin", "change": "grant"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert roles_of(person) == {"participant"}


def test_get_is_refused(hr_client, person):
    assert hr_client.get(change_url(person)).status_code == 405


def test_a_post_without_the_csrf_token_is_refused(hr_user, person):
    client = Client(enforce_csrf_checks=True)
    login_with_mfa(client, hr_user)
    assert client.post(change_url(person), {"role": "hr_admin", "change": "grant"}).status_code == 403
    assert roles_of(person) == {"participant"}


def test_unknown_person_is_404(hr_client):
    assert hr_client.post(reverse("employee_role_change", args=[999999]), {"role": "executive", "change": "grant"}).status_code == 404


@pytest.mark.parametrize("data", [{"role": "superuser", "change": "grant"}, {"role": "executive", "change": "promote"}, {}])
def test_nonsense_changes_nothing(hr_client, person, data):
    response = hr_client.post(change_url(person), data, follow=True)
    assert "Choose a role" in response.content.decode()
    assert roles_of(person) == {"participant"} and not role_events().exists()


def test_the_last_hr_admin_cannot_take_the_role_from_themselves(hr_client, hr_user):
    response = hr_client.post(change_url(hr_user), {"role": "hr_admin", "change": "revoke"}, follow=True)
    assert "last active HR admin" in response.content.decode() and "someone must be able to administer" in response.content.decode()
    assert "hr_admin" in roles_of(hr_user) and not role_events().exists()


@pytest.mark.parametrize("other", ["left", "closed"])
def test_a_leaver_or_closed_login_does_not_count_as_another_hr_admin(hr_client, hr_user, other):
    if other == "left":
        make_person(roles=[Role.HR_ADMIN], left_date=datetime.date(2025, 1, 31))
    else:
        closed = make_person(roles=[Role.HR_ADMIN])
        closed.is_active = False
        closed.save(update_fields=["is_active"])
    hr_client.post(change_url(hr_user), {"role": "hr_admin", "change": "revoke"})
    assert "hr_admin" in roles_of(hr_user)


def test_with_another_active_hr_admin_one_may_step_down(hr_client, hr_user):
    make_person(roles=[Role.HR_ADMIN], level=6)
    response = hr_client.post(change_url(hr_user), {"role": "hr_admin", "change": "revoke"}, follow=True)
    assert "hr_admin" not in roles_of(hr_user)
    # No longer HR: the page they land on refuses them, the change is in the log.
    assert response.status_code == 403
    assert role_events().get().action == AuditEvent.Action.ROLE_REVOKED


def test_the_last_hr_admin_rule_holds_in_the_service():
    admin = make_person(roles=[Role.HR_ADMIN])
    with pytest.raises(services.MentoringError, match="last active HR admin"):
        services.employee_role_revoke(employee=admin.employee, role=Role.HR_ADMIN)
    assert admin.groups.filter(name=Role.HR_ADMIN).exists()


def test_a_leaver_cannot_be_given_a_role(hr_client):
    leaver = make_person(roles=[Role.PARTICIPANT], left_date=datetime.date(2025, 1, 31))
    page = hr_client.get(reverse("employee_detail", args=[leaver.employee.pk])).content.decode()
    assert "Make HR admin" not in page and "roles can be taken away but not given" in page
    response = hr_client.post(change_url(leaver), {"role": "hr_admin", "change": "grant"}, follow=True)
    assert "leavers cannot be given roles" in response.content.decode()
    assert roles_of(leaver) == {"participant"} and not role_events().exists()
    # Taking a leftover role away is still allowed.
    hr_client.post(change_url(leaver), {"role": "participant", "change": "revoke"})
    assert roles_of(leaver) == set()


def test_a_closed_login_cannot_be_given_a_role(hr_client):
    closed = make_person(roles=[])
    closed.is_active = False
    closed.save(update_fields=["is_active"])
    response = hr_client.post(change_url(closed), {"role": "executive", "change": "grant"}, follow=True)
    assert "login is closed" in response.content.decode() and roles_of(closed) == set()


def test_someone_without_a_login_is_told_what_happens_at_sign_up(hr_client):
    employee = EmployeeFactory()
    page = hr_client.get(reverse("employee_detail", args=[employee.pk])).content.decode()
    assert "No Upward login yet" in page and "become a participant automatically" in page
    assert reverse("employee_role_change", args=[employee.pk]) not in page
    response = hr_client.post(reverse("employee_role_change", args=[employee.pk]), {"role": "executive", "change": "grant"}, follow=True)
    assert "no Upward login yet" in response.content.decode() and not role_events().exists()


def test_sign_up_gives_the_participant_role_the_page_promises():
    # What the page says about people without a login: linking at sign-up makes them participants.
    from tests.factories import UserFactory

    employee = EmployeeFactory()
    user = UserFactory(email=employee.email, roles=[])
    services.user_link_employee(user=user)
    assert roles_of(user) == {"participant"}


def test_set_role_and_the_page_record_the_same_audit_action(hr_client, person):
    call_command("set_role", person.email, "executive")
    hr_client.post(change_url(person), {"role": "executive", "change": "revoke"})
    assert list(role_events().order_by("id").values_list("action", flat=True)) == [AuditEvent.Action.ROLE_GRANTED, AuditEvent.Action.ROLE_REVOKED]


@pytest.mark.django_db(transaction=True)
def test_two_hr_admins_demoting_each_other_at_once_leave_one_hr_admin():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL=postgres://...); CI runs these there")
    from tests.security.test_races import race, won

    hr_a, hr_b = make_person(roles=[Role.HR_ADMIN]), make_person(roles=[Role.HR_ADMIN])
    first, second = race(
        lambda: services.employee_role_revoke(employee=hr_a.employee, role=Role.HR_ADMIN),
        lambda: services.employee_role_revoke(employee=hr_b.employee, role=Role.HR_ADMIN),
    )
    assert won(first), first
    assert isinstance(second, str) and "last active HR admin" in second, second
    assert list(services.active_hr_admins()) == [hr_b]
