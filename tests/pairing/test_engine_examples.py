"""Example tests for the pairing engine: each hard rule, reason code, pin case, scoring rule,
explanation string, check_pair message, alternatives and bad input."""

import numpy as np
import pytest

from pairing import engine
from pairing.engine import (
    BELOW_MIN_SCORE,
    CAPACITY_EXHAUSTED,
    CRITERIA,
    NO_FEASIBLE_PARTNER,
    NOT_NEEDED,
    Mentee,
    Mentor,
    PairingError,
    PairingInput,
    Policy,
    check_pair,
    propose_pairs,
)
from tests.pairing.test_engine import mentee, mentor, message_of, objective, pairs_of, reason_of, reference_score, run

# --------------------------------------------------------------------------- examples: constraints


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_mentor_in_mentees_reporting_line_at_any_depth_is_refused(depth):
    chain = tuple(f"x{k}" for k in range(depth - 1)) + ("m1",)
    result = run([mentor("m1")], [mentee("e1", manager_chain=chain)])
    assert result.pairs == ()
    assert reason_of(result, "e1") == NO_FEASIBLE_PARTNER
    assert "reporting line" in message_of(result, "e1")


def test_mentee_in_mentors_reporting_line_is_refused_and_the_other_mentee_taken():
    result = run([mentor("m1", manager_chain=("boss", "e1", "ceo"))], [mentee("e1"), mentee("e2")])
    assert pairs_of(result) == {("m1", "e2")}


def test_same_direct_manager_only_refused_when_the_policy_says_so():
    people = ([mentor("m1", manager_chain=("boss",))], [mentee("e1", manager_chain=("boss", "ceo"))])
    assert pairs_of(run(*people)) == {("m1", "e1")}
    assert run(*people, forbid_same_manager=True).pairs == ()


def test_same_department_only_refused_when_the_policy_says_so():
    people = ([mentor("m1", department="IT")], [mentee("e1", department="IT")])
    assert pairs_of(run(*people)) == {("m1", "e1")}
    assert run(*people, forbid_same_department=True).pairs == ()
    # an unknown department never counts as "the same"
    assert pairs_of(run([mentor("m1")], [mentee("e1")], forbid_same_department=True)) == {("m1", "e1")}


def test_seniority_inversion_needs_the_mentor_min_level_gap_below():
    people = ([mentor("m1", level=3)], [mentee("e1", level=5)])
    assert pairs_of(run(*people, min_level_gap=2)) == {("m1", "e1")}
    assert run(*people, min_level_gap=3).pairs == ()
    assert run([mentor("m1", level=6)], [mentee("e1", level=5)], min_level_gap=0).pairs == ()
    assert pairs_of(run([mentor("m1", level=6)], [mentee("e1", level=5)], min_level_gap=None)) == {("m1", "e1")}


@pytest.mark.parametrize("side", ["mentor", "mentee"])
def test_not_with_from_either_side_is_symmetric(side):
    m = mentor("m1", not_with={"e1"} if side == "mentor" else set())
    e = mentee("e1", not_with={"m1"} if side == "mentee" else set())
    assert run([m], [e]).pairs == ()


def test_admin_exclusion_is_infeasible_not_just_expensive():
    result = run([mentor("m1"), mentor("m2", languages=set())], [mentee("e1")], exclusions=[("m1", "e1")])
    assert pairs_of(result) == {("m2", "e1")}
    assert run([mentor("m1")], [mentee("e1")], exclusions=[("m1", "e1")]).pairs == ()


def test_capacity_two_takes_two_mentees():
    result = run([mentor("m1", capacity=2)], [mentee("e1"), mentee("e2"), mentee("e3")])
    assert len(result.pairs) == 2
    assert [u.reason for u in result.unmatched] == [CAPACITY_EXHAUSTED]


def test_capacity_reason_reads_well_for_one_mentor_and_for_several():
    one = run([mentor("m1")], [mentee("e1"), mentee("e2")])
    [left] = one.unmatched
    assert left.message.startswith("the only suitable mentor for ") and left.message.endswith(" is at capacity")
    several = run([mentor("m1"), mentor("m2")], [mentee("e1"), mentee("e2"), mentee("e3")])
    [left] = several.unmatched
    assert left.message.startswith("all 2 suitable mentors for ") and left.message.endswith(" are at capacity")


