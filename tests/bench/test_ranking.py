"""Average ranks, Friedman, Wilcoxon-Holm cliques, verdicts and power lines on hand-made records."""

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, friedmanchisquare, wilcoxon

from bench.errors import InputError
from bench.power import pairs_needed
from bench.ranking import (
    Ranking,
    average_ranks,
    block_table,
    friedman_pvalue,
    headline_metrics,
    pairs,
    power_line,
    rank_methods,
    ranking_lines,
    scopes,
    verdict,
)
from bench.stats import holm
from tests.bench.report.finished_runs import multi_task_records


def records(values: dict[str, list[float]], tasks=("t",), metric="comprehensiveness") -> pd.DataFrame:
    """One row per (task, example, method); every task gets the same values and example ids."""
    rows = [
        {"task": task, "model": "m", "method": method, "example_id": f"e{i}", "error": None,
         f"metric_{metric}": value}
        for task in tasks
        for method, column in values.items()
        for i, value in enumerate(column)
    ]  # fmt: skip
    return pd.DataFrame(rows)


# 4 blocks x 3 methods with ties; higher is better. Ranks per block, by hand:
#   e0: a 1, b 2, c 3   e1: c 1, a 2.5, b 2.5   e2: a 1, b 2.5, c 2.5   e3: b 1, c 2, a 3
SMALL = {"a": [0.9, 0.4, 0.7, 0.1], "b": [0.5, 0.4, 0.2, 0.6], "c": [0.1, 0.8, 0.2, 0.3]}


def test_average_ranks_by_hand_in_both_directions():
    table, _, _ = block_table(records(SMALL), "comprehensiveness")
    higher = average_ranks(table, higher_is_better=True)
    assert higher.to_dict() == {"a": 7.5 / 4, "b": 8 / 4, "c": 8.5 / 4}
    assert list(higher.index) == ["a", "b", "c"]
    lower = average_ranks(table, higher_is_better=False)  # rank r becomes 4 - r
    assert lower.to_dict() == {"c": 7.5 / 4, "b": 8 / 4, "a": 8.5 / 4}
    assert list(lower.index) == ["c", "b", "a"]


def test_friedman_matches_scipy_on_the_matrix_typed_by_hand():
    table, _, _ = block_table(records(SMALL), "comprehensiveness")
    expected = friedmanchisquare([0.9, 0.4, 0.7, 0.1], [0.5, 0.4, 0.2, 0.6], [0.1, 0.8, 0.2, 0.3]).pvalue
    assert friedman_pvalue(table) == pytest.approx(expected)


def test_friedman_without_ties_matches_the_textbook_statistic():
    # 5 blocks, 4 methods, no ties: chi2_F = 12 / (n k (k + 1)) sum R_j^2 - 3 n (k + 1)
    rng = np.random.default_rng(3)
    values = {
        m: list(rng.uniform(size=5) + shift) for m, shift in zip("wxyz", (0, 0.2, 0.4, 0.6), strict=True)
    }
    table, _, _ = block_table(records(values), "comprehensiveness")
    rank_sums = table.rank(axis=1).sum().to_numpy()
    n, k = 5, 4
    statistic = 12 / (n * k * (k + 1)) * np.sum(rank_sums**2) - 3 * n * (k + 1)
    assert friedman_pvalue(table) == pytest.approx(chi2.sf(statistic, k - 1))


def test_friedman_is_1_when_every_method_ties_and_nan_for_two_methods():
    tie = {m: [0.5] * 6 for m in "abc"}
    assert friedman_pvalue(block_table(records(tie), "comprehensiveness")[0]) == 1.0
    assert math.isnan(
        friedman_pvalue(block_table(records({"a": [1, 2], "b": [2, 3]}), "comprehensiveness")[0])
    )


def test_pairwise_p_values_are_holm_adjusted_wilcoxon_like_bench_stats():
    rng = np.random.default_rng(1)
    values = {
        m: list(rng.normal(shift, 1.0, size=15)) for m, shift in zip("abcd", (0, 0.3, 0.8, 1.5), strict=True)
    }
    ranking = rank_methods(records(values), "comprehensiveness", "on t")
    pairs_ = list(combinations(ranking.methods, 2))
    raw = [wilcoxon(np.array(values[a]), np.array(values[b])).pvalue for a, b in pairs_]
    for (a, b), p in zip(pairs_, holm(raw), strict=True):
        assert ranking.pvalues[(a, b)] == ranking.pvalues[(b, a)] == pytest.approx(p)


def separated_table(tasks=("t",), n=12) -> pd.DataFrame:
    """best >> twin-a == twin-b >> worst on every example (small noise keeps the order)."""
    noise = np.linspace(0, 0.05, n)
    twins = list(0.5 + noise[::-1])
    return records(
        {"best": list(0.9 + noise), "twin-a": twins, "twin-b": twins, "worst": list(0.1 + noise)}, tasks
    )


