"""pairing/_transport.c, the compiled capacity-aware solver: optimal, within capacities, and
its LP duals prove it (checked here with numpy, independently of the algorithm)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from pairing import engine

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_compiled_solver_is_built():
    """bin/setup builds it (pip compiles setup.py's extension); without it pairing
    still works, on lapx and scipy, but capacities above 1 solve several times slower."""
    assert engine._transport is not None, "pairing/_transport.c was not compiled: run bin/setup (needs gcc)"


def replicated_optimum(S, cap, thr, obj):
    owner = np.repeat(np.arange(len(cap)), cap)
    if not len(owner) or not S.shape[1]:
        return 0
    W = np.where(S[owner] >= thr, obj(S[owner]), 0)
    r, c = linear_sum_assignment(W, maximize=True)
    return int(W[r, c].sum())


def check_certificate(S, cap, thr, obj, mi, mj, u, v):
    """u (per mentee) and v (per mentor) are feasible duals of the minimum-cost form whose
    value equals the matching's: a proof that no matching is worth more."""
    M, E = S.shape
    ok = S >= thr
    cost = -obj(S)  # acceptable cells only
    reduced = cost - u[None, :] - v[:, None]
    assert np.all(reduced[ok] >= 0), "a cell beats the duals"
    assert np.all(u <= 0), "a mentee would rather stay unpaired than its dual says"
    assert np.all(v <= 0)
    load = np.bincount(mi, minlength=M)
    assert np.all(v[load < cap] == 0), "a mentor with room is priced"  # (cap 0: full)
    assert np.all(reduced[mi, mj] == 0), "an assigned cell is not tight"
    unpaired = np.ones(E, dtype=bool)
    unpaired[mj] = False
    assert np.all(u[unpaired] == 0), "an unpaired mentee is priced"
    assert -(int(u.sum()) + int((cap * v).sum())) == int(obj(S[mi, mj]).sum())


def solve(S, cap, thr, strategy):
    obj = engine._Objective.of(strategy, int(min(S.shape[1], cap.sum())) or 1)
    mi, mj, u, v = engine._solve_transport(S, cap, thr, obj, duals=True)
    return obj, mi, mj, u, v


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
@SETTINGS
@given(
    seed=st.integers(0, 10**9),
    m=st.integers(1, 9),
    e=st.integers(0, 9),
    levels=st.sampled_from([3, 20, 1001]),  # few distinct scores: ties everywhere
    strategy=st.sampled_from(["best_score", "most_matched"]),
)
def test_optimal_within_capacities_and_proved_by_its_duals(seed, m, e, levels, strategy):
    rng = np.random.default_rng(seed)
    S = (rng.integers(-1, levels, size=(m, e)) * (1000 // max(1, levels - 1))).clip(-1, 1000).astype(np.int16)
    cap = rng.integers(0, 4, size=m).astype(np.int64)
    thr = int(rng.choice([0, 300, 700]))
    obj, mi, mj, u, v = solve(S, cap, thr, strategy)
    assert np.all(S[mi, mj] >= thr)
    assert np.all(np.bincount(mi, minlength=m) <= cap)
    assert len(set(mj.tolist())) == len(mj)
    assert int(obj(S[mi, mj]).sum()) == replicated_optimum(S, cap, thr, obj)
    check_certificate(S, cap, thr, obj, mi, mj, u, v)


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
@pytest.mark.parametrize("m, e, cap", [(300, 300, 2), (120, 400, 3), (400, 150, 2), (200, 200, 5)])
def test_low_rank_grids_like_topic_overlap(m, e, cap):
    """Scores from a few shared factors (what makes assignment slow): same optimum as scipy on
    replicated rows, and the duals prove it."""
    rng = np.random.default_rng(m + e + cap)
    a, b = rng.integers(0, 6, size=(m, 3)), rng.integers(0, 6, size=(3, e))
    S = (a @ b * 1000 // 75).astype(np.int16)
    S[rng.random(S.shape) < 0.05] = -1  # exclusions
    caps = np.full(m, cap, dtype=np.int64)
    for strategy in ("best_score", "most_matched"):
        obj, mi, mj, u, v = solve(S, caps, 200, strategy)
        assert int(obj(S[mi, mj]).sum()) == replicated_optimum(S, caps, 200, obj)
        check_certificate(S, caps, 200, obj, mi, mj, u, v)


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
def test_same_input_same_pairs():
    rng = np.random.default_rng(9)
    S = (rng.integers(0, 4, size=(60, 80)) * 250).astype(np.int16)  # heavy ties
    caps = np.full(60, 2, dtype=np.int64)
    first = solve(S, caps, 0, "best_score")
    again = solve(S.copy(), caps.copy(), 0, "best_score")
    assert np.array_equal(first[1], again[1]) and np.array_equal(first[2], again[2])


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(scores=a["scores"].astype(np.int32)), "scores: expected 12 contiguous int16"),
        (lambda a: a.update(scores=np.zeros((4, 6), np.int16)[:, ::2]), "contiguous"),
        (lambda a: a.update(cap=a["cap"][:2]), "cap: expected 3 contiguous int64"),
        (lambda a: a.update(out=np.empty(3, np.int64)), "col4row: expected 4"),
        (lambda a: a.update(v=np.empty(6, np.int64)[::2]), "contiguous"),
    ],
)
def test_bad_buffers_are_refused_with_a_message(change, message):
    """A wrong dtype, size or layout is a ValueError, never memory read out of bounds."""
    args = {
        "scores": np.zeros((4, 3), np.int16),
        "cap": np.ones(3, np.int64),
        "out": np.empty(4, np.int64),
        "u": np.empty(4, np.int64),
        "v": np.empty(3, np.int64),
    }
    change(args)
    with pytest.raises((ValueError, BufferError), match=message):
        engine._transport.assign(args["scores"], 4, 3, args["cap"], 0, 1, 1, args["out"], args["u"], args["v"])


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
def test_read_only_output_is_refused():
    out = np.empty(2, np.int64)
    out.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        engine._transport.assign(np.zeros((2, 2), np.int16), 2, 2, np.ones(2, np.int64), 0, 1, 1, out, np.empty(2, np.int64), np.empty(2, np.int64))


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
def test_forbidden_cells_and_negative_capacities_take_nobody():
    """-1 marks a forbidden cell whatever the threshold; a negative capacity counts as none."""
    S = np.array([[-1, -1, 5], [9, -1, -1]], dtype=np.int16)  # 2 mentors x 3 mentees
    out, u, v = np.empty(3, np.int64), np.empty(3, np.int64), np.empty(2, np.int64)
    engine._transport.assign(np.ascontiguousarray(S.T), 3, 2, np.array([2, -3], np.int64), -5, 1, 1, out, u, v)
    assert out.tolist() == [-1, -1, 0]


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
@pytest.mark.parametrize(
    "rows, cols, scale, offset",
    [
        (0, 2**61, 1, 1),  # sizes whose byte counts would overflow
        (2**61, 0, 1, 1),
        (2, 2, 0, 1),  # weights must be positive
        (2, 2, 1, -100),
        (2, 2, 2**45, 1),  # too heavy for exact potentials
    ],
)
def test_sizes_and_weights_it_cannot_solve_exactly_are_refused(rows, cols, scale, offset):
    e16, e64 = np.zeros(4, np.int16), np.zeros(2, np.int64)
    with pytest.raises(ValueError):
        engine._transport.assign(e16, rows, cols, e64, 0, scale, offset, e64.copy(), e64.copy(), e64.copy())


@pytest.mark.skipif(engine._transport is None, reason="not compiled")
def test_capacities_are_read_once_even_when_the_array_is_also_an_output():
    """The places per mentor are copied before solving: an array passed both as capacities
    and as an output (or changed by another thread) cannot overrun a mentor's places."""
    S = np.full((7, 7), 500, np.int16)
    shared = np.ones(7, np.int64)
    u = np.empty(7, np.int64)
    v = np.empty(7, np.int64)
    engine._transport.assign(S, 7, 7, shared, 0, 8, 1, shared, u, v)
    assert sorted(shared.tolist()) == list(range(7))  # each mentee with its own mentor
