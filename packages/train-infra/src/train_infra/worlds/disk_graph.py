"""World ``planted-partition-on-disk``: a planted-partition graph with features in a file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import StrictModel

if TYPE_CHECKING:
    from train_infra.outofcore.sampling import DiskGraph


class DiskGraphWorld(StrictModel):
    """The synthetic graph whose node features live on disk."""

    num_nodes: int = Field(ge=100, le=50_000_000)
    avg_degree: int = Field(default=10, ge=1, le=1000)
    num_features: int = Field(default=64, ge=1, le=4096)
    num_classes: int = Field(default=8, ge=2, le=1000)
    homophily: float = Field(default=0.8, ge=0.0, le=1.0)
    noise: float = Field(default=3.0, ge=0.0)


def disk_graph(world: DiskGraphWorld, folder: str, *, seed: int) -> DiskGraph:
    """Write the graph and its ``float32`` feature file under ``folder``."""
    from train_infra.outofcore.sampling import make_graph

    return make_graph(
        folder,
        world.num_nodes,
        world.avg_degree,
        world.num_features,
        world.num_classes,
        world.homophily,
        world.noise,
        seed,
    )
