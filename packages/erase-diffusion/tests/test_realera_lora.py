"""RealEra's LoRA stage: only the adapters train (the base weights come back bit for bit
when they are unhooked), the merged update is rank r in the chosen projections, the
alignment loss on a hand case, and on the shipped pipeline the concept erased."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from erase_diffusion.methods.realera import mine_rows
from erase_diffusion.methods.realera_lora import (
    RealEraLoRAParams,
    add_lora,
    alignment_loss,
    erase_realera_lora,
    train_noise_alignment,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import make_concept, prompts_for

pytestmark = pytest.mark.requires("peft")

PRESERVE = prompts_for("triangle", 3) + prompts_for("red", 3)


def _weights(unet: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in unet.named_parameters()}


def test_alignment_loss_on_a_hand_case() -> None:
    # Two neighbour samples, one beyond sample, 2 values each.
    predicted = torch.tensor([[1.0, 1.0], [0.0, 2.0], [3.0, 0.0]])
    target = torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    # Neighbours: squared errors 1, 0, 0, 4 -> mean 5/4. Beyond: 4, 0 -> mean 2; μ = 0.5.
    assert float(alignment_loss(predicted, target, 2, 0.5)) == pytest.approx(5 / 4 + 0.5 * 2)
    # No beyond samples: the neighbour term alone.
    assert float(alignment_loss(predicted[:2], target[:2], 2, 0.5)) == pytest.approx(5 / 4)


def test_only_the_adapters_train_and_unhooking_restores_the_base(tiny_pipe: Any) -> None:
    pipe = tiny_pipe.copy()
    params = RealEraLoRAParams(neighbours=2, beyond=1, iterations=3, batch_size=2, ddim_steps=2)
    rows = mine_rows(pipe, EraseRequest([make_concept("circle", prompts_per_concept=2)]), params)
    # 2 prompts: themselves plus 2 neighbour copies each are erased, 1 beyond copy each kept.
    assert rows.erased_prompts is not None and rows.erased_prompts.shape[0] == 6
    assert rows.beyond_prompts is not None and rows.beyond_prompts.shape[0] == 2
    before = _weights(pipe.unet)
    original = copy.deepcopy(pipe.unet).requires_grad_(False)
    wrapped = add_lora(pipe.unet, params)
    trainable = [n for n, p in pipe.unet.named_parameters() if p.requires_grad]
    layers = sum(1 for n, _ in pipe.unet.named_modules() if n.endswith("attn2.to_k"))
    # A and B for to_k and to_v of every cross-attention layer, nothing else.
    assert len(trainable) == 4 * layers
    assert all(".attn2.to_" in n and ".lora_" in n for n in trainable)
    losses = train_noise_alignment(pipe.unet, original, pipe.scheduler, rows, params)
    assert len(losses) == 3
    lora_b = [p for n, p in pipe.unet.named_parameters() if "lora_B" in n]
    assert any(float(p.detach().abs().max()) > 0 for p in lora_b)  # B starts at 0 and moved
    base = wrapped.unload()  # adapters removed, not merged
    after = _weights(base)
    assert after.keys() == before.keys()
    assert all(torch.equal(after[n], before[n]) for n in before)


def test_the_merged_update_is_rank_r_in_the_chosen_projections(tiny_pipe: Any) -> None:
    params = {
        "closed_form": False,
        "lora_rank": 2,
        "lora_modules": ["to_v"],
        "iterations": 2,
        "batch_size": 2,
        "ddim_steps": 2,
        "neighbours": 1,
        "beyond": 1,
    }
    request = EraseRequest([make_concept("red", prompts_per_concept=2)], PRESERVE)
    edited = erase_realera_lora(tiny_pipe, request, params)
    before, after = _weights(tiny_pipe.unet), _weights(edited.unet)
    assert after.keys() == before.keys()
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert changed and all(n.endswith("attn2.to_v.weight") for n in changed)
    for name in changed:
        # Rank 2 up to float32 rounding of the merged weight: the third singular value
        # is rounding noise, orders of magnitude below the first.
        singular = torch.linalg.svdvals((after[name] - before[name]).double())
        assert float(singular[2] / singular[0]) < 1e-3
    assert not any(p.requires_grad for p in edited.unet.parameters())


class _Recorder(torch.nn.Module):
    """The frozen original, recording the prompt embeddings it is asked about."""

    def __init__(self, unet: Any) -> None:
        super().__init__()
        self.unet = unet
        self.contexts: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, t: Any, encoder_hidden_states: torch.Tensor) -> Any:
        self.contexts.append(encoder_hidden_states)
        return self.unet(x, t, encoder_hidden_states=encoder_hidden_states)


def test_the_teacher_sees_the_anchor_for_neighbours_and_the_prompt_itself_beyond(
    tiny_pipe: Any,
) -> None:
    pipe = tiny_pipe.copy()
    params = RealEraLoRAParams(neighbours=2, beyond=2, iterations=2, batch_size=3, ddim_steps=2)
    rows = mine_rows(pipe, EraseRequest([make_concept("circle", prompts_per_concept=2)]), params)
    assert rows.anchor_prompts is not None and rows.beyond_prompts is not None
    teacher = _Recorder(copy.deepcopy(pipe.unet).requires_grad_(False))
    add_lora(pipe.unet, params)
    train_noise_alignment(pipe.unet, teacher, pipe.scheduler, rows, params)
    assert len(teacher.contexts) == 2  # one teacher call a step, neighbours then beyond
    for context in teacher.contexts:
        assert context.shape[0] == 6
        # Every neighbour's target is an anchor prompt, every beyond target a beyond prompt.
        for row, pool in [(r, rows.anchor_prompts) for r in context[:3]] + [
            (r, rows.beyond_prompts) for r in context[3:]
        ]:
            assert any(torch.equal(row, candidate) for candidate in pool)


def test_rows_without_whole_prompts_are_refused(tiny_pipe: Any) -> None:
    params = RealEraLoRAParams(neighbours=0, beyond=0)
    rows = mine_rows(tiny_pipe, EraseRequest([make_concept("red", prompts_per_concept=1)]), params)
    rows.erased_prompts = None
    with pytest.raises(ValueError, match="whole prompt embeddings"):
        train_noise_alignment(tiny_pipe.unet, tiny_pipe.unet, tiny_pipe.scheduler, rows, params)
