"""Writes for programs and enrollment. Every function is atomic and raises ProgramError."""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mentoring.mail import send_templated
from mentoring.audit import audit_record
from mentoring.models import AuditEvent, Employee, Role as UserRole

from .models import Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource, ResourceCompletion, Role, Topic

S = Program.Status


class ProgramError(Exception):
    """A refused program or enrollment operation, with a message a person can read."""


# --- Lifecycle ------------------------------------------------------------------------------

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.ENROLLMENT_OPEN, S.ARCHIVED),
    S.ENROLLMENT_OPEN: (S.MATCHING, S.DRAFT),
    S.MATCHING: (S.ACTIVE, S.ENROLLMENT_OPEN),
    S.ACTIVE: (S.COMPLETED,),
    S.COMPLETED: (S.ARCHIVED,),
    S.ARCHIVED: (),
}

TRANSITION_LABELS = {
    (S.DRAFT, S.ENROLLMENT_OPEN): _("Open enrollment"),
    (S.DRAFT, S.ARCHIVED): _("Discard draft"),
    (S.ENROLLMENT_OPEN, S.MATCHING): _("Close enrollment and start matching"),
    (S.ENROLLMENT_OPEN, S.DRAFT): _("Back to draft"),
    (S.MATCHING, S.ACTIVE): _("Start the program"),
    (S.MATCHING, S.ENROLLMENT_OPEN): _("Reopen enrollment"),
    (S.ACTIVE, S.COMPLETED): _("Complete the program"),
    (S.COMPLETED, S.ARCHIVED): _("Archive"),
}


def today() -> datetime.date:
    return timezone.localdate()


def transition_problems(*, program: Program, to: str, on: datetime.date | None = None) -> list[str]:
    """Why `program` cannot move to `to` now (empty when it can)."""
    on = on or today()
    current = program.status
    if to not in S.values:
        return [_("Unknown program status.")]
    if to not in ALLOWED_TRANSITIONS.get(current, ()):
        if current == S.ARCHIVED:
            return [_("This program is archived and read-only.")]
        return [_("A program that is %(current)s cannot become %(to)s.") % {"current": S(current).label.lower(), "to": S(to).label.lower()}]
    problems = []
    if to == S.ENROLLMENT_OPEN and current == S.DRAFT:
        if not program.topics.exists():
            problems.append(_("Choose at least one focus topic first."))
        if program.enrollment_closes_on < on:
            problems.append(_("Enrollment was set to close on %(day)s, which has passed: change the dates first.") % {"day": program.enrollment_closes_on})
    elif to == S.DRAFT:
        if program.enrollments.exclude(status=Enrollment.Status.INVITED).exists():
            problems.append(_("People have already applied: close enrollment instead of going back to draft."))
    elif to == S.MATCHING:
        approved = set(program.enrollments.filter(status=Enrollment.Status.APPROVED).values_list("role", flat=True))
        if Role.MENTOR not in approved or Role.MENTEE not in approved:
            problems.append(_("Approve at least one mentor and one mentee before matching."))
    elif to == S.ACTIVE:
        if on > program.ends_on:
            problems.append(_("The program ended on %(day)s: change the dates first.") % {"day": program.ends_on})
        problems.extend(_start_problems(program))
    elif to == S.COMPLETED:
        if on < program.starts_on:
            problems.append(_("The program has not started yet (it starts on %(day)s).") % {"day": program.starts_on})
    return problems


def _start_problems(program: Program) -> list[str]:
    """Hook for the pairing app: a program starts once its pairs are published."""
    from pairing.services import program_start_problems  # noqa: PLC0415 - pairing depends on programs

    return program_start_problems(program=program)


def available_transitions(program: Program) -> list[tuple[str, str]]:
    return [(to, TRANSITION_LABELS[(program.status, to)]) for to in ALLOWED_TRANSITIONS.get(program.status, ())]


def _require_editable(program: Program) -> None:
    if program.is_archived:
        raise ProgramError(_("This program is archived and read-only."))


def _require_hr(user) -> None:
    if user is None or not user.has_role(UserRole.HR_ADMIN):
        raise ProgramError(_("Only HR admins can do this."))


