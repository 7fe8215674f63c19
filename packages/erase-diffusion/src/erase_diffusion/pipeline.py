"""A small text-to-image pipeline assembled from diffusers and transformers parts.

`TextToImage` holds a ``UNet2DConditionModel`` (with cross-attention), a
``CLIPTextModel``, a tokenizer, a DDIM scheduler and, for latent models such as Stable
Diffusion, a VAE. The shipped tiny model works in pixel space (no VAE) at 16×16; a local
diffusers Stable Diffusion directory loads through `load_pipeline` and runs through
the same code. torch, diffusers and transformers are imported inside functions only.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import StrictModel

if TYPE_CHECKING:
    import torch

SHIPPED_NAME = "tiny-shapes"
SPECIAL_TOKENS = ["<|pad|>", "<|unk|>", "<|startoftext|>", "<|endoftext|>"]


class TinyPipelineConfig(StrictModel):
    """Architecture of the tiny pixel-space pipeline (the shipped model uses the defaults)."""

    image_size: int = Field(default=16, ge=8, le=64)
    block_out_channels: tuple[int, ...] = (32, 64)
    text_dim: int = Field(default=64, ge=8, le=1024, description="CLIP hidden = cross-attn dim.")
    text_layers: int = Field(default=2, ge=1, le=12)
    max_tokens: int = Field(default=16, ge=4, le=77)


def shipped_path() -> Path:
    """Folder of the shipped tiny shapes-world pipeline (diffusers layout, safetensors)."""
    return Path(str(files("erase_diffusion") / "weights" / SHIPPED_NAME))


def build_tokenizer(words: list[str], max_tokens: int) -> Any:
    """A word-level tokenizer trained locally on ``words`` (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<|unk|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, min_frequency=1)
    tok.train_from_iterator([" ".join(words)], trainer=trainer)
    bos, eos = tok.token_to_id("<|startoftext|>"), tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", bos), ("<|endoftext|>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        model_max_length=max_tokens,
    )


