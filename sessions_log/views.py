"""Pairs at work: the pages where a mentor and a mentee meet, log, rate and reflect.

Every pair URL goes through `pair_view`: the pair is fetched from the signed-in person's own
pairs *before anything else*, so a stranger (HR included) gets the same 404 for every URL and
method and learns nothing. Each view then calls one service and turns a SessionError into a
form error or a message.
"""

import datetime
import functools

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mentoring.roles import participant_required
from pairing.models import Pair
from programs.models import Enrollment

from . import ics, selectors, services
from .forms import (
    COMMENT_MAX,
    ActionForm,
    AgreementForm,
    CancelForm,
    ConcernForm,
    FeedbackForm,
    GoalProgressForm,
    MeetingDetailsForm,
    InsightForm,
    MeetingForm,
    PairCloseForm,
    PrivateNoteForm,
    PulseForm,
    ReflectionForm,
    RescheduleForm,
    SessionLogForm,
    SlotForm,
    SurveyForm,
    goal_formset,
    local_datetime,
)
from .models import ActionItem, Agreement, AgreementGoal, CalendarFeed, Concern, Feedback, Insight, Meeting, SafetyPulse, SessionLog, SurveyResponse
from .services import SessionError

GET_POST = require_http_methods(["GET", "POST"])


def pair_view(view):
    """Participant only; the pair in the URL must be one of the person's own, else 404."""

    @functools.wraps(view)
    @participant_required
    def wrapped(request, pk: int, **kwargs):
        me = getattr(request.user, "employee", None)
        try:
            pair = selectors.pair_for(employee=me, pk=pk)
        except Pair.DoesNotExist:
            raise Http404 from None
        return view(request, pair=pair, me=me, **kwargs)

    return wrapped


