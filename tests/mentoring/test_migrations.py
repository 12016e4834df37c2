import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration():
    # --check exits non-zero (SystemExit) when a migration is missing.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_logins_that_drifted_from_the_directory_get_its_address_back_as_their_only_one():
    import importlib

    from allauth.account.models import EmailAddress
    from django.apps import apps

    from mentoring.models import Employee
    from tests.factories import UserFactory, make_person

    migration = importlib.import_module("mentoring.migrations.0011_sign_in_addresses_follow_the_directory")
    fine = make_person()
    drifted = make_person()
    directory_address = drifted.email
    # Before the directory owned addresses: a private one added and made primary on allauth's page.
    EmailAddress.objects.filter(user=drifted).update(primary=False)
    EmailAddress.objects.create(user=drifted, email="me@home.example", verified=True, primary=True)
    drifted.email = "me@home.example"
    drifted.save()
    # Someone whose directory address is another login's: left alone.
    stuck = make_person()
    Employee.objects.filter(user=stuck).update(email="shared@acme.example")
    UserFactory(email="shared@acme.example")

    migration.forwards(apps, None)

    drifted.refresh_from_db()
    assert drifted.email == directory_address
    assert list(EmailAddress.objects.filter(user=drifted).values_list("email", "verified", "primary")) == [(directory_address, True, True)]
    assert list(EmailAddress.objects.filter(user=fine).values_list("email", "primary")) == [(fine.email, True)]
    stuck_email = stuck.email
    stuck.refresh_from_db()
    assert stuck.email == stuck_email != "shared@acme.example"
    assert list(EmailAddress.objects.filter(user=stuck).values_list("email", flat=True)) == [stuck_email]
