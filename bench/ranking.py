"""Rank methods per task and across tasks by their average rank, and say which differences the
run's examples can tell apart: the statistics behind the critical-difference diagram
(`bench/report/critical_difference.py`), the verdict lines and the power estimate.

A *block* is one example: methods are ranked within it (1 = best under the metric's direction,
ties share the average rank) and a method's average rank is the mean over the blocks. Per task the
blocks are its examples; across tasks every (task, model, example) is a block, so a task weighs as
much as it has examples. Tasks themselves are not used as blocks: with 4 tasks the smallest
two-sided Wilcoxon p is 2 / 2**4 = 0.125, so no pair could ever be separated at 0.05.

The test follows Benavoli, Corani and Mangili 2016 ("Should we really use post-hoc tests based on
mean-ranks?", JMLR 17(5)): the Friedman test first, then pairwise Wilcoxon signed-rank tests with
Holm's correction instead of the Nemenyi test, whose verdict on two methods depends on which other
methods are compared. Ported from hfawaz/cd-diagram `main.py` (`wilcoxon_holm`: Friedman gate,
pairwise Wilcoxon, Holm; `form_cliques`). Intended differences: a Friedman p >= alpha separates no
pair (the reference stops the program); the Wilcoxon p is `bench.stats.paired_pvalue` (zero
differences dropped, scipy's default) instead of `zero_method="pratt"`, so ties agree with
summary.csv's; with two methods scipy has no Friedman test and the one Wilcoxon test decides;
blocks where some method has no value are dropped, and a method with no value on a whole task of the
scope is left out (the reference keeps the methods scored on the most datasets). Cliques are the
maximal runs of methods, *consecutive in average rank*, that no test separates (Orange's
`graph_ranks` forms its bars the same way from the Nemenyi CD); the reference takes networkx's
maximal cliques of the "not separated" graph and draws each from its best to its worst member,
which can draw a bar across a method separated from the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare

from bench.errors import InputError
from bench.metric import FAMILIES
from bench.power import effect_size, pairs_needed
from bench.protocol import is_registered, metric_column, metric_of
from bench.stats import ALPHA, compare, tautological_methods

HEADLINE = {
    "faithfulness": ("comprehensiveness", "deletion", "insertion"),
    "plausibility": ("auprc", "token_f1", "map"),
    "complexity": ("sparseness", "complexity"),
    "robustness": ("stability", "avg_sensitivity"),
    "sanity": ("randomization",),
}
"""Per family, the metrics that stand for it, in order of preference (then the family's first)."""
CLOSEST_PAIRS = 3
NOTE = (
    "Per metric family, its headline metric over all of the run's tasks: methods ranked within each "
    "example (1 = best), a Friedman test, then paired Wilcoxon tests with Holm's correction; n is about "
    "how many examples an unseparated pair would need for power 0.8 at its observed effect "
    "(level 0.05 / number of pairs)."
)
"""What the verdict lines mean, printed above them."""
BLOCK = ["task", "model", "example_id"]


@dataclass(frozen=True)
class Ranking:
    """One metric's ranking over one scope (a task, or all of a run's tasks)."""

    scope: str
    """'on spam' or 'across 4 tasks', as the verdict reads."""
    metric: str
    values: pd.DataFrame
    """(block x method) metric values, complete; columns best first."""
    average_ranks: pd.Series
    """Method -> average rank over the blocks, best first."""
    friedman_p: float
    """NaN with two methods (no Friedman test)."""
    pvalues: dict[tuple[str, str], float]
    """Holm-adjusted Wilcoxon p per method pair (both orders)."""
    left_out: dict[str, str]
    """Method -> why it is not ranked here."""
    dropped_blocks: int
    unscored_tasks: tuple[str, ...] = ()
    """Tasks of the scope where the metric has no value at all (left out of it)."""

    @property
    def methods(self) -> list[str]:
        return list(self.average_ranks.index)

    @property
    def n(self) -> int:
        return len(self.values)

    def separated(self, a: str, b: str) -> bool:
        """Whether the tests tell a and b apart: the Friedman test rejects (or there is none) and
        the pair's Holm-adjusted p < ALPHA."""
        gate = math.isnan(self.friedman_p) or self.friedman_p < ALPHA
        return gate and self.pvalues[(a, b)] < ALPHA

    @property
    def cliques(self) -> list[list[str]]:
        """Maximal runs (two or more methods, consecutive in average rank) that no test separates."""
        order, runs, furthest = self.methods, [], 0
        for i in range(len(order)):
            j = i
            while j + 1 < len(order) and not any(self.separated(m, order[j + 1]) for m in order[i : j + 1]):
                j += 1
            if j > i and j > furthest:  # runs only grow to the right: a shorter end is inside the last run
                runs.append(order[i : j + 1])
                furthest = j
        return runs


def scopes(records: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(scope, rows): all tasks together when the run has several (task, model) groups, then each
    group ('on spam', or 'on spam / model' when a task was run with several models)."""
    groups = list(records.groupby(["task", "model"], sort=True))
    several_models = records.groupby("task")["model"].nunique().gt(1)
    named = [
        (f"on {task} / {model}" if several_models[task] else f"on {task}", rows)
        for (task, model), rows in groups
    ]
    if len(groups) < 2:
        return named
    tasks = records["task"].nunique()
    across = f"across {tasks} tasks" if tasks == len(groups) else f"across {len(groups)} task/model pairs"
    return [(across, records), *named]


def block_table(rows: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, dict[str, str], int]:
    """(block x method) values of `metric` from error-free record rows, the methods left out (a
    metric tautological for them, or no value on a whole task) and how many blocks were dropped
    because some remaining method has no value there."""
    column = metric_column(metric)
    if column not in rows or rows[column].isna().all():
        raise InputError(f"the records hold no values of {metric}")
    table = rows.pivot(index=BLOCK, columns="method", values=column).astype(float)
    left_out = {m: f"{metric} is tautological for it" for m in tautological_methods(rows, metric)}
    scored = table.notna().groupby(level=["task", "model"]).any().all()
    for method in scored.index[~scored]:
        left_out.setdefault(method, "no value on some task")
    table = table.drop(columns=[m for m in left_out if m in table])
    complete = table.dropna()
    return complete, left_out, len(table) - len(complete)


def average_ranks(table: pd.DataFrame, higher_is_better: bool) -> pd.Series:
    """Mean over the blocks of each method's rank within the block (1 = best, ties averaged),
    best first (equal averages by name)."""
    ranks = table.rank(axis=1, ascending=not higher_is_better, method="average").mean()
    return ranks.sort_index().sort_values(kind="stable")


def friedman_pvalue(table: pd.DataFrame) -> float:
    """scipy's Friedman test over the methods (columns); NaN for two methods, 1 when every block
    ties every method."""
    if table.shape[1] < 3:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        pvalue = friedmanchisquare(*(table[m].to_numpy() for m in table.columns)).pvalue
    return float(pvalue) if np.isfinite(pvalue) else 1.0


def rank_methods(rows: pd.DataFrame, metric: str, scope: str) -> Ranking:
    """The ranking of `metric` over the error-free record `rows` of one scope. Tasks where no
    method has a value (a plausibility metric on a task without rationales) leave the scope, which
    is then named after the tasks that remain."""
    column, unscored = metric_column(metric), ()
    if column in rows:
        defined = rows[column].notna().groupby([rows["task"], rows["model"]]).transform("any")
        if defined.any() and not defined.all():
            unscored = tuple(sorted(set(rows.loc[~defined, "task"])))
            rows = rows[defined]
            scope = scopes(rows)[0][0]
    table, left_out, dropped = block_table(rows, metric)
    if table.shape[1] < 2 or len(table) < 2:
        raise InputError(
            f"{metric} {scope}: {table.shape[1]} methods on {len(table)} complete examples; "
            "ranking needs two of each"
        )
    ranks = average_ranks(table, metric_of(metric).higher_is_better)
    table = table[ranks.index]
    adjusted = compare(table)
    pvalues = adjusted | {(b, a): p for (a, b), p in adjusted.items()}
    return Ranking(scope, metric, table, ranks, friedman_pvalue(table), pvalues, left_out, dropped, unscored)


def headline_metrics(keys: list[str]) -> dict[str, str]:
    """Family -> the one metric key of the run that stands for it (see HEADLINE); cost is not ranked."""
    registered = [k for k in keys if is_registered(k)]
    chosen = {}
    for family in FAMILIES:
        members = [k for k in registered if metric_of(k).family == family]
        if family == "cost" or not members:
            continue
        preferred = [k for k in HEADLINE.get(family, ()) if k in members]
        chosen[family] = (preferred or members)[0]
    return chosen


def _names(methods: list[str]) -> str:
    return methods[0] if len(methods) == 1 else f"{', '.join(methods[:-1])} and {methods[-1]}"


def verdict(ranking: Ranking, family: str) -> str:
    """One line: which methods the tests put on top of this ranking, at p < ALPHA."""
    arrow = "↑" if metric_of(ranking.metric).higher_is_better else "↓"
    head = f"on {family} ({ranking.metric} {arrow}) {ranking.scope} ({ranking.n} examples)"
    order = ranking.methods
    best, rest = order[0], order[1:]
    if not math.isnan(ranking.friedman_p) and ranking.friedman_p >= ALPHA:
        return f"{head}: no method is separated from the others (Friedman p = {ranking.friedman_p:.2g})"
    top = [best] + [m for m in rest if not ranking.separated(best, m)]
    if len(top) == len(order):
        return f"{head}: {best} ranks first, but no method is separated from it at p < {ALPHA}"
    others = [m for m in order if m not in top]
    apart = all(ranking.separated(a, b) for a in top for b in others)
    together = not any(ranking.separated(a, b) for a, b in combinations(top, 2))
    if len(top) == 1:
        return f"{head}: {best} is better than every other method at p < {ALPHA}"
    if apart and together:
        return f"{head}: {_names(top)} are indistinguishable and better than the rest at p < {ALPHA}"
    tied = top[1:]
    if len(others) < len(tied):  # name the shorter list
        return (
            f"{head}: {best} ranks first; it is better than {_names(others)} at p < {ALPHA} and not "
            f"separated from the other {len(tied)}"
        )
    return (
        f"{head}: {best} ranks first; it is not separated from {_names(tied)} and better than the "
        f"other {len(others)} at p < {ALPHA}"
    )


def pairs(ranking: Ranking) -> pd.DataFrame:
    """Per method pair: Holm-adjusted p, whether separated, d_z of the paired differences and the
    examples an unseparated pair would need (`bench.power`) at ALPHA / (number of pairs), the level
    of Holm's first step: enough to separate it whatever the other pairs' p-values are. The
    Wilcoxon test drops zero differences, so d_z is that of the nonzero ones and n is scaled up by
    their share (ties are common on plausibility metrics)."""
    method_pairs = list(combinations(ranking.methods, 2))
    alpha = ALPHA / len(method_pairs)
    rows = []
    for a, b in method_pairs:
        separated = ranking.separated(a, b)
        differences = ranking.values[a].to_numpy() - ranking.values[b].to_numpy()
        nonzero = differences[differences != 0]
        effect = effect_size(nonzero) if len(nonzero) else 0.0
        needed = pairs_needed(effect, alpha) * len(differences) / max(len(nonzero), 1)
        needed = float(math.ceil(needed)) if math.isfinite(needed) else math.inf
        rows.append({"a": a, "b": b, "p_holm": ranking.pvalues[(a, b)], "separated": separated,
                     "effect": effect, "n_needed": float("nan") if separated else needed})  # fmt: skip
    return pd.DataFrame(rows)


def power_line(ranking: Ranking) -> str:
    """'k of m pairs separated; the closest unseparated pairs would need about n = ...'."""
    table = pairs(ranking)
    separated, total = int(table["separated"].sum()), len(table)
    line = f"{separated} of {total} method pairs separated"
    if separated == total:
        return line
    open_pairs = table[~table["separated"] & np.isfinite(table["n_needed"])]
    if open_pairs.empty:
        return f"{line}; the unseparated pairs show no difference on these examples"
    closest = open_pairs.nsmallest(CLOSEST_PAIRS, "n_needed")
    listed = ", ".join(f"{row.n_needed:,.0f} ({row.a} vs {row.b})" for row in closest.itertuples())
    return f"{line}; the closest unseparated pairs would need about n = {listed} examples"


def ranking_lines(records: pd.DataFrame, keys: list[str]) -> list[str]:
    """Per metric family, the verdict and the power line over the whole run (all its tasks)."""
    ok = records[records["error"].isna()] if "error" in records else records
    if ok.empty:
        return []
    scope, rows = scopes(ok)[0]
    lines = []
    for family, metric in headline_metrics(keys).items():
        try:
            ranking = rank_methods(rows, metric, scope)
        except InputError as error:
            lines.append(f"on {family} ({metric}) {scope}: not ranked ({error})")
            continue
        lines.append(f"{verdict(ranking, family)}. {power_line(ranking)}.")
    return lines