def posted_from_pair_page(anchor):
    """For the small forms of the pair page, which post here: a GET (the address bar after a
    form came back with an error, the sign-in page's "next" once a session had expired) goes
    back to that part of the pair page rather than to a bare 405 page. `anchor` is the
    part's id, or a function of (pair, URL kwargs) that looks the object up (404 when it is
    not this pair's) and names its id."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, pair, me, **kwargs):
            if request.method == "GET":
                return redirect(_pair_url(pair, anchor(pair, kwargs) if callable(anchor) else anchor))
            return view(request, pair=pair, me=me, **kwargs)

        return GET_POST(wrapped)

    return decorate


def _found(lookup, **kwargs):
    try:
        return lookup(**kwargs)
    except (Meeting.DoesNotExist, SessionLog.DoesNotExist, AgreementGoal.DoesNotExist, ActionItem.DoesNotExist, Insight.DoesNotExist, Enrollment.DoesNotExist):
        raise Http404 from None


def _pair_url(pair: Pair, anchor: str = "") -> str:
    return reverse("pair_detail", args=[pair.pk]) + (f"#{anchor}" if anchor else "")


def _read_only(request, pair: Pair):
    """A write page opened on an ended pair (or archived program): back to the record."""
    if pair.is_live and not pair.program.is_archived:
        return None
    messages.info(request, _("This pair has ended; its record can be read but not changed.") if not pair.is_live else _("This program is archived and read-only."))
    return redirect(_pair_url(pair))


def _context(pair: Pair, me, **extra) -> dict:
    side = services.side_of(pair, me)
    return {"pair": pair, "side": side, "partner": services.partner_of(pair, me), **extra}


# --- The pair page --------------------------------------------------------------------------------------------


def _focus_first_error(form) -> None:
    """The page comes back scrolled to the top: the first field in error takes the focus, so
    the browser brings the panel, its message and what was typed into view."""
    for name in form.errors:
        if name in form.fields:
            form.fields[name].widget.attrs["autofocus"] = True
            return


def _pair_page(request, pair, me, **bound):
    """The pair page. A small form on it that was refused comes back bound (what was typed
    kept, its panel open, its error next to it) rather than a redirect that loses it."""
    page = selectors.pair_page(pair=pair, me=me)
    context = {"page": page, "pair": pair, "side": page.side, "partner": page.partner}
    if page.side == "mentor":
        # Where their own concerns stand with HR: theirs alone (the mentee never sees this).
        context["my_concerns"] = list(Concern.objects.filter(pair=pair, raised_by=me).order_by("-created_at").only("status", "created_at"))
    if page.editable:
        if page.side == "mentor":
            context["insight_form"] = InsightForm(program=pair.program)
        else:
            context["action_form"] = ActionForm(pair=pair)
    elif pair.status == Pair.Status.ENDED and page.my_reflection is None:
        context["reflection_form"] = ReflectionForm()
    for value in bound.values():
        if hasattr(value, "errors"):
            _focus_first_error(value)
    context.update(bound)
    return render(request, "sessions_log/pair_detail.html", context)


@pair_view
@require_GET
def pair_detail(request, pair, me):
    return _pair_page(request, pair, me)


# --- Agreement ---------------------------------------------------------------------------------------------------


@pair_view
@GET_POST
def agreement_edit(request, pair, me):
    editable = pair.is_live and not pair.program.is_archived
    # A live pair's agreement is created from the program's template on first visit; an
    # ended pair's is only ever read.
    agreement = services.agreement_for(pair) if editable else Agreement.objects.filter(pair=pair).first()
    if agreement is None:
        return _read_only(request, pair)
    goals = list(agreement.goals.all())
    if request.method == "POST":
        form, formset = AgreementForm(request.POST), goal_formset(request.POST, goals=goals)
        if form.is_valid() and formset.is_valid():
            try:
                services.agreement_save(pair=pair, me=me, goals=[g for f in formset for g in [f.goal()] if g], **form.cleaned_data)
            except services.AgreementChanged as exc:
                # The partner's version above, the person's own text kept in the form, which now
                # carries the new revision: a second save replaces theirs knowingly.
                agreement = Agreement.objects.get(pk=agreement.pk)
                data = request.POST.copy()
                data["revision"] = services.agreement_revision(agreement)
                form = AgreementForm(data)
                form.is_valid()
                form.add_error(None, str(exc))
            except SessionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Agreement saved. Your partner is asked to read and acknowledge it."))
                return redirect(_pair_url(pair, "agreement"))
    else:
        form = AgreementForm(
            initial={
                "meeting_frequency": agreement.meeting_frequency, "boundaries": agreement.boundaries, "confidentiality": agreement.confidentiality,
                "revision": services.agreement_revision(agreement),
            }
        )
        formset = goal_formset(goals=goals)
    side = services.side_of(pair, me)
    context = _context(
        pair, me, agreement=agreement, form=form, formset=formset, editable=editable, i_acknowledged=getattr(agreement, f"{side}_acknowledged_version") == agreement.version
    )
    return render(request, "sessions_log/agreement_form.html", context)


@pair_view
@posted_from_pair_page("agreement")
def agreement_acknowledge(request, pair, me):
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        services.agreement_acknowledge(pair=pair, me=me, version=version)
    except SessionError as exc:
        messages.error(request, str(exc))
        return redirect("agreement_edit", pk=pair.pk)
    messages.success(request, _("Thank you: you have acknowledged the agreement."))
    return redirect(_pair_url(pair, "agreement"))


@pair_view
@posted_from_pair_page(lambda pair, kw: f"goal-{_found(selectors.goal_of, pair=pair, pk=kw['goal_id']).pk}")
def goal_progress(request, pair, me, goal_id: int):
    goal = _found(selectors.goal_of, pair=pair, pk=goal_id)
    if blocked := _read_only(request, pair):
        return blocked
    form = GoalProgressForm(request.POST)
    if form.is_valid():
        try:
            services.goal_update_progress(goal=goal, me=me, **form.cleaned_data)
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Progress on “%(goal)s” updated.") % {"goal": goal.title})
            return redirect(_pair_url(pair, "agreement"))
    return _pair_page(request, pair, me, goal_form=form, goal_form_goal_id=goal.pk)


# --- Meetings ------------------------------------------------------------------------------------------------------


def _suggested_initial(request, pair) -> dict:
    """`?at=<ISO time>` from a suggested-time link prefills the form in the person's zone."""
    at = request.GET.get("at", "")
    try:
        when = datetime.datetime.fromisoformat(at)
    except ValueError:
        return {}
    if timezone.is_naive(when):
        return {}
    local = timezone.localtime(when)
    return {"day": local.date(), "time": local.time().replace(second=0, microsecond=0)}


