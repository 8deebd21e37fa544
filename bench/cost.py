"""Measure what an explanation costs: wall time, passes counted by the adapter, peak memory.

Peak memory is `torch.cuda.max_memory_allocated` on GPU. On CPU, torch's allocations are
invisible to tracemalloc, so a sampler thread reads the process's resident set size and
reports the peak above the level at the start. RSS is cheap but misses memory the allocator
frees and reuses; `allocated_peak_bytes` counts every allocation (through the profiler, which
slows the call), for benchmarks that compare methods' memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from bench.types import Cost

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:  # not Linux: fall back to the lifetime peak, coarser but honest
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.start_bytes = resident_bytes()
        self.peak_bytes = self.start_bytes
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_bytes = max(self.peak_bytes, resident_bytes())
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak_bytes = max(self.peak_bytes, resident_bytes())
        return self.peak_bytes - self.start_bytes


@contextmanager
def measure(counter: PassCounter, device: torch.device) -> Iterator[Cost]:
    """Fill a Cost while the body runs: time, the counter's passes, and peak memory."""
    cost = Cost()
    forward0, backward0 = counter.forward, counter.backward
    on_gpu = device.type == "cuda"
    if on_gpu:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        sampler = None
    else:
        sampler = _PeakSampler()
        sampler.start()
    start = time.perf_counter()
    try:
        yield cost
    finally:
        if on_gpu:
            torch.cuda.synchronize(device)
            cost.peak_memory_bytes = int(torch.cuda.max_memory_allocated(device) - base)
        else:
            cost.peak_memory_bytes = int(sampler.stop())
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
    with torch.profiler.profile(activities=activities, profile_memory=True) as profiler:
        call()
    # kineto_results is the profiler's raw event list: memory events carry signed byte counts
    events = [e for e in profiler.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        if event.device_type() == torch.autograd.DeviceType.CPU:
            held += event.nbytes()
            peak = max(peak, held)
    return peak
