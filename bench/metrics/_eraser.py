"""The ERASER bins (DeYoung et al. 2020) shared by comprehensiveness and sufficiency."""

from __future__ import annotations

import math

import numpy as np

from bench.metric import Evidence

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)


def bin_sizes(n: int) -> list[int]:
    """Top-k per bin: ceil(fraction * n), at least one token."""
    return [max(1, math.ceil(fraction * n)) for fraction in BINS]


def mean_drop(evidence: Evidence, keep_top: bool) -> float:
    """Mean over the bins of y(full input) - y(variant); the variant removes the top-k tokens,
    or, with `keep_top`, everything except them."""
    order = evidence.order
    if len(order) == 0:
        return float("nan")
    removed = [order[k:] if keep_top else order[:k] for k in bin_sizes(len(order))]
    y = evidence.perturber.scores(evidence.removal_masks(removed))
    return float(np.mean(evidence.unperturbed_score() - y))
