"""Benchmarks (not tests): each script prints one table row, ours against a floor."""
