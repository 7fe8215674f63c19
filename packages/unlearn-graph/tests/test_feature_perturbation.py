"""The black-box feature attack on RWCS / GC-RWCS-selected nodes (arXiv:2006.05057) and the
``graph-rwcs-attack`` benchmark, on cases worked out by hand."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from unlearn_graph.attacks.feature_perturbation import (
    FeatureAttackParams,
    adjacency_matrix,
    attack_curve,
    degree_limit,
    gradient_perturbation,
    perturb_nodes,
    random_perturbation,
    rwcs_importance,
    select_attacked_nodes,
)
from unlearn_graph.benchmarks.rwcs_attack import GRAPH_RWCS_ATTACK
from unlearn_graph.config import BackboneConfig, TrainConfig
from unlearn_graph.tasks import make_node_task
from unlearn_graph.training import train_original
from unlearn_graph.worlds import CSBMConfig, contextual_sbm
from unlearn_schema.configs import WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after

# Two adjacent hubs 0 and 1 (leaves 2-4 on 0, 5-7 on 1) and a smaller hub 8 (leaves 9, 10).
TWO_HUBS = np.array(
    [[0, 0, 0, 0, 1, 1, 1, 8, 8], [1, 2, 3, 4, 5, 6, 7, 9, 10]],
)


def test_module_and_benchmark_import_no_torch() -> None:
    assert heavy_modules_after("import unlearn_graph.attacks.feature_perturbation") == []
    assert heavy_modules_after("import unlearn_graph.benchmarks.rwcs_attack") == []


@pytest.mark.requires("graph_algos")
def test_rwcs_scores_are_the_column_sums_of_the_walk_power_by_hand() -> None:
    # Path 0 - 1 - 2 with self-loops: M = [[1/2, 1/2, 0], [1/3, 1/3, 1/3], [0, 1/2, 1/2]].
    # L = 1: column sums (5/6, 4/3, 5/6).
    # L = 2: M^2 rows (5/12, 5/12, 1/6), (5/18, 4/9, 5/18), (1/6, 5/12, 5/12),
    # column sums (31/36, 46/36, 31/36).
    path = adjacency_matrix(np.array([[0, 1], [1, 2]]), 3)
    assert rwcs_importance(path, 1) == pytest.approx([5 / 6, 4 / 3, 5 / 6])
    assert rwcs_importance(path, 2) == pytest.approx([31 / 36, 46 / 36, 31 / 36])


@pytest.mark.requires("graph_algos")
def test_gc_rwcs_spreads_out_where_rwcs_takes_two_adjacent_hubs() -> None:
    # L = 1: I_0 = I_1 = 1/5 + 1/5 + 3/2 = 1.9, I_8 = 1/3 + 2/2 = 1.33, leaves <= 0.83.
    # RWCS takes the two hubs 0, 1, which influence the same nodes; GC-RWCS takes 0 (5
    # targets), drops its neighbour 1, then 8 (3 new targets) over 1's leaves (1 each).
    graph = adjacency_matrix(TWO_HUBS, 11)
    assert rwcs_importance(graph, 1)[[0, 1, 8]] == pytest.approx([1.9, 1.9, 4 / 3])
    assert select_attacked_nodes("rwcs", graph, 2, steps=1) == [0, 1]
    assert select_attacked_nodes("gc-rwcs", graph, 2, steps=1, top_per_target=None) == [0, 8]
    # Degree limit 2 (the degree order is 4, 4, 2, 1, ...: top share 0.2 is position 2).
    assert degree_limit(graph, 0.2) == 2 and degree_limit(graph, 0.1) == 4
    assert select_attacked_nodes("rwcs", graph, 1, steps=1, max_degree=2) == [8]
    assert select_attacked_nodes("degree", graph, 1, max_degree=2) == [8]


def test_baselines_stay_within_the_degree_limit_and_check_the_budget() -> None:
    graph = adjacency_matrix(TWO_HUBS, 11)
    picked = select_attacked_nodes("random", graph, 8, max_degree=1, seed=3)
    assert len(set(picked)) == 8 and set(picked) <= {2, 3, 4, 5, 6, 7, 9, 10}
    assert select_attacked_nodes("degree", graph, 3)[:2] in ([0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"budget must be in \[0, 8\]"):
        select_attacked_nodes("random", graph, 9, max_degree=1)
    with pytest.raises(ValueError, match="accepted: random, degree, rwcs, gc-rwcs"):
        select_attacked_nodes("pagerank", graph, 1)  # type: ignore[arg-type]


class _Linear(nn.Module):
    """Logits x @ W on the scored nodes, ignoring the graph (a gradient known by hand)."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def score(self, x: Tensor, edge_index: Tensor, nodes: Tensor) -> Tensor:
        del edge_index
        return x[nodes] @ self.weight


