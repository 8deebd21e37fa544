"""Executors run a run's shards. `local` runs them on this machine as one job per example (every
method on it, their removals pooled: `runner.run_example`): in this process, one after the
other, or (`workers` > 1, the default on a multi-core CPU) in worker processes forked from this
one, each on one thread. `ray` spreads them over a Ray cluster (`pip install xai-bench[ray]`),
one Ray task per shard with the run's CPU and GPU requests. Either way the driver writes every
finished job's rows, so part files are only ever written by one process."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from bench.errors import InputError

OnRow = Callable[[dict], None]
OnRows = Callable[[list[dict], bool], None]
"""Called with a finished job's rows and whether on_row already saw each of them."""


class LocalExecutor:
    """Worker processes rather than threads: the methods' many small forward passes keep two
    threads of one process half idle (a 64-row MiniLM forward: 1.54 ms a row on two threads, 2.21
    on one, so two one-thread workers do 1.4x the rows). Workers are forked after the driver
    loaded the models and examples, so they start at once and share the weights' memory; one
    thread each, because OpenMP hangs in a forked child that starts a thread team. A job is one
    example with every method still to run on it, in the run's method order, so that example's
    shared passes (`runner.input_cache`) are computed once, in one worker, exactly as in one
    process. Forking like this is Linux's: elsewhere the default is one process."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)

    def map(self, shards: Sequence[Any], on_row: OnRow, on_rows: OnRows) -> None:
        from bench.runner import jobs_of, run_job

        jobs = jobs_of(list(shards))
        workers = min(self.workers, len(jobs))
        if workers <= 1 or _cuda_initialized():
            for job in jobs:
                rows = run_job(job)
                for row in rows:
                    on_row(row)
                on_rows(rows, True)
            return
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _start_worker)
        try:
            pending = {pool.submit(run_job, job) for job in jobs}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_rows(future.result(), False)
        except BaseException:  # Ctrl-C or a failed job: the finished jobs are written, stop the rest
            for process in multiprocessing.active_children():
                process.kill()
            raise
        finally:
            pool.shutdown(cancel_futures=True)


def _start_worker() -> None:
    """One thread; Ctrl-C is the driver's to handle; die with the driver (Linux), holding none of
    its run-folder locks, so a killed run leaves nothing behind that blocks its resume."""
    import torch

    from bench.run_folder import close_inherited_locks

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    close_inherited_locks()
    if hasattr(os, "sched_getaffinity"):  # Linux: PR_SET_PDEATHSIG
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    if os.getppid() == 1:  # the driver died before the line above
        os._exit(1)


def _cuda_initialized() -> bool:
    """A forked child cannot use CUDA once the driver has initialised it."""
    import torch

    return torch.cuda.is_initialized()


class RayExecutor:
    def __init__(self, address: str | None, cpus: float, gpus: float) -> None:
        self.address = address
        self.cpus = cpus
        self.gpus = gpus

    def map(self, shards: Sequence[Any], on_row: OnRow, on_rows: OnRows) -> None:
        try:
            import ray
        except ImportError as error:
            raise InputError("the ray executor needs Ray: pip install 'xai-bench[ray]'") from error
        from bench.runner import run_shard

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus)(run_shard)
        pending = [remote.remote(shard) for shard in shards]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                on_rows(ray.get(ref), False)


def make_executor(config: Any) -> LocalExecutor | RayExecutor:
    if config.executor == "ray":
        return RayExecutor(config.address, config.cpus, config.gpus)
    return LocalExecutor(config.workers)
