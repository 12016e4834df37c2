"""How the audit log reads to an HR admin: field labels, names for ids, words for codes.

Formatting happens when the page is shown, never when an event is written: rows keep the ids and
codes they were written with (nothing in them can ever need erasing), and entries written long
ago read as well as new ones. Names are looked up now, for the whole page at once (one query per
kind of object): an erased person reads "Erased person #12" as everywhere else, and an object
deleted since reads as its kind and id ("pair #135, since deleted").
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import AuditEvent, Employee, Role, User

A = AuditEvent.Action

# A list longer than this shows its first items and how many more (a published run can hold
# thousands of pairs; an import, thousands of people).
LIST_LIMIT = 6
# Written by services for a value kept out of the log (a name, an email, a program's text).
HIDDEN = "(changed)"


# --- Names of the objects an event points at ---------------------------------------------------------


@dataclass
class Names:
    """Ids wanted per kind of object, then their current labels, looked up in one go."""

    wanted: dict[str, set[int]] = field(default_factory=dict)
    labels: dict[tuple[str, int], str] = field(default_factory=dict)

    def want(self, kind: str, pk) -> None:
        try:
            self.wanted.setdefault(kind, set()).add(int(pk))
        except (TypeError, ValueError):
            pass

    def label(self, kind: str, pk) -> str:
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return str(pk)
        if (kind, pk) in self.labels:
            return self.labels[kind, pk]
        return _("%(kind)s #%(id)s, since deleted") % {"kind": _KIND_WORDS.get(kind, kind), "id": pk}

    def resolve(self) -> None:
        for kind, ids in self.wanted.items():
            ids = ids - {pk for k, pk in self.labels if k == kind}
            if ids:
                self.labels.update({(kind, pk): text for pk, text in _LOOKUPS[kind](ids).items()})


def _people(ids) -> dict[int, str]:
    return {pk: f"{first} {last}".strip() for pk, first, last in Employee.objects.filter(pk__in=ids).values_list("pk", "first_name", "last_name")}


def _logins(ids) -> dict[int, str]:
    return {pk: name or email for pk, email, name in User.objects.filter(pk__in=ids).values_list("pk", "email", "full_name")}


def _enrollments(ids) -> dict[int, str]:
    from programs.models import Enrollment  # noqa: PLC0415 - programs builds on this app

    rows = Enrollment.objects.filter(pk__in=ids).values_list("pk", "employee__first_name", "employee__last_name")
    return {pk: f"{first} {last}".strip() for pk, first, last in rows}


def _pairs(ids) -> dict[int, str]:
    from pairing.models import Pair  # noqa: PLC0415

    rows = Pair.objects.filter(pk__in=ids).values_list(
        "pk", "mentor__employee__first_name", "mentor__employee__last_name", "mentee__employee__first_name", "mentee__employee__last_name"
    )
    return {pk: _pair_words(f"{a} {b}".strip(), f"{c} {d}".strip()) for pk, a, b, c, d in rows}


def _programs(ids) -> dict[int, str]:
    from programs.models import Program  # noqa: PLC0415

    return dict(Program.objects.filter(pk__in=ids).values_list("pk", "name"))


def _topics(ids) -> dict[int, str]:
    from programs.models import Topic  # noqa: PLC0415

    return dict(Topic.objects.filter(pk__in=ids).values_list("pk", "name"))


def _departments(ids) -> dict[int, str]:
    from .models import Department  # noqa: PLC0415

    return dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))


def _match_runs(ids) -> dict[int, str]:
    from pairing.models import MatchRun  # noqa: PLC0415

    return {pk: _("%(program)s, run #%(id)s") % {"program": name, "id": pk} for pk, name in MatchRun.objects.filter(pk__in=ids).values_list("pk", "program__name")}


def _overrides(ids) -> dict[int, str]:
    from pairing.models import PairingOverride  # noqa: PLC0415

    rows = PairingOverride.objects.filter(pk__in=ids).values_list(
        "pk", "mentor__employee__first_name", "mentor__employee__last_name", "mentee__employee__first_name", "mentee__employee__last_name"
    )
    return {pk: _pair_words(f"{a} {b}".strip(), f"{c} {d}".strip()) for pk, a, b, c, d in rows}


def _concerns(ids) -> dict[int, str]:
    from sessions_log.models import Concern  # noqa: PLC0415

    return _about_pairs(Concern, ids)


def _pulse_alerts(ids) -> dict[int, str]:
    from sessions_log.models import PulseAlert  # noqa: PLC0415

    return _about_pairs(PulseAlert, ids)


def _about_pairs(model, ids) -> dict[int, str]:
    rows = model.objects.filter(pk__in=ids).values_list(
        "pk", "pair__mentor__employee__first_name", "pair__mentor__employee__last_name", "pair__mentee__employee__first_name", "pair__mentee__employee__last_name"
    )
    return {pk: _pair_words(f"{a} {b}".strip(), f"{c} {d}".strip()) for pk, a, b, c, d in rows}


def _roster_imports(ids) -> dict[int, str]:
    from .models import RosterImport  # noqa: PLC0415

    return dict(RosterImport.objects.filter(pk__in=ids).values_list("pk", "filename"))


def _pair_words(mentor: str, mentee: str) -> str:
    return _("%(mentor)s & %(mentee)s") % {"mentor": mentor, "mentee": mentee}


_LOOKUPS = {
    "employee": _people,
    "user": _logins,
    "enrollment": _enrollments,
    "pair": _pairs,
    "program": _programs,
    "topic": _topics,
    "department": _departments,
    "matchrun": _match_runs,
    "override": _overrides,
    "concern": _concerns,
    "pulsealert": _pulse_alerts,
    "rosterimport": _roster_imports,
}
_KIND_WORDS = {
    "employee": "person", "user": "account", "enrollment": "application", "pair": "pair", "program": "program", "topic": "topic",
    "department": "department", "matchrun": "match run", "override": "pin or exclusion", "concern": "concern", "pulsealert": "alert",
    "rosterimport": "roster import",
}
# The log's object types, by the kind of name they have.
OBJECT_KINDS = {
    "mentoring.user": "user",
    "mentoring.employee": "employee",
    "mentoring.rosterimport": "rosterimport",
    "programs.program": "program",
    "pairing.matchrun": "matchrun",
    "pairing.pairingoverride": "override",
    "pairing.pair": "pair",
    "sessions_log.concern": "concern",
    "sessions_log.pulsealert": "pulsealert",
}


# --- How one value reads ------------------------------------------------------------------------------


def _bounded(items: list[str], total: int | None = None, separator: str = ", ") -> str:
    total = len(items) if total is None else total
    if not total:
        return _("none")
    shown = items[:LIST_LIMIT]
    text = separator.join(shown)
    if total > len(shown):
        text += " " + ngettext("and %(n)s more", "and %(n)s more", total - len(shown)) % {"n": f"{total - len(shown):,}"}
    return text


def _humanise(key: str) -> str:
    return capfirst(str(key).replace("_", " "))


class Plain:
    """Numbers, dates, words as they are; None as "none"; lists and mappings spelt out."""

    def refs(self, value) -> Iterable[tuple[str, int]]:
        return ()

    def text(self, value, names: Names) -> str:
        if value is None or value == "":
            return _("none")
        if value == HIDDEN:
            return _("changed (not kept in the log)")
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if isinstance(value, list):
            return _bounded([self.text(v, names) for v in value])
        if isinstance(value, dict):
            return "; ".join(f"{_humanise(k)}: {self.text(v, names)}" for k, v in value.items()) or _("none")
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


PLAIN = Plain()


class Choice(Plain):
    """A code with a name ("in_hand" is "In hand"); several codes in a list."""

    def __init__(self, choices):
        self.choices = {str(k): str(v) for k, v in dict(choices).items()}

    def text(self, value, names):
        if isinstance(value, list):
            return _bounded([self.text(v, names) for v in value]) if value else _("none")
        if isinstance(value, str) and value in self.choices:
            return self.choices[value]
        return super().text(value, names)


class Ref(Plain):
    """The id of an object (or a list of ids), shown by its current name."""

    def __init__(self, kind: str):
        self.kind = kind

    def refs(self, value):
        values = value if isinstance(value, list) else [value]
        return [(self.kind, v) for v in values[:LIST_LIMIT] if v is not None]

    def text(self, value, names):
        if value is None:
            return _("none")
        if isinstance(value, list):
            # Pairs read "Ann Lee & Bo Chen": a list of them is split by semicolons.
            return _bounded([names.label(self.kind, v) for v in value[:LIST_LIMIT]], len(value), separator="; " if self.kind == "pair" else ", ")
        return names.label(self.kind, value)


class PairsOf(Plain):
    """A proposal's pairs: [mentor id, mentee id] or [mentor id, mentee id, score] each, the
    ids of their applications (enrollments) in the program."""

    def __init__(self, kind: str):
        self.kind = kind

    def _items(self, value):
        return [v for v in value if isinstance(v, list) and len(v) >= 2] if isinstance(value, list) else []

    def refs(self, value):
        return [(self.kind, pk) for item in self._items(value)[:LIST_LIMIT] for pk in item[:2]]

    def text(self, value, names):
        items = self._items(value)
        if not isinstance(value, list) or len(items) != len(value):
            return super().text(value, names)
        if not items:
            return _("none")
        shown = []
        for item in items[:LIST_LIMIT]:
            words = _pair_words(names.label(self.kind, item[0]), names.label(self.kind, item[1]))
            shown.append(_("%(pair)s (score %(score)s)") % {"pair": words, "score": item[2]} if len(item) > 2 else words)
        text = "; ".join(shown)
        if len(items) > LIST_LIMIT:
            more = len(items) - LIST_LIMIT
            text += " " + ngettext("and %(n)s more", "and %(n)s more", more) % {"n": f"{more:,}"}
        return text


class StatusesOf(Plain):
    """{application id: status}: who, and where their application went."""

    def refs(self, value):
        return [("enrollment", pk) for pk in list(value)[:LIST_LIMIT]] if isinstance(value, dict) else Ref("enrollment").refs(value)

    def text(self, value, names):
        from programs.models import Enrollment  # noqa: PLC0415

        if isinstance(value, list):
            return Ref("enrollment").text(value, names)
        if not isinstance(value, dict):
            return super().text(value, names)
        statuses = dict(Enrollment.Status.choices)
        items = [f"{names.label('enrollment', pk)} ({str(statuses.get(status, status)).lower()})" for pk, status in list(value.items())[:LIST_LIMIT]]
        return _bounded(items, len(value))


class Percent(Plain):
    def text(self, value, names):
        return f"{value:.0%}" if isinstance(value, (int, float)) and not isinstance(value, bool) else super().text(value, names)


# A roster import's figures, in the words of its preview page.
_ROSTER_COUNTS = {
    "rows": "rows in the file", "errors": "problems", "creates": "added", "updates": "updated", "level_changes": "level changes",
    "leavers": "leavers", "rejoiners": "rejoined", "unchanged": "unchanged", "not_in_file": "current people not in the file",
    "new_departments": "new departments", "erased": "erased people left out",
}


class Counts(Plain):
    def text(self, value, names):
        if not isinstance(value, dict):
            return super().text(value, names)
        parts = [f"{n:,} {_ROSTER_COUNTS.get(k, k.replace('_', ' '))}" for k, n in value.items() if isinstance(n, int) and n]
        return ", ".join(parts) or _("nothing")


class People(Plain):
    """An import's "employees" ({person id: what changed}) on the whole log: who, not what."""

    def refs(self, value):
        return [("employee", pk) for pk in list(value)[:LIST_LIMIT]] if isinstance(value, dict) else ()

    def text(self, value, names):
        if not isinstance(value, dict):
            return super().text(value, names)
        return _bounded([names.label("employee", pk) for pk in list(value)[:LIST_LIMIT]], len(value))


