"""Property tests for the pure pairing engine (no Django needed).

The properties compare the engine with independent references written here: a pure-Python
scorer (integer arithmetic straight from the spec), check_pair for feasibility, brute-force
enumeration on small instances and networkx min-cost flow on medium ones.  The reference
helpers and builders below are shared with test_engine_examples.py and test_engine_cli.py.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairing import engine
from pairing.engine import (
    BELOW_MIN_SCORE,
    CAPACITY_EXHAUSTED,
    CRITERIA,
    NO_FEASIBLE_PARTNER,
    NOT_NEEDED,
    REASONS,
    MatchResult,
    Mentee,
    Mentor,
    PairingInput,
    Policy,
    Weights,
    check_pair,
    propose_pairs,
)

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

TOPICS = ["AI tools", "social media", "inclusion", "remote work"]
INTERESTS = ["chess", "hiking", "jazz", "football", "cooking"]
SLOTS = ["mon-09", "mon-14", "tue-10", "wed-11", "thu-15", "fri-09"]
LANGS = ["English", "French", "German"]
OFFSETS = [-300, 0, 60, 330, 720, -720]
DEPTS = ["Sales", "IT", "HR", ""]


# --------------------------------------------------------------------------- reference model


def effective_capacity(mentor: Mentor, policy: Policy) -> int:
    if policy.max_active_pairs is None:
        return mentor.capacity
    return max(0, min(mentor.capacity, policy.max_active_pairs - mentor.active_pairs_elsewhere))


def round_half_up(points: int, num: int, den: int) -> int:
    return (2 * points * num + den) // (2 * den)


def reference_points(m: Mentor, e: Mentee, policy: Policy) -> dict[str, int]:
    """The spec's scoring, one pair at a time, in plain integers."""
    mx = dict(zip(CRITERIA, policy.weights.max_points()))
    den = 5 * sum(5 - b for b in e.wants.values())
    num = sum(conf * (5 - e.wants[t]) for t, conf in m.teaches.items() if t in e.wants)
    d = abs(m.utc_offset_minutes - e.utc_offset_minutes) % 1440
    d = min(d, 1440 - d, policy.tz_max_minutes)
    gap = min(max(e.level - m.level, 0), policy.level_gap_cap)
    return {
        "topics": round_half_up(mx["topics"], num, den) if den else 0,
        "interests": round_half_up(mx["interests"], min(len(m.interests & e.interests), policy.interests_cap), policy.interests_cap),
        "availability": round_half_up(mx["availability"], min(len(m.availability & e.availability), policy.availability_cap), policy.availability_cap),
        "time_zone": round_half_up(mx["time_zone"], policy.tz_max_minutes - d, policy.tz_max_minutes),
        "language": mx["language"] if m.languages & e.languages else 0,
        "level_gap": round_half_up(mx["level_gap"], gap, policy.level_gap_cap),
        "cross_department": mx["cross_department"] if m.department and e.department and m.department != e.department else 0,
    }


def reference_score(m, e, policy) -> int:
    return sum(reference_points(m, e, policy).values())


_checks: dict = {}


def allowed(m, e, inputs: PairingInput) -> bool:
    # Memoised per input: the reason checks ask about every pair several times.  The input
    # itself is kept in the cache so that its id() cannot be reused while cached.
    if id(inputs) not in _checks:
        if len(_checks) > 50:
            _checks.clear()
        _checks[id(inputs)] = (inputs, frozenset(inputs.exclusions), {})
    _, excluded, memo = _checks[id(inputs)]
    if (m.id, e.id) not in memo:
        memo[m.id, e.id] = not check_pair(m, e, inputs.policy, exclusions=excluded, pairs_in_program=-1)
    return memo[m.id, e.id]


def acceptable(m, e, inputs) -> bool:
    return allowed(m, e, inputs) and reference_score(m, e, inputs.policy) >= inputs.policy.min_score


