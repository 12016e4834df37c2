"""Benchmark of the pairing engine against raw scipy, a greedy baseline, networkx and munkres.

    .venv/bin/python bench/pairing.py            # 500, 1000, 2000, 5000, 10000 per side, cap 1 and 2
    .venv/bin/python bench/pairing.py --quick    # 500 and 2000 only
    .venv/bin/python bench/pairing.py --sizes 2000 --caps 1

One line per case.  The org is generated: a manager tree (seniors above mid-level managers
above juniors), levels, departments, office time zones, 15 topics with persona-driven
teach/want profiles, interests, languages and weekly slots; 5% of all mentor x mentee pairs
are admin exclusions.  Scores therefore have the low-rank structure of real topic overlap,
which is what makes dense assignment slow (many near-ties), not uniform noise.

Timings are the best of 5 runs up to 2000 per side, of 2 at 5000, single runs at 10000, ours
and raw scipy interleaved run by run (the machine's speed drifts by up to ~20%).
Fields: ours_s = propose_pairs end to end, wall clock (input indexing, grid scoring,
constraints, solve with certificate, breakdowns, explanations, unmatched reasons); ours_cpu_s
= CPU seconds of that (numpy sweeps may use 2 threads); score_solve_s = the scoring and
solving part alone (input indexing, score grid, certified solve: the like-for-like figure
for raw scipy, which gets the matrix for free); scipy_raw_s = linear_sum_assignment
alone on the identical weight matrix (building the matrix not counted); gap = optimal
objective of raw scipy minus ours (must be 0); greedy_* = best-pair-first greedy (ratio of
its total score to ours, its worst pair and 10th percentile); networkx_s / munkres_s =
independent solvers, checked against our total; peak_mb = tracemalloc peak during ours
(numpy buffers included); load = 1-minute load average when the case started (the machine
has 2 cores; other work inflates wall times).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import tracemalloc

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pairing import engine  # noqa: E402
from pairing.engine import Mentee, Mentor, PairingInput, Policy, propose_pairs  # noqa: E402

TOPICS = [
    "AI tools", "social media", "digital collaboration", "inclusion", "Gen Z expectations",
    "data literacy", "cybersecurity hygiene", "personal branding", "remote work", "video content",
    "mobile-first", "sustainability", "mental health", "automation", "product thinking",
]
INTERESTS = [f"interest-{k}" for k in range(30)]
SLOTS = [f"{d}-{h:02d}" for d in ("mon", "tue", "wed", "thu", "fri") for h in range(9, 17)]
OFFICES = [(-300, 0.15), (0, 0.35), (60, 0.25), (330, 0.15), (480, 0.10)]
LANGS = ["English", "French", "German", "Spanish", "Hindi", "Mandarin"]
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Finance", "HR", "Operations", "Legal", "Product"]


def generate(n: int, cap: int, seed: int = 7, exclusion_rate: float = 0.05) -> PairingInput:
    rng = np.random.default_rng(seed)
    n_personas = 6
    persona_teach = rng.dirichlet(np.full(len(TOPICS), 0.4), size=n_personas)
    persona_want = rng.dirichlet(np.full(len(TOPICS), 0.4), size=n_personas)
    persona_int = rng.dirichlet(np.full(len(INTERESTS), 0.3), size=n_personas)

    # Seniors (the mentee pool) form the top of the tree: CEO level 9, VPs 8 (one per
    # department), directors 7, senior managers 6 and 5.
    mentees, chains, level_of, dept_of = [], {}, {}, {}
    ceo = "s0"
    chains[ceo], level_of[ceo], dept_of[ceo] = (), 9, "Executive"
    layer = [ceo]
    count = 1
    level = 8
    while count < n:
        nxt = []
        for boss in layer:
            fan = len(DEPARTMENTS) if boss == ceo else int(rng.integers(3, 8))
            for k in range(fan):
                if count >= n:
                    break
                sid = f"s{count}"
                count += 1
                chains[sid] = (boss, *chains[boss])
                level_of[sid] = max(level, 5)
                dept_of[sid] = DEPARTMENTS[k] if boss == ceo else dept_of[boss]
                nxt.append(sid)
        layer, level = nxt, level - 1
    senior_ids = list(chains)
    # Mid-level managers (level 4, not enrolled) hang under random seniors; juniors under them.
    n_mid = max(1, n // 6)
    mid_boss = rng.choice(senior_ids[1:] or senior_ids, size=n_mid).tolist()
    mid_chain = [(f"mgr{k}", b, *chains[b]) for k, b in enumerate(mid_boss)]

    def profile(dist, k_lo, k_hi, universe):
        k = int(rng.integers(k_lo, k_hi + 1))
        return rng.choice(universe, size=k, replace=False, p=dist).tolist()

    def office():
        return OFFICES[rng.choice(len(OFFICES), p=[w for _, w in OFFICES])][0]

    def langs():
        out = {"English"} if rng.random() < 0.9 else set()
        if rng.random() < 0.4 or not out:
            out.add(LANGS[int(rng.integers(1, len(LANGS)))])
        return out

    def slots():
        morning = rng.random() < 0.5
        pool = [s for s in SLOTS if (int(s[-2:]) < 13) == morning]
        return set(rng.choice(pool, size=int(rng.integers(2, 9)), replace=False).tolist())

    for sid in senior_ids:
        p = int(rng.integers(n_personas))
        wants = {t: int(rng.integers(1, 5)) for t in profile(persona_want[p], 2, 5, TOPICS)}
        mentees.append(Mentee(
            id=sid, level=level_of[sid], department=dept_of[sid], manager_chain=chains[sid],
            wants=wants, interests=set(profile(persona_int[p], 2, 6, INTERESTS)), languages=langs(),
            availability=slots(), utc_offset_minutes=office(),
        ))
    mentors = []
    for k in range(n):
        p = int(rng.integers(n_personas))
        chain = mid_chain[int(rng.integers(n_mid))]
        teaches = {t: int(rng.integers(2, 6)) for t in profile(persona_teach[p], 2, 5, TOPICS)}
        mentors.append(Mentor(
            id=f"j{k}", level=int(rng.integers(1, 4)), department=dept_of[chain[1]], manager_chain=chain,
            teaches=teaches, interests=set(profile(persona_int[p], 2, 6, INTERESTS)), languages=langs(),
            availability=slots(), utc_offset_minutes=office(), capacity=cap,
            active_pairs_elsewhere=int(rng.random() < 0.1),
        ))
    n_ex = int(exclusion_rate * n * n)
    flat = rng.choice(n * n, size=n_ex, replace=False)
    exclusions = [(f"j{a}", senior_ids[b]) for a, b in zip((flat // n).tolist(), (flat % n).tolist())]
    policy = Policy(
        strategy="best_score", min_level_gap=3, forbid_same_manager=True, max_active_pairs=2,
        weights={"topics": 6, "interests": 1, "availability": 2, "time_zone": 1, "language": 2, "level_gap": 1, "cross_department": 1},
    )
    return PairingInput(mentors=mentors, mentees=mentees, policy=policy, exclusions=exclusions)


# ---------------------------------------------------------------------------- baselines


def weight_matrix(S: np.ndarray, cap: np.ndarray, inputs: PairingInput):
    """The identical dense problem our engine solves (no pins here): mentor rows replicated
    by effective capacity, w = score * (n + 1) + 1 on acceptable pairs, 0 elsewhere."""
    obj = engine._Objective.of(inputs.policy.strategy, int(min(S.shape[1], cap.sum())))
    ok_rows = (S >= inputs.policy.min_score).sum(axis=1)
    owner = np.repeat(np.arange(len(cap)), np.minimum(cap, ok_rows))
    W = np.empty((len(owner), S.shape[1]), dtype=np.float64)
    for r0 in range(0, len(owner), 256):
        blk = S[owner[r0 : r0 + 256]]
        W[r0 : r0 + 256] = np.where(blk >= inputs.policy.min_score, obj(blk), 0)
    return owner, W, obj


def greedy(S: np.ndarray, cap: np.ndarray, thr: int) -> np.ndarray:
    """Best pair first: scores of the pairs taken."""
    M, E = S.shape
    flat = S.ravel()
    order = np.argsort(-flat.astype(np.int32), kind="stable")
    order = order[flat[order] >= thr]
    left = cap.copy()
    free_e = np.ones(E, dtype=bool)
    taken = []
    chunk = 1 << 18
    for c0 in range(0, len(order), chunk):
        part = order[c0 : c0 + chunk]
        i, j = part // E, part % E
        live = (left[i] > 0) & free_e[j]
        for a, b in zip(i[live].tolist(), j[live].tolist()):
            if left[a] > 0 and free_e[b]:
                left[a] -= 1
                free_e[b] = False
                taken.append(int(S[a, b]))
        if not free_e.any() or not (left > 0).any():
            break
    return np.array(taken, dtype=np.int64)


def _networkx_total(S, cap, thr, n_max, out):
    import networkx as nx

    M, E = S.shape
    g = nx.DiGraph()
    g.add_node("s", demand=-E)
    g.add_node("t", demand=E)
    g.add_edge("s", "t", capacity=E, weight=0)
    for i in range(M):
        g.add_edge("s", ("m", i), capacity=int(cap[i]), weight=0)
    for j in range(E):
        g.add_edge(("e", j), "t", capacity=1, weight=0)
    ii, jj = np.nonzero(S >= thr)
    for a, b in zip(ii.tolist(), jj.tolist()):
        g.add_edge(("m", a), ("e", b), capacity=1, weight=-(int(S[a, b]) * (n_max + 1) + 1))
    flow = nx.min_cost_flow(g)
    out["total"] = sum(int(S[i, j]) for i in range(M) for (tag, j), f in flow[("m", i)].items() if tag == "e" and f)


def _munkres_total(W, owner, S, out):
    from munkres import Munkres

    # munkres minimises over a square matrix: pad, and turn weights into costs (forbidden
    # pairs have weight 0, like "unmatched", so they are dropped afterwards).
    n = max(W.shape)
    big = float(W.max()) + 1
    cost = np.full((n, n), big)
    cost[: W.shape[0], : W.shape[1]] = big - W
    idx = Munkres().compute(cost.tolist())
    out["total"] = sum(int(S[owner[r], c]) for r, c in idx if r < W.shape[0] and c < W.shape[1] and W[r, c] > 0)


def timed_in_child(fn, args, timeout):
    """Run fn(*args, out) in a forked child; (seconds, out dict) or (None, {}) on timeout."""
    ctx = mp.get_context("fork")
    with ctx.Manager() as manager:
        out = manager.dict()
        t0 = time.perf_counter()
        proc = ctx.Process(target=fn, args=(*args, out))
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join()
            return None, {}
        return time.perf_counter() - t0, dict(out)


def fmt(x, digits=2):
    return "skipped" if x is None else f"{x:.{digits}f}"


def run_case(n: int, cap: int, *, scipy_estimate_s: float | None, scipy_budget_s: float, slow_timeout: float) -> tuple[str, float | None]:
    inputs = generate(n, cap)
    thr = inputs.policy.min_score

    load = os.getloadavg()[0]
    grid = engine._Grid(inputs)
    S = grid.scores()
    cap_arr = np.array([inputs.policy.effective_capacity(p) for p in grid.mentors], dtype=np.int64)
    del grid
    run_scipy = scipy_estimate_s is None or scipy_estimate_s <= scipy_budget_s
    owner, W, obj = weight_matrix(S, cap_arr, inputs) if run_scipy else (None, None, None)

    # Best of a few runs, ours and raw scipy interleaved: the machine is shared and drifts
    # (a quiet minute and a busy one can differ by 20%), so each side gets the same minutes,
    # and the minimum is the least disturbed measurement.
    repeat = 5 if n <= 2000 else 2 if n <= 5000 else 1
    ours_s = ours_cpu = core_s = float("inf")
    scipy_s = float("inf") if run_scipy else None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = propose_pairs(inputs)
        ours_s, ours_cpu = min(ours_s, time.perf_counter() - t0), min(ours_cpu, time.process_time() - c0)
        # Scoring + solving alone, what raw scipy is compared with: indexing the input, the
        # score grid and the certified solve, without breakdowns and unmatched reasons.
        t0 = time.perf_counter()
        g = engine._Grid(inputs)
        core_cap = np.array([inputs.policy.effective_capacity(p) for p in g.mentors], dtype=np.int64)
        engine._solve(g.scores(), core_cap, thr, inputs.policy.strategy)
        core_s = min(core_s, time.perf_counter() - t0)
        del g
        if run_scipy:
            t0 = time.perf_counter()
            r, c = linear_sum_assignment(W, maximize=True)
            scipy_s = min(scipy_s, time.perf_counter() - t0)
    # Memory in a second run: tracemalloc slows Python-level work, so not while timing.
    tracemalloc.start()
    propose_pairs(inputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ours = np.array([p.score for p in result.pairs], dtype=np.int64)

    gap = "n/a"
    if run_scipy:
        keep = W[r, c] > 0
        raw_obj = int(obj(S[owner[r[keep]], c[keep]]).sum())
        gap = str(raw_obj - int(obj(ours).sum()))

    g = greedy(S, cap_arr, thr)
    nx_s = munkres_s = None
    nx_note = munkres_note = ""
    if n <= 1000:
        n_max = int(min(S.shape[1], cap_arr.sum()))
        nx_s, out = timed_in_child(_networkx_total, (S, cap_arr, thr, n_max), slow_timeout)
        nx_note = "" if nx_s is None else ("" if out.get("total") == int(ours.sum()) else "(MISMATCH)")
    if n <= 500 and W is not None:
        munkres_s, out = timed_in_child(_munkres_total, (W, owner, S), slow_timeout)
        munkres_note = "" if munkres_s is None else ("" if out.get("total") == int(ours.sum()) else "(MISMATCH)")

    def pct(a, q):
        return int(np.percentile(a, q)) if len(a) else 0

    parts = [
        "pairing",
        f"n_mentors={n}",
        f"n_mentees={n}",
        f"cap={cap}",
        f"pairs={len(ours)}",
        f"ours_s={ours_s:.2f}",
        f"ours_cpu_s={ours_cpu:.2f}",
        f"scipy_raw_s={fmt(scipy_s)}" + ("" if scipy_s is not None else f"(est>{scipy_budget_s:.0f}s)"),
        f"ours_vs_scipy={fmt(ours_s / scipy_s if scipy_s else None)}",
        f"score_solve_s={core_s:.2f}",
        f"score_solve_vs_scipy={fmt(core_s / scipy_s if scipy_s else None)}",
        f"greedy_ratio={g.sum() / max(ours.sum(), 1):.4f}",
        f"greedy_pairs={len(g)}",
        f"greedy_min={int(g.min()) if len(g) else 0}",
        f"greedy_p10={pct(g, 10)}",
        f"ours_min={int(ours.min()) if len(ours) else 0}",
        f"ours_p10={pct(ours, 10)}",
        f"networkx_s={'n/a' if n > 1000 else (fmt(nx_s) + nx_note if nx_s is not None else f'timeout>{slow_timeout:.0f}')}",
        f"munkres_s={'n/a' if n > 500 else (fmt(munkres_s) + munkres_note if munkres_s is not None else f'timeout>{slow_timeout:.0f}')}",
        f"gap={gap}",
        f"peak_mb={peak / 2**20:.0f}",
        f"load={load:.1f}",
        f"solver='{result.solver}'",
    ]
    return " ".join(parts), scipy_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only 500 and 2000 per side")
    parser.add_argument("--sizes", type=int, nargs="*", help="override the sizes per side")
    parser.add_argument("--caps", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--scipy-budget", type=float, default=300.0, help="skip raw scipy when its extrapolated time exceeds this (s)")
    parser.add_argument("--slow-timeout", type=float, default=300.0, help="time limit for networkx / munkres (s)")
    args = parser.parse_args()
    # 1000 is in the default list for networkx's only full-size comparison (it runs up to 1000).
    sizes = args.sizes or ([500, 2000] if args.quick else [500, 1000, 2000, 5000, 10000])
    last_raw: dict[int, tuple[int, float]] = {}
    for n in sizes:
        for cap in args.caps:
            # Dense assignment grows roughly with n**3: extrapolate from the last measured size
            # and skip raw scipy when that would blow the time budget.
            est = None
            if cap in last_raw:
                n0, t0 = last_raw[cap]
                est = t0 * (n / n0) ** 3
            line, raw_s = run_case(n, cap, scipy_estimate_s=est, scipy_budget_s=args.scipy_budget, slow_timeout=args.slow_timeout)
            if raw_s is not None:
                last_raw[cap] = (n, raw_s)
            print(line, flush=True)


if __name__ == "__main__":
    main()
