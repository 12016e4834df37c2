"""HR and executive dashboards.

Both pages read MetricSnapshot rows only (computed by Celery in programs/snapshots.py), so a
page costs a fixed number of queries whatever the program's size. Small groups are
suppressed here, before anything reaches a template, so no page can show an individual.
"""

import csv
import datetime
import hashlib
import itertools

from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Exists, F, IntegerField, JSONField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, JSONObject
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from mentoring.audit import audit_record
from mentoring.models import AuditEvent, Employee
from mentoring.roles import hr_required

from . import metrics, snapshots
from .models import MetricSnapshot, Program, ProgramTransition, SnapshotRun

# The HR page names the stuck pairs; beyond this many it links to the full pairing list.
STUCK_LIST_LIMIT = snapshots.STUCK_LIST_LIMIT
# The executive trend draws one point a week (the week's last snapshot): over this many weeks
# for a running program, so that the page reads the same few rows however long nightly
# snapshots have been kept, and over its own run for a finished one.
TREND_WEEKS = 52
# How long a rendered executive dashboard body is kept. Its key changes with the snapshots it
# shows; the limit only bounds how long a deploy's template change takes to appear.
EXECUTIVE_BODY_SECONDS = 60 * 60
# Raise when the executive body's template or figures change, so no cached old body is served.
BODY_LAYOUT_VERSION = 9


# --- formatting -------------------------------------------------------------------------------


def _pct(value) -> str:
    return "—" if value is None else f"{round(float(value) * 100)}%"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value):.{digits}f}" if digits else f"{round(float(value))}"


def _signed(value, digits: int = 1, suffix: str = "") -> str:
    return f"{float(value):+.{digits}f}{suffix}"


def _get(data: dict, path: str):
    node = data
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _suppressed(n, value, fmt) -> str:
    shown = metrics.suppress_total(n or 0, value)
    return shown if shown == metrics.FEWER_THAN else fmt(shown)


# --- HR dashboard -----------------------------------------------------------------------------


def _hr_figures(data: dict, finished: bool = False) -> list[dict]:
    fb, nps = data.get("feedback", {}), data.get("nps", {})
    usefulness, safety = fb.get("usefulness", {}), fb.get("psychological_safety", {})
    ttfm = data.get("time_to_first_meeting_days", {})
    # New pairs owe no meeting yet and have no monthly rate: say so rather than a bare "—".
    has_pairs = any(_get(data, f"pairs.{k}") for k in ("active", "paused", "ended"))
    per_month, adherence = _get(data, "meetings.per_pair_per_month"), _get(data, "meetings.cadence_adherence")
    figures = [
        {"label": _("match rate"), "value": _pct(data.get("match_rate")), "note": _matching_detail(data, finished) or _("approved mentees who have a pair")},
        {"label": _("active pairs"), "value": _num(_get(data, "pairs.active"), 0), "note": _("%(n)s paused") % {"n": _num(_get(data, "pairs.paused"), 0)}},
        {"label": _("stuck pairs"), "value": _num(_get(data, "pairs.stuck"), 0), "note": _("no activity for a while")},
        {"label": _("ended pairs"), "value": _num(_get(data, "pairs.ended"), 0), "note": ""},
        {"label": _("days to first meeting"), "value": _num(ttfm.get("mean")), "note": _("mean over %(n)s pairs") % {"n": ttfm.get("n", 0)}},
        {
            "label": _("meetings per pair per month"),
            "value": _num(per_month),
            "note": _("too early: the pairs are new") if per_month is None and has_pairs else _("%(n)s meetings held") % {"n": _get(data, "meetings.held") or 0},
        },
        {
            "label": _("cadence adherence"),
            "value": _pct(adherence),
            "note": _("no meeting is due yet") if adherence is None and has_pairs else _("meetings held of those due so far"),
        },
        {"label": _("senior-side cancellations"), "value": _num(_get(data, "cancellations.senior_side"), 0), "note": _("%(r)s per pair") % {"r": _num(_get(data, "cancellations.senior_side_per_pair"), 2)}},
        {"label": _("usefulness (1–5)"), "value": _suppressed(usefulness.get("n"), usefulness.get("mean"), _num), "note": _("%(n)s feedback forms") % {"n": usefulness.get("n", 0)}},
        {"label": _("psychological safety (1–5)"), "value": _suppressed(safety.get("n"), safety.get("mean"), _num), "note": _("%(n)s feedback forms") % {"n": safety.get("n", 0)}},
        {"label": _("NPS (−100 to 100)"), "value": _suppressed(nps.get("n"), nps.get("score"), lambda v: _num(v, 0)), "note": _("%(n)s answers") % {"n": nps.get("n", 0)}},
        {"label": _("open pulse alerts"), "value": _num(_get(data, "pulse_alerts.open"), 0), "note": _("%(n)s in total") % {"n": _get(data, "pulse_alerts.total") or 0}},
    ]
    reminders = data.get("reminders")
    if isinstance(reminders, dict):
        figures.append({"label": _("reminders sent"), "value": _num(reminders.get("sent"), 0), "note": _("%(n)s failed") % {"n": reminders.get("failed", 0)}})
    return figures


