import datetime

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from mentoring.models import Department, Employee, Role, User

PASSWORD = "correct-horse-battery-staple"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Department {n}")


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employee

    employee_id = factory.Sequence(lambda n: f"E{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@acme.example")
    title = "Analyst"
    department = factory.SubFactory(DepartmentFactory)
    level = 3
    level_label = factory.LazyAttribute(lambda o: f"L{o.level}")
    time_zone = "Europe/London"
    hire_date = datetime.date(2020, 1, 6)


class UserFactory(factory.django.DjangoModelFactory):
    """A login with a verified email address. `roles=[...]` adds role groups."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@acme.example")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if not create:
            return
        self.save()
        for role in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=role)[0])
        EmailAddress.objects.get_or_create(user=self, email=self.email, defaults={"verified": True, "primary": True})


def make_person(*, roles=(Role.PARTICIPANT,), **employee_fields) -> User:
    """A user with roles and a directory entry, as a real participant has."""
    user = UserFactory(roles=list(roles))
    EmployeeFactory(user=user, email=user.email, **employee_fields)
    return user
