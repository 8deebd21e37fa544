"""Executors run a run's shards: `local` in this process, one after the other, or `ray`
across a Ray cluster (`pip install xai-bench[ray]`), one Ray task per shard with the run's CPU
and GPU requests. Either way the driver writes every finished shard's rows, so part files are
only ever written by one process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.errors import InputError

OnRow = Callable[[dict], None]
OnShard = Callable[[Any, list[dict], bool], None]
"""Called with (shard, rows, whether on_row already saw each row)."""


class LocalExecutor:
    def map(self, shards: Sequence[Any], on_row: OnRow, on_shard: OnShard) -> None:
        from bench.runner import run_shard

        for shard in shards:
            on_shard(shard, run_shard(shard, on_row), True)


class RayExecutor:
    def __init__(self, address: str | None, cpus: float, gpus: float) -> None:
        self.address = address
        self.cpus = cpus
        self.gpus = gpus

    def map(self, shards: Sequence[Any], on_row: OnRow, on_shard: OnShard) -> None:
        try:
            import ray
        except ImportError as error:
            raise InputError("the ray executor needs Ray: pip install 'xai-bench[ray]'") from error
        from bench.runner import run_shard

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus)(run_shard)
        pending = {remote.remote(shard): shard for shard in shards}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                on_shard(pending.pop(ref), ray.get(ref), False)


def make_executor(config: Any) -> LocalExecutor | RayExecutor:
    if config.executor == "ray":
        return RayExecutor(config.address, config.cpus, config.gpus)
    return LocalExecutor()
