"""Image models: data, the tiny ViT and its cache, each unlearning method, the attacks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from erase_diffusion.benchmarks.vision import _h_mean
from erase_diffusion.vision.data import class_indices, class_names, labelled_images
from erase_diffusion.vision.methods import METHODS
from erase_diffusion.vision.methods.gs_lora import (
    FFN_LINEARS,
    GSLoRAParams,
    group_sparse_penalty,
    gs_lora_task,
    joint_logits,
    lora_groups,
    prototype_divergence,
)
from erase_diffusion.vision.methods.random_labels import random_wrong_labels
from erase_diffusion.vision.methods.request import ClassForgetRequest
from erase_diffusion.vision.model import (
    ClassifierTraining,
    TinyViTParams,
    accuracy,
    build_vit,
    trained_classifier,
)

TINY = TinyViTParams(hidden_size=16, layers=2, heads=2, mlp_size=32)


@pytest.fixture(scope="module")
def data() -> Any:
    return labelled_images(6, "colour", seed=0)


@pytest.fixture(scope="module")
def request_red(data: Any) -> ClassForgetRequest:
    return ClassForgetRequest(data.of_classes({0}), data.without_classes({0}), (0,), 5)


def test_labelled_images_are_balanced_and_classes_are_named() -> None:
    images = labelled_images(3, "shape-colour", seed=1)
    assert images.images.shape == (60, 3, 16, 16)
    assert np.bincount(images.labels).tolist() == [3] * 20
    assert class_names("shape-colour")[:2] == ["red circle", "green circle"]
    assert class_indices(["blue square"], "shape-colour") == [7]
    with pytest.raises(ValueError, match="accepted: circle, square"):
        class_indices(["hexagon"], "shape")


def test_a_request_rejects_leaked_or_stray_classes(data: Any) -> None:
    with pytest.raises(ValueError, match="retain set holds classes to forget"):
        ClassForgetRequest(data.of_classes({0}), data, (0,), 5)
    with pytest.raises(ValueError, match="not in forget_classes"):
        ClassForgetRequest(data.of_classes({0, 1}), data.without_classes({0, 1}), (0,), 5)


def test_group_sparse_penalty_on_a_hand_worked_example() -> None:
    # Group 1: A = [3, 0], B = [[4]] -> sqrt(9 + 16) = 5. Group 2: [1, 2, 2] -> 3.
    groups = [
        [torch.tensor([3.0, 0.0]), torch.tensor([[4.0]])],
        [torch.tensor([1.0]), torch.tensor([2.0, 2.0])],
    ]
    assert group_sparse_penalty(groups).item() == pytest.approx(8.0)
    # A group norm, not a sum of per-tensor norms (which would give 3 + 4 + 1 + 2.83).
    with pytest.raises(ValueError, match="at least one group"):
        group_sparse_penalty([])


def test_the_group_penalty_zeroes_a_block_no_loss_needs() -> None:
    # Two LoRA groups; only group 0 can lower the data loss. Under GS-LoRA's objective
    # (data loss + alpha * sum of group norms, AdamW as in gs_lora_task) the untouched
    # group shrinks to (numerically) zero while the used one stays.
    torch.manual_seed(0)
    used = [torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(4))]
    untouched = [torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(4))]
    target = torch.ones(4)
    optimizer = torch.optim.AdamW([*used, *untouched], lr=0.02, weight_decay=0.0)
    for _ in range(300):
        loss = ((used[0] * used[1] - target) ** 2).sum()
        loss = loss + 0.05 * group_sparse_penalty([used, untouched])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    norm = torch.linalg.vector_norm(torch.cat([p.detach() for p in untouched])).item()
    kept = torch.linalg.vector_norm(torch.cat([p.detach() for p in used])).item()
    assert norm < 0.05 and kept > 1.5


def test_prototype_divergence_is_kl_of_prototype_to_prediction() -> None:
    # p = softmax([0, 0]) = (1/2, 1/2); q = softmax([ln 3, 0]) = (3/4, 1/4).
    # KL(p || q) = 1/2 ln(2/3) + 1/2 ln(2) = 1/2 ln(4/3).
    logits = torch.tensor([[math.log(3.0), 0.0]])
    value = prototype_divergence(logits, torch.tensor([1]), {1: torch.zeros(2)})
    assert value.item() == pytest.approx(0.5 * math.log(4 / 3), abs=1e-6)


def test_h_mean_on_hand_worked_values() -> None:
    # drop 0.8, remaining 0.6: 2 * 0.48 / 1.4
    assert _h_mean(0.9 - 0.1, 0.6) == pytest.approx(0.96 / 1.4)
    assert _h_mean(-0.1, 0.7) == 0.0  # no drop: nothing forgotten


def test_random_wrong_labels_land_on_kept_classes() -> None:
    labels = torch.zeros(200, dtype=torch.long)
    wrong = random_wrong_labels(labels, 4, (0, 2), torch.Generator().manual_seed(0))
    assert set(wrong.tolist()) == {1, 3}


def test_the_classifier_is_cached_and_the_oracle_never_sees_the_class(
    tmp_path: Path,
) -> None:
    training = ClassifierTraining(
        label="colour", train_per_class=4, steps=15, batch_size=8, learning_rate=3e-3, model=TINY
    )
    oracle, seconds, cached = trained_classifier(training, (0,), cache=tmp_path)
    assert not cached and seconds > 0
    again, seconds_again, cached_again = trained_classifier(training, (0,), cache=tmp_path)
    assert cached_again and seconds_again == pytest.approx(seconds)
    probe = labelled_images(4, "colour", seed=5)
    for a, b in zip(oracle.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    assert accuracy(oracle, probe.of_classes({0})) == 0.0
    with pytest.raises(ValueError, match=r"outside 0\.\.4"):
        trained_classifier(training, (7,), cache=tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.requires("peft")) if n.startswith("gs-lora") else n
        for n in METHODS
        if n != "retrain"
    ],
)
def test_every_method_returns_a_new_model_and_leaves_the_input(
    name: str, request_red: ClassForgetRequest
) -> None:
    model = build_vit(TINY, 5, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    spec = METHODS[name]
    params = spec.params_type(steps=3, batch_size=8)
    forgotten = spec.function(model, request_red, params)
    assert forgotten is not model
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    changed = any(
        not torch.equal(a, p) for a, p in zip(before, forgotten.parameters(), strict=True)
    )
    assert changed
    assert all(p.requires_grad for p in forgotten.parameters())


def test_retrain_builds_a_fresh_model_of_the_same_shape(request_red: ClassForgetRequest) -> None:
    model = build_vit(TINY, 5, seed=0)
    spec = METHODS["retrain"]
    fresh = spec.function(model, request_red, spec.params_type(steps=2, batch_size=8))
    assert fresh.config.hidden_size == 16 and fresh.config.num_labels == 5


@pytest.mark.requires("peft")
def test_gs_lora_trains_only_ffn_lora_and_reports_one_group_per_block(
    request_red: ClassForgetRequest,
) -> None:
    model = build_vit(TINY, 5, seed=0)
    result = gs_lora_task(model, request_red, GSLoRAParams(steps=3, batch_size=8))
    assert len(result.group_norms) == 2 and all(n > 0 for n in result.group_norms)
    names = {n for n, _ in result.model.named_parameters()}
    assert not any("lora" in n for n in names)  # merged back into plain weights
    # Attention and the head are frozen during the task: merged model keeps them.
    for (n, a), b in zip(model.named_parameters(), result.model.parameters(), strict=True):
        if "attention" in n or "classifier" in n or "embeddings" in n:
            assert torch.equal(a, b), n


def test_joint_logits_are_the_logits_of_two_separate_passes(data: Any) -> None:
    model = build_vit(TINY, 5, seed=0).train()
    x_r, x_f = torch.from_numpy(data.images[:7]), torch.from_numpy(data.images[7:10])
    z_r, z_f = joint_logits(model, x_r, x_f)
    assert z_r.shape == (7, 5) and z_f.shape == (3, 5)
    torch.testing.assert_close(z_r, model(pixel_values=x_r).logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z_f, model(pixel_values=x_f).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.requires("peft")
def test_gs_lora_first_loss_is_the_papers_loss_from_two_passes(
    request_red: ClassForgetRequest,
) -> None:
    # At step 0 LoRA's B is zero, so the wrapped model is the original: the first loss
    # is CE(f(x_r), y_r) + beta * ReLU(BND - CE(f(x_f), y_f)) + alpha * sum_k ||A_k||,
    # written here with two separate passes over the batches gs_lora_task draws
    # (retain first, then forget, from one generator seeded with params.seed).
    import copy

    from peft import LoraConfig, get_peft_model

    model = build_vit(TINY, 5, seed=0)
    params = GSLoRAParams(steps=1, batch_size=8, bound=4.0, forget_weight=0.5)
    result = gs_lora_task(model, request_red, params)
    torch.manual_seed(params.seed)
    config = LoraConfig(r=params.rank, lora_alpha=params.lora_alpha, target_modules=FFN_LINEARS)
    penalty = group_sparse_penalty(lora_groups(get_peft_model(copy.deepcopy(model), config)))
    generator = torch.Generator().manual_seed(params.seed)
    retain, forget = request_red.retain, request_red.forget
    r = torch.randint(0, len(retain), (8,), generator=generator)
    f = torch.randint(0, len(forget), (min(8, len(forget)),), generator=generator)
    ce = torch.nn.functional.cross_entropy
    model.train()
    with torch.no_grad():
        loss_r = ce(
            model(pixel_values=torch.from_numpy(retain.images)[r]).logits,
            torch.from_numpy(retain.labels)[r],
        )
        loss_f = ce(
            model(pixel_values=torch.from_numpy(forget.images)[f]).logits,
            torch.from_numpy(forget.labels)[f],
        )
    expected = loss_r + 0.5 * torch.relu(4.0 - loss_f) + params.sparsity_weight * penalty
    assert result.losses[0] == pytest.approx(expected.item(), rel=1e-5)
