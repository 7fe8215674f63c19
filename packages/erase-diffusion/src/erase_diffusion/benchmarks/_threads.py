"""Torch thread count for the length of a benchmark run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(threads: int, notes: list[str]) -> Iterator[None]:
    """Run the body with ``threads`` torch threads, restoring the previous count after,
    and append the 1-minute load average at the start and the end to ``notes``.

    The networks of these benchmarks are tiny: on shared cores torch's spin-waiting
    worker threads stall each other, so one thread is often faster than two under load.
    """
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    before = os.getloadavg()[0]
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        notes.append(
            f"Load average (1 min) {before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
            f"the end; {threads} torch thread(s)."
        )