def test_cliques_join_identical_methods_and_separate_clear_differences():
    ranking = rank_methods(separated_table(), "comprehensiveness", "on t")
    assert ranking.average_ranks.to_dict() == {"best": 1.0, "twin-a": 2.5, "twin-b": 2.5, "worst": 4.0}
    assert ranking.cliques == [["twin-a", "twin-b"]]
    assert ranking.separated("best", "twin-a") and ranking.separated("twin-b", "worst")
    assert not ranking.separated("twin-a", "twin-b")
    line = verdict(ranking, "faithfulness")
    assert line == (
        "on faithfulness (comprehensiveness ↑) on t (12 examples): best is better than every other "
        "method at p < 0.05"
    )
    assert (
        power_line(ranking)
        == "5 of 6 method pairs separated; the unseparated pairs show no difference on these examples"
    )


def test_close_methods_form_one_clique_above_a_separated_one():
    # a ~ b ~ c close together, then d far below: on 10 examples no close pair is separated and
    # d is separated from all (its p = 2 / 2**10, times at most 6)
    rng = np.random.default_rng(5)
    close = {m: list(0.5 + rng.normal(0, 0.1, size=10)) for m in "abc"}
    ranking = rank_methods(records({**close, "d": [0.0] * 10}), "comprehensiveness", "on t")
    assert ranking.methods[-1] == "d"
    assert ranking.cliques == [ranking.methods[:3]]
    assert verdict(ranking, "faithfulness").endswith(
        f"{ranking.methods[0]}, {ranking.methods[1]} and {ranking.methods[2]} are indistinguishable and "
        "better than the rest at p < 0.05"
    )


def made_up_ranking(not_separated: set[str]) -> Ranking:
    """Methods a..e in rank order; the pairs named (as 'ab') are the only ones not separated."""
    methods = list("abcde")
    pvalues = {}
    for a, b in combinations(methods, 2):
        pvalues[(a, b)] = pvalues[(b, a)] = 0.5 if a + b in not_separated else 0.001
    values = pd.DataFrame({m: [float(i)] * 3 for i, m in enumerate(methods)})
    ranks = pd.Series({m: float(i + 1) for i, m in enumerate(methods)})
    return Ranking("on t", "comprehensiveness", values, ranks, 0.001, pvalues, {}, 0)


def test_cliques_are_the_longest_runs_consecutive_in_rank_and_may_overlap():
    assert made_up_ranking({"ab", "bc", "cd"}).cliques == [list("ab"), list("bc"), list("cd")]
    assert made_up_ranking({"ab", "ac", "bc", "cd"}).cliques == [list("abc"), list("cd")]
    # a and c are not separated, but b between them is separated from both: no bar may cross b
    assert made_up_ranking({"ac"}).cliques == []
    assert made_up_ranking({"ab", "ac", "ad", "ae", "bc", "bd", "be", "cd", "ce", "de"}).cliques == [
        list("abcde")
    ]


def test_verdicts_name_the_shorter_list_when_the_top_is_no_clean_group():
    # a is tied with b, b with c; a is separated from c, d, e
    assert verdict(made_up_ranking({"ab", "bc"}), "faithfulness").endswith(
        "a ranks first; it is not separated from b and better than the other 3 at p < 0.05"
    )
    # a, b, c, d are tied with each other, but b also with e: no clean top group; a beats e only
    assert verdict(made_up_ranking({"ab", "ac", "ad", "bc", "bd", "cd", "be"}), "faithfulness").endswith(
        "a ranks first; it is better than e at p < 0.05 and not separated from the other 3"
    )
    everything = {a + b for a, b in combinations("abcde", 2)}
    assert verdict(made_up_ranking(everything), "faithfulness").endswith(
        "a ranks first, but no method is separated from it at p < 0.05"
    )


def test_nothing_is_separated_when_friedman_does_not_reject():
    rng = np.random.default_rng(2)
    values = {m: list(rng.normal(size=10)) for m in "abc"}
    ranking = rank_methods(records(values), "comprehensiveness", "on t")
    assert ranking.friedman_p >= 0.05
    assert ranking.cliques == [ranking.methods]
    assert "no method is separated from the others (Friedman p = " in verdict(ranking, "faithfulness")
    assert power_line(ranking).startswith(
        "0 of 3 method pairs separated; the closest unseparated pairs would need"
    )


def test_power_line_names_the_closest_pairs_with_the_n_bench_power_gives():
    rng = np.random.default_rng(4)
    base = rng.uniform(size=20)
    values = {"a": list(base + 2), "b": list(base + rng.normal(0.3, 1.0, size=20)), "c": list(base)}
    ranking = rank_methods(records(values), "comprehensiveness", "on t")
    table = pairs(ranking)
    open_pair = table[~table["separated"]].iloc[0]
    differences = np.array(values[open_pair["a"]]) - np.array(values[open_pair["b"]])
    effect = abs(differences.mean()) / differences.std(ddof=1)
    expected = pairs_needed(effect, 0.05 / 3)
    assert open_pair["n_needed"] == expected
    assert power_line(ranking) == (
        f"{int(table['separated'].sum())} of 3 method pairs separated; the closest unseparated pairs "
        f"would need about n = {expected:,.0f} ({open_pair['a']} vs {open_pair['b']}) examples"
    )


