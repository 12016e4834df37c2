"""A realistic demo organisation, built in bulk (seconds, not minutes)."""

import datetime
import random
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import Department, Employee, EmployeeEvent, Role, User
from .services import user_grant_role

DEMO_PASSWORD = "upward-demo-2026"
DEMO_DOMAIN = "acme.example"

FIRST_NAMES = """Amara Ben Chloe Dev Elena Farid Grace Hugo Ines Jonas Kemi Liam Maya Noah Olu Priya Quinn Rosa
Sami Tara Uma Victor Wen Xavier Yara Zane Aiko Bruno Carmen Dmitri Esme Felix Gita Hamza Isla Jun Kai Lena Marco
Nadia Omar Paula Rafael Sofia Tomas Ulla Vera Wanjiru Yusuf Zoe Alba Cyrus Dalia Emil Freya Goran Hana Ivo Joy""".split()
LAST_NAMES = """Adeyemi Bauer Costa Dubois Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski Lindqvist Moreau
Nakamura Okafor Petrov Quintero Rossi Schmidt Tanaka Usman Varga Weber Xu Yilmaz Zhang Alvarez Brennan Chen Diallo
Evans Fernandes Gupta Horvat Ibrahim Jovanovic Kim Lopez Mendes Novak Ortiz Patel Reyes Silva Torres Ueda Volkova
Walsh Young Zielinski""".split()

