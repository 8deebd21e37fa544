"""`sst2`: Stanford Sentiment Treebank, binary (Socher et al. 2013), no rationale.

Splits follow the local copy (`../shared/data/sst2/`, header `sentence<TAB>label`, 1 = positive):
`train` (phrases), `dev` (held-out phrases) and `test` = the GLUE validation sentences, because
GLUE's own test labels are hidden. From the hub (`stanfordnlp/sst2`, the default) `test` likewise
reads the `validation` split; `dev` exists only locally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.task import register_task
from bench.types import Example
from tasks._classifier import TextClassificationTask
from tasks._sources import find_file, hub_split, parse_label, read_table, seeded_first

HUB_ID = "stanfordnlp/sst2"
LOCAL_FILES = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
HUB_SPLITS = {"train": "train", "test": "validation"}
LABELS = {"0": 0, "1": 1}


@register_task("sst2")
class Sst2(TextClassificationTask):
    """SST-2 sentence sentiment (hub stanfordnlp/sst2 or --data folder of TSVs)."""

    name = "sst2"
    local_copy = "sst2"
    labels = ("negative", "positive")
    training = {"n_train": 10000, "epochs": 1, "max_length": 64}
    """Train phrases are short (13 tokens on average): 10,000 of them once reach 86.0% test accuracy
    (2,000 twice: 81.9%) in about 5 min on 2 CPU cores."""

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if params:
            raise InputError(f"task 'sst2' takes no parameters, got {', '.join(sorted(params))}")
        super().__init__(data, seed)

    def _rows(self, split: str) -> list[tuple[str, int]]:
        if self.data is None:
            if split not in HUB_SPLITS:
                raise InputError(
                    f"task 'sst2' from the hub has splits {', '.join(HUB_SPLITS)}, not {split!r}"
                )
            return [
                (row["sentence"].strip(), int(row["label"])) for row in hub_split(HUB_ID, HUB_SPLITS[split])
            ]
        if split not in LOCAL_FILES:
            raise InputError(f"task 'sst2' has splits {', '.join(LOCAL_FILES)}, not {split!r}")
        path = find_file(self.data, [LOCAL_FILES[split]], "sst2")
        rows = read_table(path, "\t", required=("sentence", "label"))
        return [
            (row["sentence"].strip(), parse_label(row["label"], LABELS, f"{path} line {line}"))
            for line, row in enumerate(rows, start=2)
        ]

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        rows = self._rows(split)
        chosen = seeded_first(range(len(rows)), n, self.seed)
        return [Example(id=f"sst2-{split}-{i}", inputs=rows[i][0], target=rows[i][1]) for i in chosen]