class Part(Plain):
    def text(self, value, names):
        if isinstance(value, list) and len(value) == 2:
            return _("%(n)s of %(total)s") % {"n": value[0], "total": value[1]}
        return super().text(value, names)


# --- Which field is which --------------------------------------------------------------------------------


def _status_choices(object_type: str):
    from pairing.models import MatchRun, Pair  # noqa: PLC0415
    from programs.models import Program  # noqa: PLC0415
    from sessions_log.models import Concern  # noqa: PLC0415

    return {
        "programs.program": Program.Status.choices,
        "pairing.pair": Pair.Status.choices,
        "pairing.matchrun": MatchRun.Status.choices,
        "sessions_log.concern": Concern.Status.choices,
    }.get(object_type, ())


def _program_field(name: str):
    """(label, format) of a program setting, from the model (edits and creation log them all)."""
    from django.core.exceptions import FieldDoesNotExist  # noqa: PLC0415

    from programs.models import Program  # noqa: PLC0415

    if name == "topics":
        return _("Topics"), Ref("topic")
    if name == "departments":
        return _("Departments"), Ref("department")
    try:
        model_field = Program._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return capfirst(str(model_field.verbose_name)), Choice(model_field.choices) if model_field.choices else PLAIN


def _roster_field(name: str):
    """(label, format) of one person's change in a roster import (the log filtered to them)."""
    from .roster import FIELD_LABELS  # noqa: PLC0415 - roster imports this module's neighbours

    if name == "created":
        return _("Added to the directory"), PLAIN
    if name == "manager_id":
        return _("Manager"), Ref("employee")
    return capfirst(FIELD_LABELS.get(name, name.replace("_", " "))), PLAIN


