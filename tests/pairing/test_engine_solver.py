"""Property tests for the solver's paths: the certified sparse fast path (candidate graph, LP
duals checked against the full grid, the dual repair that avoids a second solve) and the
dense fallback when the certificate does not close.  Each path is forced and its answer is
compared with brute force or networkx min-cost flow, which know nothing of the engine."""

from __future__ import annotations

import contextlib
import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairing import engine
from pairing.engine import CRITERIA, Mentee, Mentor, PairingInput, Policy, propose_pairs
from tests.pairing.test_engine import SETTINGS, assert_valid, brute_force, flow_optimum, objective, random_instance, reference_score


@contextlib.contextmanager
def patched(**values):
    """Engine module constants or functions replaced for the block (hypothesis forbids the
    function-scoped monkeypatch fixture)."""
    saved = {name: getattr(engine, name) for name in values}
    for name, value in values.items():
        setattr(engine, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(engine, name, value)


@contextlib.contextmanager
def counting(*names):
    """Counts calls of engine functions by name."""
    calls = dict.fromkeys(names, 0)

    def wrap(name, fn):
        def counted(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return counted

    with patched(**{name: wrap(name, getattr(engine, name)) for name in names}):
        yield calls


def nothing_acceptable(result, inputs) -> bool:
    """True when the instance has no acceptable pair at all (a strict minimum score with a
    large level gap can do that): the solver then says so instead of building a graph, and
    that is right only if the optimum holds nothing but the pins."""
    if result.solver != "sparse (no acceptable pair)":
        return False
    assert {(p.mentor_id, p.mentee_id) for p in result.pairs} <= set(inputs.pins)  # pins only
    assert objective(result) == flow_optimum(inputs)
    assert_valid(result, inputs)
    return True


def candidate_pairs(result) -> int:
    return int(re.search(r"(\d+) candidate pairs", result.solver).group(1))


# --------------------------------------------------------------------------- the fast path


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 10**9), n=st.integers(20, 45), strategy=st.sampled_from(["best_score", "most_matched"]), candidates=st.integers(1, 3))
def test_certified_fast_path_equals_networkx_on_a_thin_candidate_graph(seed, n, strategy, candidates):
    inputs = random_instance(seed, n, n + seed % 5, strategy=strategy)
    result = propose_pairs(inputs, solver="sparse", candidates=candidates)
    if nothing_acceptable(result, inputs):
        return
    # The answer came from the candidate graph and its certificate, not the dense solver,
    # and the graph really was a fraction of the grid.
    assert result.solver.startswith("sparse+certificate"), result.solver
    assert candidate_pairs(result) < len(inputs.mentors) * len(inputs.mentees)
    assert objective(result) == flow_optimum(inputs)
    assert_valid(result, inputs)


@settings(SETTINGS, max_examples=80)
@given(seed=st.integers(0, 10**9), n_mentors=st.integers(0, 4), n_mentees=st.integers(0, 4), candidates=st.integers(1, 2))
def test_sparse_path_equals_brute_force_on_small_instances(seed, n_mentors, n_mentees, candidates):
    inputs = random_instance(seed, n_mentors, n_mentees)
    result = propose_pairs(inputs, solver="sparse", candidates=candidates)
    assert objective(result) == brute_force(inputs)
    assert_valid(result, inputs)


