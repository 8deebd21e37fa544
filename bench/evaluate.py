"""Score explanations with the registered metrics: `bench.evaluate` for one explanation
(hand-built ones included), `score_explanation` for the runner (values and curves)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.errors import InputError
from bench.metric import FAMILIES, CurveMetric, Evidence, Metric
from bench.models import Encoded, Model
from bench.perturbation import Perturber
from bench.protocol import DEFAULT_PROTOCOL, check_protocols, get_protocol, metric_key, scored_under
from bench.registry import METRICS
from bench.types import Example, Explanation

TOKEN_SETS = ("context", "prompt")
"""Which positions plausibility metrics score: `context`, the task's candidates (where its
rationales can lie, e.g. SQuAD's context passage) when it names them, else every position;
`prompt`, every non-special explained position."""


def check_token_set(token_set: str) -> None:
    if token_set not in TOKEN_SETS:
        raise InputError(f"token_set={token_set!r} is not one of {', '.join(TOKEN_SETS)}")


def candidate_mask(encoded: Encoded, example: Example, token_set: str) -> np.ndarray | None:
    """The 0/1 candidate positions of `example` under `token_set` (None: every position)."""
    check_token_set(token_set)
    return rationale_mask(encoded, example.candidates) if token_set == "context" else None


DEFAULT_FAMILIES = ("faithfulness", "plausibility", "complexity", "cost")
"""The families scored unless asked otherwise; sanity and robustness re-explain the input."""


def chosen_families(entries: Sequence[str] = ()) -> list[str]:
    """Families from `--families` entries: names replace the defaults, `+name` adds to them."""
    added = [entry[1:] for entry in entries if entry.startswith("+")]
    named = [entry for entry in entries if not entry.startswith("+")]
    families = list(dict.fromkeys([*(named or DEFAULT_FAMILIES), *added]))
    unknown = [family for family in families if family not in FAMILIES]
    if unknown:
        raise InputError(f"unknown metric family {unknown[0]!r}; known: {', '.join(FAMILIES)}")
    return families


def default_metrics(
    has_rationale: bool,
    families: Sequence[str] = DEFAULT_FAMILIES,
    runner: bool = False,
    modality: str | None = None,
) -> list[str]:
    """Every metric of `families` defined for `modality` (None: any), plausibility only with
    a rationale, the evaluation's own cost only for the `runner`, which measures it."""
    families = set(families) - (set() if has_rationale else {"plausibility"})
    chosen = [
        (FAMILIES.index(metric.family), name)
        for name, metric in METRICS.items()
        if metric.family in families
        and (runner or not metric.measured_by_runner)
        and (modality is None or modality in metric.modalities)
    ]
    return [name for _, name in sorted(chosen)]


def rationale_mask(encoded: Encoded, rationale: Any) -> np.ndarray | None:
    """A 0/1 mask over the input's units from character spans (text), a (H, W) pixel mask
    (images: a patch counts when at least half its pixels do) or a ready mask over the tokens
    (or over the units). A unit is in the rationale when any of its tokens is."""
    if rationale is None:
        return None
    units = encoded.units
    if encoded.patch_grid is not None and np.ndim(rationale) == 2:
        return _patch_mask(encoded, np.asarray(rationale, dtype=np.float64))
    if isinstance(rationale, list | tuple) and (not rationale or np.ndim(rationale[0]) == 1):
        return units.any_of(encoded.token_mask([tuple(span) for span in rationale]))
    mask = np.asarray(rationale)
    if mask.shape == (units.n_units,):
        return (mask != 0).astype(np.int8) * ~units.special
    if mask.shape != (encoded.n_positions,):
        raise InputError(
            f"rationale mask has shape {mask.shape} but the input has {encoded.n_positions} positions"
        )
    return units.any_of(mask)


