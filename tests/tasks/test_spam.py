import re
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from bench.errors import InputError
from bench.registry import TASKS
from tasks.spam import CUES, DISTRACTORS, HAM, SPAM, SPLIT_SIZES, Spam

WORD = re.compile(r"[a-z0-9]+")
ALL_CUES = set(CUES[HAM]) | set(CUES[SPAM])


@pytest.fixture(scope="module")
def train():
    return Spam().examples("train")


@pytest.fixture(scope="module")
def test():
    return Spam().examples("test")


def words_with_spans(text):
    return [(m.group(), m.span()) for m in WORD.finditer(text)]


def test_registered_and_sized(train, test):
    assert TASKS.get("spam") is Spam
    task = Spam()
    assert len(train) == SPLIT_SIZES["train"]
    assert len(test) == SPLIT_SIZES["test"]
    assert [e.inputs for e in task.examples("test", n=7)] == [e.inputs for e in test[:7]]
    assert len(task.examples("test", n=10**6)) == SPLIT_SIZES["test"]


def test_deterministic_under_a_seed_and_different_across_seeds():
    first = [(e.inputs, e.target, e.rationale) for e in Spam(seed=3).examples("train", 100)]
    again = [(e.inputs, e.target, e.rationale) for e in Spam(seed=3).examples("train", 100)]
    other = [(e.inputs, e.target, e.rationale) for e in Spam(seed=4).examples("train", 100)]
    assert first == again
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 90


def test_train_and_test_are_different_streams(train, test):
    train_texts = {e.inputs for e in train}
    assert sum(e.inputs in train_texts for e in test) <= 2  # short messages may rarely coincide


def test_rationale_spans_are_exactly_the_cue_words_of_the_label():
    for example in Spam(seed=1).examples("train", 400):
        own, other = set(CUES[example.target]), set(CUES[1 - example.target])
        words = words_with_spans(example.inputs)
        expected = [span for word, span in words if word in own]
        assert sorted(example.rationale) == expected
        assert 1 <= len(expected) <= 2
        assert not any(word in other for word, _ in words)
        assert [example.inputs[a:b] for a, b in example.rationale] == example.meta["cues"]


def test_labels_are_balanced(train):
    counts = Counter(e.target for e in train)
    assert counts[HAM] == counts[SPAM] == SPLIT_SIZES["train"] // 2


def test_distractors_appear_in_both_classes_alike(train):
    for label in (HAM, SPAM):
        texts = [e.inputs for e in train if e.target == label]
        with_distractor = np.mean([any(w in DISTRACTORS for w in WORD.findall(t)) for t in texts])
        assert 0.5 < with_distractor < 0.8
        seen = {w for t in texts for w in WORD.findall(t) if w in DISTRACTORS}
        assert len(seen) == len(DISTRACTORS)


def test_without_cue_words_the_label_is_unpredictable(train, test):
    """Everything but the cues is drawn independently of the label: a bag of words without the
    cues is at chance, with them it is perfect. So the cues are the whole evidence."""

    def accuracy(strip_cues):
        def text(e):
            return " ".join(w for w in WORD.findall(e.inputs) if (w not in ALL_CUES) or not strip_cues)

        vectorizer = CountVectorizer(token_pattern=r"[a-z0-9]+", ngram_range=(1, 2))
        features = vectorizer.fit_transform([text(e) for e in train])
        classifier = LogisticRegression(max_iter=2000).fit(features, [e.target for e in train])
        return classifier.score(vectorizer.transform([text(e) for e in test]), [e.target for e in test])

    assert accuracy(strip_cues=True) < 0.6
    assert accuracy(strip_cues=False) == 1.0


def test_marking_the_rarest_word_misses_the_rationale(train, test):
    """A 'rare word' detector picks distractors, not cues, in most messages that have them."""
    frequency = Counter(w for e in train for w in WORD.findall(e.inputs))
    hits = []
    for example in test:
        words = words_with_spans(example.inputs)
        if not any(w in DISTRACTORS or w not in frequency for w, _ in words):
            continue
        _, span = min(words, key=lambda item: frequency[item[0]])
        hits.append(span in example.rationale)
    assert len(hits) > 200
    assert np.mean(hits) < 0.1


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="no data path"):
        Spam(data="somewhere")
    with pytest.raises(InputError, match="no parameters"):
        Spam(difficulty=3)
    with pytest.raises(InputError, match="splits"):
        Spam().examples("validation")


@pytest.mark.slow
def test_default_minilm_is_accurate_and_attends_to_the_cues():
    """Trains all-MiniLM-L6-v2 on spam once (a few minutes on 2 cores; cached after), then checks
    the stored accuracy against a recount and that AtMan's top token is a planted cue."""
    import bench
    from bench.defaults import ENCODER, trained_model_dir
    from bench.training import read_metadata

    task = Spam()
    model = task.default_model()
    metadata = read_metadata(trained_model_dir("spam", ENCODER, 0))
    assert metadata["test_accuracy"] >= 0.95 and metadata["n_test"] == SPLIT_SIZES["test"]
    test = task.examples("test", 100)
    correct = [model.predict(model.encode(e.inputs, 0).input_ids) == e.target for e in test]
    assert np.mean(correct) >= 0.95
    hits = []
    for example in test[:10]:
        explanation = bench.explain("atman", model, example.inputs, target=example.target)
        mask = model.encode(example.inputs, example.target).token_mask(example.rationale)
        scores = np.where(explanation.special_tokens, -np.inf, explanation.scores)
        hits.append(bool(mask[int(np.argmax(scores))]))
    assert np.mean(hits) >= 0.7
