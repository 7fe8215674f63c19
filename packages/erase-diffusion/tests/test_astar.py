"""A-STAR: the losses and the maps worked by hand, concept tokens found, one latent update
lowers the loss on the shipped pipeline, and no weight changes."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.astar import (
    AStarPipeline,
    astar_loss,
    concept_maps,
    concept_tokens,
    erase_astar,
    soft_iou,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept


def test_losses_by_hand() -> None:
    maps = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    # IoU of the two maps: (min 0.5 + 0) / (max 1 + 0.5) = 1/3.
    assert soft_iou(maps[0], maps[1]).item() == pytest.approx(1 / 3)
    assert astar_loss(maps, None, 1.0).item() == pytest.approx(1 / 3)
    # Retention against B = [[1, 0], [0, 1]]: map 0 matches (0), map 1 has IoU 0.5 / 1.5.
    previous = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert astar_loss(maps, previous, 3.0).item() == pytest.approx(1 / 3 + 3 * (2 / 3))


def test_concept_maps_drop_the_start_token_and_scale_to_one() -> None:
    # One image, 2 positions, 3 tokens (start, a, b); one layer.
    probs = {"layer": torch.tensor([[[0.5, 0.25, 0.25], [0.2, 0.0, 0.8]]])}
    maps = concept_maps(probs, [1, 2])
    # Renormalised without the start token: position 0 -> (0.5, 0.5), position 1 -> (0, 1);
    # token a: (0.5, 0) -> (1, 0); token b: (0.5, 1) -> (0.5, 1).
    assert torch.allclose(maps, torch.tensor([[[1.0, 0.0], [0.5, 1.0]]]))


def test_concept_tokens_of_a_caption(shipped_pipe: Any) -> None:
    words = ("red", "circle")
    assert concept_tokens(shipped_pipe, "a red circle on a dark plain background", words) == [2, 3]
    assert concept_tokens(shipped_pipe, "a blue square on a dark plain background", words) == []


def test_one_update_lowers_the_loss_and_no_weight_changes(shipped_pipe: Any) -> None:
    before = [p.detach().clone() for p in shipped_pipe.unet.parameters()]
    pipe = erase_astar(shipped_pipe, EraseRequest([make_concept("circle")]), {"step_size": 5.0})
    assert isinstance(pipe, AStarPipeline)
    prompts = [
        "a red circle on a dark plain background",
        "a blue cross on a light striped background",
    ]
    cond = pipe.encode(prompts)
    rows = [concept_tokens(pipe, p, pipe.astar_words) for p in prompts]
    scheduler = pipe.scheduler
    scheduler.set_timesteps(10)
    t = scheduler.timesteps[0]
    z = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))

    def loss_at(latents: torch.Tensor) -> float:
        pipe._store.collect = True
        with torch.no_grad():
            pipe.unet(latents, t, encoder_hidden_states=cond)
        pipe._store.collect = False
        maps = concept_maps(pipe._store.probs, rows[0])
        pipe._store.probs.clear()
        return float(sum(astar_loss(maps[i], None, 1.0) for i in range(2)))

    start = loss_at(z)
    moved, masks = pipe._astar_update(z, t, cond, rows, [None, None])
    assert loss_at(moved) < start
    assert all(m is not None and m.shape == (2, 64) for m in masks)
    images = pipe.generate(prompts, steps=4)
    assert images.shape == (2, 3, 16, 16)
    # Precomputed embeddings sample as the plain pipeline does.
    assert torch.equal(
        pipe.generate(prompt_embeds=cond, steps=3),
        shipped_pipe.generate(prompt_embeds=cond, steps=3),
    )
    after = list(shipped_pipe.unet.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert isinstance(pipe.copy(), AStarPipeline)