def test_cross_program_cap_limits_effective_capacity():
    m = mentor("m1", capacity=3, active_pairs_elsewhere=2)
    result = run([m], [mentee("e1"), mentee("e2")], max_active_pairs=3)
    assert len(result.pairs) == 1
    full = run([mentor("m1", capacity=3, active_pairs_elsewhere=4)], [mentee("e1")], max_active_pairs=3)
    assert full.pairs == ()
    assert reason_of(full, "m1") == CAPACITY_EXHAUSTED
    assert "already has 4 active pairs in other programs (limit 3" in message_of(full, "m1")
    assert reason_of(full, "e1") == CAPACITY_EXHAUSTED


def test_optimal_not_greedy():
    # Greedy takes the single best pair (m1-e1, 948) and strands m2; the optimum pairs both.
    mentors = [
        mentor("m1", teaches={"AI tools": 5, "social media": 4}, interests={"chess"}, availability={"mon-09"}),
        mentor("m2", teaches={"AI tools": 3}),
    ]
    mentees = [
        mentee("e1", wants={"AI tools": 1, "social media": 3}, interests={"chess"}, availability={"mon-09"}),
        mentee("e2", wants={"AI tools": 2}, manager_chain=("m2",)),
    ]
    best = run(mentors, mentees)
    assert pairs_of(best) == {("m1", "e2"), ("m2", "e1")}
    single = max(reference_score(m, e, Policy()) for m in mentors for e in mentees)
    assert best.total_score > single


def test_strategies_differ_when_coverage_costs_score():
    # Topics only: m1-e1 = 1000 alone beats m1-e2 (333) + m2-e1 (500) = 833; m2 cannot take e2.
    policy = {"weights": {c: (1 if c == "topics" else 0) for c in CRITERIA}, "exclusions": [("m2", "e2")]}
    mentors = [mentor("m1", teaches={"AI": 5, "SM": 5}), mentor("m2", teaches={"SM": 5})]
    mentees = [mentee("e1", wants={"AI": 1, "SM": 1}), mentee("e2", wants={"AI": 1, "X": 1, "Y": 1})]
    best = run(mentors, mentees, strategy="best_score", **dict(policy))
    most = run(mentors, mentees, strategy="most_matched", **dict(policy))
    assert pairs_of(best) == {("m1", "e1")} and best.total_score == 1000
    assert reason_of(best, "e2") == CAPACITY_EXHAUSTED
    assert reason_of(best, "m2") == NOT_NEEDED
    assert pairs_of(most) == {("m1", "e2"), ("m2", "e1")} and most.total_score == 833
    assert most.unmatched == ()


def test_min_score_makes_weak_pairs_infeasible():
    weak = run([mentor("m1", languages=set())], [mentee("e1", languages=set(), utc_offset_minutes=720)], min_score=900)
    assert weak.pairs == ()
    assert reason_of(weak, "e1") == BELOW_MIN_SCORE
    assert reason_of(weak, "m1") == BELOW_MIN_SCORE
    assert "minimum score 900" in message_of(weak, "e1")


# --------------------------------------------------------------------------- examples: reasons


def test_reason_no_feasible_partner_names_the_rules():
    result = run([mentor("m1", level=5), mentor("m2", manager_chain=("e1",))], [mentee("e1", level=5)])
    assert reason_of(result, "e1") == NO_FEASIBLE_PARTNER
    msg = message_of(result, "e1")
    assert "1 not enough levels apart" in msg and "1 in the same reporting line" in msg
    assert reason_of(result, "m1") == NO_FEASIBLE_PARTNER
    assert message_of(result, "m1") == "no mentee is allowed for m1: 1 not enough levels apart"
    assert message_of(result, "m2") == "no mentee is allowed for m2: 1 in the same reporting line"
    excluded = run([mentor("m1")], [mentee("e1"), mentee("e2", not_with={"m1"})], exclusions=[("m1", "e1")])
    # "Please not with" lists are confidential: no count, and only for partners no other rule rules out.
    assert message_of(excluded, "m1") == "no mentee is allowed for m1: 1 excluded by an admin, the others by a confidential preference"
    alone = run([mentor("m1")], [mentee("e1", not_with={"m1"}), mentee("e2", not_with={"m1"})])
    assert message_of(alone, "m1") == "no mentee is allowed for m1: ruled out by a confidential preference"
    both = run([mentor("m1")], [mentee("e1", not_with={"m1"})], exclusions=[("m1", "e1")])
    assert message_of(both, "m1") == "no mentee is allowed for m1: 1 excluded by an admin"


