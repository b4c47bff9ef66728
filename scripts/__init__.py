"""Developer scripts (not shipped to Lambda): `python -m scripts.bench` prints the benchmarks."""
