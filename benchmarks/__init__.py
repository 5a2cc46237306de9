"""Timing scripts for the engine; run them as modules, e.g. ``python -m benchmarks.overhead``."""
