"""Programs and enrollment: the HR console and the participant's side.

Views fetch (scoped), call one service, turn a ProgramError into a form error or a message,
and redirect. HR pages are @hr_required; participant pages are @participant_required and
only ever fetch the signed-in person's own enrollments.
"""

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mentoring.models import Employee, Role as UserRole
from mentoring.roles import hr_required, participant_required
from mentoring.timezones import zone_aliases

from . import selectors, services
from .forms import (
    ApplicationForm,
    AvailabilityForm,
    CloneForm,
    DecisionForm,
    InviteForm,
    ProgramForm,
    ResourceForm,
    ReviewFilterForm,
    TopicForm,
    TransitionForm,
    WithdrawForm,
    employees_by_email,
    not_emails,
)
from .models import REMINDER_KINDS, Enrollment, Program, Resource, ResourceCompletion, Role, Topic
from .services import ProgramError

REVIEW_PAGE_SIZE = 25
ES = Enrollment.Status


# --- Topics -------------------------------------------------------------------------------------


@hr_required
@require_GET
def topic_list(request):
    return render(request, "programs/topic_list.html", {"topics": Topic.objects.order_by("-active", "name")})


@hr_required
def topic_create(request):
    return _topic_form(request, topic=None)


@hr_required
def topic_edit(request, pk: int):
    return _topic_form(request, topic=get_object_or_404(Topic, pk=pk))


def _topic_form(request, *, topic):
    initial = {"name": topic.name, "description": topic.description, "active": topic.active} if topic else None
    form = TopicForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.topic_save(by=request.user, topic=topic, **form.cleaned_data)
        except ProgramError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, _("Topic “%(name)s” saved.") % {"name": saved.name})
            return redirect("topic_list")
    return render(request, "programs/topic_form.html", {"form": form, "topic": topic})


# --- Programs: list, create, edit, clone ---------------------------------------------------------


@hr_required
@require_GET
def program_list(request):
    return render(request, "programs/program_list.html", {"programs": selectors.programs_for_hr()})


def _new_program_initial() -> dict:
    today = timezone.localdate()
    starts = today + datetime.timedelta(days=35)
    return {
        "enrollment_opens_on": today,
        "enrollment_closes_on": today + datetime.timedelta(days=28),
        "starts_on": starts,
        "ends_on": starts + datetime.timedelta(days=182),
        "agreement_template": _(
            "Our goals:\n- \n\nHow often we meet: every two weeks, 45 minutes.\n\n"
            "Confidentiality: what we say stays between us unless we agree otherwise.\n\n"
            "Boundaries: either of us can pause or end the pairing by telling HR, no reason needed."
        ),
    }


@hr_required
def program_create(request):
    form = ProgramForm(request.POST or None, initial=_new_program_initial())
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_create(by=request.user, **form.service_fields())
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Program “%(name)s” created as a draft. Open enrollment when it is ready.") % {"name": program.name})
            _warn_about_level_rules(request, program)
            return redirect("program_detail", pk=program.pk)
    return render(request, "programs/program_form.html", {"form": form, "program": None})


