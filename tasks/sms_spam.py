"""`sms_spam`: the UCI SMS Spam Collection (Almeida & Hidalgo 2011), spam vs ham, no rationale.

The collection ships as one file, so train/test is a fixed seeded 80/20 split of its rows
(SPLIT_SEED, independent of the task seed, so every model is tested on the same messages).
Offline: `data=` a TSV/CSV with a header naming a label column (Label/label/v1) and a text column
(SMS/sms/text/message/v2), e.g. `../shared/data/sms_spam/`; default: hub `ucirvine/sms_spam`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.task import register_task
from bench.types import Example
from tasks._classifier import TextClassificationTask
from tasks._sources import find_file, hub_split, parse_label, read_table, seeded_first, seeded_split

HUB_ID = "ucirvine/sms_spam"
FILES = ("SMSSpamCollection.tsv", "SMSSpamCollection.csv", "spam.csv")
LABEL_COLUMNS = ("Label", "label", "v1")
TEXT_COLUMNS = ("SMS", "sms", "text", "message", "v2")
SPLIT_SEED = 0
TEST_FRACTION = 0.2


def _pick(columns: list[str], candidates: tuple[str, ...], path: Path, what: str) -> str:
    for name in candidates:
        if name in columns:
            return name
    raise InputError(f"{path} has no {what} column (looked for {', '.join(candidates)})")


def read_local(data: Path, labels: dict[str, int]) -> list[tuple[str, int]]:
    """(text, label) rows of a local SMS Spam file, in file order."""
    path = find_file(data, FILES, "sms_spam")
    delimiter = "\t" if path.suffix != ".csv" else ","
    rows = read_table(path, delimiter, required=())
    columns = list(rows[0])
    label_column = _pick(columns, LABEL_COLUMNS, path, "label")
    text_column = _pick(columns, TEXT_COLUMNS, path, "text")
    out = []
    for row_number, row in enumerate(rows, start=2):  # line 1 is the header
        text = (row[text_column] or "").strip()
        if not text:
            raise InputError(f"{path} line {row_number}: empty message")
        out.append((text, parse_label(row[label_column], labels, f"{path} line {row_number}")))
    return out


@register_task("sms_spam")
class SmsSpam(TextClassificationTask):
    """UCI SMS Spam Collection, spam vs ham (hub ucirvine/sms_spam or --data TSV/CSV)."""

    name = "sms_spam"
    local_copy = "sms_spam"
    labels = ("ham", "spam")
    training = {"n_train": 1000, "epochs": 2, "max_length": 64}

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if params:
            raise InputError(f"task 'sms_spam' takes no parameters, got {', '.join(sorted(params))}")
        super().__init__(data, seed)

    def _rows(self) -> list[tuple[str, int]]:
        names = {"ham": 0, "spam": 1, "0": 0, "1": 1}
        if self.data is not None:
            return read_local(self.data, names)
        return [(row["sms"].strip(), int(row["label"])) for row in hub_split(HUB_ID, "train")]

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        rows = self._rows()
        splits = seeded_split(len(rows), TEST_FRACTION, SPLIT_SEED)
        if split not in splits:
            raise InputError(f"task 'sms_spam' has splits train, test, not {split!r}")
        chosen = seeded_first(splits[split], n, self.seed)
        return [Example(id=f"sms_spam-{i}", inputs=rows[i][0], target=rows[i][1]) for i in chosen]
