"""Measure what an explanation costs: wall time, passes counted by the adapter, peak memory.

Peak memory is the allocator's peak above its level at the start. On GPU it is
`torch.cuda.max_memory_allocated`, free to read, so every explanation carries it. On CPU torch
keeps no such counter: `allocated_peak_bytes` sums the profiler's allocation and free events,
which slows the call it watches, so it runs as a separate call (a run measures each method's
first example that way; `bench.perf` every row it reports). The resident set size, the other
cheap CPU measure, misses memory the allocator frees and reuses (it reported 0.004 MiB for an
explanation that allocates megabytes), so it is not used.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from bench.types import Cost


@contextmanager
def measure(counter: PassCounter, device: torch.device) -> Iterator[Cost]:
    """Fill a Cost while the body runs: time, the counter's passes, and on GPU peak memory (on
    CPU it stays None: see the module's docstring)."""
    cost = Cost()
    forward0, backward0 = counter.forward, counter.backward
    on_gpu = device.type == "cuda"
    if on_gpu:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    start = time.perf_counter()
    try:
        yield cost
    finally:
        if on_gpu:
            torch.cuda.synchronize(device)
            cost.peak_memory_bytes = int(torch.cuda.max_memory_allocated(device) - base)
        cost.seconds = time.perf_counter() - start
        cost.forward_passes = counter.forward - forward0
        cost.backward_passes = counter.backward - backward0


class PassCounter:
    """Counts sequences through the model: each batch row of a forward is one pass,
    and each row whose logits receive a gradient is one backward pass."""

    def __init__(self) -> None:
        self.forward = 0
        self.backward = 0

    def attach(self, module: torch.nn.Module) -> None:
        module.register_forward_hook(self._on_forward)

    def _on_forward(self, module, args, output) -> None:
        logits = output.logits if hasattr(output, "logits") else output
        if not isinstance(logits, torch.Tensor):
            return
        self.forward += logits.shape[0]
        if logits.requires_grad:
            logits.register_hook(self._on_backward)

    def _on_backward(self, grad: torch.Tensor) -> None:
        self.backward += grad.shape[0]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the block: the profiler's C++ side prints a line at its start
    and stop ("USDT: ... profiler_start"), which would reach the terminal of every run."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def allocated_peak_bytes(call: Callable[[], Any], device: torch.device) -> int:
    """The most bytes torch's allocator held at once while `call` ran, above its level at the
    start. GPU: the CUDA allocator's own peak. CPU: torch keeps no such counter, so the
    profiler's memory events (every allocation and free, in order) are summed."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        call()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    activities = [torch.profiler.ProfilerActivity.CPU]
    with _quiet_stderr(), torch.profiler.profile(activities=activities, profile_memory=True) as profiler:
        call()
    # kineto_results is the profiler's raw event list: memory events carry signed byte counts
    events = [e for e in profiler.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        if event.device_type() == torch.autograd.DeviceType.CPU:
            held += event.nbytes()
            peak = max(peak, held)
    return peak