def brute_force(inputs: PairingInput) -> tuple[int, int]:
    """Best (primary, secondary) objective by enumerating every assignment."""
    policy = inputs.policy
    mentors = {m.id: m for m in inputs.mentors}
    pinned = {e: m for m, e in inputs.pins}
    options = []
    for e in inputs.mentees:
        if e.id in pinned:
            options.append([pinned[e.id]])
        else:
            options.append([None] + [m.id for m in inputs.mentors if acceptable(mentors[m.id], e, inputs)])
    caps = {m.id: effective_capacity(m, policy) for m in inputs.mentors}
    best = (-1, -1)
    for choice in itertools.product(*options):
        load: dict = {}
        total = count = 0
        for e, m in zip(inputs.mentees, choice):
            if m is None:
                continue
            load[m] = load.get(m, 0) + 1
            total += reference_score(mentors[m], e, policy)
            count += 1
        if any(load[m] > caps[m] for m in load):
            continue
        key = (total, count) if policy.strategy == "best_score" else (count, total)
        best = max(best, key)
    return best


def flow_optimum(inputs: PairingInput) -> tuple[int, int]:
    """Best objective by networkx min-cost flow (pins fixed first)."""
    policy = inputs.policy
    mentors = {m.id: m for m in inputs.mentors}
    mentees = {e.id: e for e in inputs.mentees}
    caps = {m.id: effective_capacity(m, policy) for m in inputs.mentors}
    pin_total = 0
    for m, e in inputs.pins:
        caps[m] -= 1
        pin_total += reference_score(mentors[m], mentees[e], policy)
    free = [e for e in inputs.mentees if e.id not in {p[1] for p in inputs.pins}]
    g = nx.DiGraph()
    g.add_node("s", demand=-len(free))
    g.add_node("t", demand=len(free))
    g.add_edge("s", "t", capacity=len(free), weight=0)
    for m in inputs.mentors:
        g.add_edge("s", ("m", m.id), capacity=caps[m.id], weight=0)
    big_count, big_score = 10**6, 10**4
    for e in free:
        g.add_edge(("e", e.id), "t", capacity=1, weight=0)
        for m in inputs.mentors:
            if acceptable(m, e, inputs):
                score = reference_score(m, e, policy)
                w = score * big_score + 1 if policy.strategy == "best_score" else big_count + score
                g.add_edge(("m", m.id), ("e", e.id), capacity=1, weight=-w)
    flow = nx.min_cost_flow(g)
    total, count = pin_total, len(inputs.pins)
    for m in inputs.mentors:
        for node, f in flow[("m", m.id)].items():
            if f:
                total += reference_score(m, mentees[node[1]], policy)
                count += 1
    return (total, count) if policy.strategy == "best_score" else (count, total)


def objective(result: MatchResult) -> tuple[int, int]:
    if result.strategy == "best_score":
        return (result.total_score, len(result.pairs))
    return (len(result.pairs), result.total_score)


# --------------------------------------------------------------------------- random instances


