"""The transfer test's pieces: a second pipeline trained with the first's frozen text
encoder, and SPM's membrane / AdvUnlearn's text encoder moved onto another pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from erase_diffusion.benchmarks.transfer import moved, target_path
from erase_diffusion.methods.advunlearn import erase_advunlearn
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.spm import erase_spm, membrane_of
from erase_diffusion.pipeline import TinyPipelineConfig, build_tiny_pipeline, shipped_path
from erase_diffusion.train import train_pipeline, vocabulary
from erase_diffusion.worlds.shapes import make_concept, prompts_for

REQUEST = EraseRequest([make_concept("circle", prompts_per_concept=2)], prompts_for("cross", 2))


@pytest.fixture(scope="module")
def other_pipe() -> Any:
    pipe = build_tiny_pipeline(TinyPipelineConfig(block_out_channels=(8, 16)), vocabulary(), 1)
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe


def test_second_pipeline_keeps_the_donor_text_encoder_frozen() -> None:
    donor = shipped_path()
    pipe = train_pipeline(steps=1, batch_size=2, seed=1, log_every=0, text_encoder_from=donor)
    from erase_diffusion.pipeline import load_pipeline

    shipped = load_pipeline(donor)
    for (name, p), q in zip(
        pipe.text_encoder.named_parameters(), shipped.text_encoder.parameters(), strict=True
    ):
        assert torch.equal(p, q), name
    assert not any(
        torch.equal(p, q)
        for p, q in zip(pipe.unet.parameters(), shipped.unet.parameters(), strict=True)
        if p.numel() > 1
    )
    with pytest.raises(ValueError, match="not both"):
        train_pipeline(steps=1, init_from=donor, text_encoder_from=donor)


def test_shipped_target_shares_the_text_encoder() -> None:
    from safetensors.torch import load_file

    ours = load_file(str(target_path() / "text_encoder" / "model.safetensors"))
    shipped = load_file(str(shipped_path() / "text_encoder" / "model.safetensors"))
    assert ours.keys() == shipped.keys()
    assert all(torch.equal(ours[k], shipped[k]) for k in ours)


def test_advunlearn_moves_its_text_encoder(tiny_pipe: Any, other_pipe: Any, tmp_path: Path) -> None:
    few = {
        "iterations": 2,
        "warmup_iterations": 1,
        "attack_steps": 1,
        "batch_size": 2,
        "retain_batch": 2,
        "ddim_steps": 3,
    }
    erased = erase_advunlearn(tiny_pipe, REQUEST, few)
    out = moved("advunlearn", erased, other_pipe, tmp_path)
    for p, q in zip(out.text_encoder.parameters(), erased.text_encoder.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(out.unet.parameters(), other_pipe.unet.parameters(), strict=True):
        assert torch.equal(p, q)


def test_spm_moves_its_membrane_through_a_file(
    tiny_pipe: Any, other_pipe: Any, tmp_path: Path
) -> None:
    few = {"iterations": 2, "batch_size": 2, "anchor_samples": 2, "ddim_steps": 3}
    erased = erase_spm(tiny_pipe, REQUEST, few)
    out = moved("spm", erased, other_pipe, tmp_path)
    assert (tmp_path / "membrane.safetensors").is_file()
    here, there = membrane_of(erased), membrane_of(out)
    assert there.concepts == ["circle"]
    for name, (down, up) in here.layers.items():
        assert torch.equal(down, there.layers[name][0]) and torch.equal(up, there.layers[name][1])
    # The target's own weights are untouched.
    for p, q in zip(out.unet.parameters(), other_pipe.unet.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="accepted"):
        moved("uce", erased, other_pipe, tmp_path)
