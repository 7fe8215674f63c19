"""The text-encoder methods (few-shot erasing, HiRM): hand-worked losses, what trains, and
on the shipped shapes pipeline the concept erased while another concept is kept."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from erase_diffusion.methods.few_shot_text_encoder import (
    concept_images,
    erase_few_shot_text_encoder,
    trainable_parameters,
    unlearning_loss,
)
from erase_diffusion.methods.hirm import concept_positions, erase_hirm, hirm_loss
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import all_attributes, caption, make_concept, prompts_for
from unlearn_schema import Concept, SpecError


def test_few_shot_loss_is_the_negated_denoising_mse() -> None:
    # eps_theta = [[1, 2], [0, -1]], eps = [[0, 0], [1, 1]]: squared errors 1, 4, 1, 4;
    # mean 2.5; the unlearning loss is its negative.
    predicted = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    noise = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert unlearning_loss(predicted, noise).item() == pytest.approx(-2.5)


def test_hirm_loss_worked_by_hand() -> None:
    # One concept, one prompt of 3 tokens in d = 2; the mask keeps tokens 1 and 2.
    rows = torch.tensor([[[9.0, 9.0], [1.0, 0.0], [0.0, 2.0]]])
    target = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]])
    mask = torch.tensor([[False, True, True]])
    # forget: (|(1,0)|^2 + |(0,1)|^2) / 2 = 1 (token 0 is masked out).
    assert hirm_loss([(rows, target, mask)], None, 1.0).item() == pytest.approx(1.0)
    # retain: two tokens, squared distances 4 and 0, mean 2, times alpha 0.5 = 1.
    keep = (torch.tensor([[[2.0, 0.0], [1.0, 1.0]]]), torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]))
    assert hirm_loss([(rows, target, mask)], keep, 0.5).item() == pytest.approx(2.0)


def test_hirm_positions_start_at_the_concept_word(shipped_pipe: Any) -> None:
    concept = Concept(name="circle", prompts=["a red circle on a dark plain background"])
    mask = concept_positions(shipped_pipe, concept)
    # <start> a red | circle ...: the first three positions never see the word.
    assert mask[0, :3].tolist() == [False, False, False]
    assert bool(mask[0, 3:].all())


def test_few_shot_trains_only_the_chosen_parameters(tiny_pipe: Any) -> None:
    before = {n: p.detach().clone() for n, p in tiny_pipe.text_encoder.named_parameters()}
    unet_before = [p.detach().clone() for p in tiny_pipe.unet.parameters()]
    request = EraseRequest([make_concept("circle", prompts_per_concept=2)])
    edited = erase_few_shot_text_encoder(
        tiny_pipe, request, {"images": 2, "epochs": 1, "trainable": "mlp"}
    )
    changed = {
        n for n, p in edited.text_encoder.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed and all(".mlp." in n for n in changed)
    assert all(
        torch.equal(a, b) for a, b in zip(unet_before, edited.unet.parameters(), strict=True)
    )
    # The caller's pipeline is untouched.
    assert all(torch.equal(p, before[n]) for n, p in tiny_pipe.text_encoder.named_parameters())
    last = {n for n, _ in tiny_pipe.text_encoder.named_parameters() if ".self_attn." in n}
    mixed = {id(p) for p in trainable_parameters(tiny_pipe.text_encoder, "mlp-final-attention")}
    final_attention = [
        n for n, p in tiny_pipe.text_encoder.named_parameters() if id(p) in mixed and n in last
    ]
    assert final_attention and all(".layers.1." in n for n in final_attention)


def test_hirm_trains_only_the_first_layer(tiny_pipe: Any) -> None:
    before = {n: p.detach().clone() for n, p in tiny_pipe.text_encoder.named_parameters()}
    request = EraseRequest([make_concept("red", prompts_per_concept=2)], prompts_for("blue", 2))
    edited = erase_hirm(tiny_pipe, request, {"iterations": 2})
    changed = {
        n for n, p in edited.text_encoder.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed and all(".layers.0." in n for n in changed)


def test_bad_inputs_name_the_fix(tiny_pipe: Any) -> None:
    with pytest.raises(ValueError, match=r"layers 0\.\.1"):
        erase_hirm(
            tiny_pipe, EraseRequest([make_concept("red", prompts_per_concept=1)]), {"layers": [5]}
        )
    with pytest.raises(SpecError, match="trainable"):
        erase_few_shot_text_encoder(
            tiny_pipe,
            EraseRequest([make_concept("red", prompts_per_concept=1)]),
            {"trainable": "x"},
        )
    with pytest.raises(ValueError, match="pass images="):
        concept_images("van gogh", 2, 16, 0)
    wrong = {"red": np.zeros((2, 3, 8, 8), dtype=np.float32)}
    with pytest.raises(ValueError, match=r"\(n, 3, 16, 16\)"):
        erase_few_shot_text_encoder(
            tiny_pipe, EraseRequest([make_concept("red", prompts_per_concept=1)]), images=wrong
        )


def _seen(pipe: Any, judge: Any, prompts: list[str], name: str, kind: str) -> float:
    return float(judge.judge(pipe.generate(prompts, steps=12, seed=0)).sees(name, kind).mean())


@pytest.mark.parametrize(
    ("erase", "params"),
    [
        (erase_hirm, {"iterations": 40}),
        (erase_few_shot_text_encoder, {}),
    ],
    ids=["hirm", "few-shot-text-encoder"],
)
def test_circle_erased_and_cross_kept_on_the_shipped_pipeline(
    shipped_pipe: Any, judge: Any, erase: Any, params: dict[str, Any]
) -> None:
    keep = [caption(a) for a in all_attributes() if a.shape != "circle"][::5][:16]
    request = EraseRequest([make_concept("circle", prompts_per_concept=12)], keep)
    circles, crosses = prompts_for("circle", 12, seed=1), prompts_for("cross", 12, seed=1)
    edited = erase(shipped_pipe, request, params)
    before = _seen(shipped_pipe, judge, circles, "circle", "shape")
    after = _seen(edited, judge, circles, "circle", "shape")
    kept_before = _seen(shipped_pipe, judge, crosses, "cross", "shape")
    kept_after = _seen(edited, judge, crosses, "cross", "shape")
    assert before >= 0.75
    assert after <= before - 0.25, (before, after)
    assert kept_after >= kept_before - 0.17, (kept_before, kept_after)
