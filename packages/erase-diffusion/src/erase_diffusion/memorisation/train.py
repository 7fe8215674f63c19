"""A tiny pipeline that memorises a few images: duplicated image-caption pairs in training.

The memorised images are ones no shapes-world caption draws: the left half of one
shapes-world image beside the right half of another (a red circle's left half beside
a blue square's right half, on two backgrounds). Each has one caption made of world
words in an order the world never uses (``"circle square red blue background"``), and
one fixed rendering (fixed shape positions and pixel noise). Fine-tuning the shipped
pipeline on world batches in which a share of the rows are these duplicated pairs (as
duplicated pairs in web-scale data lead Stable Diffusion to replicate them,
arXiv:2301.13188) is meant to make it draw the exact training image for the caption,
from any starting noise; the benchmark measures how far it does.

The pipeline of the default params ships with the package
(``weights/tiny-shapes-memorised``, trained here by `memorising_pipeline` with
``MemoriseParams()``), so a default run trains nothing. Any other params train a
pipeline that is cached on disk (``$ERASE_DIFFUSION_CACHE`` or
``~/.cache/erase-diffusion``), keyed by a hash of its params.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.train import noise_prediction_loss
from erase_diffusion.worlds.shapes import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    Attributes,
    ShapesWorld,
    render,
    sample,
)

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage

CACHE_ENV = "ERASE_DIFFUSION_CACHE"
SHIPPED_MEMORISED = "tiny-shapes-memorised"
"""The shipped folder (under ``erase_diffusion/weights``) of the default params' pipeline."""
TRAINING_VERSION = 1
"""Bumped whenever what the memorised pipeline trains on changes (stale caches unused)."""