def _slot_of(pair, me, form) -> services.SlotTimes | None:
    """The chosen (or prefilled) time as both people live it, for the partner's-time hint."""
    if form.is_bound:
        starts_at = form.cleaned_data.get("starts_at") if hasattr(form, "cleaned_data") else None
    else:
        day, time = form.initial.get("day"), form.initial.get("time")
        starts_at = None
        if day and time:
            try:
                starts_at = local_datetime(day, time)
            except ValidationError:
                starts_at = None
    return services.slot_times(pair=pair, me=me, starts_at=starts_at) if starts_at else None


def _slot_hint(request, pair, me):
    """htmx asks, as the day or time changes: what time is that for my partner?"""
    form = SlotForm(request.GET)
    form.is_valid()
    return render(request, "sessions_log/_slot_hint.html", {"slot": _slot_of(pair, me, form), "partner": services.partner_of(pair, me)})


def _odd_hours_warning(request, slot: services.SlotTimes | None) -> None:
    """Booked anyway (pairs across the world do agree on early calls), but said plainly."""
    if slot is None:
        return
    if slot.odd_for_partner:
        messages.warning(
            request,
            _("That is %(when)s for %(name)s, outside usual waking hours: check it suits them.") % {"when": date_format(slot.partners, "l H:i"), "name": slot.partner.first_name},
        )
    if slot.odd_for_me:
        messages.warning(request, _("That is %(when)s for you, outside usual waking hours.") % {"when": date_format(slot.mine, "l H:i")})


def _hint_requested(request) -> bool:
    return request.method == "GET" and request.GET.get("hint") == "1" and request.headers.get("HX-Request") == "true"


@pair_view
@GET_POST
def meeting_schedule(request, pair, me):
    if request.method == "GET" and (blocked := _read_only(request, pair)):
        return blocked
    if _hint_requested(request):
        return _slot_hint(request, pair, me)
    if request.method == "POST":
        form = MeetingForm(request.POST, program=pair.program)
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting = services.meeting_schedule(
                    pair=pair, me=me, starts_at=data["starts_at"], duration_minutes=data["duration_minutes"],
                    location=data["location"], video_url=data["video_url"], agenda=data["agenda"], topics=data["topics"],
                )
            except SessionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Meeting booked. You and your partner each get a calendar invite by email."))
                _odd_hours_warning(request, _slot_of(pair, me, form))
                return redirect(_pair_url(pair, f"meeting-{meeting.pk}"))
    else:
        form = MeetingForm(initial={"duration_minutes": pair.program.meeting_minutes, **_suggested_initial(request, pair)}, program=pair.program)
    suggestions = services.suggested_times(pair=pair)
    context = _context(pair, me, form=form, suggestions=suggestions, slot=_slot_of(pair, me, form), availability_url=_availability_url(pair, me))
    return render(request, "sessions_log/meeting_form.html", context)


def _availability_url(pair: Pair, me) -> str:
    """Where I update the availability the suggestions come from, and come back here; "" when
    my program no longer takes changes."""
    mine = pair.mentor if services.side_of(pair, me) == "mentor" else pair.mentee
    if not mine.availability_editable:
        return ""
    return reverse("enrollment_availability", args=[mine.pk]) + "?" + urlencode({"next": reverse("meeting_schedule", args=[pair.pk])})


@pair_view
@GET_POST
def meeting_reschedule(request, pair, me, meeting_id: int):
    meeting = _found(selectors.meeting_of, pair=pair, pk=meeting_id)
    if request.method == "GET" and not _hint_requested(request) and (blocked := _read_only(request, pair) or _meeting_past_changing(request, pair, meeting, cancelled_too=False)):
        return blocked
    if _hint_requested(request) and meeting.status == Meeting.Status.SCHEDULED:
        return _slot_hint(request, pair, me)
    if request.method == "POST":
        form = RescheduleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.meeting_reschedule(
                    meeting=meeting, me=me, starts_at=data["starts_at"], reason=data["reason"], duration_minutes=data["duration_minutes"], seen_sequence=data.get("sequence")
                )
            except SessionError as exc:
                form.add_error(None, str(exc))
                # Shown again as the meeting is now (the partner may have just moved it), so a
                # second try is made on the current version.
                meeting = _found(selectors.meeting_of, pair=pair, pk=meeting.pk)
                form.data = form.data.copy()
                form.data["sequence"] = meeting.sequence
            else:
                messages.success(request, _("Meeting moved. You and your partner each get an updated invite."))
                _odd_hours_warning(request, _slot_of(pair, me, form))
                return redirect(_pair_url(pair, f"meeting-{meeting.pk}"))
    else:
        local = timezone.localtime(meeting.starts_at)
        form = RescheduleForm(initial={"day": local.date(), "time": local.time(), "duration_minutes": meeting.duration_minutes, "sequence": meeting.sequence})
    return render(request, "sessions_log/meeting_reschedule.html", _context(pair, me, meeting=meeting, form=form, slot=_slot_of(pair, me, form)))


