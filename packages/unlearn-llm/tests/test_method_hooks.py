"""`methods._hooks`: hooks are found by their owner (also in a deep copy) and taken off."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from unlearn_llm.methods._hooks import owned_hooks, remove_owned_hooks


class Doubler:
    def pre(self, module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        return (inputs[0] * 2,)

    def post(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return output * 2


def test_hooks_of_one_owner_type_are_found_in_a_copy_and_removed() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    x = torch.ones(1, 2)
    plain = model(x)
    owner = Doubler()
    model[0].register_forward_pre_hook(owner.pre)
    model[1].register_forward_hook(owner.post)
    model[1].register_forward_hook(lambda module, inputs, output: output)  # someone else's
    layers: list[Any] = list(model)
    layers[1].doubled_layer = 1  # what an installer marks its layers with
    duplicate = copy.deepcopy(model)
    assert [(key, type(o)) for _, key, o in owned_hooks(duplicate, Doubler)] == [
        (key, Doubler) for _, key, _ in owned_hooks(model, Doubler)
    ]
    assert len(owned_hooks(model, Doubler)) == 2
    assert not torch.equal(model(x), plain)
    assert remove_owned_hooks(model, Doubler, "doubled_layer")
    assert torch.equal(model(x), plain)
    assert len(model[1]._forward_hooks) == 1  # the other owner's hook stays
    assert not hasattr(model[1], "doubled_layer")
    assert not remove_owned_hooks(model, Doubler, "doubled_layer")
    assert remove_owned_hooks(duplicate, Doubler, "doubled_layer")
