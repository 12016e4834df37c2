"""The time zones people choose from: the canonical IANA zones (one per place, as listed in
tzdata's zone.tab), not the ~600 names Python knows, which include aliases (Asia/Calcutta,
US/Eastern), fixed offsets (Etc/GMT+5) and oddities ("Factory", "localtime")."""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from importlib import resources


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    names = {line.split("\t")[2] for line in text.splitlines() if line and not line.startswith("#")}
    names &= zoneinfo.available_timezones()
    return tuple(sorted(names | {"UTC"}))


def _offset(name: str, at: datetime.datetime) -> str:
    minutes = int(at.astimezone(zoneinfo.ZoneInfo(name)).utcoffset().total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def now_in(name: str, *, at: datetime.datetime | None = None) -> datetime.datetime:
    """The time it is now (or `at`) in zone `name`, for "it is 09:40 for them"; UTC for a
    name this Python does not know (a row written around the validator)."""
    at = at or datetime.datetime.now(datetime.UTC)
    try:
        return at.astimezone(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return at.astimezone(datetime.UTC)


def time_zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    """(value, label) pairs, "Europe/Lisbon" shown as "Europe / Lisbon (UTC+00:00)",
    "America/Port_of_Spain" as "America / Port of Spain (UTC-04:00)": the offset today, so
    that a zone can be recognised by it. A stored zone outside the list (an alias the
    directory uses) stays choosable, so saving a form never changes it by surprise."""
    names = list(canonical_zones())
    if current and current not in names and current in zoneinfo.available_timezones():
        names = sorted([*names, current])
    now = datetime.datetime.now(datetime.UTC)
    return [(name, f"{name.replace('_', ' ').replace('/', ' / ')} ({_offset(name, now)})") for name in names]


@functools.cache
def zone_aliases() -> dict[str, str]:
    """Old or alternative names of listed zones -> the listed name ("Asia/Calcutta" ->
    "Asia/Kolkata"): browsers report some zones by their old names. A name is an alias when
    tzdata stores the same rules under a listed zone (tzdata's links are copies)."""
    root = resources.files("tzdata.zoneinfo")

    def rules(name: str) -> bytes | None:
        try:
            return root.joinpath(*name.split("/")).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, OSError):
            return None

    listed = canonical_zones()
    by_rules: dict[bytes, str] = {}
    for name in listed:
        if (data := rules(name)) is not None:
            by_rules.setdefault(data, name)
    aliases = {}
    for name in sorted(zoneinfo.available_timezones() - set(listed)):
        if (data := rules(name)) is not None and data in by_rules:
            aliases[name] = by_rules[data]
    return aliases

