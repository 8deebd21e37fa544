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


def words_with_spans(text):
    return [(m.group(), m.span()) for m in WORD.finditer(text)]


def test_registered_and_sized():
    assert TASKS.get("spam") is Spam
    task = Spam()
    assert len(task.examples("train")) == SPLIT_SIZES["train"]
    assert len(task.examples("test")) == SPLIT_SIZES["test"]
    assert len(task.examples("test", n=7)) == 7
    assert len(task.examples("test", n=10**6)) == SPLIT_SIZES["test"]


def test_deterministic_under_a_seed_and_different_across_seeds():
    first = [(e.inputs, e.target, e.rationale) for e in Spam(seed=3).examples("train", 100)]
    again = [(e.inputs, e.target, e.rationale) for e in Spam(seed=3).examples("train", 100)]
    other = [(e.inputs, e.target, e.rationale) for e in Spam(seed=4).examples("train", 100)]
    assert first == again
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 90


def test_train_and_test_are_different_streams():
    task = Spam()
    train = {e.inputs for e in task.examples("train")}
    test = [e.inputs for e in task.examples("test")]
    assert sum(text in train for text in test) <= 2  # short messages may rarely coincide


def test_rationale_spans_are_exactly_the_cue_words_of_the_label():
    for example in Spam(seed=1).examples("train", 400):
        own, other = set(CUES[example.target]), set(CUES[1 - example.target])
        words = words_with_spans(example.inputs)
        expected = [span for word, span in words if word in own]
        assert sorted(example.rationale) == expected
        assert 1 <= len(expected) <= 2
        assert not any(word in other for word, _ in words)
        assert [example.inputs[a:b] for a, b in example.rationale] == example.meta["cues"]


def test_labels_are_balanced():
    counts = Counter(e.target for e in Spam().examples("train"))
    assert counts[HAM] == counts[SPAM] == SPLIT_SIZES["train"] // 2


def test_distractors_appear_in_both_classes_alike():
    examples = Spam().examples("train")
    for label in (HAM, SPAM):
        texts = [e.inputs for e in examples if e.target == label]
        with_distractor = np.mean([any(w in DISTRACTORS for w in WORD.findall(t)) for t in texts])
        assert 0.5 < with_distractor < 0.8
        seen = {w for t in texts for w in WORD.findall(t) if w in DISTRACTORS}
        assert len(seen) == len(DISTRACTORS)


def test_without_cue_words_the_label_is_unpredictable():
    """Everything but the cues is drawn independently of the label: a bag of words without the
    cues is at chance, with them it is perfect. So the cues are the whole evidence."""
    task = Spam()
    train, test = task.examples("train"), task.examples("test")

    def accuracy(strip_cues):
        def text(e):
            return " ".join(w for w in WORD.findall(e.inputs) if (w not in ALL_CUES) or not strip_cues)

        vectorizer = CountVectorizer(token_pattern=r"[a-z0-9]+", ngram_range=(1, 2))
        features = vectorizer.fit_transform([text(e) for e in train])
        classifier = LogisticRegression(max_iter=2000).fit(features, [e.target for e in train])
        return classifier.score(vectorizer.transform([text(e) for e in test]), [e.target for e in test])

    assert accuracy(strip_cues=True) < 0.6
    assert accuracy(strip_cues=False) == 1.0


def test_marking_the_rarest_word_misses_the_rationale():
    """A 'rare word' detector picks distractors, not cues, in most messages that have them."""
    task = Spam()
    frequency = Counter(w for e in task.examples("train") for w in WORD.findall(e.inputs))
    hits = []
    for example in task.examples("test"):
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
