"""Program metric formulas and small-group suppression. Pure Python: no Django import.

The Celery snapshot task gathers counts with SQL aggregates and hands them to these
functions, so every formula can be checked on small hand-made numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_GROUP = 5
FEWER_THAN = f"fewer than {MIN_GROUP}"
# Every hidden cell of a breakdown reads the same, small or hidden to protect a small one: a
# label that told them apart would tell the reader which of them the total's remainder is in.
HIDDEN = "hidden"
# A rate over a group large enough to show, that stands for (or leaves out) 1 to 4 people:
# "10% of 10 promoted" names one person as surely as a count of 1 would.
FEWER_PEOPLE = f"fewer than {MIN_GROUP} people"
ALL_BUT_FEWER = f"all but fewer than {MIN_GROUP} people"


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as "—", never 0%)."""
    return None if not whole else part / whole


def match_rate(*, paired_mentees: int, approved_mentees: int) -> float | None:
    return ratio(paired_mentees, approved_mentees)


def nps(scores: Iterable[int]) -> tuple[float | None, int]:
    """Net promoter score (-100..100) from 0–10 answers, and how many answered."""
    scores = list(scores)
    if not scores:
        return None, 0
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100 * (promoters - detractors) / len(scores), len(scores)


def nps_from_counts(*, promoters: int, passives: int, detractors: int) -> tuple[float | None, int]:
    n = promoters + passives + detractors
    return (None, 0) if n == 0 else (100 * (promoters - detractors) / n, n)


@dataclass(frozen=True)
class Uplift:
    mean: float | None
    n: int


def uplift(pairs: Iterable[tuple[float, float]]) -> Uplift:
    """Mean of (final - baseline) over people who answered both; n says how many."""
    diffs = [final - baseline for baseline, final in pairs]
    return Uplift(mean=sum(diffs) / len(diffs) if diffs else None, n=len(diffs))


def meetings_per_pair_per_month(*, meetings: int, pair_days: float, min_pair_days: float = 0.0) -> float | None:
    """Meetings held divided by the pair-months they had (30-day months); None while the
    pairs have had less than ``min_pair_days`` between them (too early: pairs one hour old
    read '0.0 a month')."""
    if pair_days < min_pair_days:
        return None
    return ratio(meetings, pair_days / 30.0)