def random_instance(seed: int, n_mentors: int, n_mentees: int, *, strategy=None, with_pins=True) -> PairingInput:
    rng = random.Random(seed)
    mentor_ids = [f"m{k}" for k in range(n_mentors)]
    mentee_ids = [k for k in range(n_mentees)]  # ints on one side: ids are kept as given
    outsiders = ["boss", "ceo", "vp"]
    everyone = mentor_ids + mentee_ids + outsiders

    def chain(own):
        pool = [x for x in everyone if x != own]
        return tuple(rng.sample(pool, rng.randint(0, min(3, len(pool)))))

    def sub(pool, k):
        return set(ordered(pool, k))

    def ordered(pool, k):
        # A list, not a set: iterating a set of strings follows the process's hash seed, so
        # ratings drawn per element would make a different instance in every process.
        return rng.sample(pool, rng.randint(0, min(k, len(pool))))

    mentors = [
        Mentor(
            id=i, level=rng.randint(1, 5), department=rng.choice(DEPTS), manager_chain=chain(i),
            teaches={t: rng.randint(1, 5) for t in ordered(TOPICS, 3)}, interests=sub(INTERESTS, 3),
            languages=sub(LANGS, 2), availability=sub(SLOTS, 4), utc_offset_minutes=rng.choice(OFFSETS),
            capacity=rng.choice([0, 1, 1, 2, 3]), active_pairs_elsewhere=rng.choice([0, 0, 1, 2]),
            not_with=sub(mentee_ids, 1) if rng.random() < 0.2 else set(),
        )
        for i in mentor_ids
    ]
    mentees = [
        Mentee(
            id=j, level=rng.randint(2, 8), department=rng.choice(DEPTS), manager_chain=chain(j),
            wants={t: rng.randint(1, 5) for t in ordered(TOPICS, 3)}, interests=sub(INTERESTS, 3),
            languages=sub(LANGS, 2), availability=sub(SLOTS, 4), utc_offset_minutes=rng.choice(OFFSETS),
            not_with=sub(mentor_ids, 1) if rng.random() < 0.2 else set(),
        )
        for j in mentee_ids
    ]
    policy = Policy(
        strategy=strategy or rng.choice(["best_score", "most_matched"]),
        min_score=rng.choice([0, 0, 250, 450, 600]),
        min_level_gap=rng.choice([None, 0, 1, 2]),
        forbid_same_manager=rng.random() < 0.5,
        forbid_same_department=rng.random() < 0.3,
        max_active_pairs=rng.choice([None, 1, 2, 3]),
        weights={c: rng.choice([0, 0.5, 1, 2, 5]) for c in CRITERIA},
    )
    pairs = [(m.id, e.id) for m in mentors for e in mentees]
    exclusions = rng.sample(pairs, len(pairs) // 10)
    inputs = PairingInput(mentors=mentors, mentees=mentees, policy=policy, exclusions=exclusions)
    pins: list = []
    if with_pins and pairs:
        load: dict = {}
        pinned_mentees = set()
        for m_id, e_id in rng.sample(pairs, min(2, len(pairs))):
            m = next(x for x in mentors if x.id == m_id)
            e = next(x for x in mentees if x.id == e_id)
            if e_id in pinned_mentees or load.get(m_id, 0) >= effective_capacity(m, policy) or not allowed(m, e, inputs):
                continue
            load[m_id] = load.get(m_id, 0) + 1
            pinned_mentees.add(e_id)
            pins.append((m_id, e_id))
    return replace(inputs, pins=tuple(pins))


def assert_valid(result: MatchResult, inputs: PairingInput) -> None:
    """Every hard rule, capacity, pin, score invariant and reason is as promised."""
    policy = inputs.policy
    mentors = {m.id: m for m in inputs.mentors}
    mentees = {e.id: e for e in inputs.mentees}
    load: dict = {}
    seen_mentees = set()
    for p in result.pairs:
        m, e = mentors[p.mentor_id], mentees[p.mentee_id]
        assert check_pair(m, e, policy, exclusions=inputs.exclusions, pairs_in_program=-1) == []
        assert p.mentee_id not in seen_mentees
        seen_mentees.add(p.mentee_id)
        load[m.id] = load.get(m.id, 0) + 1
        assert p.breakdown.points == reference_points(m, e, policy)
        assert sum(p.breakdown.points.values()) == p.score == reference_score(m, e, policy)
        assert 0 <= p.score <= 1000
        assert p.pinned == ((m.id, e.id) in inputs.pins)
        if not p.pinned:
            assert p.score >= policy.min_score
    for m_id, n in load.items():
        assert n <= effective_capacity(mentors[m_id], policy)
    assert set(inputs.pins) <= {(p.mentor_id, p.mentee_id) for p in result.pairs}
    assert result.total_score == sum(p.score for p in result.pairs)

    unmatched = {(u.side, u.person_id): u for u in result.unmatched}
    assert len(unmatched) == len(result.unmatched)
    assert {k[1] for k in unmatched if k[0] == "mentee"} == set(mentees) - seen_mentees
    assert {k[1] for k in unmatched if k[0] == "mentor"} == set(mentors) - set(load)
    full = {m_id for m_id, m in mentors.items() if load.get(m_id, 0) >= effective_capacity(m, policy)}
    for (side, pid), u in unmatched.items():
        assert u.reason in REASONS and u.message
        if side == "mentee":
            e = mentees[pid]
            ok = [m for m in inputs.mentors if allowed(m, e, inputs)]
            good = [m for m in ok if reference_score(m, e, policy) >= policy.min_score]
            expected = NO_FEASIBLE_PARTNER if not ok else BELOW_MIN_SCORE if not good else CAPACITY_EXHAUSTED
            assert u.reason == expected
            assert all(m.id in full for m in good)  # otherwise the optimum would have used them
        else:
            m = mentors[pid]
            ok = [e for e in inputs.mentees if allowed(m, e, inputs)]
            good = [e for e in ok if reference_score(m, e, policy) >= policy.min_score]
            if effective_capacity(m, policy) == 0:
                expected = CAPACITY_EXHAUSTED
            else:
                expected = NO_FEASIBLE_PARTNER if not ok else BELOW_MIN_SCORE if not good else NOT_NEEDED
            assert u.reason == expected
            if expected == NOT_NEEDED:
                assert all(e.id in seen_mentees for e in good)


# --------------------------------------------------------------------------- properties


@settings(SETTINGS, max_examples=120)
@given(seed=st.integers(0, 10**9), n_mentors=st.integers(0, 4), n_mentees=st.integers(0, 4))
def test_small_instances_match_brute_force_and_keep_every_rule(seed, n_mentors, n_mentees):
    inputs = random_instance(seed, n_mentors, n_mentees)
    result = propose_pairs(inputs)
    assert_valid(result, inputs)
    assert objective(result) == brute_force(inputs)


@settings(SETTINGS, max_examples=40)
@given(seed=st.integers(0, 10**9), n_mentors=st.integers(5, 18), n_mentees=st.integers(5, 18), strategy=st.sampled_from(["best_score", "most_matched"]))
def test_medium_instances_match_networkx_min_cost_flow(seed, n_mentors, n_mentees, strategy):
    inputs = random_instance(seed, n_mentors, n_mentees, strategy=strategy)
    result = propose_pairs(inputs)
    assert_valid(result, inputs)
    assert objective(result) == flow_optimum(inputs)


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 10**9), n=st.integers(20, 60), strategy=st.sampled_from(["best_score", "most_matched"]), candidates=st.integers(1, 4))
def test_certified_sparse_solver_equals_dense_solver(seed, n, strategy, candidates):
    # Few candidates per person force several certificate rounds (or the dense fallback).
    inputs = random_instance(seed, n, n + seed % 7, strategy=strategy)
    sparse_result = propose_pairs(inputs, solver="sparse", candidates=candidates)
    dense_result = propose_pairs(inputs, solver="dense")
    assert objective(sparse_result) == objective(dense_result)
    assert_valid(sparse_result, inputs)