def test_no_feasible_partner_counts_are_the_same_for_the_first_mentees_and_the_many_after():
    # The first few mentees' rule counts come from a scan of the keys, later ones from a
    # copy sorted by mentee: twelve identical cases must read identically.
    mentors = [mentor(f"m{i}") for i in range(3)] + [mentor("m9", level=5)]
    mentees = [mentee(f"e{j:02d}", not_with={"m0"}) for j in range(12)]
    exclusions = [(f"m{i}", f"e{j:02d}") for i in (1, 2) for j in range(12)]
    result = run(mentors, mentees, exclusions=exclusions)
    for j in range(12):
        assert message_of(result, f"e{j:02d}") == (
            f"no mentor is allowed for e{j:02d}: 1 not enough levels apart, 2 excluded by an admin, the others by a confidential preference"
        )
    # And from the mentors' side.
    mentors = [mentor(f"m{i:02d}") for i in range(12)]
    mentees = [mentee("e1"), mentee("e2", level=1)]
    result = run(mentors, mentees, exclusions=[(f"m{i:02d}", "e1") for i in range(12)])
    for i in range(12):
        assert message_of(result, f"m{i:02d}") == f"no mentee is allowed for m{i:02d}: 1 not enough levels apart, 1 excluded by an admin"


def test_reason_capacity_exhausted_for_mentee_and_not_needed_for_spare_mentor():
    result = run(
        [mentor("m1", teaches={"AI tools": 5}), mentor("m2", level=9)],
        [mentee("e1", wants={"AI tools": 1}), mentee("e2")],
    )
    assert pairs_of(result) == {("m1", "e1")} or pairs_of(result) == {("m1", "e2")}
    other = ({"e1", "e2"} - {p.mentee_id for p in result.pairs}).pop()
    assert reason_of(result, other) == CAPACITY_EXHAUSTED
    assert reason_of(result, "m2") == NO_FEASIBLE_PARTNER

    spare = run([mentor("m1"), mentor("m2")], [mentee("e1")])
    lonely = ({"m1", "m2"} - {p.mentor_id for p in spare.pairs}).pop()
    assert reason_of(spare, lonely) == NOT_NEEDED
    assert message_of(spare, lonely) == f"the only suitable mentee for {lonely} was paired with another mentor"
    three = run([mentor("m1"), mentor("m2"), mentor("m3")], [mentee("e1"), mentee("e2")])
    idle = ({"m1", "m2", "m3"} - {p.mentor_id for p in three.pairs}).pop()
    assert message_of(three, idle) == f"all 2 suitable mentees for {idle} were paired with other mentors"


def test_capacity_zero_mentor_is_capacity_exhausted():
    result = run([mentor("m1", capacity=0)], [mentee("e1")])
    assert reason_of(result, "m1") == CAPACITY_EXHAUSTED
    assert "capacity 0" in message_of(result, "m1")
    assert reason_of(result, "e1") == CAPACITY_EXHAUSTED


# --------------------------------------------------------------------------- examples: pins


def test_pins_are_honoured_even_when_suboptimal_or_below_min_score():
    mentors = [mentor("m1", teaches={"AI tools": 5}), mentor("m2", languages=set())]
    mentees = [mentee("e1", wants={"AI tools": 1})]
    result = run(mentors, mentees, pins=[("m2", "e1")], min_score=600)  # m1-e1 scores 693, m2-e1 154
    assert pairs_of(result) == {("m2", "e1")}
    assert result.pairs[0].pinned
    assert reason_of(result, "m1") == NOT_NEEDED


def test_pin_uses_capacity_and_rest_is_optimised_around_it():
    result = run([mentor("m1", capacity=2), mentor("m2")], [mentee("e1"), mentee("e2"), mentee("e3")], pins=[("m1", "e3")])
    assert ("m1", "e3") in pairs_of(result)
    assert len(result.pairs) == 3


