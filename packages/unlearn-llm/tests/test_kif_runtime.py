"""KIF's runtime suppression: the hook's arithmetic on hand-worked tensors, a signature
direction planted in the tiny model (removed where the gate fires, nothing touched where
it does not), exact restore, and the hooks hiding forget facts on the tiny model."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from unlearn_llm.data import sequence_logprob
from unlearn_llm.methods import METHODS, KIFRuntimeParams, kif_runtime
from unlearn_llm.methods._common import decoder_layers
from unlearn_llm.methods.kif import subject_tokens
from unlearn_llm.methods.kif_runtime import (
    RuntimeSuppression,
    installed_kif_runtime,
    kif_runtime_firing_rate,
    kif_runtime_firing_rates,
    max_presence,
    remove_kif_runtime,
)


def _hand_suppression(threshold: float, damping: float) -> RuntimeSuppression:
    basis = torch.tensor([[1.0], [0.0], [0.0]])  # U = e_1
    baseline = torch.tensor([1.0, 0.0, 0.0])  # mu
    return RuntimeSuppression({0: basis}, {0: baseline}, {0: threshold}, damping)


HIDDEN = torch.tensor(
    [
        [
            [3.0, 1.0, 0.0],  # delta (2, 1, 0): c = 4 / 5 = 0.8
            [1.5, 2.0, 0.0],  # delta (0.5, 2, 0): c = 0.25 / 4.25 ~ 0.059
            [1.0, 0.0, 0.0],  # delta 0: c = 0
        ]
    ]
)


def test_the_hook_removes_the_signature_where_present_worked_by_hand() -> None:
    layer0 = SimpleNamespace(kif_runtime_layer=0)
    suppression = _hand_suppression(threshold=0.5, damping=1.0)
    extra = torch.tensor(7.0)
    changed, passed = suppression.suppress_hook(layer0, (), (HIDDEN, extra))  # type: ignore[arg-type]
    assert passed is extra  # the rest of a layer's tuple output goes through
    # present (0.8 > 0.5): h - U U^T delta = (3, 1, 0) - (2, 0, 0) = (1, 1, 0)
    assert changed.tolist() == [[[1.0, 1.0, 0.0], [1.5, 2.0, 0.0], [1.0, 0.0, 0.0]]]
    assert suppression.fired[0].tolist() == [[True, False, False]]
    damped = _hand_suppression(threshold=0.5, damping=0.25).suppress_hook(layer0, (), HIDDEN)  # type: ignore[arg-type]
    assert damped[0, 0].tolist() == [2.5, 1.0, 0.0]  # a quarter of (2, 0, 0) removed
    # tau 0.05: the second position (c ~ 0.059) fires too; its (0.5, 0, 0) goes
    low = _hand_suppression(threshold=0.05, damping=1.0)
    assert low.suppress_hook(layer0, (), HIDDEN)[0, 1].tolist() == [1.0, 2.0, 0.0]  # type: ignore[arg-type]
    assert low.fired[0].tolist() == [[True, True, False]]
    # the gate read over a mask: only the second position counts, and it fired
    assert low.fired_anywhere(torch.tensor([[0, 1, 0]])).tolist() == [True]
    assert suppression.fired_anywhere(torch.tensor([[0, 1, 1]])).tolist() == [False]


def test_max_presence_is_the_largest_share_over_the_mask() -> None:
    basis = torch.tensor([[1.0], [0.0], [0.0]])
    baseline = torch.tensor([1.0, 0.0, 0.0])
    scores = max_presence(HIDDEN, basis, baseline, torch.tensor([[False, True, True]]))
    assert scores.tolist() == pytest.approx([0.25 / 4.25])
    everywhere = max_presence(HIDDEN, basis, baseline, torch.ones(1, 3, dtype=torch.bool))
    assert everywhere.tolist() == pytest.approx([0.8])


def _logits(model: Any, batch: Any) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits


def _layer_output(model: Any, batch: Any, layer: int) -> torch.Tensor:
    """What decoder layer ``layer`` hands on (after every hook already on it)."""
    kept: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        kept.append(output[0] if isinstance(output, tuple) else output)

    handle = decoder_layers(model)[layer].register_forward_hook(keep)
    try:
        _logits(model, batch)
    finally:
        handle.remove()
    return kept[0]


@pytest.fixture(scope="module")
def planted(tiny: Any) -> Any:
    """The tiny model with a large component along a unit direction e added to the input
    embedding of every forget subject token: the known signature direction."""
    model = tiny.fresh_model().eval()
    direction = torch.zeros(tiny.params.hidden_size)
    direction[5] = 1.0
    tokens = subject_tokens(tiny.data.forget, tiny.data.retain)
    with torch.no_grad():
        model.get_input_embeddings().weight[tokens] += 40.0 * direction
    return model, direction, tokens


def test_a_planted_signature_is_found_and_projected_out_only_where_the_gate_fires(
    tiny: Any, planted: Any
) -> None:
    plain, direction, tokens = planted
    model = copy.deepcopy(plain)
    kif_runtime(model, tiny.data, KIFRuntimeParams(max_rank=1))
    suppression = installed_kif_runtime(model)
    assert suppression is not None and suppression.fit is not None
    basis, baseline = suppression.bases[0], suppression.baselines[0]
    # the signature subspace is the planted direction (up to sign)
    assert abs(float(basis[:, 0] @ direction)) > 0.99
    # the calibrated gate separates the rows completely
    assert suppression.fit.forget_firing_rate == 1.0
    assert suppression.fit.retain_firing_rate == 0.0

    forget = tiny.data.forget.subset(slice(0, 12))
    before = _layer_output(plain, forget, 0)
    after = _layer_output(model, forget, 0)
    fired = suppression.fired[0] & forget.attention_mask.bool()
    planted_positions = torch.isin(forget.input_ids, torch.tensor(tokens))
    assert fired[planted_positions].all()  # every planted position is gated
    # gated: the component along the signature is gone; ungated: bit for bit the same
    along = (after - baseline) @ basis
    assert along[fired].abs().max() < 1e-4
    assert ((before - baseline) @ basis)[planted_positions].abs().min() > 10.0  # it was there
    assert torch.equal(after[~fired], before[~fired])
    # retain rows never open the gate: their logits are the plain model's, bit for bit
    retain = tiny.data.retain.subset(slice(0, 24))
    assert torch.equal(_logits(model, retain), _logits(plain, retain))
    assert not (suppression.fired[0] & retain.attention_mask.bool()).any()


def test_no_parameter_changes_and_removing_the_hooks_restores_exact_logits(tiny: Any) -> None:
    model = tiny.fresh_model().eval()
    before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    rows = tiny.data.forget.subset(slice(0, 8))
    original = _logits(model, rows)
    log = METHODS["kif-runtime"].function(model, tiny.data, None)
    assert log.method == "kif-runtime" and log.steps == 0
    hooked = _logits(model, rows)
    assert not torch.equal(hooked, original)  # the forget rows are suppressed
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    with pytest.raises(ValueError, match="already has kif-runtime hooks"):
        kif_runtime(model, tiny.data)
    # a deep copy is hooked by its own copy; removing it there leaves the model hooked
    duplicate = copy.deepcopy(model)
    assert installed_kif_runtime(duplicate) is not installed_kif_runtime(model)
    assert torch.equal(_logits(duplicate, rows), hooked)
    assert remove_kif_runtime(duplicate)
    assert torch.equal(_logits(duplicate, rows), original)
    assert torch.equal(_logits(model, rows), hooked)
    assert remove_kif_runtime(model) and not remove_kif_runtime(model)
    assert torch.equal(_logits(model, rows), original)
    assert not any(hasattr(m, "kif_runtime_layer") for m in model.modules())


def _probabilities(model: Any, tiny: Any) -> tuple[float, float]:
    with torch.no_grad():
        forget, _ = sequence_logprob(model, tiny.data.forget)
        retain, _ = sequence_logprob(model, tiny.data.retain)
    return float(forget.exp().mean()), float(retain.exp().mean())


def test_the_hooks_hide_forget_facts_and_the_gate_spares_retain(tiny: Any) -> None:
    model = tiny.fresh_model().eval()
    before = _probabilities(model, tiny)
    kif_runtime(model, tiny.data)
    after = _probabilities(model, tiny)
    forget, retain = tiny.world.split("forget"), tiny.world.split("retain")
    rates = kif_runtime_firing_rates(model, tiny.tokenizer, {"forget": forget, "retain": retain})
    print(f"kif-runtime: P forget {before[0]:.3f} -> {after[0]:.3f}, retain {before[1]:.3f} ")
    print(f"-> {after[1]:.3f}; firing {rates}; fit {installed_kif_runtime(model).fit}")  # type: ignore[union-attr]
    assert set(rates) == {"forget", "forget_heldout_phrasing", "retain", "retain_heldout_phrasing"}
    assert rates["forget"] >= 0.9 and rates["retain"] <= 0.1
    # seen: forget 0.89 -> 0.024, retain 0.750 -> 0.750 (the gate never opens on retain)
    assert after[0] < 0.2 * before[0], (before, after)
    assert after[1] > before[1] - 0.02, (before, after)
    assert kif_runtime_firing_rates(tiny.fresh_model(), tiny.tokenizer, {"forget": forget}) == {}


def test_kif_runtime_errors_name_the_bad_value(tiny: Any) -> None:
    with pytest.raises(ValueError, match=r"layer\(s\) \[5\] do not exist.*accepted 0\.\.1"):
        kif_runtime(tiny.fresh_model(), tiny.data, KIFRuntimeParams(layers=[5]))
    with pytest.raises(ValueError, match="no kif-runtime hooks"):
        kif_runtime_firing_rate(tiny.fresh_model(), tiny.tokenizer, tiny.world.split("forget"))
    with pytest.raises(TypeError, match="params must be a KIFRuntimeParams"):
        kif_runtime(tiny.fresh_model(), tiny.data, {"layers": [0]})  # type: ignore[arg-type]
    params = METHODS.validate_params("kif-runtime", {"presence_threshold": 0.3})
    assert params.presence_threshold == 0.3


def test_the_facts_benchmark_times_a_hooked_forward_pass_against_the_plain_one(
    tiny: Any,
) -> None:
    from unlearn_llm.benchmarks.facts import hook_latency_ratios

    plain = tiny.fresh_model().eval()
    hooked = copy.deepcopy(plain)
    kif_runtime(hooked, tiny.data)
    threads = torch.get_num_threads()
    cpu, wall = hook_latency_ratios(hooked, plain, tiny.data.forget.subset(slice(0, 8)), 1, 3)
    assert torch.get_num_threads() == threads  # timed on one thread, then put back
    # ratios of positive times (their size depends on the machine's load: not asserted)
    assert 0.0 < cpu < float("inf") and 0.0 < wall < float("inf"), (cpu, wall)
