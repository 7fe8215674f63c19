"""The shared pieces of the samplers: `TextToImage.denoise_step` reproduces the DDIM loop
`generate` had written out (bit for bit, on the shipped pipeline, fixed seed), and the
cross-attention computed by hand (`methods._sampling`) matches the layer's own processor."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from erase_diffusion.methods._sampling import (
    ByHandProcessor,
    attention_output,
    computes_by_hand,
    heads,
)
from erase_diffusion.pipeline import Sampling, TextToImage

PROMPTS = ["a red circle on a dark plain background", "a blue cross on a light striped background"]


def _loop_as_written_before(pipe: Any, steps: int, guidance: float, seed: int) -> torch.Tensor:
    """`generate`'s sampler before `denoise_step` existed (one batch, no VAE: the shipped
    pipeline has none), kept here as the reference."""
    cond = pipe.encode(PROMPTS)
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(steps)
    size = pipe.default_size // pipe.downscale
    shape = (len(PROMPTS), int(pipe.unet.config.in_channels), size, size)
    latents = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    latents = latents * scheduler.init_noise_sigma
    if guidance == 1.0:
        context, doubled = cond, 1
    else:
        context, doubled = torch.cat([pipe.encode([""]).expand(len(PROMPTS), -1, -1), cond]), 2
    with torch.no_grad():
        for t in scheduler.timesteps:
            model_in = scheduler.scale_model_input(latents.repeat(doubled, 1, 1, 1), t)
            predicted = pipe.unet(model_in, t, encoder_hidden_states=context).sample
            if doubled == 2:
                unconditional, conditional = predicted[: len(PROMPTS)], predicted[len(PROMPTS) :]
                predicted = unconditional + guidance * (conditional - unconditional)
            latents = scheduler.step(predicted, t, latents).prev_sample
    return latents.clamp(-1, 1)


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_generate_with_denoise_step_is_the_old_loop_bit_for_bit(
    shipped_pipe: Any, guidance: float
) -> None:
    assert shipped_pipe.vae is None
    expected = _loop_as_written_before(shipped_pipe, steps=5, guidance=guidance, seed=7)
    images = shipped_pipe.generate(PROMPTS, steps=5, guidance=guidance, seed=7)
    assert torch.equal(images, expected)


def test_cross_attention_by_hand_matches_the_layers_processor(shipped_pipe: Any) -> None:
    layers = [m for n, m in shipped_pipe.unet.named_modules() if n.endswith("attn2")]
    attn = layers[0]
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 64, attn.to_q.in_features, generator=generator)
    text = shipped_pipe.encode(PROMPTS)
    assert computes_by_hand(attn, hidden, text, None)
    assert not computes_by_hand(attn, hidden, None, None)
    assert not computes_by_hand(attn, hidden, text, torch.zeros(2, 1, text.shape[1]))
    with torch.no_grad():
        expected = attn(hidden, encoder_hidden_states=text)
        query, key, value, split = heads(attn, hidden, text)
        assert split(query).shape == (2, attn.heads, 64, query.shape[-1] // attn.heads)
        attended = torch.nn.functional.scaled_dot_product_attention(
            split(query), split(key), split(value)
        )
        out = attention_output(attn, attended, hidden, query.dtype)
    assert torch.allclose(out, expected, atol=1e-6)


def test_by_hand_processor_defers_to_the_layers_own_unless_asked_and_able(
    shipped_pipe: Any,
) -> None:
    attn = next(m for n, m in shipped_pipe.unet.named_modules() if n.endswith("attn2"))
    calls: list[str] = []

    def inner(*args: Any, **kwargs: Any) -> str:
        calls.append("inner")
        return "inner"

    class Marking(ByHandProcessor):
        now = False

        def by_hand_now(self) -> bool:
            return self.now

        def by_hand(self, attn: Any, hidden: torch.Tensor, text: torch.Tensor) -> Any:
            calls.append("by hand")
            return "by hand"

    processor = Marking(inner, "layer")
    hidden = torch.zeros(1, 4, attn.to_q.in_features)
    text = torch.zeros(1, 3, attn.to_k.in_features)
    assert processor(attn, hidden, text) == "inner"
    processor.now = True
    assert processor(attn, hidden, None) == "inner"
    assert processor(attn, hidden, text, torch.zeros(1, 1, 3)) == "inner"
    assert processor(attn, hidden, text) == "by hand"
    assert calls == ["inner", "inner", "inner", "by hand"]


def test_prompts_go_through_generate_from_prompts_and_embeddings_do_not(
    shipped_pipe: Any,
) -> None:
    seen: list[tuple[list[str], Sampling]] = []

    @dataclass
    class Recording(TextToImage):
        def generate_from_prompts(self, prompts: list[str], sampling: Sampling) -> torch.Tensor:
            seen.append((prompts, sampling))
            return super().generate_from_prompts(prompts, sampling)

    pipe = Recording(**vars(shipped_pipe))
    images = pipe.generate(PROMPTS, steps=2, guidance=3.0, seed=1, batch_size=1)
    assert seen == [(PROMPTS, Sampling(steps=2, guidance=3.0, seed=1, batch_size=1))]
    # Same batch size as above: a batch of 1 and a batch of 3 may round differently.
    embedded = pipe.generate(
        prompt_embeds=pipe.encode(PROMPTS), steps=2, guidance=3.0, seed=1, batch_size=1
    )
    assert len(seen) == 1
    assert torch.equal(images, embedded)
    with pytest.raises(ValueError, match="non-empty list of prompts"):
        pipe.generate([], steps=2)
