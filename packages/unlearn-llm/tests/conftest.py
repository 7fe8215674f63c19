"""Shared fixtures: a tiny world, its tokenizer, and a tiny model that learned it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Tiny:
    world: Any
    tokenizer: Any
    params: Any
    model: Any
    data: Any

    def fresh_model(self) -> Any:
        return copy.deepcopy(self.model)

    def attack_target(self, model: Any, **extra: Any) -> Any:
        """An ``AttackTarget`` on ``model`` with this world's splits (16 retain facts)."""
        from unlearn_llm.attacks.recovery import AttackTarget

        return AttackTarget(
            model=model,
            tokenizer=self.tokenizer,
            world=self.world,
            forget=self.world.split("forget"),
            retain=self.world.split("retain")[:16],
            general=self.world.split("general"),
            holdout=self.world.split("holdout"),
            seed=0,
            **extra,
        )


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Never write into the user's cache from tests.
    monkeypatch.setenv("UNLEARN_LLM_CACHE", str(tmp_path / "cache"))
    yield


@pytest.fixture(scope="session")
def tiny() -> Tiny:
    import torch
    from unlearn_llm.data import encode_facts
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.models import TinyLlamaParams, build_model, train_to_memorise, training_facts
    from unlearn_llm.worlds.facts import build_world, tiny_world_params
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    torch.set_num_threads(1)
    world = build_world(tiny_world_params(), seed=0)
    tokenizer = train_tokenizer(world, vocab_size=384)
    params = TinyLlamaParams(
        hidden_size=64,
        layers=2,
        heads=2,
        intermediate_size=128,
        vocab_size=384,
        max_epochs=30,
        learning_rate=5e-3,
        batch_size=16,
        target_accuracy=0.95,
    )
    model = build_model(params, seed=0)
    train_to_memorise(model, encode_facts(tokenizer, training_facts(world, "original")), params, 0)
    data = make_unlearn_data(tokenizer, world.split("forget"), world.split("retain"))
    return Tiny(world, tokenizer, params, model, data)


@pytest.fixture(scope="session")
def tiny_oracle(tiny: Tiny) -> Any:
    """The tiny world's exact retrain oracle: the ``tiny`` recipe without the forget set."""
    from unlearn_llm.data import encode_facts
    from unlearn_llm.models import build_model, train_to_memorise, training_facts

    model = build_model(tiny.params, seed=0)
    facts = training_facts(tiny.world, "oracle")
    train_to_memorise(model, encode_facts(tiny.tokenizer, facts), tiny.params, 0)
    return model
