"""AdvUnlearn's discrete attack: on a toy encoder with a 3-token vocabulary the chosen
token is the one of lowest hand-computed attack loss (exactly, or among the
gradient-ranked candidates), the loss never rises on the tiny pipeline, and the
adversarial training with it changes only the text encoder."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from erase_diffusion.attacks.prompt_search import adversarial_ids
from erase_diffusion.methods.advunlearn import AdvUnlearnParams, attack_tokens, erase_advunlearn
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for

# Token ids 0 <start>, 1 <pad>, 2..4 the vocabulary, 5 the prompt's word.
EMBEDDING = [0.0, 0.0, 1.0, -2.0, 3.0, 0.5]
VOCABULARY = [2, 3, 4]


class _ToyEncoder(torch.nn.Module):
    """Each input embedding is its own output: last_hidden_state = E[ids]."""

    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(len(EMBEDDING), 1)
        with torch.no_grad():
            self.table.weight.copy_(torch.tensor(EMBEDDING)[:, None])

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.table

    def forward(self, ids: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(last_hidden_state=self.table(ids))


def _toy_unet(x: torch.Tensor, t: Any, encoder_hidden_states: torch.Tensor) -> SimpleNamespace:
    # The prediction is the sum of the context over tokens, the same at every pixel.
    total = encoder_hidden_states.sum(dim=(1, 2)).reshape(-1, 1, 1, 1)
    return SimpleNamespace(sample=x * 0 + total)


@pytest.mark.parametrize(("candidates", "chosen"), [(None, 2), (3, 2), (2, 2), (1, 4)])
def test_discrete_step_picks_the_hand_computed_best_token(
    candidates: int | None, chosen: int
) -> None:
    # ids <start> v 5: prediction E_v + 0.5, target 2, loss (E_v - 1.5)^2:
    # v = 2: 0.25, v = 3: 12.25, v = 4: 2.25. From v = 3 the gradient of the loss at the
    # adversarial position is 2 (-2 + 0.5 - 2) = -7, so the first-order change E_w . (-7)
    # ranks 4 (E = 3) before 2 (E = 1) before 3: one candidate takes 4 (loss 2.25), two or
    # more are evaluated exactly and 2 wins (0.25).
    pipe = SimpleNamespace(text_encoder=_ToyEncoder(), unet=_toy_unet)
    ids = torch.tensor([[0, 3, 5]])
    draw = (torch.zeros(1, 1, 2, 2), 0, torch.full((1, 1, 2, 2), 2.0))
    params = AdvUnlearnParams(attack="discrete", attack_steps=1, attack_candidates=candidates)
    out, losses = attack_tokens(pipe, ids, [1], VOCABULARY, draw, params)  # type: ignore[arg-type]
    assert out.tolist() == [[0, chosen, 5]]
    assert losses == pytest.approx([12.25])
    # A second step from the best token keeps it (nothing lowers the loss further).
    params = AdvUnlearnParams(attack="discrete", attack_steps=2, attack_candidates=None)
    out, losses = attack_tokens(pipe, ids, [1], VOCABULARY, draw, params)  # type: ignore[arg-type]
    assert out.tolist() == [[0, 2, 5]] and losses == pytest.approx([12.25, 0.25])


def test_discrete_attack_never_raises_its_loss_on_the_tiny_pipe(tiny_pipe: Any) -> None:
    prompts = ["a red circle on a dark plain background"] * 2
    special = set(tiny_pipe.tokenizer.all_special_ids)
    words = [i for i in range(len(tiny_pipe.tokenizer)) if i not in special]
    ids = adversarial_ids(tiny_pipe, prompts, [words[:3]] * 2, "prefix")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, 16, generator=generator)
    target = torch.randn(2, 3, 16, 16, generator=generator)
    params = AdvUnlearnParams(attack="discrete", attack_steps=6, attack_candidates=4)
    out, losses = attack_tokens(tiny_pipe, ids, [1, 2, 3], words, (x, 500, target), params)
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(losses))
    assert losses[-1] < losses[0]
    # Only the adversarial prefix changed, the same tokens in both rows, all vocabulary words.
    assert torch.equal(out[:, 4:], ids[:, 4:]) and torch.equal(out[0], out[1])
    assert set(out[0, 1:4].tolist()) <= set(words)


def test_discrete_adversarial_training_changes_only_the_text_encoder(tiny_pipe: Any) -> None:
    unet_before = [p.detach().clone() for p in tiny_pipe.unet.parameters()]
    encoder_before = [p.detach().clone() for p in tiny_pipe.text_encoder.parameters()]
    request = EraseRequest([make_concept("circle", prompts_per_concept=2)], prompts_for("cross", 2))
    few = {
        "iterations": 3,
        "warmup_iterations": 1,
        "attack": "discrete",
        "attack_steps": 2,
        "attack_candidates": 3,
        "batch_size": 2,
        "retain_batch": 2,
        "ddim_steps": 3,
    }
    edited = erase_advunlearn(tiny_pipe, request, few)
    assert all(
        torch.equal(a, b) for a, b in zip(unet_before, edited.unet.parameters(), strict=True)
    )
    moved = [
        not torch.equal(a, b)
        for a, b in zip(encoder_before, edited.text_encoder.parameters(), strict=True)
    ]
    assert any(moved)
    assert all(
        torch.equal(a, b)
        for a, b in zip(encoder_before, tiny_pipe.text_encoder.parameters(), strict=True)
    )
