"""DoCo: the concept-preserving gradient surgery worked by hand, what trains, and (slow)
the circle erased on the shipped pipeline while the cross is kept."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.doco import erase_doco, preserving_surgery
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import all_attributes, caption, make_concept, prompts_for

TINY = {
    "iterations": 2,
    "discriminator_warmup": 1,
    "anchor_images": 2,
    "batch_size": 2,
    "sample_steps": 2,
}


def test_surgery_removes_only_the_conflicting_part_in_2d() -> None:
    preserve = torch.tensor([1.0, 0.0])
    # Conflict: g_u·g_r = -1 < 0; g_u - (-1 / 1)·g_r = (-1, 1) + (1, 0) = (0, 1).
    projected = preserving_surgery(torch.tensor([-1.0, 1.0]), preserve)
    assert projected.tolist() == [0.0, 1.0]
    assert float(projected @ preserve) >= 0.0
    # g_r = (1, 2), g_u = (-3, 1): dot -1, |g_r|² 5, so g_u + (1/5)(1, 2) = (-2.8, 1.4),
    # orthogonal to g_r (-2.8 + 2.8 = 0).
    oblique = preserving_surgery(torch.tensor([-3.0, 1.0]), torch.tensor([1.0, 2.0]))
    assert oblique.tolist() == pytest.approx([-2.8, 1.4])
    assert float(oblique @ torch.tensor([1.0, 2.0])) == pytest.approx(0.0, abs=1e-6)
    # No conflict: unchanged.
    agreeing = torch.tensor([2.0, 1.0])
    assert torch.equal(preserving_surgery(agreeing, preserve), agreeing)


def test_doco_trains_only_cross_attention_and_leaves_the_caller(tiny_pipe: Any) -> None:
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    request = EraseRequest([make_concept("circle", prompts_per_concept=2)], prompts_for("cross", 2))
    edited = erase_doco(tiny_pipe, request, TINY)
    changed = {n for n, p in edited.unet.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".attn2." in n for n in changed)
    assert all(torch.equal(p, before[n]) for n, p in tiny_pipe.unet.named_parameters())


def test_doco_bad_layers_name_the_accepted_values(tiny_pipe: Any) -> None:
    from unlearn_schema import SpecError

    request = EraseRequest([make_concept("circle", prompts_per_concept=1)])
    with pytest.raises(SpecError, match="layers"):
        erase_doco(tiny_pipe, request, {**TINY, "layers": "attention"})


def _seen(pipe: Any, judge: Any, prompts: list[str], name: str) -> float:
    return float(judge.judge(pipe.generate(prompts, steps=12, seed=0)).sees(name, "shape").mean())


@pytest.mark.slow  # about 30 s on 2 busy cores
def test_doco_erases_the_circle_and_keeps_the_cross(shipped_pipe: Any, judge: Any) -> None:
    keep = [caption(a) for a in all_attributes() if a.shape != "circle"][::5][:16]
    request = EraseRequest([make_concept("circle", prompts_per_concept=12)], keep)
    circles, crosses = prompts_for("circle", 16, seed=1), prompts_for("cross", 16, seed=1)
    edited = erase_doco(shipped_pipe, request)
    assert _seen(shipped_pipe, judge, circles, "circle") >= 0.75
    assert _seen(edited, judge, circles, "circle") <= 0.25
    assert (
        _seen(edited, judge, crosses, "cross") >= _seen(shipped_pipe, judge, crosses, "cross") - 0.2
    )