@settings(SETTINGS, max_examples=60)
@given(
    seed=st.integers(0, 10**9), rows=st.integers(1, 12), cols=st.integers(1, 300), levels=st.integers(1, 40),
    k=st.integers(1, 30), sample=st.sampled_from([4, 16, 10**6]),
)
def test_candidate_rows_keep_their_best_cell_and_at_most_2k(seed, rows, cols, levels, k, sample):
    """_best_in_rows on tie-heavy rows, with the k-th best estimated from sampled columns
    (sample 4 or 16: every 2nd-4th column) or found exactly (10**6: the whole row)."""
    rng = np.random.default_rng(seed)
    S = (rng.integers(-1, levels, size=(rows, cols)) * (1000 // levels)).astype(np.int16)
    lo = 1000 // levels * (levels // 3)
    with patched(_SAMPLE_COLUMNS=sample, _SAMPLE_STRIDE_NARROW=4):
        hit, nth = engine._best_in_rows(S, lo, k)
    ok = S >= lo
    assert (nth(cols + 1) == lo - 1).all()  # "fewer than r cells", sampled or not
    assert not (hit & ~ok).any()  # nothing below the minimum
    assert (hit.sum(axis=1) <= 2 * k).all()
    for r in np.flatnonzero(ok.any(axis=1)):
        assert hit[r, S[r] == S[r].max()].any()  # each row's best partner is a candidate
    if cols // sample <= 1:  # exact: the k best (and ties up to 2k) are all there
        for r in range(rows):
            kth = np.sort(S[r])[::-1][min(k, cols) - 1]
            assert hit[r, (S[r] > kth) & ok[r]].all()
            assert hit[r].sum() >= min(k, int(ok[r].sum()))
            if k <= cols:
                assert nth(k)[r] == kth


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 10**9), n=st.integers(20, 45), strategy=st.sampled_from(["best_score", "most_matched"]), candidates=st.integers(1, 6))
def test_sampled_candidate_lists_still_certify_the_optimum(seed, n, strategy, candidates):
    """With sampled k-th-best estimates (every 2nd-4th column here, as on grids over 4,096
    wide), the candidate graph changes but the certified answer is still the optimum."""
    inputs = random_instance(seed, n, n + seed % 5, strategy=strategy)
    with patched(_SAMPLE_COLUMNS=8, _SAMPLE_STRIDE_NARROW=4):
        result = propose_pairs(inputs, solver="sparse", candidates=candidates)
    if nothing_acceptable(result, inputs):
        return
    assert result.solver.startswith(("sparse+certificate", "dense (certificate fallback)")), result.solver
    assert objective(result) == flow_optimum(inputs)
    assert_valid(result, inputs)


TOPICS_ONLY = {"topics": 1, "interests": 0, "availability": 0, "time_zone": 0, "language": 0, "level_gap": 0, "cross_department": 0}


def test_dual_repair_certifies_an_optimal_matching_without_solving_again():
    # Topic scores only (each mentee wants one topic at baseline 1, so score = 200 x the
    # mentor's confidence): m1+e1 1000, m1+e3 800, m2+e2 1000, m2+e3 600, m2+e1 400.  With
    # one candidate per person the graph is (m1, e1), (m2, e2), (m1, e3) and its optimum,
    # m1+e1 and m2+e2, is the real one.  But m2 has a single edge, so its least dual is 0 and
    # the idle e3 makes (m2, e3) look like a better use of m2.  Adding that cell to the dual
    # system alone (no second solve) must prove the matching optimal.
    mentors = [Mentor(id="m1", level=1, teaches={"A": 5, "C": 4}), Mentor(id="m2", level=1, teaches={"A": 2, "B": 5, "C": 3})]
    mentees = [Mentee(id=f"e{k}", level=5, wants={t: 1}) for k, t in ((1, "A"), (2, "B"), (3, "C"))]
    inputs = PairingInput(mentors=mentors, mentees=mentees, policy=Policy(weights=TOPICS_ONLY))
    with counting("_solve_sparse_edges", "_least_duals") as calls:
        result = propose_pairs(inputs, solver="sparse", candidates=1)
    assert result.solver == "sparse+certificate (1 round, 3 candidate pairs)"
    assert calls["_solve_sparse_edges"] == 1
    assert calls["_least_duals"] >= 2  # the graph's duals, then at least one repair
    assert {(p.mentor_id, p.mentee_id, p.score) for p in result.pairs} == {("m1", "e1", 1000), ("m2", "e2", 1000)}
    assert objective(result) == brute_force(inputs)

    # Without repairs the same instance needs a second round (or, with one round, the
    # dense solver): the repair is what saved the solve.
    with patched(DUAL_REPAIRS=0), counting("_solve_sparse_edges") as calls:
        again = propose_pairs(inputs, solver="sparse", candidates=1)
    assert calls["_solve_sparse_edges"] == 2
    assert again.to_dict()["pairs"] == result.to_dict()["pairs"]


