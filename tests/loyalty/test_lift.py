"""Lift against a holdout and its 95 % interval (Newcombe's hybrid score interval), property-tested."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.loyalty.lift import lift_of, wilson_interval


@st.composite
def groups(draw):
    n1 = draw(st.integers(1, 5000))
    n2 = draw(st.integers(1, 5000))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


@given(groups())
def test_the_interval_holds_the_lift_and_stays_within_minus_one_and_one(g):
    c1, n1, c2, n2 = g
    lift = lift_of(c1, n1, c2, n2)
    assert lift.lift == pytest.approx(c1 / n1 - c2 / n2)
    assert -1.0 <= lift.low <= lift.lift + 1e-12 <= lift.high + 2e-12 <= 1.0 + 2e-12


@given(groups())
def test_swapping_the_groups_mirrors_the_interval(g):
    c1, n1, c2, n2 = g
    a, b = lift_of(c1, n1, c2, n2), lift_of(c2, n2, c1, n1)
    assert a.lift == pytest.approx(-b.lift)
    assert a.low == pytest.approx(-b.high) and a.high == pytest.approx(-b.low)


@given(st.integers(0, 200), st.integers(0, 200))
def test_more_members_at_the_same_rates_narrow_the_interval(c1, c2):
    small = lift_of(c1, 200, c2, 200)
    big = lift_of(c1 * 10, 2000, c2 * 10, 2000)
    assert big.high - big.low < small.high - small.low


@given(st.integers(0, 1000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))).filter(lambda t: t[1] > 0))
def test_wilson_interval_contains_the_rate(t):
    k, n = t
    low, high = wilson_interval(k, n)
    assert 0 <= low <= k / n <= high <= 1


def test_no_lift_without_both_groups():
    assert lift_of(3, 10, 0, 0).lift is None and lift_of(0, 0, 1, 5).low is None


def test_known_values():
    """Newcombe (1998), table II, example (a): 56/70 vs 48/80 → 0.2000, interval 0.0524 to 0.3339."""
    lift = lift_of(56, 70, 48, 80)
    assert lift.lift == pytest.approx(0.2)
    assert lift.low == pytest.approx(0.0524, abs=1e-4) and lift.high == pytest.approx(0.3339, abs=1e-4)


@settings(deadline=None)
@given(st.sampled_from([(0.3, 0.2, 400, 60), (0.05, 0.05, 2000, 300), (0.5, 0.3, 90, 30)]))
def test_the_interval_covers_the_true_lift_about_95_percent_of_the_time(case):
    p1, p2, n1, n2 = case
    rng = random.Random(1234)
    trials, covered = 600, 0
    for _ in range(trials):
        c1 = sum(rng.random() < p1 for _ in range(n1))
        c2 = sum(rng.random() < p2 for _ in range(n2))
        lift = lift_of(c1, n1, c2, n2)
        covered += lift.low <= p1 - p2 <= lift.high
    # 95 % nominal; with 600 trials the binomial spread is ± 2 %: a wrong interval falls well outside.
    assert 0.91 <= covered / trials <= 0.99
    assert math.isfinite(covered)