DEPARTMENTS = ["Engineering", "Product", "Marketing", "Sales", "Finance", "People", "Operations", "Customer Success"]
LEVEL_LABELS = {1: "Associate", 2: "Analyst", 3: "Senior Analyst", 4: "Lead", 5: "Manager", 6: "Senior Manager", 7: "Director", 8: "Senior Director", 9: "Vice President", 10: "Chief Executive"}
OFFICES = [("London", "Europe/London"), ("Paris", "Europe/Paris"), ("Berlin", "Europe/Berlin"), ("New York", "America/New_York"), ("Chicago", "America/Chicago"), ("Singapore", "Asia/Singapore"), ("Remote (Lisbon)", "Europe/Lisbon")]
TITLES = {
    "Engineering": ("Software Engineer", "Engineering Manager"),
    "Product": ("Product Designer", "Product Manager"),
    "Marketing": ("Marketing Specialist", "Marketing Manager"),
    "Sales": ("Account Executive", "Sales Manager"),
    "Finance": ("Financial Analyst", "Finance Manager"),
    "People": ("People Partner", "People Manager"),
    "Operations": ("Operations Analyst", "Operations Manager"),
    "Customer Success": ("Customer Success Specialist", "Customer Success Manager"),
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    who: str


DEMO_LOGINS = [
    DemoLogin(f"hr@{DEMO_DOMAIN}", Role.HR_ADMIN, "HR admin (people team)"),
    DemoLogin(f"exec@{DEMO_DOMAIN}", Role.EXECUTIVE, "Executive sponsor"),
    DemoLogin(f"mentor@{DEMO_DOMAIN}", Role.PARTICIPANT, "Participant: a junior engineer, mentor in an active program"),
    DemoLogin(f"mentee@{DEMO_DOMAIN}", Role.PARTICIPANT, "Participant: a sales director, mentee of the demo mentor"),
]


class _Org:
    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng = rng
        self.today = today
        self.count = 0
        self.used_emails: set[str] = set()

    def person(self, *, level: int, department: Department, manager: Employee | None, title: str, email: str | None = None, first=None, last=None) -> Employee:
        self.count += 1
        first = first or self.rng.choice(FIRST_NAMES)
        last = last or self.rng.choice(LAST_NAMES)
        if email is None:
            base = f"{first}.{last}".lower()
            email, n = f"{base}@{DEMO_DOMAIN}", 1
            while email in self.used_emails:
                n += 1
                email = f"{base}{n}@{DEMO_DOMAIN}"
        self.used_emails.add(email)
        city, tz = (manager.location, manager.time_zone) if manager is not None and self.rng.random() < 0.7 else self.rng.choice(OFFICES)
        # Senior people have been here longer, on average.
        years = self.rng.uniform(0.2, 3 + level * 1.5)
        return Employee(
            employee_id=f"D{self.count:05d}",
            email=email,
            first_name=first,
            last_name=last,
            title=title,
            department=department,
            level=level,
            level_label=LEVEL_LABELS[level],
            manager=manager,
            location=city,
            time_zone=tz,
            hire_date=self.today - datetime.timedelta(days=int(years * 365)),
        )


def demo_exists() -> bool:
    return Employee.objects.filter(employee_id="D00001").exists()


@transaction.atomic
def build_demo_org(*, seed: int = 7, today: datetime.date | None = None) -> dict:
    """Build the demo organisation (about 450 people, 6 levels of management) once.

    Running it again changes nothing in the directory and only resets the demo logins.
    """
    created = False
    if not demo_exists():
        _build_tree(random.Random(seed), today or datetime.date.today())
        created = True
    for login in DEMO_LOGINS:
        _ensure_login(login)
    from programs.demo import build_demo_programs

    from sessions_log.demo import build_demo_sessions

    programs = build_demo_programs(seed=seed, today=today or datetime.date.today())
    meetings = build_demo_sessions(seed=seed, today=today or datetime.date.today())
    _demo_snapshots()
    return {"created": created, "employees": Employee.objects.count(), "programs": programs, "meetings": meetings}


def _bulk(people: list[Employee]) -> list[Employee]:
    return Employee.objects.bulk_create(people)


def _build_tree(rng: random.Random, today: datetime.date) -> None:
    org = _Org(rng, today)
    departments = {name: Department.objects.get_or_create(name=name)[0] for name in DEPARTMENTS}
    ceo = _bulk([org.person(level=10, department=departments["Operations"], manager=None, title="Chief Executive Officer", first="Helena", last="Marsh")])[0]

    heads = _bulk(
        [
            org.person(level=9, department=dept, manager=ceo, title=f"VP {name}", email=f"exec@{DEMO_DOMAIN}" if name == "Operations" else None)
            for name, dept in departments.items()
        ]
    )
    directors, senior_managers, managers, leads, staff = [], [], [], [], []
    for head in heads:
        for _ in range(2):
            directors.append(org.person(level=8, department=head.department, manager=head, title=f"Director, {head.department.name}"))
    # The demo mentee leads in Sales, far from the demo mentor's Engineering reporting line.
    sales_director = next(d for d in directors if d.department.name == "Sales")
    sales_director.email = f"mentee@{DEMO_DOMAIN}"
    org.used_emails.add(sales_director.email)
    directors = _bulk(directors)
    for director in directors:
        for _ in range(2):
            senior_managers.append(org.person(level=rng.choice([6, 7]), department=director.department, manager=director, title=TITLES[director.department.name][1]))
    senior_managers = _bulk(senior_managers)
    for sm in senior_managers:
        for _ in range(rng.choice([1, 2])):
            managers.append(org.person(level=5, department=sm.department, manager=sm, title=TITLES[sm.department.name][1]))
    managers = _bulk(managers)
    for m in managers:
        leads.append(org.person(level=4, department=m.department, manager=m, title=f"Lead {TITLES[m.department.name][0]}"))
    leads = _bulk(leads)
    people_dept = departments["People"]
    for m, lead in zip(managers, leads, strict=True):
        for _ in range(rng.randint(3, 6)):
            level = rng.choices([1, 2, 3], weights=[3, 4, 3])[0]
            staff.append(org.person(level=level, department=m.department, manager=rng.choice([m, lead]), title=TITLES[m.department.name][0]))
    # Fixed demo people inside the tree.
    engineering_lead = next(lead for lead in leads if lead.department.name == "Engineering")
    staff.append(org.person(level=2, department=departments["Engineering"], manager=engineering_lead, title="Software Engineer", email=f"mentor@{DEMO_DOMAIN}", first="Kemi", last="Adeyemi"))
    people_manager = next(m for m in managers if m.department_id == people_dept.id)
    staff.append(org.person(level=6, department=people_dept, manager=people_manager.manager, title="Head of Talent Programs", email=f"hr@{DEMO_DOMAIN}", first="Sofia", last="Lindqvist"))
    while org.count < 420:
        m = rng.choice(managers)
        staff.append(org.person(level=rng.choice([1, 2, 3]), department=m.department, manager=m, title=TITLES[m.department.name][0]))
    staff = _bulk(staff)

    everyone = [ceo, *heads, *directors, *senior_managers, *managers, *leads, *staff]
    events = [EmployeeEvent(employee=e, kind=EmployeeEvent.Kind.JOINED, effective_date=e.hire_date) for e in everyone]
    # Promotions: about one in six people moved up a level in the last three years.
    for e in everyone:
        if e.level > 1 and rng.random() < 0.17 and (today - e.hire_date).days > 400:
            when = e.hire_date + datetime.timedelta(days=rng.randint(365, max(366, (today - e.hire_date).days - 1)))
            events.append(EmployeeEvent(employee=e, kind=EmployeeEvent.Kind.LEVEL_CHANGE, effective_date=when, from_level=e.level - 1, to_level=e.level))
    # Leavers: individual contributors only (nobody reports to them), never deleted.
    fixed = {f"mentor@{DEMO_DOMAIN}", f"hr@{DEMO_DOMAIN}"}
    leavers = [e for e in staff if e.email not in fixed and rng.random() < 0.06]
    for e in leavers:
        e.left_date = max(e.hire_date + datetime.timedelta(days=30), today - datetime.timedelta(days=rng.randint(10, 700)))
        events.append(EmployeeEvent(employee=e, kind=EmployeeEvent.Kind.LEFT, effective_date=e.left_date))
    Employee.objects.bulk_update(leavers, ["left_date"])
    EmployeeEvent.objects.bulk_create(events)


def _ensure_login(login: DemoLogin) -> User:
    employee = Employee.objects.get(email=login.email)
    user = employee.user or User.objects.filter(email=login.email).first() or User(email=login.email)
    user.full_name = employee.full_name
    user.is_active = True
    user.set_password(DEMO_PASSWORD)
    user.save()
    if employee.user_id != user.pk:
        employee.user = user
        employee.save(update_fields=["user"])
    EmailAddress.objects.update_or_create(user=user, email=login.email, defaults={"verified": True, "primary": True})
    user_grant_role(user=user, role=Role.PARTICIPANT)
    if login.role != Role.PARTICIPANT:
        user_grant_role(user=user, role=login.role)
    return user


def _demo_snapshots() -> None:
    """A few weeks of metric snapshots so the dashboards have trends to draw."""
    from django.utils import timezone

    from programs.models import MetricSnapshot, Program
    from programs.snapshots import snapshot_save, snapshot_save_run

    if MetricSnapshot.objects.exists():
        return
    today = timezone.localdate()
    for program in Program.objects.filter(status=Program.Status.ACTIVE):
        for weeks_ago in range(8, -1, -1):  # each computed as of its own day: real trends
            snapshot_save(program=program, as_of=today - datetime.timedelta(weeks=weeks_ago))
    # A finished program's trend covers its own run, week by week, as the nightly task would
    # have recorded it.
    for program in Program.objects.filter(status__in=[Program.Status.COMPLETED, Program.Status.ARCHIVED]):
        snapshot_save_run(program=program)