@settings(SETTINGS, max_examples=20)
@given(seed=st.integers(0, 10**9), n=st.integers(20, 40), strategy=st.sampled_from(["best_score", "most_matched"]))
def test_repair_never_certifies_a_matching_that_is_not_optimal(seed, n, strategy):
    # Repairs only (no second solve allowed): whatever is certified must be the optimum, and
    # anything else must end on the dense solver.
    inputs = random_instance(seed, n, n + 2, strategy=strategy)
    with patched(CERTIFICATE_ROUNDS=1, DUAL_REPAIRS=6):
        result = propose_pairs(inputs, solver="sparse", candidates=1)
    if nothing_acceptable(result, inputs):
        return
    assert result.solver.startswith(("sparse+certificate (1 round,", "dense (certificate fallback)")), result.solver
    assert objective(result) == flow_optimum(inputs)
    assert_valid(result, inputs)


# --------------------------------------------------------------------------- the fallback


def test_certificate_that_cannot_close_falls_back_to_the_dense_optimum():
    # Topic scores only: m1+e1 1000, m1+e2 500, m2+e1 400, m2+e2 100.  Everyone's single best
    # partner gives the graph (m1, e1), (m2, e1), (m1, e2): the optimum m1+e1, m2+e2 (1100)
    # needs the missing cell, and the graph's own optimum m1+e1 leaves m2 and e2 idle, which
    # no dual can excuse.
    mentors = [Mentor(id="m1", level=1, teaches={"A": 5, "B": 5}), Mentor(id="m2", level=1, teaches={"B": 4, "C": 1})]
    mentees = [Mentee(id="e1", level=5, wants={"A": 1, "B": 1}), Mentee(id="e2", level=5, wants={"A": 1, "C": 1})]
    inputs = PairingInput(mentors=mentors, mentees=mentees, policy=Policy(weights=TOPICS_ONLY))
    expected = {("m1", "e1"), ("m2", "e2")}

    # The graph is everyone's single best partner (the engine's own graph also has "priced"
    # candidates, which would find m2 + e2 here): this test is about what happens next.
    def favourites(S, thr, k):
        return engine._unique(np.concatenate((engine._top_k(S, thr, 1), engine._top_k(S, thr, 1, columns=True))))

    with patched(CERTIFICATE_ROUNDS=1, DUAL_REPAIRS=0, _candidate_keys=favourites):
        fallback = propose_pairs(inputs, solver="sparse", candidates=1)
    assert fallback.solver == "dense (certificate fallback)"
    assert {(p.mentor_id, p.mentee_id) for p in fallback.pairs} == expected

    # With rounds to spare, the violating cell joins the graph and the next round certifies.
    with patched(_candidate_keys=favourites):
        grown = propose_pairs(inputs, solver="sparse", candidates=1)
    assert grown.solver.startswith("sparse+certificate (2 rounds,"), grown.solver
    assert {(p.mentor_id, p.mentee_id) for p in grown.pairs} == expected
    assert grown.to_dict()["pairs"] == fallback.to_dict()["pairs"]


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 10**9), n=st.integers(15, 40), strategy=st.sampled_from(["best_score", "most_matched"]))
def test_forced_fallback_equals_networkx_and_keeps_every_rule(seed, n, strategy):
    inputs = random_instance(seed, n, n + seed % 4, strategy=strategy)
    with patched(CERTIFICATE_ROUNDS=1, DUAL_REPAIRS=0):
        result = propose_pairs(inputs, solver="sparse", candidates=1)
    if nothing_acceptable(result, inputs):
        return
    assert result.solver.startswith(("sparse+certificate (1 round,", "dense (certificate fallback)")), result.solver
    assert objective(result) == flow_optimum(inputs)
    assert_valid(result, inputs)


def test_forced_fallback_is_taken_on_most_generated_instances():
    # Guards the property test above against testing only the fast path: on the shared
    # generator, one candidate and one round without repair rarely certify.
    hows = []
    with patched(CERTIFICATE_ROUNDS=1, DUAL_REPAIRS=0):
        for seed in range(12):
            hows.append(propose_pairs(random_instance(seed, 30, 32), solver="sparse", candidates=1).solver)
    assert sum(h == "dense (certificate fallback)" for h in hows) >= 6, hows


# --------------------------------------------------------------------------- determinism


