"""Pieces the unlearn-graph benchmarks share: node-classification worlds (a CSBM or a
local Planetoid folder, plus extra local Planetoid folders when present) and running a
comparison at a fixed number of torch threads. No torch at import time."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from unlearn_schema.plugins import Progress
from unlearn_schema.results import BenchmarkResult

from unlearn_graph.worlds import CSBMConfig, GraphArrays, PlanetoidConfig, load_world
from unlearn_graph.worlds.pyg import PLANETOID_FILES

ParsedT = TypeVar("ParsedT")


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
