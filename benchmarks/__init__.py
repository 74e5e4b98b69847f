"""Benchmarks of mlops-levels against its peers: `python -m benchmarks --help`."""
