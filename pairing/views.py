"""HR pages for pairing: match runs, the review of a proposal, overrides, live pairs.

Views fetch through program-scoped reads (another program's run, pair or override is a 404),
call one service, turn a MatchError into a message and redirect. Every page is @hr_required.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from mentoring.models import AuditEvent
from mentoring.roles import hr_required
from programs.models import Enrollment, Program
from sessions_log.selectors import hr_pair_overview, stuck_days

from . import engine, selectors, services
from .forms import HR_END_REASONS, ManualPairForm, OverrideForm, PairEndForm, PairNudgeForm, PairPauseForm, PairSearchForm, SwapForm
from .models import MatchRun, Pair, PairingOverride
from .services import MatchError

RS = MatchRun.Status
PAIRS_PAGE_SIZE = 50
WAITING_LIST_LIMIT = 20  # people waiting for a partner named on the pairing page
STALE = gettext_lazy("That pair has changed since this page was loaded (in another tab, or by another HR admin). Here is the proposal as it is now.")
REASON_LABELS = {
    "no_feasible_partner": gettext_lazy("No allowed partner"),
    "below_min_score": gettext_lazy("Below the minimum score"),
    "capacity_exhausted": gettext_lazy("Suitable partners are full"),
    "not_needed": gettext_lazy("Not needed"),
    "": gettext_lazy("Unpaired during review"),
    "partner_left": gettext_lazy("Partner left the program"),
}


def rate_text(part: int, whole: int) -> str:
    """A share as people read it: "99.7%" for 299 of 300, never rounded up to 100% or down
    to 0% unless it is exactly that (a 100% beside an unpaired list reads as a mistake)."""
    if not whole:
        return "—"
    value = 100 * part / whole
    if 0 < part < whole:
        value = min(max(value, 0.1), 99.9)
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}%"


def _stats_rate(stats: dict) -> str:
    mentees = stats.get("mentees") or 0
    return rate_text(round((stats.get("match_rate") or 0) * mentees), mentees)


def _program(slug: str) -> Program:
    return get_object_or_404(Program, slug=slug)


def _run(program: Program, run_id: int) -> MatchRun:
    try:
        return selectors.match_run_of(program=program, run_id=run_id)
    except MatchRun.DoesNotExist:
        raise Http404 from None


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(request, default: str) -> str:
    """The page a form came from (`next`), if it is one of ours; else `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _form_errors(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


def _histogram(stats: dict) -> list[dict]:
    buckets = stats.get("histogram") or []
    top = max(buckets, default=0) or 1
    return [{"low": i * 100, "high": 1000 if i == 9 else i * 100 + 99, "count": n, "max": top} for i, n in enumerate(buckets)]


# --- Pairing home: runs and overrides --------------------------------------------------------------


@hr_required
@require_GET
def pairing_home(request, slug: str):
    program = _program(slug)
    runs = list(selectors.match_runs_of(program=program))
    for run in runs:
        run.engine_rate = _stats_rate(run.stats or {})
        run.now_rate = rate_text(run.paired_mentees, (run.stats or {}).get("mentees") or 0)
    in_progress = next((r for r in runs if not r.is_finished), None)
    # The newest run, when it is a proposal nobody has published yet (a newer run replaces it).
    awaiting = runs[0] if runs and runs[0].status == MatchRun.Status.PROPOSED else None
    counts = selectors.pool_counts(program=program)
    waiting = []
    if program.status == Program.Status.ACTIVE and counts["unpaired_mentors"] + counts["unpaired_mentees"]:
        # Who a re-match is for: people whose pair ended (a partner withdrew, left, or HR
        # ended it), the latest first, then approved people never paired. The first few; the
        # count says how many more.
        waiting = list(selectors.waiting_for_partner(program=program)[:WAITING_LIST_LIMIT])
        for person in waiting:
            person.last_pair_end_label = Pair.EndReason(person.last_pair_end_reason).label if person.last_pair_end_reason in Pair.EndReason.values else ""
    unpaired = counts["unpaired_mentors"] + counts["unpaired_mentees"]
    context = {
        "program": program,
        "runs": runs,
        "in_progress": in_progress,
        "awaiting": awaiting,
        "counts": counts,
        "unpaired": unpaired,
        "waiting": waiting,
        "waiting_more": unpaired - len(waiting) if waiting else 0,
        "can_run": program.status in (Program.Status.MATCHING, Program.Status.ACTIVE) and in_progress is None,
        "overrides": selectors.overrides_of(program=program),
        "override_form": _override_form(program),
        "next_url": request.get_full_path(),
    }
    return render(request, "pairing/pairing_home.html", context)


def _override_form(program: Program, data=None) -> OverrideForm:
    return OverrideForm(
        data,
        mentors=selectors.approved_enrollments(program=program, role="mentor"),
        mentees=selectors.approved_enrollments(program=program, role="mentee"),
    )


@hr_required
@require_POST
def match_run_start(request, slug: str):
    program = _program(slug)
    try:
        run = services.match_run_start(program=program, by=request.user)
    except MatchError as exc:
        messages.error(request, str(exc))
        return redirect("pairing_home", slug=program.slug)
    run.refresh_from_db(fields=["status", "error"])
    if run.status == RS.PROPOSED:
        messages.success(request, _("The proposal is ready: review it, adjust it, then publish it."))
    elif run.status == RS.FAILED:
        messages.error(request, _("The match run failed: %(error)s") % {"error": run.error})
    else:
        messages.info(request, _("The match run has started. This page updates itself when the proposal is ready."))
    return redirect("match_run_review", slug=program.slug, run_id=run.pk)


@hr_required
@require_POST
def override_set(request, slug: str):
    program = _program(slug)
    form = _override_form(program, request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        try:
            override = services.override_set(program=program, by=request.user, **form.cleaned_data)
        except MatchError as exc:
            messages.error(request, str(exc))
        else:
            names = {"mentor": override.mentor.employee.full_name, "mentee": override.mentee.employee.full_name}
            if override.kind == PairingOverride.Kind.PIN:
                done = _("%(mentor)s and %(mentee)s are pinned together for the next run.") % names
            else:
                done = _("%(mentor)s and %(mentee)s will be kept apart on the next run.") % names
            if override.kind == PairingOverride.Kind.EXCLUDE and Pair.objects.filter(program=program, mentor=override.mentor, mentee=override.mentee, status=Pair.Status.PROPOSED).exists():
                done += " " + _("They are paired in the proposal under review: unpair them there, or publishing pairs them.")
            if override.replaced == PairingOverride.Kind.EXCLUDE:
                done += " " + _("This replaces their exclusion.")
            elif override.replaced == PairingOverride.Kind.PIN:
                done += " " + _("This replaces their pin.")
            messages.success(request, done)
    return redirect(_back(request, reverse("pairing_home", args=[program.slug])))


@hr_required
@require_POST
def override_remove(request, slug: str, override_id: int):
    program = _program(slug)
    override = get_object_or_404(PairingOverride.objects.select_related("program"), pk=override_id, program=program)
    try:
        services.override_remove(override=override, by=request.user)
    except MatchError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The pin or exclusion was removed; it no longer applies to the next run."))
    return redirect(_back(request, reverse("pairing_home", args=[program.slug])))


# --- A run: progress, review, alternatives ---------------------------------------------------------


@hr_required
@require_GET
def match_run_progress(request, slug: str, run_id: int):
    """Polled by htmx every 2 s while a run is queued or running; a finished run reloads the page."""
    run = _run(_program(slug), run_id)
    response = render(request, "pairing/_run_progress.html", {"run": run, "program": run.program})
    if run.is_finished and _is_htmx(request):
        response["HX-Refresh"] = "true"
    return response


@hr_required
@require_GET
def match_run_review(request, slug: str, run_id: int):
    program = _program(slug)
    run = _run(program, run_id)
    pairs = list(selectors.run_pairs(run=run))
    pool = selectors.run_pool(run=run)
    editable = run.status == RS.PROPOSED and not program.is_archived
    unpaired = selectors.unpaired_people(run=run, pool=pool, pairs=pairs)
    for person in unpaired:
        person.reason_label = REASON_LABELS.get(person.reason, person.reason)
    # Withdrew, left or erased since the run: shown apart, offered to nobody.
    left = selectors.people_left_program(pool=pool, pairs=pairs)
    selectors.mark_left_program([*(p.mentor for p in pairs), *(p.mentee for p in pairs)])
    # Who already has a live pair in another program: a second pairing should be HR's choice.
    selectors.mark_paired_elsewhere(
        [*(p.mentor for p in pairs), *(p.mentee for p in pairs), *(u.enrollment for u in unpaired)], selectors.paired_elsewhere(program=program)
    )
    stats = services.current_stats(run=run, pairs=pairs, left=(sum(e.role == "mentor" for e in left), sum(e.role == "mentee" for e in left)))
    engine_stats = run.stats or {}
    # Hundreds of pairs: HR can look at the ones with something to watch, or the weakest first.
    show = request.GET.get("show", "") if request.GET.get("show") in REVIEW_VIEWS else ""
    shown = [p for p in pairs if p.drawbacks] if show == "watch" else sorted(pairs, key=lambda p: (p.score, p.pk)) if show == "lowest" else pairs
    context = {
        "program": program,
        "run": run,
        "pairs": pairs,
        "shown_pairs": shown,
        "show": show,
        "watch_count": sum(1 for p in pairs if p.drawbacks),
        "stats": stats,
        "engine_stats": engine_stats,
        # Review changed the engine's proposal: the summary says what the engine had proposed.
        "edited": any(stats.get(k) != engine_stats.get(k) for k in ("pairs", "total_score", "match_rate")),
        "histogram": _histogram(stats),
        "match_rate": _stats_rate(stats),
        "engine_match_rate": _stats_rate(engine_stats),
        "pool_sizes": f"{stats.get('mentors', 0)} / {stats.get('mentees', 0)}",
        "unpaired": unpaired,
        "left_program": left,
        # The engine's reasons quote scores without their scale: the list says it once.
        "below_min_shown": any(u.reason == "below_min_score" for u in unpaired),
        "has_inputs": bool(run.inputs),
        "editable": editable,
        "newer_run": selectors.newer_run(run=run) if run.status == RS.SUPERSEDED else None,
        "next_url": request.get_full_path(),
    }
    if editable:
        pool_mentors, pool_mentees = selectors.run_pool_enrollments(run=run, role="mentor", current=True), selectors.run_pool_enrollments(run=run, role="mentee", current=True)
        pairable = [e for e in pool.values() if not e.left_program]
        proposed = selectors.run_pairs(run=run).filter(status=Pair.Status.PROPOSED)  # for the choices a refused edit sends back
        open_pairs = [p for p in pairs if p.status == Pair.Status.PROPOSED]
        context.update(
            {
                "manual_form": _listed_from(
                    ManualPairForm(initial=_kept(request, ManualPairForm, mentor=pool_mentors, mentee=pool_mentees), mentors=pool_mentors, mentees=pool_mentees),
                    mentor=[e for e in pairable if e.role == "mentor"], mentee=[e for e in pairable if e.role == "mentee"],
                ),
                "swap_form": _listed_from(
                    SwapForm(initial=_kept(request, SwapForm, pair_a=proposed, pair_b=proposed), pairs=proposed), pair_a=open_pairs, pair_b=open_pairs,
                ),
                "override_form": _override_form(program),
                "overrides": selectors.overrides_of(program=program),
            }
        )
    return render(request, "pairing/match_run_review.html", context)


@hr_required
@require_GET
def match_run_alternatives(request, slug: str, run_id: int, enrollment_id: int):
    """The top 3 allowed partners for one person: a partial for htmx, a page without it."""
    program = _program(slug)
    run = _run(program, run_id)
    enrollment = get_object_or_404(Enrollment.objects.select_related("employee__department"), pk=enrollment_id, program=program)
    alternatives = selectors.alternatives_for(run=run, enrollment=enrollment)
    selectors.mark_paired_elsewhere([alternatives.person, *(row.enrollment for row in alternatives.rows)], selectors.paired_elsewhere(program=program))
    context = {
        "program": program,
        "run": run,
        "alternatives": alternatives,
        "editable": run.status == RS.PROPOSED and not program.is_archived,
        "next_url": reverse("match_run_review", args=[program.slug, run.pk]),
    }
    template = "pairing/_alternatives.html" if _is_htmx(request) else "pairing/match_run_alternatives.html"
    return render(request, template, context)


# --- A run: HR's edits and publishing ----------------------------------------------------------------


REVIEW_VIEWS = ("watch", "lowest")  # the review page's ?show=, besides "all, best first"


def _review(program: Program, run: MatchRun, request=None, *, keep: dict | None = None):
    """Back to the review page, at the top where the message is, in the view HR was in (the
    forms post ``show``); after a refusal, with the choices HR made (``keep``, as query
    parameters the page puts back in the form)."""
    query = {}
    if request is not None and request.POST.get("show") in REVIEW_VIEWS:
        query["show"] = request.POST["show"]
    if keep:
        query.update({k: v.pk for k, v in keep.items() if v is not None})
    url = reverse("match_run_review", args=[program.slug, run.pk])
    return redirect(f"{url}?{urlencode(query)}" if query else url)


def _row_url(request, program: Program, run: MatchRun, pair: Pair) -> str:
    """Where a changed pair's row is: the page reloads at the top, where the message is, and
    hundreds of rows may lie between it and the pair. "Something to watch" may not list the
    new pair, so the link opens the full list there."""
    show = request.POST.get("show")
    url = reverse("match_run_review", args=[program.slug, run.pk])
    if show == "lowest":
        url += "?" + urlencode({"show": show})
    return f"{url}#pair-{pair.pk}"


def _with_row_link(request, program: Program, run: MatchRun, text: str, pair: Pair):
    """A success message that links to the changed pair's row (see _row_url)."""
    return format_html('{} <a class="alert-link" href="{}">{}</a>', text, _row_url(request, program, run, pair), _("Show the pair"))


def _listed_from(form, **objects):
    """Choosers whose options are rows the page has already loaded (the pool, for the manual
    pair; the proposed pairs the table shows, for the swap) list those instead of querying
    again each: at 300 x 300 that was ~4,000 model instances more per page."""
    for name, rows in objects.items():
        field = form.fields[name]
        field.widget.choices = [("", field.empty_label), *((obj.pk, field.label_from_instance(obj)) for obj in rows)]
    return form


def _kept(request, form_class, **querysets):
    """A form filled with the ids a refused edit sent back (unknown ids are dropped)."""
    initial = {}
    for name in form_class.base_fields:
        value = request.GET.get(name, "")
        if value.isdigit() and len(value) < 19 and name in querysets and querysets[name].filter(pk=int(value)).exists():
            initial[name] = int(value)
    return initial


@hr_required
@require_POST
def proposal_pair_manually(request, slug: str, run_id: int):
    program = _program(slug)
    run = _run(program, run_id)
    # Anyone of the program: someone who has left it since the page was loaded is refused by
    # the service in words ("... withdrew"), not as an invalid choice.
    people = program.enrollments.select_related("employee__department")
    form = ManualPairForm(request.POST, mentors=people.filter(role="mentor"), mentees=people.filter(role="mentee"))
    if not form.is_valid():
        _form_errors(request, form)
        return _review(program, run, request)
    undo = request.POST.get("undo") == "1"
    try:
        pair = services.proposal_pair_manually(run=run, by=request.user, undo=undo, **form.cleaned_data)
    except MatchError as exc:
        messages.error(request, str(exc))
        return _review(program, run, request, keep=None if undo else form.cleaned_data)
    else:
        done = _("%(mentor)s now mentors %(mentee)s (score %(score)s out of %(max)s).") % {
            "mentor": pair.mentor.employee.full_name, "mentee": pair.mentee.employee.full_name, "score": pair.score, "max": engine.MAX_SCORE,
        }
        if pair.left_alone:
            done += " " + ngettext("%(names)s is unpaired now.", "%(names)s are unpaired now.", len(pair.left_alone)) % {"names": engine.join_words(pair.left_alone)}
        messages.success(request, _with_row_link(request, program, run, done, pair))
    return _review(program, run, request)


@hr_required
@require_POST
def proposal_swap(request, slug: str, run_id: int):
    program = _program(slug)
    run = _run(program, run_id)
    form = SwapForm(request.POST, pairs=selectors.run_pairs(run=run).filter(status=Pair.Status.PROPOSED))
    if not form.is_valid():
        if form.has_error("pair_a", "invalid_choice") or form.has_error("pair_b", "invalid_choice"):
            messages.error(request, STALE)  # a pair another tab or admin has changed since
        else:
            _form_errors(request, form)
        return _review(program, run, request)
    before = form.cleaned_data["pair_a"].score + form.cleaned_data["pair_b"].score
    try:
        a, b = services.proposal_swap(run=run, by=request.user, **form.cleaned_data)
    except MatchError as exc:
        messages.error(request, str(exc))
        return _review(program, run, request, keep=form.cleaned_data)
    else:
        change = a.score + b.score - before
        # Both new pairs are named by a link to their row (the same "Show the pair" twice
        # would not say which is which).
        names = {
            key: format_html(
                '<a class="alert-link" href="{}">{} → {}</a>', _row_url(request, program, run, pair), pair.mentor.employee.full_name, pair.mentee.employee.full_name
            )
            for key, pair in (("a", a), ("b", b))
        } | {"sa": a.score, "sb": b.score, "max": engine.MAX_SCORE, "change": f"{change:+d}"}
        if change:
            done = _("The two pairs swapped mentors: {a} (score {sa} out of {max}) and {b} (score {sb} out of {max}); the total score changes by {change}.")
        else:
            done = _("The two pairs swapped mentors: {a} (score {sa} out of {max}) and {b} (score {sb} out of {max}); the total score is unchanged.")
        messages.success(request, format_html(done, **names))  # the names' links are format_html's too
    return _review(program, run, request)


@hr_required
@require_POST
def proposal_unpair(request, slug: str, run_id: int, pair_id: int):
    program = _program(slug)
    run = _run(program, run_id)
    pair = Pair.objects.select_related("mentor__employee", "mentee__employee").filter(pk=pair_id, match_run=run, program=program).first()
    if pair is None:
        if Pair.objects.filter(pk=pair_id).exists():
            raise Http404  # another run's or program's pair
        # Swaps and manual pairs replace pairs with new ones: a button from before that is stale.
        messages.error(request, STALE)
        return _review(program, run, request)
    try:
        services.proposal_unpair(run=run, pair=pair, by=request.user)
    except MatchError as exc:
        messages.error(request, str(exc))
    else:
        text = _("%(mentor)s and %(mentee)s are no longer paired in this proposal. A later run may pair them again: to prevent that, keep them apart under Pins and exclusions.") % {
            "mentor": pair.mentor.employee.full_name, "mentee": pair.mentee.employee.full_name,
        }
        # Undo: the same two paired again by hand (constraint-checked like any manual pair;
        # a pair the engine proposed gets its mark back).
        undo = format_html(
            '<form method="post" action="{}" class="d-inline ms-1"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="mentor" value="{}"><input type="hidden" name="mentee" value="{}"><input type="hidden" name="show" value="{}"><input type="hidden" name="undo" value="1">'
            '<button type="submit" class="btn btn-link alert-link p-0 align-baseline">{}</button></form>',
            reverse("proposal_pair_manually", args=[program.slug, run.pk]), get_token(request), pair.mentor_id, pair.mentee_id,
            request.POST.get("show", "") if request.POST.get("show") in REVIEW_VIEWS else "", _("Undo"),
        )
        messages.success(request, format_html("{} {}", text, undo))
    return _review(program, run, request)


@hr_required
@require_POST
def match_run_publish(request, slug: str, run_id: int):
    program = _program(slug)
    run = _run(program, run_id)
    try:
        count = services.match_run_publish(run=run, by=request.user)
    except MatchError as exc:
        messages.error(request, str(exc))
    else:
        if MatchRun.objects.filter(pk=run.pk, announced_at__isnull=False).exists():
            text = ngettext(
                "Published %(count)d pair: both people have been told by email.",
                "Published %(count)d pairs: everyone has been told by email.",
                count,
            ) % {"count": count}
        else:  # a large run: a Celery task writes the emails (see services.match_run_publish)
            text = _("Published %(count)s pairs. The emails telling everyone are being written now and go out within minutes.") % {"count": f"{count:,}"}
        messages.success(request, text)
    return _review(program, run)


# --- Live pairs ----------------------------------------------------------------------------------------


@hr_required
@require_GET
def pairs_list(request, slug: str):
    program = _program(slug)
    search = PairSearchForm(request.GET, filters=selectors.PAIR_FILTERS)
    search.is_valid()  # a bad field (an unknown filter, a 300-character name) is dropped alone
    chosen = search.cleaned_data
    pairs = selectors.program_pairs(program=program, show=chosen.get("show", ""), search=chosen.get("q", ""))
    page = Paginator(pairs, PAIRS_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for pair in page.object_list:
        pair.program = program  # the one already loaded, not a query per row
        pair.quiet_days = stuck_days(pair, now)
    return render(
        request,
        "pairing/pairs_list.html",
        {
            "program": program, "page": page, "search": search, "filtered": any(chosen.values()),
            "counts": selectors.pair_counts(program=program), "end_reasons": HR_END_REASONS,
        },
    )


@hr_required
@require_GET
def hr_pair(request, slug: str, pair_id: int):
    return _hr_pair_page(request, _program(slug), pair_id)


def _hr_pair_page(request, program: Program, pair_id: int, **forms):
    """The HR pair page; `forms` are bound forms that came back with errors (what was typed
    stays in them)."""
    try:
        pair = selectors.program_pair(program=program, pair_id=pair_id)
    except Pair.DoesNotExist:
        raise Http404 from None
    # The latest 20 events, told oldest first under "Pair published".
    history = reversed(AuditEvent.objects.filter(object_type="pairing.pair", object_id=pair.pk).select_related("actor").order_by("-occurred_at", "-id")[:20])
    # An ended pair of a running program: who of the two is now without a partner, for a re-match.
    waiting = []
    if pair.status == Pair.Status.ENDED and program.status == Program.Status.ACTIVE:
        waiting = list(selectors.waiting_for_partner(program=program).filter(pk__in=(pair.mentor_id, pair.mentee_id)))
    return render(
        request,
        "pairing/hr_pair.html",
        {
            "program": program, "pair": pair, "overview": hr_pair_overview(pair=pair), "history": list(history),
            "withdrawn": pair.withdrawn_side, "waiting": waiting,
            "people": [(_("Mentor"), pair.mentor.employee), (_("Mentee"), pair.mentee.employee)],
            "end_reasons": HR_END_REASONS, "pause_form": PairPauseForm(), "nudge_form": PairNudgeForm(),
            "can_change": pair.is_live and not program.is_archived,
            "next_check_in": services.next_check_in(pair),
            **forms,
        },
    )


def _pair_action(request, slug: str, pair_id: int, form_class, act, done, form_name: str = ""):
    """POST handler shape shared by pause, resume and check-in: find the live pair in the
    program, validate, call the service, say what happened, back to the pair page. A form
    with errors comes back on the page with what was typed (as `form_name`)."""
    program = _program(slug)
    pair = get_object_or_404(Pair.objects.select_related("mentor__employee", "mentee__employee"), pk=pair_id, program=program, status__in=[*selectors.LIVE, Pair.Status.ENDED])
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        _form_errors(request, form)
        if form_name:
            return _hr_pair_page(request, program, pair.pk, **{form_name: form})
    else:
        try:
            act(pair, form.cleaned_data if form is not None else {})
        except MatchError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done % {"mentor": pair.mentor.employee.full_name, "mentee": pair.mentee.employee.full_name})
    return redirect("hr_pair", slug=program.slug, pair_id=pair.pk)


@hr_required
@require_POST
def hr_pair_pause(request, slug: str, pair_id: int):
    return _pair_action(
        request, slug, pair_id, PairPauseForm, lambda pair, data: services.pair_pause(pair=pair, by=request.user, note=data["note"]),
        _("The pair %(mentor)s → %(mentee)s is paused; both have been told. It is not flagged or chased for going quiet until you resume it."), form_name="pause_form",
    )


@hr_required
@require_POST
def hr_pair_resume(request, slug: str, pair_id: int):
    return _pair_action(
        request, slug, pair_id, None, lambda pair, data: services.pair_resume(pair=pair, by=request.user),
        _("The pair %(mentor)s → %(mentee)s is active again; both have been told."),
    )


@hr_required
@require_POST
def hr_pair_check_in(request, slug: str, pair_id: int):
    return _pair_action(
        request, slug, pair_id, PairNudgeForm, lambda pair, data: services.pair_nudge(pair=pair, by=request.user, message=data["message"]),
        _("A check-in went to %(mentor)s and %(mentee)s."), form_name="nudge_form",
    )


@hr_required
@require_POST
def pair_end(request, slug: str, pair_id: int):
    program = _program(slug)
    pair = get_object_or_404(
        Pair.objects.select_related("mentor__employee", "mentee__employee"), pk=pair_id, program=program, status__in=[*selectors.LIVE, Pair.Status.ENDED]
    )
    form = PairEndForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect(_back(request, reverse("pairs_list", args=[program.slug])))
    try:
        ended = services.pair_end(pair=pair, by=request.user, **form.cleaned_data)
    except MatchError as exc:
        messages.error(request, str(exc))
    else:
        done = _("The pair %(mentor)s → %(mentee)s has ended.") % {"mentor": pair.mentor.employee.full_name, "mentee": pair.mentee.employee.full_name}
        if ended.kept_apart:
            done += " " + _("A re-match will not pair them again (an exclusion under Pins and exclusions; remove it to allow it).")
        messages.success(request, done)
    return redirect(_back(request, reverse("pairs_list", args=[program.slug])))
