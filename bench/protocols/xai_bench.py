"""This project's protocol: the gold target, tokens removed the run's way (in place by default,
so positions and length stay), ceil bins of at least one token, Samek's AOPC over the first
20% of deletion steps, token F1 at each example's |rationale|, every score ranked."""

from bench.protocol import Protocol, register_protocol

XAI_BENCH = register_protocol(
    Protocol(name="xai-bench", reference="this repository: bench/metrics/*.py (README, 'Metrics')")
)
