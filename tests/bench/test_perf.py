"""The cost benchmark on tiny models: its rows are real measurements of the right work."""

from bench.perf import atman_grad_agreement, headline_table, text_of_length
from tests.tiny import tiny_bert, tiny_llama


def test_text_of_length_hits_the_requested_token_count():
    model = tiny_bert()
    assert model.encode(text_of_length(model, 12), 0).n_positions == 12
    assert model.encode(text_of_length(model, model.max_length), 0).n_positions == model.max_length


def test_headline_table_on_tiny_models():
    table = headline_table(
        tiny_bert(), tiny_llama(), repeats=1, encoder_tokens=10, prompt_tokens=20, batch_size=4, peers=False
    )
    rows = table.set_index("method")
    assert rows.loc["atman", "forward_passes"] == 11  # n + 1 rows
    assert rows.loc["plain forward (n+1 rows)", "forward_passes"] == 11
    assert (rows.loc["atman-grad", "forward_passes"], rows.loc["atman-grad", "backward_passes"]) == (1, 1)
    assert rows.loc["causal atman prefix reuse", "max abs diff prefix vs naive"] < 1e-5
    assert rows.loc["atman", "x plain batched forward"] > 0
    assert rows.loc["causal atman prefix reuse", "x plain batched forward"] > 0  # each row has its floor
    # the allocator's peak: a backward keeps activations a single no-grad forward frees
    assert rows.loc["atman-grad", "peak MB"] > rows.loc["plain forward (1 row)", "peak MB"] > 0
    assert rows.loc["plain forward (n+1 rows)", "x plain batched peak"] == 1


def test_atman_grad_agreement_is_the_median_spearman_per_task_and_expansion():
    import numpy as np
    from scipy.stats import spearmanr

    import bench
    import tests.bench.fake_task as fake

    rows = atman_grad_agreement(4, {"fake-spam": {}})
    assert [(row["task"], row["expansion"], row["examples"]) for row in rows] == [
        ("fake-spam", "multiplier", 4),
        ("fake-spam", "softmax", 4),
    ]
    model = fake.FakeSpam().default_model()
    for row in rows:
        values = [
            spearmanr(
                bench.explain("atman", model, text, label).scores,
                bench.explain("atman-grad", model, text, label, expansion=row["expansion"]).scores,
            )[0]
            for text, label, _ in fake.TEXTS[:4]
        ]
        assert row["median spearman"] == np.median(values)