def _funnel(data: dict) -> list[dict]:
    funnel = data.get("funnel", {})
    steps = [("invited", _("Invited")), ("applied", _("Applied")), ("approved", _("Approved")), ("paired", _("Paired")), ("active", _("Active"))]
    top = max([funnel.get(key) or 0 for key, _label in steps] + [1])
    return [{"key": key, "label": label, "n": funnel.get(key) or 0, "width": 25 * round(4 * (funnel.get(key) or 0) / top)} for key, label in steps]


def _stuck_pairs(data: dict) -> tuple[list, int]:
    """The stuck pairs the snapshot names (the quietest first) with the names as they are now,
    read by directory id: one small lookup however large the program."""
    from pairing.models import Pair

    health = data.get("pair_health") or {}
    total = _get(data, "pairs.stuck")
    rows = [(r.get("pair"), r.get("mentor"), r.get("mentee")) for r in health.get("stuck_pairs") or []]
    if not rows and health.get("stuck_pair_ids"):  # a snapshot from before it kept who is in each pair
        ids = health["stuck_pair_ids"][:STUCK_LIST_LIMIT]
        found = {row[0]: row for row in Pair.objects.filter(pk__in=ids).values_list("pk", "mentor__employee_id", "mentee__employee_id")}
        rows = [found[pk] for pk in ids if pk in found]
        total = len(health["stuck_pair_ids"]) if total is None else total
    rows = rows[:STUCK_LIST_LIMIT]
    total = len(rows) if total is None else total
    if not rows:
        return [], total
    people = {row[1] for row in rows} | {row[2] for row in rows}
    names = {pk: f"{first} {last}".strip() for pk, first, last in Employee.objects.filter(pk__in=people).values_list("pk", "first_name", "last_name")}
    # The snapshot is of its hour: a pair HR has since put on hold or ended says so, rather
    # than reading as stuck until the next snapshot.
    now = dict(Pair.objects.filter(pk__in=[row[0] for row in rows]).exclude(status=Pair.Status.ACTIVE).values_list("pk", "status"))
    return [{"pk": pk, "mentor": names.get(mentor, ""), "mentee": names.get(mentee, ""), "now": now.get(pk, "")} for pk, mentor, mentee in rows], total


def _latest_run(program: Program, snapshot) -> SnapshotRun | None:
    """The refresh to show: one still in progress, or one that failed after the last snapshot."""
    run = SnapshotRun.objects.filter(program=program).order_by("-created_at", "-pk").first()
    if run is None:
        return None
    if run.status in (SnapshotRun.Status.QUEUED, SnapshotRun.Status.RUNNING):
        return run
    if run.status == SnapshotRun.Status.FAILED and (snapshot is None or run.created_at > snapshot.computed_at):
        return run
    return None


