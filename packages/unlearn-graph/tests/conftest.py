"""Tiny shared fixtures: small graphs and short trainings keep the suite fast."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _trained(task: Any, backbone: str = "sage", epochs: int = 60, seed: int = 0) -> Any:
    from unlearn_graph.config import BackboneConfig, TrainConfig
    from unlearn_graph.training import train_original

    config = BackboneConfig(backbone=backbone, hidden=32, heads=4)  # type: ignore[arg-type]
    return train_original(task, config, TrainConfig(epochs=epochs), seed)


@pytest.fixture(scope="session")
def trained() -> Any:
    """A function training a small model: ``trained(task, backbone, epochs, seed)``."""
    return _trained


@pytest.fixture(scope="module")
def small_graph() -> Any:
    from unlearn_graph.worlds import CSBMConfig, contextual_sbm

    return contextual_sbm(CSBMConfig(num_nodes=300, average_degree=8, num_features=16), seed=1)


@pytest.fixture(scope="module")
def link_task(small_graph: Any) -> Any:
    from unlearn_graph.tasks import make_link_task

    return make_link_task(small_graph, seed=0)


@pytest.fixture(scope="module")
def node_task(small_graph: Any) -> Any:
    from unlearn_graph.tasks import make_node_task

    return make_node_task(small_graph, seed=0)


@pytest.fixture(scope="module")
def link_model(link_task: Any) -> Any:
    return _trained(link_task)


@pytest.fixture(scope="module")
def node_model(node_task: Any) -> Any:
    return _trained(node_task)


@pytest.fixture(scope="module")
def sparse_link_task() -> Any:
    """A sparse graph whose 2-hop neighbourhoods leave most nodes outside."""
    from unlearn_graph.tasks import make_link_task
    from unlearn_graph.worlds import CSBMConfig, contextual_sbm

    graph = contextual_sbm(CSBMConfig(num_nodes=1000, average_degree=3, num_features=16), seed=2)
    return make_link_task(graph, seed=0, val_ratio=0.02, test_ratio=0.02)


@pytest.fixture(scope="module")
def sparse_link_model(sparse_link_task: Any) -> Any:
    return _trained(sparse_link_task)