def _meeting_past_changing(request, pair, meeting, *, cancelled_too: bool = True):
    """A move or cancel page opened for a meeting that can no longer change: said before the
    form is filled in, not after. (The move page has its own words for a cancelled one.)"""
    if meeting.status == Meeting.Status.CANCELLED:
        if not cancelled_too:
            return None
        messages.info(request, _("This meeting is already cancelled."))
    elif meeting.starts_at <= timezone.now():
        messages.info(request, _("This meeting has already started; log it instead, or leave it unlogged."))
    else:
        return None
    return redirect(_pair_url(pair, "meetings"))


@pair_view
@GET_POST
def meeting_cancel(request, pair, me, meeting_id: int):
    meeting = _found(selectors.meeting_of, pair=pair, pk=meeting_id)
    if request.method == "GET" and (blocked := _read_only(request, pair) or _meeting_past_changing(request, pair, meeting)):
        return blocked
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_cancel(meeting=meeting, me=me, reason=form.cleaned_data["reason"])
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Meeting cancelled. Your partner is told by email and their calendar is updated."))
            return redirect(_pair_url(pair, "meetings"))
    return render(request, "sessions_log/meeting_cancel.html", _context(pair, me, meeting=meeting, form=form))


@pair_view
@GET_POST
def meeting_details(request, pair, me, meeting_id: int):
    meeting = _found(selectors.meeting_of, pair=pair, pk=meeting_id)
    if request.method == "GET" and (blocked := _read_only(request, pair)):
        return blocked
    form = MeetingDetailsForm(
        request.POST or None, program=pair.program,
        initial={"location": meeting.location, "video_url": meeting.video_url, "agenda": meeting.agenda, "topics": list(meeting.topics.all())},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.meeting_update_details(meeting=meeting, me=me, location=data["location"], video_url=data["video_url"], agenda=data["agenda"], topics=list(data["topics"]))
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Meeting updated. You and your partner each get the updated invite."))
            return redirect(_pair_url(pair, f"meeting-{meeting.pk}"))
    return render(request, "sessions_log/meeting_details.html", _context(pair, me, meeting=meeting, form=form))


@pair_view
@require_GET
def meeting_ics(request, pair, me, meeting_id: int):
    """One meeting to add to a calendar by hand (the invites come by email; the feed is on
    /me/calendar/)."""
    meeting = _found(selectors.meeting_of, pair=pair, pk=meeting_id)
    response = HttpResponse(ics.download(meeting), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="meeting-{meeting.starts_at:%Y-%m-%d}.ics"'
    return response


# --- Session logs -----------------------------------------------------------------------------------------------------


def _after_log(pair, side, log) -> str:
    """Straight from the log to the mentor's safety pulse, or to feedback."""
    if side == "mentor":
        return reverse("pulse_submit", args=[pair.pk, log.pk])
    return reverse("feedback_submit", args=[pair.pk, log.pk])


@pair_view
@GET_POST
def session_log_create(request, pair, me):
    meeting = None
    meeting_id = request.GET.get("meeting") or request.POST.get("meeting")
    if meeting_id:
        if not str(meeting_id).isdigit():
            raise Http404
        meeting = _found(selectors.meeting_of, pair=pair, pk=int(meeting_id))
    if request.method == "GET" and (blocked := _read_only(request, pair)):
        return blocked
    side = services.side_of(pair, me)
    if request.method == "GET" and meeting is not None:
        if meeting.status != Meeting.Status.CANCELLED and meeting.starts_at > timezone.now():
            messages.info(request, services.meeting_not_yet(meeting))
            return redirect(_pair_url(pair))
        # Said before the form is filled in, not after: this meeting has its log already.
        existing = SessionLog.objects.filter(meeting=meeting).select_related("author").first()
        if existing is not None or meeting.status == Meeting.Status.CANCELLED:
            editable = existing is not None and existing.author_id == me.pk and timezone.now() - existing.created_at <= services.LOG_EDIT_WINDOW
            return render(
                request,
                "sessions_log/session_log_form.html",
                _context(pair, me, form=None, meeting=meeting, log=None, existing_log=existing, existing_log_editable=editable, meeting_cancelled=existing is None),
            )
    if request.method == "POST":
        form = SessionLogForm(request.POST, program=pair.program, with_actions=side == "mentee")
        if form.is_valid():
            first = SessionLog.objects.filter(meeting=meeting).exclude(author=me).select_related("author").first() if meeting else None
            if first is not None:
                # The partner saved theirs while this form was open: keep what was written here.
                try:
                    added = services.session_log_join(log=first, me=me, data=form.log_input())
                except SessionError as exc:
                    form.add_error(None, str(exc))
                else:
                    name = first.author.first_name if first.author else _("Your partner")
                    text = _("%(name)s logged this meeting first. What you wrote is kept in your private note on that log (only you can read it: share what you like with %(name)s).") % {"name": name}
                    if added:
                        text += " " + ngettext("%(count)d action of yours is added to it.", "%(count)d actions of yours are added to it.", added) % {"count": added}
                    messages.success(request, text)
                    return redirect(_pair_url(pair, f"log-{first.pk}"))
            else:
                try:
                    log = services.session_log_create(pair=pair, me=me, data=form.log_input(), meeting=meeting)
                except SessionError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, _("Session logged. Thank you!"))
                    return redirect(_after_log(pair, side, log))
    else:
        initial = {"held_on": timezone.localdate(), "minutes": pair.program.meeting_minutes}
        if meeting is not None:
            initial.update(held_on=timezone.localtime(meeting.starts_at).date(), minutes=meeting.duration_minutes, topics=list(meeting.topics.all()))
        form = SessionLogForm(initial=initial, program=pair.program, with_actions=side == "mentee")
    return render(request, "sessions_log/session_log_form.html", _context(pair, me, form=form, meeting=meeting, log=None))


@pair_view
@GET_POST
def session_log_edit(request, pair, me, log_id: int):
    log = _found(selectors.log_of, pair=pair, pk=log_id)
    if request.method == "GET":
        if blocked := _read_only(request, pair):
            return blocked
        if log.author_id != me.pk:
            messages.info(request, _("Only the person who wrote this log can edit it; you can keep your own private note on it."))
            return redirect("private_note_edit", pk=pair.pk, log_id=log.pk)
        if timezone.now() - log.created_at > services.LOG_EDIT_WINDOW:
            messages.info(request, _("Logs can be edited for a week after they are written; you can still keep your own private note on it."))
            return redirect("private_note_edit", pk=pair.pk, log_id=log.pk)
    if request.method == "POST":
        form = SessionLogForm(request.POST, program=pair.program, log=log)
        if form.is_valid():
            try:
                services.session_log_update(log=log, me=me, data=form.log_input())
            except SessionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Log updated."))
                return redirect(_pair_url(pair, f"log-{log.pk}"))
    else:
        form = SessionLogForm(
            initial={
                "held_on": log.held_on, "minutes": log.minutes, "topics": list(log.topics.all()), "mentor_learned": log.mentor_learned,
                "mentee_learned": log.mentee_learned, "shared_notes": log.shared_notes, "private_note": selectors.my_private_note(log=log, me=me),
            },
            program=pair.program,
        )
    return render(request, "sessions_log/session_log_form.html", _context(pair, me, form=form, meeting=log.meeting, log=log))


@pair_view
@GET_POST
def private_note_edit(request, pair, me, log_id: int):
    log = _found(selectors.log_of, pair=pair, pk=log_id)
    form = PrivateNoteForm(request.POST or None, initial={"text": selectors.my_private_note(log=log, me=me)})
    if request.method == "POST" and form.is_valid():
        try:
            services.private_note_save(log=log, me=me, text=form.cleaned_data["text"])
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your private note is saved. Only you can read it."))
            return redirect(_pair_url(pair, f"log-{log.pk}"))
    return render(request, "sessions_log/private_note_form.html", _context(pair, me, form=form, log=log))


@pair_view
@GET_POST
def pulse_submit(request, pair, me, log_id: int):
    log = _found(selectors.log_of, pair=pair, pk=log_id)
    if services.side_of(pair, me) != "mentor":
        raise Http404  # the pulse is the mentor's alone
    if request.method == "GET":
        if blocked := _read_only(request, pair):
            return blocked
        if SafetyPulse.objects.filter(session_log=log).exists():
            messages.info(request, _("You have already answered the pulse for this session."))
            return redirect(_pair_url(pair, f"log-{log.pk}"))
    form = PulseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.pulse_submit(log=log, me=me, **form.cleaned_data)
        except SessionError as exc:
            messages.error(request, str(exc))
            return redirect(_pair_url(pair, f"log-{log.pk}"))
        messages.success(request, _("Thank you. Your answers stay confidential."))
        if not Feedback.objects.filter(session_log=log, author=pair.mentor).exists():
            return redirect("feedback_submit", pk=pair.pk, log_id=log.pk)
        return redirect(_pair_url(pair, f"log-{log.pk}"))
    return render(request, "sessions_log/pulse_form.html", _context(pair, me, form=form, log=log))


@pair_view
@GET_POST
def feedback_submit(request, pair, me, log_id: int):
    log = _found(selectors.log_of, pair=pair, pk=log_id)
    if request.method == "GET":
        # Rating stays open after the pair ended (not once the program is archived).
        if pair.program.is_archived and (blocked := _read_only(request, pair)):
            return blocked
        if Feedback.objects.filter(session_log=log, author__employee=me).exists():
            messages.info(request, _("You have already given feedback on this session."))
            return redirect(_pair_url(pair, f"log-{log.pk}"))
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.feedback_submit(log=log, me=me, **form.cleaned_data)
        except SessionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Thank you for your feedback. Your partner never sees it."))
        return redirect(_pair_url(pair, f"log-{log.pk}"))
    return render(request, "sessions_log/feedback_form.html", _context(pair, me, form=form, log=log))


# --- Concern, insights, actions ---------------------------------------------------------------------------------------


@pair_view
@GET_POST
def concern_raise(request, pair, me):
    if services.side_of(pair, me) != "mentor":
        raise Http404  # mentees talk to HR directly
    form = ConcernForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.concern_raise(pair=pair, me=me, text=form.cleaned_data["text"])
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your concern is with HR. Only HR reads it; your mentee is not told."))
            return redirect(_pair_url(pair))
    return render(request, "sessions_log/concern_form.html", _context(pair, me, form=form))


@pair_view
@posted_from_pair_page("insights")
def insight_add(request, pair, me):
    if blocked := _read_only(request, pair):
        return blocked
    if services.side_of(pair, me) != "mentor":
        messages.error(request, _("Insights are recorded by the mentor."))
        return redirect(_pair_url(pair, "insights"))
    form = InsightForm(request.POST, program=pair.program)
    if form.is_valid():
        try:
            services.insight_add(pair=pair, me=me, **form.cleaned_data)
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Insight recorded."))
            return redirect(_pair_url(pair, "insights"))
    return _pair_page(request, pair, me, insight_form=form)


@pair_view
@posted_from_pair_page("actions")
def action_commit(request, pair, me):
    if blocked := _read_only(request, pair):
        return blocked
    if services.side_of(pair, me) != "mentee":
        messages.error(request, _("Actions are committed by the mentee."))
        return redirect(_pair_url(pair, "actions"))
    form = ActionForm(request.POST, pair=pair)
    if form.is_valid():
        try:
            services.action_commit(pair=pair, me=me, **form.cleaned_data)
        except SessionError as exc:
            due_on = form.cleaned_data.get("due_on")
            form.add_error("due_on" if due_on and due_on < timezone.localdate() else None, str(exc))
        else:
            messages.success(request, _("Action committed. Close it here when it is done."))
            return redirect(_pair_url(pair, "actions"))
    return _pair_page(request, pair, me, action_form=form)


@pair_view
@GET_POST
def insight_edit(request, pair, me, insight_id: int):
    """The mentor corrects or removes an insight they recorded."""
    insight = _found(selectors.insight_of, pair=pair, pk=insight_id)
    if blocked := _read_only(request, pair):
        return blocked
    if services.side_of(pair, me) != "mentor":
        messages.error(request, _("Insights are recorded by the mentor."))
        return redirect(_pair_url(pair, f"insight-{insight.pk}"))
    if request.method == "POST" and request.POST.get("remove") == "1":
        try:
            services.insight_remove(insight=insight, me=me)
        except SessionError as exc:  # the pair ended meanwhile
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Insight removed."))
        return redirect(_pair_url(pair, "insights"))
    form = InsightForm(request.POST or None, program=pair.program, initial={"topic": insight.topic, "text": insight.text})
    if request.method == "POST" and form.is_valid():
        try:
            services.insight_update(insight=insight, me=me, **form.cleaned_data)
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Insight updated."))
            return redirect(_pair_url(pair, f"insight-{insight.pk}"))
    actions = insight.actions.count()
    return render(request, "sessions_log/insight_form.html", _context(pair, me, form=form, insight=insight, linked_actions=actions))


@pair_view
@GET_POST
def action_edit(request, pair, me, action_id: int):
    """The mentee rewords, re-dates or removes an action they committed to."""
    action = _found(selectors.action_of, pair=pair, pk=action_id)
    if blocked := _read_only(request, pair):
        return blocked
    if services.side_of(pair, me) != "mentee":
        messages.error(request, _("Actions are committed by the mentee."))
        return redirect(_pair_url(pair, f"action-{action.pk}"))
    if request.method == "POST" and request.POST.get("remove") == "1":
        try:
            services.action_remove(action=action, me=me)
        except SessionError as exc:  # the pair ended meanwhile
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Action removed."))
        return redirect(_pair_url(pair, "actions"))
    form = ActionForm(request.POST or None, pair=pair, initial={"text": action.text, "due_on": action.due_on, "insight": action.insight_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.action_update(action=action, me=me, **form.cleaned_data)
        except SessionError as exc:
            due_on = form.cleaned_data.get("due_on")
            form.add_error("due_on" if due_on and due_on < timezone.localdate() else None, str(exc))
        else:
            messages.success(request, _("Action updated."))
            return redirect(_pair_url(pair, f"action-{action.pk}"))
    return render(request, "sessions_log/action_form.html", _context(pair, me, form=form, action=action))


@pair_view
@posted_from_pair_page(lambda pair, kw: f"action-{_found(selectors.action_of, pair=pair, pk=kw['action_id']).pk}")
def action_set_done(request, pair, me, action_id: int):
    action = _found(selectors.action_of, pair=pair, pk=action_id)
    done = request.POST.get("done") == "1"
    try:
        services.action_set_done(action=action, me=me, done=done)
    except SessionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("“%(action)s” is done. Well done!") % {"action": action.text} if done else _("“%(action)s” is open again.") % {"action": action.text})
    return redirect(_pair_url(pair, f"action-{action.pk}"))


# --- Closure ------------------------------------------------------------------------------------------------------------


@pair_view
@GET_POST
def pair_close(request, pair, me):
    if request.method == "POST" and pair.status == Pair.Status.ENDED and pair.ended_by_id == request.user.pk and pair.ended_at >= timezone.now() - services.RESUBMIT_WINDOW:
        return redirect(_pair_url(pair))  # a second click on "End the pair": the first one ended it
    if request.method == "GET" and (blocked := _read_only(request, pair)):
        return blocked
    form = PairCloseForm(request.POST or None)
    if request.method == "POST" and pair.status == Pair.Status.ENDED and not pair.program.is_archived and (form.data.get("reflection") or "").strip():
        # The partner ended it while this form was open: the reflection typed here is kept.
        try:
            services.reflection_save(pair=pair, me=me, text=form.data["reflection"][:COMMENT_MAX])
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.info(request, _("%(name)s had already ended the pair; your reflection is saved.") % {"name": services.partner_of(pair, me).first_name})
            return redirect(_pair_url(pair, "reflection"))
    if request.method == "POST" and form.is_valid():
        try:
            services.pair_close(pair=pair, me=me, reason=form.cleaned_data["reason"], reflection=form.cleaned_data["reflection"])
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The pair has ended. Thank you for your reflection."))
            return redirect(_pair_url(pair))
    return render(request, "sessions_log/pair_close.html", _context(pair, me, form=form))


@pair_view
@posted_from_pair_page("reflection")
def reflection_save(request, pair, me):
    form = ReflectionForm(request.POST)
    if not form.is_valid():
        if pair.status == Pair.Status.ENDED and not pair.program.is_archived:
            return _pair_page(request, pair, me, reflection_form=form)
        messages.error(request, _("Write a short reflection: what did you learn, what would you keep?"))
        return redirect(_pair_url(pair, "reflection"))
    try:
        services.reflection_save(pair=pair, me=me, text=form.cleaned_data["text"])
    except SessionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Thank you for your reflection."))
    return redirect(_pair_url(pair, "reflection"))


# --- My pairs, surveys, calendar ------------------------------------------------------------------------------------------


@participant_required
@require_GET
def my_pairs(request):
    employee = getattr(request.user, "employee", None)
    return render(request, "sessions_log/my_pairs.html", {"my_pairs": selectors.pairs_for_home(employee=employee)})


@participant_required
@require_GET
def survey_list(request):
    employee = getattr(request.user, "employee", None)
    return render(request, "sessions_log/survey_list.html", {"enrollments": selectors.surveys_for(employee=employee)})


@participant_required
@GET_POST
def survey_answer(request, enrollment_id: int, kind: str):
    employee = getattr(request.user, "employee", None)
    enrollment = _found(selectors.enrollment_with_answers, employee=employee, pk=enrollment_id)
    if kind not in SurveyResponse.Kind.values:
        raise Http404
    responses = list(enrollment.survey_responses.all())
    rows = {row.kind: row for row in selectors.survey_rows(enrollment, responses, timezone.localdate(), had_pair=services.had_pair(enrollment))}
    row = rows.get(kind)
    if row is None or (enrollment.status != Enrollment.Status.APPROVED and row.state != "answered"):
        raise Http404  # someone who left the program keeps what they answered, nothing more
    if request.method == "POST" and row.state != "open":
        # The page shows no questions then: say why instead of "see the fields below".
        messages.error(request, {
            "answered": _("You have already answered this survey."),
            "upcoming": _("This survey opens on %(day)s.") % {"day": date_format(row.opens_on)},
        }.get(row.state, _("This survey has closed.")))
        return redirect("survey_answer", enrollment_id=enrollment.pk, kind=kind)
    form = SurveyForm(request.POST or None, items=services.survey_items(enrollment), ask_recommend=kind != SurveyResponse.Kind.BASELINE)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_submit(enrollment=enrollment, me=employee, kind=kind, scores=form.scores(), would_recommend=form.cleaned_data.get("would_recommend"))
        except SessionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Thank you: your %(survey)s survey is in.") % {"survey": row.label.lower()})
            return redirect("survey_list")
    context = {"enrollment": enrollment, "program": enrollment.program, "row": row, "form": form}
    if row.state == "answered":
        context["answered"], context["answers"], context["recommend"] = selectors.survey_answers(enrollment, responses)
    return render(request, "sessions_log/survey_form.html", context)


@participant_required
@require_GET
def calendar_settings(request):
    employee = getattr(request.user, "employee", None)
    if employee is None:
        raise Http404
    feed = services.calendar_feed_for(me=employee)
    feed_url = request.build_absolute_uri(reverse("calendar_feed", args=[feed.token]))
    webcal_url = "webcal://" + feed_url.split("://", 1)[1]
    return render(request, "sessions_log/calendar.html", {"feed": feed, "feed_url": feed_url, "webcal_url": webcal_url})


@participant_required
@require_POST
def calendar_revoke(request):
    employee = getattr(request.user, "employee", None)
    if employee is None:
        raise Http404
    services.calendar_feed_revoke(me=employee)
    messages.success(request, _("Your old calendar link no longer works. Add the new one below to your calendar app."))
    return redirect("calendar_settings")


@never_cache
@require_GET
def calendar_feed(request, token: str):
    """No login: calendar apps fetch this URL on their own. The secret token is the key."""
    try:
        feed = CalendarFeed.objects.select_related("employee__user").get(token=token)
    except CalendarFeed.DoesNotExist:
        raise Http404 from None
    user = feed.employee.user
    if feed.employee.left_date is not None or (user is not None and not user.is_active):
        raise Http404  # a leaver's feed stops with their access
    body = ics.feed(selectors.feed_meetings(employee=feed.employee), name=_("Reverse mentoring (Upward)"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="upward.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
