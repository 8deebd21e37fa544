"""The bins of comprehensiveness and sufficiency (ERASER, DeYoung et al. 2020; ferret's AOPC
variants), shared by both and by `aopc` under a protocol with `aopc="bins"`. Which fractions,
how they round, whether only positive scores are selected and whether empty or repeated bins
count are the protocol's (`bench.protocol.Protocol`)."""

from __future__ import annotations

import math

import numpy as np

from bench.metric import Evidence
from bench.perturbation import Perturber

BIN_SETTINGS = (
    "removal", "target", "bins", "rounding", "skip_repeated_bins", "positive_only", "no_selection"
)  # fmt: skip
"""The protocol fields the binned metrics read."""


def bin_size(fraction: float, n: int, rounding: str) -> int:
    """Tokens selected for one bin of n ranked tokens: ceil (at least one) or int(f * n)."""
    return max(1, math.ceil(fraction * n)) if rounding == "ceil" else int(fraction * n)


def bin_selections(evidence: Evidence) -> list[np.ndarray]:
    """Per counted bin, the positions it selects: the top-scored removable positions."""
    protocol = evidence.protocol
    ranked = evidence.order
    n = len(ranked)
    if protocol.positive_only:
        ranked = ranked[evidence.explanation.scores[ranked] > 0]
    selections: list[np.ndarray] = []
    for fraction in protocol.bins:
        chosen = ranked[: bin_size(fraction, n, protocol.rounding)]
        repeated = bool(selections) and set(chosen.tolist()) == set(selections[-1].tolist())
        if protocol.skip_repeated_bins and (len(chosen) == 0 or repeated):
            continue
        selections.append(chosen)
    return selections


def bin_masks(evidence: Evidence, keep_top: bool) -> np.ndarray:
    """Per counted bin, the units its variant removes: the bin's own, or with `keep_top`
    every other removable unit (no rows when the ranking is empty or selects nothing)."""
    selections = bin_selections(evidence) if len(evidence.order) else []
    removable = evidence.removable
    removed = [np.setdiff1d(removable, chosen) if keep_top else chosen for chosen in selections]
    return evidence.removal_masks(removed)


def bin_removals(evidence: Evidence, keep_top: bool) -> list[tuple[Perturber, np.ndarray]]:
    """`Metric.removals` of the binned metrics."""
    return [(evidence.protocol_perturber, bin_masks(evidence, keep_top))]


def mean_drop(evidence: Evidence, keep_top: bool) -> float:
    """Mean over the bins of y(full input) - y(variant) for the protocol's class; the variant
    removes the bin's tokens (the protocol's way), or with `keep_top` everything else."""
    if len(evidence.order) == 0:
        return float("nan")
    masks = bin_masks(evidence, keep_top)
    if not len(masks):
        return evidence.protocol.no_selection[int(keep_top)]
    perturber = evidence.protocol_perturber
    return float(np.mean(evidence.unperturbed_score(perturber) - perturber.scores(masks)))
