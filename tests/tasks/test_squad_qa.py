import json

import numpy as np
import pytest

import bench
from bench.errors import InputError
from bench.evaluate import candidate_mask
from tasks.squad_qa import SquadQA, make_example
from tests.data import shared_data


@pytest.fixture(scope="module")
def examples():
    return SquadQA(data=shared_data("squad")).examples("test")


def test_reads_all_questions_with_evidence(examples):
    assert len(examples) == 1630
    assert sum(bool(e.meta["evidence"]) for e in examples) == 501


def test_rationale_is_the_gold_answer_inside_the_prompt(examples):
    rows = {}
    with open(shared_data("squad") / "validation.jsonl") as handle:
        for line in handle:
            row = json.loads(line)
            rows[f"squad-{row['id']}"] = row
    for example in examples:
        row = rows[example.id]
        (start, end) = example.rationale[0]
        assert example.inputs[start:end] == row["answers"]["text"][0]
        assert example.target == " " + row["answers"]["text"][0]
        assert example.inputs.startswith("Context: " + row["context"])
        assert example.inputs.endswith(f"\nQuestion: {row['question']}\nAnswer:")
        # the span sits in the context, at the gold offset
        assert start == len("Context: ") + row["answers"]["answer_start"][0]


def test_evidence_spans_are_verbatim(examples):
    with open(shared_data("squad") / "expmrc_evidence.jsonl") as handle:
        evidence = {f"squad-{row['id']}": row["evidences"] for row in map(json.loads, handle)}
    for example in examples:
        texts = [example.inputs[a:b] for a, b in example.meta["evidence"]]
        assert texts == evidence.get(example.id, [])


def test_no_train_split_locally():
    with pytest.raises(InputError, match="dev questions only"):
        SquadQA(data=shared_data("squad")).examples("train")


def test_hub_layout_and_misplaced_answer(monkeypatch):
    row = {"id": "q", "title": "t", "context": "Paris is in France.", "question": "Where is Paris?"}
    row["answers"] = {"text": ["France"], "answer_start": [12]}
    monkeypatch.setattr("tasks.squad_qa.hub_split", lambda hub_id, split: [row])
    (example,) = SquadQA().examples("test")
    assert [example.inputs[a:b] for a, b in example.rationale] == ["France"]
    row["answers"] = {"text": ["France"], "answer_start": [3]}
    with pytest.raises(InputError, match="not at character 3"):
        SquadQA().examples("test")


def test_context_token_set_keeps_only_the_context_tokens(gpt2):
    """A hand-made question: the scaffolding, the question and the special tokens are no candidates."""
    row = {"id": "q", "context": "free cash prize now", "question": "how are you"}
    row["answers"] = {"text": ["cash"], "answer_start": [5]}
    example = make_example(row, [], "hand-made")
    encoded = gpt2.encode(example.inputs, example.target)
    candidates = candidate_mask(encoded, example, "context")
    chosen = [token for token, keep in zip(encoded.tokens, candidates, strict=True) if keep]
    assert chosen == ["free", "cash", "prize", "now"]
    assert candidate_mask(encoded, example, "prompt") is None

    # all positive mass on the question's "how" and one unit on the answer "cash"
    scores = np.zeros(encoded.n_positions)
    scores[encoded.tokens.index("how")] = 3.0
    scores[encoded.tokens.index("cash")] = 1.0
    explanation = bench.Explanation(encoded.tokens, scores, example.target, special_tokens=encoded.special)
    context = bench.evaluate(explanation, gpt2, example, metrics=["map", "mar"])
    prompt = bench.evaluate(explanation, gpt2, example, metrics=["map", "mar"], token_set="prompt")
    assert context == pytest.approx({"map": 1.0, "mar": 1.0})
    assert prompt == pytest.approx({"map": 0.25, "mar": 1 / 3})