def cadence_adherence(*, pairs: Iterable[tuple[int, float]], cadence_days: int) -> float | None:
    """Share of the meetings due so far that were held: each pair (meetings held, days live)
    owes one meeting per whole cadence period it has been live, and counts at most that many
    (a pair meeting weekly does not make up for one that never met).  None while nothing is
    due yet: a pair younger than one cadence period owes no meeting."""
    if not cadence_days:
        return None
    due = held = 0
    for meetings, days in pairs:
        owed = int(days // cadence_days)
        due += owed
        held += min(meetings, owed)
    return ratio(held, due) if due else None


def rate_difference(*, group_events: int, group_size: int, peer_events: int, peer_size: int) -> dict:
    """Participants against non-participants of the same levels: both rates and the gap."""
    a, b = ratio(group_events, group_size), ratio(peer_events, peer_size)
    return {
        "participants": a, "peers": b, "difference": None if a is None or b is None else a - b,
        "n_participants": group_size, "n_peers": peer_size,
        # The counts behind the rates, so that the pages can tell a rate that stands for a few
        # people (see suppress_rate).
        "events_participants": group_events, "events_peers": peer_events,
    }  # fmt: skip


# --- Small-group suppression ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    label: str
    n: int  # people behind the value
    value: float | int | None
    hidden: bool = False
    complementary: bool = False  # hidden to protect a small group, not small itself

    @property
    def shown(self):
        return HIDDEN if self.hidden else self.value


def hidden_cells_are_safe(counts: Iterable[int], *, min_group: int = MIN_GROUP) -> bool:
    """Whether hidden cells of these (non-zero) counts can sit next to a published total.

    The total less the shown cells gives the hidden cells' sum S; each of the k hidden cells
    holds at least 1, so as far as the total tells, any one of them holds from 1 to
    S - (k - 1). That upper end must reach 2 * min_group - 1: then no hidden cell is pinned
    down, none can be told to be the small one, and even a reader who knows which is the large
    one cannot narrow the small one below its 1 to min_group - 1. (Two hidden cells of 1 and 5
    next to a total: 1 to 5 each, and "the large one is 5" gives the other away as 1.)
    """
    counts = list(counts)
    return len(counts) >= 2 and sum(counts) - (len(counts) - 1) >= 2 * min_group - 1


def suppress(cells: Mapping[str, tuple[int, float | int | None]], *, total_published: bool = True, min_group: int = MIN_GROUP) -> list[Cell]:
    """Hide every group smaller than `min_group` (primary suppression) and, where a total
    is published, hide more cells, the smallest shown first, until the hidden cells' sum (the
    total less the shown cells) cannot give any of them away (complementary suppression, see
    hidden_cells_are_safe). Every hidden cell reads the same (Cell.shown).

    A group of zero people is nobody and stays shown as 0.
    """
    out = {label: Cell(label, n, value, hidden=0 < n < min_group) for label, (n, value) in cells.items()}
    if total_published and any(c.hidden for c in out.values()):
        candidates = sorted((c for c in out.values() if not c.hidden and c.n > 0), key=lambda c: (c.n, c.label))
        while candidates and not hidden_cells_are_safe((c.n for c in out.values() if c.hidden), min_group=min_group):
            partner = candidates.pop(0)
            out[partner.label] = Cell(partner.label, partner.n, partner.value, hidden=True, complementary=True)
    return list(out.values())


def change_shown(*, n: int, value, n_before: int, value_before, min_group: int = MIN_GROUP) -> bool:
    """Whether two published averages of answers (an NPS then and now) may both be shown.

    Their difference is about the answers that came (or went) between them: with 1 to
    min_group - 1 of them it speaks for those few ("60 from 5 answers, 67 from 6": the sixth
    was a promoter). The same answers with the same value say nothing new.
    """
    return abs(n - n_before) >= min_group or (n == n_before and value == value_before)


def series_shown(points: Sequence[tuple[int, float | int | None]], *, published: Iterable[tuple[int, float | int | None]] = (), min_group: int = MIN_GROUP) -> list[bool]:
    """Which points of a series of averages ((answers, value), oldest first) may be shown
    next to the `published` ones (the key figure and the one its change is against): each
    must rest on min_group answers or more and pass change_shown against every other point
    shown. The newest points are kept first."""
    kept = list(published)
    shown = [False] * len(points)
    for i in reversed(range(len(points))):
        n, value = points[i]
        if value is None or n < min_group:
            continue
        if all(change_shown(n=n, value=value, n_before=m, value_before=v, min_group=min_group) for m, v in kept):
            shown[i] = True
            kept.append((n, value))
    return shown


def suppress_total(n: int, value, *, min_group: int = MIN_GROUP):
    """A single figure about a group: shown only for groups of at least `min_group`."""
    return FEWER_THAN if 0 < n < min_group else value


def suppress_rate(*, events: int | None, n: int, rate: float | None = None, min_group: int = MIN_GROUP):
    """A rate (events out of a group of n) about people: the rate, or why it is not shown.

    The group must have at least `min_group` people (FEWER_THAN otherwise), and so must both
    sides of the rate: a rate that anyone knowing n can multiply back to 1..4 people who did
    (FEWER_PEOPLE), or 1..4 who did not (ALL_BUT_FEWER), is not shown. Nobody (0 events, or
    all n) is shown.

    `events` unknown (a snapshot from before the counts were kept) is worked out from the
    stored rate, rounded to 3 decimals: any count that rounding allows counts.
    """
    if 0 < n < min_group:
        return FEWER_THAN
    if not n:
        return rate
    if events is not None:
        low = high = events
    elif rate is None:
        return None
    else:
        low, high = math.ceil((rate - 0.0005) * n - 1e-9), math.floor((rate + 0.0005) * n + 1e-9)
    if low < min_group and high > 0:
        return FEWER_PEOPLE
    if n - high < min_group and n - low > 0:
        return ALL_BUT_FEWER
    return rate if rate is not None else ratio(events, n)
