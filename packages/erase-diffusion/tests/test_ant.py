"""ANT: the guidance kept early and reversed late, the saliency masks worked by hand,
training confined to the mask, and (slow) the circle erased on the shipped pipeline."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods._denoiser import sampling_scheduler
from erase_diffusion.methods.ant import (
    ANTParams,
    draw_early_and_late,
    erase_ant,
    guidance_target,
    intersect_masks,
    top_fraction,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for
from unlearn_schema import SpecError


def test_guidance_is_kept_early_and_reversed_late() -> None:
    # ε(∅) = 1, ε(c) = 3: Δ = 2; η = 0.5 gives 1 + 1 = 2 early and 1 - 1 = 0 late.
    empty, concept = torch.tensor([1.0]), torch.tensor([3.0])
    assert guidance_target(empty, concept, 0.5, early=True).item() == 2.0
    assert guidance_target(empty, concept, 0.5, early=False).item() == 0.0


def test_early_samples_come_from_the_first_steps(tiny_pipe: Any) -> None:
    params = ANTParams(ddim_steps=5, early_steps=2)
    scheduler = sampling_scheduler(tiny_pipe.scheduler, 5)
    context = tiny_pipe.encode(["a red circle on a dark plain background"])
    first_two = set(scheduler.timesteps[:2].tolist())
    for seed in range(4):
        (_, t_early), (_, t_late) = draw_early_and_late(
            tiny_pipe.unet, scheduler, context, params, torch.Generator().manual_seed(seed)
        )
        assert int(t_early) in first_two and int(t_late) not in first_two
        assert int(t_early) > int(t_late)  # earlier in sampling = noisier


def test_saliency_masks_by_hand() -> None:
    first = top_fraction(torch.tensor([[4.0, -1.0], [0.5, -3.0]]), 0.5)  # keeps 4 and -3
    assert first.tolist() == [[True, False], [False, True]]
    second = top_fraction(torch.tensor([[1.0, 5.0], [0.0, -2.0]]), 0.5)  # keeps 5 and -2
    both = intersect_masks([{"w": first}, {"w": second}])
    assert both["w"].tolist() == [[False, False], [False, True]]
    assert top_fraction(torch.tensor([0.1, 0.2]), 0.01).tolist() == [False, True]  # at least one


def test_ant_changes_only_salient_weights(tiny_pipe: Any) -> None:
    request = EraseRequest([make_concept("circle", prompts_per_concept=2)])
    tiny = {"iterations": 2, "batch_size": 2, "ddim_steps": 3, "learning_rate": 1e-2}
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    masked = erase_ant(tiny_pipe, request, {**tiny, "saliency_fraction": 0.25})
    free = erase_ant(tiny_pipe, request, {**tiny, "saliency": False})
    masked_changes = free_changes = 0
    for (name, p), (_, q) in zip(
        masked.unet.named_parameters(), free.unet.named_parameters(), strict=True
    ):
        moved = int((p != before[name]).sum())
        # The intersection lies inside each mask, and each mask keeps a quarter.
        assert moved <= max(1, round(0.25 * p.numel())), name
        masked_changes += moved
        free_changes += int((q != before[name]).sum())
    assert 0 < masked_changes < 0.5 * free_changes


def test_early_steps_must_leave_late_steps() -> None:
    with pytest.raises(SpecError, match="early_steps"):
        erase_ant(None, EraseRequest([make_concept("red")]), {"ddim_steps": 4, "early_steps": 4})  # type: ignore[arg-type]


def _seen(pipe: Any, judge: Any, prompts: list[str], name: str) -> float:
    return float(judge.judge(pipe.generate(prompts, steps=12, seed=0)).sees(name, "shape").mean())


@pytest.mark.slow  # about 60 s on 2 busy cores
def test_ant_erases_the_circle_and_keeps_the_colours(shipped_pipe: Any, judge: Any) -> None:
    # ANT is anchor-free and trains the whole UNet's salient weights: the cross, the
    # nearest shape, is not kept (seen in 0.75 before, 0.44 after in our run), so this
    # checks what ANT does keep on the cross prompts: the colour they name.
    request = EraseRequest([make_concept("circle", prompts_per_concept=12)])
    circles, crosses = prompts_for("circle", 16, seed=1), prompts_for("cross", 16, seed=1)
    edited = erase_ant(shipped_pipe, request)
    assert _seen(shipped_pipe, judge, circles, "circle") >= 0.75
    assert _seen(edited, judge, circles, "circle") <= 0.5

    def colours_kept(pipe: Any) -> float:
        judged = judge.judge(pipe.generate(crosses, steps=12, seed=0)).labels["colour"]
        return sum(p.split()[1] == c for p, c in zip(crosses, judged, strict=True)) / 16

    assert colours_kept(edited) >= colours_kept(shipped_pipe) - 0.2
