"""The shipped weights (never retrained here): the pipeline draws what it is told, the
judge names what it sees, and UCE measurably erases a concept."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.uce import erase_uce
from erase_diffusion.pipeline import shipped_path
from erase_diffusion.worlds.shapes import ShapesWorld, make_concept, prompts_for, sample


def test_weights_ship_inside_the_package() -> None:
    folder = shipped_path()
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size > 1_000_000
    assert (folder.parent / "judge.safetensors").exists()


def test_judge_names_rendered_images(judge: Any) -> None:
    images, _, attrs = sample(300, ShapesWorld(), seed=123)
    seen = judge.judge(torch.from_numpy(images))
    for kind in ("shape", "colour", "style"):
        accuracy = np.mean(
            [s == a.get(kind) for s, a in zip(seen.labels[kind], attrs, strict=True)]
        )
        assert accuracy > 0.95, (kind, accuracy)


def test_shipped_pipeline_draws_the_prompted_shape_colour_and_style(
    shipped_pipe: Any, judge: Any
) -> None:
    _, captions, attrs = sample(48, ShapesWorld(), seed=5)
    assert shipped_pipe.guidance == 1.0  # the shipped model samples best unguided
    seen = judge.judge(shipped_pipe.generate(captions, steps=12, seed=0))
    for kind in ("shape", "colour", "style"):
        hits = [s == a.get(kind) for s, a in zip(seen.labels[kind], attrs, strict=True)]
        assert np.mean(hits) >= 0.8, (kind, np.mean(hits))  # chance: 0.25, 0.2, 0.33


def test_uce_on_the_shipped_model_erases_red_and_keeps_blue(shipped_pipe: Any, judge: Any) -> None:
    red = make_concept("red", anchor="green")
    preserve = prompts_for("blue", 12) + prompts_for("yellow", 12)
    edited = erase_uce(shipped_pipe, EraseRequest([red], preserve))
    red_prompts = prompts_for("red", 12, seed=1)
    blue_prompts = prompts_for("blue", 8, seed=1)
    before = judge.judge(shipped_pipe.generate(red_prompts + blue_prompts, steps=15, seed=0))
    after = judge.judge(edited.generate(red_prompts + blue_prompts, steps=15, seed=0))
    red_before = before.sees("red", "colour")[:12].mean()
    red_after = after.sees("red", "colour")[:12].mean()
    assert red_after < red_before - 0.4
    assert after.sees("blue", "colour")[12:].mean() >= 0.75


def test_rece_derived_embedding_draws_red_until_rece_erases_it(
    shipped_pipe: Any, judge: Any
) -> None:
    from erase_diffusion.methods.rece import RECETrace, erase_rece

    red = make_concept("red", anchor="green", prompts_per_concept=12)
    preserve = prompts_for("blue", 12) + prompts_for("yellow", 12)
    uce_only = erase_uce(shipped_pipe, EraseRequest([red], preserve))
    trace = RECETrace()
    after_round = erase_rece(
        shipped_pipe, EraseRequest([red], preserve), {"rounds": 1}, trace=trace
    )
    width = trace.derived[0].shape[1]
    derived = trace.derived[0].reshape(len(red.prompts), shipped_pipe.max_tokens, width).float()

    def red_share(images: torch.Tensor) -> float:
        return float(judge.judge(images).sees("red", "colour").mean())

    # UCE removed red from red's own prompts, yet RECE's derived embedding still draws it
    # in the UCE-edited model; once RECE has erased that embedding, it no longer does.
    assert red_share(uce_only.generate(red.prompts, steps=15, seed=0)) < 0.2
    assert red_share(uce_only.generate(prompt_embeds=derived, steps=15, seed=0)) > 0.6
    assert red_share(after_round.generate(prompt_embeds=derived, steps=15, seed=0)) < 0.2