def field_format(event: AuditEvent, name: str) -> tuple[str, Plain]:
    """The label and the format of `name` in this event."""
    from pairing.models import MatchRun, Pair, PairingOverride  # noqa: PLC0415
    from programs.models import Resource  # noqa: PLC0415
    from programs.models import Role as ProgramRole  # noqa: PLC0415

    action = event.action
    if action in (A.PROGRAM_CREATED, A.PROGRAM_UPDATED, A.PROGRAM_TRANSITIONED) and (found := _program_field(name)):
        return found
    if name == "status":
        return _("Status"), Choice(_status_choices(event.object_type))
    if name == "pairs":
        if action in (A.MATCH_RUN_PROPOSED, A.PROPOSAL_CHANGED):
            return _("Pairs"), PairsOf("enrollment")
        return _("Pairs"), Ref("pair")
    if name == "enrollments":
        return (_("People invited") if action == A.ENROLLMENTS_INVITED else _("Applications")), StatusesOf()
    if name == "role":
        return (_("As") if action == A.ENROLLMENTS_INVITED else _("Role")), Choice([*ProgramRole.choices, *Role.choices])
    if name == "kind":
        if action == A.MATCH_RUN_STARTED:
            return _("Kind"), Choice(MatchRun.Kind.choices)
        return _("Decision"), Choice(PairingOverride.Kind.choices)
    if name == "reason":
        return _("Reason"), Choice([*Pair.EndReason.choices, ("left_company", _("Left the company"))])
    if name == "for":
        return _("For"), Choice(Resource.Audience.choices)
    if name == "employees":
        return _("People"), People()
    refs = {"program": ("Program", "program"), "pair": ("Pair", "pair"), "mentor": ("Mentor", "enrollment"), "mentee": ("Mentee", "enrollment"), "user": ("Account", "user")}
    if name in refs:
        label, kind = refs[name]
        return _(label), Ref(kind)
    formats = {
        "roles": (_("Roles"), Choice(Role.choices)),
        "counts": (_("In the file"), Counts()),
        "match_rate": (_("Match rate"), Percent()),
        "part": (_("Part"), Part()),
        "export": (_("Export"), Choice([("program_pairs_csv", _("Pairs (CSV)"))])),
        "note": (_("HR's note"), Choice([("added", _("written")), ("changed", _("changed")), ("cleared", _("cleared"))])),
    }
    if name in formats:
        return formats[name]
    labels = {
        "pool": _("Approved people in the pool"), "total_score": _("Total score"), "skipped": _("Skipped"), "unknown_emails": _("Unknown addresses"),
        "apply_by": _("Last day to apply"), "renewed": _("Invitations sent again"), "resource": _("Resource"), "file": _("File"), "link": _("Link"),
        "files": _("Files"), "effective_date": _("Effective date"), "truncated": _("Only the first 2,000 people listed"),
        "note_changed": _("HR's note changed"), "resolved": _("Followed up"), "pseudonym": _("Now shown as"), "active": _("Account open"),
        "email_hash": _("Address tried (keyed hash)"), "created": _("Added to the directory"),
        "history_joined_deleted": _("Joining date removed from their history"), "sessions_ended": _("Sign-in sessions ended"),
        "sso_links_deleted": _("Single sign-on links deleted"),
    }
    return labels.get(name) or _humanise(name), PLAIN


