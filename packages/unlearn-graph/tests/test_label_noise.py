"""Label noise, the noise-robust learners (ERASE, GCE, label propagation) and the
``graph-label-noise`` benchmark, on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from unlearn_graph.benchmarks.label_noise import GRAPH_LABEL_NOISE
from unlearn_graph.robust import LEARNERS
from unlearn_graph.robust.common import NoisyNodeTask, accuracy
from unlearn_graph.robust.erase import (
    class_coding_rate,
    coding_rate,
    coding_rate_reduction,
    denoise_labels,
)
from unlearn_graph.robust.gce import generalised_cross_entropy
from unlearn_graph.robust.noise import corrupt_labels, noise_transition_matrix
from unlearn_graph.tasks import make_node_task
from unlearn_graph.worlds import CSBMConfig, contextual_sbm
from unlearn_schema.configs import MethodConfig, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def test_registry_and_benchmark_import_no_torch() -> None:
    assert heavy_modules_after("import unlearn_graph.robust, unlearn_graph.robust.params") == []
    assert heavy_modules_after("import unlearn_graph.benchmarks.label_noise") == []


def test_transition_matrices_by_hand() -> None:
    # K = 3, r = 0.3: symmetric spreads 0.3 over the two other classes, pair-flip sends
    # all of it to the next class.
    assert noise_transition_matrix("symmetric", 0.3, 3) == pytest.approx(
        np.array([[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]])
    )
    assert noise_transition_matrix("pair-flip", 0.3, 3) == pytest.approx(
        np.array([[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.3, 0.0, 0.7]])
    )
    with pytest.raises(ValueError, match="accepted: symmetric, pair-flip"):
        noise_transition_matrix("uniform", 0.3, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["symmetric", "pair-flip"])
def test_noise_rate_is_exact_and_only_touches_the_given_nodes(kind: str) -> None:
    labels = np.arange(40) % 4
    nodes = np.arange(10, 30)  # 20 nodes: rate 0.35 corrupts exactly 7 of them
    noisy = corrupt_labels(labels, kind, 0.35, 4, seed=5, nodes=nodes)  # type: ignore[arg-type]
    changed = np.flatnonzero(noisy != labels)
    assert changed.size == 7 and set(changed) <= set(nodes)
    if kind == "pair-flip":
        assert np.all(noisy[changed] == (labels[changed] + 1) % 4)
    again = corrupt_labels(labels, kind, 0.35, 4, seed=5, nodes=nodes)  # type: ignore[arg-type]
    assert np.array_equal(noisy, again)


def test_symmetric_noise_reaches_every_other_class_evenly() -> None:
    labels = np.zeros(30_000, dtype=np.int64)
    noisy = corrupt_labels(labels, "symmetric", 0.6, 4, seed=0)
    counts = np.bincount(noisy, minlength=4) / labels.size
    assert counts[0] == pytest.approx(0.4, abs=1e-12)  # exact: 18 000 corrupted
    assert counts[1:] == pytest.approx([0.2, 0.2, 0.2], abs=0.01)


def test_coding_rates_on_two_classes_of_two_points_by_hand() -> None:
    # n = 4, d = 2, eps^2 = 1. Z = [e1, e1, e2, e2], classes {0, 1}, {2, 3}.
    # R   = 1/2 logdet(I + 2/4 diag(2, 2)) = 1/2 log 4 = log 2
    # R_c = 2 * (2/8) logdet(I + 2/2 diag(2, 0)) = 1/2 log 3
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert float(coding_rate(z, 1.0)) == pytest.approx(math.log(2))
    assert float(class_coding_rate(z, labels, 2, 1.0)) == pytest.approx(0.5 * math.log(3))
    assert float(coding_rate_reduction(z, labels, 2, 1.0)) == pytest.approx(0.143841, abs=1e-6)
    # Collapsed: all four at e1. R = 1/2 log(1 + 2/4 * 4) = 1/2 log 3 = R_c, so Delta R = 0.
    collapsed = torch.tensor([[1.0, 0.0]] * 4)
    assert float(coding_rate_reduction(collapsed, labels, 2, 1.0)) == pytest.approx(0.0, abs=1e-6)
    # eps^2 = 0.5 doubles the scale: R = 1/2 log(1 + 2)^2 = log 3.
    assert float(coding_rate(z, 0.5)) == pytest.approx(math.log(3))


def test_gce_values_by_hand() -> None:
    # p_y = 0.5 and 0.8, q = 0.7: (1 - 0.5^0.7)/0.7 = 0.549183, (1 - 0.8^0.7)/0.7 = 0.206588.
    logits = torch.tensor([[0.0, 0.0], [math.log(0.2), math.log(0.8)]])
    labels = torch.tensor([1, 1])
    assert float(generalised_cross_entropy(logits, labels, 0.7)) == pytest.approx(
        (0.549183 + 0.206588) / 2, abs=1e-5
    )
    # q = 1 is 1 - p_y: (0.5 + 0.2) / 2.
    assert float(generalised_cross_entropy(logits, labels, 1.0)) == pytest.approx(0.35, abs=1e-6)
    with pytest.raises(ValueError, match="0 < q <= 1"):
        generalised_cross_entropy(logits, labels, 0.0)


def test_denoising_propagation_on_a_triangle_by_hand() -> None:
    # Training nodes 0, 1, 2 form a triangle, labels A, A, B; node 3 (not training) hangs
    # off node 2 and is ignored, so every training degree is 2. One step, alpha = 0.4:
    # node 2: 0.4 (0, 1) + 0.6 (e_A + e_A)/2 = (0.6, 0.4) -> corrected to A;
    # node 0: 0.4 (1, 0) + 0.6 (e_A + e_B)/2 = (0.7, 0.3).
    pairs = torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]])
    edge_index = torch.cat([pairs, pairs.flip(0)], 1)
    observed = torch.tensor([0, 0, 1, 1])
    y = denoise_labels(observed, torch.tensor([0, 1, 2]), edge_index, 4, 2, alpha=0.4, steps=1)
    expected = np.array([[0.7, 0.3], [0.7, 0.3], [0.6, 0.4], [0.0, 0.0]])
    assert y.numpy() == pytest.approx(expected)


@pytest.fixture(scope="module")
def noisy_csbm() -> tuple[NoisyNodeTask, torch.Tensor]:
    graph = contextual_sbm(CSBMConfig(num_nodes=300, homophily=0.8, average_degree=8.0), seed=0)
    task = make_node_task(graph, seed=0, train_ratio=0.3, val_ratio=0.2)
    observed = corrupt_labels(
        task.y.numpy(), "symmetric", 0.3, 4, seed=1, nodes=task.train_idx.numpy()
    )
    return NoisyNodeTask(task, torch.as_tensor(observed)), task.y


@pytest.mark.parametrize("name", list(LEARNERS))
def test_every_learner_classifies_a_noisy_csbm_well_above_chance(
    name: str, noisy_csbm: tuple[NoisyNodeTask, torch.Tensor]
) -> None:
    noisy, clean = noisy_csbm
    record = LEARNERS[name]
    params = record.params_type()
    if "epochs" in type(params).model_fields:
        params = params.model_copy(update={"epochs": 40})
    fitted = record.function(noisy, params, seed=0)
    assert fitted.predictions.shape == (noisy.task.num_nodes,)
    assert accuracy(fitted.predictions, clean, noisy.task.test_idx) > 0.6  # chance: 0.25
    if name == "erase":
        assert fitted.corrected_labels is not None
        train = noisy.task.train_idx
        # Structural denoising corrects more training labels than it breaks.
        assert accuracy(fitted.corrected_labels, clean, train) > accuracy(
            noisy.observed, clean, train
        )


def test_noisy_task_rejects_labels_of_the_wrong_shape(
    noisy_csbm: tuple[NoisyNodeTask, torch.Tensor],
) -> None:
    with pytest.raises(ValueError, match="observed labels have shape"):
        NoisyNodeTask(noisy_csbm[0].task, torch.zeros(3, dtype=torch.long))


def test_default_specs_parse_and_bad_rates_are_refused() -> None:
    for size in ("quick", "full"):
        parsed = GRAPH_LABEL_NOISE.parse(GRAPH_LABEL_NOISE.default_spec(size))
        assert [m.name for m in parsed.methods] == list(LEARNERS)
    spec = GRAPH_LABEL_NOISE.default_spec("quick")
    with pytest.raises(SpecError, match=r"pair-flip rates below 0\.5"):
        GRAPH_LABEL_NOISE.parse(spec.model_copy(update={"params": {"rates": [0.2, 0.5]}}))
    with pytest.raises(SpecError, match="nothing is downloaded"):
        GRAPH_LABEL_NOISE.parse(
            spec.model_copy(
                update={
                    "world": WorldSpec(name="planetoid", params={"folder": "/no", "name": "cora"})
                }
            )
        )


def test_a_tiny_run_reports_every_cell_against_the_clean_model() -> None:
    spec = GRAPH_LABEL_NOISE.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="csbm", params={"num_nodes": 120, "average_degree": 6.0}),
            "methods": [
                MethodConfig(name="erase", params={"epochs": 4, "probe_every": 2}),
                MethodConfig(name="gcn-ce", params={"epochs": 4}),
                MethodConfig(name="label-propagation"),
            ],
            "params": {
                "rates": [0.3],
                "planetoid": [{"folder": "/no/such/folder", "name": "cora"}],
            },
        }
    )
    result = GRAPH_LABEL_NOISE.run(GRAPH_LABEL_NOISE.parse(spec), NullProgress(), "")
    accuracy_metrics = [m for m in result.metrics if m.name == "test_accuracy"]
    assert len(accuracy_metrics) == 2 * 2 * 3  # noise kinds x rates (0, 0.3) x learners
    assert all(0.0 <= m.value <= 1.0 for m in accuracy_metrics)
    clean = next(m.value for m in result.metrics if m.name == "clean_accuracy")
    reference = next(
        m.value
        for m in accuracy_metrics
        if m.labels["method"] == "gcn-ce" and m.labels["rate"] == "0"
    )
    assert clean == reference
    assert len([m for m in result.metrics if m.name == "erase_margin"]) == 2
    observed = [m for m in result.metrics if m.name == "observed_label_accuracy"]
    # 24 training nodes (0.2 of 120); rate 0.3 corrupts round(7.2) = 7 of them.
    assert {m.labels["rate"]: round(m.value, 6) for m in observed} == {
        "0": 1.0,
        "0.3": round(17 / 24, 6),
    }
    assert any("cora: skipped" in note for note in result.notes)
    assert {c.name for c in result.curves} == {
        "accuracy-vs-noise-csbm-symmetric",
        "accuracy-vs-noise-csbm-pair-flip",
    }