@pytest.mark.parametrize(
    ("pins", "exclusions", "fragment"),
    [
        ([("m9", "e1")], [], "unknown mentor id 'm9'"),
        ([("m1", "e9")], [], "unknown mentee id 'e9'"),
        ([("m1", "e1"), ("m2", "e1")], [], "already pinned"),
        ([("m1", "e1"), ("m1", "e2")], [], "can take 1 mentee in this program, not 2"),
        ([("m1", "e1")], [("m1", "e1")], "an admin excluded the pair"),
        ([("m2", "e2")], [], "e2 is in m2's reporting line"),
    ],
)
def test_unsatisfiable_pin_raises_a_readable_pairing_error(pins, exclusions, fragment):
    mentors = [mentor("m1"), mentor("m2", manager_chain=("e2",))]
    mentees = [mentee("e1"), mentee("e2")]
    with pytest.raises(PairingError, match="pin") as err:
        run(mentors, mentees, pins=pins, exclusions=exclusions)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


# --------------------------------------------------------------------------- examples: scoring


def test_topic_overlap_weighted_by_gap_and_confidence():
    policy = Policy(weights={c: (1 if c == "topics" else 0) for c in CRITERIA})
    m = mentor("m1", teaches={"AI tools": 4, "inclusion": 5})
    e = mentee("e1", wants={"AI tools": 1, "social media": 3})
    # (4/5 * 4) / (4 + 2) of 1000 = 533.33 -> 533
    result = propose_pairs(PairingInput(mentors=[m], mentees=[e], policy=policy))
    assert result.pairs[0].score == 533
    assert result.pairs[0].breakdown.points["topics"] == 533


def test_time_zone_distance_wraps_around_the_date_line():
    policy = Policy(weights={c: (1 if c == "time_zone" else 0) for c in CRITERIA})
    result = propose_pairs(PairingInput(
        mentors=[mentor("m1", utc_offset_minutes=720)], mentees=[mentee("e1", utc_offset_minutes=-720)], policy=policy
    ))
    assert result.pairs[0].score == 1000
    assert result.pairs[0].breakdown.tz_distance_minutes == 0


def test_level_gap_scores_more_up_to_the_cap():
    policy = Policy(weights={c: (1 if c == "level_gap" else 0) for c in CRITERIA}, level_gap_cap=4)
    scores = [
        propose_pairs(PairingInput(mentors=[mentor("m1", level=1)], mentees=[mentee("e1", level=1 + g)], policy=policy)).total_score
        for g in (1, 2, 4, 6)
    ]
    assert scores == [250, 500, 1000, 1000]


def test_zero_weights_give_zero_scores_but_still_pair():
    result = run([mentor("m1")], [mentee("e1")], weights={c: 0 for c in CRITERIA})
    assert pairs_of(result) == {("m1", "e1")}
    assert result.total_score == 0


def test_explanation_strings():
    m = mentor(
        "m1", name="Ana", level=2, department="IT", teaches={"AI tools": 4}, interests={"chess", "jazz"},
        languages={"English", "French"}, availability={"mon-09", "tue-10", "wed-11"}, utc_offset_minutes=60,
    )
    e = mentee(
        "e1", name="Sam", level=5, department="Finance", wants={"AI tools": 1}, interests={"chess", "jazz", "golf"},
        languages={"English"}, availability={"mon-09", "tue-10", "wed-11", "fri-09"}, utc_offset_minutes=-90,
    )
    pair = run([m], [e]).pairs[0]
    assert list(pair.explanation) == engine.explain(pair.breakdown) == [
        "teaches AI tools that the mentee rated 1/5 (mentor confidence 4/5)",
        "different department",
        "3 levels apart",
        "both free 3 hours a week",
        "2 shared interests (chess, jazz)",
        "speaks English with the mentee",
        "time zones 2 h 30 min apart",
    ]
    assert engine.explain(pair.breakdown, topic_labels={"AI tools": "AI assistants"})[0].startswith("teaches AI assistants")
    plain = run([mentor("m1", languages=set(), level=4)], [mentee("e1", languages=set())]).pairs[0]
    assert engine.explain(plain.breakdown) == ["no topic in common for the mentee to learn", "1 level apart", "no time in the week when both are free", "no shared language", "same time zone"]
    # A topic the mentee already rated 5/5 scores nothing and is no reason for the pair.
    expert = run([mentor("m1", teaches={"AI tools": 5, "inclusion": 3})], [mentee("e1", wants={"AI tools": 5, "inclusion": 2})]).pairs[0]
    assert [line for line in engine.explain(expert.breakdown) if "teaches" in line or "topic" in line] == ["teaches inclusion that the mentee rated 2/5 (mentor confidence 3/5)"]