@hr_required
@require_GET
def program_dashboard(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    snapshot = _final_or_latest(MetricSnapshot.objects.filter(program=program), program)
    context = {"program": program, "snapshot": snapshot, "run": _latest_run(program, snapshot)}
    if snapshot is not None:
        data = snapshot.data or {}
        stuck, stuck_total = _stuck_pairs(data)
        funnel = _funnel(data)
        context.update(
            {
                "figures": _hr_figures(data, program.status in FINISHED),
                "funnel": funnel,
                "funnel_chart": {"type": "bar", "horizontal": True, "labels": [s["label"] for s in funnel], "datasets": [{"label": _("People"), "data": [s["n"] for s in funnel]}]},
                "stuck_pairs": stuck,
                "stuck_total": stuck_total,
                "stuck_more": stuck_total - len(stuck),
            }
        )
    return render(request, "programs/dashboard_hr.html", context)


@hr_required
@require_POST
def program_dashboard_refresh(request, pk: int):
    program = get_object_or_404(Program, pk=pk)
    if program.is_archived:
        messages.error(request, _("This program is archived: its numbers are final."))
    else:
        snapshots.snapshot_request(program=program, by=request.user)
        messages.info(request, _("Fresh numbers are being computed; this page updates itself when they are ready."))
    return redirect("program_dashboard", pk=program.pk)


@hr_required
@require_GET
def program_dashboard_progress(request, pk: int, run_id: int):
    """Polled by htmx every 2 s while a refresh runs; a finished run reloads the page."""
    run = get_object_or_404(SnapshotRun.objects.select_related("program"), pk=run_id, program_id=pk)
    response = render(request, "programs/_dash_refresh.html", {"run": run, "program": run.program})
    if run.status in (SnapshotRun.Status.DONE, SnapshotRun.Status.FAILED) and request.headers.get("HX-Request") == "true":
        response["HX-Refresh"] = "true"
    return response


# --- CSV export -------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    """Spreadsheets run cells that start with these characters as formulas."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _export_rows(program: Program, *, tz=None):
    from pairing.models import Pair
    from sessions_log.models import Meeting, PulseAlert, SessionLog
    from sessions_log.selectors import pairs_quiet, stuck_days

    now = timezone.now()
    held = Meeting.objects.filter(pair=OuterRef("pk"), status="scheduled", starts_at__lte=now).order_by().values("pair").annotate(n=Count("id")).values("n")
    logs = SessionLog.objects.filter(pair=OuterRef("pk")).order_by().values("pair")
    pairs = (
        pairs_quiet(Pair.objects.filter(program=program), at=now)
        .exclude(status=Pair.Status.PROPOSED)
        .select_related("mentor__employee__department", "mentee__employee__department")
        .annotate(
            meetings_held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0)),
            sessions_logged=Coalesce(Subquery(logs.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)),
            minutes_logged=Coalesce(Subquery(logs.annotate(m=Sum("minutes")).values("m"), output_field=IntegerField()), Value(0)),
            # That an alert is open, as HR's pair page says it: never the pulse answers.
            pulse_alert_open=Exists(PulseAlert.objects.filter(pair=OuterRef("pk"), resolved_at__isnull=True)),
        )
        .order_by("pk")
    )
    yield [
        _("Pair"), _("Mentor"), _("Mentor department"), _("Mentee"), _("Mentee department"), _("Status"), _("Started"), _("Ended"),
        _("End reason"), _("Score (0-1000)"), _("Meetings held"), _("Sessions logged"), _("Minutes logged"),
        # Added later, at the end, so that sheets built on the first columns keep working.
        _("Mentor email"), _("Mentor level"), _("Mentee email"), _("Mentee level"), _("Last activity"), _("On hold since"),
        _("Needs attention"), _("Quiet for (days)"),
    ]  # fmt: skip
    for pair in pairs.iterator(chunk_size=500):
        mentor, mentee = pair.mentor.employee, pair.mentee.employee
        pair.program = program  # the one loaded: no query per row
        # Quiet as the pairs list says it ("Quiet for 40 days": no meeting or session log for
        # the program's stuck-after days, and none booked).
        quiet = stuck_days(pair, now)
        attention = [ngettext("Quiet for %(n)s day", "Quiet for %(n)s days", quiet) % {"n": quiet}] if quiet is not None else []
        if pair.pulse_alert_open:
            attention.append(_("Pulse alert open"))
        yield [
            pair.pk,
            _cell(mentor.full_name),
            _cell(mentor.department.name if mentor.department else ""),
            _cell(mentee.full_name),
            _cell(mentee.department.name if mentee.department else ""),
            pair.get_status_display(),
            timezone.localdate(pair.started_at, tz).isoformat() if pair.started_at else "",
            timezone.localdate(pair.ended_at, tz).isoformat() if pair.ended_at else "",
            pair.get_end_reason_display() if pair.end_reason else "",
            pair.score,
            pair.meetings_held,
            pair.sessions_logged,
            pair.minutes_logged,
            _cell(mentor.email),
            mentor.level,
            _cell(mentee.email),
            mentee.level,
            timezone.localdate(pair.last_activity, tz).isoformat() if pair.last_activity else "",
            timezone.localdate(pair.paused_at, tz).isoformat() if pair.status == Pair.Status.PAUSED and pair.paused_at else "",
            "; ".join(str(a) for a in attention),
            "" if quiet is None else quiet,
        ]


