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
    # The default guidance travels with the folder; a folder without it gets SD's 7.5.
    assert loaded.guidance == tiny_pipe.guidance == 1.0
    guided = tiny_pipe.generate(prompts, steps=3, seed=5, guidance=3.0)
    assert not torch.allclose(a, guided, atol=1e-3)
    index = tmp_path / "pipe" / "model_index.json"
    index.write_text(index.read_text().replace('"_guidance"', '"_unused"'))
    assert load_pipeline(tmp_path / "pipe").guidance == 7.5


def test_a_folder_that_is_not_a_pipeline_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing unet, text_encoder, tokenizer/"):
        load_pipeline(tmp_path)


def test_an_impossible_image_size_is_an_error(tiny_pipe: Any) -> None:
    with pytest.raises(ValueError, match=r"height=15 cannot be generated.*multiple of 2"):
        tiny_pipe.generate(["a red circle"], steps=2, height=15)
    with pytest.raises(ValueError, match="prompts or prompt_embeds"):
        tiny_pipe.generate([], steps=2)


def test_a_latent_pipeline_with_a_vae_round_trips_and_can_be_edited(
    tiny_pipe: Any, tmp_path: Path
) -> None:
    # A Stable-Diffusion-shaped folder: 4-channel latents decoded by a VAE.
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from erase_diffusion.methods.request import EraseRequest
    from erase_diffusion.methods.uce import erase_uce
    from erase_diffusion.worlds.shapes import make_concept

    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=tiny_pipe.text_encoder.config.hidden_size,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    latent = type(tiny_pipe)(
        unet, tiny_pipe.text_encoder, tiny_pipe.tokenizer, tiny_pipe.scheduler, vae
    )
    latent.save_pretrained(tmp_path / "sd-like")
    loaded = load_pipeline(tmp_path / "sd-like")
    assert loaded.vae is not None and loaded.default_size == 16
    images = loaded.generate(["a red circle on a dark plain background"], steps=2)
    assert images.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="multiple of 4"):
        loaded.generate(["a red circle"], steps=2, height=18)
    edited = erase_uce(loaded, EraseRequest([make_concept("red", prompts_per_concept=2)]))
    assert not torch.equal(
        edited.unet.down_blocks[1].attentions[0].transformer_blocks[0].attn2.to_k.weight,
        loaded.unet.down_blocks[1].attentions[0].transformer_blocks[0].attn2.to_k.weight,
    )