def test_explanation_items_tell_drawbacks_from_reasons():
    # Reasons for the pair are not flagged; what earned nothing where it could have is.
    good = run([mentor("m1", languages={"English"}, availability={"mon-09"}, teaches={"AI tools": 4})], [mentee("e1", languages={"English"}, availability={"mon-09"}, wants={"AI tools": 2})]).pairs[0]
    assert [flag for _, flag in engine.explain_items(good.breakdown)] == [False] * len(engine.explain(good.breakdown))
    far = run([mentor("m1", languages={"English"}, utc_offset_minutes=-360)], [mentee("e1", languages={"German"}, utc_offset_minutes=360)]).pairs[0]
    assert [text for text, flag in engine.explain_items(far.breakdown) if flag] == ["no topic in common for the mentee to learn", "no time in the week when both are free", "no shared language", "time zones 12 h apart"]
    for offset, flagged in ((60, False), (330, False), (360, True), (660, True)):
        tz_line = engine.explain_items(run([mentor("m1", utc_offset_minutes=offset)], [mentee("e1")]).pairs[0].breakdown)[-1]
        assert tz_line[1] is flagged, tz_line


# --------------------------------------------------------------------------- examples: check_pair and alternatives


def test_check_pair_lists_every_violation_readably():
    policy = Policy(min_level_gap=2, forbid_same_manager=True, forbid_same_department=True, max_active_pairs=2)
    m = Mentor(id="m1", name="Ana", level=4, department="IT", manager_chain=("boss", "e1"), not_with={"e1"}, active_pairs_elsewhere=2)
    e = Mentee(id="e1", name="Sam", level=5, department="IT", manager_chain=("boss",), not_with={"m1"})
    msgs = check_pair(m, e, policy, exclusions=[("m1", "e1")])
    assert msgs == [
        "Ana (level 4) must be at least 2 level(s) below Sam (level 5)",
        "Sam is in Ana's reporting line",
        "Ana and Sam report to the same manager (boss)",
        "Ana and Sam are both in IT and this program pairs across departments",
        "Ana asked not to be paired with Sam",
        "Sam asked not to be paired with Ana",
        "an admin excluded the pair Ana / Sam",
        "Ana already has 2 active pairs in other programs (limit 2 across programs)",
    ]
    assert check_pair(mentor("m1"), mentee("e1"), Policy()) == []
    assert check_pair(mentor("m1", manager_chain=()), mentee("e1", manager_chain=("x", "m1")), Policy()) == ["m1 is in e1's reporting line"]
    assert check_pair(mentor("m1"), mentee("e1"), Policy(), pairs_in_program=1) == ["m1 can take 1 mentee in this program, not 2"]


def test_alternatives_rank_feasible_partners_and_skip_current_ones():
    mentors = [
        mentor("m1", teaches={"AI tools": 5}),
        mentor("m2", teaches={"AI tools": 3}),
        mentor("m3", teaches={"AI tools": 1}),
        mentor("m4", level=9),
    ]
    mentees = [mentee("e1", wants={"AI tools": 1})]
    inputs = PairingInput(mentors=mentors, mentees=mentees)
    result = propose_pairs(inputs)
    assert pairs_of(result) == {("m1", "e1")}
    alts = engine.alternatives(result, "e1", k=3)
    assert [a.partner_id for a in alts] == ["m2", "m3"]  # m1 is the current partner, m4 is too senior
    assert alts[0].score > alts[1].score
    assert alts[0].breakdown.score == alts[0].score
    from_inputs = engine.alternatives(inputs, "e1", k=1)
    assert [a.partner_id for a in from_inputs] == ["m1"]
    for_mentor = engine.alternatives(result, "m2")
    assert [(a.partner_id, a.current_partners) for a in for_mentor] == [("e1", ("m1",))]
    with pytest.raises(PairingError, match="unknown person id"):
        engine.alternatives(result, "nobody")


def test_alternatives_respect_min_score_unless_asked():
    inputs = PairingInput(mentors=[mentor("m1", languages=set())], mentees=[mentee("e1", languages=set())], policy=Policy(min_score=950))
    assert engine.alternatives(inputs, "e1") == ()
    alts = engine.alternatives(inputs, "e1", include_below_min=True)
    assert alts[0].below_min_score


# --------------------------------------------------------------------------- examples: bad input


