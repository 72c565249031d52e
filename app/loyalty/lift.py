"""Lift against a holdout: the difference of two conversion rates with its 95 % confidence interval.

Lift = converted/fired − holdout_converted/holdout_entered (contract.md, automations results). The
interval is Newcombe's hybrid score interval for a difference of proportions (Newcombe 1998, method 10),
built from the two Wilson score intervals: unlike the textbook Wald interval it stays inside [−1, 1]
and keeps close to its nominal coverage for the small groups and rare conversions a holdout has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the two-sided 95 % normal quantile


@dataclass(frozen=True)
class Lift:
    """``lift`` and its interval as fractions (0.05 = five percentage points); None without both groups."""

    treated_rate: float | None
    holdout_rate: float | None
    lift: float | None
    low: float | None
    high: float | None


def rate(successes: int, n: int) -> float | None:
    return successes / n if n > 0 else None


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0..1 on both ends)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z / (1 + z2 / n)) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 (or n) successes the bound is exactly 0 (or 1); floating point would leave a speck.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def lift_of(converted: int, fired: int, holdout_converted: int, holdout_entered: int, z: float = Z_95) -> Lift:
    """The lift of the treated group over the holdout, with Newcombe's interval."""
    p1, p2 = rate(converted, fired), rate(holdout_converted, holdout_entered)
    if p1 is None or p2 is None:
        return Lift(p1, p2, None, None, None)
    l1, u1 = wilson_interval(converted, fired, z)
    l2, u2 = wilson_interval(holdout_converted, holdout_entered, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Lift(p1, p2, d, max(-1.0, low), min(1.0, high))
