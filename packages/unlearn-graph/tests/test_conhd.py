"""CoNHD, its baselines and the planted-roles hypergraph, on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from unlearn_graph.hyper import HYPER_MODELS, HyperModelParams
from unlearn_graph.hyper.conhd import (
    CoNHD,
    Incidence,
    SelfAttentionBlock,
    gather_sets,
    group_incidences,
    scatter_sets,
)
from unlearn_graph.hyper.training import (
    build_hyper_model,
    f1_scores,
    split_hyperedges,
    train_hyper_model,
    world_incidence,
)
from unlearn_graph.worlds.hyper_roles import ROLE_NAMES, HyperRolesConfig, hyper_roles


def test_roles_follow_the_planted_rules_and_are_seeded() -> None:
    config = HyperRolesConfig(num_nodes=60, num_hyperedges=40, seniority_noise=0.0)
    world = hyper_roles(config, seed=1)
    again = hyper_roles(config, seed=1)
    assert np.array_equal(world.labels, again.labels)
    assert np.array_equal(world.features, again.features)
    seniority = world.features[:, config.num_types]  # noise-free here
    leader, member, outsider = (ROLE_NAMES.index(r) for r in ("leader", "member", "outsider"))
    changed = 0
    for e in range(world.num_hyperedges):
        inside = world.hyperedges == e
        members, labels = world.nodes[inside], world.labels[inside]
        assert config.min_size <= len(members) <= config.max_size
        assert len(set(members.tolist())) == len(members)
        assert labels[np.argmax(seniority[members])] == leader
        assert np.sum(labels == leader) == 1
        rest = labels != leader
        foreign = world.communities[members] != world.hyperedge_types[e]
        assert np.array_equal(labels[rest], np.where(foreign[rest], outsider, member))
    for v in range(world.num_nodes):
        changed += len(set(world.labels[world.nodes == v].tolist())) > 1
    assert changed > 10  # labels really depend on the hyperedge
    typed = hyper_roles(config.model_copy(update={"labels": "hyperedge-type"}), seed=1)
    assert np.array_equal(typed.labels, typed.hyperedge_types[typed.hyperedges])


def test_grouping_by_hand() -> None:
    groups = group_incidences(torch.tensor([2, 0, 2, 1, 0]))
    assert groups.keys.tolist() == [0, 1, 2]
    assert groups.slots.tolist() == [[1, 4], [3, 5], [0, 2]]  # 5 = padding
    assert groups.mask.tolist() == [[True, True], [True, False], [True, True]]
    values = torch.arange(5.0).unsqueeze(-1)
    sets = gather_sets(values, groups)
    assert sets.squeeze(-1).tolist() == [[1.0, 4.0], [3.0, 0.0], [0.0, 2.0]]
    assert torch.equal(scatter_sets(sets, groups), values)


def test_incidence_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        Incidence.build(torch.tensor([0, 0]), torch.tensor([1, 1]), 2, 2)
    with pytest.raises(ValueError, match=r"hyperedges must lie in 0\.\.1"):
        Incidence.build(torch.tensor([0]), torch.tensor([2]), 2, 2)


def test_f1_by_hand() -> None:
    # classes 0: TP 1, FP 1, FN 0 -> 2/3; 1: TP 1, FN 2 -> 1/2; 2: FP 1 -> 0
    micro, macro = f1_scores(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]))
    assert micro == pytest.approx(0.5)
    assert macro == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def _set_linear(layer: torch.nn.Module, weight: list[list[float]]) -> None:
    assert isinstance(layer, torch.nn.Linear)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.zero_()


def test_two_diffusion_steps_by_hand() -> None:
    # Nodes 0, 1, 2 with features 1, 2, 3; e0 = {0, 1}, e1 = {1, 2}. DeepSets operators
    # reduced to the plain mean of the set, update W_u = [1/2, 1/2, 1/2, -1/2] on
    # [h, within-hyperedge mean, within-node mean, h0]. Incidences (0,e0) (1,e0) (1,e1)
    # (2,e1): h0 = (1, 2, 2, 3).
    # step 1: edge means (1.5, 1.5, 2.5, 2.5), node means (1, 2, 2, 3)
    #   h1 = (h0 + edge + node - h0) / 2 = (1.25, 1.75, 2.25, 2.75)
    # step 2: edge means (1.5, 1.5, 2.5, 2.5), node means (1.25, 2, 2, 2.75)
    #   h2 = (h1 + edge + node - h0) / 2 = (1.5, 1.625, 2.375, 2.5)
    model = CoNHD(1, 2, hidden=1, layers=2, operator="deepsets", layer_norm=False, mlp_layers=1)
    _set_linear(model.encode, [[1.0]])
    layer = model.steps[0]
    for operator in (layer.within_hyperedge, layer.within_node):
        block = operator.blocks[0]
        _set_linear(block.inner[0], [[1.0]])
        _set_linear(block.outer[0], [[0.0, 1.0]])  # keep the pooled mean only
    _set_linear(layer.update, [[0.5, 0.5, 0.5, -0.5]])
    # Incidences listed out of order: the grouping must not care.
    nodes, hyperedges = torch.tensor([1, 2, 0, 1]), torch.tensor([1, 1, 0, 0])
    incidence = Incidence.build(nodes, hyperedges, 3, 2)
    with torch.no_grad():
        state = model.co_representations(torch.tensor([[1.0], [2.0], [3.0]]), incidence)
    assert state.squeeze(-1).tolist() == pytest.approx([2.375, 2.5, 1.5, 1.625])


def test_self_attention_ignores_padding() -> None:
    torch.manual_seed(0)
    block = SelfAttentionBlock(8, heads=2).eval()
    alone = torch.randn(1, 3, 8)
    padded = torch.cat([alone, 100 * torch.randn(1, 2, 8)], dim=1)
    mask = torch.tensor([[True, True, True, False, False]])
    with torch.no_grad():
        expected = block(alone, torch.ones(1, 3, dtype=torch.bool))
        got = block(padded, mask)[:, :3]
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("name", HYPER_MODELS)
def test_relabelling_nodes_and_reordering_members_permutes_the_outputs(name: str) -> None:
    world = hyper_roles(HyperRolesConfig(num_nodes=40, num_hyperedges=25), seed=2)
    x, incidence, _ = world_incidence(world)
    torch.manual_seed(0)
    params = HyperModelParams(hidden=8, heads=2)
    model = build_hyper_model(name, x.shape[1], world.num_classes, params, layers=2).eval()
    generator = torch.Generator().manual_seed(3)
    relabel_nodes = torch.randperm(world.num_nodes, generator=generator)
    relabel_edges = torch.randperm(world.num_hyperedges, generator=generator)
    reorder = torch.randperm(len(world.labels), generator=generator)
    moved_x = torch.empty_like(x)
    moved_x[relabel_nodes] = x
    moved = Incidence.build(
        relabel_nodes[incidence.nodes[reorder]],
        relabel_edges[incidence.hyperedges[reorder]],
        world.num_nodes,
        world.num_hyperedges,
    )
    with torch.no_grad():
        before = model(x, incidence)
        after = model(moved_x, moved)
    assert torch.allclose(after, before[reorder], atol=1e-5)
    assert not torch.allclose(before[0], before[1:])  # outputs are not constant


def test_conhd_beats_a_node_only_model_when_labels_are_the_hyperedges() -> None:
    config = HyperRolesConfig(
        num_nodes=150, num_hyperedges=150, min_size=4, max_size=6, in_type_share=0.6,
        labels="hyperedge-type", extra_features=0,
    )  # fmt: skip
    world = hyper_roles(config, seed=0)
    split = split_hyperedges(world.num_hyperedges, seed=0)
    params = HyperModelParams(hidden=16, heads=2, epochs=60, lr=0.01)
    scores = {}
    for name in ("conhd", "node-mlp"):
        torch.manual_seed(0)
        model = build_hyper_model(name, world.features.shape[1], world.num_classes, params, 1)
        scores[name] = train_hyper_model(model, world, split, params, seed=0).test_micro_f1
    # A node-only model can at best guess the node's own community: right on about
    # 0.6 + 0.4 / 3 = 0.73 of the incidences. The hyperedge's majority gives the type.
    assert scores["node-mlp"] < 0.85
    assert scores["conhd"] > scores["node-mlp"] + 0.1
