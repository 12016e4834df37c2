"""Reads of programs and enrollment, each scoped to who is asking."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from mentoring.models import Employee

from .models import Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource, ResourceCompletion

ES = Enrollment.Status


def programs_for_hr() -> QuerySet[Program]:
    """Every program with its enrollment counts; drafts discarded unrun come last."""
    discarded = ProgramTransition.objects.filter(program=OuterRef("pk"), from_status=Program.Status.DRAFT, to_status=Program.Status.ARCHIVED)
    return Program.objects.annotate(
        n_invited=Count("enrollments", filter=Q(enrollments__status=ES.INVITED)),
        # Applications waiting for a decision; a completed or archived program takes none
        # (programs.services refuses them), so it has nothing to review.
        n_applied=Count("enrollments", filter=Q(enrollments__status=ES.APPLIED) & ~Q(status__in=(Program.Status.COMPLETED, Program.Status.ARCHIVED))),
        n_approved=Count("enrollments", filter=Q(enrollments__status=ES.APPROVED)),
        n_mentors=Count("enrollments", filter=Q(enrollments__status=ES.APPROVED, enrollments__role="mentor")),
        n_mentees=Count("enrollments", filter=Q(enrollments__status=ES.APPROVED, enrollments__role="mentee")),
        discarded_draft=Exists(discarded),  # a draft archived is archived for good
    ).order_by("discarded_draft", "-starts_on", "name")


def enrollment_counts(*, program: Program) -> dict:
    """{status: {role: n, "total": n}} for the review queue's header."""
    counts = {status: {"mentor": 0, "mentee": 0, "total": 0} for status in ES.values}
    for row in program.enrollments.values("status", "role").annotate(n=Count("id")):
        counts[row["status"]][row["role"]] = row["n"]
        counts[row["status"]]["total"] += row["n"]
    return counts


def enrollments_for_review(*, program: Program, role: str = "", status: str = "", department_id: int | None = None, level: int | None = None) -> QuerySet[Enrollment]:
    qs = (
        program.enrollments.select_related("employee__department", "employee__manager")
        .prefetch_related(Prefetch("topic_ratings", queryset=EnrollmentTopic.objects.select_related("topic").order_by("topic__name")))
        .order_by("status", "role", "employee__last_name", "employee__first_name")
    )
    if role:
        qs = qs.filter(role=role)
    if status:
        qs = qs.filter(status=status)
    if department_id:
        qs = qs.filter(employee__department_id=department_id)
    if level is not None:
        qs = qs.filter(employee__level=level)
    return qs


def enrollments_of(*, employee: Employee) -> QuerySet[Enrollment]:
    """A participant's own enrollments, newest program first, with their resources checklist
    and whether they are in a live pair (`has_live_pair`)."""
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs
    from pairing.selectors import LIVE  # noqa: PLC0415

    live = Pair.objects.filter(Q(mentor_id=OuterRef("pk")) | Q(mentee_id=OuterRef("pk")), status__in=LIVE)
    return (
        Enrollment.objects.filter(employee=employee)
        .exclude(program__status=Program.Status.DRAFT)
        .annotate(has_live_pair=Exists(live))
        .select_related("program")
        .prefetch_related(
            Prefetch("program__resources", queryset=Resource.objects.order_by("order", "id")),
            Prefetch("completed_resources", queryset=ResourceCompletion.objects.only("resource_id", "enrollment_id")),
        )
        .order_by("-program__starts_on")
    )


def has_live_pair(enrollment: Enrollment) -> bool:
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs
    from pairing.selectors import LIVE  # noqa: PLC0415

    return Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status__in=LIVE).exists()


def live_pair_ids(enrollment: Enrollment) -> list[int]:
    """The ids of this enrollment's live pairs (a mentor may have several), oldest first."""
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on programs
    from pairing.selectors import LIVE  # noqa: PLC0415

    return list(Pair.objects.filter(Q(mentor=enrollment) | Q(mentee=enrollment), status__in=LIVE).order_by("created_at", "id").values_list("id", flat=True))


def enrollment_for_participant(*, employee: Employee, pk: int) -> Enrollment:
    """The participant's own enrollment or Enrollment.DoesNotExist (a 404, never someone else's)."""
    return Enrollment.objects.select_related("program").get(pk=pk, employee=employee)


def programs_open_to(*, employee: Employee) -> list[Program]:
    """Programs with self-enrollment open that this person may apply to and has not joined."""
    from .services import eligible_roles

    joined = Enrollment.objects.filter(employee=employee).values("program_id")
    candidates = Program.objects.filter(status=Program.Status.ENROLLMENT_OPEN, self_enrollment=True).exclude(pk__in=joined).prefetch_related("departments")
    return [p for p in candidates if eligible_roles(program=p, employee=employee)]
