"""RealEra's closed form: perturbation radii, the normal equations it solves, its
reduction to UCE on the concept's rows; on the shipped pipeline the concept erased by
the closed form and by the full method (closed form + LoRA; its own mechanisms are
checked in test_realera_lora.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.cross_attention import (
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    reference_update,
)
from erase_diffusion.methods.realera import MinedRows, erase_realera, perturb
from erase_diffusion.methods.realera_lora import erase_realera_lora
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for
from unlearn_schema import SpecError

PRESERVE = prompts_for("triangle", 3) + prompts_for("cross", 3)


def _weights(pipe: Any) -> list[torch.Tensor]:
    return [m.weight.detach().double().clone() for _, m in cross_attention_projections(pipe.unet)]


def test_perturbation_moves_masked_rows_by_the_drawn_relative_radius() -> None:
    rows = torch.tensor([[[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]], dtype=torch.float64)
    mask = torch.tensor([[False, True, True]])
    moved = perturb(rows, mask, 0.5, 0.75, torch.Generator().manual_seed(0))
    # Row 0 is unmasked: unchanged. Rows 1 and 2 move by r·|e|, r in (0.5, 0.75]:
    # |e| = 1 -> 0.5..0.75, |e| = 2 -> 1.0..1.5.
    assert torch.equal(moved[0, 0], rows[0, 0])
    step = (moved - rows).norm(dim=-1)[0]
    assert 0.5 <= float(step[1]) <= 0.75
    assert 1.0 <= float(step[2]) <= 1.5


def test_radii_must_be_ordered() -> None:
    with pytest.raises(SpecError, match="beyond_radius"):
        erase_realera(None, None, {"neighbour_radius": 0.5, "beyond_radius": 0.4})  # type: ignore[arg-type]


def test_without_neighbours_it_is_uce_on_the_rows_from_the_concept_token(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    params = {"neighbours": 0, "beyond": 0, "ridge": 1e-2}
    edited = _weights(erase_realera(tiny_pipe, EraseRequest([concept], PRESERVE), params))
    rows, anchors = concept_rows(tiny_pipe, [concept], from_concept_token=True)
    kept = preserve_rows(tiny_pipe, PRESERVE)
    for w, w_new in zip(_weights(tiny_pipe), edited, strict=True):
        expected = reference_update(w, rows, anchors, kept, 1.0, 1e-2)
        assert float((w_new - expected).norm() / expected.norm()) < 1e-5


def test_the_edit_solves_realeras_normal_equations(tiny_pipe: Any) -> None:
    concept = make_concept("red", prompts_per_concept=2)
    params = {"neighbours": 3, "beyond": 2, "beyond_weight": 0.5, "preserve_weight": 2.0}
    mined: list[MinedRows] = []
    edited = _weights(
        erase_realera(tiny_pipe, EraseRequest([concept], PRESERVE), params, mined=mined)
    )
    rows = mined[0]
    e, t, b = rows.erased, rows.targets, rows.beyond
    p = preserve_rows(tiny_pipe, PRESERVE)
    # Each of the 2 prompts gets 3 neighbour and 2 beyond copies: the erased rows are the
    # concept's own plus 3 copies (4 sets), the beyond rows 2 sets of the same size.
    assert (rows.kept_neighbours, rows.kept_beyond) == (6, 4)
    assert e.shape[0] == 2 * b.shape[0]
    eye = torch.eye(e.shape[1], dtype=torch.float64)
    # d/dW' of the objective is zero: W'(EᵀE + λPᵀP + μBᵀB + γI) = W(TᵀE + λPᵀP + μBᵀB + γI).
    system = e.T @ e + 2.0 * p.T @ p + 0.5 * b.T @ b + 0.1 * eye
    pulled = t.T @ e + 2.0 * p.T @ p + 0.5 * b.T @ b + 0.1 * eye
    for w, w_new in zip(_weights(tiny_pipe), edited, strict=True):
        lhs, rhs = w_new @ system, w @ pulled
        assert float((lhs - rhs).norm() / rhs.norm()) < 1e-4


# The full method's LoRA stage at a few steps (the closed form already erases; this
# checks that the adapters trained on top keep it erased and keep the rest).
LORA = {"neighbours": 4, "beyond": 2, "iterations": 8, "batch_size": 2, "ddim_steps": 4}


@pytest.mark.parametrize(
    ("erase", "params"),
    [
        pytest.param(erase_realera, {"neighbours": 4, "beyond": 2}, id="realera-closed-form"),
        pytest.param(erase_realera_lora, LORA, id="realera", marks=pytest.mark.requires("peft")),
    ],
)
def test_realera_erases_a_shape_and_keeps_another_and_a_colour_on_the_shipped_pipeline(
    shipped_pipe: Any, judge: Any, erase: Any, params: dict[str, Any]
) -> None:
    concept = make_concept("circle", prompts_per_concept=6)
    preserve = prompts_for("triangle", 6) + prompts_for("square", 3) + prompts_for("red", 3)
    edited = erase(shipped_pipe, EraseRequest([concept], preserve), params)
    prompts = [p for name in ("circle", "triangle", "red") for p in prompts_for(name, 12, seed=3)]
    before = judge.judge(shipped_pipe.generate(prompts, steps=8, seed=0))
    after = judge.judge(edited.generate(prompts, steps=8, seed=0))
    assert before.sees("circle", "shape")[:12].mean() > 0.7
    assert after.sees("circle", "shape")[:12].mean() < 0.3
    assert after.sees("triangle", "shape")[12:24].mean() > 0.7
    assert after.sees("red", "colour")[24:].mean() > 0.8