@settings(SETTINGS, max_examples=15)
@given(seed=st.integers(0, 10**9), n=st.integers(10, 35), candidates=st.integers(1, 3))
def test_every_path_returns_the_same_pairs_for_the_same_input(seed, n, candidates):
    # Ties are common (integer scores): all paths must break them the same way run to run.
    inputs = random_instance(seed, n, n + 1)
    first = propose_pairs(inputs, solver="sparse", candidates=candidates).to_dict()
    assert propose_pairs(inputs, solver="sparse", candidates=candidates).to_dict() == first
    with patched(CERTIFICATE_ROUNDS=1, DUAL_REPAIRS=0):
        fallback = propose_pairs(inputs, solver="sparse", candidates=candidates).to_dict()
        assert propose_pairs(inputs, solver="sparse", candidates=candidates).to_dict() == fallback


# --------------------------------------------------------------------------- scoring edge cases


@settings(SETTINGS, max_examples=15)
@given(seed=st.integers(0, 10**9), n=st.integers(1, 12), vocab=st.sampled_from([7, 8, 9, 16, 17, 33, 64, 65, 130]))
def test_grid_scores_equal_the_reference_for_every_vocabulary_width(seed, n, vocab):
    # Interests, slots and languages are bitsets in 8- to 64-bit words, several words past
    # 64 items, and their points come from one mixed-radix table: every width must score
    # exactly like the spec.  Caps above the vocabulary size are clipped, never overflowed.
    rng = random.Random(seed)
    items = [f"x{k}" for k in range(vocab)]

    def person(cls, pid, level):
        return cls(
            id=pid, level=level, interests=set(rng.sample(items, rng.randint(0, vocab))), availability=set(rng.sample(items, rng.randint(0, vocab))),
            languages=set(rng.sample(items, rng.randint(0, min(3, vocab)))), teaches={"A": rng.randint(1, 5)}, wants={"A": rng.randint(1, 5)},
        )

    policy = Policy(
        min_level_gap=None, interests_cap=rng.choice([1, 3, vocab, vocab + 5]), availability_cap=rng.choice([2, vocab, 10_000]),
        weights={c: rng.choice([0, 1, 3]) for c in CRITERIA},
    )
    inputs = PairingInput(mentors=[person(Mentor, f"m{k}", 1) for k in range(n)], mentees=[person(Mentee, k, 5) for k in range(n + 1)], policy=policy)
    grid = engine._Grid(inputs)
    S = grid.scores()
    for i, m in enumerate(grid.mentors):
        for j, e in enumerate(grid.mentees):
            assert S[i, j] == reference_score(m, e, policy)


# --------------------------------------------------------------------------- the dense path