@transaction.atomic
def program_transition(*, program: Program, to: str, by, note: str = "") -> Program:
    _require_hr(by)
    # Lock the row: two HR admins pressing buttons at once must not both move it.
    program = Program.objects.select_for_update().get(pk=program.pk)
    problems = transition_problems(program=program, to=to)
    if problems:
        raise ProgramError(" ".join(problems))
    previous, previous_closes_on = program.status, program.enrollment_closes_on
    program.status = to
    fields = ["status", "updated_at"]
    if to == S.MATCHING and program.enrollment_closes_on > today():
        # Closing early: the window now says so (never before it opened).
        program.enrollment_closes_on = max(today(), program.enrollment_opens_on)
        fields.append("enrollment_closes_on")
    program.save(update_fields=fields)
    ProgramTransition.objects.create(program=program, from_status=previous, to_status=to, by=by, note=note[:300])
    # The note is HR's free text: it stays on the transition, not in the audit log.
    before, after = {"status": previous}, {"status": to}
    if "enrollment_closes_on" in fields:
        before["enrollment_closes_on"], after["enrollment_closes_on"] = previous_closes_on.isoformat(), program.enrollment_closes_on.isoformat()
    audit_record(action=AuditEvent.Action.PROGRAM_TRANSITIONED, target=program, actor=by, summary=f"{Program.Status(previous).label} → {Program.Status(to).label}", before=before, after=after)
    return program


def _validate(program: Program) -> None:
    try:
        program.full_clean(exclude=["topics", "departments", "slug"] if program.pk is None else ["topics", "departments"])
    except ValidationError as exc:
        raise ProgramError(" ".join(m for msgs in exc.message_dict.values() for m in msgs)) from exc


@transaction.atomic
def program_create(*, by, topics, departments=(), **fields) -> Program:
    _require_hr(by)
    program = Program(created_by=by, status=S.DRAFT, **fields)
    _validate(program)
    if Program.objects.filter(slug=program.slug).exists():
        raise ProgramError(_("Another program already uses the short name %(slug)s.") % {"slug": program.slug})
    program.save()
    program.topics.set(topics)
    program.departments.set(departments)
    ProgramTransition.objects.create(program=program, from_status="", to_status=S.DRAFT, by=by, note=_("Created"))
    return program


# Fields that may not change once people can see or apply to the program.
LOCKED_AFTER_DRAFT = {"mode"}


@transaction.atomic
def program_update(*, program: Program, by, topics=None, departments=None, **fields) -> Program:
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    _require_editable(program)
    if program.status != S.DRAFT:
        changed_locked = [name for name in LOCKED_AFTER_DRAFT if name in fields and fields[name] != getattr(program, name)]
        if changed_locked:
            raise ProgramError(_("The mode cannot change once enrollment has opened."))
    for name, value in fields.items():
        setattr(program, name, value)
    _validate(program)
    program.save()
    if topics is not None:
        program.topics.set(topics)
    if departments is not None:
        program.departments.set(departments)
    return program


@transaction.atomic
def program_clone(*, program: Program, by, name: str, slug: str, enrollment_opens_on: datetime.date) -> Program:
    """A new draft with the same setup; every date moves by the same number of days."""
    _require_hr(by)
    shift = enrollment_opens_on - program.enrollment_opens_on

    def moved(day):
        return day + shift if day else None

    copy_fields = {
        f.name: getattr(program, f.name)
        for f in Program._meta.concrete_fields
        if f.name not in {"id", "name", "slug", "status", "created_by", "created_at", "updated_at"}
    }
    for day_field in ("enrollment_opens_on", "enrollment_closes_on", "starts_on", "ends_on", "midpoint_survey_on", "final_survey_on"):
        copy_fields[day_field] = moved(getattr(program, day_field))
    clone = program_create(by=by, topics=list(program.topics.all()), departments=list(program.departments.all()), name=name, slug=slug, **copy_fields)
    Resource.objects.bulk_create(
        [Resource(program=clone, title=r.title, url=r.url, file=r.file.name if r.file else "", audience=r.audience, order=r.order) for r in program.resources.all()]
    )
    ProgramTransition.objects.filter(program=clone).update(note=_("Cloned from %(name)s") % {"name": program.name})
    return clone


@transaction.atomic
def resource_add(*, program: Program, by, title: str, url: str = "", file=None, audience: str = Resource.Audience.EVERYONE) -> Resource:
    _require_hr(by)
    _require_editable(program)
    resource = Resource(program=program, title=title, url=url, audience=audience, order=program.resources.count())
    if file is not None:
        resource.file = file
    try:
        resource.full_clean()
    except ValidationError as exc:
        raise ProgramError(" ".join(exc.messages)) from exc
    resource.save()
    return resource


@transaction.atomic
def resource_remove(*, resource: Resource, by) -> None:
    _require_hr(by)
    _require_editable(resource.program)
    resource.delete()


# --- Eligibility -----------------------------------------------------------------------------


