"""SPM composition: several membranes, one per concept, each with its own transport
strength; a membrane whose strength is 0 adds nothing (worked by hand on a tiny layer
and checked on the pipeline), and detaching leaves the UNet exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.spm import (
    Membrane,
    _GroupedMembraneHook,
    _GroupState,
    _MembraneHook,
    _State,
    attach_membrane,
    detach_membranes,
    erase_spm,
    membrane_of,
    membranes_of,
    train_membrane,
    train_membranes,
)
from erase_diffusion.worlds.shapes import make_concept

FEW = {"iterations": 2, "batch_size": 2, "anchor_samples": 2, "ddim_steps": 3}
CIRCLE = make_concept("circle", prompts_per_concept=2)
RED = make_concept("red", prompts_per_concept=2)


def _state(strength: list[float]) -> _State:
    state = _State("off", ["c"], torch.zeros(1, 1, dtype=torch.float64), [set()])
    state.strength = torch.tensor(strength)
    return state


def _layer() -> torch.nn.Linear:
    layer = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(2))
    return layer


def test_two_membranes_on_a_tiny_layer_worked_by_hand() -> None:
    # W = I; membrane 1: d1 = (1, 1), u1 = (2, 0); membrane 2: d2 = (1, -1), u2 = (0, 3).
    d1, u1 = torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0], [0.0]])
    d2, u2 = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0], [3.0]])
    x = torch.tensor([[1.0, 2.0], [3.0, 1.0]])
    both = _layer()
    # Sample 0: gamma_1 = 0.5, gamma_2 = 0; sample 1: gamma_1 = gamma_2 = 1.
    both.register_forward_hook(_MembraneHook(d1, u1, None, _state([0.5, 1.0])))
    both.register_forward_hook(_MembraneHook(d2, u2, None, _state([0.0, 1.0])))
    alone = _layer()
    alone.register_forward_hook(_MembraneHook(d1, u1, None, _state([0.5, 1.0])))
    with torch.no_grad():
        out_both, out_alone = both(x), alone(x)
    # x0 = (1, 2): W x0 + 0.5 u1 (d1.x0 = 3) = (1, 2) + (3, 0) = (4, 2), membrane 2 shut.
    # x1 = (3, 1): (3, 1) + u1 (d1.x1 = 4) + u2 (d2.x1 = 2) = (3, 1) + (8, 0) + (0, 6).
    assert out_both.tolist() == [[4.0, 2.0], [11.0, 7.0]]
    assert torch.equal(out_both[0], out_alone[0])
    assert out_alone[1].tolist() == [11.0, 1.0]


@pytest.fixture(scope="module")
def membranes(tiny_pipe: Any) -> list[Membrane]:
    return [
        train_membrane(tiny_pipe, EraseRequest([c]), {**FEW, "seed": i})
        for i, c in enumerate((CIRCLE, RED))
    ]


def _states(pipe: Any) -> list[_State]:
    found: list[_State] = []
    for module in pipe.unet.modules():
        for hook in module._forward_hooks.values():
            if isinstance(hook, _MembraneHook) and all(hook.state is not s for s in found):
                found.append(hook.state)
    return found


def test_a_shut_membrane_leaves_the_other_acting_alone(
    tiny_pipe: Any, membranes: list[Membrane]
) -> None:
    both = attach_membrane(tiny_pipe, membranes, "tokenuni")
    circle_only = attach_membrane(tiny_pipe, membranes[0], "tokenuni")
    assert [m.concepts for m in membranes_of(both)] == [["circle"], ["red"]]
    prompts = [
        "a blue circle on a dark plain background",
        "a red square on a dark plain background",
    ]
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out_both = both.unet(x, 10, encoder_hidden_states=both.encode(prompts)).sample
        strengths = [s.strength.tolist() for s in _states(both) if s.strength is not None]
        out_alone = circle_only.unet(x, 10, encoder_hidden_states=circle_only.encode(prompts))
        base = tiny_pipe.unet(x, 10, encoder_hidden_states=tiny_pipe.encode(prompts)).sample
    # gamma_circle = (1, 0), gamma_red = (0, 1): each prompt opens only its own membrane.
    assert strengths == [[1.0, 0.0], [0.0, 1.0]]
    # The blue circle: red's membrane is shut, so the pair equals circle's membrane alone.
    assert torch.equal(out_both[0], out_alone.sample[0])
    assert not torch.equal(out_both[0], base[0])
    # The red square: circle's membrane is shut, red's is open.
    assert torch.equal(out_alone.sample[1], base[1]) and not torch.equal(out_both[1], base[1])


def test_attach_then_detach_leaves_the_unet_bit_identical(
    tiny_pipe: Any, membranes: list[Membrane]
) -> None:
    before = {k: v.clone() for k, v in tiny_pipe.unet.state_dict().items()}
    attached = attach_membrane(tiny_pipe, membranes, ["clipcos_tokenuni", "clipcos"])
    detached = detach_membranes(attached)
    assert len(membranes_of(attached)) == 2  # the copy kept them
    for module in [*detached.unet.modules(), *detached.text_encoder.modules()]:
        assert not module._forward_hooks and not module._forward_pre_hooks
    after = detached.unet.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    prompts = ["a red circle on a dark plain background"]
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = detached.unet(x, 10, encoder_hidden_states=detached.encode(prompts)).sample
        base = tiny_pipe.unet(x, 10, encoder_hidden_states=tiny_pipe.encode(prompts)).sample
        opened = attached.unet(x, 10, encoder_hidden_states=attached.encode(prompts)).sample
    assert torch.equal(out, base) and not torch.equal(opened, base)
    detach_membranes(attached, in_place=True)
    with pytest.raises(ValueError, match="no SPM attached"):
        membranes_of(attached)


def test_per_concept_erasure_is_the_single_concept_membranes_composed(tiny_pipe: Any) -> None:
    request = EraseRequest([CIRCLE, RED])
    composed = membranes_of(erase_spm(tiny_pipe, request, FEW))
    assert [m.concepts for m in composed] == [["circle"], ["red"]]
    # Membrane i is the one trained for concept i (from seed + i) side by side with the
    # others: no joint retraining; the next test checks it against training alone.
    side_by_side = train_membranes(tiny_pipe, [EraseRequest([CIRCLE]), EraseRequest([RED])], FEW)
    for got, alone in zip(composed, side_by_side, strict=True):
        for name, (down, up) in alone.layers.items():
            assert torch.equal(got.layers[name][0], down) and torch.equal(got.layers[name][1], up)
    with pytest.raises(ValueError, match="membranes_of"):
        membrane_of(erase_spm(tiny_pipe, request, FEW))
    joint = membranes_of(erase_spm(tiny_pipe, request, {**FEW, "composition": "joint"}))
    assert [m.concepts for m in joint] == [["circle", "red"]]


def test_membranes_trained_side_by_side_are_the_ones_trained_alone(
    tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under plain SGD the batched loop must give each membrane its own gradient: equal to
    # training alone up to float rounding. (Under Adam, rounding-level differences of
    # near-zero gradients become whole steps, so only SGD shows the equivalence.)
    def sgd(params: Any, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=100.0)

    monkeypatch.setattr(torch.optim, "Adam", sgd)
    alone = [
        train_membrane(tiny_pipe, EraseRequest([c]), {**FEW, "seed": i})
        for i, c in enumerate((CIRCLE, RED))
    ]
    together = train_membranes(tiny_pipe, [EraseRequest([CIRCLE]), EraseRequest([RED])], FEW)
    for got, want in zip(together, alone, strict=True):
        assert got.concepts == want.concepts
        for name, (down, up) in want.layers.items():
            assert float(up.abs().max()) > 0  # trained: the up factor starts at zero
            torch.testing.assert_close(got.layers[name][0], down, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(got.layers[name][1], up, rtol=1e-4, atol=1e-5)
    # And the two membranes differ (own prompts, own seed): no cross-talk made them one.
    name = next(iter(alone[0].layers))
    assert not torch.allclose(together[0].layers[name][1], together[1].layers[name][1])


def test_grouped_hook_gives_each_row_its_own_membrane_worked_by_hand() -> None:
    # Layer W = I (2x2); membrane 0: d = (1, 0), u = (1, 1); membrane 1: d = (0, 1),
    # u = (2, 0). Row x = (3, 5) under membrane 0: x + u (d.x) = (3, 5) + 3 (1, 1) = (6, 8);
    # under membrane 1: (3, 5) + 5 (2, 0) = (13, 5).
    layer = _layer()
    state = _GroupState()
    downs = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # (K, 1, in)
    ups = torch.tensor([[[1.0], [1.0]], [[2.0], [0.0]]])  # (K, out, 1)
    layer.register_forward_hook(_GroupedMembraneHook(downs, ups, None, state))
    x = torch.tensor([[3.0, 5.0], [3.0, 5.0], [3.0, 5.0]])
    state.groups = torch.tensor([0, 1, 0])
    assert layer(x).tolist() == [[6.0, 8.0], [13.0, 5.0], [6.0, 8.0]]
    state.enabled = False
    assert layer(x).tolist() == x.tolist()
    # A 1x1 convolution takes the same path per pixel: channels (3, 5) at one pixel.
    conv = torch.nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))
    conv_state = _GroupState()
    conv.register_forward_hook(
        _GroupedMembraneHook(
            downs.reshape(2, 1, 2, 1, 1),
            ups.reshape(2, 2, 1, 1, 1),
            ((1, 1), (0, 0), (1, 1)),
            conv_state,
        )
    )
    conv_state.groups = torch.tensor([1, 0])
    image = torch.tensor([3.0, 5.0]).reshape(1, 2, 1, 1).repeat(2, 1, 1, 1)
    assert conv(image).reshape(2, 2).tolist() == [[13.0, 5.0], [6.0, 8.0]]


def test_attach_checks_the_list_and_the_transports(
    tiny_pipe: Any, membranes: list[Membrane]
) -> None:
    with pytest.raises(ValueError, match="at least one membrane"):
        attach_membrane(tiny_pipe, [])
    with pytest.raises(ValueError, match="one per membrane"):
        attach_membrane(tiny_pipe, membranes, ["off"])
