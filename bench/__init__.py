"""Benchmarks run as scripts (``python -m bench.<name>``); never part of the test suite."""
