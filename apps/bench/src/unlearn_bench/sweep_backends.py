"""Where a sweep's cells run: in this process, or one Ray task each.

A backend takes a module-level function and its argument tuples and yields
``(index, result)`` as each call finishes, in the order they finish. A call whose
worker died yields the exception instead of a result, so that the driver records the
cell as failed and goes on. Ray is imported only by `RayBackend` (the ``ray`` extra).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

BackendName = Literal["local", "ray"]
BACKENDS: tuple[BackendName, ...] = ("local", "ray")
RAY_EXTRA_HINT = "pip install 'unlearn-bench[ray]' (uv: uv sync --extra ray)"


class BackendError(RuntimeError):
    """A backend that cannot start (Ray missing, a cluster that cannot be reached)."""


class Backend(Protocol):
    """Runs calls of one function and yields each result as it finishes."""

    name: str

    def map_unordered(
        self, function: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index into calls, result or the exception that lost it)``."""
        ...

    def describe(self) -> str:
        """One line for the sweep's first output line."""
        ...


class LocalBackend:
    """Every call in this process, one after another: no Ray needed."""

    name = "local"

    def map_unordered(
        self, function: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        for index, arguments in enumerate(calls):
            yield index, function(*arguments)

    def describe(self) -> str:
        return "local (in this process, one cell at a time)"


def import_ray() -> Any:
    """The ``ray`` module, or a `BackendError` naming the extra that provides it."""
    # No usage-statistics prompt or upload from a benchmark run.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Workers run this environment's interpreter as it is: Ray's `uv run` hook would
    # otherwise rebuild the environment per worker from the current folder (set it to 1
    # to ship the project to a cluster that lacks it).
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise BackendError(
            f"--backend ray needs Ray, which is not installed: {RAY_EXTRA_HINT}; "
            "or run the cells in this process with --backend local"
        ) from None
    if os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0":
        # Ray reads the variable once, at its import, which may have come first (a test
        # checking that ray imports): keep the two in step.
        try:
            from ray._private import ray_constants

            ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
        except (ImportError, AttributeError):  # a Ray without that hook
            pass
    return ray


class RayBackend:
    """One Ray task per call (1 CPU each), at most ``workers`` in flight.

    Without ``address`` a local Ray instance with ``workers`` CPUs is started and shut
    down at the end; with one, the driver joins that cluster (``auto`` or
    ``ray://host:10001``) and leaves it running. The packages must be installed on
    every node of a cluster, as on the driver.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if workers is not None and workers < 1:
            raise BackendError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.address = address
        self.startup_s: float | None = None
        self._started_here = False

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else "a local Ray instance"
        workers = f"{self.workers} workers" if self.workers else "every CPU"
        return f"ray ({where}, {workers}, one task per cell)"

    def start(self) -> Any:
        """Start or join Ray (idempotent); the ``ray`` module."""
        import time

        ray = import_ray()
        if ray.is_initialized():
            return ray
        start = time.perf_counter()
        options: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": True,
        }
        try:
            if self.address is None:
                cpus = self.workers or os.cpu_count() or 1
                ray.init(num_cpus=cpus, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            hint = ""
            if self.address is not None and os.environ.get("RAY_AUTH_MODE") != "token":
                # `ray start` turns token authentication on by default (Ray 2.59+), and a
                # driver without RAY_AUTH_MODE=token is refused ("InvalidAuthToken").
                hint = (
                    "; if the cluster uses token authentication (the default of `ray start` "
                    "since Ray 2.59), set RAY_AUTH_MODE=token and give the cluster's token "
                    "(RAY_AUTH_TOKEN, or ~/.ray/auth_token: `ray get-auth-token`)"
                )
            where = self.address or "local"
            raise BackendError(f"cannot start Ray at {where}: {error}{hint}") from None
        self.startup_s = time.perf_counter() - start
        self._started_here = True
        return ray

    def stop(self) -> None:
        """Shut Ray down if this backend started or joined it."""
        if self._started_here:
            import_ray().shutdown()
            self._started_here = False

    def map_unordered(
        self, function: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        ray = self.start()
        limit = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(num_cpus=1, max_retries=0)(function)
        waiting = iter(enumerate(calls))
        in_flight: dict[Any, int] = {}

        def submit() -> None:
            for index, arguments in waiting:
                in_flight[task.remote(*arguments)] = index
                if len(in_flight) >= limit:
                    return

        try:
            submit()
            while in_flight:
                done, _ = ray.wait(list(in_flight), num_returns=1)
                index = in_flight.pop(done[0])
                try:
                    result: Any = ray.get(done[0])
                except ray.exceptions.RayError as error:  # the worker died, not the cell
                    result = error
                yield index, result
                submit()
        finally:
            for reference in in_flight:
                ray.cancel(reference, force=True)


def make_backend(name: str, workers: int | None, address: str | None) -> Backend:
    """The backend ``name`` with its options checked; `BackendError` naming a bad one."""
    if name == "local":
        if address is not None:
            raise BackendError("--address joins a Ray cluster: it needs --backend ray")
        if workers not in (None, 1):
            raise BackendError(
                f"--workers {workers} needs --backend ray; --backend local runs one cell at "
                "a time in this process"
            )
        return LocalBackend()
    if name == "ray":
        import_ray()
        return RayBackend(workers=workers, address=address)
    raise BackendError(f"unknown backend {name!r}; accepted: {', '.join(BACKENDS)}")
