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


# --- programs ---------------------------------------------------------------------------------
from programs.models import Enrollment, EnrollmentTopic, Program, Topic  # noqa: E402


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Topic {n}")


def _today():
    from django.utils import timezone

    return timezone.localdate()


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program whose enrollment window contains today (open it with status=...)."""

    class Meta:
        model = Program
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Reverse mentoring {n}")
    slug = factory.Sequence(lambda n: f"program-{n}")
    description = "Juniors mentor seniors on the digital workplace."
    status = Program.Status.ENROLLMENT_OPEN
    enrollment_opens_on = factory.LazyFunction(lambda: _today() - datetime.timedelta(days=7))
    enrollment_closes_on = factory.LazyFunction(lambda: _today() + datetime.timedelta(days=14))
    starts_on = factory.LazyFunction(lambda: _today() + datetime.timedelta(days=21))
    ends_on = factory.LazyFunction(lambda: _today() + datetime.timedelta(days=200))
    mentor_max_level = 3
    mentee_min_level = 6

    @factory.post_generation
    def topics(self, create, extracted, **kwargs):
        if create:
            self.topics.set(extracted if extracted is not None else [TopicFactory(name="AI tools"), TopicFactory(name="Social media")])


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment
        skip_postgeneration_save = True

    program = factory.SubFactory(ProgramFactory)
    employee = factory.SubFactory(EmployeeFactory, level=factory.LazyAttribute(lambda o: 2 if o.factory_parent.role == "mentor" else 7))
    role = "mentor"
    status = Enrollment.Status.APPLIED
    languages = factory.LazyFunction(lambda: ["English"])
    availability = factory.LazyFunction(lambda: ["tue-10", "thu-14"])

    @factory.post_generation
    def ratings(self, create, extracted, **kwargs):
        if not create:
            return
        kind = EnrollmentTopic.Kind.TEACH if self.role == "mentor" else EnrollmentTopic.Kind.LEARN
        for topic in self.program.topics.all()[:2]:
            EnrollmentTopic.objects.create(enrollment=self, topic=topic, kind=kind, level=4 if kind == "teach" else 2)


# --- pairs ------------------------------------------------------------------------------------
def make_active_pair(*, program=None, mentor_user=None, mentee_user=None, **program_fields):
    """A published, active pair in a running program, each side with a login if given."""
    from django.utils import timezone

    from pairing.models import Pair

    if program is None:
        program_fields.setdefault("status", Program.Status.ACTIVE)
        program_fields.setdefault("enrollment_opens_on", _today() - datetime.timedelta(days=60))
        program_fields.setdefault("enrollment_closes_on", _today() - datetime.timedelta(days=40))
        program_fields.setdefault("starts_on", _today() - datetime.timedelta(days=30))
        program_fields.setdefault("ends_on", _today() + datetime.timedelta(days=150))
        program = ProgramFactory(**program_fields)
    mentor_employee = mentor_user.employee if mentor_user else EmployeeFactory(level=2, time_zone="Europe/London")
    mentee_employee = mentee_user.employee if mentee_user else EmployeeFactory(level=7, time_zone="America/New_York")
    mentor = EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED, employee=mentor_employee, time_zone=mentor_employee.time_zone)
    mentee = EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED, employee=mentee_employee, time_zone=mentee_employee.time_zone)
    return Pair.objects.create(program=program, mentor=mentor, mentee=mentee, status=Pair.Status.ACTIVE, score=640, started_at=timezone.now() - datetime.timedelta(days=20))