@settings(SETTINGS, max_examples=30)
@given(seed=st.integers(0, 10**9), n_mentors=st.integers(0, 12), n_mentees=st.integers(0, 12), solver=st.sampled_from(["dense", "sparse"]))
def test_same_input_twice_or_shuffled_gives_the_same_result(seed, n_mentors, n_mentees, solver):
    inputs = random_instance(seed, n_mentors, n_mentees)
    first = propose_pairs(inputs, solver=solver).to_dict()
    assert propose_pairs(inputs, solver=solver).to_dict() == first
    rng = random.Random(seed)
    mentors, mentees = list(inputs.mentors), list(inputs.mentees)
    rng.shuffle(mentors)
    rng.shuffle(mentees)
    shuffled = replace(inputs, mentors=tuple(mentors), mentees=tuple(mentees), exclusions=tuple(reversed(inputs.exclusions)))
    again = propose_pairs(shuffled, solver=solver).to_dict()
    assert again["pairs"] == first["pairs"]
    assert again["unmatched"] == first["unmatched"]


@settings(SETTINGS, max_examples=40)
@given(seed=st.integers(0, 10**9), n=st.integers(1, 15))
def test_grid_scores_equal_reference_scores_and_check_pair(seed, n):
    inputs = random_instance(seed, n, n + 2, with_pins=False)
    grid = engine._Grid(inputs)
    S = grid.scores()
    for i, m in enumerate(grid.mentors):
        for j, e in enumerate(grid.mentees):
            expected = reference_score(m, e, inputs.policy) if allowed(m, e, inputs) else -1
            assert S[i, j] == expected