def test_empty_pools_and_all_infeasible_give_valid_results():
    assert run([], []).pairs == () and run([], []).unmatched == ()
    only_mentees = run([], [mentee("e1")])
    assert reason_of(only_mentees, "e1") == NO_FEASIBLE_PARTNER
    assert "no mentors" in message_of(only_mentees, "e1")
    only_mentors = run([mentor("m1")], [])
    assert reason_of(only_mentors, "m1") == NO_FEASIBLE_PARTNER
    blocked = run([mentor("m1", level=9), mentor("m2", level=8)], [mentee("e1"), mentee("e2")])
    assert blocked.pairs == ()
    assert {u.reason for u in blocked.unmatched} == {NO_FEASIBLE_PARTNER}
    assert len(blocked.unmatched) == 4


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: PairingInput(mentors=[mentor("a")], mentees=[mentee("a")]), "duplicate id 'a'"),
        (lambda: PairingInput(mentors=[mentor("a"), mentor("a")]), "duplicate id 'a'"),
        (lambda: Policy(weights={"topics": -1}), "weight 'topics' must be >= 0"),
        (lambda: Policy(weights={"topic": 1}), "unknown field(s) topic"),
        (lambda: mentor("a", capacity=-1), "capacity must be >= 0"),
        (lambda: mentor("a", teaches={"AI tools": 6}), "must be <= 5"),
        (lambda: mentee("a", wants={"AI tools": 0}), "must be >= 1"),
        (lambda: Policy(strategy="random"), "strategy must be one of"),
        (lambda: Policy(min_score=1001), "min_score must be <= 1000"),
        (lambda: mentor(None), "must be a string or an integer"),
        (lambda: mentor("a", manager_chain=("b", "a")), "own manager_chain"),
        (lambda: mentor("a", interests="chess"), "not one string"),
        (lambda: PairingInput.from_dict({"mentors": [{"id": "m", "lvl": 1}]}), "unknown field(s) lvl"),
        (lambda: PairingInput(pins=[("a",)]), "expected a (mentor id, mentee id) pair"),
        (lambda: mentor("a", level=10**30), "level must be <= 1000000"),
        (lambda: propose_pairs(PairingInput(mentors=[mentor("a")], mentees=[mentee("b")], exclusions=[(["a"], "b")])), "ids must be strings or integers"),
        (lambda: propose_pairs(PairingInput(mentors=[mentor("a")], mentees=[mentee("b")], pins=[(1.5, "b")])), "pin mentor id must be a string or an integer"),
    ],
)
def test_bad_input_raises_pairing_error(build, fragment):
    with pytest.raises(PairingError) as err:
        build()
    assert fragment in str(err.value)


def test_unknown_solver_is_refused():
    with pytest.raises(PairingError, match="unknown solver"):
        propose_pairs(PairingInput(mentors=[mentor("m1")], mentees=[mentee("e1")]), solver="magic")


def test_bench_like_org_solves_identically_with_both_solvers():
    bench = pytest.importorskip("bench.pairing")
    inputs = bench.generate(150, 2, seed=3)
    sparse_result = propose_pairs(inputs, solver="sparse")
    dense_result = propose_pairs(inputs, solver="dense")
    assert objective(sparse_result) == objective(dense_result)
    assert "certificate" in sparse_result.solver
    grid = engine._Grid(inputs)
    S = grid.scores()
    for p in sparse_result.pairs:
        assert S[grid.m_pos[p.mentor_id], grid.e_pos[p.mentee_id]] == p.score


def test_raw_dense_assignment_agrees_on_a_random_grid():
    rng = np.random.default_rng(5)
    S = rng.integers(-1, 1001, size=(60, 80)).astype(np.int16)
    cap = rng.integers(0, 3, size=60)
    for strategy in ("best_score", "most_matched"):
        dense = engine._solve(S, cap, 300, strategy, solver="dense")
        sparse = engine._solve(S, cap, 300, strategy, solver="sparse", candidates=2)
        for mi, mj, _ in (dense, sparse):
            assert np.all(S[mi, mj] >= 300)
            assert np.all(np.bincount(mi, minlength=60) <= cap)
            assert len(set(mj.tolist())) == len(mj)
        key = lambda r: (int(S[r[0], r[1]].astype(int).sum()), len(r[0]))  # noqa: E731
        if strategy == "most_matched":
            key = lambda r: (len(r[0]), int(S[r[0], r[1]].astype(int).sum()))  # noqa: E731
        assert key(dense) == key(sparse)
