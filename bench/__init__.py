"""Benchmark of the self-hosted server: latency, fan-out, late join (`make bench`)."""