# --- Rows ---------------------------------------------------------------------------------------------------


@dataclass
class Change:
    label: str
    before: str | None  # None: the event records only the value after (a fact, not a change)
    after: str


def _fields(event: AuditEvent, person_pk: int | None) -> list[tuple[str, object, object, bool, bool, str, Plain]]:
    """(name, before, after, in before, in after, label, format) for each field shown."""
    before, after = event.before or {}, event.after or {}
    one_person = person_pk is not None and event.action == A.ROSTER_IMPORTED
    if one_person:
        # The log filtered to a person: what this import changed of them, not of everyone.
        key = str(person_pk)
        before = (before.get("employees") or {}).get(key) or {}
        after = dict((after.get("employees") or {}).get(key) or {})
        if person_pk in (event.after.get("created") or []):  # imports logged before 2026-12 listed created people apart
            after["created"] = True
    elif event.action == A.ROSTER_IMPORTED:
        # Who it touched is one list, not two columns of every person's values.
        before = {k: v for k, v in before.items() if k != "employees"}
    names = list(dict.fromkeys([*before, *after]))
    return [(n, before.get(n), after.get(n), n in before, n in after, *(_roster_field(n) if one_person else field_format(event, n))) for n in names]


def _summary_refs(summary: str) -> list[tuple[str, str]]:
    return [(("program" if word.lower() == "program" else "pair"), pk) for word, pk in _SUMMARY_ID.findall(summary)]


