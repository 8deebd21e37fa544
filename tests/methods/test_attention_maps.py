"""The shared capture behind attention, rollout, GAE and GradCAM: padding, restoring, refusing."""

import numpy as np
import pytest

import bench
import methods._attention_maps as attention_maps
from bench.errors import NotApplicableError
from tests.tiny import tiny_cnn, tiny_image

TEXT_METHODS = ["attention", "rollout", "gae"]
SHORT, LONG = "free cash", "hello how are you see you later at lunch tomorrow"
TARGETS = {"bert": 1, "gpt2": "now", "llama": "call now"}


@pytest.mark.parametrize("method", TEXT_METHODS)
@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_padding_next_to_a_longer_input_changes_no_score(method, name, request):
    model = request.getfixturevalue(name)
    target = TARGETS[name]
    alone = bench.explain(method, model, SHORT, target=target).scores
    padded, long = bench.explain(method, model, [SHORT, LONG], target=target)
    np.testing.assert_allclose(padded.scores, alone, rtol=1e-5, atol=1e-7)
    assert len(long.scores) > len(alone)


@pytest.mark.parametrize("method", [*TEXT_METHODS, "gradcam"])
def test_images_in_a_batch_or_chunked_score_as_alone(method, vit):
    images = [tiny_image(0), tiny_image(1), tiny_image(2)]
    alone = [bench.explain(method, vit, image, target=2).scores for image in images]
    chunked = bench.explain(method, vit, images, target=2, batch_size=2)
    for explanation, expected in zip(chunked, alone, strict=True):
        np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", TEXT_METHODS)
def test_the_models_attention_implementation_is_restored_even_on_error(method, bert, monkeypatch):
    assert bert.hf.config._attn_implementation == "sdpa"
    bench.explain(method, bert, SHORT, target=1)
    assert bert.hf.config._attn_implementation == "sdpa"

    def fail(*args, **kwargs):
        assert bert.hf.config._attn_implementation == "eager"  # the failure happens inside
        raise RuntimeError("boom")

    monkeypatch.setattr(attention_maps, "_forward", fail)
    with pytest.raises(RuntimeError, match="boom"):
        bench.explain(method, bert, SHORT, target=1)
    assert bert.hf.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("method", TEXT_METHODS)
def test_attention_methods_refuse_a_cnn(method):
    with pytest.raises(NotApplicableError, match="CNN has no attention"):
        bench.explain(method, tiny_cnn(), tiny_image(), target=0)
