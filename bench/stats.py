"""Summary statistics, always recomputed from the records: per (task, model, method, metric) the
mean with a seeded bootstrap 95% CI, and paired Wilcoxon signed-rank tests between methods on the
examples both scored, Holm-corrected within each (task, model, metric).

A method's rank is 1 + the number of methods significantly better than it, so methods that the
tests cannot separate share a rank; `tied_with` lists the methods not significantly different.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, wilcoxon

from bench.protocol import metric_column, metric_of

ALPHA = 0.05
SUMMARY_COLUMNS = ["task", "model", "method", "metric", "mean", "ci_low", "ci_high", "n", "rank", "tied_with"]


def bootstrap_ci(values: np.ndarray, seed: int, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (NaN for fewer than two values)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    result = bootstrap(
        (values,), np.mean, confidence_level=confidence, method="percentile", n_resamples=2000, rng=seed
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    pvalues = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(pvalues)
    scaled = pvalues[order] * (len(pvalues) - np.arange(len(pvalues)))
    adjusted = np.empty_like(pvalues)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def paired_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p on the paired values (1 when every difference is zero)."""
    differences = np.asarray(a) - np.asarray(b)
    if not np.any(differences):
        return 1.0
    pvalue = wilcoxon(a, b).pvalue
    return float(pvalue) if np.isfinite(pvalue) else 1.0


def compare(table: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Holm-adjusted p for each method pair of a (example x method) table of one metric."""
    pairs = list(combinations(table.columns, 2))
    raw = []
    for a, b in pairs:
        both = table[[a, b]].dropna()
        raw.append(paired_pvalue(both[a].to_numpy(), both[b].to_numpy()) if len(both) else 1.0)
    adjusted = holm(raw) if raw else []
    return {pair: float(p) for pair, p in zip(pairs, adjusted, strict=True)}


def metric_summary(table: pd.DataFrame, higher_is_better: bool, seed: int) -> pd.DataFrame:
    """Rows per method (mean, CI, n, rank, tied_with) from an (example x method) table."""
    pvalues = compare(table)
    means = table.mean()
    sign = 1 if higher_is_better else -1
    rows = []
    for method in table.columns:
        values = table[method].dropna().to_numpy()
        low, high = bootstrap_ci(values, seed)
        others = [other for other in table.columns if other != method]
        p = {other: pvalues.get((method, other), pvalues.get((other, method), 1.0)) for other in others}
        better = [o for o in others if p[o] < ALPHA and sign * (means[o] - means[method]) > 0]
        rows.append(
            {
                "method": method,
                "mean": float(means[method]),
                "ci_low": low,
                "ci_high": high,
                "n": len(values),
                "rank": 1 + len(better),
                "tied_with": ";".join(o for o in others if p[o] >= ALPHA),
            }
        )
    return pd.DataFrame(rows)


TAUTOLOGICAL = "not ranked: tautological (the metric's reference perturbs the way this method does)"
"""The `tied_with` text of a method a metric cannot judge; its rank is empty."""


def rank_label(row: pd.Series) -> str:
    """'#rank', '=' when tied with another method; '†' for a method the metric does not rank."""
    if pd.isna(row["rank"]):
        return "†"
    return f"#{int(row['rank'])}{'=' if row['tied_with'] else ''}"


def tautological_methods(group: pd.DataFrame, metric: str) -> list[str]:
    """Methods for which some row records `metric` as tautological (see `Metric.tautological_for`)."""
    if "tautological" not in group:
        return []
    flagged = group["tautological"].map(lambda names: names is not None and metric in list(names))
    return sorted(set(group.loc[flagged, "method"]))


def unranked(table: pd.DataFrame, method: str, seed: int) -> dict:
    values = table[method].dropna().to_numpy()
    low, high = bootstrap_ci(values, seed)
    mean = float(np.mean(values)) if len(values) else float("nan")
    return {"method": method, "mean": mean, "ci_low": low, "ci_high": high, "n": len(values),
            "rank": pd.NA, "tied_with": TAUTOLOGICAL}  # fmt: skip


def summarize(records: pd.DataFrame, metrics: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """The summary table (SUMMARY_COLUMNS) of every metric over the rows without errors. A method
    a metric is tautological for is shown with its mean but not ranked, and does not change the
    ranks of the others."""
    ok = records[records["error"].isna()] if "error" in records else records
    frames = []
    for (task, model), group in ok.groupby(["task", "model"], sort=True):
        for name in metrics:
            metric = metric_of(name)
            column = metric_column(name)
            if column not in group:
                continue
            table = group.pivot(index="example_id", columns="method", values=column)
            table = table.sort_index().astype(float).dropna(how="all", axis=1)
            if table.empty:
                continue
            flagged = [m for m in tautological_methods(group, name) if m in table]
            summary = metric_summary(table.drop(columns=flagged), metric.higher_is_better, seed)
            summary = pd.concat([summary, pd.DataFrame([unranked(table, m, seed) for m in flagged])])
            summary["rank"] = summary["rank"].astype("Int64")
            summary.insert(0, "task", task)
            summary.insert(1, "model", model)
            summary.insert(3, "metric", name)
            order = ["rank", "mean"], [True, not metric.higher_is_better]
            frames.append(summary.sort_values(order[0], ascending=order[1]))
    if not frames:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS]