# Services write ids into summaries ("Pair #12 paused in program #4"): shown by name instead.
_SUMMARY_ID = re.compile(r"\b(program|pair) #(\d+)", re.IGNORECASE)
_SUMMARY_NAMED_PROGRAM = re.compile(r"“[^”]*” \(program #(\d+)\)")
# Codes some summaries start with ("pin for ...", "rematch run for ..."), as words.
# An erasure's summary names the records by their numbers, in the words the page uses for them.
_ERASED_SUMMARY = re.compile(r"^Employee #(\d+) erased(?: \(login #(\d+)\))?$")
_SUMMARY_CODES = {"pin": "Pin", "exclude": "Keeping apart", "initial": "Initial", "rematch": "Re-match"}


def readable_summary(summary: str, names: Names, *, action: str = "") -> str:
    def named(match):
        pk = int(match.group(1))
        return f"“{names.labels[('program', pk)]}”" if ("program", pk) in names.labels else match.group(0)

    def by_name(match):
        word, pk = match.group(1), int(match.group(2))
        kind = "program" if word.lower() == "program" else "pair"
        if (kind, pk) not in names.labels:
            return match.group(0)
        return f"{word} “{names.labels[kind, pk]}”" if kind == "program" else f"{word} {names.labels[kind, pk]}"

    if action in (A.ROLE_GRANTED, A.ROLE_REVOKED) and summary.startswith("Role "):
        # "Role HR admin granted" under "Role granted": the role alone, the action says the rest.
        return summary.removeprefix("Role ").rsplit(" ", 1)[0]
    if action == A.PERSON_ERASED and (erased := _ERASED_SUMMARY.match(summary)):
        # "Employee #12 erased (login #5)": the number the Object column shows ("Person #12"),
        # and the login as the Who column names one ("Account #5").
        if erased.group(2):
            return _("Person #%(person)s and their account #%(account)s") % {"person": erased.group(1), "account": erased.group(2)}
        return _("Person #%(person)s") % {"person": erased.group(1)}
    if action == A.PROGRAM_UPDATED and summary.startswith("Edited: "):
        # "Edited: midpoint_survey_on, min_score": the settings by the names the form gives them.
        fields = [(_program_field(n) or (n,))[0] for n in summary.removeprefix("Edited: ").split(", ")]
        return _("Edited: %(fields)s") % {"fields": ", ".join(str(f) for f in fields)}
    text = _SUMMARY_ID.sub(by_name, _SUMMARY_NAMED_PROGRAM.sub(named, summary))
    first, _sep, rest = text.partition(" ")
    return f"{_SUMMARY_CODES[first]} {rest}" if first in _SUMMARY_CODES else text


