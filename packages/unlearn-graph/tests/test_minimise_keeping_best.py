"""`training.minimise_keeping_best`: the weights of the best validation step come back."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn
from unlearn_graph.training import minimise_keeping_best


def test_the_first_best_step_is_kept_and_the_model_ends_in_eval_mode() -> None:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    scripted = iter([0.2, 0.5, 0.5, 0.1])
    seen: list[float] = []

    def validation_accuracy() -> float:
        assert not model.training and not torch.is_grad_enabled()
        seen.append(float(model.weight))
        return next(scripted)

    def loss() -> torch.Tensor:
        model.train()
        return ((model.weight - 3.0) ** 2).sum()

    schedule = SimpleNamespace(epochs=4, learning_rate=0.5, weight_decay=0.0)
    best = minimise_keeping_best(loss, model, schedule, validation_accuracy)
    assert best == 0.5
    assert len(seen) == 4 and len(set(seen)) == 4  # every step moved the weight
    assert float(model.weight) == seen[1]  # the tie at step 3 keeps step 2
    assert not model.training


def test_no_steps_keeps_the_initial_weights() -> None:
    model = nn.Linear(2, 1)
    before = [p.detach().clone() for p in model.parameters()]
    schedule = SimpleNamespace(epochs=0, learning_rate=0.1, weight_decay=0.0)
    best = minimise_keeping_best(lambda: model.weight.sum(), model, schedule, lambda: 1.0)
    assert best == -1.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
