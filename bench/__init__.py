"""Benchmarks and fault-injection runs: they print numbers; tests never assert on time."""
