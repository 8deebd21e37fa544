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


def test_atman_grad_agreement_rows_are_median_spearman_and_top1_per_approximation():
    import numpy as np
    from scipy.stats import spearmanr

    import bench
    import tests.bench.fake_task as fake

    rows = atman_grad_agreement(4, {"fake-spam": {}})
    assert [(row["approximation"], row["reference"]) for row in rows] == [
        ("atman-grad multiplier", "atman f=0.9"),
        ("atman-grad multiplier", "atman f=0.1"),
        ("atman-grad softmax", "atman f=0.9"),
        ("atman-grad softmax", "atman f=0.1"),
        ("atman f=0.1", "atman f=0.9"),
    ]
    model = fake.FakeSpam().default_model()
    texts = fake.TEXTS[:4]

    def scores(method, text, label, f, **params):
        return bench.explain(method, model, text, label, suppression_factor=f, **params).scores

    expected = {}
    for expansion in ("multiplier", "softmax"):
        for f in (0.9, 0.1):
            expected[(f"atman-grad {expansion}", f"atman f={f}")] = [
                (scores("atman", text, label, f), scores("atman-grad", text, label, f, expansion=expansion))
                for text, label, _ in texts
            ]
    expected[("atman f=0.1", "atman f=0.9")] = [
        (scores("atman", text, label, 0.9), scores("atman", text, label, 0.1)) for text, label, _ in texts
    ]
    for row in rows:
        pairs = expected[(row["approximation"], row["reference"])]
        assert row["examples"] == 4
        assert row["median spearman"] == np.median([spearmanr(a, b)[0] for a, b in pairs])
        # ranked positions: the tiny BERT wraps every text in [CLS] ... [SEP]
        inner = [(a[1:-1], b[1:-1]) for a, b in pairs]
        assert row["median spearman ranked"] == np.median([spearmanr(a, b)[0] for a, b in inner])
        assert row["top-1 agreement"] == np.mean([a.argmax() == b.argmax() for a, b in inner])


def test_headline_table_times_atman_in_every_dtype():
    table = headline_table(
        tiny_bert(), tiny_llama(), repeats=1, encoder_tokens=10, prompt_tokens=20, batch_size=4, peers=False
    )
    rows = table.set_index("method")
    assert rows.loc["atman (float32)", "speed-up vs float32"] == 1
    assert rows.loc["atman (mixed)", "speed-up vs float32"] > 0
    assert rows.loc["atman (bfloat16)", "forward_passes"] == 11


def test_precision_agreement_is_the_median_spearman_of_each_dtype_against_float32():
    import numpy as np
    from scipy.stats import spearmanr

    import bench
    import tests.bench.fake_task as fake
    from bench.perf_precision import precision_agreement

    table = precision_agreement({"fake-spam": {}}, 3, methods=("occlusion",)).set_index("dtype")
    assert set(table.index) == {"bfloat16", "mixed"}
    for dtype in ("bfloat16", "mixed"):
        models = fake.FakeSpam().default_model(), fake.FakeSpam().default_model().set_dtype(dtype)
        rhos = []
        for example in fake.FakeSpam().examples("test", 3):
            plain, other = (bench.explain("occlusion", m, example.inputs, example.target) for m in models)
            ranked = ~plain.special_tokens
            rhos.append(spearmanr(plain.scores[ranked], other.scores[ranked]).statistic)
        assert np.isclose(table.loc[dtype, "median spearman vs float32"], np.median(rhos))
        assert table.loc[dtype, "speed-up vs float32"] > 0


def test_screening_table_counts_identical_top_k_sets():
    import numpy as np

    import bench
    import tests.bench.fake_task as fake
    from bench.perf_screening import screening_agreement, top_k_agreement

    assert top_k_agreement(np.array([3.0, 2, 1, 0]), np.array([2.0, 3, 0, 1]), np.ones(4, bool), 2)
    assert not top_k_agreement(np.array([3.0, 2, 1, 0]), np.array([3.0, 0, 2, 1]), np.ones(4, bool), 2)
    row = screening_agreement({"fake-spam": {}}, 3).iloc[0]
    model = fake.FakeSpam().default_model()
    same, aucs = [], []
    for example in fake.FakeSpam().examples("test", 3):
        exact, screened = (
            bench.explain(m, model, example.inputs, example.target) for m in ("atman", "atman-screened")
        )
        k = len(example.rationale)  # one token per rationale word in the tiny vocabulary
        same.append(top_k_agreement(exact.scores, screened.scores, ~exact.special_tokens, k))
        aucs.append(bench.evaluate(screened, model, example, metrics=["deletion"])["deletion"])
    assert row["top-k identical"] == np.mean(same)
    assert np.isclose(row["deletion AUC screened"], np.mean(aucs))