def _patch_mask(encoded: Encoded, pixels: np.ndarray) -> np.ndarray:
    rows, cols = encoded.patch_grid
    height, width = pixels.shape
    row_of = np.minimum(np.arange(height) * rows // height, rows - 1)
    col_of = np.minimum(np.arange(width) * cols // width, cols - 1)
    coverage = np.zeros((rows, cols))
    np.add.at(coverage, (row_of[:, None], col_of[None, :]), pixels != 0)
    coverage /= np.outer(np.bincount(row_of, minlength=rows), np.bincount(col_of, minlength=cols))
    mask = np.zeros(encoded.n_positions, dtype=np.int8)
    mask[encoded.n_positions - rows * cols :] = (coverage >= 0.5).ravel()
    return mask


def evidences(
    explanation: Explanation,
    model: Model,
    encoded: Encoded,
    rationale: np.ndarray | None = None,
    replacement: str | None = None,
    batch_size: int = 64,
    method: Any = None,
    candidates: np.ndarray | None = None,
    protocols: Sequence[str] = (DEFAULT_PROTOCOL,),
    rationale_stats: tuple[float, float] | None = None,
    input_cache: dict[str, Any] | None = None,
) -> dict[str, Evidence]:
    """What the metrics read about one explanation of `encoded`: one Evidence per protocol (in
    the given order), sharing one cache of the explanation's results, after checking that the
    explanation explains `encoded`. `input_cache` holds what depends on the input alone
    (`Evidence.input_cache`): pass the same dict for every explanation of one input and those
    passes run once."""
    units = encoded.units
    if len(explanation.tokens) != units.n_units:
        raise InputError(
            f"the explanation has {len(explanation.tokens)} scores but the model encodes the input "
            f"into {units.n_units} positions ({units.granularity} units); explain the same input with "
            "the same model at the same granularity"
        )
    differ = [i for i, (a, b) in enumerate(zip(explanation.tokens, units.texts, strict=True)) if a != b]
    if differ:
        i = differ[0]
        raise InputError(
            f"the explanation's tokens differ from the model's encoding of the input (position {i}: "
            f"{explanation.tokens[i]!r} vs {units.texts[i]!r}); explain the same input with the same model"
        )
    bad = np.flatnonzero(~np.isfinite(np.asarray(explanation.scores, dtype=np.float64)))
    if len(bad):
        raise InputError(
            f"the explanation has non-finite scores (NaN or inf) at {len(bad)} positions (first {bad[0]}); "
            "no metric of such scores means anything"
        )
    shared: dict[str, Any] = {}
    input_cache = {} if input_cache is None else input_cache
    return {
        protocol: Evidence(
            explanation,
            model,
            encoded,
            rationale,
            replacement,
            batch_size,
            method,
            candidates,
            protocol=get_protocol(protocol),
            rationale_stats=rationale_stats,
            _cache=shared,
            input_cache=input_cache,
        )
        for protocol in check_protocols(protocols)
    }


def score_explanation(
    explanation: Explanation,
    model: Model,
    encoded: Encoded,
    metrics: Sequence[str],
    rationale: np.ndarray | None = None,
    replacement: str | None = None,
    batch_size: int = 64,
    method: Any = None,
    candidates: np.ndarray | None = None,
    protocols: Sequence[str] = (DEFAULT_PROTOCOL,),
    rationale_stats: tuple[float, float] | None = None,
    input_cache: dict[str, Any] | None = None,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """({metric key: value}, {curve metric: y values}) for one explanation of `encoded`: `scored`
    on its `evidences` (the arguments after `metrics` are theirs)."""
    return scored(
        evidences(
            explanation, model, encoded, rationale, replacement, batch_size, method, candidates, protocols,
            rationale_stats, input_cache,
        ),
        metrics,
    )  # fmt: skip


def scored(
    evidences: dict[str, Evidence], metrics: Sequence[str]
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """({metric key: value}, {curve metric: y values}) of one explanation's `evidences`. Every
    metric is scored under the first protocol, and under each further protocol that sets what
    it reads differently (`bench.protocol.scored_under`), keyed `metric@protocol`."""
    protocols = list(evidences)
    values: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for name in metrics:
        metric: Metric = METRICS.get(name)()
        for protocol in scored_under(name, protocols):
            values[metric_key(name, protocol)] = float(metric.compute(evidences[protocol]))
        if isinstance(metric, CurveMetric):
            curves[name] = metric.curve(evidences[protocols[0]])[1].tolist()
    return values, curves


def planned_removals(
    evidences: dict[str, Evidence], metrics: Sequence[str]
) -> list[tuple[Perturber, np.ndarray]]:
    """The removals `scored` will score on the same evidences, each with its perturber
    (`Metric.removals`), for running those of several explanations of one input together
    (`run_removals`)."""
    protocols = list(evidences)
    return [
        planned
        for name in metrics
        for protocol in scored_under(name, protocols)
        for planned in METRICS.get(name)().removals(evidences[protocol])
    ]


def run_removals(planned: Sequence[tuple[Perturber, np.ndarray]]) -> None:
    """Each perturber's planned removals through the model in one call (its batches of
    `batch_size` rows, each distinct removal once); the metrics then read them from its memo."""
    by_perturber: dict[int, tuple[Perturber, list[np.ndarray]]] = {}
    for perturber, masks in planned:
        by_perturber.setdefault(id(perturber), (perturber, []))[1].append(masks)
    for perturber, masks in by_perturber.values():
        perturber.logprobs(np.concatenate(masks))


def evaluate(
    explanation: Explanation,
    model: Model,
    inputs: Any,
    metrics: Sequence[str] | None = None,
    rationale: Any = None,
    replacement: str | None = None,
    batch_size: int = 64,
    token_set: str = "context",
    protocol: str | Sequence[str] = DEFAULT_PROTOCOL,
    granularity: str | None = None,
) -> dict[str, float]:
    """The metrics of one explanation of `model` on `inputs` (text, image, or an `Example`,
    whose rationale is then used unless `rationale` is given, and whose candidates bound the
    plausibility metrics under `token_set="context"`; see `TOKEN_SETS`).

    The input is re-encoded with the explanation's target, so explanations built by hand or
    elsewhere work as long as they have one score per explained position. `rationale` is a
    list of character spans, a (H, W) pixel mask, or a 0/1 mask over positions. `metrics`
    defaults to every faithfulness, complexity and cost metric, plus plausibility when there
    is a rationale. `replacement` is how removed positions are filled (see bench.perturbation).
    `protocol` names the evaluation protocol (`eraser`, `ferret`, `xai-bench`; see
    `bench/protocols/`), or several: values under a protocol other than `xai-bench` are keyed
    `metric@protocol`. A protocol that takes k from the dataset's mean rationale takes this
    example's own. `granularity` (token | word | sentence) is what a unit is, by default the
    explanation's own: metrics rank and remove whole units.
    """
    example = inputs if isinstance(inputs, Example) else Example(id="input", inputs=inputs)
    rationale = example.rationale if rationale is None else rationale
    encoded = model.encode(
        example.inputs, explanation.target, granularity=granularity or explanation.granularity
    )
    mask = rationale_mask(encoded, rationale)
    candidates = candidate_mask(encoded, example, token_set)
    names = (
        list(metrics) if metrics is not None else default_metrics(mask is not None, modality=model.modality)
    )
    protocols = [protocol] if isinstance(protocol, str) else list(protocol)
    values, _ = score_explanation(
        explanation, model, encoded, names, mask, replacement, batch_size, candidates=candidates,
        protocols=protocols,
    )  # fmt: skip
    return values