def eligibility_problems(*, program: Program, employee: Employee, role: str, on: datetime.date | None = None, check_window: bool = True) -> list[str]:
    """Why this person cannot apply for this role now, in words they can act on."""
    on = on or today()
    problems = []
    if program.is_archived:
        return [_("This program is archived.")]
    if not employee.is_current:
        problems.append(_("%(name)s has left the company.") % {"name": employee.full_name})
    if check_window:
        if program.status != S.ENROLLMENT_OPEN:
            problems.append(_("Enrollment for this program is not open (the program is %(status)s).") % {"status": program.get_status_display().lower()})
        elif on < program.enrollment_opens_on:
            problems.append(_("Enrollment opens on %(day)s.") % {"day": program.enrollment_opens_on})
        elif on > program.enrollment_closes_on:
            problems.append(_("Enrollment closed on %(day)s.") % {"day": program.enrollment_closes_on})
    department_ids = {d.pk for d in program.departments.all()}
    if department_ids and employee.department_id not in department_ids:
        names = ", ".join(sorted(d.name for d in program.departments.all()))
        problems.append(_("This program is for %(departments)s only.") % {"departments": names})
    if role == Role.MENTOR and employee.level > program.mentor_max_level:
        problems.append(_("Mentors in this program are at level %(max)s or below; %(name)s is at level %(level)s.") % {"max": program.mentor_max_level, "name": employee.first_name, "level": employee.level})
    if role == Role.MENTEE and employee.level < program.mentee_min_level:
        problems.append(_("Mentees in this program are at level %(min)s or above; %(name)s is at level %(level)s.") % {"min": program.mentee_min_level, "name": employee.first_name, "level": employee.level})
    return problems


def eligible_roles(*, program: Program, employee: Employee, on: datetime.date | None = None) -> list[str]:
    return [role for role in Role.values if not eligibility_problems(program=program, employee=employee, role=role, on=on)]


# --- Mail ------------------------------------------------------------------------------------


def _send(*, to: Employee, template: str, context: dict) -> None:
    send_templated(to=to, template=f"programs/email/{template}", context=context)


