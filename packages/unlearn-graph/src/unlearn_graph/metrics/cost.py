"""Wall time and peak memory of a call, to compare a method with retraining.

Peak memory is the growth of the process's peak resident set size over the call: on
Linux the peak (``VmHWM``) is reset through ``/proc/self/clear_refs`` before the call
and read from ``/proc/self/status`` after it, which catches short-lived CPU tensors.
Memory that earlier work freed but the C allocator kept would be reused without
growing the resident size, so before the call glibc's ``malloc_trim(0)`` hands it back
to the system (where glibc is the allocator); the growth is then close to what the call
needs. For a clean measurement, run the call in a fresh process
(the `unlearn-graph-speed` benchmark does).
Where that is unavailable the resident size is sampled every few milliseconds instead
(an estimate that can miss short allocations). On CUDA, ``torch.cuda`` peak statistics
give the device memory separately (``peak_device_mib``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import Field
from unlearn_schema import MethodParams

T = TypeVar("T")


class CostParams(MethodParams):
    """Options of `measure_cost`."""

    interval_s: float = Field(
        default=0.002,
        gt=0.0,
        le=10.0,
        description="Sampling interval where the kernel's peak counter is unavailable.",
    )


@dataclass(frozen=True)
class Cost:
    """Wall time in seconds, peak extra host memory in MiB (and device memory on CUDA)."""

    wall_s: float
    peak_mib: float
    peak_device_mib: float | None = None


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _release_free_memory() -> None:
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure_cost(fn: Callable[[], T], *, interval_s: float = 0.002) -> tuple[T, Cost]:
    """Run ``fn()`` and return its result with its `Cost`."""
    torch: Any = sys.modules.get("torch")
    cuda = torch is not None and bool(torch.cuda.is_available())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        device_start = torch.cuda.memory_allocated()
    _release_free_memory()
    start_kib = _status_kib("VmRSS") or 0
    exact = _reset_peak()
    peak = [start_kib]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval_s):
            peak[0] = max(peak[0], _status_kib("VmRSS") or 0)

    sampler = None
    if not exact:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    began = time.perf_counter()
    try:
        result = fn()
    finally:
        wall = time.perf_counter() - began
        done.set()
        if sampler is not None:
            sampler.join()
    if exact:
        peak[0] = _status_kib("VmHWM") or peak[0]
    device = None
    if cuda:
        device = (torch.cuda.max_memory_allocated() - device_start) / 2**20
    return result, Cost(
        wall_s=wall, peak_mib=max(0.0, (peak[0] - start_kib) / 1024), peak_device_mib=device
    )
