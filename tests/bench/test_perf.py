"""The cost benchmark on tiny models: its rows are real measurements of the right work."""

from bench.perf import headline_table, text_of_length
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
