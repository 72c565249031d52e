"""bench/engine: the loyalty engine's throughput, statements per order event and memory (see run.py)."""