@hr_required
def program_edit(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    if program.is_archived:
        messages.error(request, _("This program is archived and read-only."))
        return redirect("program_detail", pk=pk)
    # The form works on its own copy: a rejected edit must not show up in the page title.
    saved = Program.objects.get(pk=pk)
    form = ProgramForm(request.POST or None, instance=saved, initial=None if request.method == "POST" else {"revision": services.program_revision(saved)})
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_update(program=program, by=request.user, revision=form.cleaned_data["revision"], **form.service_fields())
        except services.ProgramChanged as exc:
            # Someone saved since this page was opened. The person's entries stay in the form,
            # now compared with what is saved, and the form carries the new revision: a second
            # save replaces what is saved, knowingly.
            program = Program.objects.get(pk=pk)
            saved = Program.objects.get(pk=pk)
            data = request.POST.copy()
            data["revision"] = services.program_revision(saved)
            form = ProgramForm(data, instance=saved)
            form.is_valid()
            form.add_error(None, str(exc))
            if differing := form.mark_differences_from_saved():
                form.add_error(None, _("Different from what is saved now: %(fields)s.") % {"fields": ", ".join(differing)})
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Changes saved."))
            _warn_about_level_rules(request, program)
            return redirect("program_detail", pk=pk)
    return render(request, "programs/program_form.html", {"form": form, "program": program})


def _warn_about_level_rules(request, program: Program) -> None:
    for warning in services.level_rule_warnings(program):
        messages.warning(request, warning)


@hr_required
def program_clone(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    # A year later, or today if that has passed too: a copy's dates cannot be in the past.
    initial = {
        "name": _("%(name)s (copy)") % {"name": program.name},
        "slug": f"{program.slug}-copy"[:80],
        "enrollment_opens_on": max(program.enrollment_opens_on + datetime.timedelta(days=365), timezone.localdate()),
    }
    form = CloneForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            cloned = services.program_clone(program=program, by=request.user, **form.cleaned_data)
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            done = _("“%(name)s” created as a draft with every date moved. Check it, then open enrollment.") % {"name": cloned.program.name}
            messages.success(request, " ".join([done, *cloned.changes]))
            return redirect("program_detail", pk=cloned.program.pk)
    return render(request, "programs/program_clone.html", {"form": form, "program": program})


# --- Program detail: timeline, transitions, resources ----------------------------------------------


@hr_required
@require_GET
def program_detail(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    return render(request, "programs/program_detail.html", _detail_context(program, ResourceForm()))


ENDING_STALLED_AFTER = datetime.timedelta(minutes=10)


def _live_pairs(program: Program) -> int:
    return program.pairs.filter(status__in=["active", "paused"]).count()


def _ends_early(program: Program) -> bool:
    """Completing now would end live pairs before the program's planned end."""
    return program.status == Program.Status.ACTIVE and services.site_today() < program.ends_on and _live_pairs(program) > 0


def _early_close(program: Program, invited: int | None = None) -> dict:
    """What closing enrollment now cuts short: the planned last day still to come, and
    invitations nobody has answered yet ({} when neither: nothing to confirm)."""
    if program.status != Program.Status.ENROLLMENT_OPEN:
        return {}
    if invited is None:
        invited = program.enrollments.filter(status=ES.INVITED).count()
    early = services.site_today() < program.enrollment_closes_on
    if not early and not invited:
        return {}
    return {"early": early, "invited": invited}


def _detail_context(program: Program, resource_form: ResourceForm) -> dict:
    transitions = [
        {"to": to, "label": label, "problems": services.transition_problems(program=program, to=to)}
        for to, label in services.available_transitions(program)
    ]
    counts = selectors.enrollment_counts(program=program)
    return {
        "program": program,
        "topics": program.topics.all(),
        "departments": program.departments.all(),
        "count_rows": [(label, counts[value]) for value, label in ES.choices],
        "total": sum(row["total"] for row in counts.values()),
        "transitions": transitions,
        "timeline": program.transitions.select_related("by"),
        "resources": program.resources.all(),
        "resource_form": resource_form,
        "level_warnings": services.level_rule_warnings(program),
        "reminders_off": [label for kind, label in REMINDER_KINDS.items() if not (program.reminders or {}).get(kind, True)],
        "live_pairs": (live := _live_pairs(program) if program.status in (Program.Status.ACTIVE, Program.Status.COMPLETED) else 0),
        # A completed program's pairs should all have ended within minutes.
        "ending_stalled": bool(live) and program.status == Program.Status.COMPLETED and not program.transitions.filter(to_status=Program.Status.COMPLETED, at__gt=timezone.now() - ENDING_STALLED_AFTER).exists(),
        "ends_early": program.status == Program.Status.ACTIVE and services.site_today() < program.ends_on,
        # What completing now would change (the service applies the same).
        "early_end": services.early_end_dates(program) if program.status == Program.Status.ACTIVE else {},
        "early_close": _early_close(program, counts[ES.INVITED]["total"]),
        # What archiving now would close before its planned close (the service refuses it unconfirmed).
        "archive_closes": services.surveys_open_at_archive(program),
    }


@hr_required
@require_POST
def program_transition(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That is not a program status."))
        return redirect("program_detail", pk=pk)
    before = program.get_status_display()
    if form.cleaned_data["to"] == Program.Status.ARCHIVED and not request.POST.get("confirm"):
        # Archiving (or discarding a draft) cannot be undone: the box on the page says so.
        messages.error(request, _("Tick the box to confirm: an archived program is read-only for good."))
        return redirect("program_detail", pk=pk)
    if form.cleaned_data["to"] == Program.Status.COMPLETED and _ends_early(program) and not request.POST.get("confirm"):
        # Completing ends every live pair: before the planned end, that is a decision to confirm.
        messages.error(request, _("Tick the box to confirm: completing the program now ends its live pairs before the planned end on %(day)s.") % {"day": date_format(program.ends_on)})
        return redirect("program_detail", pk=pk)
    if form.cleaned_data["to"] == Program.Status.MATCHING and _early_close(program) and not request.POST.get("confirm"):
        # Closing shuts out whoever was still to apply: before the planned day, or with
        # invitations unanswered, that is a decision to confirm.
        messages.error(request, _("Tick the box to confirm: closing enrollment now stops people applying."))
        return redirect("program_detail", pk=pk)
    try:
        program = services.program_transition(
            program=program, to=form.cleaned_data["to"], by=request.user, note=form.cleaned_data["note"], close_surveys=bool(request.POST.get("close_surveys"))
        )
    except ProgramError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("“%(name)s” moved from %(before)s to %(after)s.") % {"name": program.name, "before": before, "after": program.get_status_display()})
    return redirect("program_detail", pk=pk)


@hr_required
@require_POST
def resource_add(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    form = ResourceForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.resource_add(program=program, by=request.user, title=data["title"], url=data["url"], file=data["file"] or None, audience=data["audience"])
        except ProgramError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Resource “%(title)s” added.") % {"title": data["title"]})
        return redirect(reverse("program_detail", args=[pk]) + "#resources")
    return render(request, "programs/program_detail.html", _detail_context(program, form))


@hr_required
@require_POST
def resource_remove(request, pk: int, resource_pk: int):
    resource = get_object_or_404(Resource.objects.select_related("program"), pk=resource_pk, program_id=pk)
    try:
        services.resource_remove(resource=resource, by=request.user)
    except ProgramError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Resource “%(title)s” removed.") % {"title": resource.title})
    return redirect(reverse("program_detail", args=[pk]) + "#resources")


# --- Invitations ----------------------------------------------------------------------------------


def _people_to_invite(form: InviteForm) -> tuple[list[Employee], list[str]]:
    data = form.cleaned_data
    people: dict[int, Employee] = {}
    if form.uses_directory_filter:
        qs = Employee.objects.current().select_related("department")
        if data.get("department"):
            qs = qs.filter(department=data["department"])
        if data.get("level_min") is not None:
            qs = qs.filter(level__gte=data["level_min"])
        if data.get("level_max") is not None:
            qs = qs.filter(level__lte=data["level_max"])
        people = {e.pk: e for e in qs.order_by("last_name", "first_name", "pk")}
    found, unknown = employees_by_email(data["emails"])
    for employee in found:
        people.setdefault(employee.pk, employee)
    return list(people.values()), unknown


def _invite_preview(program: Program, people: list[Employee], role: str, apply_by=None) -> dict:
    plan = services.invite_plan(program=program, employees=people, role=role, apply_by=apply_by)
    return {"invitable": [e for e, _existing in plan.invitable], "renewed": [e for e, existing in plan.invitable if existing is not None], "skipped": plan.skipped}


@hr_required
def program_invite(request, pk: int):
    program = get_object_or_404(Program.objects.prefetch_related("departments"), pk=pk)
    late = program.status != Program.Status.ENROLLMENT_OPEN
    refusal = services.late_join_problems(program) if late else []
    form = InviteForm(request.POST or None, program=program, late=late)
    preview = None
    unknown = not_addresses = missing = []
    if request.method == "POST" and form.is_valid():
        people, unknown = _people_to_invite(form)
        # A line that is no address at all is a typo to fix, not someone missing from the roster.
        not_addresses = not_emails(unknown)
        missing = [e for e in unknown if e not in not_addresses]
        role = form.cleaned_data["role"]
        if "preview" in request.POST:
            preview = _invite_preview(program, people, role, form.cleaned_data.get("apply_by"))
        else:
            try:
                result = services.enrollment_invite(
                    program=program, employees=people, role=role, by=request.user, message=form.cleaned_data["message"], unknown_emails=unknown,
                    apply_by=form.cleaned_data.get("apply_by"),
                )
            except ProgramError as exc:
                messages.error(request, str(exc))
            else:
                if result.invited:
                    count = len(result.invited)
                    messages.success(request, ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", count) % {"count": count})
                else:
                    messages.warning(request, _("No invitation sent: the page lists why."))
                return render(
                    request,
                    "programs/program_invite_result.html",
                    {"program": program, "result": result, "role": Role(role).label, "unknown": missing, "not_addresses": not_addresses},
                )
    return render(
        request,
        "programs/program_invite.html",
        {
            "program": program, "form": form, "preview": preview, "unknown": missing, "not_addresses": not_addresses,
            "can_invite": not refusal, "refusal": refusal[0] if refusal else "", "late": late,
        },
    )


# --- Review queue ---------------------------------------------------------------------------------


def _review_url(pk: int, query: str) -> str:
    url = reverse("program_review", args=[pk])
    return f"{url}?{query}" if query else url


@hr_required
@require_GET
def program_review(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    filters, chosen, enrollments = _review_enrollments(program, request.GET)
    page = Paginator(enrollments, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.enrollment_counts(program=program)
    return render(
        request,
        "programs/program_review.html",
        {
            "program": program,
            "filters": filters,
            "filtered": any(v not in (None, "") for v in chosen.values()),
            "page": page,
            "counts": counts,
            "status_counts": [(value, label, counts[value]) for value, label in ES.choices],
            "decisions": DecisionForm.DECISIONS,
            # Completed or archived: the queue is a record, with no decision buttons or Reopen.
            "review_closed": services.review_closed_problem(program),
            "query": request.GET.urlencode(),
            "seen_at": timezone.now().isoformat(),
            "today": timezone.localdate(),
        },
    )


@hr_required
@require_POST
def program_review_decide(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, next(iter(form.errors.values()))[0])
    else:
        decision = form.cleaned_data["decision"]
        ids = form.cleaned_data["enrollment"]
        if form.cleaned_data["all_matching"]:
            ids = _all_matching_ids(program, request.GET, seen_at=form.cleaned_data["seen_at"])
        try:
            result = services.enrollments_decide(
                program=program, enrollment_ids=ids, decision=decision, by=request.user, message=form.cleaned_data["message"],
                seen_at=form.cleaned_data["seen_at"],
            )
        except ProgramError as exc:
            messages.error(request, str(exc))
        else:
            label = ES(decision).label.lower()
            if result.changed:
                text = ngettext(
                    "%(count)d application %(decision)s; the person has been told by email.", "%(count)d applications %(decision)s; each person has been told by email.", result.changed
                ) % {"count": result.changed, "decision": label}
            else:
                text = _("No application %(decision)s.") % {"decision": label}
            for reason in _kept_reasons(result, decision):
                text += " " + reason
            if result.decided_meanwhile:
                text += " " + ngettext(
                    "%(count)d was decided by another HR admin while you were reviewing; it keeps their decision: check it again.",
                    "%(count)d were decided by another HR admin while you were reviewing; they keep that decision: check them again.",
                    result.decided_meanwhile,
                ) % {"count": result.decided_meanwhile}
            (messages.success if result.changed else messages.warning)(request, text)
    return redirect(_review_url(pk, request.GET.urlencode()))


def _review_enrollments(program: Program, params) -> tuple[ReviewFilterForm, dict, object]:
    """The review queue's filters from the query string, and the enrollments they select."""
    filters = ReviewFilterForm(params)
    filters.is_valid()  # a bad field (a level of -1, a deleted department) is dropped alone
    chosen = filters.cleaned_data
    department = chosen.get("department")
    enrollments = selectors.enrollments_for_review(
        program=program,
        role=chosen.get("role", ""),
        status=chosen.get("status", ""),
        department_id=department.pk if department else None,
        level=chosen.get("level"),
    )
    return filters, chosen, enrollments


def _all_matching_ids(program: Program, params, *, seen_at) -> list[int]:
    """'All N matching these filters': the ids the reviewer's filters select, as the page
    counted them. An application that came in after the page was loaded is not among them:
    the reviewer has not seen it."""
    _filters, _chosen, enrollments = _review_enrollments(program, params)
    if seen_at is not None:
        enrollments = enrollments.filter(created_at__lte=seen_at).exclude(applied_at__gt=seen_at)
    return list(enrollments.values_list("pk", flat=True))


def _kept_reasons(result: services.ReviewResult, decision: str) -> list[str]:
    """Why each group of selected applications was left as it was, in the reviewer's words."""
    label = ES(decision).label.lower()
    reasons = []
    for status, count in result.kept_by_status.items():
        if status == ES.INVITED:
            text = ngettext("%(count)d left as it was: the person has not applied yet.", "%(count)d left as they were: these people have not applied yet.", count)
        elif status == decision:
            text = ngettext("%(count)d was already %(decision)s.", "%(count)d were already %(decision)s.", count)
        elif status == ES.WITHDRAWN:
            text = ngettext("%(count)d left as it was: the person has withdrawn.", "%(count)d left as they were: these people have withdrawn.", count)
        elif status == ES.DECLINED:
            text = ngettext("%(count)d left as it was: it was declined (reopen it first).", "%(count)d left as they were: they were declined (reopen them first).", count)
        else:
            text = ngettext("%(count)d left as it was: its status does not allow that decision.", "%(count)d left as they were: their status does not allow that decision.", count)
        reasons.append(text % {"count": count, "decision": label})
    if result.leavers:
        names = ", ".join(e.full_name for e in result.leavers)
        reasons.append(
            ngettext("%(names)s has left the company and cannot be %(decision)s.", "%(names)s have left the company and cannot be %(decision)s.", len(result.leavers))
            % {"names": names, "decision": label}
        )
    if result.not_found:
        reasons.append(ngettext("%(count)d is not in this program.", "%(count)d are not in this program.", result.not_found) % {"count": result.not_found})
    if result.paired:
        reasons.append(
            ngettext(
                "%(count)d left as it was: the person is paired (end the pair, or unpair them in the proposal, first).",
                "%(count)d left as they were: these people are paired (end their pairs, or unpair them in the proposal, first).",
                result.paired,
            )
            % {"count": result.paired}
        )
    return reasons


@hr_required
@require_POST
def enrollment_reopen(request, pk: int, enrollment_pk: int):
    enrollment = get_object_or_404(Enrollment.objects.select_related("employee", "program"), pk=enrollment_pk, program_id=pk)
    try:
        services.enrollment_reopen(enrollment=enrollment, by=request.user)
    except ProgramError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s's application is open for review again.") % {"name": enrollment.employee.full_name})
    return redirect(_review_url(pk, request.GET.urlencode()))


# --- Participant side -----------------------------------------------------------------------------


def _employee(request) -> Employee | None:
    return getattr(request.user, "employee", None)


def _no_directory_entry(request):
    return render(request, "programs/no_directory_entry.html", status=404)


def _own_enrollment(employee: Employee, pk: int) -> Enrollment:
    try:
        return selectors.enrollment_for_participant(employee=employee, pk=pk)
    except Enrollment.DoesNotExist as exc:
        raise Http404 from exc


def _blocked(request, program, *, heading, problems=(), problems_by_role=None, enrollment=None):
    return render(
        request,
        "programs/apply_blocked.html",
        {
            "program": program,
            "heading": heading,
            "problems": problems,
            "problems_by_role": problems_by_role or [],
            "enrollment": enrollment,
            "reviewed": enrollment is not None and enrollment.status in (ES.APPROVED, ES.WAITLISTED, ES.DECLINED),
            "paired": enrollment is not None and enrollment.status == ES.APPROVED and selectors.has_live_pair(enrollment),
        },
    )


@participant_required
def program_apply(request, slug: str):
    employee = _employee(request)
    if employee is None:
        return _no_directory_entry(request)
    # Drafts are not public yet: to a participant they do not exist.
    program = get_object_or_404(Program.objects.exclude(status=Program.Status.DRAFT).prefetch_related("topics", "departments"), slug=slug)
    enrollment = Enrollment.objects.filter(program=program, employee=employee).prefetch_related("topic_ratings", "not_with").first()

    if enrollment is not None and enrollment.status in (ES.APPROVED, ES.WAITLISTED, ES.DECLINED):
        return _blocked(request, program, heading=_("Your application has been reviewed"), enrollment=enrollment)
    if not program.self_enrollment and enrollment is None:
        return _blocked(request, program, heading=_("You cannot apply to this program"), problems=[_("This program is by invitation only.")])

    if enrollment is not None and enrollment.status in (ES.INVITED, ES.APPLIED):
        role = enrollment.role  # invited as, or already applied as
    else:
        roles = services.eligible_roles(program=program, employee=employee)
        requested = request.POST.get("role") or request.GET.get("role")
        if requested in roles:
            role = requested
        elif len(roles) == 1:
            role = roles[0]
        elif not roles:
            by_role = {r: services.eligibility_problems(program=program, employee=employee, role=r) for r in Role.values}
            common = [p for p in by_role[Role.MENTOR] if p in by_role[Role.MENTEE]]
            specific = [(Role(r).label, [p for p in ps if p not in common]) for r, ps in by_role.items()]
            return _blocked(request, program, heading=_("You cannot apply to this program"), problems=common, problems_by_role=[s for s in specific if s[1]])
        else:
            return render(request, "programs/apply_role.html", {"program": program, "roles": [(r, Role(r).label) for r in roles]})

    problems = services.eligibility_problems(program=program, employee=employee, role=role, enrollment=enrollment)
    if problems:
        waiting = enrollment is not None and enrollment.status == ES.APPLIED  # in, but no longer editable
        heading = _("Your application is waiting for HR's review") if waiting else _("You cannot apply to this program")
        return _blocked(request, program, heading=heading, problems=problems, enrollment=enrollment)
    late = services.late_window_open(program=program, enrollment=enrollment)

    form = ApplicationForm(
        request.POST or None, program=program, role=role, employee=employee, initial=ApplicationForm.initial_for(employee=employee, enrollment=enrollment)
    )
    editing = enrollment is not None and enrollment.status == ES.APPLIED
    if request.method == "POST" and form.is_valid():
        try:
            services.enrollment_apply(program=program, employee=employee, application=form.application())
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            if editing:
                messages.success(request, _("Your application to %(name)s was updated.") % {"name": program.name})
            elif late:
                messages.success(
                    request,
                    _("Thank you! Your application to %(name)s is in. Once HR approves it, you are included in the next pairing round, and you get an email when you are paired.")
                    % {"name": program.name},
                )
            else:
                messages.success(
                    request,
                    _("Thank you! Your application to %(name)s is in. You get an email once HR has reviewed it; enrollment closes on %(day)s and pairing follows.")
                    % {"name": program.name, "day": date_format(program.enrollment_closes_on)},
                )
            return redirect("participant_home")
    return render(
        request,
        "programs/apply.html",
        {
            "program": program, "form": form, "role": role, "role_label": Role(role).label, "enrollment": enrollment, "editing": editing,
            "invited": enrollment is not None and enrollment.status == ES.INVITED, "zone_aliases": zone_aliases(), "late": late,
        },
    )


@participant_required
def enrollment_withdraw(request, pk: int):
    employee = _employee(request)
    if employee is None:
        return _no_directory_entry(request)
    enrollment = _own_enrollment(employee, pk)
    if request.method == "GET" and enrollment.program.status == Program.Status.COMPLETED:
        messages.info(request, _("This program is complete: there is nothing to leave, and your part in it stays on record."))
        return redirect("participant_home")
    declining = enrollment.status == ES.INVITED
    form = WithdrawForm(request.POST or None, declining=declining)
    if request.method == "POST" and form.is_valid():
        try:
            services.enrollment_withdraw(enrollment=enrollment, by_employee=employee, reason=form.cleaned_data["reason"])
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            if declining:
                messages.success(request, _("You declined the invitation to %(name)s.") % {"name": enrollment.program.name})
            else:
                messages.success(request, _("You have left %(name)s. Thank you for taking part.") % {"name": enrollment.program.name})
            return redirect("participant_home")
    still_in = enrollment.status not in (ES.WITHDRAWN, ES.DECLINED) and not enrollment.program.is_archived
    return render(request, "programs/enrollment_withdraw.html", {"enrollment": enrollment, "program": enrollment.program, "form": form, "still_in": still_in})


def _safe_next(request) -> str:
    """The page the person came from (`next`), if it is one of ours; else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


def _availability_back(enrollment: Enrollment, pair_ids: list[int]) -> str:
    """Without a `next`: the pair page when there is one pair to go back to, else the program's card."""
    if len(pair_ids) == 1:
        return reverse("pair_detail", args=[pair_ids[0]])
    return reverse("participant_home") + f"#enrollment-{enrollment.pk}"


@participant_required
@require_http_methods(["GET", "POST"])
def enrollment_availability(request, pk: int):
    """An approved participant keeps their availability, time zone and languages current; the
    topics, baseline and role stay as HR approved them. Only their own enrollment: 404 otherwise."""
    employee = _employee(request)
    if employee is None:
        return _no_directory_entry(request)
    enrollment = _own_enrollment(employee, pk)
    pair_ids = selectors.live_pair_ids(enrollment)
    back = _safe_next(request) or _availability_back(enrollment, pair_ids)
    if problem := services.availability_update_problem(enrollment):
        messages.info(request, problem)
        return redirect(back)
    form = AvailabilityForm(request.POST or None, employee=employee, initial=AvailabilityForm.initial_from(enrollment))
    if request.method == "POST" and form.is_valid():
        try:
            services.enrollment_availability_update(enrollment=enrollment, by_employee=employee, **form.availability_fields())
        except ProgramError as exc:
            form.add_error(None, str(exc))
        else:
            if pair_ids:
                text = _("Your availability for %(name)s is saved. Meeting times suggested to you and your partner now come from it.")
            else:
                text = _("Your availability for %(name)s is saved. HR's next pairing round uses it.")
            messages.success(request, text % {"name": enrollment.program.name})
            return redirect(back)
    return render(
        request,
        "programs/enrollment_availability.html",
        {"enrollment": enrollment, "program": enrollment.program, "form": form, "next": _safe_next(request), "back": back, "paired": bool(pair_ids), "zone_aliases": zone_aliases()},
    )


@participant_required
@require_POST
def resource_mark(request, pk: int, resource_pk: int):
    employee = _employee(request)
    if employee is None:
        return _no_directory_entry(request)
    enrollment = _own_enrollment(employee, pk)
    resource = get_object_or_404(Resource.objects.select_related("program"), pk=resource_pk, program_id=enrollment.program_id)
    done = request.POST.get("done") == "1"
    error = None
    try:
        services.resource_mark(resource=resource, enrollment=enrollment, done=done)
    except ProgramError as exc:
        error = str(exc)
    if request.headers.get("HX-Request"):
        is_done = ResourceCompletion.objects.filter(resource=resource, enrollment=enrollment).exists()
        return render(request, "programs/_resource_item.html", {"resource": resource, "enrollment": enrollment, "done": is_done, "error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("“%(title)s” marked as done.") % {"title": resource.title} if done else _("“%(title)s” marked as not done.") % {"title": resource.title})
    return redirect(reverse("participant_home") + f"#enrollment-{enrollment.pk}")


@login_required
@require_GET
def resource_download(request, pk: int):
    """An uploaded resource file, for HR and for enrolled people of its audience only.

    Uploads are never served from a public media URL: the roster files live in the same
    storage.
    """
    resource = get_object_or_404(Resource.objects.select_related("program"), pk=pk)
    if not resource.file:
        raise Http404
    if not request.user.has_role(UserRole.HR_ADMIN):
        employee = getattr(request.user, "employee", None)
        enrollment = Enrollment.objects.filter(program=resource.program, employee=employee).exclude(status__in=[Enrollment.Status.DECLINED, Enrollment.Status.WITHDRAWN]).first() if employee else None
        if enrollment is None or not resource.is_for(enrollment.role):
            raise Http404
    return FileResponse(resource.file.open("rb"), as_attachment=True, filename=resource.file.name.rsplit("/", 1)[-1])
