"""Demo programs in every state, with a few hundred enrollments and real pairs."""

import datetime
import importlib
import random

from django.db import transaction
from django.utils import timezone

from mentoring.models import Employee, User

from .models import Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource, Topic

INTERESTS = ["climbing", "jazz", "podcasts", "cooking", "running", "board games", "photography", "gaming", "gardening", "volunteering", "travel", "cycling", "film", "reading", "yoga", "chess"]
LANGUAGES = ["English", "French", "German", "Spanish", "Portuguese", "Mandarin"]
SLOTS = [f"{d}-{h:02d}" for d in ("mon", "tue", "wed", "thu", "fri") for h in (8, 10, 12, 14, 16)]


def _d(today, days):
    return today + datetime.timedelta(days=days)


# name, slug, status, enrollment opens (days from today), topics, mentors, mentees
PLANS = [
    ("Digital fluency for leaders", "digital-fluency-2026", Program.Status.ACTIVE, -150, ["AI tools", "Digital collaboration", "Social media", "Data literacy"], 40, 40),
    ("AI tools for leadership", "ai-leadership-2027", Program.Status.ENROLLMENT_OPEN, -10, ["AI tools", "Data literacy", "Personal productivity tools"], 45, 35),
    ("Inclusive leadership", "inclusive-leadership", Program.Status.MATCHING, -40, ["Inclusion and belonging", "Gen Z and millennial expectations", "Wellbeing at work"], 30, 26),
    ("Gen Z expectations pilot", "gen-z-pilot", Program.Status.DRAFT, 20, ["Gen Z and millennial expectations", "Social media"], 0, 0),
    ("Hybrid work 2025", "hybrid-work-2025", Program.Status.COMPLETED, -420, ["Hybrid and remote work", "Digital collaboration"], 20, 18),
    ("Social media for executives 2024", "social-media-2024", Program.Status.ARCHIVED, -800, ["Social media", "Mobile-first customers"], 12, 12),
]
# Approved senior leaders in the running program who joined late and are not paired yet.
LATE_MENTEES = 4
LIFECYCLE = [Program.Status.DRAFT, Program.Status.ENROLLMENT_OPEN, Program.Status.MATCHING, Program.Status.ACTIVE, Program.Status.COMPLETED, Program.Status.ARCHIVED]


