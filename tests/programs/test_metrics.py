"""Metric formulas on small hand-made data with known answers (no database)."""

import ast
from pathlib import Path

import pytest

from programs import metrics


def test_metrics_module_has_no_django_import():
    tree = ast.parse(Path(metrics.__file__).read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n and n.startswith("django")]


def test_match_rate():
    assert metrics.match_rate(paired_mentees=18, approved_mentees=24) == 0.75
    assert metrics.match_rate(paired_mentees=0, approved_mentees=0) is None


def test_nps_counts_promoters_minus_detractors():
    # 3 promoters (9, 10, 9), 2 passives (7, 8), 1 detractor (6): (3 - 1) / 6 = 33.3
    score, n = metrics.nps([9, 10, 9, 7, 8, 6])
    assert n == 6 and score == pytest.approx(100 * 2 / 6)
    assert metrics.nps([]) == (None, 0)
    assert metrics.nps_from_counts(promoters=3, passives=2, detractors=1) == metrics.nps([9, 10, 9, 7, 8, 6])


def test_uplift_uses_only_people_with_both_answers():
    result = metrics.uplift([(1, 3), (2, 4), (3, 3)])
    assert result.n == 3 and result.mean == pytest.approx(4 / 3)
    assert metrics.uplift([]) == metrics.Uplift(mean=None, n=0)


def test_meetings_per_pair_per_month_and_cadence():
    # 2 pairs for 60 days each = 4 pair-months; 6 meetings -> 1.5 a month
    assert metrics.meetings_per_pair_per_month(meetings=6, pair_days=120) == pytest.approx(1.5)
    assert metrics.meetings_per_pair_per_month(meetings=0, pair_days=1, min_pair_days=14) is None  # too early to tell
    # A 14-day cadence: 60 days owe 4 meetings per pair (whole periods), 8 in all; pair one
    # held 5 (counts 4), pair two 2 -> 6 of 8.
    assert metrics.cadence_adherence(pairs=[(5, 60), (2, 60)], cadence_days=14) == pytest.approx(6 / 8)
    assert metrics.cadence_adherence(pairs=[(50, 60), (50, 60)], cadence_days=14) == 1.0
    # Pairs younger than one cadence period owe nothing yet: no figure, not 0%.
    assert metrics.cadence_adherence(pairs=[(0, 0.04), (0, 13.9)], cadence_days=14) is None
    assert metrics.cadence_adherence(pairs=[(0, 14), (1, 3)], cadence_days=14) == 0.0
    assert metrics.cadence_adherence(pairs=[], cadence_days=14) is None


def test_retention_comparison():
    out = metrics.rate_difference(group_events=19, group_size=20, peer_events=160, peer_size=200)
    assert out["participants"] == 0.95 and out["peers"] == 0.8 and out["difference"] == pytest.approx(0.15)


def test_a_group_of_four_is_hidden_and_cannot_be_worked_out_from_the_total():
    cells = {"Engineering": (12, 4.1), "Legal": (4, 2.0), "Sales": (9, 3.8), "Finance": (7, 4.4)}
    shown = {c.label: c for c in metrics.suppress(cells)}
    # With a published total of 32 people, Legal's 4 = 32 - 12 - 9 - 7: a second cell goes too.
    hidden = [c.label for c in shown.values() if c.hidden]
    assert sorted(hidden) == ["Finance", "Legal"]  # the smallest shown group
    # Both read the same: which of them is the small one is not said.
    assert shown["Finance"].shown == shown["Legal"].shown == "hidden"
    total = sum(n for n, _v in cells.values())
    visible = sum(c.n for c in shown.values() if not c.hidden)
    assert total - visible == 4 + 7  # only the sum of two hidden cells can be derived


def test_without_a_published_total_only_small_groups_are_hidden():
    shown = metrics.suppress({"A": (3, 1), "B": (10, 2)}, total_published=False)
    assert [c.hidden for c in shown] == [True, False]