@hr_required
@require_GET
def program_export(request, pk: int):
    """One row per pair; never private notes, pulse answers, feedback comments or not-with lists."""
    program = get_object_or_404(Program, pk=pk)
    audit_record(action=AuditEvent.Action.DATA_EXPORTED, target=program, actor=request.user, summary="Pairs CSV export", after={"export": "program_pairs_csv"})
    writer = csv.writer(_Echo())
    # Rows are made while the response streams, after the request's time zone is gone: the
    # viewer's zone is passed along.
    rows = _export_rows(program, tz=timezone.get_current_timezone())
    # A byte order mark first: Excel on Windows reads a CSV without one in the local code page,
    # and accented names come out garbled.
    response = StreamingHttpResponse(itertools.chain(["\ufeff"], (writer.writerow(row) for row in rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{program.slug}-pairs-{timezone.localdate().isoformat()}.csv"'
    return response


# --- executive dashboard ----------------------------------------------------------------------

KPIS = [
    # key, path in snapshot data, label, format, better ("up"/"down"), path of n for suppression
    ("match_rate", "match_rate", "Match rate", "pct", "up", None),
    ("meetings", "meetings.per_pair_per_month", "Meetings per pair per month", "num", "up", None),
    ("cancellations", "cancellations.senior_side", "Senior-side cancellations", "int", "down", None),
    ("nps", "nps.score", "NPS (−100 to 100)", "int", "up", "nps.n"),
    ("insights", "insight_to_action.insights", "Insights raised", "int", "up", None),
    ("actions", "insight_to_action.actions_committed", "Actions committed", "int", "up", None),
    ("done", "insight_to_action.actions_done", "Actions done", "int", "up", None),
]

FORMATS = {"pct": _pct, "num": _num, "int": lambda v: _num(v, 0)}


def _kpi_value(data: dict, path: str, n_path):
    value = _get(data, path)
    if n_path is not None and metrics.suppress_total(_get(data, n_path) or 0, value) == metrics.FEWER_THAN:
        return None, True
    return value, False


def _matching_detail(data: dict, finished: bool = False) -> str | None:
    """What the match rate counts, so that a fall reads as what it is: approved mentees who
    still wait for a pair (ended pairs still count as paired); once the program is over,
    those who never had one."""
    paired, approved = _get(data, "matching.paired_mentees"), _get(data, "matching.approved_mentees")
    if paired is None or approved is None:
        return None
    if approved > paired and finished:
        never = approved - paired
        return ngettext(
            "%(paired)s of %(approved)s approved mentees had a pair; %(never)s never had one",
            "%(paired)s of %(approved)s approved mentees had a pair; %(never)s never had one",
            never,
        ) % {"paired": paired, "approved": approved, "never": never}
    if approved > paired:
        waiting = approved - paired
        return ngettext(
            "%(paired)s of %(approved)s approved mentees have had a pair; %(waiting)s waits for one",
            "%(paired)s of %(approved)s approved mentees have had a pair; %(waiting)s wait for one",
            waiting,
        ) % {"paired": paired, "approved": approved, "waiting": waiting}
    return _("%(paired)s of %(approved)s approved mentees have had a pair") % {"paired": paired, "approved": approved}


def _kpi_detail(key: str, data: dict, program: Program, finished: bool, hidden: bool) -> str | None:
    """What a key figure counts and over which period, so that a bare number is never left to
    be guessed at ("15" of what, since when; an NPS of how many answers)."""
    since = formats.date_format(program.starts_on)
    if key == "match_rate":
        return _matching_detail(data, finished)
    if key == "meetings":
        held = _get(data, "meetings.held") or 0
        if _get(data, "meetings.per_pair_per_month") is None and any(_get(data, f"pairs.{k}") for k in ("active", "paused", "ended")):
            return _("too early: the pairs are new")
        return ngettext("%(n)s meeting held since %(since)s", "%(n)s meetings held since %(since)s", held) % {"n": held, "since": since}
    if key == "cancellations":
        per_pair = _get(data, "cancellations.senior_side_per_pair")
        return _("since %(since)s; %(r)s per pair") % {"since": since, "r": _num(per_pair or 0, 2)}
    if key == "nps":
        if hidden:
            return _("fewer than %(n)s answers so far: too few to show") % {"n": metrics.MIN_GROUP}
        n = _get(data, "nps.n") or 0
        return ngettext("%(n)s answer", "%(n)s answers", n) % {"n": n}
    if key in ("insights", "actions"):
        return _("since %(since)s") % {"since": since}
    if key == "done":
        committed, done = _get(data, "insight_to_action.actions_committed"), _get(data, "insight_to_action.actions_done")
        return _("%(pct)s of the actions committed") % {"pct": _pct(metrics.ratio(done or 0, committed))} if committed else None
    return None


def _kpis(latest: dict, previous: dict | None, *, program: Program, finished: bool = False) -> list[dict]:
    """The key figures, each with what it counts and, for a running program, its change since
    the previous figures, said in words (better, worse, no change) as well as in colour.
    A finished program's figures are final: no change is shown."""
    tiles = []
    for key, path, label, fmt, better, n_path in KPIS:
        value, hidden = _kpi_value(latest, path, n_path)
        tile = {"key": key, "label": _(label), "value": "—" if hidden else FORMATS[fmt](value), "change": None, "direction": None, "verdict": None, "detail": None, "note": None}
        tile["detail"] = _kpi_detail(key, latest, program, finished, hidden)
        # An average of answers (NPS) shown with how many answered: the figures it is
        # published at, which the trend's points must keep their distance from.
        tile["published"] = [] if hidden or value is None or n_path is None else [(_get(latest, n_path) or 0, value)]
        if previous is not None and not finished and not hidden and value is not None:
            before, before_hidden = _kpi_value(previous, path, n_path)
            if before is not None and not before_hidden and n_path is not None:
                # The change would speak for the few answers that came in since.
                n_before = _get(previous, n_path) or 0
                if metrics.change_shown(n=tile["published"][0][0], value=value, n_before=n_before, value_before=before):
                    tile["published"].append((n_before, before))
                else:
                    before = None
                    tile["note"] = _("change not shown: fewer than %(n)s new answers") % {"n": metrics.MIN_GROUP}
            if before is not None and not before_hidden:
                delta = float(value) - float(before)
                # Judged on the figure as shown: a change that rounds to nothing is no change
                # (never a red "-0.0").
                shown, digits, suffix = (delta * 100, 0, " pts") if fmt == "pct" else (delta, 1 if fmt == "num" else 0, "")
                shown = round(shown, digits)
                if shown == 0:
                    tile["change"], tile["direction"], tile["verdict"] = "±0", "flat", _("no change")
                else:
                    tile["change"] = _signed(shown, digits, suffix)
                    tile["direction"] = "good" if (shown > 0) == (better == "up") else "bad"
                    tile["verdict"] = _("better") if tile["direction"] == "good" else _("worse")
        tiles.append(tile)
    return tiles


def _breakdown(rows, *, value_key: str = "people") -> dict:
    """Suppressed cells plus chart data holding only the shown groups, and a note saying how
    many groups the chart leaves out (a chart must not read as if they did not exist)."""
    rows = rows or []
    cells = metrics.suppress({(r.get("group") or _("No department")): (r.get("people") or 0, r.get(value_key)) for r in rows})
    total = sum(r.get("people") or 0 for r in rows)
    shown = [c for c in cells if not c.hidden]
    chart = {"type": "bar", "labels": [c.label for c in shown], "datasets": [{"label": _("People"), "data": [c.value for c in shown]}]}
    # One count for every hidden cell: which of them are small is what the hiding protects.
    hidden = sum(c.hidden for c in cells)
    note = (
        ngettext(
            "%(k)s group is hidden to protect groups of fewer than %(n)s people.",
            "%(k)s groups are hidden to protect groups of fewer than %(n)s people.",
            hidden,
        )
        % {"k": hidden, "n": metrics.MIN_GROUP}
        if hidden
        else ""
    )
    return {"cells": cells, "total": total, "hidden": hidden, "chart": chart, "chart_note": note}


def _topic_breakdown(rows, *, participants: int) -> dict:
    """Participants by topic: a person picks one or more topics, so the counts can add up to
    more than the participants, and the page says so rather than leave it to look wrong."""
    b = _breakdown(rows)
    if b["total"] > participants:
        b["overlap_note"] = _("People choose one or more topics, so these add up to more than the %(n)s participants.") % {"n": participants}
    return b


def _uplift(rows, label_key: str, *, topics: bool = True) -> dict:
    """Mean change per topic (or growth item); one answered by fewer than MIN_GROUP people is
    not shown, and the chart says how many it leaves out."""
    few = _("fewer than %(n)s answers") % {"n": metrics.MIN_GROUP}

    def hidden(r) -> bool:
        return metrics.suppress_total(r.get("n") or 0, r.get("mean")) == metrics.FEWER_THAN

    items = [{"label": r.get(label_key) or "—", "n": r.get("n") or 0, "shown": few if hidden(r) else ("—" if r.get("mean") is None else _signed(r["mean"], 2))} for r in rows or []]
    drawable = [(r.get(label_key) or "—", r.get("mean")) for r in rows or [] if not hidden(r) and r.get("mean") is not None]
    chart = {"type": "bar", "labels": [label for label, _v in drawable], "datasets": [{"label": _("Mean change (1–5 scale)"), "data": [v for _l, v in drawable]}]}
    left_out = sum(1 for r in rows or [] if hidden(r))
    if topics:
        note = ngettext("%(k)s topic with fewer than %(n)s answers is not shown.", "%(k)s topics with fewer than %(n)s answers are not shown.", left_out)
    else:
        note = ngettext("%(k)s item with fewer than %(n)s answers is not shown.", "%(k)s items with fewer than %(n)s answers are not shown.", left_out)
    note = note % {"k": left_out, "n": metrics.MIN_GROUP} if left_out else ""
    return {"items": items, "chart": chart, "chart_note": note}


def _career_row(label: str, d: dict | None) -> dict:
    d = d or {}
    n, n_peers = d.get("n_participants") or 0, d.get("n_peers") or 0
    # A rate is not shown when its group is under the minimum, or when, multiplied back by the
    # group's size (which the page gives), it names 1 to 4 people who did or did not: "10% of
    # 10 promoted" is one person. The difference goes with either rate, which with the other
    # rate it would give back.
    participants = metrics.suppress_rate(events=d.get("events_participants"), n=n, rate=d.get("participants"))
    peers = metrics.suppress_rate(events=d.get("events_peers"), n=n_peers, rate=d.get("peers"))
    hidden, peers_hidden = isinstance(participants, str), isinstance(peers, str)
    return {
        "label": label,
        "participants": participants if hidden else _pct(participants),
        "peers": peers if peers_hidden else _pct(peers),
        "difference": "—" if hidden or peers_hidden or d.get("difference") is None else _signed_or_even(d["difference"] * 100, 0, " pts"),
        "hidden": hidden or peers_hidden,
    }


def _signed_or_even(value, digits: int = 0, suffix: str = "") -> str:
    """A change as shown: "±0" when it rounds to nothing (never "+0" or "-0")."""
    shown = round(float(value), digits)
    return f"±0{suffix}" if shown == 0 else _signed(shown, digits, suffix)


def _fixed(value, digits: int = 0) -> str:
    """A table cell: the same number of decimals on every row of a column, in the viewer's
    locale ("—" for no value). Rounded as the key figures are, so the two agree."""
    return "—" if value is None else formats.number_format(round(float(value), digits), decimal_pos=digits)


def _of(part, whole) -> str | None:
    return None if part is None or whole is None else _("%(part)s of %(whole)s") % {"part": part, "whole": whole}


def _trend(series: list[dict], *, nps_published=()) -> dict | None:
    """The trend's charts and table. An NPS point is shown only far enough, in answers, from
    the others shown and from the key figure's (`nps_published`): two NPS a few answers apart
    give those answers away."""
    if not series:
        return None
    nps_shown = metrics.series_shown([(row.get("nps_n") or 0, row.get("nps")) for row in series], published=nps_published)
    labels = [formats.date_format(row["as_of"]) for row in series]
    # The charts' axes: the day and month (the heading gives the years), so that they lie flat.
    ticks = [formats.date_format(row["as_of"], "j M") for row in series]

    def pct(v):
        return None if v is None else round(float(v) * 100, 1)

    rows = [
        {
            "as_of": row["as_of"],
            "match_rate": pct(row.get("match_rate")),
            "paired_mentees": row.get("paired_mentees"),
            "approved_mentees": row.get("approved_mentees"),
            "cadence": pct(row.get("cadence")),
            "meetings": row.get("meetings"),
            "nps": row.get("nps") if nps_ok else None,
            "insights": row.get("insights"),
            "actions": row.get("actions"),
            "done": row.get("done"),
        }
        for row, nps_ok in zip(series, nps_shown, strict=True)
    ]
    # The table under the charts gets its rows as tuples of text, dated as the charts are: a
    # year of weekly rows put through the template's date and number formatting and an inner
    # loop per cell took half the time of the page's body. Each column has fixed decimals:
    # percentages whole as on the key figures, meetings per pair to one decimal, NPS and
    # counts whole.
    def whole_pct(v):  # from the stored share, rounded once, as on the key figures
        return None if v is None else float(v) * 100

    table = [
        (
            label,
            _fixed(whole_pct(figures.get("match_rate"))),
            _of(row["paired_mentees"], row["approved_mentees"]) or "—",
            _fixed(whole_pct(figures.get("cadence"))),
            _fixed(row["meetings"], 1),
            _fixed(row["nps"]),
            _fixed(row["insights"]),
            _fixed(row["actions"]),
            _fixed(row["done"]),
        )
        for label, row, figures in zip(labels, rows, series, strict=True)
    ]
    return {
        "rows": rows,
        "table": table,
        "nps_held_back": any(row.get("nps") is not None and (row.get("nps_n") or 0) >= metrics.MIN_GROUP and not ok for row, ok in zip(series, nps_shown, strict=True)),
        "percent_chart": {
            "type": "line",
            "percent": True,
            "labels": labels,
            "tick_labels": ticks,
            "datasets": [{"label": _("Match rate (%)"), "data": [r["match_rate"] for r in rows]}, {"label": _("Cadence adherence (%)"), "data": [r["cadence"] for r in rows]}],
        },
        "activity_chart": {
            "type": "line",
            "labels": labels,
            "tick_labels": ticks,
            "datasets": [{"label": _("Meetings per pair per month"), "data": [r["meetings"] for r in rows]}],
        },
        "actions_chart": {
            "type": "line",
            "labels": labels,
            "tick_labels": ticks,
            "datasets": [
                {"label": _("Insights raised"), "data": [r["insights"] for r in rows]},
                {"label": _("Actions committed"), "data": [r["actions"] for r in rows]},
                {"label": _("Actions done"), "data": [r["done"] for r in rows]},
            ],
        },
    }


def _career_coverage(d: dict | None, participants_total: int) -> str:
    """Who the retention and promotion comparison counts, said so that it reconciles with the
    participant total of "Who takes part": only people with the organisation when the program
    began can be followed over its period."""
    d = d or {}
    n, peers = d.get("n_participants") or 0, d.get("n_peers") or 0
    everyone = d.get("n_all_participants", participants_total)
    if 0 < n < metrics.MIN_GROUP:
        return _("%(n)s of %(all)s participants were with the organisation when the program began: too few to compare. %(peers)s peers.") % {"n": metrics.FEWER_THAN, "all": everyone, "peers": peers}
    if n >= everyone:
        return _("%(n)s participants, %(peers)s peers.") % {"n": n, "peers": peers}
    joined, left = d.get("n_joined_after_start") or 0, d.get("n_left_before_start") or 0
    reasons = []
    if joined:
        reasons.append(_("%(k)s joined the organisation after the program began") % {"k": joined})
    if left:
        reasons.append(_("%(k)s had left it before the program began") % {"k": left})
    if everyone - n - joined - left > 0:  # a snapshot from before the reasons were kept
        reasons.append(_("%(k)s were not with the organisation when the program began") % {"k": everyone - n - joined - left})
    return _("%(n)s of %(all)s participants (%(why)s), %(peers)s peers.") % {"n": n, "all": everyone, "why": "; ".join(reasons), "peers": peers}


# Programs an executive may read: running ones once they have figures, and finished ones
# (completed, and archived: read-only, never hidden) so that past results stay in reach.
EXECUTIVE_STATUSES = (Program.Status.ACTIVE, Program.Status.COMPLETED, Program.Status.ARCHIVED)
FINISHED = (Program.Status.COMPLETED, Program.Status.ARCHIVED)


def _executive_programs() -> list[Program]:
    has_snapshot = Exists(MetricSnapshot.objects.filter(program=OuterRef("pk")))
    # A program that has just started is listed too ("no figures yet"): hiding it would read
    # as if it did not exist.
    programs = Program.objects.annotate(has_snapshot=has_snapshot).filter(status__in=EXECUTIVE_STATUSES)
    # A discarded draft (archived straight from draft) never ran: nothing to read.
    discarded = ProgramTransition.objects.filter(program=OuterRef("pk"), from_status=Program.Status.DRAFT, to_status=Program.Status.ARCHIVED)
    programs = programs.exclude(Exists(discarded))
    # Running programs first, then completed, then archived; the most recent first in each.
    order = {status: i for i, status in enumerate(EXECUTIVE_STATUSES)}
    return sorted(programs, key=lambda p: (order[p.status], -p.starts_on.toordinal(), p.name))


def _program_groups(programs: list[Program]) -> list[tuple[str, list[Program]]]:
    labels = {Program.Status.ACTIVE: _("Running"), Program.Status.COMPLETED: _("Completed"), Program.Status.ARCHIVED: _("Archived (read-only)")}
    return [(labels[status], group) for status in EXECUTIVE_STATUSES if (group := [p for p in programs if p.status == status])]


def _trend_window(program: Program, latest_day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The days the trend covers: a finished program's own run (start to end, not the weeks
    after it), or the last TREND_WEEKS weeks of a running one."""
    if program.status in FINISHED:
        return program.starts_on, program.ends_on
    if program.starts_on > latest_day:  # published before its start: the figures so far only
        return latest_day - datetime.timedelta(weeks=TREND_WEEKS) + datetime.timedelta(days=1), latest_day
    return max(program.starts_on, latest_day - datetime.timedelta(weeks=TREND_WEEKS) + datetime.timedelta(days=1)), latest_day


def _final_or_latest(snapshots, program: Program, n: int = 1):
    """The latest snapshot (or `n` of them, newest first): for a finished program, the latest
    up to its last day, so that HR and executives both read its final figures, not a later
    night's (older nightly runs kept computing finished programs as of that day)."""
    newest_first = snapshots.order_by("-as_of")
    rows = list(newest_first.filter(as_of__lte=program.ends_on)[:n]) if program.status in FINISHED else []
    rows = rows or list(newest_first[:n])
    return rows if n > 1 else (rows[0] if rows else None)


def executive_dashboard_render(request):
    """The executive home page's body; mentoring.views.executive_home checks the role first."""
    programs = _executive_programs()
    chosen = request.GET.get("program") or None
    program = next((p for p in programs if str(p.pk) == chosen), None)
    if chosen is not None and program is None:
        # A malformed id, an unknown one, or one that names a program executives may not read:
        # one answer for all (so it tells nothing about the program), a 404 that says so and
        # offers the programs there are, never another program's figures under the name asked for.
        context = {"programs": programs, "program_groups": _program_groups(programs), "program": None, "snapshot": None, "unavailable": True, "dashboard_url": reverse("executive_home")}
        return render(request, "mentoring/executive_home.html", context, status=404)
    if program is None:
        # A running program that has begun, then any with figures, then the first listed.
        today = timezone.localdate()
        program = next(
            (p for p in programs if p.has_snapshot and p.starts_on <= today),
            next((p for p in programs if p.has_snapshot), programs[0] if programs else None),
        )
    context = {"programs": programs, "program_groups": _program_groups(programs), "program": program, "snapshot": None, "dashboard_url": reverse("executive_home")}
    if program is None or not program.has_snapshot:
        # A program published before its start has no figures until then: say when that is.
        context["starts_later"] = program is not None and program.starts_on > timezone.localdate()
        return render(request, "mentoring/executive_home.html", context)
    # The snapshots shown: the latest two (key figures and their change) and the last of each
    # week in the trend's window, picked from a small read of the window's days; a grouped
    # subquery instead leaves the planner guessing on a table that grows one row a night.
    snapshot_rows = MetricSnapshot.objects.filter(program=program).values_list("pk", "as_of", "computed_at")
    latest_two = _final_or_latest(snapshot_rows, program, 2)
    latest, previous = latest_two[0], (latest_two[1] if len(latest_two) > 1 else None)
    first_day, last_day = _trend_window(program, latest[1])
    last_of_week = {}
    for day in snapshot_rows.filter(as_of__gte=first_day, as_of__lte=last_day).order_by("as_of"):
        last_of_week[day[1].isocalendar()[:2]] = day
    shown = [latest, previous, *last_of_week.values()]
    # The body shows aggregates of these snapshots and nothing about the viewer: it is rendered
    # once per set of snapshots (a recomputed day changes its computed_at, so the key) and
    # served from the cache to everyone else.
    # Also keyed on: the program's snapshot version (bumped by every snapshot_save, so a
    # recomputed past day shows at once), the trend's window (a program that finishes or
    # changes its dates) and the suppression rule (a deploy that changes it must not serve
    # bodies rendered under the old one from a shared cache).
    version = cache.get(snapshots.dashboard_version_key(program.pk))
    key = "executive-dashboard:" + hashlib.sha256(
        repr((program.pk, get_language(), version, metrics.MIN_GROUP, BODY_LAYOUT_VERSION, program.status, first_day, last_day, [(d[0], d[2].isoformat()) for d in shown if d])).encode()
    ).hexdigest()
    body = cache.get(key)
    if body is None:
        body_context = _executive_body(program, latest[0], previous[0] if previous else None, [d[0] for d in last_of_week.values()])
        # The heading names the days the chart shows: from its first point (figures may begin
        # after the window does, or after a finished program's first day).
        first_point = min((day[1] for day in last_of_week.values()), default=first_day)
        body_context["trend_window"] = {"start": max(first_day, first_point), "end": last_day, "run": program.status in FINISHED, "run_start": program.starts_on, "starts_on": program.starts_on if program.starts_on > last_day else None}
        body = render_to_string("programs/_dashboard_executive_body.html", body_context)
        cache.set(key, body, EXECUTIVE_BODY_SECONDS)
    context.update(
        {
            "snapshot": {"as_of": latest[1], "computed_at": latest[2]},
            # Safe HTML from the template engine; the cache keeps it so (a cache that did not
            # would show the markup escaped, never unescaped).
            "body": body,
        }
    )
    return render(request, "mentoring/executive_home.html", context)


def _executive_body(program: Program, latest_pk: int, previous_pk: int | None, weekly_pks: list[int]) -> dict:
    both = {s.pk: s for s in MetricSnapshot.objects.filter(pk__in=[pk for pk in (latest_pk, previous_pk) if pk])}
    snapshot, previous = both[latest_pk], both.get(previous_pk)
    # Each snapshot carries its trend figures in one small object; older snapshots without it
    # have them picked out of the whole document.
    picked = JSONObject(**{key: F(f"data__{path}") for key, path in snapshots.TREND_FIGURES.items()})
    series = [
        # SQLite picks a JSON null out of a document as the text "null".
        {"as_of": as_of, **{key: (None if value == "null" else value) for key, value in (figures or {}).items()}}
        for as_of, figures in MetricSnapshot.objects.filter(pk__in=weekly_pks).order_by("as_of").values_list("as_of", Coalesce(F("data__trend"), picked, output_field=JSONField()))
    ]
    data = snapshot.data or {}
    kpis = _kpis(data, previous.data if previous else None, program=program, finished=program.status in FINISHED)
    ita = data.get("insight_to_action", {})
    themes = [{"topic": r.get("topic"), "insights": r.get("insights", 0), "actions": r.get("actions", 0), "done": r.get("done", 0)} for r in ita.get("by_topic", [])]
    return {
        "program": program,
        "snapshot": snapshot,
        "previous": previous,
        "kpis": kpis,
        "finished": program.status in FINISHED,
        "trend": _trend(series, nps_published=next(t["published"] for t in kpis if t["key"] == "nps")),
        "by_department": _breakdown(data.get("by_department")),
        "by_level_band": _breakdown(data.get("by_level_band")),
        "by_topic": _topic_breakdown(data.get("by_topic"), participants=sum(r.get("people") or 0 for r in data.get("by_department") or [])),
        "uplift": _uplift(data.get("uplift_mentee"), "topic"),
        "growth": _uplift(data.get("growth_mentor"), "label", topics=False),
        "career": (career := [_career_row(_("Still with the organisation"), data.get("retention")), _career_row(_("Promoted"), data.get("promotion"))]),
        "career_hidden": any(r["hidden"] for r in career),
        "career_coverage": _career_coverage(data.get("retention"), sum(r.get("people") or 0 for r in data.get("by_department") or [])),
        "themes": themes,
        "themes_chart": {
            "type": "bar",
            "labels": [t["topic"] for t in themes],
            "datasets": [{"label": _("Insights"), "data": [t["insights"] for t in themes]}, {"label": _("Actions committed"), "data": [t["actions"] for t in themes]}, {"label": _("Actions done"), "data": [t["done"] for t in themes]}],
        },
        "min_group": metrics.MIN_GROUP,
        "final_survey_closed": _final_survey_closed(program),
    }


def _final_survey_closed(program: Program) -> bool:
    """No final survey answer is still to come: the empty uplift and growth cards say so."""
    from sessions_log.services import survey_window  # noqa: PLC0415 - sessions_log depends on programs

    window = survey_window(program, "final")
    return program.is_archived or (window is not None and window[1] < timezone.localdate())
