from collections import Counter

import pytest

from bench.errors import InputError
from tasks.sst2 import Sst2
from tests.data import shared_data


@pytest.fixture(scope="module")
def task():
    return Sst2(data=shared_data("sst2"))


def test_reads_the_local_splits(task):
    test = task.examples("test")
    assert len(test) == 872
    assert Counter(e.target for e in test) == {1: 444, 0: 428}
    assert len(task.examples("dev")) == 6735
    by_id = {e.id: e for e in test}
    assert by_id["sst2-test-0"].inputs == "it 's a charming and often affecting journey ."
    assert by_id["sst2-test-0"].target == 1
    assert by_id["sst2-test-1"].inputs == "unflinchingly bleak and desperate"
    assert by_id["sst2-test-1"].target == 0


def test_prefix_of_the_seeded_order(task):
    assert [e.id for e in task.examples("test", n=4)] == [e.id for e in task.examples("test")[:4]]
    assert [e.id for e in Sst2(data=shared_data("sst2"), seed=1).examples("test", n=4)] != [
        e.id for e in task.examples("test", n=4)
    ]


def test_unknown_split_and_label(task, tmp_path):
    with pytest.raises(InputError, match="splits train, dev, test"):
        task.examples("validation")
    (tmp_path / "test.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(InputError, match="test.tsv line 3: unknown label '7'"):
        Sst2(data=tmp_path).examples("test")