def test_gradient_perturbation_by_hand() -> None:
    # One training node x = (0, 0, 0), label 0, W = [[1, 0], [0, 3], [1, 1]]: p = (1/2, 1/2),
    # dL/dlogits = p - e_0 = (-1/2, 1/2), dL/dx = (p - e_0) W^T = (-1/2, 3/2, 0).
    model = _Linear(torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]]))
    x, y = torch.zeros(2, 3), torch.tensor([0, 1])
    nodes, edges = torch.tensor([0]), torch.zeros(2, 0, dtype=torch.long)
    one = gradient_perturbation(model, x, edges, y, nodes, features=1, strength=0.5)
    two = gradient_perturbation(model, x, edges, y, nodes, features=2, strength=0.5)
    assert one.tolist() == [0.0, 0.5, 0.0]
    assert two.tolist() == [-0.5, 0.5, 0.0]
    with pytest.raises(ValueError, match=r"features must be in \[1, 3\]"):
        gradient_perturbation(model, x, edges, y, nodes, features=4, strength=0.5)


def test_the_selected_nodes_and_only_they_are_perturbed_by_tau() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    tau = random_perturbation(3, features=2, strength=2.0, seed=0)
    assert sorted(tau.abs().tolist()) == [0.0, 2.0, 2.0]
    perturbed = perturb_nodes(x, [3, 1], tau)
    changed = torch.nonzero((perturbed != x).any(1)).flatten().tolist()
    assert changed == [1, 3]
    assert torch.equal(perturbed[[1, 3]] - x[[1, 3]], torch.stack([tau, tau]))
    assert torch.equal(x, torch.arange(12, dtype=torch.float32).reshape(4, 3))  # not in place
    with pytest.raises(ValueError, match="tau must have shape"):
        perturb_nodes(x, [0], torch.zeros(2))


@pytest.fixture(scope="module")
def trained() -> tuple[object, object]:
    graph = contextual_sbm(
        CSBMConfig(num_nodes=200, average_degree=6.0, num_features=8, feature_signal=2.0), seed=0
    )
    task = make_node_task(graph, seed=0)
    config = BackboneConfig(backbone="gcn", hidden=16)
    model = train_original(task, config, TrainConfig(epochs=60), seed=0)
    return model, task


def test_lambda_zero_changes_nothing_and_a_large_lambda_hurts(
    trained: tuple[object, object],
) -> None:
    model, task = trained
    zero = attack_curve(model, task, "degree", [0, 10, 40], FeatureAttackParams(strength=0.0))
    assert [rate for _, rate, _ in zero] == [zero[0][1]] * 3
    assert [loss for _, _, loss in zero] == pytest.approx([zero[0][2]] * 3)
    assert zero[0][1] < 0.4  # the clean model has learnt the CSBM
    strong = attack_curve(
        model, task, "degree", [0, 40], FeatureAttackParams(strength=5.0, feature_share=1.0)
    )
    assert strong[0] == zero[0]
    assert strong[1][1] > strong[0][1] + 0.05 and strong[1][2] > strong[0][2]


@pytest.mark.requires("graph_algos")
def test_default_specs_parse() -> None:
    for size in ("quick", "full"):
        parsed = GRAPH_RWCS_ATTACK.parse(GRAPH_RWCS_ATTACK.default_spec(size))
        assert parsed.params.selectors == ["random", "degree", "rwcs", "gc-rwcs"]
        assert parsed.params.models == ["gcn", "sage", "gat"]


