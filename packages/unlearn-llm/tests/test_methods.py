"""Each method: a property of its result that would fail if the method did nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from unlearn_llm.data import answer_nll, sequence_logprob
from unlearn_llm.methods import (
    METHODS,
    GradientAscentParams,
    GradientDifferenceParams,
    IdkPOParams,
    NPOParams,
    RMUParams,
    SANIParams,
    SimNPOParams,
    TaskVectorParams,
    gradient_ascent,
    gradient_difference,
    idk_po,
    make_unlearn_data,
    npo,
    rmu,
    sani,
    simnpo,
    task_vector,
)
from unlearn_llm.methods.projection import project_out, retain_gradient_basis
from unlearn_schema import SpecError, UnknownNameError


def _nll(model: Any, batch: Any) -> float:
    with torch.no_grad():
        return float(answer_nll(model, batch))


FAST = {"steps": 8, "learning_rate": 1e-3, "batch_size": 16}


@pytest.mark.parametrize(
    ("method", "params"),
    [
        (gradient_ascent, GradientAscentParams(**FAST)),
        (gradient_difference, GradientDifferenceParams(**FAST)),
        (gradient_difference, GradientDifferenceParams(**FAST, retain_loss="kl")),
        (npo, NPOParams(**FAST)),
        (simnpo, SimNPOParams(**FAST)),
    ],
    ids=["ga", "gd-nll", "gd-kl", "npo", "simnpo"],
)
def test_forget_loss_rises(tiny: Any, method: Any, params: Any) -> None:
    model = tiny.fresh_model()
    before = _nll(model, tiny.data.forget)
    method(model, tiny.data, params)
    assert _nll(model, tiny.data.forget) > before + 0.5


def test_task_vector_negation_raises_forget_loss(tiny: Any) -> None:
    model = tiny.fresh_model()
    before = _nll(model, tiny.data.forget)
    params = TaskVectorParams(finetune_steps=10, learning_rate=2e-3, scale=1.0)
    task_vector(model, tiny.data, params)
    after = _nll(model, tiny.data.forget)
    assert after > max(2 * before, before + 0.1)


def test_sani_reset_hits_forget_more_than_retain_and_repair_restores_retain(tiny: Any) -> None:
    model = tiny.fresh_model()
    forget_before, retain_before = _nll(model, tiny.data.forget), _nll(model, tiny.data.retain)
    after_reset: dict[str, float] = {}

    def on_step(step: int, current: Any) -> None:
        if step == 0:
            after_reset["forget"] = _nll(current, tiny.data.forget)
            after_reset["retain"] = _nll(current, tiny.data.retain)

    sani(
        model,
        tiny.data,
        SANIParams(reset_fraction=0.3, layers=2, repair_steps=10),
        on_step=on_step,
    )
    # The neurons chosen for the forget set carry more of it than of the retain set.
    assert after_reset["forget"] - forget_before > after_reset["retain"] - retain_before
    assert _nll(model, tiny.data.retain) < after_reset["retain"]


def test_gradient_difference_keeps_retain_better_than_gradient_ascent(tiny: Any) -> None:
    ascent, difference = tiny.fresh_model(), tiny.fresh_model()
    gradient_ascent(ascent, tiny.data, GradientAscentParams(**{**FAST, "steps": 15}))
    gradient_difference(difference, tiny.data, GradientDifferenceParams(**{**FAST, "steps": 15}))
    assert _nll(difference, tiny.data.retain) < _nll(ascent, tiny.data.retain)


def test_idk_po_prefers_i_dont_know_over_the_answer(tiny: Any) -> None:
    model = tiny.fresh_model()

    def margin() -> float:
        with torch.no_grad():
            idk, _ = sequence_logprob(model, tiny.data.forget_idk)
            true, _ = sequence_logprob(model, tiny.data.forget)
        return float((idk - true).mean())

    before = margin()
    idk_po(model, tiny.data, IdkPOParams(**FAST))
    assert margin() > before + 1.0


def test_idk_po_params_are_typed_and_refusals_vary(tiny: Any) -> None:
    from unlearn_llm.data import IDK_ANSWERS

    with pytest.raises(SpecError, match="forget_weight"):
        METHODS.validate_params("idk-po", {"forget_weight": 0.0})
    with pytest.raises(SpecError, match="retain_loss"):
        METHODS.validate_params("idk-po", {"retain_loss": "mse"})
    rows = tiny.data.forget_idk
    decoded = {
        tiny.tokenizer.decode(row[label != -100][:-1]).strip()
        for row, label in zip(rows.input_ids, rows.labels, strict=True)
    }
    assert len(decoded) >= 3 and decoded <= set(IDK_ANSWERS)


def test_idk_po_with_kl_retain_term_keeps_retain_closer_than_without(tiny: Any) -> None:
    params = {**FAST, "steps": 12, "learning_rate": 2e-3}
    alone, with_kl = tiny.fresh_model(), tiny.fresh_model()
    idk_po(alone, tiny.data, IdkPOParams(**params, retain_weight=0.0))
    idk_po(with_kl, tiny.data, IdkPOParams(**params, retain_loss="kl", retain_weight=5.0))
    assert _nll(with_kl, tiny.data.retain) < _nll(alone, tiny.data.retain)


def test_rmu_moves_forget_activations_towards_the_steering_vector(tiny: Any) -> None:
    from unlearn_llm.methods.rmu import _hidden, steering_target

    model = tiny.fresh_model()
    target = steering_target(64, 20.0, torch.Generator().manual_seed(0))
    mask = tiny.data.forget.attention_mask.bool()

    def distance() -> float:
        with torch.no_grad():
            return float((_hidden(model, tiny.data.forget, 0) - target).norm(dim=-1)[mask].mean())

    before = distance()
    # the default trains one down-projection here (layer 0 only): a larger step size
    rmu(model, tiny.data, RMUParams(steps=10, learning_rate=1e-2, layer=0, seed=0))
    assert distance() < before - 1.0
    assert all(p.requires_grad for p in model.parameters())


def test_rmu_trains_only_what_was_trainable_and_restores_every_flag(tiny: Any) -> None:
    # As on a LoRA-wrapped model: part of the network frozen before unlearning.
    model = tiny.fresh_model()
    frozen = {name for name, p in model.named_parameters() if "mlp" in name}
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    rmu(
        model, tiny.data, RMUParams(steps=4, steering_coefficient=20.0, layer=0, trainable="layers")
    )
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == (name not in frozen), name
        if name in frozen:
            assert torch.equal(parameter, before[name]), f"{name} was frozen but changed"


def test_projection_is_orthogonal_to_every_retain_gradient() -> None:
    generator = torch.Generator().manual_seed(0)
    basis = torch.randn(5, 1000, generator=generator, dtype=torch.float64)
    vector = torch.randn(1000, generator=generator, dtype=torch.float64)
    projected = project_out(vector, basis)
    relative = (basis @ projected).abs().max() / (basis.norm(dim=1).max() * vector.norm())
    assert float(relative) < 1e-10
    # Projecting twice changes nothing; a vector already orthogonal is kept.
    assert torch.allclose(project_out(projected, basis), projected, atol=1e-10)
    # float32 gradients stay float32 (no P-sized float64 copy) and are orthogonal to
    # float32 precision.
    single = project_out(vector.float(), basis.float())
    assert single.dtype == torch.float32
    relative = (basis.float() @ single).abs().max() / (basis.norm(dim=1).max() * vector.norm())
    assert float(relative) < 1e-5


def test_projected_sgd_update_leaves_retain_loss_unchanged_to_first_order(tiny: Any) -> None:
    model = tiny.fresh_model()
    # One retain batch holding every retain row: its gradient spans the basis exactly.
    data = copy.copy(tiny.data)
    retain_rows = len(data.retain)
    parameters = [p for p in model.parameters() if p.requires_grad]
    model.train()
    basis = retain_gradient_basis(model, parameters, [data.retain.trimmed()])
    before = [p.detach().clone() for p in parameters]
    params = METHODS.validate_params(
        "gradient-ascent",
        {
            "steps": 1,
            "optimizer": "sgd",
            "learning_rate": 0.05,
            "batch_size": max(retain_rows, len(data.forget)),
            "max_grad_norm": 1e6,
            "projection": {"retain_batches": 1, "retain_batch_size": retain_rows},
        },
    )
    gradient_ascent(model, data, params)
    update = torch.cat(
        [(p.detach() - b).reshape(-1) for p, b in zip(parameters, before, strict=True)]
    )
    assert update.norm() > 0
    retain_gradient = basis[0].double()
    cosine = float(
        (retain_gradient @ update.double()) / (retain_gradient.norm() * update.double().norm())
    )
    assert abs(cosine) < 1e-4


def test_projection_basis_batch_defaults_to_half_the_batch_and_is_configurable(
    tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import unlearn_llm.methods.projection as projection

    rows: list[int] = []
    original = projection.retain_gradient_basis

    def spy(model: Any, parameters: Any, batches: Any) -> torch.Tensor:
        rows.extend(len(batch) for batch in batches)
        return original(model, parameters, batches)

    monkeypatch.setattr(projection, "retain_gradient_basis", spy)
    base = {"steps": 2, "batch_size": 8}
    with_projection = METHODS.validate_params("gradient-ascent", {**base, "projection": {}})
    gradient_ascent(tiny.fresh_model(), tiny.data, with_projection)
    assert rows == [4, 4]  # one basis batch of half the batch size per step
    rows.clear()
    projection = {"retain_batches": 2, "retain_batch_size": 3, "refresh_every": 2}
    npo(tiny.fresh_model(), tiny.data, NPOParams(**base, projection=projection))
    assert rows == [3, 3]  # two batches of 3 rows, refreshed at the first of two steps
    with pytest.raises(SpecError, match="retain_batch_size"):
        METHODS.validate_params("npo", {"projection": {"retain_batch_size": 0}})


def test_bad_method_parameter_is_refused_before_training(tiny: Any) -> None:
    model = tiny.fresh_model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(SpecError, match=r"params.beta.*greater than 0 \(got -1.0\)"):
        METHODS.validate_params("npo", {"beta": -1.0})
    with pytest.raises(SpecError, match="learning_rate"):
        METHODS.validate_params("gradient-ascent", {"learning_rate": 0})
    with pytest.raises(UnknownNameError, match=r"unknown method 'gradient-descent'.*accepted: "):
        METHODS.validate_params("gradient-descent", {})
    # A dict handed straight to an entry function is refused, not silently parsed.
    with pytest.raises(TypeError, match="params must be a NPOParams, got dict"):
        npo(model, tiny.data, {"beta": 0.5})  # type: ignore[arg-type]
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))


def test_rmu_layer_out_of_range_names_the_accepted_layers(tiny: Any) -> None:
    with pytest.raises(ValueError, match=r"RMU layer=5 does not exist.*accepted 0..1"):
        rmu(tiny.fresh_model(), tiny.data, RMUParams(layer=5))


def test_empty_forget_set_and_overlap_are_refused(tiny: Any) -> None:
    forget, retain = tiny.world.split("forget"), tiny.world.split("retain")
    with pytest.raises(ValueError, match="the forget set is empty"):
        make_unlearn_data(tiny.tokenizer, [], retain)
    with pytest.raises(ValueError, match=r"1 fact\(s\) are in both the forget and the retain set"):
        make_unlearn_data(tiny.tokenizer, forget, [*retain, forget[0]])


def test_every_registered_method_has_params_with_defaults_and_one_entry_shape() -> None:
    import inspect

    for name, record in METHODS.items():
        assert record.params_type().model_dump() is not None, name
        signature = inspect.signature(record.function)
        positional = [
            p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
        ]
        keyword_only = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
        assert positional == ["model", "data", "params"], name
        assert keyword_only == ["on_step"], name