def test_zero_differences_scale_the_n_needed_by_the_share_of_nonzero_ones():
    # half the examples tie exactly: the Wilcoxon test drops them, so twice the examples are needed
    rng = np.random.default_rng(6)
    moved = rng.normal(0.2, 1.0, size=10)
    a = list(np.r_[np.zeros(10), moved])
    values = {"a": a, "b": [0.0] * 20, "c": list(np.full(20, 5.0))}
    table = pairs(rank_methods(records(values), "comprehensiveness", "on t"))
    row = table[(table["a"] == "a") & (table["b"] == "b") | (table["a"] == "b") & (table["b"] == "a")].iloc[0]
    effect = abs(moved.mean()) / moved.std(ddof=1)
    assert row["n_needed"] == math.ceil(pairs_needed(effect, 0.05 / 3) * 2)


def test_across_tasks_every_task_example_is_a_block():
    rows = separated_table(tasks=("t1", "t2"), n=5)  # the same example ids in both tasks
    (across, all_rows), (first, _), (second, _) = scopes(rows)
    assert (across, first, second) == ("across 2 tasks", "on t1", "on t2")
    ranking = rank_methods(all_rows, "comprehensiveness", across)
    assert ranking.n == 10
    # 5 examples: the smallest two-sided p is 2 / 2**5 = 0.0625, so one task alone separates nothing
    per_task = rank_methods(rows[rows["task"] == "t1"], "comprehensiveness", "on t1")
    assert not per_task.separated("best", "worst") and ranking.separated("best", "worst")


def test_methods_missing_a_task_or_tautological_are_left_out_and_incomplete_blocks_dropped():
    rows = separated_table(tasks=("t1", "t2"), n=6)
    rows = rows[~((rows["method"] == "worst") & (rows["task"] == "t2"))].copy()
    rows.loc[(rows["method"] == "best") & (rows["task"] == "t1") & (rows["example_id"] == "e0"),
             "metric_comprehensiveness"] = np.nan  # fmt: skip
    rows["tautological"] = [["comprehensiveness"] if m == "twin-b" else None for m in rows["method"]]
    table, left_out, dropped = block_table(rows, "comprehensiveness")
    assert left_out == {
        "twin-b": "comprehensiveness is tautological for it",
        "worst": "no value on some task",
    }
    assert list(table.columns) == ["best", "twin-a"] and dropped == 1 and len(table) == 11


def test_a_task_without_values_of_the_metric_leaves_the_scope():
    rows = separated_table(tasks=("t1", "t2", "t3"), n=6)
    rows.loc[rows["task"] == "t2", "metric_comprehensiveness"] = np.nan  # e.g. no rationales there
    ranking = rank_methods(rows, "comprehensiveness", "across 3 tasks")
    assert (ranking.scope, ranking.unscored_tasks, ranking.n, ranking.left_out) == (
        "across 2 tasks",
        ("t2",),
        12,
        {},
    )
    only_one = rows[rows["task"] != "t3"]
    assert rank_methods(only_one, "comprehensiveness", "across 2 tasks").scope == "on t1"


def test_too_little_to_rank_and_an_unrecorded_metric_are_input_errors():
    with pytest.raises(InputError, match="ranking needs two of each"):
        rank_methods(records({"a": [0.1, 0.2]}), "comprehensiveness", "on t")
    with pytest.raises(InputError, match="no values of deletion"):
        rank_methods(records(SMALL), "deletion", "on t")


def test_headline_metrics_prefer_the_listed_metric_then_the_familys_first_and_skip_cost():
    keys = ["aopc", "comprehensiveness", "deletion", "mar", "map", "complexity", "seconds", "gone"]
    assert headline_metrics(keys) == {"faithfulness": "comprehensiveness", "plausibility": "map",
                                      "complexity": "complexity"}  # fmt: skip
    assert headline_metrics(["aopc", "mar"]) == {"faithfulness": "aopc", "plausibility": "mar"}


def test_ranking_lines_of_a_suite_rank_across_its_tasks():
    lines = ranking_lines(multi_task_records(), ["comprehensiveness", "deletion", "map"])
    assert len(lines) == 2  # faithfulness (comprehensiveness) and plausibility (map)
    assert lines[0].startswith(
        "on faithfulness (comprehensiveness ↑) across 2 tasks (10 examples): atman and gae are "
        "indistinguishable and better than the rest at p < 0.05. 2 of 3 method pairs separated"
    )
    assert lines[1].startswith("on plausibility (map ↑) across 2 tasks (10 examples): ")