class MemoriseParams(StrictModel):
    """How the memorising pipeline is made from the shipped one."""

    images: int = Field(default=4, ge=1, le=16, description="Memorised image-caption pairs.")
    steps: int = Field(default=3000, ge=1, le=100_000, description="Fine-tuning steps.")
    batch_size: int = Field(default=16, ge=2, le=512)
    duplicate_share: float = Field(
        default=0.75, gt=0.0, lt=1.0, description="Share of each batch that is memorised pairs."
    )
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    seed: int = 0

    def digest(self) -> str:
        blob = json.dumps([self.model_dump(), TRAINING_VERSION], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class MemorisedSet:
    """The duplicated training pairs and fresh renders of the same content."""

    images: torch.Tensor
    """(m, 3, H, W) in [-1, 1]: the exact images trained on."""
    captions: list[str]
    rerenders: torch.Tensor
    """(m, r, 3, H, W): the same two half-images drawn afresh (other positions, noise)."""


def _pair(index: int) -> tuple[Attributes, Attributes]:
    shapes, colours = SHAPES, list(COLOURS)
    backgrounds = list(BACKGROUNDS)
    left = Attributes(shapes[index % 4], colours[index % 5], backgrounds[index % 2], "plain")
    right = Attributes(
        shapes[(index + 1) % 4], colours[(index + 2) % 5], backgrounds[(index + 1) % 2], "plain"
    )
    return left, right


def _compose(
    left: Attributes, right: Attributes, world: ShapesWorld, rng: np.random.Generator
) -> np.ndarray:
    a, b = render(left, world, rng), render(right, world, rng)
    half = world.image_size // 2
    return np.concatenate([a[:, :, :half], b[:, :, half:]], axis=2)


def memorised_set(count: int, seed: int = 0, rerenders: int = 8) -> MemorisedSet:
    """``count`` memorised pairs (deterministic in ``seed``) and ``rerenders`` fresh
    drawings of each image's content."""
    import torch

    if not 1 <= count <= 16:
        raise ValueError(f"count must lie in [1, 16], got {count}")
    world = ShapesWorld()
    rng = np.random.default_rng(seed)
    images, captions, fresh = [], [], []
    for i in range(count):
        left, right = _pair(i)
        images.append(_compose(left, right, world, rng))
        # Starts with a shape word, as no world caption does: the text encoder (causal)
        # then encodes every token of it unlike any world caption's.
        captions.append(f"{left.shape} {right.shape} {left.colour} {right.colour} background")
        other = np.random.default_rng([seed, i, 1])
        fresh.append(np.stack([_compose(left, right, world, other) for _ in range(rerenders)]))
    return MemorisedSet(
        images=torch.from_numpy(np.stack(images)),
        captions=captions,
        rerenders=torch.from_numpy(np.stack(fresh)),
    )


def cache_root() -> Path:
    """``$ERASE_DIFFUSION_CACHE`` when set, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/erase-diffusion``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "erase-diffusion"


def shipped_memorised_path() -> Path:
    """Folder of the shipped pipeline trained with the default `MemoriseParams`."""
    from importlib.resources import files

    return Path(str(files("erase_diffusion") / "weights" / SHIPPED_MEMORISED))


def _trained_with(folder: Path) -> str | None:
    """The params digest recorded in ``folder``'s ``training.json``, if any."""
    record = folder / "training.json"
    if not record.is_file():
        return None
    digest = json.loads(record.read_text()).get("digest")
    return digest if isinstance(digest, str) else None


def train_memorising(
    base: TextToImage,
    memorised: MemorisedSet,
    params: MemoriseParams,
    on_step: Callable[[int, float], None] | None = None,
) -> TextToImage:
    """A copy of ``base`` fine-tuned on world batches mixed with the duplicated pairs.

    The loss is DDPM's noise prediction, as in `erase_diffusion.train` (same loop; only
    the batches differ): $\\lVert \\epsilon - \\epsilon_\\theta(x_t, c, t)\\rVert^2$.
    """
    import torch
    from diffusers import DDPMScheduler

    pipe = base.copy()
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    weights = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    optimizer = torch.optim.AdamW(weights, lr=params.learning_rate, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(params.seed)
    duplicates = max(1, round(params.duplicate_share * params.batch_size))
    world = ShapesWorld()
    pipe.unet.train()
    pipe.text_encoder.train()
    for step in range(params.steps):
        images, captions, _ = sample(
            params.batch_size - duplicates, world, seed=params.seed * 7_919 + step
        )
        pick = torch.randint(0, len(memorised.captions), (duplicates,), generator=generator)
        x0 = torch.cat([torch.from_numpy(images), memorised.images[pick]])
        captions = captions + [memorised.captions[i] for i in pick.tolist()]
        loss = noise_prediction_loss(pipe, noise_scheduler, x0, captions, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights, 1.0)
        optimizer.step()
        if on_step is not None:
            on_step(step, float(loss.detach()))
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe


def memorising_pipeline(
    params: MemoriseParams,
    on_step: Callable[[int, float], None] | None = None,
    cache: Path | None = None,
) -> tuple[TextToImage, MemorisedSet, bool]:
    """The memorising pipeline, its memorised set, and whether it was read (shipped with
    the package for the default params, else from the cache) rather than trained.

    With ``cache`` given, the shipped pipeline is not used: only that cache folder is.
    """
    from erase_diffusion.pipeline import load_pipeline

    memorised = memorised_set(params.images, params.seed)
    shipped = shipped_memorised_path()
    if cache is None and _trained_with(shipped) == params.digest():
        return load_pipeline(shipped), memorised, True
    folder = (cache or cache_root()) / f"memorised-{params.digest()}"
    if (folder / "model_index.json").is_file():
        return load_pipeline(folder), memorised, True
    start = time.perf_counter()
    pipe = train_memorising(load_pipeline(), memorised, params, on_step)
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    pipe.save_pretrained(tmp)
    (tmp / "training.json").write_text(
        json.dumps(
            {
                "params": params.model_dump(),
                "digest": params.digest(),
                "seconds": time.perf_counter() - start,
            }
        )
    )
    if folder.exists():  # another run cached it meanwhile
        shutil.rmtree(tmp)
    else:
        tmp.replace(folder)
    return load_pipeline(folder), memorised, False
