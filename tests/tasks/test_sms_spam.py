from collections import Counter

import pytest

from bench.errors import InputError
from tasks.sms_spam import SmsSpam
from tests.data import shared_data


@pytest.fixture(scope="module")
def task():
    return SmsSpam(data=shared_data("sms_spam"))


def test_reads_the_whole_collection_with_its_labels(task):
    train, test = task.examples("train"), task.examples("test")
    assert (len(train), len(test)) == (4459, 1115)
    assert Counter(e.target for e in train + test) == {0: 4827, 1: 747}
    assert not {e.id for e in train} & {e.id for e in test}
    by_id = {e.id: e for e in train + test}
    # rows 0 and 2 of SMSSpamCollection.tsv (after the header)
    assert by_id["sms_spam-0"].inputs.startswith("Go until jurong point, crazy..")
    assert by_id["sms_spam-0"].target == 0
    assert by_id["sms_spam-2"].inputs.startswith("Free entry in 2 a wkly comp to win FA Cup final tkts")
    assert by_id["sms_spam-2"].target == 1


def test_split_is_fixed_and_the_seed_only_orders_it(task):
    other = SmsSpam(data=shared_data("sms_spam"), seed=1)
    ids = [e.id for e in task.examples("test")]
    other_ids = [e.id for e in other.examples("test")]
    assert set(ids) == set(other_ids) and ids != other_ids
    assert [e.id for e in task.examples("test", n=5)] == ids[:5]


def test_bad_files_name_the_file_and_row(tmp_path):
    missing = tmp_path / "missing.tsv"
    missing.write_text("Label\tBody\nham\thello\n")
    with pytest.raises(InputError, match="missing.tsv has no text column"):
        SmsSpam(data=missing).examples()
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("Label\tSMS\nham\thello\neggs\tworld\n")
    with pytest.raises(InputError, match="unknown.tsv line 3: unknown label 'eggs'"):
        SmsSpam(data=unknown).examples()
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.tsv is empty"):
        SmsSpam(data=empty).examples()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SmsSpam(data=tmp_path / "nowhere").examples()


def test_hub_layout(monkeypatch):
    rows = [{"sms": f"message {i}\n", "label": i % 2} for i in range(10)]
    monkeypatch.setattr("tasks.sms_spam.hub_split", lambda hub_id, split: rows)
    test = SmsSpam().examples("test")
    assert len(test) == 2 and all(e.inputs == f"message {e.id.split('-')[1]}" for e in test)
    assert all(e.target == int(e.id.split("-")[1]) % 2 for e in test)
