"""IRECE: the concept share and mask on planted maps, the perturbation only inside the
mask, and the defended pipeline as a plug-in (same images at strength 0, seeded)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from erase_diffusion.defences import DEFENCES
from erase_diffusion.defences.irece import (
    IRECEParams,
    concept_mask,
    concept_share,
    defend_irece,
)
from erase_diffusion.worlds.shapes import make_concept
from unlearn_schema import SpecError


def test_concept_share_hand_example() -> None:
    # One head of width 2; the prompt has one key (0, 0), the concept key is (1, 0).
    # Position 0 (query 0) gives both scores 0: share 1/2. Position 1 (query (10, 0))
    # scores 10/sqrt(2) on the concept: share e^s / (e^s + 1).
    query = torch.tensor([[[0.0, 0.0], [10.0, 0.0]]])
    keys = torch.tensor([[[0.0, 0.0]]])
    share = concept_share(query, keys, torch.tensor([1.0, 0.0]), heads=1)
    s = 10 / math.sqrt(2)
    assert share.shape == (1, 2)
    assert share[0, 0].item() == pytest.approx(0.5)
    assert share[0, 1].item() == pytest.approx(math.exp(s) / (math.exp(s) + 1))


def test_mask_of_a_planted_map_is_the_planted_patch() -> None:
    grid = torch.full((1, 4, 4), 0.05)
    grid[0, 1:3, 2:4] = 0.9
    maps = {"layer": grid.reshape(1, 16)}
    mask = concept_mask(maps, batch=1, height=4, width=4, threshold=0.5)
    assert mask is not None and mask.shape == (1, 1, 4, 4)
    assert torch.equal(mask[0, 0], (grid[0] > 0.5).float())
    # Guided sampling: 2b rows (unconditional, conditional); the conditional half counts.
    doubled = {"layer": torch.cat([torch.zeros(1, 16), grid.reshape(1, 16)])}
    again = concept_mask(doubled, batch=1, height=4, width=4, threshold=0.5)
    assert again is not None and torch.equal(again, mask)
    # A map at half the resolution is upsampled to the latent's size.
    coarse = {"layer": torch.tensor([[0.9, 0.0, 0.0, 0.0]])}
    up = concept_mask(coarse, batch=1, height=4, width=4, threshold=0.5)
    assert up is not None and up[0, 0, 0, 0] == 1 and up[0, 0, 3, 3] == 0
    assert concept_mask(maps, batch=3, height=4, width=4, threshold=0.5) is None


def test_perturbation_lands_inside_the_mask_only(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=4)
    params = IRECEParams(threshold=0.5, strength=1.0, perturb_fraction=0.5)
    defended = defend_irece(tiny_pipe, concept, params, original=tiny_pipe)
    scheduler = defended.pipe.scheduler
    scheduler.set_timesteps(4)
    size = tiny_pipe.default_size
    sample = torch.zeros(2, 3, size, size)
    eps = torch.zeros_like(sample)
    planted = torch.zeros(2, size, size)
    planted[0, :4, :4] = 1.0  # image 0: the top-left corner; image 1: nowhere
    t = scheduler.timesteps[0]
    plain = type(scheduler).__mro__[1].step(scheduler, eps, t, sample).prev_sample
    scheduler.irece.maps["layer"] = planted.reshape(2, -1)
    out = scheduler.step(eps, t, sample).prev_sample
    changed = (out - plain).abs().sum(1) > 0
    assert changed[0, :4, :4].all()
    assert not changed[0][planted[0] == 0].any()
    assert not changed[1].any()
    # After the first half of the steps: no perturbation, even with a full mask.
    scheduler.step(eps, scheduler.timesteps[1], sample)
    scheduler.irece.maps["layer"] = torch.ones(2, size * size)
    late_plain = type(scheduler).__mro__[1].step(scheduler, eps, scheduler.timesteps[2], sample)
    scheduler._irece_done = 2  # the base step above does not count
    late = scheduler.step(eps, scheduler.timesteps[2], sample).prev_sample
    assert torch.equal(late, late_plain.prev_sample)


def test_defended_pipeline_is_a_plug_in(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=4)
    prompts = list(concept.prompts)
    before = {k: v.clone() for k, v in tiny_pipe.unet.state_dict().items()}
    plain = tiny_pipe.generate(prompts, steps=4, seed=3)
    off = defend_irece(tiny_pipe, concept, {"strength": 0.0}, original=tiny_pipe).pipe
    assert torch.allclose(off.generate(prompts, steps=4, seed=3), plain, atol=1e-5)
    # Every position masked: the images change, reproducibly from the defence's seed.
    every = defend_irece(tiny_pipe, concept, {"threshold": 1e-6, "seed": 1}, original=tiny_pipe)
    every.record_masks()
    first = every.pipe.generate(prompts, steps=4, seed=3)
    assert len(every.recorded_masks()) == 2 and all(m.min() == 1 for m in every.recorded_masks())
    assert not torch.allclose(first, plain, atol=1e-3)
    assert torch.equal(every.pipe.generate(prompts, steps=4, seed=3), first)
    # The attention the processors compute while localising is the layer's own.
    on = defend_irece(tiny_pipe, concept, {"threshold": 0.99}, original=tiny_pipe).pipe
    on.scheduler.irece.active = True
    x = torch.randn(2, 3, tiny_pipe.default_size, tiny_pipe.default_size)
    context = tiny_pipe.encode(prompts[:2])
    with torch.no_grad():
        ours = on.unet(x, 500, encoder_hidden_states=context).sample
        theirs = tiny_pipe.unet(x, 500, encoder_hidden_states=context).sample
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert len(on.scheduler.irece.maps) == 4
    after = tiny_pipe.unet.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_registry_and_param_errors() -> None:
    record = DEFENCES["irece"]
    assert record.params_type is IRECEParams and callable(record.function)
    with pytest.raises(SpecError, match="threshold"):
        record.validate_params({"threshold": 1.5}, "defence")
    with pytest.raises(LookupError, match="irece"):
        DEFENCES.lookup("irec")


def test_erasure_benchmarks_take_an_irece_switch() -> None:
    from erase_diffusion.benchmarks.erase import DIFFUSION_ERASE_QUICK, EraseRun

    assert EraseRun(erase=[["circle"]]).irece is False
    assert EraseRun.model_validate({"erase": [["circle"]], "irece": True}).irece is True
    spec = DIFFUSION_ERASE_QUICK.default_spec("quick")
    parsed = DIFFUSION_ERASE_QUICK.parse(
        spec.model_copy(update={"params": {**spec.params, "irece": True}})
    )
    assert parsed.params.irece is True