@pytest.mark.parametrize(
    "square_max, dense_cells",
    [
        (engine._LAPJV_SQUARE_MAX, engine.DENSE_CELLS),  # as shipped: these sizes take lapjv or lapjvr
        (0, engine.DENSE_CELLS),  # squares too go to lapjvr, with the extra column
        (engine._LAPJV_SQUARE_MAX, 0),  # tall grids written column-wise (as past DENSE_CELLS)
    ],
)
@settings(SETTINGS, max_examples=60)
@given(
    seed=st.integers(0, 10**9), m=st.integers(1, 40), e=st.integers(1, 40), max_cap=st.integers(1, 3),
    levels=st.sampled_from([3, 12, 1001]), strategy=st.sampled_from(["best_score", "most_matched"]),
    compiled=st.booleans(),
)
def test_dense_solve_equals_scipy_on_the_replicated_grid(square_max, dense_cells, seed, m, e, max_cap, levels, strategy, compiled):
    """Square, near-square, wide and tall cost matrices, tie-heavy (few score levels) or
    not, against scipy's linear_sum_assignment on the replicated weight matrix; capacities
    above 1 through pairing/_transport.c and, without it, through lapx's replicated form."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(seed)
    S = (rng.integers(-1, levels, size=(m, e)) * (1000 // (levels - 1))).clip(-1, 1000).astype(np.int16)
    cap = rng.integers(0, max_cap + 1, size=m)
    thr = int(rng.integers(0, 1001))  # up to most cells unacceptable
    obj = engine._Objective.of(strategy, int(min(e, cap.sum())))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_LAPJV_SQUARE_MAX", square_max)
        patch.setattr(engine, "DENSE_CELLS", dense_cells)
        if not compiled:
            patch.setattr(engine, "_transport", None)
        mi, mj = engine._solve_dense(S, cap, thr, obj)
    assert np.all(S[mi, mj] >= thr)
    assert np.all(np.bincount(mi, minlength=m) <= cap)
    assert len(set(mj.tolist())) == len(mj)
    owner = np.repeat(np.arange(m), cap)
    W = np.where(S[owner] >= thr, obj(S[owner]), 0)
    r, c = linear_sum_assignment(W, maximize=True)
    assert int(obj(S[mi, mj]).sum()) == int(W[r, c].sum())


@pytest.mark.parametrize(
    "m, e, cap, solver",
    [
        (30, 30, 1, "lapjv"),  # small square
        (700, 700, 1, "lapjv"),  # the biggest square lapjv gets
        (701, 701, 1, "lapjvr"),  # one more: lapjvr, given a column no row may take
        (15, 30, 1, "lapjvr"),  # wide
        (29, 30, 1, "lapjvr"),  # nearly square
        (40, 25, 2, "lapjvr"),  # tall: 25 mentees x 80 slots
        (30, 40, 2, "lapjvr"),  # tall: 40 mentees x 60 slots
        (1200, 6, 1, "lapjvr"),  # tall and narrow
        (20, 10, 1, "lapjvr"),  # tall at capacity 1
    ],
)
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "not-compiled"])
@pytest.mark.skipif(engine.lapjvr is None, reason="this lapx wheel has no lapjvr")
def test_dense_solve_equals_scipy_on_each_side_of_the_solver_choice(m, e, cap, solver, compiled, monkeypatch):
    """Capacities above 1 go to pairing/_transport.c when it is built; lapx solves them
    (replicated rows) when it is not."""
    from scipy.optimize import linear_sum_assignment

    if not compiled:
        monkeypatch.setattr(engine, "_transport", None)
    elif engine._transport is None:
        pytest.skip("pairing/_transport.c is not compiled here (test_the_compiled_solver_is_built says so)")
    elif cap > 1:
        solver = "_solve_transport"
    used = []
    for name in ("lapjv", "lapjvr", "linear_sum_assignment", "_solve_transport"):  # scipy: the fallback, unused here
        real = getattr(engine, name)
        monkeypatch.setattr(engine, name, lambda *a, _real=real, _name=name, **k: used.append(_name) or _real(*a, **k))
    rng = np.random.default_rng(m * 1000 + e)
    S = rng.integers(-1, 1001, size=(m, e)).astype(np.int16)
    caps = np.full(m, cap)
    for strategy in ("best_score", "most_matched"):
        obj = engine._Objective.of(strategy, int(min(e, caps.sum())))
        mi, mj = engine._solve_dense(S, caps, 300, obj)
        assert np.all(S[mi, mj] >= 300) and len(set(mj.tolist())) == len(mj)
        assert np.all(np.bincount(mi, minlength=m) <= caps)
        owner = np.repeat(np.arange(m), caps)
        W = np.where(S[owner] >= 300, obj(S[owner]), 0)
        r, c = linear_sum_assignment(W, maximize=True)
        assert int(obj(S[mi, mj]).sum()) == int(W[r, c].sum())
    assert used == [solver, solver]


@pytest.mark.parametrize("name, shape", [("lapjv", (30, 30)), ("lapjvr", (20, 30)), ("lapjvr", (800, 800))])
def test_dense_solve_falls_back_to_scipy_when_lapx_refuses(name, shape, monkeypatch):
    """lapx may refuse a matrix (its reduced costs overflow, a native limit) or lack lapjvr
    (its musllinux ARMv7 wheels): scipy solves it."""
    from scipy.optimize import linear_sum_assignment

    def refuse(*args, **kwargs):
        raise ValueError("reduced costs overflow")

    monkeypatch.setattr(engine, name, refuse if name == "lapjv" or shape[0] < shape[1] else None)  # None: not in this wheel
    m, e = shape
    S = np.random.default_rng(5).integers(-1, 1001, size=shape).astype(np.int16)
    cap = np.ones(m, dtype=np.int64)
    obj = engine._Objective.of("best_score", min(m, e))
    mi, mj = engine._solve_dense(S, cap, 300, obj)
    W = np.where(S >= 300, obj(S), 0)
    r, c = linear_sum_assignment(W, maximize=True)
    assert int(obj(S[mi, mj]).sum()) == int(W[r, c].sum()) > 0
    assert np.all(S[mi, mj] >= 300) and len(set(mj.tolist())) == len(mj)


def test_dense_solve_is_exact_with_weights_above_a_million():
    """At 1,000 per side best_score weights reach 1,001,001: past the fixed bound old lap
    releases used inside their dense kernel (lapx starts from the real costs), and lapjvr
    gets this square with one extra column."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(11)
    S = ((rng.integers(0, 8, size=(1000, 1)) * rng.integers(0, 8, size=(1, 1000))) * 1000 // 49).astype(np.int16)
    cap = np.ones(1000, dtype=np.int64)
    obj = engine._Objective.of("best_score", 1000)
    assert obj.max_weight > 1_000_000
    mi, mj = engine._solve_dense(S, cap, 0, obj)
    r, c = linear_sum_assignment(obj(S), maximize=True)
    assert int(obj(S[mi, mj]).sum()) == int(obj(S[r, c]).sum())
    assert len(mi) == 1000


@pytest.mark.parametrize(
    "caps, how",
    [
        ([1] * 30, "dense"),  # 900 cells, one slot each: under the one-slot limit
        ([2] * 30, "sparse+certificate"),  # 1,800 slot cells: over the limit for replicated rows
        ([1] * 29 + [2], "sparse+certificate"),  # one mentor with two slots is enough
        ([1] * 10 + [0] * 20, "dense"),  # 300 cells
        ([1] * 30 + [1], "sparse+certificate"),  # one slot each but more mentors than mentees
    ],
)
def test_auto_solver_goes_dense_further_when_no_mentor_has_two_slots(caps, how, monkeypatch):
    """With one slot per mentor the dense solve wins to much bigger grids than with
    replicated rows (see DENSE_CELLS_ONE_SLOT); the limits are shrunk here to keep it quick.
    (Without the compiled solver: with it, capacities above 1 have their own limit, below.)"""
    monkeypatch.setattr(engine, "_transport", None)
    monkeypatch.setattr(engine, "DENSE_CELLS", 500)
    monkeypatch.setattr(engine, "DENSE_CELLS_ONE_SLOT", 1000)
    S = np.random.default_rng(3).integers(0, 1001, size=(len(caps), 30)).astype(np.int16)
    cap = np.array(caps, dtype=np.int64)
    mi, mj, solved = engine._solve(S, cap, 300, "best_score")
    assert solved.startswith(how), solved
    if how == "dense":  # without lapjvr (some lapx wheels) the one-slot limit does not apply
        monkeypatch.setattr(engine, "lapjvr", None)
        assert engine._solve(S, cap, 300, "best_score")[2].startswith("dense" if int(cap.sum()) * 30 <= 500 else "sparse")
    dense = engine._solve(S, cap, 300, "best_score", solver="dense")
    assert int(S[mi, mj].sum()) == int(S[dense[0], dense[1]].sum())


@pytest.mark.parametrize(
    "caps, transport_cells, how",
    [
        ([2] * 30, 900, "dense"),  # 900 mentor x mentee cells, at the limit
        ([2] * 30, 899, "sparse+certificate"),
        ([1] * 29 + [2], 900, "dense"),  # one mentor with two slots is enough
        ([1] * 30, 10, "dense"),  # one slot each: lapx's limits apply, not this one
    ],
)
@pytest.mark.skipif(engine._transport is None, reason="pairing/_transport.c is not compiled here")
def test_auto_solver_limit_for_the_compiled_solver(caps, transport_cells, how, monkeypatch):
    """With capacities above 1 the compiled solver takes grids up to TRANSPORT_CELLS
    mentor x mentee cells (not slot cells); bigger ones go to the certified sparse solve."""
    monkeypatch.setattr(engine, "TRANSPORT_CELLS", transport_cells)
    used = []
    real = engine._solve_transport
    monkeypatch.setattr(engine, "_solve_transport", lambda *a, **k: used.append(1) or real(*a, **k))
    S = np.random.default_rng(5).integers(0, 1001, size=(len(caps), 30)).astype(np.int16)
    cap = np.array(caps, dtype=np.int64)
    mi, mj, solved = engine._solve(S, cap, 300, "best_score")
    assert solved.startswith(how), solved
    assert bool(used) == (how == "dense" and max(caps) > 1)
    monkeypatch.setattr(engine, "_transport", None)
    other = engine._solve(S, cap, 300, "best_score", solver="dense")
    assert int(S[mi, mj].sum()) == int(S[other[0], other[1]].sum())
