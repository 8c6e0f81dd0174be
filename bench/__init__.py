"""Benchmarks: speed and memory targets, run on demand, separate from the tests."""
