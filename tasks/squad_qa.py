"""`squad_qa`: the AtMan paper's text protocol on SQuAD v1.1 (Rajpurkar et al. 2016).

A causal LM reads "Context: ...\\nQuestion: ...\\nAnswer:" and the explained target is the gold
answer (the first one listed), scored with teacher forcing. The ground-truth explanation is the
answer's span in the context, shifted into the prompt: an explanation should point at the words
the answer is copied from. The candidates (`Example.candidates`) are the context's span: the
prompt's scaffolding ("Context:", "Question:", "Answer:"), the question and the attention-sink
first token cannot hold the answer, so plausibility metrics under the `context` token set score
only the context's tokens. Where ExpMRC evidence sentences exist, their prompt spans are kept in
`meta["evidence"]` (a wider, human-chosen rationale).

Offline: `data=` the folder `../shared/data/squad/` (`validation.jsonl`, optional
`expmrc_evidence.jsonl`); it holds SQuAD dev questions only, read as the `test` split.
Default: hub `rajpurkar/squad` (`test` = its validation split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.defaults import load_causal_lm
from bench.errors import InputError
from bench.models import Model
from bench.task import Task, register_task
from bench.types import Example
from tasks._sources import find_file, hub_split, read_jsonl, seeded_first

HUB_ID = "rajpurkar/squad"
HUB_SPLITS = {"train": "train", "test": "validation"}
QUESTIONS = "validation.jsonl"
EVIDENCE = "expmrc_evidence.jsonl"
CONTEXT_PREFIX = "Context: "
PROMPT = CONTEXT_PREFIX + "{context}\nQuestion: {question}\nAnswer:"


def make_example(row: dict[str, Any], evidence: list[str], where: str) -> Example:
    """One question as an Example; checks the answer really sits at its offset in the context."""
    context, answers = row["context"], row["answers"]
    if not answers["text"]:
        raise InputError(f"{where}: question {row['id']} has no answer")
    answer, start = answers["text"][0], answers["answer_start"][0]
    if context[start : start + len(answer)] != answer:
        raise InputError(f"{where}: answer {answer!r} is not at character {start} of the context")
    offset = len(CONTEXT_PREFIX)
    evidence_spans = []
    for sentence in evidence:
        found = context.find(sentence)
        if found >= 0:
            evidence_spans.append((offset + found, offset + found + len(sentence)))
    return Example(
        id=f"squad-{row['id']}",
        inputs=PROMPT.format(context=context, question=row["question"]),
        target=" " + answer,
        rationale=[(offset + start, offset + start + len(answer))],
        candidates=[(offset, offset + len(context))],
        meta={"answers": list(answers["text"]), "evidence": evidence_spans, "title": row.get("title", "")},
    )


@register_task("squad_qa")
class SquadQA(Task):
    """SQuAD v1.1 answers from a causal LM, rationale = the answer span in the context."""

    name = "squad_qa"
    local_copy = "squad"
    model_kind = "causal-lm"
    has_rationale = True

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if params:
            raise InputError(f"task 'squad_qa' takes no parameters, got {', '.join(sorted(params))}")
        super().__init__(data, seed)

    def _examples(self, split: str) -> list[Example]:
        if split not in HUB_SPLITS:
            raise InputError(f"task 'squad_qa' has splits {', '.join(HUB_SPLITS)}, not {split!r}")
        if self.data is None:
            return [make_example(row, [], row["id"]) for row in hub_split(HUB_ID, HUB_SPLITS[split])]
        if split != "test":
            raise InputError("the local SQuAD copy holds dev questions only: use split 'test'")
        path = find_file(self.data, [QUESTIONS], "squad_qa")
        evidence: dict[str, list[str]] = {}
        if path.with_name(EVIDENCE).is_file():
            rows = read_jsonl(path.with_name(EVIDENCE), required=("id", "evidences"))
            evidence = {row["id"]: row["evidences"] for row in rows}
        rows = read_jsonl(path, required=("id", "context", "question", "answers"))
        return [
            make_example(row, evidence.get(row["id"], []), f"{path} line {line}")
            for line, row in enumerate(rows, start=1)
        ]

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        return seeded_first(self._examples(split), n, self.seed)

    def default_model(self) -> Model:
        """SmolLM2-135M-Instruct, converted once from the bundled GGUF to the cache."""
        return load_causal_lm()
