"""Benchmarks: each bench_*.py prints the product's figure, a raw baseline from the same run, and the ratio."""
