"""Upward's pairing engine: optimal mentor/mentee pairing under hard constraints.

Pure computation (numpy + scipy, no Django), so it can be tested and benchmarked alone.

    inputs = PairingInput(mentors=[Mentor(id=...), ...], mentees=[Mentee(id=...), ...],
                          policy=Policy(strategy="best_score", min_score=300),
                          pins=[("m1", "e7")], exclusions=[("m2", "e3")])
    result = propose_pairs(inputs)          # MatchResult: pairs + unmatched with reasons
    check_pair(mentor, mentee, policy)      # [] or readable hard-constraint violations
    alternatives(result, "e7", k=3)         # best other feasible partners for one person
    explain(pair.breakdown)                 # ["teaches AI tools that the mentee rated 1/5", ...]

Command line for analysts (format in pairing/README.md):

    python -m pairing.engine INPUT.json            # prints the MatchResult as JSON

How the optimum is found: every mentor x mentee score is computed with numpy over the whole
grid (exact integer arithmetic, 0..1000, -1 marks a forbidden pair).  Each strategy becomes a
maximum-weight b-matching (mentor capacity b, mentee capacity 1) with integer weights that
encode the objective lexicographically:

    best_score:   w = score * (n + 1) + 1      (total score first, then number of pairs)
    most_matched: w = score + 1000 * n + 1     (number of pairs first, then total score)

Small problems are solved densely.  With capacities above 1, by pairing/_transport.c, a
compiled successive-shortest-path solver that treats a mentor's places as one column with a
capacity and returns LP duals (built at install; without a C compiler the replicated form
below is used); with one place per mentor, mentor rows go to the Jonker-Volgenant algorithm
from lapx (``lap.lapjv`` on small square cost matrices, ``lap.lapjvr`` on all others).
Large ones are
solved on a sparse candidate graph (each person's best-scoring partners) with scipy's
LAPJVsp, then *certified* optimal for the full problem:
LP duals are rebuilt from the restricted optimum and checked against every feasible pair of
the full grid; pairs that violate dual feasibility first join the dual system alone (the
restricted optimum is often already optimal and only its duals were the wrong ones), and
when that has no solution they join the candidate graph and the restricted problem is solved
again.  Since the b-matching polytope is integral, a feasible integral matching plus a
feasible dual of equal value is a proof of optimality.  If the certificate does not close
within a few rounds the dense solver is used.

Grid sweeps (scoring, candidate selection, the certificate check) run on up to
``PAIRING_THREADS`` threads (default: the number of CPUs, at most 4) for big grids; results
do not depend on the thread count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import cached_property, lru_cache
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
from lap import lapjv

try:
    from lap import lapjvr
except ImportError:  # lapx's musllinux ARMv7 wheels leave out its Rust solvers: scipy instead
    lapjvr = None
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from threadpoolctl import ThreadpoolController

try:  # compiled at install (setup.py); absent without a C compiler
    from pairing import _transport
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    _transport = None

__all__ = [
    "CRITERIA",
    "REASONS",
    "Alternative",
    "Breakdown",
    "MatchResult",
    "Mentee",
    "Mentor",
    "PairingError",
    "PairingInput",
    "Participant",
    "Policy",
    "ProposedPair",
    "TopicMatch",
    "Unmatched",
    "Weights",
    "alternatives",
    "check_pair",
    "explain",
    "propose_pairs",
    "score_pair",
]

MAX_SCORE = 1000
SCALE_MIN, SCALE_MAX = 1, 5
MINUTES_PER_DAY = 1440
_BIG_INT = 1_000_000  # bound for levels and counts: keeps every array in int64

CRITERIA = (
    "topics",
    "interests",
    "availability",
    "time_zone",
    "language",
    "level_gap",
    "cross_department",
)

STRATEGIES = ("best_score", "most_matched")

NO_FEASIBLE_PARTNER = "no_feasible_partner"
BELOW_MIN_SCORE = "below_min_score"
CAPACITY_EXHAUSTED = "capacity_exhausted"
NOT_NEEDED = "not_needed"
REASONS = (NO_FEASIBLE_PARTNER, BELOW_MIN_SCORE, CAPACITY_EXHAUSTED, NOT_NEEDED)

# Problems up to this many mentor-slot x mentee cells are solved densely straight away:
# below it the dense assignment is about as fast as one certified sparse round and clearly
# faster than two (measured on the bench's structured grids: at 1000 x 1000 slots dense
# ~60 ms with scipy, sparse 40-60 ms in one round, 80-90 ms in two).  With capacities above
# 1 the replicated rows (identical pairs of rows) slow the dense solvers down: at capacity 2
# lapjvr and one sparse round were level from 1,000 to 1,400 per side (50 and 105 ms) and
# the sparse round ahead at 1,750 (160 ms against 195-215).
DENSE_CELLS = 1_000_000
# ... and with no mentor given more than one slot and no more mentors than mentees, up to
# this many: there lapjvr (see _LAPJV_SQUARE_MAX) solved 1,500-3,000 per side 2.5-3x faster
# than a sparse round (bench and "top" grids: 2,000 47-68 ms against 145-147, 3,000 101-113
# against 298-306; end to end at 2,000 0.16 s against 0.32, 3,000 0.31 against 0.60), and
# still led at 5,000 (0.89 s against 1.35) but with a 200 MB cost matrix: the sparse solve
# keeps bigger runs lean.  A few more mentors than mentees made every dense solver slow on
# the bench's grids (2,990 mentees x 3,000 mentors: lapjvr 0.96-2.4 s, scipy 3.3 s; sparse
# 0.45 s), as did capacity 2: those keep the lower limit.
DENSE_CELLS_ONE_SLOT = 9_000_000
# The dense solve uses lapx's LAPJV (``lapjv``) on squares up to this many columns and its
# rectangular Jonker-Volgenant (``lapjvr``) on everything else, a square given one extra
# column for it.  Which solver is fastest depends on the grid, not only its size.  Measured
# on two families of generated grids, the bench's own (n per side, seniors down to level 5)
# and the top 500-2,000 seniors of a 3,000-person org ("top"), ms:
#                      scipy     lapjv    lapjvr
#   500 x 500  bench   14-16     4.2-5.5  6.5-9.4
#              top     5.8-6.3   8.4-13   1.5-2.2
#   1000x1000  bench   45-61     35-55    16-26
#              top     26-27     59-69    6.5-7
#   2000x2000  bench   160-170   680-735  70-106
#              top     120-132   610-830  37-99
#   rectangles: 900 x 1000 bench 43 / - / 15, top 22 / - / 5; 300 x 3000 top 5-6 / - / 0.5-0.7
# lapjvr never lost to scipy; lapjv did (2.3x slower at 500 and 6x at 2,000 on "top"), but it
# leads on the bench's small squares, where a few milliseconds are the whole difference:
# hence lapjv for small squares only, where its worst case costs milliseconds.
_LAPJV_SQUARE_MAX = 700
# Candidate partners kept per person for the sparse solve (see _candidate_keys), on grids
# under 4,096 people a side and on wider ones.  A second round (a second LAPJVsp solve on
# a slightly larger graph) costs more than a longer list in the first: on the bench's grids
# 48 certified in one round from 1,000 to 3,000 per side where 24 needed two in half the
# cases (2,000 cap 2: 169 ms against 315 ms), and 64 in one round at 5,000 and 10,000 where
# 24-48 needed two (5,000: ~1.15 s against 1.3-1.6 s).  Longer lists than that only make
# the one solve slower.
CANDIDATES_PER_PERSON, CANDIDATES_PER_PERSON_WIDE = 48, 64
CERTIFICATE_ROUNDS = 8
# Times a round may add violating cells to the dual system alone before solving again.
DUAL_REPAIRS = 3
# Bellman-Ford sweeps allowed when rebuilding duals (typically a few dozen are needed).
DUAL_ITERATIONS = 2000
# Cells within this many score points of improving the objective join the candidate graph.
CANDIDATE_MARGIN_POINTS = 20
# With capacities above 1, grids up to this many mentor x mentee cells are solved densely by
# pairing/_transport.c (successive shortest paths with capacities, not replicated rows).
# Measured on the bench's grids against the replicated dense solve and the certified sparse
# round, ms: 500 cap 2 1.7 against 10.6 (lapjvr); 1,000 10.5 against 52 (sparse); 2,000 60
# against 157; 3,000 251 against 369; 5,000 770 against 800, where its time grows faster
# than the sparse round's: bigger grids go sparse.
TRANSPORT_CELLS = 10_000_000
_BLOCK_CELLS = 1 << 18  # cells per numpy block: temporaries stay in cache


class PairingError(ValueError):
    """Bad input or an unsatisfiable pin; the message is meant for a person to read."""


# --------------------------------------------------------------------------- input records


def _check_id(value: Any, what: str) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PairingError(f"{what} must be a string or an integer, got {value!r}")
    return value


def _id_key(value: str | int) -> tuple:
    # Ids may mix ints and strings; order ints first (numerically), then strings.
    return (0, value, "") if isinstance(value, int) else (1, 0, value)


def _in_id_order(people) -> list:
    """People sorted by id (ints first, then strings).  Ids of one type, the usual case,
    sort by the id itself: a key tuple per person cost ~1 ms of a 500 x 500 run."""
    ids = list(map(attrgetter("id"), people))
    if len(set(map(type, ids))) <= 1:
        return sorted(people, key=attrgetter("id"))
    return sorted(people, key=lambda p: _id_key(p.id))


def _check_int(value: Any, what: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise PairingError(f"{what} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise PairingError(f"{what} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise PairingError(f"{what} must be <= {high}, got {value}")
    return value


def _str_set(values: Any, what: str) -> frozenset[str]:
    if isinstance(values, str):
        raise PairingError(f"{what} must be a list of strings, not one string")
    out = frozenset(values or ())
    for v in out:
        if not isinstance(v, str):
            raise PairingError(f"{what} must hold strings, got {v!r}")
    return out


def _scale_map(values: Any, what: str) -> dict[str, int]:
    items = values.items() if isinstance(values, Mapping) else (values or ())
    out: dict[str, int] = {}
    for item in items:
        try:
            topic, rating = item
        except (TypeError, ValueError):
            raise PairingError(f"{what} must map topic -> rating 1..5, got {item!r}") from None
        if not isinstance(topic, str):
            raise PairingError(f"{what}: topic must be a string, got {topic!r}")
        out[topic] = _check_int(rating, f"{what}[{topic!r}]", low=SCALE_MIN, high=SCALE_MAX)
    return dict(sorted(out.items()))


def _sorted_ids(values: Iterable) -> list:
    return sorted(values, key=_id_key)


def _from_dict(cls, data: Any, what: str):
    if not isinstance(data, Mapping):
        raise PairingError(f"{what} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PairingError(f"{what}: unknown field(s) {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:  # missing required field
        raise PairingError(f"{what}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class Participant:
    """One enrolled person, as a mentor or as a mentee.

    ``id`` is the employee identifier: the same id space as ``manager_chain`` and
    ``not_with``.  ``manager_chain`` lists the person's managers, direct manager first, up to
    the top of the org.  ``teaches`` maps topic -> confidence 1..5 (mentors), ``wants`` maps
    topic -> baseline self-assessment 1..5 (mentees).  ``capacity`` and
    ``active_pairs_elsewhere`` only matter for mentors.
    """

    id: str | int
    name: str = ""
    level: int = 0
    department: str = ""
    manager_chain: tuple = ()
    teaches: dict[str, int] = field(default_factory=dict)
    wants: dict[str, int] = field(default_factory=dict)
    interests: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    availability: frozenset[str] = frozenset()
    utc_offset_minutes: int = 0
    capacity: int = 1
    active_pairs_elsewhere: int = 0
    not_with: frozenset = frozenset()

    def __post_init__(self) -> None:
        put = object.__setattr__
        pid = _check_id(self.id, "participant id")
        who = f"participant {pid!r}"
        if not isinstance(self.name, str):
            raise PairingError(f"{who}: name must be a string")
        if not isinstance(self.department, str):
            raise PairingError(f"{who}: department must be a string")
        put(self, "level", _check_int(self.level, f"{who}: level", low=-_BIG_INT, high=_BIG_INT))
        if isinstance(self.manager_chain, (str, int)):
            raise PairingError(f"{who}: manager_chain must be a list of ids")
        chain = tuple(_check_id(m, f"{who}: manager_chain entry") for m in self.manager_chain or ())
        if pid in chain:
            raise PairingError(f"{who} appears in their own manager_chain (a cycle)")
        put(self, "manager_chain", chain)
        put(self, "teaches", _scale_map(self.teaches, f"{who}: teaches"))
        put(self, "wants", _scale_map(self.wants, f"{who}: wants"))
        put(self, "interests", _str_set(self.interests, f"{who}: interests"))
        put(self, "languages", _str_set(self.languages, f"{who}: languages"))
        put(self, "availability", _str_set(self.availability, f"{who}: availability"))
        put(
            self,
            "utc_offset_minutes",
            _check_int(self.utc_offset_minutes, f"{who}: utc_offset_minutes", low=-MINUTES_PER_DAY, high=MINUTES_PER_DAY),
        )
        put(self, "capacity", _check_int(self.capacity, f"{who}: capacity", low=0, high=_BIG_INT))
        put(self, "active_pairs_elsewhere", _check_int(self.active_pairs_elsewhere, f"{who}: active_pairs_elsewhere", low=0, high=_BIG_INT))
        if isinstance(self.not_with, (str, int)):
            raise PairingError(f"{who}: not_with must be a list of ids")
        put(self, "not_with", frozenset(_check_id(x, f"{who}: not_with entry") for x in self.not_with or ()))

    # dict fields make the generated hash impossible; equal records share id and level.
    def __hash__(self) -> int:
        return hash((self.id, self.level, self.department, self.manager_chain))

    @property
    def label(self) -> str:
        return self.name or str(self.id)

    @property
    def direct_manager(self) -> str | int | None:
        return self.manager_chain[0] if self.manager_chain else None

    @classmethod
    def from_dict(cls, data: Mapping) -> Participant:
        return _from_dict(cls, data, f"participant {data.get('id')!r}" if isinstance(data, Mapping) else "participant")

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "level": self.level,
            "department": self.department,
            "manager_chain": list(self.manager_chain),
            "teaches": dict(self.teaches),
            "wants": dict(self.wants),
            "interests": sorted(self.interests),
            "languages": sorted(self.languages),
            "availability": sorted(self.availability),
            "utc_offset_minutes": self.utc_offset_minutes,
            "capacity": self.capacity,
            "active_pairs_elsewhere": self.active_pairs_elsewhere,
            "not_with": _sorted_ids(self.not_with),
        }


# One record type serves both sides; the names say which pool a list belongs to.
Mentor = Participant
Mentee = Participant


@dataclass(frozen=True, kw_only=True)
class Weights:
    """Relative importance of each criterion (any scale, all >= 0)."""

    topics: float = 5.0
    interests: float = 1.0
    availability: float = 2.0
    time_zone: float = 1.0
    language: float = 2.0
    level_gap: float = 1.0
    cross_department: float = 1.0

    def __post_init__(self) -> None:
        for name in CRITERIA:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PairingError(f"weight {name!r} must be a finite number, got {value!r}")
            if value < 0:
                raise PairingError(f"weight {name!r} must be >= 0, got {value}")

    def max_points(self) -> tuple[int, ...]:
        """Integer points per criterion summing to 1000 (largest remainder), or all 0."""
        return _max_points(tuple(getattr(self, name) for name in CRITERIA))

    @classmethod
    def from_dict(cls, data: Mapping) -> Weights:
        return _from_dict(cls, data, "weights")

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in CRITERIA}


@lru_cache(maxsize=64)
def _max_points(weights: tuple) -> tuple[int, ...]:
    # Exact fractions, cached by the weights: the same policy is scored again and again.
    raw = [Fraction(w) for w in weights]
    total = sum(raw)
    if total == 0:
        return tuple(0 for _ in CRITERIA)
    shares = [r * MAX_SCORE / total for r in raw]
    points = [math.floor(s) for s in shares]
    short = MAX_SCORE - sum(points)
    by_remainder = sorted(range(len(CRITERIA)), key=lambda k: (-(shares[k] - points[k]), k))
    for k in by_remainder[:short]:
        points[k] += 1
    return tuple(points)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A program's pairing policy.

    ``min_level_gap``: the mentor must be at least this many levels below the mentee
    (``mentee.level - mentor.level >= min_level_gap``; higher number = more senior); ``None``
    switches the seniority rule off.  ``max_active_pairs``: cap on a mentor's active pairs
    across programs (``None`` = no cap).  The ``*_cap`` / ``tz_max_minutes`` fields say where
    a criterion saturates (e.g. 3 shared availability items already score full marks).
    ``availability_minutes``: how long one availability item is (an hour by default; the app
    gives half hours), for the explanations ("both free 1 h 30 min a week").
    """

    strategy: str = "best_score"
    min_score: int = 0
    weights: Weights = field(default_factory=Weights)
    min_level_gap: int | None = 1
    forbid_same_manager: bool = False
    forbid_same_department: bool = False
    max_active_pairs: int | None = None
    level_gap_cap: int = 4
    interests_cap: int = 3
    availability_cap: int = 3
    availability_minutes: int = 60
    tz_max_minutes: int = 720

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.strategy not in STRATEGIES:
            raise PairingError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        put(self, "min_score", _check_int(self.min_score, "min_score", low=0, high=MAX_SCORE))
        if isinstance(self.weights, Mapping):
            put(self, "weights", Weights.from_dict(self.weights))
        elif not isinstance(self.weights, Weights):
            raise PairingError("weights must be a Weights record or a mapping")
        if self.min_level_gap is not None:
            put(self, "min_level_gap", _check_int(self.min_level_gap, "min_level_gap", low=-_BIG_INT, high=_BIG_INT))
        for flag in ("forbid_same_manager", "forbid_same_department"):
            if not isinstance(getattr(self, flag), bool):
                raise PairingError(f"{flag} must be true or false")
        if self.max_active_pairs is not None:
            put(self, "max_active_pairs", _check_int(self.max_active_pairs, "max_active_pairs", low=0, high=_BIG_INT))
        put(self, "level_gap_cap", _check_int(self.level_gap_cap, "level_gap_cap", low=1, high=10_000))
        put(self, "interests_cap", _check_int(self.interests_cap, "interests_cap", low=1, high=10_000))
        put(self, "availability_cap", _check_int(self.availability_cap, "availability_cap", low=1, high=10_000))
        put(self, "availability_minutes", _check_int(self.availability_minutes, "availability_minutes", low=1, high=MINUTES_PER_DAY))
        put(self, "tz_max_minutes", _check_int(self.tz_max_minutes, "tz_max_minutes", low=1, high=MINUTES_PER_DAY // 2))

    def effective_capacity(self, mentor: Participant) -> int:
        """Mentees this mentor may take in this run, after the cross-program cap."""
        if self.max_active_pairs is None:
            return mentor.capacity
        return max(0, min(mentor.capacity, self.max_active_pairs - mentor.active_pairs_elsewhere))

    @classmethod
    def from_dict(cls, data: Mapping) -> Policy:
        return _from_dict(cls, data, "policy")

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weights"] = self.weights.to_dict()
        return out


def _id_pairs(values: Any, what: str) -> tuple[tuple, ...]:
    out = []
    for item in values or ():
        if isinstance(item, Mapping):
            if set(item) != {"mentor", "mentee"}:
                raise PairingError(f"{what}: expected {{'mentor': ..., 'mentee': ...}}, got {dict(item)!r}")
            item = (item["mentor"], item["mentee"])
        try:
            mentor_id, mentee_id = item
        except (TypeError, ValueError):
            raise PairingError(f"{what}: expected a (mentor id, mentee id) pair, got {item!r}") from None
        out.append((mentor_id, mentee_id))
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class PairingInput:
    """Everything one match run needs.  Pins are (mentor id, mentee id) pairs that must be
    in the result; exclusions are pairs that must not (stale ids in exclusions are ignored)."""

    mentors: tuple[Participant, ...] = ()
    mentees: tuple[Participant, ...] = ()
    policy: Policy = field(default_factory=Policy)
    pins: tuple[tuple, ...] = ()
    exclusions: tuple[tuple, ...] = ()

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "mentors", tuple(self._people(self.mentors, "mentors")))
        put(self, "mentees", tuple(self._people(self.mentees, "mentees")))
        if isinstance(self.policy, Mapping):
            put(self, "policy", Policy.from_dict(self.policy))
        elif not isinstance(self.policy, Policy):
            raise PairingError("policy must be a Policy record or a mapping")
        put(self, "pins", _id_pairs(self.pins, "pins"))
        put(self, "exclusions", _id_pairs(self.exclusions, "exclusions"))
        seen: dict = {}
        for side, people in (("mentor", self.mentors), ("mentee", self.mentees)):
            for p in people:
                if p.id in seen:
                    raise PairingError(f"duplicate id {p.id!r} (as {seen[p.id]} and as {side})")
                seen[p.id] = side

    @staticmethod
    def _people(values: Any, what: str) -> Iterable[Participant]:
        for v in values or ():
            if isinstance(v, Participant):
                yield v
            elif isinstance(v, Mapping):
                yield Participant.from_dict(v)
            else:
                raise PairingError(f"{what} must hold participant records, got {type(v).__name__}")

    def __hash__(self) -> int:
        return hash((len(self.mentors), len(self.mentees), self.policy, self.pins))

    @classmethod
    def from_dict(cls, data: Mapping) -> PairingInput:
        return _from_dict(cls, data, "input")

    def to_dict(self) -> dict:
        return {
            "policy": self.policy.to_dict(),
            "mentors": [p.to_dict() for p in self.mentors],
            "mentees": [p.to_dict() for p in self.mentees],
            "pins": [list(p) for p in self.pins],
            "exclusions": [list(p) for p in self.exclusions],
        }


# --------------------------------------------------------------------------- output records


@dataclass(frozen=True, kw_only=True)
class TopicMatch:
    topic: str
    confidence: int  # mentor's, 1..5
    baseline: int  # mentee's, 1..5

    def to_dict(self) -> dict:
        return {"topic": self.topic, "confidence": self.confidence, "baseline": self.baseline}


@dataclass(frozen=True, kw_only=True)
class Breakdown:
    """Integer points per criterion (they sum to the pair's score) and the facts behind them."""

    points: dict[str, int]
    topics: tuple[TopicMatch, ...] = ()
    shared_interests: tuple[str, ...] = ()
    shared_slots: tuple[str, ...] = ()
    shared_languages: tuple[str, ...] = ()
    tz_distance_minutes: int = 0
    levels_apart: int = 0
    cross_department: bool = False
    slot_minutes: int = 60  # how long one availability item is (Policy.availability_minutes)

    def __hash__(self) -> int:
        return hash(tuple(self.points.items()))

    @property
    def score(self) -> int:
        return sum(self.points.values())

    def to_dict(self) -> dict:
        return {
            "points": dict(self.points),
            "topics": [t.to_dict() for t in self.topics],
            "shared_interests": list(self.shared_interests),
            "shared_slots": list(self.shared_slots),
            "shared_languages": list(self.shared_languages),
            "tz_distance_minutes": self.tz_distance_minutes,
            "levels_apart": self.levels_apart,
            "cross_department": self.cross_department,
            "slot_minutes": self.slot_minutes,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Breakdown:
        data = dict(data)
        data["topics"] = tuple(TopicMatch(**t) for t in data.get("topics", ()))
        for key in ("shared_interests", "shared_slots", "shared_languages"):
            data[key] = tuple(data.get(key, ()))
        return _from_dict(cls, data, "breakdown")


@dataclass(frozen=True, kw_only=True)
class ProposedPair:
    mentor_id: str | int
    mentee_id: str | int
    score: int
    breakdown: Breakdown
    pinned: bool = False

    @cached_property
    def explanation(self) -> tuple[str, ...]:
        """Readable reasons, derived from the breakdown when first asked for (a run's
        review page shows a few dozen; the solve does not need them)."""
        return tuple(explain(self.breakdown))

    def to_dict(self) -> dict:
        return {
            "mentor": self.mentor_id,
            "mentee": self.mentee_id,
            "score": self.score,
            "pinned": self.pinned,
            "breakdown": self.breakdown.to_dict(),
            "explanation": list(self.explanation),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ProposedPair:
        return cls(
            mentor_id=data["mentor"],
            mentee_id=data["mentee"],
            score=data["score"],
            pinned=data.get("pinned", False),
            breakdown=Breakdown.from_dict(data["breakdown"]),
        )


@dataclass(frozen=True, kw_only=True)
class Unmatched:
    person_id: str | int
    side: str  # "mentor" | "mentee"
    reason: str  # one of REASONS
    message: str

    def to_dict(self) -> dict:
        return {"id": self.person_id, "side": self.side, "reason": self.reason, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping) -> Unmatched:
        return cls(person_id=data["id"], side=data["side"], reason=data["reason"], message=data["message"])


@dataclass(frozen=True, kw_only=True)
class MatchResult:
    strategy: str
    pairs: tuple[ProposedPair, ...]
    unmatched: tuple[Unmatched, ...]
    total_score: int
    # How the optimum was obtained ("dense", "sparse+certificate (N rounds)", ...): for audit.
    solver: str = field(default="", compare=False)
    inputs: PairingInput | None = field(default=None, compare=False, repr=False)

    def pairs_of(self, person_id: str | int) -> tuple[ProposedPair, ...]:
        return tuple(p for p in self.pairs if person_id in (p.mentor_id, p.mentee_id))

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "total_score": self.total_score,
            "pair_count": len(self.pairs),
            "solver": self.solver,
            "pairs": [p.to_dict() for p in self.pairs],
            "unmatched": [u.to_dict() for u in self.unmatched],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> MatchResult:
        return cls(
            strategy=data["strategy"],
            total_score=data["total_score"],
            solver=data.get("solver", ""),
            pairs=tuple(ProposedPair.from_dict(p) for p in data["pairs"]),
            unmatched=tuple(Unmatched.from_dict(u) for u in data["unmatched"]),
        )


@dataclass(frozen=True, kw_only=True)
class Alternative:
    partner_id: str | int
    score: int
    breakdown: Breakdown
    below_min_score: bool = False
    # Whom the partner is paired with in the result (empty when asked about bare inputs).
    current_partners: tuple = ()

    def to_dict(self) -> dict:
        return {
            "partner": self.partner_id,
            "score": self.score,
            "below_min_score": self.below_min_score,
            "current_partners": list(self.current_partners),
            "breakdown": self.breakdown.to_dict(),
        }


# --------------------------------------------------------------------------- hard constraints (one pair)

_KIND_TEXT = {
    "seniority": "not enough levels apart",
    "reporting_line": "in the same reporting line",
    "same_manager": "under the same manager",
    "same_department": "in the same department",
    "not_with": "on a 'not with' list",  # never counted in reasons: _why_forbidden
    "excluded": "excluded by an admin",
}


def _pair_violations(mentor: Participant, mentee: Participant, policy: Policy, excluded: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    a, b = mentor.label, mentee.label
    if policy.min_level_gap is not None and mentee.level - mentor.level < policy.min_level_gap:
        out.append((
            "seniority",
            f"{a} (level {mentor.level}) must be at least {policy.min_level_gap} level(s) below "
            f"{b} (level {mentee.level})",
        ))
    if mentor.id in mentee.manager_chain:
        out.append(("reporting_line", f"{a} is in {b}'s reporting line"))
    if mentee.id in mentor.manager_chain:
        out.append(("reporting_line", f"{b} is in {a}'s reporting line"))
    if policy.forbid_same_manager and mentor.direct_manager is not None and mentor.direct_manager == mentee.direct_manager:
        out.append(("same_manager", f"{a} and {b} report to the same manager ({mentor.direct_manager})"))
    if policy.forbid_same_department and mentor.department and mentor.department == mentee.department:
        out.append(("same_department", f"{a} and {b} are both in {mentor.department} and this program pairs across departments"))
    if mentee.id in mentor.not_with:
        out.append(("not_with", f"{a} asked not to be paired with {b}"))
    if mentor.id in mentee.not_with:
        out.append(("not_with", f"{b} asked not to be paired with {a}"))
    if excluded:
        out.append(("excluded", f"an admin excluded the pair {a} / {b}"))
    return out


def check_pair(
    mentor: Participant,
    mentee: Participant,
    policy: Policy,
    *,
    exclusions: Iterable = (),
    pairs_in_program: int = 0,
) -> list[str]:
    """Readable hard-constraint violations for pairing ``mentor`` with ``mentee`` by hand
    (an empty list means the pair is allowed).  ``pairs_in_program`` is how many mentees the
    mentor already has in this program, not counting this one.  ``exclusions`` may be a set
    of (mentor id, mentee id) tuples, which makes repeated checks cheap."""
    if not isinstance(exclusions, (set, frozenset)):
        exclusions = set(_id_pairs(exclusions, "exclusions"))
    excluded = (mentor.id, mentee.id) in exclusions
    messages = [msg for _, msg in _pair_violations(mentor, mentee, policy, excluded)]
    messages.extend(_capacity_violations(mentor, policy, pairs_in_program + 1))
    return messages


def _capacity_violations(mentor: Participant, policy: Policy, wanted: int) -> list[str]:
    if wanted <= policy.effective_capacity(mentor):
        return []
    if mentor.capacity < wanted:
        return [f"{mentor.label} can take {_plural(mentor.capacity, 'mentee')} in this program, not {wanted}"]
    return [
        f"{mentor.label} already has {_plural(mentor.active_pairs_elsewhere, 'active pair')} in other programs "
        f"(limit {policy.max_active_pairs} across programs)"
    ]


# --------------------------------------------------------------------------- explanations


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def join_words(words: list[str]) -> str:
    """["a"] -> "a"; ["a", "b", "c"] -> "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _topic_strength(t: TopicMatch) -> tuple:
    return (-(SCALE_MAX - t.baseline) * t.confidence, t.topic)


# Time zones this far apart leave two hours or less of a 9-to-5 day in common: worth watching
# whatever points the policy gives the distance.
_FAR_TIME_ZONES = 6 * 60


def explain(breakdown: Breakdown, *, topic_labels: Mapping[str, str] | None = None) -> list[str]:
    """Readable reasons behind a pair's score, strongest topics first."""
    return [text for text, _drawback in explain_items(breakdown, topic_labels=topic_labels)]


def explain_items(breakdown: Breakdown, *, topic_labels: Mapping[str, str] | None = None) -> list[tuple[str, bool]]:
    """explain() with a flag per line: True for a drawback (no common free time, no shared language,
    time zones 6 hours or more apart), so that a page can tell the reasons for a pair from
    what to watch in it."""
    b, labels = breakdown, topic_labels or {}
    # A topic the mentee already rated 5/5 leaves nothing to learn and scores nothing: not a
    # reason. A pair with no topic left to learn says so, as something to watch.
    learning = [t for t in sorted(b.topics, key=_topic_strength) if t.baseline < SCALE_MAX]
    items = [
        (f"teaches {labels.get(t.topic, t.topic)} that the mentee rated {t.baseline}/5 (mentor confidence {t.confidence}/5)", False)
        for t in learning
    ]
    if not learning:
        items.append(("no topic in common for the mentee to learn", True))
    if b.cross_department:
        items.append(("different department", False))
    items.append((f"{_plural(b.levels_apart, 'level')} apart", False))
    # Availability items are the stretches of the week a person is free, slot_minutes each.
    n = len(b.shared_slots)
    items.append((f"both free {_duration_text(n * b.slot_minutes)} a week", False) if n else ("no time in the week when both are free", True))
    if b.shared_interests:
        items.append((f"{_plural(len(b.shared_interests), 'shared interest')} ({', '.join(b.shared_interests)})", False))
    if b.shared_languages:
        items.append((f"speaks {join_words(list(b.shared_languages))} with the mentee", False))
    else:
        items.append(("no shared language", True))
    items.append((_tz_text(b.tz_distance_minutes), b.tz_distance_minutes >= _FAR_TIME_ZONES))
    return items



def _duration_text(minutes: int) -> str:
    """90 -> '1 h 30 min', 120 -> '2 hours', 30 -> '30 min'."""
    h, m = divmod(minutes, 60)
    if not m:
        return _plural(h, "hour")
    return f"{h} h {m} min" if h else f"{m} min"


def _tz_text(d: int) -> str:
    if d == 0:
        return "same time zone"
    hours, minutes = divmod(d, 60)
    span = f"{hours} h" + (f" {minutes} min" if minutes else "") if hours else f"{minutes} min"
    return f"time zones {span} apart"


# --------------------------------------------------------------------------- the scoring grid


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _bitsets(rows: list[frozenset], vocab: dict[str, int]) -> np.ndarray:
    """One row of words (8 to 64 bits) per person, bit k set when they have vocab item k.  Shared
    counts are then popcounts of ANDs: no BLAS call, whose thread pool misbehaves when the
    machine is busy and the products are small."""
    # A vocabulary that fits in a smaller word gets one: the AND + popcount sweeps then move
    # 1-4 bytes per cell instead of 8 (6 languages fit in one byte).
    word = next((b for b in (8, 16, 32) if len(vocab) <= b), 64)
    flags = np.zeros((len(rows), word * max(1, -(-len(vocab) // word))), dtype=bool)
    # Item codes in one C-level pass (-1 for items outside the vocabulary), rows by repeat.
    lens = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    total = int(lens.sum())
    codes = np.fromiter(map(vocab.get, chain.from_iterable(rows), repeat(-1, total)), dtype=np.intp, count=total)
    known = codes >= 0
    flags[np.repeat(np.arange(len(rows)), lens)[known], codes[known]] = True
    return np.packbits(flags, axis=1, bitorder="little").view(f"<u{word // 8}")


def _ratings(maps: list[dict[str, int]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened topic -> rating maps: (person, vocab index or -1, rating) per entry, read
    in C-level passes."""
    lens = np.fromiter(map(len, maps), dtype=np.intp, count=len(maps))
    total = int(lens.sum())
    codes = np.fromiter(map(vocab.get, chain.from_iterable(maps), repeat(-1, total)), dtype=np.intp, count=total)
    ratings = np.fromiter(chain.from_iterable(map(dict.values, maps)), dtype=np.int64, count=total)
    return np.repeat(np.arange(len(maps)), lens), codes, ratings


def _unique(a: np.ndarray) -> np.ndarray:
    # np.unique hashes int64 keys, several times slower here than sort + compare.  Keys of
    # grids under 2**31 cells sort as int32: ~40% faster (exclusion lists run to millions).
    if len(a) and a.dtype == np.int64 and 0 <= int(a.min()) and int(a.max()) < 2**31:
        a = np.sort(a.astype(np.int32)).astype(np.int64)
    else:
        a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _shared_vocab(a: list[frozenset], b: list[frozenset]) -> dict[str, int]:
    both = set().union(*a) & set().union(*b) if a and b else set()
    return {v: k for k, v in enumerate(sorted(both))}


def _row_step(width: int, cells: int = _BLOCK_CELLS) -> int:
    return max(1, cells // max(width, 1))


# Grid sweeps are numpy work on independent row blocks that releases the GIL, so they are
# split over a few threads when the grid is big enough to pay for it.
def _thread_count() -> int:
    wanted = os.environ.get("PAIRING_THREADS", "")
    return max(1, int(wanted)) if wanted.isdigit() else max(1, min(4, os.cpu_count() or 1))


SWEEP_THREADS = _thread_count()
_PARALLEL_CELLS = 4_000_000
# The score sweep splits smaller grids too, into one block per thread: at 500 x 500 on two
# threads it took 2.35 ms instead of 4.3 (the thread pool costs ~0.1 ms).
_PARALLEL_SCORE_CELLS = 100_000


_blas = None


def _blas_one_thread():
    """Context: BLAS on one thread.  The only BLAS call is the topic product of one row
    block (a few hundred rows x 15 topics): OpenBLAS splits such a product over its threads,
    which spin-wait for each other, and on a busy 2-core machine that made the product 30-100x
    slower than one thread (measured 16 ms instead of 0.12 ms per block).  Sweeps already run
    in parallel over blocks."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()  # inspects the loaded libraries once (tens of ms)
    return _blas.limit(limits=1, user_api="blas")


def _sweep(fn, n_rows: int, step: int, parallel: bool) -> list:
    """fn(r0, r1) over row blocks [r0, r1) of ``step`` rows covering n_rows, results in order."""
    spans = [(r0, min(n_rows, r0 + step)) for r0 in range(0, n_rows, max(step, 1))]
    if SWEEP_THREADS == 1 or not parallel or len(spans) < 2:
        return [fn(a, b) for a, b in spans]
    with ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
        return list(pool.map(lambda span: fn(*span), spans))


_FORBIDDEN = -4096.0  # added to a cell's points when a categorical rule forbids the pair


class _Grid:
    """Numerical view of one run: people in canonical (id-sorted) order, feature matrices,
    and the integer score grid.  Rows are mentors, columns are mentees.

    Every criterion's points are small integers computed exactly (float32 products of small
    integers, correctly rounded divisions that cannot cross an integer), so the grid sweep and
    the per-pair breakdown agree to the point.  Time zone, level gap and department depend
    only on a person's (offset, level, department) "category"; they are looked up in a small
    category x category table, together with the seniority and same-department rules.
    """

    def __init__(self, inputs: PairingInput) -> None:
        self.inputs = inputs
        self.policy = policy = inputs.policy
        self.mentors = mentors = _in_id_order(inputs.mentors)
        self.mentees = mentees = _in_id_order(inputs.mentees)
        self.m_pos = {p.id: i for i, p in enumerate(mentors)}
        self.e_pos = {p.id: j for j, p in enumerate(mentees)}
        M, E = self.M, self.E = len(mentors), len(mentees)
        self.mx = mx = dict(zip(CRITERIA, policy.weights.max_points()))

        # Topics: points = round(p * sum_t conf_t * gap_t / (5 * sum_t gap_t)) over the
        # mentee's wanted topics, gap = 5 - baseline.
        taught = set().union(*(p.teaches for p in mentors)) if mentors else set()
        wanted = set().union(*(p.wants for p in mentees)) if mentees else set()
        topics = {t: k for k, t in enumerate(sorted(taught & wanted))}
        n_topics = max(len(topics), 1)
        r, t, conf = _ratings([p.teaches for p in mentors], topics)
        self.T = np.zeros((M, n_topics), dtype=np.float32)
        self.T[r[t >= 0], t[t >= 0]] = conf[t >= 0]
        r, t, base = _ratings([p.wants for p in mentees], topics)
        self.G = np.zeros((E, n_topics), dtype=np.float32)
        self.G[r[t >= 0], t[t >= 0]] = SCALE_MAX - base[t >= 0]
        # Baselines of wanted topics (0 = not wanted), for the breakdowns of chosen pairs: a
        # baseline of 5 gives no gap, so G alone does not say the topic is wanted.
        self.baseline = np.zeros(self.G.shape, dtype=np.int8)
        self.baseline[r[t >= 0], t[t >= 0]] = base[t >= 0]
        self.topic_names = list(topics)
        # Every wanted topic counts in the denominator, taught by someone or not.
        den = SCALE_MAX * np.bincount(r, weights=SCALE_MAX - base, minlength=E).astype(np.float64)
        # floor((2p*num + den) / (2den)) is exact in float32 while every operand stays below
        # 2**22: then the quotient (<= 1000) is at least 1/(2den) away from the next integer,
        # far more than float32's rounding error.  Wider topic lists fall back to float64.
        self.ftype = np.float32 if float(den.max(initial=0)) * 2 * (mx["topics"] + 1) < 2**22 else np.float64
        self.topic_den = den.astype(self.ftype)
        self.topic_den2 = np.where(den > 0, 2 * den, 1).astype(self.ftype)  # den 0 => num 0 => 0

        self.vocab_names: dict[str, list[str]] = {}  # bit k of a bitset row = name k

        def both_sides(attr):
            a = list(map(attrgetter(attr), mentors))
            b = list(map(attrgetter(attr), mentees))
            vocab = _shared_vocab(a, b)
            self.vocab_names[attr] = list(vocab)
            return _bitsets(a, vocab), _bitsets(b, vocab)

        self.IM, self.IE = both_sides("interests")
        self.AM, self.AE = both_sides("availability")
        self.LM, self.LE = both_sides("languages")
        self.Gt = np.ascontiguousarray(self.G.T)

        def table(points: int, cap: int) -> np.ndarray:
            return np.array([_round_half_up(points * k, cap) for k in range(cap + 1)], dtype=np.float32)

        self.int_table = table(mx["interests"], policy.interests_cap)
        self.slot_table = table(mx["availability"], policy.availability_cap)
        self.level_table = table(mx["level_gap"], policy.level_gap_cap)
        # Shared interests, slots and languages as one mixed-radix index into one table of
        # their summed points: a single gather per cell instead of three.
        self.count_parts = []  # (mentor bitsets, mentee bitsets, count cap)
        combined = np.zeros(1, dtype=np.float32)
        for A, B, tab, used in ((self.IM, self.IE, self.int_table, mx["interests"]), (self.AM, self.AE, self.slot_table, mx["availability"]), (self.LM, self.LE, None, mx["language"])):
            if not used:
                continue
            if tab is None:  # languages: any shared one scores
                tab = np.array([0, used], dtype=np.float32)
            cap = min(len(tab) - 1, 8 * A.itemsize * A.shape[1])  # no count exceeds the vocabulary size
            self.count_parts.append((A, B, cap))
            combined = (combined[:, None] + tab[None, : cap + 1]).ravel()
        self.count_table = combined if len(combined) <= 1 << 16 else None
        tzmax = policy.tz_max_minutes
        self.tz_table = _round_half_up(mx["time_zone"] * (tzmax - np.arange(tzmax + 1, dtype=np.int64)), tzmax).astype(np.float32)

        # Categories.  Unknown departments get distinct negative codes per side: never equal.
        # (offset, level, department name) read in C-level passes; departments are coded
        # for the few distinct categories only.
        category = attrgetter("utc_offset_minutes", "level", "department")
        depts: dict = {}

        def categories(people, none):
            cats = list(map(category, people))
            keys = sorted(set(cats))
            where = dict(zip(keys, range(len(keys))))
            codes = np.fromiter(map(where.__getitem__, cats), dtype=np.intp, count=len(cats))
            table = np.array([(tz, lv, depts.setdefault(d, len(depts)) if d else none) for tz, lv, d in keys], dtype=np.int64)
            return codes, table.reshape(-1, 3)

        self.cat_m, km = categories(mentors, -1)
        self.cat_e, ke = categories(mentees, -2)
        self.tz_m, self.level_m, self.dept_m = (km[self.cat_m, c] for c in range(3))
        self.tz_e, self.level_e, self.dept_e = (ke[self.cat_e, c] for c in range(3))
        self.cat_table = None
        if len(km) * len(ke) <= max(1 << 20, (M * E) // 16):
            self.cat_table = self._categorical(km[:, None, :], ke[None, :, :])

        # Sparse forbidden pairs, as linear keys i * E + j per kind, in no order and possibly
        # repeated: the score sweep marks them with one scatter, and the sorted forms (for
        # sub-grids, pins and reasons) are made when first needed.  Sorting millions of
        # exclusions cost more than the scatter (~80 ms at 5,000 per side).
        m_pos, e_pos = self.m_pos, self.e_pos
        line = [(m_pos[a], j) for j, p in enumerate(mentees) for a in p.manager_chain if a in m_pos]
        line += [(i, e_pos[a]) for i, p in enumerate(mentors) for a in p.manager_chain if a in e_pos]
        nw = [(m_pos[a], j) for j, p in enumerate(mentees) for a in p.not_with if a in m_pos]
        nw += [(i, e_pos[a]) for i, p in enumerate(mentors) for a in p.not_with if a in e_pos]
        self.raw_kinds = {"reporting_line": self._keys(line)}
        if policy.forbid_same_manager:
            self.raw_kinds["same_manager"] = self._same_manager_keys(mentors, mentees)
        self.raw_kinds["not_with"] = self._keys(nw)
        self.raw_kinds["excluded"] = self._exclusion_keys(inputs.exclusions)
        self._by_mentee: dict[str, np.ndarray] = {}  # sparse kinds sorted by mentee, on demand
        self._scans: dict[tuple, int] = {}

    @cached_property
    def sparse_kinds(self) -> dict[str, np.ndarray]:
        """The sparse forbidden pairs per kind as sorted, unique linear keys."""
        return {kind: _unique(keys) for kind, keys in self.raw_kinds.items()}

    @cached_property
    def forbidden_keys(self) -> np.ndarray:
        return _unique(np.concatenate(list(self.raw_kinds.values())))

    # ---- helpers for building
    def _same_manager_keys(self, mentors, mentees) -> np.ndarray:
        """Keys of the mentor x mentee pairs sharing a direct manager: a join on manager
        codes in numpy (a dict of lists per manager cost ~1 ms at 500 a side)."""
        codes: dict = {}
        heads = attrgetter("manager_chain")

        def manager_codes(people):
            return np.fromiter((codes.setdefault(c[0], len(codes)) if c else -1 for c in map(heads, people)), dtype=np.int64, count=len(people))

        code_m, code_e = manager_codes(mentors), manager_codes(mentees)
        has = code_e >= 0
        order = np.flatnonzero(has)[np.argsort(code_e[has], kind="stable")]  # mentees by manager
        count = np.bincount(code_e[has], minlength=len(codes) + 1)  # last bin: no manager, 0
        start = np.cumsum(count) - count
        code_m = np.where(code_m >= 0, code_m, len(codes))
        per_mentor = count[code_m]
        total = int(per_mentor.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        ii = np.repeat(np.arange(len(mentors), dtype=np.int64), per_mentor)
        first = np.repeat(start[code_m], per_mentor)
        offset = np.arange(total) - np.repeat(np.cumsum(per_mentor) - per_mentor, per_mentor)
        return ii * self.E + order[first + offset]

    def _keys(self, pairs) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.int64)
        arr = np.asarray(pairs, dtype=np.int64)
        return arr[:, 0] * self.E + arr[:, 1]

    def _exclusion_keys(self, exclusions) -> np.ndarray:
        if not exclusions or not self.M or not self.E:
            return np.zeros(0, dtype=np.int64)
        # Bulk lookups through C-level map(): exclusion lists can be long (5% of all pairs).
        n = len(exclusions)
        try:
            i = np.fromiter(map(self.m_pos.get, map(itemgetter(0), exclusions), repeat(-1, n)), dtype=np.int64, count=n)
            j = np.fromiter(map(self.e_pos.get, map(itemgetter(1), exclusions), repeat(-1, n)), dtype=np.int64, count=n)
        except TypeError:
            raise PairingError("exclusions: ids must be strings or integers") from None
        ok = (i >= 0) & (j >= 0)
        return i[ok] * self.E + j[ok]

    def _categorical(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Time-zone + level-gap + department points, plus _FORBIDDEN where the seniority or
        same-department rule bans the pair; a/b hold (offset, level, dept) on the last axis."""
        tz, level, dept = self._categorical_parts(a[..., 0], b[..., 0], a[..., 1], b[..., 1], a[..., 2], b[..., 2])
        out = (tz + level + dept).astype(np.float32)
        out[self._categorical_forbidden(b[..., 1] - a[..., 1], a[..., 2], b[..., 2])] += _FORBIDDEN
        return out

    def _categorical_parts(self, tz_a, tz_b, lv_a, lv_b, dp_a, dp_b):
        d = np.abs(tz_a - tz_b) % MINUTES_PER_DAY
        d = np.minimum(d, MINUTES_PER_DAY - d)
        tz = self.tz_table[np.minimum(d, self.policy.tz_max_minutes)]
        level = self.level_table[np.clip(lv_b - lv_a, 0, self.policy.level_gap_cap)]
        dept = ((dp_a != dp_b) & (dp_a >= 0) & (dp_b >= 0)).astype(np.float32) * np.float32(self.mx["cross_department"])
        return tz, level, dept

    def _categorical_forbidden(self, gap, dp_a, dp_b, kinds: dict | None = None):
        masks = {}
        if self.policy.min_level_gap is not None:
            masks["seniority"] = gap < self.policy.min_level_gap
        if self.policy.forbid_same_department:
            masks["same_department"] = dp_a == dp_b
        if kinds is not None:
            kinds.update(masks)
        out = np.zeros(np.broadcast_shapes(np.shape(gap), np.shape(dp_a), np.shape(dp_b)), dtype=bool)
        for m in masks.values():
            out |= m
        return out

    # ---- points: shared by the grid sweep and the per-pair breakdown
    def _topic_points(self, num, den, den2):
        num *= self.ftype(2 * self.mx["topics"])
        num += den
        num /= den2
        return np.floor(num, out=num)

    def block(self, mi: np.ndarray, ei: np.ndarray | None = None, *, mark: bool = True) -> np.ndarray:
        """Scores for mentors ``mi`` x mentees ``ei`` (all mentees if None): int16, -1 where
        a hard constraint forbids the pair."""
        full = ei is None
        ei_ = slice(None) if full else ei
        mx = self.mx
        if self.cat_table is not None:
            total = self.cat_table[self.cat_m[mi]][:, self.cat_e[ei_]]
        else:
            a = np.stack((self.tz_m[mi], self.level_m[mi], self.dept_m[mi]), axis=-1)[:, None, :]
            b = np.stack((self.tz_e[ei_], self.level_e[ei_], self.dept_e[ei_]), axis=-1)[None, :, :]
            total = self._categorical(a, b)
        if mx["topics"]:
            num = (self.T[mi] @ self.Gt[:, ei_]).astype(self.ftype, copy=False)
            total += self._topic_points(num, self.topic_den[ei_], self.topic_den2[ei_])
        if self.count_table is not None and self.count_parts:
            idx = None
            for A, B, cap in self.count_parts:
                c = self._shared(A[mi], B[ei_])
                np.minimum(c, cap, out=c)
                if idx is None:
                    idx = c.astype(np.uint16)
                else:
                    idx *= np.uint16(cap + 1)
                    idx += c.astype(np.uint16, copy=False)  # counts of wide vocabularies are int32
            total += self.count_table[idx]
        else:
            for A, B, tab, cap, used in (
                (self.IM, self.IE, self.int_table, self.policy.interests_cap, mx["interests"]),
                (self.AM, self.AE, self.slot_table, self.policy.availability_cap, mx["availability"]),
            ):
                if used:
                    c = self._shared(A[mi], B[ei_])
                    np.minimum(c, min(cap, np.iinfo(c.dtype).max), out=c)
                    total += tab[c]
            if mx["language"]:
                c = self._shared(self.LM[mi], self.LE[ei_])
                total += (c > 0) * np.float32(mx["language"])
        np.maximum(total, -1, out=total)
        score = total.astype(np.int16)
        if mark:
            self._mark(score, self.forbidden_keys, mi, ei, contiguous=full)
        return score

    @staticmethod
    def _shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Shared-item counts between bitset rows a (R x W) and b (C x W): R x C."""
        c = np.bitwise_count(a[:, None, 0] & b[None, :, 0])
        if a.shape[1] > 1:
            c = c.astype(np.int32)
            for w in range(1, a.shape[1]):
                c += np.bitwise_count(a[:, None, w] & b[None, :, w])
        return c

    def _mark(self, out, keys, mi, ei, contiguous: bool) -> None:
        """Set cells of ``keys`` (linear mentor * E + mentee) inside the sub-grid to -1."""
        if not len(keys) or not len(mi) or (ei is not None and not len(ei)):
            return
        E = self.E
        if contiguous:  # mi is a range of rows, ei all columns
            r0 = int(mi[0])
            lo, hi = np.searchsorted(keys, [r0 * E, (r0 + len(mi)) * E])
            sel = keys[lo:hi]
            out[sel // E - r0, sel % E] = -1
            return
        pos_m = np.full(self.M, -1, dtype=np.int64)
        pos_m[mi] = np.arange(len(mi))
        pos_e = np.full(E, -1, dtype=np.int64)
        pos_e[ei] = np.arange(len(ei))
        a, b = pos_m[keys // E], pos_e[keys % E]
        ok = (a >= 0) & (b >= 0)
        out[a[ok], b[ok]] = -1

    def scores(self) -> np.ndarray:
        """The whole M x E grid, int16, swept in cache-sized row blocks."""
        S = np.empty((self.M, self.E), dtype=np.int16)

        def fill(r0, r1):
            S[r0:r1] = self.block(np.arange(r0, r1), mark=False)

        step = _row_step(self.E)
        parallel = self.M * self.E >= _PARALLEL_SCORE_CELLS
        if parallel:  # at least one block per thread
            step = min(step, -(-self.M // SWEEP_THREADS))
        with _blas_one_thread():
            _sweep(fill, self.M, step, parallel)
        cells = S.reshape(-1)
        for keys in self.raw_kinds.values():
            cells[keys] = -1
        return S

    def forbidden_kinds(self, *, mentor: int | None = None, mentee: int | None = None) -> dict[str, np.ndarray]:
        """For one mentor (or one mentee): a mask over every mentee (mentor) per hard-rule
        kind, to explain 'no feasible partner'.  Sparse kinds are found by a scan of their
        keys for the first few people, then by binary search on keys sorted by mentor, or on
        a transposed copy sorted by mentee."""
        kinds: dict = {}
        if mentor is not None:
            gap = self.level_e - self.level_m[mentor]
            self._categorical_forbidden(gap, self.dept_m[mentor], self.dept_e, kinds)
        else:
            gap = self.level_e[mentee] - self.level_m
            self._categorical_forbidden(gap, self.dept_m, self.dept_e[mentee], kinds)
        M, E = self.M, self.E
        side = "mentor" if mentor is not None else "mentee"
        for kind, raw in self.raw_kinds.items():
            self._scans[side, kind] = scans = self._scans.get((side, kind), 0) + 1
            if mentor is not None:
                mask = np.zeros(E, dtype=bool)
                if scans <= 8:  # a few people: one pass over the keys each, no sort
                    mask[raw[raw // E == mentor] % E] = True
                else:  # many: binary search in the keys sorted once
                    keys = self.sparse_kinds[kind]
                    lo, hi = np.searchsorted(keys, [mentor * E, (mentor + 1) * E])
                    mask[keys[lo:hi] - mentor * E] = True
            else:
                mask = np.zeros(M, dtype=bool)
                if scans <= 8:
                    mask[raw[raw % E == mentee] // E] = True
                else:  # sorted by mentee, made once
                    if kind not in self._by_mentee:
                        self._by_mentee[kind] = _unique((raw % E) * M + raw // E)
                    t = self._by_mentee[kind]
                    lo, hi = np.searchsorted(t, [mentee * M, (mentee + 1) * M])
                    mask[t[lo:hi] - mentee * M] = True
            kinds[kind] = mask
        return kinds

    def pair_points(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Points per criterion (len(ii) x 7, int) for the pairs (ii[k], jj[k])."""
        n = len(ii)
        mx = self.mx
        out = np.zeros((n, len(CRITERIA)), dtype=np.int64)
        if not n:
            return out
        shared = lambda A, B: np.bitwise_count(A[ii] & B[jj]).sum(axis=1)  # noqa: E731
        if mx["topics"]:
            num = np.einsum("ik,ik->i", self.T[ii], self.G[jj]).astype(self.ftype)
            out[:, 0] = self._topic_points(num, self.topic_den[jj], self.topic_den2[jj])
        if mx["interests"]:
            out[:, 1] = self.int_table[np.minimum(shared(self.IM, self.IE), self.policy.interests_cap)]
        if mx["availability"]:
            out[:, 2] = self.slot_table[np.minimum(shared(self.AM, self.AE), self.policy.availability_cap)]
        tz, level, dept = self._categorical_parts(
            self.tz_m[ii], self.tz_e[jj], self.level_m[ii], self.level_e[jj], self.dept_m[ii], self.dept_e[jj]
        )
        out[:, 3] = tz
        if mx["language"]:
            out[:, 4] = (shared(self.LM, self.LE) > 0) * mx["language"]
        out[:, 5] = level
        out[:, 6] = dept
        return out

    def pairs(self, chosen: list[tuple[int, int, bool]]) -> tuple[ProposedPair, ...]:
        n = len(chosen)
        if not n:
            return ()
        ii = np.fromiter(map(itemgetter(0), chosen), dtype=np.intp, count=n)
        jj = np.fromiter(map(itemgetter(1), chosen), dtype=np.intp, count=n)
        points = self.pair_points(ii, jj).tolist()
        facts = zip(points, *self._facts(ii, jj))
        mentors, mentees = self.mentors, self.mentees
        out = []
        for (i, j, pinned), (pts, topics, interests, slots, langs, tz, apart, cross) in zip(chosen, facts):
            b = _record(
                Breakdown,
                points=dict(zip(CRITERIA, pts)),
                topics=topics,
                shared_interests=interests,
                shared_slots=slots,
                shared_languages=langs,
                tz_distance_minutes=tz,
                levels_apart=apart,
                cross_department=cross,
                slot_minutes=self.policy.availability_minutes,
            )
            out.append(_record(
                ProposedPair,
                mentor_id=mentors[i].id,
                mentee_id=mentees[j].id,
                score=sum(pts),
                breakdown=b,
                pinned=pinned,
            ))
        return tuple(out)

    def _facts(self, ii: np.ndarray, jj: np.ndarray) -> tuple[list, ...]:
        """Per pair (ii[k], jj[k]): the facts of its breakdown, from the feature matrices in
        one numpy pass per kind (the same values _breakdown reads off the records)."""
        n = len(ii)
        # Topics both taught by the mentor and wanted by the mentee, in name order.
        conf = self.T[ii]
        base = self.baseline[jj]
        r, c = np.nonzero((conf > 0) & (base > 0))
        names = self.topic_names
        matches = [
            _record(TopicMatch, topic=names[t], confidence=cf, baseline=bs)
            for t, cf, bs in zip(c.tolist(), conf[r, c].astype(np.int64).tolist(), base[r, c].tolist())
        ]
        topics = _split(matches, r, n)
        shared = [
            _split_names(A[ii] & B[jj], self.vocab_names[attr], n)
            for A, B, attr in ((self.IM, self.IE, "interests"), (self.AM, self.AE, "availability"), (self.LM, self.LE, "languages"))
        ]
        d = np.abs(self.tz_m[ii] - self.tz_e[jj]) % MINUTES_PER_DAY
        tz = np.minimum(d, MINUTES_PER_DAY - d).tolist()
        apart = (self.level_e[jj] - self.level_m[ii]).tolist()
        dm, de = self.dept_m[ii], self.dept_e[jj]
        cross = ((dm != de) & (dm >= 0) & (de >= 0)).tolist()
        return topics, *shared, tz, apart, cross

    def breakdown(self, i: int, j: int) -> Breakdown:
        return self._breakdown(i, j, self.pair_points(np.array([i]), np.array([j]))[0].tolist())

    def _breakdown(self, i: int, j: int, points: list[int]) -> Breakdown:
        m, e = self.mentors[i], self.mentees[j]
        d = abs(m.utc_offset_minutes - e.utc_offset_minutes) % MINUTES_PER_DAY
        return Breakdown(
            points=dict(zip(CRITERIA, points)),
            topics=tuple(
                TopicMatch(topic=t, confidence=m.teaches[t], baseline=e.wants[t]) for t in sorted(m.teaches.keys() & e.wants.keys())
            ),
            shared_interests=tuple(sorted(m.interests & e.interests)),
            shared_slots=tuple(sorted(m.availability & e.availability)),
            shared_languages=tuple(sorted(m.languages & e.languages)),
            tz_distance_minutes=min(d, MINUTES_PER_DAY - d),
            levels_apart=e.level - m.level,
            cross_department=bool(m.department and e.department and m.department != e.department),
            slot_minutes=self.policy.availability_minutes,
        )


def _record(cls, **values):
    """An output record without its dataclass __init__ (a frozen dataclass sets each field
    through object.__setattr__: ~3x slower, and these records have no checks to run)."""
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


def _split(items: list, owner: np.ndarray, n: int) -> list[tuple]:
    """items grouped by owner (sorted, 0..n-1) into one tuple per owner."""
    ends = np.cumsum(np.bincount(owner, minlength=n)).tolist()
    out, start = [], 0
    for end in ends:
        out.append(tuple(items[start:end]))
        start = end
    return out


def _split_names(words: np.ndarray, names: list[str], n: int) -> list[tuple[str, ...]]:
    """Rows of bitsets (little-endian words, bit k = names[k]) as tuples of names; names are
    sorted, so each tuple is too."""
    if not names:
        return [()] * n
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=1, bitorder="little")[:, : len(names)]
    r, c = np.nonzero(bits)
    return _split([names[k] for k in c.tolist()], r, n)


# --------------------------------------------------------------------------- the solver


@dataclass(frozen=True)
class _Objective:
    """w = score * scale + offset on acceptable pairs (see the module docstring)."""

    scale: int
    offset: int

    @classmethod
    def of(cls, strategy: str, n_max: int) -> _Objective:
        if strategy == "best_score":
            return cls(n_max + 1, 1)
        return cls(1, MAX_SCORE * n_max + 1)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return scores.astype(np.int64) * self.scale + self.offset

    @property
    def max_weight(self) -> int:
        return MAX_SCORE * self.scale + self.offset


def _transport_fits(S, cap, obj) -> bool:
    """Whether pairing/_transport.c solves this grid: capacities above 1 (with one slot per
    mentor lapx's LAPJV is faster), and potentials that stay far inside int64 (they are
    bounded by the heaviest weight times the number of people)."""
    M, E = S.shape
    return (
        _transport is not None
        and bool((np.minimum(cap, E) > 1).any())
        and obj.max_weight * (M + E + 2) < 2**50
    )


def _solve_transport(S, cap, thr, obj, *, duals: bool = False):
    """Max-weight b-matching by successive shortest paths with capacities (pairing/_transport.c);
    returns (mentor idx, mentee idx), plus the LP duals (u per mentee, v per mentor, minimum-
    cost form, see the C file) with ``duals``."""
    A = np.ascontiguousarray(S.T, dtype=np.int16)  # mentee rows
    E, M = A.shape
    mentor_of = np.empty(E, dtype=np.int64)
    u, v = np.empty(E, dtype=np.int64), np.empty(M, dtype=np.int64)
    _transport.assign(A, E, M, np.ascontiguousarray(cap, dtype=np.int64), int(thr), obj.scale, obj.offset, mentor_of, u, v)
    mj = np.flatnonzero(mentor_of >= 0)
    out = (mentor_of[mj], mj)
    return (*out, u, v) if duals else out


def _solve_dense(S, cap, thr, obj):
    """Max-weight b-matching by replicating mentor rows; returns (mentor idx, mentee idx).

    The cost matrix is -w (0 on unacceptable cells), oriented with no more rows than columns
    (mentees x slots when there are more slots than mentees).  Small squares go to lapx's
    Jonker-Volgenant solver (``lapjv``), everything else to its rectangular solver
    (``lapjvr``); a square is given one extra column it never takes for that (see
    _LAPJV_SQUARE_MAX).  scipy's linear_sum_assignment is the fallback should lapx fail.
    With capacities above 1 pairing/_transport.c solves it instead, without replication."""
    if _transport_fits(S, cap, obj):
        return _solve_transport(S, cap, thr, obj)
    rep = np.minimum(cap, np.count_nonzero(S >= thr, axis=1))
    if rep.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(cap)), rep)
    n_rows, E = len(owner), S.shape[1]
    tall = n_rows > E
    R, C = (E, n_rows) if tall else (n_rows, E)
    jv = R == C and C <= _LAPJV_SQUARE_MAX
    # A square for lapjvr gets a column costing 1, more than any real cell (-w <= -1, or 0):
    # a row put there would do better on the real column left over, so none is.
    full = np.empty((R, C + (R == C and not jv and lapjvr is not None)), dtype=np.float64)
    cost = full[:, :C]
    if tall and n_rows * E <= DENSE_CELLS:
        # Mentee rows from a transposed view of the (small) replicated grid: contiguous
        # writes instead of column writes (959 x 959 at capacity 2: 1.4 ms instead of 2.2).
        src, n_src, step = S[owner].T, R, _row_step(C)
    else:
        src, n_src, step = None, n_rows, _row_step(E)
    for r0 in range(0, n_src, step):
        # Written in place: a temporary per block plus the copy into ``cost`` touched twice
        # the fresh memory (page faults: 1.8 ms of 2.1 at 500 x 500, measured).
        if src is not None:
            blk, val = src[r0 : r0 + step], cost[r0 : r0 + step]
        else:
            blk = S[owner[r0 : r0 + step]]
            val = cost[:, r0 : r0 + step].T if tall else cost[r0 : r0 + step]
        np.multiply(blk, -float(obj.scale), out=val)  # exact: |w| < 2**53
        val -= obj.offset
        np.putmask(val, blk < thr, 0)
    r = None
    try:
        if jv:
            x = lapjv(full, return_cost=False)[0]
            if (x >= 0).all():  # a full square always has a complete assignment; be safe
                r, c = np.arange(R), x.astype(np.int64)
        elif lapjvr is not None:
            full[:, C:] = 1.0
            r, c = lapjvr(full, extend_cost=True, return_cost=False)
            r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
            if len(r) != R or (c >= C).any():  # cannot happen (see above); be safe
                r = None
    except (ValueError, RuntimeError):  # lapx refused the matrix: scipy solves it
        r = None
    if r is None:
        r, c = linear_sum_assignment(cost)
    keep = cost[r, c] < 0  # acceptable cells cost -w <= -1
    slots, mentees = (c, r) if tall else (r, c)
    return owner[slots[keep]], mentees[keep]


_NO_CELL = np.iinfo(np.int16).min  # priced value of a cell that is not acceptable
_SAMPLE_COLUMNS = 512  # columns sampled per row to estimate its k-th best value (at least)
# ... and at least one column in _SAMPLE_STRIDE_NARROW on grids under _SAMPLE_WIDE columns,
# one in _SAMPLE_STRIDE_WIDE on wider ones.  On the bench's grids: at 2,000 wide, sampling
# one column in 2 needed a second round for about half the possible samples (~50 ms more),
# while sorting whole rows (as int32, see _best_in_rows) costs no more than sorting the
# sample did and needs one round; one in 2 at 5,000-10,000 cost more sorting than it saved,
# and one in 19 at 10,000 cost two extra rounds.
_SAMPLE_STRIDE_NARROW, _SAMPLE_WIDE, _SAMPLE_STRIDE_WIDE = 1, 4096, 4


@lru_cache(maxsize=8)
def _sample_columns(C: int, s: int) -> np.ndarray:
    """C // s of C column indices, sorted, the same for the same (C, s).  Scattered, not every
    s-th: columns in id order can repeat a pattern (departments alternating by id), and a
    strided sample would see one phase of it only (measured: 4 rounds instead of 3, twice the
    time, at 5000 x 5000 with alternating departments)."""
    idx = np.random.default_rng(C).choice(C, size=C // s, replace=False)
    idx.sort()
    idx.flags.writeable = False
    return idx


def _best_in_rows(blk, lo, k):
    """Mask of about the k best cells (value >= lo) in each row of blk, and a function
    giving each row's estimated r-th best value.

    Candidate lists only steer the solver (the certificate proves the optimum whatever they
    hold), so on wide grids a row's k-th best value is estimated from a sorted sample of its
    columns (one in 4, at least _SAMPLE_COLUMNS of them) instead of sorting the whole row: on
    5000 x 5000 that is 4x less sorting, the sweep's main cost.  Sorting (as int32) beats
    numpy's selection (np.partition) on these rows, ~1.3x at 2,000 wide.  Rows the estimate
    serves badly (more than 2k cells at or above it) keep exactly k, ties by column order;
    when more than 2k cells lie strictly above the estimate, the exact k-th best is found
    among those cells."""
    C = blk.shape[1]
    s = max(1, min(C // _SAMPLE_COLUMNS, _SAMPLE_STRIDE_NARROW if C < _SAMPLE_WIDE else _SAMPLE_STRIDE_WIDE))
    # Sorted as int32: numpy's int16 sort has no SIMD path on AVX2 machines and was 5-7x
    # slower than converting and sorting int32 (measured: 500 x 500, 7.2 ms against 1.1 ms).
    srt = np.sort((blk[:, _sample_columns(C, s)] if s > 1 else blk).astype(np.int32), axis=1)
    n = srt.shape[1]

    def nth(r):
        if r > C:  # the row has fewer than r cells
            return np.full(len(blk), lo - 1, blk.dtype)
        return srt[:, n - min(n, max(1, round(r / s)))].astype(blk.dtype)  # a copy: callers clip it in place

    kth = nth(k)
    np.maximum(kth, lo, out=kth)
    hit = blk >= kth[:, None]
    tied = np.flatnonzero(np.count_nonzero(hit, axis=1) > 2 * k)
    if len(tied):
        sub, at = blk[tied], kth[tied, None]
        above = sub > at
        n_above = np.count_nonzero(above, axis=1)
        high = n_above > 2 * k  # the estimate fell too low: find the exact k-th best
        if high.any():
            # The exact k-th best of such a row is among its cells above the estimate: a
            # few dozen values per row to order instead of the whole row.
            hr = np.flatnonzero(high)
            rr, cc = np.nonzero(above[hr])
            vals = sub[hr][rr, cc].astype(np.int32)
            order = np.lexsort((-vals, rr))
            first = np.searchsorted(rr[order], np.arange(len(hr)))
            at[hr, 0] = vals[order[first + k - 1]]
            above[hr] = sub[hr] > at[hr]
            n_above[high] = np.count_nonzero(above[high], axis=1)
        tie = sub == at
        hit[tied] = above | (tie & (np.cumsum(tie, axis=1) <= (k - n_above)[:, None]))
    return hit, nth


def _lists(S, thr, *, columns=False, few=0, k=0, price=None, kth_of=0):
    """One sweep over the rows of the grid S (over its columns if ``columns``): the linear
    keys (mentor * E + mentee) of each row's ``few`` best acceptable cells and, with
    ``price`` (one value per cell of a row), of its ``k`` best by score - price; and, if
    ``kth_of``, each row's kth_of-th best acceptable score (thr - 1 when it has fewer)."""
    R, C = S.shape[::-1] if columns else S.shape

    def block(r0, r1):
        blk = _strip(S, r0, r1) if columns else S[r0:r1]
        hit = np.zeros(blk.shape, dtype=bool)
        nth_of = None
        if few or kth_of:
            hit, nth_of = _best_in_rows(blk, thr, min(max(few, 1), C))
            if not few:
                hit[:] = False
        if price is not None and k:
            # Scores and prices lie in -1..1000: the difference fits int16.
            priced = np.where(blk >= thr, blk - price, _NO_CELL).astype(np.int16, copy=False)
            hit |= _best_in_rows(priced, _NO_CELL + 1, min(k, C))[0]
        flat = np.flatnonzero(hit)
        a, b = flat // C + r0, flat % C
        nth = None
        if kth_of:
            nth = nth_of(kth_of)
            nth = np.where(nth >= thr, nth, thr - 1)
        return (b * R + a if columns else a * C + b), nth

    # Column strips are at least 64 wide: each row's slice of S then fills whole cache lines.
    parts = _sweep(block, R, max(_row_step(C), 64 if columns else 1), R * C >= _PARALLEL_CELLS)
    keys = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    nth = (np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, S.dtype)) if kth_of else None
    return keys, nth


def _top_k(S, thr, k, *, columns=False):
    """Linear keys of the k best acceptable cells of every row of S (every column if
    ``columns``)."""
    return _lists(S, thr, columns=columns, few=k)[0]


def _strip(S, c0, c1, tile=256):
    """Columns c0..c1 of S as contiguous rows, copied tile by tile (numpy's own copy of the
    transposed view walks S with a stride of a whole row: several times slower).  No
    transposed copy of the whole grid is made: on 10000 x 10000 its allocation alone (page
    faults on 200 MB) cost more than the column sweep."""
    c1 = min(c1, S.shape[1])
    out = np.empty((c1 - c0, S.shape[0]), dtype=S.dtype)
    for r0 in range(0, S.shape[0], tile):
        out[:, r0 : r0 + tile] = S[r0 : r0 + tile, c0:c1].T
    return out


def _candidate_keys(S, thr, k):
    """Sorted linear keys of the candidate graph: each person's few best partners, then for
    each mentor the k mentees best *relative to the k-th best offer each mentee has* (its
    price), and for each mentee likewise.  On topic-overlap grids many mentors share the same
    favourite mentees, so plain top-k lists pile onto a few popular people and miss the
    pairs an optimum makes further down; priced lists find them (on the bench's 5000 x 5000
    grid: ~150 cells break the first round's duals instead of ~15,000).  Three sweeps: rows
    (their few best, their prices), columns (their few best, priced by the rows, their
    prices), rows again (priced by the columns)."""
    few = min(k, max(4, k // 4))
    rows_few, row_price = _lists(S, thr, few=few, kth_of=k)
    cols, col_price = _lists(S, thr, columns=True, few=few, k=k, price=row_price, kth_of=k)
    rows, _ = _lists(S, thr, k=k, price=col_price)
    return _unique(np.concatenate((rows_few, cols, rows)))


def _solve_sparse_edges(ei, ej, w, cap, M, E):
    """Max-weight b-matching on an edge list with scipy's LAPJVsp.

    Mentors are expanded into capacity slots.  LAPJVsp needs every row matched, so each row
    also gets a private 'idle' column at cost C (real edges cost C - w >= 1: non-zero, as
    LAPJVsp wants).  Proving a row idle means exploring everything cheaper, so the smaller
    side (slots or mentees) is used as rows: fewer rows end idle."""
    deg = np.bincount(ei, minlength=M)
    rep = np.minimum(cap, deg)
    base = np.cumsum(rep) - rep
    n_slots = int(rep.sum())
    r_e = rep[ei]
    idx = np.repeat(np.arange(len(ei)), r_e)
    slot = base[ei[idx]] + np.arange(len(idx)) - np.repeat(np.cumsum(r_e) - r_e, r_e)
    mentee = ej[idx]
    C = int(w.max()) + 1
    cost = (C - w[idx]).astype(np.float64)
    owner = np.repeat(np.arange(M), rep)
    if n_slots <= E:
        n_rows, rows, cols = n_slots, slot, mentee
    else:
        n_rows, rows, cols = E, mentee, slot
    n_cols = E + n_slots - n_rows
    graph = sparse.csr_array(
        (np.concatenate((cost, np.full(n_rows, float(C)))), (np.concatenate((rows, np.arange(n_rows))), np.concatenate((cols, n_cols + np.arange(n_rows))))),
        shape=(n_rows, n_cols + n_rows),
    )
    r, c = min_weight_full_bipartite_matching(graph)
    r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
    real = c < n_cols
    r, c = r[real], c[real]
    if n_slots <= E:
        return owner[r], c
    return owner[c], r


def _duals(keys, w, mi, mj, cap, M, E, max_iter):
    """LP duals (u per mentor, v per mentee) proving matching (mi, mj) optimal on the edge
    list ``keys`` (sorted linear keys, weights w), or None.

    Complementary slackness: v_j = w(sigma(j), j) - u_sigma(j) for a matched mentee, 0 for
    an unmatched one; u_i >= max(0, w_ij - v_j) on every edge; u_i = 0 for a mentor with
    spare capacity; v >= 0.  The least u satisfying the inequalities is a longest-path
    fixpoint, found by vectorised Bellman-Ford; it exists iff the matching is optimal."""
    return _least_duals(keys, w, mi, mj, cap, M, E, max_iter)


def _least_duals(keys, w, mi, mj, cap, M, E, max_iter, u0=None):
    """_duals, optionally starting Bellman-Ford from ``u0``: any u0 at or below the least
    fixpoint (such as the least fixpoint of a subset of the edges) reaches the same one."""
    ei, ej = keys // E, keys % E
    starts = np.flatnonzero(np.r_[True, ei[1:] != ei[:-1]])
    heads = ei[starts]
    sigma = np.full(E, -1, dtype=np.int64)
    sigma[mj] = mi
    matched = sigma >= 0
    sig = np.where(matched, sigma, 0)
    wm = np.zeros(E, dtype=np.int64)
    wm[mj] = w[np.searchsorted(keys, mi.astype(np.int64) * E + mj)]
    spare = np.bincount(mi, minlength=M) < cap
    u = np.zeros(M, dtype=np.int64) if u0 is None else u0.copy()
    for _ in range(max_iter):
        v = np.where(matched, wm - u[sig], 0)
        # u only grows, so a bound broken now stays broken: stop early.
        if np.any(v < 0) or np.any(u[spare] != 0):
            return None
        best = np.maximum.reduceat(w - v[ej], starts)
        new = np.zeros(M, dtype=np.int64)
        new[heads] = np.maximum(best, 0)
        if np.array_equal(new, u):
            return u, v
        u = new
    return None


def _near_pairs(S, thr, obj, u, v, margin, per_mentee, known):
    """Acceptable cells of the full grid with reduced cost u_i + v_j - w_ij < margin.

    Returns the number of strict violations (reduced cost < 0) and the sorted linear keys of
    near cells not in ``known`` (sorted keys): at most ``per_mentee`` per mentee, smallest
    reduced cost first.  No strict violation means (u, v) is dual feasible for the whole
    problem.  Kept cells are pruned as the sweep goes, so a poor (u, v) with millions of
    violations costs no more memory than a good one."""
    M, E = S.shape
    wide = max(obj.max_weight, int(u.max(initial=0)) + int(v.max(initial=0))) + margin >= 2**30
    it = np.int64 if wide else np.int32
    ov = (obj.offset - v).astype(it)
    u_m = (u - margin).astype(it)

    def prune(keys, red, cut):
        keys, red = np.concatenate(keys), np.concatenate(red)
        if len(known):
            fresh = known[np.minimum(np.searchsorted(known, keys), len(known) - 1)] != keys
            keys, red = keys[fresh], red[fresh]
        col = keys % E
        order = np.lexsort((keys, red, col))
        col_sorted = col[order]
        rank = np.arange(len(order)) - np.searchsorted(col_sorted, col_sorted, side="left")
        pick = order[rank < per_mentee]
        if cut is not None:  # cells must now beat the worst kept one of their mentee
            full = pick[rank[rank < per_mentee] == per_mentee - 1]
            cut[col[full]] = np.minimum(cut[col[full]], red[full])
        return keys[pick], red[pick]

    def part(p0, p1):
        cut = np.zeros(E, dtype=it)  # keep cells with (reduced cost - margin) < cut[j]
        strict, kept_k, kept_r, n_kept = 0, [], [], 0
        step = _row_step(E, 1 << 16)
        for r0 in range(p0, p1, step):
            r1 = min(p1, r0 + step)
            blk = S[r0:r1]
            red = blk.astype(it)
            red *= it(obj.scale)
            red += ov  # w - v
            np.subtract(u_m[r0:r1, None], red, out=red)  # (u + v - w) - margin
            ok = blk >= thr
            strict += int(np.count_nonzero((red < -margin) & ok))
            flat = np.flatnonzero((red < cut) & ok)
            if len(flat):
                kept_k.append(flat + r0 * E)
                kept_r.append(red.ravel()[flat])
                n_kept += len(flat)
                if n_kept > 4 * per_mentee * E:
                    keys, red_kept = prune(kept_k, kept_r, cut)
                    kept_k, kept_r, n_kept = [keys], [red_kept], len(keys)
        return strict, kept_k, kept_r

    parallel = M * E >= _PARALLEL_CELLS
    parts = _sweep(part, M, -(-M // SWEEP_THREADS) if parallel else M, parallel)
    strict = sum(p[0] for p in parts)
    kept_k = [k for p in parts for k in p[1]]
    kept_r = [r for p in parts for r in p[2]]
    if not kept_k:
        return strict, np.zeros(0, dtype=np.int64)
    keys, _ = prune(kept_k, kept_r, None)
    return strict, np.sort(keys)


def _solve(S, cap, thr, strategy, *, solver="auto", candidates=None):
    """Optimal pairs (mentor idx, mentee idx) on score grid S with mentor capacities ``cap``;
    scores < thr are not acceptable.  Returns (mi, mj, how it was solved)."""
    M, E = S.shape
    n_max = int(min(E, cap.sum()))
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if n_max == 0 or M == 0:
        return (*empty, "trivial")
    obj = _Objective.of(strategy, n_max)
    if solver not in ("auto", "sparse", "dense"):
        raise PairingError(f"unknown solver {solver!r}")
    slots = np.minimum(cap, E)
    one_slot = lapjvr is not None and not (slots > 1).any() and int(np.count_nonzero(slots)) <= E
    if _transport_fits(S, cap, obj):
        small = M * E <= TRANSPORT_CELLS
    else:
        small = int(slots.sum()) * E <= (DENSE_CELLS_ONE_SLOT if one_slot else DENSE_CELLS)
    if solver == "dense" or (solver == "auto" and small):
        return (*_solve_dense(S, cap, thr, obj), "dense")
    k = candidates or (CANDIDATES_PER_PERSON if max(M, E) < _SAMPLE_WIDE else CANDIDATES_PER_PERSON_WIDE)
    keys = _candidate_keys(S, thr, k)
    if not len(keys):  # nothing acceptable anywhere
        return (*empty, "sparse (no acceptable pair)")
    # Cells within this many score points of being worth taking join the candidate graph
    # with the violators, so that the next round rarely needs another.
    margin = CANDIDATE_MARGIN_POINTS * obj.scale
    for round_no in range(1, CERTIFICATE_ROUNDS + 1):
        w = obj(S[keys // E, keys % E])
        mi, mj = _solve_sparse_edges(keys // E, keys % E, w, cap, M, E)
        duals = _duals(keys, w, mi, mj, cap, M, E, max_iter=DUAL_ITERATIONS)
        if duals is None:
            break
        # Cells that break the duals first join the dual system only.  Often the matching
        # was optimal all along and only the duals (not unique) were the wrong ones: then a
        # larger system still has a solution, which certifies the matching without solving
        # again.  No solution means a better matching uses the new cells: solve again.
        dual_keys = keys
        for repair in range(DUAL_REPAIRS + 1):
            u, v = duals
            strict, near = _near_pairs(S, thr, obj, u, v, margin, per_mentee=k, known=dual_keys)
            if strict == 0:
                primal = int(obj(S[mi, mj]).sum())
                dual = int((cap * u).sum() + v.sum())
                if primal != dual:  # cannot happen once the slackness system holds; be safe
                    return (*_solve_dense(S, cap, thr, obj), "dense (certificate fallback)")
                return mi, mj, f"sparse+certificate ({round_no} round{'s' if round_no > 1 else ''}, {len(keys)} candidate pairs)"
            dual_keys = _unique(np.concatenate((dual_keys, near)))
            if repair == DUAL_REPAIRS:
                break
            duals = _least_duals(dual_keys, obj(S[dual_keys // E, dual_keys % E]), mi, mj, cap, M, E, DUAL_ITERATIONS, u0=u)
            if duals is None:
                break
        keys = dual_keys
    return (*_solve_dense(S, cap, thr, obj), "dense (certificate fallback)")


# --------------------------------------------------------------------------- the run


def _canonical(pair: tuple) -> tuple:
    return (_id_key(pair[0]), _id_key(pair[1]))


def propose_pairs(inputs: PairingInput, *, solver: str = "auto", candidates: int | None = None) -> MatchResult:
    """Optimal pairs for one match run plus a reason for everyone left unmatched.

    ``solver`` ("auto", "dense", "sparse") and ``candidates`` (per person, sparse solver) are
    tuning knobs; every setting returns an optimum of the same objective.  Raises
    ``PairingError`` for an unsatisfiable pin.
    """
    if not isinstance(inputs, PairingInput):
        raise PairingError("propose_pairs expects a PairingInput")
    policy = inputs.policy
    grid = _Grid(inputs)
    M, E = grid.M, grid.E
    cap = np.array([policy.effective_capacity(p) for p in grid.mentors], dtype=np.int64)

    pinned = _apply_pins(grid, cap)
    residual = cap.copy()
    for i, _ in pinned:
        residual[i] -= 1
    open_mentee = np.ones(E, dtype=bool)
    for _, j in pinned:
        open_mentee[j] = False

    S = grid.scores() if M and E else np.zeros((M, E), dtype=np.int16)
    thr = policy.min_score
    rows = np.flatnonzero(residual > 0)
    cols = np.flatnonzero(open_mentee)
    if len(rows) == M and len(cols) == E:
        sub = S
    else:
        sub = S[np.ix_(rows, cols)]
    mi, mj, how = _solve(sub, residual[rows], thr, policy.strategy, solver=solver, candidates=candidates)
    chosen = sorted(
        [(i, j, True) for i, j in pinned] + [(int(rows[a]), int(cols[b]), False) for a, b in zip(mi, mj)],
        key=lambda t: (t[0], t[1]),
    )
    pairs = grid.pairs(chosen)
    unmatched = _unmatched(grid, S, cap, chosen)
    result = MatchResult(
        strategy=policy.strategy,
        pairs=pairs,
        unmatched=unmatched,
        total_score=sum(p.score for p in pairs),
        solver=how,
        inputs=inputs,
    )
    object.__setattr__(result, "_grid", grid)  # reused by alternatives(); not part of the record
    return result


def _apply_pins(grid: _Grid, cap: np.ndarray) -> list[tuple[int, int]]:
    policy = grid.policy
    if not grid.inputs.pins:
        return []
    excluded = grid.sparse_kinds["excluded"]
    out, seen_mentee = [], {}
    load = np.zeros(grid.M, dtype=np.int64)
    for mentor_id, mentee_id in grid.inputs.pins:
        _check_id(mentor_id, "pin mentor id")
        _check_id(mentee_id, "pin mentee id")
    for mentor_id, mentee_id in sorted(grid.inputs.pins, key=_canonical):
        where = f"pin ({mentor_id!r}, {mentee_id!r})"
        if mentor_id not in grid.m_pos:
            raise PairingError(f"{where}: unknown mentor id {mentor_id!r}")
        if mentee_id not in grid.e_pos:
            raise PairingError(f"{where}: unknown mentee id {mentee_id!r}")
        i, j = grid.m_pos[mentor_id], grid.e_pos[mentee_id]
        where = f"the pin {grid.mentors[i].label} + {grid.mentees[j].label}"  # names, for HR
        if j in seen_mentee:
            other = grid.mentors[seen_mentee[j]].label
            raise PairingError(f"{where}: {grid.mentees[j].label} is already pinned to {other}")
        key = i * grid.E + j
        is_excluded = bool(len(excluded)) and excluded[min(np.searchsorted(excluded, key), len(excluded) - 1)] == key
        problems = [msg for _, msg in _pair_violations(grid.mentors[i], grid.mentees[j], policy, is_excluded)]
        load[i] += 1
        if load[i] > cap[i]:
            problems += _capacity_violations(grid.mentors[i], policy, int(load[i]))
        if problems:
            raise PairingError(f"{where} cannot be honoured: {'; '.join(problems)}")
        seen_mentee[j] = i
        out.append((i, j))
    return out


def _partner_counts(S: np.ndarray, thr: int, cap: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """Per mentee and per mentor: allowed partners, acceptable partners (score >= thr), best
    score; per mentee also acceptable mentors with no capacity at all.  Counted only for the
    mentors ``rows`` and mentees ``cols`` (the unmatched, usually a minority; zeros elsewhere):
    a sweep of their rows and columns, not of the whole grid."""
    M, E = S.shape
    e_feasible, e_ok, e_ok_nocap = (np.zeros(E, np.int64) for _ in range(3))
    e_best = np.full(E, -1, dtype=np.int64)
    m_feasible, m_ok = np.zeros(M, np.int64), np.zeros(M, np.int64)
    m_best = np.full(M, -1, dtype=np.int64)
    every_col = len(cols) == E

    def col_block(r0, r1):
        blk = S[r0:r1] if every_col else S[r0:r1, cols]
        f, a = blk >= 0, blk >= thr
        return f.sum(axis=0), a.sum(axis=0), a[cap[r0:r1] == 0].sum(axis=0), blk.max(axis=0)

    if M and len(cols):
        parts = _sweep(col_block, M, _row_step(len(cols)), M * len(cols) >= _PARALLEL_CELLS)
        for target, k in ((e_feasible, 0), (e_ok, 1), (e_ok_nocap, 2)):
            target[cols] = sum(p[k] for p in parts)
        e_best[cols] = np.max([p[3] for p in parts], axis=0)
    step = _row_step(E)
    for r0 in range(0, len(rows) if E else 0, step):
        r = rows[r0 : r0 + step]
        blk = S[r]
        m_feasible[r] = (blk >= 0).sum(axis=1)
        m_ok[r] = (blk >= thr).sum(axis=1)
        m_best[r] = blk.max(axis=1)
    return e_feasible, e_ok, e_ok_nocap, e_best, m_feasible, m_ok, m_best


def _unmatched(grid: _Grid, S: np.ndarray, cap: np.ndarray, chosen) -> tuple[Unmatched, ...]:
    policy = grid.policy
    thr = policy.min_score
    M, E = grid.M, grid.E
    load = np.zeros(M, dtype=np.int64)
    has_mentor = np.zeros(E, dtype=bool)
    for i, j, _ in chosen:
        load[i] += 1
        has_mentor[j] = True
    lonely_m = np.flatnonzero(load == 0)
    lonely_e = np.flatnonzero(~has_mentor)
    if not len(lonely_m) and not len(lonely_e):
        return ()
    e_feasible, e_ok, e_ok_nocap, e_best, m_feasible, m_ok, m_best = _partner_counts(S, thr, cap, lonely_m, lonely_e)
    out = []
    for j in lonely_e.tolist():
        e = grid.mentees[j]
        if not M:
            reason, msg = NO_FEASIBLE_PARTNER, "there are no mentors in this run"
        elif not e_feasible[j]:
            reason = NO_FEASIBLE_PARTNER
            msg = f"no mentor is allowed for {e.label}: " + _why_forbidden(grid, mentee=j)
        elif not e_ok[j]:
            reason = BELOW_MIN_SCORE
            msg = (
                f"{_plural(int(e_feasible[j]), 'mentor')} allowed for {e.label}, but none reaches the minimum "
                f"score {thr} (best {int(e_best[j])})"
            )
        else:
            reason = CAPACITY_EXHAUSTED
            n = int(e_ok[j])
            msg = f"the only suitable mentor for {e.label} is at capacity" if n == 1 else f"all {n} suitable mentors for {e.label} are at capacity"
            if e_ok_nocap[j]:
                msg += f" ({int(e_ok_nocap[j])} already at the cross-program limit or with capacity 0)"
        out.append(Unmatched(person_id=e.id, side="mentee", reason=reason, message=msg))
    for i in lonely_m.tolist():
        m = grid.mentors[i]
        if cap[i] == 0:
            reason = CAPACITY_EXHAUSTED
            if m.capacity == 0:
                msg = f"{m.label} has capacity 0 in this program"
            else:
                msg = (
                    f"{m.label} already has {_plural(m.active_pairs_elsewhere, 'active pair')} in other programs "
                    f"(limit {policy.max_active_pairs} across programs)"
                )
        elif not E:
            reason, msg = NO_FEASIBLE_PARTNER, "there are no mentees in this run"
        elif not m_feasible[i]:
            reason = NO_FEASIBLE_PARTNER
            msg = f"no mentee is allowed for {m.label}: " + _why_forbidden(grid, mentor=i)
        elif not m_ok[i]:
            reason = BELOW_MIN_SCORE
            msg = (
                f"{_plural(int(m_feasible[i]), 'mentee')} allowed for {m.label}, but none reaches the minimum "
                f"score {thr} (best {int(m_best[i])})"
            )
        else:
            reason = NOT_NEEDED
            n = int(m_ok[i])
            if n == 1:
                msg = f"the only suitable mentee for {m.label} was paired with another mentor"
            else:
                msg = f"all {n} suitable mentees for {m.label} were paired with other mentors"
        out.append(Unmatched(person_id=m.id, side="mentor", reason=reason, message=msg))
    # Mentees, then mentors, each in grid order: already the canonical (id) order.
    return tuple(out)


# "Please not with" lists are confidential to their authors (the application form says HR
# does not see them): reasons count every other rule, and say without a number that
# confidential preferences rule out the rest, so a reason never tells how many there are.
_CONFIDENTIAL_KINDS = ("not_with",)


def _why_forbidden(grid: _Grid, *, mentor: int | None = None, mentee: int | None = None) -> str:
    kinds = grid.forbidden_kinds(mentor=mentor, mentee=mentee)
    parts = [f"{int(m.sum())} {_KIND_TEXT[k]}" for k, m in kinds.items() if m.any() and k not in _CONFIDENTIAL_KINDS]
    shown = [m for k, m in kinds.items() if k not in _CONFIDENTIAL_KINDS]
    hidden = np.logical_or.reduce([kinds[k] for k in _CONFIDENTIAL_KINDS if k in kinds] or [np.zeros(0, bool)])
    if shown and hidden.size:
        hidden = hidden & ~np.logical_or.reduce(shown)
    if hidden.any():
        parts.append("the others by a confidential preference" if parts else "ruled out by a confidential preference")
    return ", ".join(parts)


def forbidden_summary(inputs: PairingInput, person_id: str | int) -> str:
    """What rules out partners for one person, counted by rule ("12 in the same reporting
    line, 3 excluded by an admin"; confidential requests uncounted): empty when no partner is
    ruled out."""
    grid = _Grid(inputs)
    if person_id in grid.m_pos:
        return _why_forbidden(grid, mentor=grid.m_pos[person_id])
    if person_id in grid.e_pos:
        return _why_forbidden(grid, mentee=grid.e_pos[person_id])
    raise PairingError(f"unknown person id {person_id!r}")


# --------------------------------------------------------------------------- alternatives


def alternatives(result_or_inputs: MatchResult | PairingInput, person_id: str | int, k: int = 3, *, include_below_min: bool = False) -> tuple[Alternative, ...]:
    """Top-``k`` allowed partners for one person (mentor or mentee), best score first, ties
    by id; the person's current partners in a result are left out."""
    if isinstance(result_or_inputs, MatchResult):
        if result_or_inputs.inputs is None:
            raise PairingError("this MatchResult carries no inputs (rebuilt from JSON?); pass the PairingInput")
        inputs, result = result_or_inputs.inputs, result_or_inputs
    else:
        inputs, result = result_or_inputs, None
    grid = getattr(result, "_grid", None) or _Grid(inputs)
    partners_of: dict = {}
    if result is not None:
        for p in result.pairs:
            partners_of.setdefault(p.mentor_id, []).append(p.mentee_id)
            partners_of.setdefault(p.mentee_id, []).append(p.mentor_id)
    if person_id in grid.m_pos:
        i = grid.m_pos[person_id]
        scores = grid.block(np.array([i]))[0] if grid.E else np.zeros(0, np.int16)
        others, as_pair = grid.mentees, (lambda x: (i, x))
    elif person_id in grid.e_pos:
        j = grid.e_pos[person_id]
        scores = grid.block(np.arange(grid.M), np.array([j]))[:, 0] if grid.M else np.zeros(0, np.int16)
        others, as_pair = grid.mentors, (lambda x: (x, j))
    else:
        raise PairingError(f"unknown person id {person_id!r}")
    current = set(partners_of.get(person_id, ()))
    floor = 0 if include_below_min else inputs.policy.min_score
    ok = [x for x in np.flatnonzero(scores >= floor) if others[x].id not in current]
    ok.sort(key=lambda x: (-int(scores[x]), _id_key(others[x].id)))
    out = []
    for x in ok[: max(k, 0)]:
        b = grid.breakdown(*as_pair(x))
        out.append(
            Alternative(
                partner_id=others[x].id,
                score=b.score,
                breakdown=b,
                below_min_score=b.score < inputs.policy.min_score,
                current_partners=tuple(partners_of.get(others[x].id, ())),
            )
        )
    return tuple(out)


def score_pair(mentor: Participant, mentee: Participant, policy: Policy) -> Breakdown:
    """Score and breakdown of one pair as the engine computes them, whether or not the pair
    is allowed (check that with ``check_pair``): for a pair HR puts together by hand."""
    grid = _Grid(PairingInput(mentors=[mentor], mentees=[mentee], policy=policy))
    return grid.breakdown(0, 0)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pairing.engine",
        description="Run the Upward pairing engine on a JSON input file and print the result as JSON.",
    )
    parser.add_argument("input", help="input JSON file (see pairing/README.md), or - for stdin")
    parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2; 0 for one line)")
    args = parser.parse_args(argv)
    try:
        if args.input == "-":
            data = json.load(sys.stdin)
        else:
            with open(args.input, encoding="utf-8") as fh:
                data = json.load(fh)
        result = propose_pairs(PairingInput.from_dict(data))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read {args.input}: {exc}", file=sys.stderr)
        return 2
    except PairingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json.dump(result.to_dict(), sys.stdout, indent=args.indent or None, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