@transaction.atomic
def build_demo_programs(*, seed: int, today: datetime.date) -> int:
    """Create the demo programs once; running again leaves them as they are."""
    if Program.objects.filter(slug=PLANS[0][1]).exists():
        return Program.objects.count()
    rng = random.Random(seed + 1)
    hr = User.objects.filter(email="hr@acme.example").first()
    # The catalogue migration 0002 seeds, made again if it was emptied since (a flushed
    # database, a test that truncates tables).
    seeded = importlib.import_module("programs.migrations.0002_seed_topics").TOPICS
    for name, description in seeded:
        Topic.objects.get_or_create(name=name, defaults={"description": description})
    topics = {t.name: t for t in Topic.objects.all()}
    current = list(Employee.objects.current().select_related("department").order_by("id"))
    juniors = [e for e in current if e.level <= 3 and e.email != "mentor@acme.example"]
    seniors = [e for e in current if e.level >= 6 and e.email not in ("mentee@acme.example", "hr@acme.example", "exec@acme.example")]
    demo_mentor = Employee.objects.get(email="mentor@acme.example")
    demo_mentee = Employee.objects.get(email="mentee@acme.example")
    for name, slug, status, opens, topic_names, n_mentors, n_mentees in PLANS:
        program = Program.objects.create(
            name=name,
            slug=slug,
            description=f"{name}: junior colleagues share how they work with {topic_names[0]} and more; senior leaders share context and open doors.",
            objectives="Leaders try one new tool a month\nJuniors gain visibility with senior leadership\nTeams hear what younger colleagues expect",
            status=status,
            enrollment_opens_on=_d(today, opens),
            enrollment_closes_on=_d(today, opens + 21),
            starts_on=_d(today, opens + 28),
            ends_on=_d(today, opens + 28 + 180),
            midpoint_survey_on=_d(today, opens + 28 + 90),
            final_survey_on=_d(today, opens + 28 + 175),
            mentor_max_level=3,
            mentee_min_level=6,
            min_level_gap=3,
            self_enrollment=status == Program.Status.ENROLLMENT_OPEN,
            agreement_template="We meet every two weeks for 45 minutes.\nWhat we say stays between us unless we agree otherwise.\nEither of us can pause or end the pairing at any time.",
            created_by=hr,
        )
        program.topics.set([topics[t] for t in topic_names])
        Resource.objects.bulk_create(
            [
                Resource(program=program, title="Reverse mentoring: a guide for both sides", url="https://www.example.com/reverse-mentoring-guide", order=0),
                Resource(program=program, title="How to give candid feedback upwards", url="https://www.example.com/feedback-upwards", audience=Resource.Audience.MENTORS, order=1),
                Resource(program=program, title="Listening like a learner", url="https://www.example.com/listening", audience=Resource.Audience.MENTEES, order=2),
            ]
        )
        _timeline(program, status, hr, today)
        # Only people already with the organisation when enrollment opened: a 2024 program
        # with participants hired in 2026 reads on the dashboards as people who "joined the
        # organisation after the program began".
        with_us = [e for e in juniors if e.hire_date is None or e.hire_date <= program.enrollment_opens_on]
        mentors = rng.sample(with_us, min(n_mentors, len(with_us)))
        with_us = [e for e in seniors if e.hire_date is None or e.hire_date <= program.enrollment_opens_on]
        mentees = rng.sample(with_us, min(n_mentees, len(with_us)))
        if slug == PLANS[0][1]:
            mentors = [demo_mentor, *[m for m in mentors if m != demo_mentor][: n_mentors - 1]]
            mentees = [demo_mentee, *[m for m in mentees if m != demo_mentee][: n_mentees - 1]]
        _enroll(program, mentors, "mentor", rng, hr)
        _enroll(program, mentees, "mentee", rng, hr)
        if status in (Program.Status.ACTIVE, Program.Status.COMPLETED, Program.Status.ARCHIVED):
            _pair(program, hr, today, pin=(demo_mentor, demo_mentee) if slug == PLANS[0][1] else None)
    return Program.objects.count()


def _timeline(program, status, hr, today):
    steps = LIFECYCLE[: LIFECYCLE.index(status) + 1]
    offsets = {Program.Status.DRAFT: -14, Program.Status.ENROLLMENT_OPEN: 0, Program.Status.MATCHING: 21, Program.Status.ACTIVE: 27, Program.Status.COMPLETED: 210, Program.Status.ARCHIVED: 240}
    previous = ""
    for step in steps:
        at = datetime.datetime.combine(program.enrollment_opens_on + datetime.timedelta(days=offsets[step]), datetime.time(9), tzinfo=datetime.UTC)
        ProgramTransition.objects.create(program=program, from_status=previous, to_status=step, by=hr, at=min(at, timezone.now()), note="Created" if step == Program.Status.DRAFT else "")
        previous = step


def _enroll(program, people, role, rng, hr):
    if not people:
        return
    open_program = program.status == Program.Status.ENROLLMENT_OPEN
    statuses = []
    for i, _person in enumerate(people):
        if not open_program:
            statuses.append(Enrollment.Status.APPROVED if i < len(people) - 2 else rng.choice([Enrollment.Status.DECLINED, Enrollment.Status.WITHDRAWN]))
        else:
            statuses.append(rng.choices([Enrollment.Status.INVITED, Enrollment.Status.APPLIED, Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED], weights=[2, 5, 2, 1])[0])
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                program=program,
                employee=person,
                role=role,
                status=status,
                interests=rng.sample(INTERESTS, 3),
                languages=["English", *rng.sample(LANGUAGES[1:], rng.choice([0, 0, 1]))],
                availability=rng.sample(SLOTS, rng.randint(3, 8)),
                time_zone=person.time_zone,
                motivation="I want to learn how the other side of the organisation works." if role == "mentor" else "I want to keep up with how my teams actually work.",
                invited_by=hr,
                withdrawal_reason="Workload" if status == Enrollment.Status.WITHDRAWN else "",
                decided_by=hr if status in (Enrollment.Status.APPROVED, Enrollment.Status.DECLINED, Enrollment.Status.WAITLISTED) else None,
                **_enrollment_dates(program, i, status, late=role == "mentee" and len(people) - 2 - LATE_MENTEES <= i < len(people) - 2),
            )
            for i, (person, status) in enumerate(zip(people, statuses, strict=True))
        ]
    )
    topic_list = list(program.topics.all())
    kind = EnrollmentTopic.Kind.TEACH if role == "mentor" else EnrollmentTopic.Kind.LEARN
    EnrollmentTopic.objects.bulk_create(
        [
            EnrollmentTopic(enrollment=e, topic=t, kind=kind, level=rng.randint(3, 5) if role == "mentor" else rng.randint(1, 3))
            for e in enrollments
            if e.status != Enrollment.Status.INVITED
            for t in rng.sample(topic_list, rng.randint(1, len(topic_list)))
        ]
    )


