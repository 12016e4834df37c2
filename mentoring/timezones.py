"""The time zones people choose from: the canonical IANA zones (one per place, as listed in
tzdata's zone.tab), not the ~600 names Python knows, which include aliases (Asia/Calcutta,
US/Eastern), fixed offsets (Etc/GMT+5) and oddities ("Factory", "localtime")."""

from __future__ import annotations

import functools
import zoneinfo
from importlib import resources


@functools.cache
def canonical_zones() -> tuple[str, ...]:
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    names = {line.split("\t")[2] for line in text.splitlines() if line and not line.startswith("#")}
    names &= zoneinfo.available_timezones()
    return tuple(sorted(names | {"UTC"}))


def time_zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    """(value, label) pairs, "Europe/Lisbon" shown as "Europe / Lisbon", "America/Port_of_Spain"
    as "America / Port of Spain". A stored zone outside the list (an alias the directory
    uses) stays choosable, so saving a form never changes it by surprise."""
    names = list(canonical_zones())
    if current and current not in names and current in zoneinfo.available_timezones():
        names = sorted([*names, current])
    return [(name, name.replace("_", " ").replace("/", " / ")) for name in names]