def _nothing(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass
class AuditRow:
    event: AuditEvent
    object_label: str | None  # the object's name now; None when it has none or is gone
    object_gone: bool  # deleted since (a proposed pair taken apart, a removed pin)
    # The name already ends with the object's number ("Erased person #12", "Pilot, run #7"):
    # the page does not repeat it as "Person #12" beside it.
    number_in_label: bool
    type_label: str
    summary: str
    changes: list[Change]


def audit_rows(events, *, person_pk: int | None = None) -> list[AuditRow]:
    """The page's events as rows to show, with one query per kind of object named."""
    from .audit import OBJECT_TYPES  # noqa: PLC0415 - audit imports the models this module reads

    events = list(events)
    names = Names()
    planned = []
    for event in events:
        fields = _fields(event, person_pk)
        for _name, before, after, _in_before, _in_after, _label, fmt in fields:
            for kind, pk in [*fmt.refs(before), *fmt.refs(after)]:
                names.want(kind, pk)
        if event.object_type in OBJECT_KINDS and event.object_id is not None:
            names.want(OBJECT_KINDS[event.object_type], event.object_id)
        for kind, pk in _summary_refs(event.summary):
            names.want(kind, pk)
        planned.append((event, fields))
    names.resolve()
    rows = []
    for event, fields in planned:
        changes = []
        for _name, before, after, in_before, in_after, label, fmt in fields:
            if _nothing(before) and _nothing(after):
                continue  # "none → none" says nothing (an erased person without a login had no roles)
            if event.action == A.PERSON_ERASED and not in_before and after == 0:
                continue  # of the erasure's many counts, those that found something
            if in_before and in_after:
                changes.append(Change(label, fmt.text(before, names), fmt.text(after, names)))
            elif in_before:
                changes.append(Change(label, fmt.text(before, names), _("none")))
            else:
                changes.append(Change(label, None, fmt.text(after, names)))
        kind = OBJECT_KINDS.get(event.object_type)
        key = (kind, event.object_id)
        gone = kind is not None and event.object_id is not None and key not in names.labels
        type_label = str(OBJECT_TYPES.get(event.object_type, event.object_type))
        label = names.labels.get(key)
        number_in_label = label is not None and label.endswith(f"#{event.object_id}")
        rows.append(AuditRow(event, label, gone, number_in_label, type_label, readable_summary(event.summary, names, action=event.action), changes))
    return rows
