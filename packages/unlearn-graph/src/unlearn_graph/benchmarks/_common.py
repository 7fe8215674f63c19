"""Pieces the unlearn-graph benchmarks share: node-classification worlds (a CSBM or a
local Planetoid folder, plus extra local Planetoid folders when present), the checks of a
node split and of a Planetoid world, running a comparison at a fixed number of torch
threads, and the closing notes and wall time of a comparison's result. No torch at import
time."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from unlearn_schema.plugins import Progress
from unlearn_schema.recipes import machine_load_note
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Table

from unlearn_graph.worlds import CSBMConfig, GraphArrays, PlanetoidConfig, load_world
from unlearn_graph.worlds.pyg import PLANETOID_FILES

ParsedT = TypeVar("ParsedT")
EntryT = TypeVar("EntryT")


def distinct_entries(value: list[EntryT], what: str) -> list[EntryT]:
    """A list field's check: each entry once; ``what`` names the field in the error."""
    if len(set(value)) != len(value):
        raise ValueError(f"{what} must be distinct, got {value}")
    return value


def distinct_shares(value: list[float], what: str) -> list[float]:
    """A list-of-shares field's check: distinct numbers in (0, 1), returned sorted."""
    if any(not 0.0 < share < 1.0 for share in value) or len(set(value)) != len(value):
        raise ValueError(f"{what} must be distinct numbers in (0, 1), got {value}")
    return sorted(value)


def planetoid_missing(config: PlanetoidConfig) -> list[str]:
    """The ``ind.<name>.*`` files that ``config.folder`` lacks (empty: all there)."""
    names = [f"ind.{config.name.lower()}.{part}" for part in PLANETOID_FILES]
    return [n for n in names if not os.path.exists(os.path.join(config.folder, n))]


def node_graphs(
    world: CSBMConfig | PlanetoidConfig,
    planetoid: Sequence[PlanetoidConfig],
    seed: int,
    notes: list[str] | None,
) -> dict[str, GraphArrays]:
    """The spec's world (named ``csbm`` or by its Planetoid name) and every extra local
    Planetoid folder that holds its files; a folder lacking them is skipped with a note
    in ``notes`` (pass ``None`` to note nothing, e.g. for every seed after the first)."""
    found: dict[str, GraphArrays] = {}
    if isinstance(world, PlanetoidConfig):
        found[world.name] = load_world("planetoid", world, seed)
    else:
        found["csbm"] = load_world("csbm", world, seed)
    for config in planetoid:
        missing = planetoid_missing(config)
        if missing:
            if notes is not None:
                notes.append(
                    f"Planetoid {config.name}: skipped, {config.folder!r} lacks "
                    f"{', '.join(missing)} (put the ind.{config.name}.* files there to include "
                    "it; nothing is downloaded)"
                )
            continue
        found[config.name] = load_world("planetoid", config, seed)
    return found


def graphs_by_seed(
    world: CSBMConfig | PlanetoidConfig,
    planetoid: Sequence[PlanetoidConfig],
    seeds: Sequence[int],
    notes: list[str],
) -> dict[int, dict[str, GraphArrays]]:
    """`node_graphs` for every seed; skipped Planetoid folders are noted once, for the first
    seed."""
    return {
        seed: node_graphs(world, planetoid, seed, notes if seed == seeds[0] else None)
        for seed in seeds
    }


def check_planetoid_world(world: CSBMConfig | PlanetoidConfig) -> None:
    """Raise if ``world`` is a Planetoid folder that lacks its files (a CSBM always passes)."""
    if isinstance(world, PlanetoidConfig) and (missing := planetoid_missing(world)):
        raise ValueError(
            f"world.params: Planetoid folder {world.folder!r} lacks {', '.join(missing)} "
            "(nothing is downloaded); use world 'csbm' or give a folder with the files"
        )


def check_node_split(train_ratio: float, val_ratio: float) -> None:
    """Raise unless the training and validation shares leave a test set."""
    if train_ratio + val_ratio >= 1.0:
        raise ValueError(
            f"params: train_ratio + val_ratio must be below 1 (a test set is needed), got "
            f"{train_ratio} + {val_ratio}"
        )


def run_notes(load_before: tuple[float, float, float], threads: int) -> list[str]:
    """The two notes a run ends with: the machine load before and now, and the platform
    with the number of torch threads."""
    return [
        machine_load_note(load_before, after=os.getloadavg()),
        f"machine: {platform.platform()}, {threads} torch thread(s)",
    ]


def comparison_result(
    metrics: list[MetricValue],
    curves: list[Curve],
    summary: Table,
    notes: list[str],
    load_before: tuple[float, float, float],
    started: float,
    threads: int,
) -> BenchmarkResult:
    """A comparison's result: ``notes`` followed by `run_notes`, and the total wall time
    since ``started`` (a `time.perf_counter` reading)."""
    closing = run_notes(load_before, threads)
    return BenchmarkResult(
        metrics=metrics,
        curves=curves,
        summary=summary,
        notes=[*notes, *closing],
        timings={"total": time.perf_counter() - started},
    )


def with_threads(
    threads: int,
    compare: Callable[[ParsedT, Progress], BenchmarkResult],
    parsed: ParsedT,
    progress: Progress,
) -> BenchmarkResult:
    """``compare(parsed, progress)`` with torch set to ``threads`` threads, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return compare(parsed, progress)
    finally:
        torch.set_num_threads(before)
