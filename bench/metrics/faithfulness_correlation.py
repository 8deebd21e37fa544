"""Faithfulness correlation (Bhatt et al. 2020, "Evaluating and aggregating feature-based model
explanations"): the Pearson correlation, over random subsets S of the positions, between the
summed attribution of S and the drop of the target score when S is removed; higher is better
(1 for a linear model explained by input x gradient). As Quantus computes it
(`quantus/metrics/faithfulness/faithfulness_correlation.py`, `evaluate_batch`) with `nr_runs`
= 100 subsets of 20% of the removable positions (Quantus fixes 224 pixels), removed the run's
way, all in one batched pass. Differences: the score is the run's y (class probability, a
causal LM's target log-probability) where Quantus defaults to logits (`softmax=False`); the
subsets are drawn from a fixed seed, so every method of an example is scored on the same ones.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy.stats import pearsonr

from bench.metric import Evidence, Metric, register_metric

SEED = 0


def correlation(attributions: np.ndarray, drops: np.ndarray) -> float:
    """Pearson of attribution sums and output drops; NaN when either is constant."""
    if np.ptp(attributions) == 0 or np.ptp(drops) == 0:
        return float("nan")
    return float(pearsonr(attributions, drops).statistic)


@register_metric("faithfulness_correlation")
class FaithfulnessCorrelation(Metric):
    name = "faithfulness_correlation"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)
    subsets: ClassVar[int] = 100
    subset_fraction: ClassVar[float] = 0.2

    def draw(self, n: int) -> list[np.ndarray]:
        """The subsets (indices into the removable positions) for n of them, seeded."""
        rng = np.random.default_rng(SEED)
        size = max(1, math.ceil(self.subset_fraction * n))
        return [rng.choice(n, size, replace=False) for _ in range(self.subsets)]

    def compute(self, evidence: Evidence) -> float:
        removable = evidence.removable
        if len(removable) < 2:
            return float("nan")
        subsets = [removable[s] for s in self.draw(len(removable))]
        scores = evidence.explanation.scores
        attributions = np.array([scores[s].sum() for s in subsets])
        drops = evidence.cached_for_input(  # the subsets are fixed: every method shares the drops
            f"{self.name}_drops",
            lambda: evidence.unperturbed_score() - evidence.perturber.scores(evidence.removal_masks(subsets)),
        )
        return correlation(attributions, drops)