def test_hidden_cells_whose_sum_would_give_them_away_take_another_with_them_and_empty_groups_stay_zero():
    # 3 + 2 hidden next to a total: both are told to be small. 1 + 1: both are 1.
    shown = {c.label: c for c in metrics.suppress({"A": (3, 1), "B": (2, 1), "C": (30, 4), "E": (40, 4), "D": (0, None)})}
    assert [label for label, c in shown.items() if c.hidden] == ["A", "B", "C"] and shown["D"].n == 0
    # 1 + 5: "the large one is 5" gives the other away as 1.
    shown = {c.label: c for c in metrics.suppress({"Engineering": (40, 1), "Sales": (5, 1), "Legal": (1, 1)})}
    assert all(c.hidden for c in shown.values())
    # 4 + 6: whichever is the large one, the small one could be anything from 1 to 4.
    shown = {c.label: c for c in metrics.suppress({"Engineering": (40, 1), "Sales": (6, 1), "Legal": (4, 1)})}
    assert [label for label, c in shown.items() if c.hidden] == ["Sales", "Legal"]


def test_an_average_is_shown_again_only_when_at_least_five_answers_moved():
    assert not metrics.change_shown(n=6, value=66.7, n_before=5, value_before=60.0)
    assert not metrics.change_shown(n=5, value=60.0, n_before=6, value_before=66.7)  # an answer erased
    assert metrics.change_shown(n=10, value=70.0, n_before=5, value_before=60.0)
    assert metrics.change_shown(n=6, value=60.0, n_before=6, value_before=60.0)  # the same answers
    assert not metrics.change_shown(n=6, value=66.7, n_before=6, value_before=60.0)  # one changed
    # A series keeps its newest points, each at least five answers from the others shown and
    # from the published key figure.
    points = [(3, 33.0), (5, 60.0), (6, 66.7), (9, 55.0), (11, 45.5), (14, 50.0)]
    assert metrics.series_shown(points, published=[(14, 50.0)]) == [False, False, False, True, False, True]


def test_single_figures_about_small_groups_are_hidden():
    assert metrics.suppress_total(4, 0.9) == "fewer than 5"
    assert metrics.suppress_total(5, 0.9) == 0.9


def test_a_rate_that_stands_for_one_to_four_people_is_not_shown():
    assert metrics.suppress_rate(events=1, n=10, rate=0.1) == "fewer than 5 people"  # "10% of 10" is one person
    assert metrics.suppress_rate(events=3, n=76, rate=0.039) == "fewer than 5 people"
    assert metrics.suppress_rate(events=30, n=31, rate=0.968) == "all but fewer than 5 people"  # one left
    assert metrics.suppress_rate(events=3, n=4, rate=0.75) == "fewer than 5"  # the group itself is small
    # Nobody, everybody and enough people either way are shown.
    assert metrics.suppress_rate(events=0, n=10, rate=0.0) == 0.0
    assert metrics.suppress_rate(events=10, n=10, rate=1.0) == 1.0
    assert metrics.suppress_rate(events=5, n=10, rate=0.5) == 0.5
    assert metrics.suppress_rate(events=0, n=0, rate=None) is None


@pytest.mark.parametrize("counts_kept", [True, False])
def test_no_shown_rate_can_be_multiplied_back_to_one_to_four_people(counts_kept):
    """The attack: whoever knows the group's size (the page gives it) multiplies the rate
    shown, rounded to a whole percent as the page shows it, back into a count of people."""
    for n in range(1, 401):
        for k in range(n + 1):
            rate = round(k / n, 3)  # as a snapshot stores it
            shown = metrics.suppress_rate(events=k if counts_kept else None, n=n, rate=rate)
            if isinstance(shown, str):
                continue
            # Shown: the count it stands for, and the count it leaves out, are none or 5 or more.
            assert not 0 < k < 5 and not 0 < n - k < 5, (k, n, shown)
            assert abs(shown * n - k) < 1  # and it is the rate it claims to be
