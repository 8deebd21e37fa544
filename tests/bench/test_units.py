"""Unit maps (token, word, sentence) from real tokenizers, checked against hand-written ones."""

from __future__ import annotations

import numpy as np
import pytest

import bench
from bench.errors import InputError
from bench.evaluate import rationale_mask
from bench.units import Units, sentence_starts, text_units
from tests.tiny import tiny_bert, tiny_image, tiny_vit

TEXT = "Free prizes, call the winners now! Hello you. Reply prix"


@pytest.fixture(scope="module")
def pieces_bert():
    return tiny_bert(pieces=True)


def groups(units: Units, tokens: list[str]) -> list[list[str]]:
    """The tokens of each unit, as a readable nested list."""
    return [[tokens[i] for i in units.positions(u)] for u in range(units.n_units)]


def test_aggregation_of_a_hand_made_map():
    units = Units("word", [0, 1, 3, 4, 7], ["[CLS]", "ab", "c", "def"], [True, False, False, False])
    scores = np.array([0.5, 1.0, -3.0, 2.0, 4.0, -1.0, 0.25])
    np.testing.assert_array_equal(units.aggregate(scores, "sum"), [0.5, -2.0, 2.0, 3.25])
    np.testing.assert_array_equal(units.aggregate(scores, "mean"), [0.5, -1.0, 2.0, 3.25 / 3])
    np.testing.assert_array_equal(units.aggregate(scores, "max"), [0.5, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(units.expand(np.array([[0, 1, 0, 1]])), [[0, 1, 1, 0, 1, 1, 1]])
    np.testing.assert_array_equal(units.any_of(np.array([1, 0, 0, 0, 0, 1, 0])), [0, 0, 0, 1])
    np.testing.assert_array_equal(units.removable, [1, 2, 3])
    with pytest.raises(InputError, match="unit_aggregation='median'"):
        units.aggregate(scores, "median")


def test_token_units_are_the_positions_with_bit_identical_aggregation(pieces_bert):
    encoded = pieces_bert.encode(TEXT)
    units = encoded.units
    assert units.granularity == "token" and units.texts == encoded.tokens
    np.testing.assert_array_equal(units.starts, np.arange(encoded.n_positions + 1))
    scores = np.random.default_rng(0).normal(size=encoded.n_positions)
    scores[3] = -0.0
    for how in ("sum", "mean", "max"):
        aggregated = units.aggregate(scores, how)
        assert aggregated.tobytes() == scores.tobytes()  # the same bits, the sign of zero included


def test_wordpiece_words_follow_the_tokenizers_word_ids(pieces_bert):
    encoded = pieces_bert.encode(TEXT, granularity="word")
    assert groups(encoded.units, encoded.tokens) == [
        ["[CLS]"], ["free"], ["prize", "##s"], [","], ["call"], ["the"], ["win", "##ner", "##s"],
        ["now"], ["!"], ["hello"], ["you"], ["."], ["reply"], ["pri", "##x"], ["[SEP]"],
    ]  # fmt: skip
    assert encoded.units.texts[1:4] == ["Free", "prizes", ","]  # the input's own characters
    assert encoded.units.special.tolist() == [True] + [False] * 13 + [True]


def test_sentences_group_whole_words(pieces_bert):
    encoded = pieces_bert.encode(TEXT, granularity="sentence")
    assert encoded.units.texts == [
        "[CLS]",
        "Free prizes, call the winners now!",
        "Hello you.",
        "Reply prix",
        "[SEP]",
    ]
    assert [len(encoded.units.positions(u)) for u in range(5)] == [1, 11, 3, 3, 1]


def test_sentence_splitting_on_a_hand_made_text():
    text = 'He said "stop." Then left!  Really?\nNew line. e.g. this\n\nEnd'
    starts = sentence_starts(text)
    sentences = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    assert sentences == ['He said "stop."', "Then left!", "Really?", "New line.", "e.g.", "this", "End"]


def byte_level_tokenizer():
    """A GPT-2 style byte-level BPE tokenizer trained in memory on two lines (offline)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    corpus = ["free prizes call the winners now", "hello you reply"]
    bpe.train_from_iterator(corpus, vocab_size=280, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)


def units_of(tokenizer, text: str, granularity: str, word_ids: bool = True) -> tuple[Units, list[str]]:
    encoding = tokenizer(text, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    special = np.zeros(len(tokens), dtype=bool)
    ids = encoding.word_ids() if word_ids else None
    return text_units(granularity, tokens, special, text, encoding["offset_mapping"], ids), tokens


@pytest.mark.parametrize("word_ids", [True, False])
def test_byte_level_bpe_words_from_offsets_and_whitespace(word_ids):
    """The space lives inside byte-level tokens (Ġ): words start where whitespace does, with or
    without the tokenizer's word ids (which also split punctuation off)."""
    text = "Free prizes, call winners now!  Year 2023. Hello you"
    units, tokens = units_of(byte_level_tokenizer(), text, "word", word_ids)
    by_whitespace = ["Free", "prizes,", "call", "winners", "now!", " ", "Year", "2023.", "Hello", "you"]
    punctuation_apart = [
        "Free", "prizes", ",", "call", "winners", "now", "!", " ", "Year", "2023", ".", "Hello", "you",
    ]  # fmt: skip
    assert units.texts == (punctuation_apart if word_ids else by_whitespace)
    assert groups(units, tokens)[units.texts.index("winners")] == ["Ġ", "win", "ner", "s"]
    sentences, _ = units_of(byte_level_tokenizer(), text, "sentence", word_ids)
    assert sentences.texts == ["Free prizes, call winners now!", "Year 2023.", "Hello you"]


def test_smollm2_tokenizer_words_when_available_offline():
    from bench.defaults import CAUSAL_LM, cache_dir

    folder = cache_dir() / "base" / CAUSAL_LM
    if not (folder / "tokenizer.json").exists():
        pytest.skip("the SmolLM2 tokenizer is not converted in the local cache")
    from transformers import AutoTokenizer

    units, _ = units_of(
        AutoTokenizer.from_pretrained(folder), "Hello, world! The year 2023 was unbelievable", "word"
    )
    assert units.texts == ["Hello", ",", "world", "!", "The", "year", "2023", "was", "unbelievable"]


def test_a_tokenizer_without_word_ids_or_offsets_is_refused_in_one_line():
    with pytest.raises(InputError, match="needs word ids or character offsets"):
        text_units("word", ["a", "b"], np.zeros(2, dtype=bool), "a b", None, None)
    with pytest.raises(InputError, match="granularity='sentence' needs character offsets"):
        text_units("sentence", ["a", "b"], np.zeros(2, dtype=bool), "a b", None, [0, 1])
    with pytest.raises(InputError, match="granularity='phrase' is not one of token, word, sentence"):
        text_units("phrase", ["a"], np.zeros(1, dtype=bool), "a", [(0, 1)], [0])


def test_images_explain_patches_only():
    vit = tiny_vit()
    assert vit.encode(tiny_image(), granularity="token").units.n_units == 17
    with pytest.raises(InputError, match="images explain patches"):
        vit.encode(tiny_image(), granularity="word")


def test_a_word_is_in_the_rationale_when_any_of_its_tokens_is(pieces_bert):
    encoded = pieces_bert.encode(TEXT, granularity="word")
    start = TEXT.index("winners") + 4  # "ners": the second and third tokens of "winners" only
    mask = rationale_mask(encoded, [(start, start + 3), (0, 2)])
    assert [encoded.units.texts[u] for u in np.flatnonzero(mask)] == ["Free", "winners"]
    token_mask = np.zeros(encoded.n_positions, dtype=int)
    token_mask[[0, 3]] = 1  # [CLS] (special: never in a rationale) and "##s" of "prizes"
    assert [encoded.units.texts[u] for u in np.flatnonzero(rationale_mask(encoded, token_mask))] == ["prizes"]


def test_explanations_carry_the_units_texts(pieces_bert):
    explanation = bench.explain("random", pieces_bert, TEXT, granularity="word")
    assert explanation.granularity == "word" and explanation.tokens[6] == "winners"
    assert len(explanation.scores) == 15 and explanation.special_tokens.sum() == 2


def test_a_python_tokenizer_explains_tokens_and_refuses_words_in_one_line():
    from transformers import CanineTokenizer

    model = bench.wrap(tiny_bert().hf, CanineTokenizer())  # characters, no offsets, no word ids
    assert model.encode("ab c", 1).units.texts[1:-1] == ["a", "b", " ", "c"]
    with pytest.raises(InputError, match="granularity='word' needs word ids or character offsets"):
        model.encode("ab c", 1, granularity="word")