def _absolute(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


# --- Invitations ---------------------------------------------------------------------------------


@dataclass
class InviteResult:
    invited: list[Employee] = field(default_factory=list)
    skipped: list[tuple[Employee, str]] = field(default_factory=list)
    unknown_emails: list[str] = field(default_factory=list)


@transaction.atomic
def enrollment_invite(*, program: Program, employees, role: str, by, message: str = "", unknown_emails=()) -> InviteResult:
    """Invite people as mentor or mentee; each gets an email (through the outbox)."""
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    prefetch_related_objects([program], "departments")  # eligibility reads them per person
    _require_editable(program)
    if program.status != S.ENROLLMENT_OPEN:
        raise ProgramError(_("Open enrollment before inviting people."))
    result = InviteResult(unknown_emails=list(unknown_emails))
    employees = list({e.pk: e for e in employees}.values())
    already = set(Enrollment.objects.filter(program=program, employee__in=employees).values_list("employee_id", flat=True))
    now = timezone.now()
    to_create = []
    for employee in employees:
        if employee.pk in already:
            result.skipped.append((employee, _("already in this program")))
            continue
        problems = eligibility_problems(program=program, employee=employee, role=role, check_window=False)
        if problems:
            result.skipped.append((employee, problems[0]))
            continue
        to_create.append(Enrollment(program=program, employee=employee, role=role, status=Enrollment.Status.INVITED, invited_by=by, invited_at=now, time_zone=employee.time_zone))
        result.invited.append(employee)
    Enrollment.objects.bulk_create(to_create)
    apply_url = _absolute("program_apply", program.slug)
    for employee in result.invited:
        _send(to=employee, template="invitation", context={"program": program, "role": Role(role).label.lower(), "message": message, "apply_url": apply_url})
    return result


# --- Applying ---------------------------------------------------------------------------------


@dataclass
class Application:
    """What a person answers on the enrollment form."""

    role: str
    topic_levels: dict[int, int]  # topic id -> 1..5 (mentor: confidence; mentee: current level)
    interests: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    availability: list[str] = field(default_factory=list)
    time_zone: str = "UTC"
    motivation: str = ""
    not_with: list[Employee] = field(default_factory=list)
    # Two-way programs: what a mentee can also teach, or a mentor also wants to learn.
    extra_topic_levels: dict[int, int] = field(default_factory=dict)


OPEN_STATUSES = (Enrollment.Status.APPLIED, Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED)


@transaction.atomic
def enrollment_apply(*, program: Program, employee: Employee, application: Application) -> Enrollment:
    """Create or update this person's application. A double submit yields one enrollment."""
    program = Program.objects.get(pk=program.pk)
    problems = eligibility_problems(program=program, employee=employee, role=application.role)
    if problems:
        raise ProgramError(" ".join(problems))
    topic_ids = set(program.topics.values_list("id", flat=True))
    levels = {int(k): int(v) for k, v in application.topic_levels.items() if v}
    if not levels:
        raise ProgramError(_("Rate at least one topic.") if application.role == Role.MENTEE else _("Choose at least one topic you can teach."))
    if set(levels) - topic_ids or set(application.extra_topic_levels) - topic_ids:
        raise ProgramError(_("Only this program's topics can be chosen."))
    if any(not 1 <= v <= 5 for v in [*levels.values(), *application.extra_topic_levels.values()]):
        raise ProgramError(_("Ratings go from 1 to 5."))
    if any(other.pk == employee.pk for other in application.not_with):
        raise ProgramError(_("You cannot list yourself under 'please not with'."))

    existing = Enrollment.objects.select_for_update().filter(program=program, employee=employee).first()
    if existing is None and not program.self_enrollment:
        raise ProgramError(_("This program is by invitation only."))
    if existing is not None:
        if existing.status == Enrollment.Status.DECLINED:
            raise ProgramError(_("Your application was declined. HR can reopen it if circumstances have changed."))
        if existing.status in (Enrollment.Status.APPROVED, Enrollment.Status.WAITLISTED):
            raise ProgramError(_("HR has already reviewed your application; it can no longer be changed here."))
        if existing.status == Enrollment.Status.INVITED and existing.role != application.role:
            raise ProgramError(_("You were invited as a %(role)s.") % {"role": existing.get_role_display().lower()})
        enrollment = existing
    else:
        enrollment = Enrollment(program=program, employee=employee)

    enrollment.role = application.role
    enrollment.status = Enrollment.Status.APPLIED
    enrollment.interests = _clean_words(application.interests)
    enrollment.languages = _clean_words(application.languages)
    enrollment.availability = sorted(set(application.availability))
    enrollment.time_zone = application.time_zone or employee.time_zone
    enrollment.motivation = application.motivation
    enrollment.applied_at = timezone.now()
    enrollment.withdrawn_at = None
    enrollment.withdrawal_reason = ""
    if enrollment.pk is None:
        try:
            with transaction.atomic():  # a savepoint: the losing double submit lands here
                enrollment.save()
        except IntegrityError as exc:
            raise ProgramError(_("You have already applied to this program.")) from exc
    else:
        enrollment.save()

    enrollment.topic_ratings.all().delete()
    own_kind = EnrollmentTopic.Kind.TEACH if application.role == Role.MENTOR else EnrollmentTopic.Kind.LEARN
    other_kind = EnrollmentTopic.Kind.LEARN if own_kind == EnrollmentTopic.Kind.TEACH else EnrollmentTopic.Kind.TEACH
    ratings = [EnrollmentTopic(enrollment=enrollment, topic_id=t, kind=own_kind, level=v) for t, v in levels.items()]
    if program.mode == Program.Mode.TWO_WAY:
        ratings += [EnrollmentTopic(enrollment=enrollment, topic_id=t, kind=other_kind, level=v) for t, v in application.extra_topic_levels.items() if v]
    EnrollmentTopic.objects.bulk_create(ratings)
    enrollment.not_with.set(application.not_with)
    return enrollment


def _clean_words(words) -> list[str]:
    seen, out = set(), []
    for word in words:
        word = " ".join(str(word).split())[:60]
        if word and word.lower() not in seen:
            seen.add(word.lower())
            out.append(word)
    return out[:20]


@transaction.atomic
def enrollment_withdraw(*, enrollment: Enrollment, by_employee: Employee, reason: str) -> Enrollment:
    """A participant leaves a program at any time; the pairing app ends their pair."""
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    if enrollment.employee_id != by_employee.pk:
        raise ProgramError(_("Only the person enrolled can withdraw."))
    _require_editable(enrollment.program)
    if enrollment.status in (Enrollment.Status.WITHDRAWN, Enrollment.Status.DECLINED):
        raise ProgramError(_("You are no longer in this program."))
    if not reason.strip():
        raise ProgramError(_("Tell us briefly why you are leaving; it helps HR re-match your partner."))
    enrollment.status = Enrollment.Status.WITHDRAWN
    enrollment.withdrawn_at = timezone.now()
    enrollment.withdrawal_reason = reason.strip()[:2000]
    enrollment.save(update_fields=["status", "withdrawn_at", "withdrawal_reason"])
    from pairing.services import pairs_end_for_withdrawal  # noqa: PLC0415

    pairs_end_for_withdrawal(enrollment=enrollment)
    return enrollment


# --- Review -----------------------------------------------------------------------------------

DECISIONS = {
    Enrollment.Status.APPROVED: (Enrollment.Status.APPLIED, Enrollment.Status.WAITLISTED),
    Enrollment.Status.WAITLISTED: (Enrollment.Status.APPLIED, Enrollment.Status.APPROVED),
    Enrollment.Status.DECLINED: (Enrollment.Status.APPLIED, Enrollment.Status.WAITLISTED, Enrollment.Status.APPROVED),
}


@dataclass
class ReviewResult:
    changed: int = 0
    skipped: int = 0
    decided_meanwhile: int = 0  # decided by someone else after the reviewer loaded the queue


@transaction.atomic
def enrollments_decide(*, program: Program, enrollment_ids, decision: str, by, message: str = "", seen_at: datetime.datetime | None = None) -> ReviewResult:
    """Bulk approve / waitlist / decline; each person is told by email.

    `seen_at` is when the reviewer loaded the queue: an application decided after that (by
    another HR admin, a moment earlier) is left as it is and counted in decided_meanwhile,
    so two admins deciding differently at once do not send the person two contradictory emails.
    """
    _require_hr(by)
    program = Program.objects.select_for_update().get(pk=program.pk)
    _require_editable(program)
    if decision not in DECISIONS:
        raise ProgramError(_("Unknown decision."))
    candidates = list(Enrollment.objects.select_for_update().filter(program=program, pk__in=list(enrollment_ids)).select_related("employee"))
    result = ReviewResult()
    now = timezone.now()
    changed = []
    for enrollment in candidates:
        if seen_at is not None and enrollment.decided_at is not None and enrollment.decided_at > seen_at:
            result.decided_meanwhile += 1
            continue
        if enrollment.status not in DECISIONS[decision]:
            result.skipped += 1
            continue
        enrollment.status = decision
        enrollment.decided_by = by
        enrollment.decided_at = now
        enrollment.decision_message = message.strip()[:2000]
        changed.append(enrollment)
    Enrollment.objects.bulk_update(changed, ["status", "decided_by", "decided_at", "decision_message"])
    result.changed = len(changed)
    result.skipped += len(set(map(int, enrollment_ids))) - len(candidates)
    for enrollment in changed:
        _send(
            to=enrollment.employee,
            template=f"decision_{decision}",
            context={"program": program, "enrollment": enrollment, "message": enrollment.decision_message, "home_url": _absolute("participant_home")},
        )
    return result


@transaction.atomic
def enrollment_reopen(*, enrollment: Enrollment, by) -> Enrollment:
    _require_hr(by)
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    _require_editable(enrollment.program)
    if enrollment.status != Enrollment.Status.DECLINED:
        raise ProgramError(_("Only a declined application can be reopened."))
    enrollment.status = Enrollment.Status.APPLIED
    enrollment.decided_by = by
    enrollment.decided_at = timezone.now()
    enrollment.save(update_fields=["status", "decided_by", "decided_at"])
    return enrollment


# --- Resources checklist ----------------------------------------------------------------------


@transaction.atomic
def resource_mark(*, resource: Resource, enrollment: Enrollment, done: bool) -> None:
    _require_editable(resource.program)
    if resource.program_id != enrollment.program_id or not resource.is_for(enrollment.role):
        raise ProgramError(_("This resource is not part of your program."))
    if done:
        ResourceCompletion.objects.get_or_create(resource=resource, enrollment=enrollment)
    else:
        ResourceCompletion.objects.filter(resource=resource, enrollment=enrollment).delete()


# --- Topics -------------------------------------------------------------------------------------


@transaction.atomic
def topic_save(*, by, topic: Topic | None = None, name: str, description: str = "", active: bool = True) -> Topic:
    _require_hr(by)
    name = " ".join(name.split())
    if not name:
        raise ProgramError(_("A topic needs a name."))
    clash = Topic.objects.filter(name__iexact=name)
    if topic is not None:
        clash = clash.exclude(pk=topic.pk)
    if clash.exists():
        raise ProgramError(_("There is already a topic called %(name)s.") % {"name": name})
    topic = topic or Topic()
    topic.name, topic.description, topic.active = name, description, active
    topic.save()
    return topic