def build_tiny_pipeline(config: TinyPipelineConfig, words: list[str], seed: int = 0) -> TextToImage:
    """A freshly initialised tiny pipeline (pixel space, DDIM) with a local tokenizer."""
    import torch
    from diffusers import DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(words, config.max_tokens)
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.text_dim,
        intermediate_size=config.text_dim * 2,
        num_hidden_layers=config.text_layers,
        num_attention_heads=4,
        max_position_embeddings=config.max_tokens,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    text_encoder = CLIPTextModel(text_config)
    blocks = len(config.block_out_channels)
    unet = UNet2DConditionModel(
        sample_size=config.image_size,
        in_channels=3,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=config.block_out_channels,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (blocks - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (blocks - 1) + ("UpBlock2D",),
        cross_attention_dim=config.text_dim,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    scheduler = DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True
    )
    return TextToImage(
        unet=unet, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler, guidance=1.0
    )


@dataclass(frozen=True)
class Sampling:
    """How `TextToImage.generate` samples: DDIM ``steps``, the guidance scale (``None``:
    the pipeline's), the ``seed`` of the starting noise, the image size (``None``: the
    pipeline's default) and the images per UNet batch."""

    steps: int = 25
    guidance: float | None = None
    seed: int = 0
    height: int | None = None
    width: int | None = None
    batch_size: int = 64


@dataclass
class TextToImage:
    """A text-to-image diffusion pipeline: the parts, plus encode and generate."""

    unet: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    vae: Any = None
    # Classifier-free guidance scale ``generate`` uses unless told otherwise; saved as
    # ``_guidance`` in model_index.json. Tiny shapes-world pipelines use 1 (the shipped
    # one draws the prompted shape in 97 % of images unguided, 49 % at 3); other folders
    # load with 7.5, Stable Diffusion's usual scale.
    guidance: float = 7.5

    @property
    def max_tokens(self) -> int:
        return int(min(self.tokenizer.model_max_length, 77))

    @property
    def downscale(self) -> int:
        """Pixels per latent pixel (1 without a VAE)."""
        if self.vae is None:
            return 1
        return int(2 ** (len(self.vae.config.block_out_channels) - 1))

    @property
    def default_size(self) -> int:
        return int(self.unet.config.sample_size) * self.downscale

    def copy(self) -> TextToImage:
        """A deep copy of the trainable parts (tokenizer and scheduler are shared)."""
        return TextToImage(
            unet=copy.deepcopy(self.unet),
            text_encoder=copy.deepcopy(self.text_encoder),
            tokenizer=self.tokenizer,
            scheduler=self.scheduler,
            vae=self.vae,
            guidance=self.guidance,
        )

    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        out = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.max_tokens,
            truncation=True,
            return_tensors="pt",
        )
        return out.input_ids

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """Text-encoder hidden states (n, tokens, dim): what cross-attention reads."""
        import torch

        with torch.no_grad():
            ids = self.tokenize(prompts).to(self.text_encoder.device)
            return self.text_encoder(ids).last_hidden_state

    def check_size(self, height: int, width: int) -> None:
        """Raise naming the accepted sizes unless the UNet can denoise ``height``×``width``."""
        multiple = self.downscale * 2 ** (len(self.unet.config.block_out_channels) - 1)
        for name, value in (("height", height), ("width", width)):
            if value < multiple or value % multiple:
                raise ValueError(
                    f"{name}={value} cannot be generated by this pipeline: it must be a "
                    f"positive multiple of {multiple} (default {self.default_size})"
                )

    def generate(
        self,
        prompts: list[str] | None = None,
        *,
        prompt_embeds: torch.Tensor | None = None,
        steps: int = 25,
        guidance: float | None = None,
        seed: int = 0,
        height: int | None = None,
        width: int | None = None,
        batch_size: int = 64,
    ) -> torch.Tensor:
        """Images (n, 3, H, W) in [-1, 1] for ``prompts`` (or precomputed ``prompt_embeds``).

        DDIM with classifier-free guidance (``guidance`` defaults to the pipeline's
        ``guidance`` field): ε = ε(x, ∅) + g·(ε(x, c) − ε(x, ∅)); with
        ``guidance=1`` that is ε(x, c) alone, and the unconditional pass is skipped. Each
        image starts from noise drawn from ``seed``, so two pipelines compared with the
        same seed and prompts start from the same noise.

        Prompts (without ``prompt_embeds``) go through `generate_from_prompts`, which a
        pipeline whose sampler reads the prompts' words overrides (A-STAR, Geom-Erasing).
        """
        sampling = Sampling(steps, guidance, seed, height, width, batch_size)
        if prompt_embeds is None and prompts:
            return self.generate_from_prompts(prompts, sampling)
        return self.generate_from_embeds(prompt_embeds, sampling)

    def generate_from_prompts(self, prompts: list[str], sampling: Sampling) -> torch.Tensor:
        """`generate` for ``prompts``: their embeddings, sampled by `generate_from_embeds`."""
        return self.generate_from_embeds(self.encode(prompts), sampling)

    def generate_from_embeds(
        self, prompt_embeds: torch.Tensor | None, sampling: Sampling
    ) -> torch.Tensor:
        """`generate` for precomputed ``prompt_embeds`` (n, tokens, width)."""
        import torch

        steps, guidance, batch_size = sampling.steps, sampling.guidance, sampling.batch_size
        height, width = sampling.height, sampling.width
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        guidance = self.guidance if guidance is None else guidance
        height = self.default_size if height is None else height
        width = self.default_size if width is None else width
        self.check_size(height, width)
        if prompt_embeds is None:
            raise ValueError("give a non-empty list of prompts or prompt_embeds")
        guided = guidance != 1.0
        uncond = self.encode([""]) if guided else prompt_embeds[:0]
        scheduler = copy.deepcopy(self.scheduler)
        scheduler.set_timesteps(steps)
        generator = torch.Generator().manual_seed(sampling.seed)
        n = prompt_embeds.shape[0]
        channels = int(self.unet.config.in_channels)
        shape = (n, channels, height // self.downscale, width // self.downscale)
        noise = torch.randn(shape, generator=generator)
        outputs = []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                cond = prompt_embeds[start : start + batch_size]
                b = cond.shape[0]
                context = torch.cat([uncond.expand(b, -1, -1), cond]) if guided else cond
                latents = noise[start : start + batch_size] * scheduler.init_noise_sigma
                for t in scheduler.timesteps:
                    latents = self.denoise_step(scheduler, latents, t, context, guidance)
                if self.vae is not None:
                    latents = latents / self.vae.config.scaling_factor
                    latents = self.vae.decode(latents).sample
                outputs.append(latents.clamp(-1, 1))
        return torch.cat(outputs)

    def denoise_step(
        self,
        scheduler: Any,
        latents: torch.Tensor,
        t: Any,
        context: torch.Tensor,
        guidance: float,
    ) -> torch.Tensor:
        """One step of ``scheduler`` from ``latents`` at timestep ``t`` with classifier-free
        guidance, ε = ε(x, ∅) + g·(ε(x, c) − ε(x, ∅)): ``context`` holds the empty
        prompt's embeddings and then the prompts' ((2b, tokens, width)), or the prompts'
        alone when ``guidance`` is 1 (one pass, no unconditional half)."""
        import torch

        guided = guidance != 1.0
        both = torch.cat([latents, latents]) if guided else latents
        model_in = scheduler.scale_model_input(both, t)
        eps = self.unet(model_in, t, encoder_hidden_states=context).sample
        if guided:
            eps_uncond, eps_cond = eps.chunk(2)
            eps = eps_uncond + guidance * (eps_cond - eps_uncond)
        return scheduler.step(eps, t, latents).prev_sample

    def save_pretrained(self, path: str | Path) -> None:
        """Write the diffusers folder layout (unet/, text_encoder/, tokenizer/, scheduler/)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(path / "unet", safe_serialization=True)
        self.text_encoder.save_pretrained(path / "text_encoder", safe_serialization=True)
        self.tokenizer.save_pretrained(path / "tokenizer")
        self.scheduler.save_pretrained(path / "scheduler")
        parts: dict[str, Any] = {
            "_class_name": "TextToImage",
            "unet": ["diffusers", "UNet2DConditionModel"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", type(self.tokenizer).__name__],
            "scheduler": ["diffusers", "DDIMScheduler"],
            "_guidance": self.guidance,
        }
        if self.vae is not None:
            self.vae.save_pretrained(path / "vae", safe_serialization=True)
            parts["vae"] = ["diffusers", "AutoencoderKL"]
        (path / "model_index.json").write_text(json.dumps(parts, indent=2) + "\n")


def load_pipeline(path: str | Path | None = None) -> TextToImage:
    """Load a local diffusers directory (the shipped tiny model when ``path`` is None).

    Works for Stable-Diffusion-style folders (unet/, text_encoder/, tokenizer/,
    scheduler/, optional vae/); never contacts a hub. The pipeline's default guidance
    is the folder's ``_guidance`` (written by `TextToImage.save_pretrained`; 1 for
    the shipped model), else 7.5; change it with ``pipe.guidance``.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextModel
    from unlearn_schema import reading_file

    folder = shipped_path() if path is None else Path(path)
    missing = [p for p in ("unet", "text_encoder", "tokenizer") if not (folder / p).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a diffusers text-to-image folder: missing {', '.join(missing)}/ "
            "(expected unet/, text_encoder/, tokenizer/, scheduler/ and optionally vae/)"
        )
    with reading_file(folder / "unet", "the UNet folder"):
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", local_files_only=True)
    with reading_file(folder / "text_encoder", "the text encoder folder"):
        text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", local_files_only=True)
    with reading_file(folder / "tokenizer", "the tokenizer folder"):
        tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True)
    if (folder / "scheduler").is_dir():
        with reading_file(folder / "scheduler", "the scheduler folder"):
            scheduler = DDIMScheduler.from_pretrained(folder / "scheduler", local_files_only=True)
    else:
        scheduler = DDIMScheduler(num_train_timesteps=1000)
    vae = None
    if (folder / "vae").is_dir():
        with reading_file(folder / "vae", "the VAE folder"):
            vae = AutoencoderKL.from_pretrained(folder / "vae", local_files_only=True)
    unet.eval()
    text_encoder.eval()
    return TextToImage(
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        vae=vae,
        guidance=_saved_guidance(folder),
    )


def _saved_guidance(folder: Path) -> float:
    index = folder / "model_index.json"
    if index.is_file():
        value = json.loads(index.read_text()).get("_guidance")
        if isinstance(value, int | float) and value >= 0:
            return float(value)
    return 7.5
