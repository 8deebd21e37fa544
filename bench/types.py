"""Plain data passed between stages: what to explain, and the explanation itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.units import DEFAULT_GRANULARITY


@dataclass
class Example:
    """One thing to explain: model inputs, the output to explain, and an optional ground truth.

    `inputs` is a text (str) or an image array (H, W, C). `target` is a class index for
    classifiers or the target text for a causal LM (None = the model's own prediction).
    `rationale` is an optional 0/1 mask over the model's tokens (or pixels for images).
    `candidates` says where a rationale could lie, in the same form (SQuAD: the context's
    character span): plausibility metrics score only those positions under the `context` token
    set; None is every position.
    """

    id: str
    inputs: Any
    target: int | str | None = None
    rationale: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    candidates: Any = None


@dataclass
class Cost:
    """What one explanation cost: wall seconds, passes through the model, peak memory in bytes."""

    seconds: float = 0.0
    forward_passes: int = 0
    backward_passes: int = 0
    peak_memory_bytes: int | None = None
    """The allocator's peak above its starting level; None where not measured (CPU, bench.cost)."""

    def as_dict(self) -> dict[str, float]:
        return {
            "seconds": self.seconds,
            "forward_passes": self.forward_passes,
            "backward_passes": self.backward_passes,
            "peak_memory_bytes": self.peak_memory_bytes,
        }


@dataclass
class Explanation:
    """One attribution: a float score per unit of the model's input (a token, word or sentence,
    or an image patch: bench/units.py), special tokens included.

    Users may build one by hand to evaluate attributions made elsewhere; only `tokens` (the
    units' texts) and `scores` are required. `special_tokens` marks units that metrics never
    perturb. For images, `patch_grid` is (rows, cols) of the patch scores. `granularity` says
    what a unit is, so `bench.evaluate` encodes the input into the same units.
    """

    tokens: list[str]
    scores: np.ndarray
    target: int | str | None = None
    method: str = "custom"
    params: dict[str, Any] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    special_tokens: np.ndarray | None = None
    patch_grid: tuple[int, int] | None = None
    target_tokens: list[str] | None = None
    """A causal LM's target as tokens (the generated ones when it generated its target)."""
    per_token_scores: np.ndarray | None = None
    """(target tokens, units), with `per_token`: row t explains target token t alone, teacher-forced
    after the earlier ones (inseq's matrix). `scores` still explains the whole target; for methods
    linear in the target tokens' outputs (AtMan, sum-aggregated gradients, occlusion) it is the rows' sum."""
    granularity: str = DEFAULT_GRANULARITY

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        if self.scores.ndim != 1 or len(self.scores) != len(self.tokens):
            raise ValueError(
                f"Explanation needs one score per token: got {len(self.tokens)} tokens "
                f"and scores of shape {self.scores.shape}"
            )
        if self.per_token_scores is not None:
            self.per_token_scores = np.asarray(self.per_token_scores, dtype=np.float64)
            rows = len(self.target_tokens) if self.target_tokens is not None else -1
            if self.per_token_scores.shape != (rows, len(self.tokens)):
                raise ValueError(
                    f"per_token_scores needs a row per target token and a column per token: got "
                    f"{self.per_token_scores.shape} for {rows} target tokens and {len(self.tokens)} tokens"
                )
        if self.special_tokens is None:
            self.special_tokens = np.zeros(len(self.tokens), dtype=bool)
        self.special_tokens = np.asarray(self.special_tokens, dtype=bool)
