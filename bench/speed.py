"""How fast this machine runs plain Python right now, printed next to a benchmark's figures.

On a shared or virtual machine the same code measured minutes apart varied ≈ 2× (see bench/engine/README.md):
a figure means little without the machine's speed at the time. This is the yardstick: the CPU time of a loop of
10⁷ additions in a function, best of `repeat` (lower is faster). Compare it only with figures this function
printed: the loop quoted in the READMEs of 2026-11-30 ran at module level (global names), about twice as slow."""

from __future__ import annotations

import time


def loop_seconds(repeat: int = 3, n: int = 10_000_000) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        total = 0
        for i in range(n):
            total += i
        best = min(best, time.process_time() - start)
    return best


def describe(seconds: float) -> str:
    return f"machine speed: a loop of 10^7 additions took {seconds:.2f} s of CPU (best of 3; lower is faster)"
