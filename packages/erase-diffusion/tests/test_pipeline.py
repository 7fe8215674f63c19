from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from erase_diffusion.pipeline import load_pipeline


def test_a_saved_diffusers_folder_loads_and_generates_the_same(
    tiny_pipe: Any, tmp_path: Path
) -> None:
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    assert (tmp_path / "pipe" / "unet" / "diffusion_pytorch_model.safetensors").exists()
    loaded = load_pipeline(tmp_path / "pipe")
    prompts = ["a red circle on a dark plain background"]
    a = tiny_pipe.generate(prompts, steps=3, seed=5)
    b = loaded.generate(prompts, steps=3, seed=5)
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, tiny_pipe.generate(prompts, steps=3, seed=6), atol=1e-3)


def test_a_folder_that_is_not_a_pipeline_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing unet, text_encoder, tokenizer/"):
        load_pipeline(tmp_path)


def test_an_impossible_image_size_is_an_error(tiny_pipe: Any) -> None:
    with pytest.raises(ValueError, match=r"height=15 cannot be generated.*multiple of 2"):
        tiny_pipe.generate(["a red circle"], steps=2, height=15)
    with pytest.raises(ValueError, match="prompts or prompt_embeds"):
        tiny_pipe.generate([], steps=2)
