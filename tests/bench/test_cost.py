"""Cost measures against allocation patterns whose peak is known by construction."""

from __future__ import annotations

import torch

from bench.cost import allocated_peak_bytes

CPU = torch.device("cpu")


def test_allocator_peak_counts_live_tensors_at_the_worst_moment():
    def call() -> None:
        a = torch.empty(1000)  # 4,000 bytes
        b = torch.empty(2000)  # 12,000 held: the peak
        del a
        c = torch.empty(500)  # 10,000 held
        del b, c

    assert allocated_peak_bytes(call, CPU) == 12_000


def test_allocator_peak_sees_memory_freed_and_reused():
    """RSS cannot tell these apart once the allocator reuses pages; the allocator's events can."""

    def call() -> None:
        for _ in range(5):
            block = torch.empty(250_000)  # a new 1 MB block is made before the old one is freed
        del block

    assert allocated_peak_bytes(call, CPU) == 2_000_000


def test_allocator_peak_ignores_memory_held_before_the_call():
    held = torch.empty(1_000_000)
    assert allocated_peak_bytes(lambda: torch.empty(10), CPU) == 40
    del held


def test_the_profiler_prints_nothing_on_the_terminal():
    """torch's profiler writes 'USDT: ... profiler_start' lines to file descriptor 2 from C++; a
    run measures memory on every method's first example, so they would reach every terminal."""
    import subprocess
    import sys

    code = (
        "import sys, torch; from bench.cost import allocated_peak_bytes; "
        "print(allocated_peak_bytes(lambda: torch.empty(10), torch.device('cpu'))); "
        "print('after', file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "40\n" and done.stderr == "after\n"