def test_bad_params_are_refused() -> None:
    # Baseline selectors only, so that this runs without graph-algos too.
    spec = GRAPH_RWCS_ATTACK.default_spec("quick").model_copy(
        update={"params": {"selectors": ["random", "degree"]}}
    )
    assert GRAPH_RWCS_ATTACK.parse(spec).params.selectors == ["random", "degree"]
    bad = {"selectors": ["random"], "budget_shares": [0.0]}
    with pytest.raises(SpecError, match="budget_shares must be distinct numbers in"):
        GRAPH_RWCS_ATTACK.parse(spec.model_copy(update={"params": bad}))
    bad = {"selectors": ["random"], "models": ["gat"], "hidden": 30, "heads": 4}
    with pytest.raises(SpecError, match="GAT needs hidden divisible by heads"):
        GRAPH_RWCS_ATTACK.parse(spec.model_copy(update={"params": bad}))
    with pytest.raises(SpecError, match="nothing is downloaded"):
        GRAPH_RWCS_ATTACK.parse(
            spec.model_copy(
                update={
                    "world": WorldSpec(name="planetoid", params={"folder": "/no", "name": "cora"})
                }
            )
        )


@pytest.mark.requires("graph_algos")
def test_a_tiny_run_reports_every_cell_and_the_greedy_gain() -> None:
    spec = GRAPH_RWCS_ATTACK.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(
                name="csbm", params={"num_nodes": 150, "average_degree": 6.0, "num_features": 8}
            ),
            "params": {
                "models": ["gcn", "gat"],
                "budget_shares": [0.05, 0.1, 0.2],
                "strength_scales": [1.0, 3.0],
                "random_draws": 2,
                "hidden": 8,
                "heads": 2,
                "train": {"epochs": 5},
                "planetoid": [{"folder": "/no/such/folder", "name": "cora"}],
            },
        }
    )
    result = GRAPH_RWCS_ATTACK.run(GRAPH_RWCS_ATTACK.parse(spec), NullProgress(), "")
    rates = [m for m in result.metrics if m.name == "misclassification_rate"]
    assert len(rates) == 2 * 2 * 4 * 3  # models x lambdas x selectors x budgets
    assert {m.labels["attacked"] for m in rates} == {"8", "15", "30"}  # round(150 * share)
    assert {m.labels["strength"] for m in rates} == {"4", "12"}
    assert all(0.0 <= m.value <= 1.0 for m in rates)
    gains = {
        (m.labels["model"], m.labels["strength"], m.labels["attacked"]): m.value
        for m in result.metrics
        if m.name == "gc_rwcs_gain"
    }
    by_cell = {
        (m.labels["model"], m.labels["strength"], m.labels["selector"], m.labels["attacked"]): m
        for m in rates
    }
    for (model, strength, attacked), gain in gains.items():
        expected = by_cell[(model, strength, "gc-rwcs", attacked)].value
        expected -= by_cell[(model, strength, "rwcs", attacked)].value
        assert gain == pytest.approx(expected)
    assert len(gains) == 2 * 2 * 3
    assert len([m for m in result.metrics if m.name == "marginal_return"]) == 2 * 2 * 4 * 2
    # The clean model is the same at every lambda; the larger lambda hurts at least as much.
    assert len([m for m in result.metrics if m.name == "clean_misclassification_rate"]) == 2
    for (model, strength, selector, attacked), metric in by_cell.items():
        if strength == "12":
            assert metric.reference == by_cell[(model, "4", selector, attacked)].reference
    assert any("cora: skipped" in note for note in result.notes)
    assert {c.name for c in result.curves} == {
        f"{q}-csbm-{m}-x{k}"
        for q in ("misclassification", "loss")
        for m in ("gcn", "gat")
        for k in ("1", "3")
    }
    assert result.summary is not None and len(result.summary.rows) == 2 * 2 * 4


def test_without_graph_algos_the_rwcs_selectors_say_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("graph_algos", "graph_algos.methods", "graph_algos.methods.robustness"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    graph = adjacency_matrix(TWO_HUBS, 11)
    with pytest.raises(RuntimeError, match="pip install graph-algos"):
        select_attacked_nodes("rwcs", graph, 1)
    assert select_attacked_nodes("degree", graph, 2) in ([0, 1], [1, 0])
    with pytest.raises(SpecError, match="rwcs and gc-rwcs need graph-algos"):
        GRAPH_RWCS_ATTACK.parse(GRAPH_RWCS_ATTACK.default_spec("quick"))