@settings(SETTINGS, max_examples=20)
@given(seed=st.integers(0, 10**9))
def test_score_pair_matches_the_reference_even_for_forbidden_pairs(seed):
    inputs = random_instance(seed, 3, 3, with_pins=False)
    for m in inputs.mentors:
        for e in inputs.mentees:
            b = engine.score_pair(m, e, inputs.policy)
            assert b.points == reference_points(m, e, inputs.policy)
            assert b.score == sum(b.points.values())


@settings(SETTINGS, max_examples=30)
@given(weights=st.lists(st.floats(0, 100, allow_nan=False), min_size=7, max_size=7))
def test_max_points_always_sum_to_1000(weights):
    w = Weights(**dict(zip(CRITERIA, weights)))
    points = w.max_points()
    assert sum(points) == (1000 if sum(weights) > 0 else 0)
    assert all(p >= 0 for p in points)


# --------------------------------------------------------------------------- helpers for example tests


def mentor(mid, **kw):
    kw.setdefault("level", 1)
    kw.setdefault("languages", {"English"})
    return Mentor(id=mid, **kw)


def mentee(eid, **kw):
    kw.setdefault("level", 5)
    kw.setdefault("languages", {"English"})
    return Mentee(id=eid, **kw)


def run(mentors, mentees, **policy):
    pins = policy.pop("pins", ())
    exclusions = policy.pop("exclusions", ())
    inputs = PairingInput(mentors=mentors, mentees=mentees, policy=Policy(**policy), pins=pins, exclusions=exclusions)
    return propose_pairs(inputs)


def pairs_of(result):
    return {(p.mentor_id, p.mentee_id) for p in result.pairs}


def reason_of(result, pid):
    return next(u.reason for u in result.unmatched if u.person_id == pid)


def message_of(result, pid):
    return next(u.message for u in result.unmatched if u.person_id == pid)


@settings(SETTINGS, max_examples=15)
@given(seed=st.integers(0, 10**9), n=st.integers(15, 40), candidates=st.integers(1, 3))
def test_restricted_optimum_always_has_duals(seed, n, candidates):
    # LAPJVsp's optimum on the candidate graph must always admit LP duals; a None here would
    # mean the certificate machinery silently leans on the dense fallback.
    calls = []
    original = engine._duals

    def checked(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out is not None)
        return out

    engine._duals = checked
    try:
        propose_pairs(random_instance(seed, n, n + 3), solver="sparse", candidates=candidates)
    finally:
        engine._duals = original
    assert all(calls)


@settings(SETTINGS, max_examples=10)
@given(seed=st.integers(0, 10**9), n=st.integers(10, 40))
def test_threaded_grid_sweeps_give_identical_results(seed, n):
    inputs = random_instance(seed, n, n + 1)
    single = propose_pairs(inputs, solver="sparse", candidates=2).to_dict()
    saved = engine.SWEEP_THREADS, engine._PARALLEL_CELLS, engine._PARALLEL_SCORE_CELLS
    engine.SWEEP_THREADS, engine._PARALLEL_CELLS, engine._PARALLEL_SCORE_CELLS = 3, 1, 1  # threads even for tiny grids
    try:
        threaded = propose_pairs(inputs, solver="sparse", candidates=2).to_dict()
    finally:
        engine.SWEEP_THREADS, engine._PARALLEL_CELLS, engine._PARALLEL_SCORE_CELLS = saved
    assert threaded == single
