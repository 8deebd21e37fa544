from bench.executors import _by_example
from bench.run_config import RunConfig
from bench.runner import Shard


def test_jobs_are_one_example_with_every_method_in_the_runs_order():
    spam, sst2 = RunConfig(task="spam"), RunConfig(task="sst2")
    shards = [
        Shard(spam, "atman", ("a", "b")),
        Shard(spam, "atman", ("c",)),
        Shard(spam, "lime", ("a", "b", "c")),
        Shard(sst2, "atman", ("a",)),
    ]
    jobs = [[(s.config.task, s.method, s.example_ids) for s in job] for job in _by_example(shards)]
    assert jobs == [
        [("spam", "atman", ("a",)), ("spam", "lime", ("a",))],
        [("spam", "atman", ("b",)), ("spam", "lime", ("b",))],
        [("spam", "atman", ("c",)), ("spam", "lime", ("c",))],
        [("sst2", "atman", ("a",))],
    ]
