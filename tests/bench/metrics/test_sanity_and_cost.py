import pytest

import bench
from bench.api import get_method
from bench.evaluate import score_explanation
from bench.metric import FAMILIES
from bench.registry import METRICS


def test_randomization_of_a_weight_blind_method_correlates_fully(bert):
    encoded = bert.encode("free cash call now hello how are you", 1)
    method = get_method("random", seed=4)
    explanation = method.explain(bert, encoded)
    values, _ = score_explanation(explanation, bert, encoded, ["randomization"], method=method)
    assert values["randomization"] == pytest.approx(1.0)


def test_randomization_changes_a_weight_dependent_method(bert):
    encoded = bert.encode("free cash call now hello how are you", 1)
    method = get_method("atman")
    explanation = method.explain(bert, encoded)
    values, _ = score_explanation(explanation, bert, encoded, ["randomization"], method=method)
    assert values["randomization"] < 0.9


def test_cost_metrics_read_the_explanation_cost(bert):
    text = "free cash call now"
    explanation = bench.explain("atman", bert, text, target=1)
    result = bench.evaluate(explanation, bert, text, metrics=["seconds", "forward_passes", "backward_passes"])
    assert result == {
        "seconds": explanation.cost.seconds,
        "forward_passes": explanation.cost.forward_passes,
        "backward_passes": explanation.cost.backward_passes,
    }
    assert result["forward_passes"] == len(explanation.tokens) + 1


def test_every_metric_declares_its_metadata():
    assert FAMILIES == ("faithfulness", "plausibility", "complexity", "robustness", "sanity", "cost")
    assert {metric.family for _, metric in METRICS.items()} == set(FAMILIES)
    for name, metric in METRICS.items():
        assert metric.family in FAMILIES, name
        assert isinstance(metric.higher_is_better, bool), name
        low, high = metric.value_range
        assert low < high, name