def _enrollment_dates(program, i: int, status: str, late: bool = False) -> dict:
    """When the i-th person was invited, applied, was decided on and withdrew: inside the
    enrollment window, never in the future, so that snapshots of past days count only the
    people who were there. Spread by position (not drawn from the seeded generator, so that
    the rest of the demo stays what it was). In a running program a few senior leaders
    joined late: approved four or five weeks ago, they wait for the next re-match."""
    S = Enrollment.Status
    now = timezone.now()

    def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
        return min(now, datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC))

    opens, closes = program.enrollment_opens_on, program.enrollment_closes_on
    if late and program.status == Program.Status.ACTIVE:
        opens = closes = timezone.localdate(now) - datetime.timedelta(weeks=6)
    invited = at(opens + datetime.timedelta(days=i % 5), 9)
    applied = at(opens + datetime.timedelta(days=i % 5 + 1 + i % 7))
    decided = at(closes + datetime.timedelta(days=1 + i % 3) if not late else applied.date() + datetime.timedelta(days=2), 15)
    return {
        "created_at": invited,
        "invited_at": invited,
        "applied_at": None if status == S.INVITED else applied,
        "decided_at": decided if status in (S.APPROVED, S.DECLINED, S.WAITLISTED) else None,
        # The demo's leavers withdrew a few days after applying, before any decision.
        "withdrawn_at": applied + datetime.timedelta(days=3) if status == S.WITHDRAWN else None,
    }


def _pair(program, hr, today, pin=None):
    """Pair with the real engine and publish without mailing anyone (demo data)."""
    from pairing import engine
    from pairing.models import MatchRun, Pair
    from pairing.services import build_input, proposal_stats

    inputs, by_employee = build_input(program=program)
    # People approved after the start joined late: they wait for the next re-match.
    started_by_then = [m for m in inputs.mentees if by_employee[m.id].decided_at is None or timezone.localdate(by_employee[m.id].decided_at) <= program.starts_on]
    if pin is not None or len(started_by_then) < len(inputs.mentees):
        inputs = engine.PairingInput(mentors=inputs.mentors, mentees=started_by_then, policy=inputs.policy, pins=[(pin[0].pk, pin[1].pk)] if pin is not None else [])
    result = engine.propose_pairs(inputs)
    started = datetime.datetime.combine(program.starts_on, datetime.time(9), tzinfo=datetime.UTC)
    run = MatchRun.objects.create(
        program=program, status=MatchRun.Status.PUBLISHED, started_by=hr, created_at=started, started_at=started, finished_at=started,
        progress=100, inputs=inputs.to_dict(), result=result.to_dict(), stats=proposal_stats(scores=[p.score for p in result.pairs], n_mentors=len(inputs.mentors), n_mentees=len(inputs.mentees)),
        published_by=hr, published_at=started, announced_at=started,  # demo data: nobody is mailed
    )
    live = program.status == Program.Status.ACTIVE
    Pair.objects.bulk_create(
        [
            Pair(
                program=program, mentor=by_employee[p.mentor_id], mentee=by_employee[p.mentee_id], match_run=run,
                status=Pair.Status.ACTIVE if live else Pair.Status.ENDED, score=p.score, breakdown=p.breakdown.to_dict(),
                reasons=engine.explain(p.breakdown), created_by=hr, started_at=started,
                ended_at=None if live else datetime.datetime.combine(program.ends_on, datetime.time(17), tzinfo=datetime.UTC),
                end_reason="" if live else Pair.EndReason.COMPLETED,
            )
            for p in result.pairs
        ]
    )
