"""A tiny ViT image classifier, trained from scratch on the shapes world, and its cache.

The model is transformers' `ViTForImageClassification` built from a `ViTConfig` (no
weights are downloaded): 16×16 images cut into 4×4 patches, a few pre-norm Transformer
blocks, a linear head on the class token. `trained_classifier` trains it on a fixed
training set (`erase_diffusion.vision.data`), optionally without some classes (the
exact retrain oracle of a forget set: same data, same steps, same seed, the forgotten
classes' images removed), and caches it on disk under `cache_root()`
(``$ERASE_DIFFUSION_CACHE`` or ``~/.cache/erase-diffusion``), keyed by a hash of
everything that determines the weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.vision.data import LabelKind, LabelledImages, class_names, labelled_images

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification

TRAINING_VERSION = 2
"""Bumped whenever what the classifier trains on changes (stale caches unused)."""


class TinyViTParams(StrictModel):
    """Shape of the tiny ViT (transformers' `ViTConfig` fields)."""

    patch_size: int = Field(default=4, ge=1, le=16)
    hidden_size: int = Field(default=64, ge=8, le=1024)
    layers: int = Field(default=4, ge=1, le=24, description="Transformer blocks.")
    heads: int = Field(default=4, ge=1, le=16)
    mlp_size: int = Field(default=128, ge=8, le=4096, description="FFN width.")


class ClassifierTraining(StrictModel):
    """How the classifier (and every retrain oracle) is trained."""

    label: LabelKind = "shape-colour"
    train_per_class: int = Field(default=120, ge=1, le=100_000)
    steps: int = Field(default=1200, ge=1, le=1_000_000)
    batch_size: int = Field(default=64, ge=2, le=4096)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    seed: int = 0
    model: TinyViTParams = Field(default_factory=TinyViTParams)

    def digest(self, exclude: tuple[int, ...]) -> str:
        blob = json.dumps([self.model_dump(), sorted(exclude), TRAINING_VERSION], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_vit(params: TinyViTParams, num_classes: int, seed: int) -> ViTForImageClassification:
    """A freshly initialised ViT classifier for 16×16 shapes-world images."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    if params.hidden_size % params.heads:
        raise ValueError(
            f"hidden_size {params.hidden_size} must be a multiple of heads {params.heads}"
        )
    if 16 % params.patch_size:
        raise ValueError(f"patch_size must divide the image size 16, got {params.patch_size}")
    config = ViTConfig(
        image_size=16,
        patch_size=params.patch_size,
        num_channels=3,
        hidden_size=params.hidden_size,
        num_hidden_layers=params.layers,
        num_attention_heads=params.heads,
        intermediate_size=params.mlp_size,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    config.num_labels = num_classes
    torch.manual_seed(seed)
    return ViTForImageClassification(config)


def training_set(training: ClassifierTraining) -> LabelledImages:
    """The fixed training set every classifier and oracle of ``training`` sees."""
    return labelled_images(training.train_per_class, training.label, seed=training.seed)


def test_set(label: LabelKind, per_class: int, seed: int) -> LabelledImages:
    """A held-out set (its seed kept apart from every training seed)."""
    return labelled_images(per_class, label, seed=10_000_019 + seed)


def logits_of(model: ViTForImageClassification, images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Logits (n, classes) in eval mode, without gradients, in batches of 256."""
    import torch

    x = torch.as_tensor(images)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(pixel_values=x[i : i + 256]).logits for i in range(0, len(x), 256)])
    model.train(was_training)
    return out


def accuracy(model: ViTForImageClassification, data: LabelledImages) -> float:
    """Top-1 accuracy on ``data`` (nan when it is empty)."""
    if len(data) == 0:
        return float("nan")
    predicted = logits_of(model, data.images).argmax(dim=1).numpy()
    return float((predicted == data.labels).mean())


def train_classifier(
    training: ClassifierTraining,
    data: LabelledImages,
    on_step: Callable[[int, float], None] | None = None,
) -> ViTForImageClassification:
    """A ViT trained from scratch on ``data`` with cross-entropy (AdamW, cosine decay)."""
    import math

    import torch

    if len(data) == 0:
        raise ValueError("cannot train a classifier on an empty set")
    model = build_vit(training.model, len(class_names(training.label)), training.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=0.05)
    warmup = max(training.steps // 20, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / training.steps))),
    )
    images, labels = torch.from_numpy(data.images), torch.from_numpy(data.labels)
    generator = torch.Generator().manual_seed(training.seed)
    model.train()
    for step in range(training.steps):
        pick = torch.randint(0, len(labels), (training.batch_size,), generator=generator)
        loss = torch.nn.functional.cross_entropy(
            model(pixel_values=images[pick]).logits, labels[pick]
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if on_step is not None:
            on_step(step, float(loss.detach()))
    model.eval()
    return model


def cache_root() -> Path:
    """Where trained classifiers are cached (the package's cache folder)."""
    from erase_diffusion.memorisation.train import cache_root as package_cache

    return package_cache()


def trained_classifier(
    training: ClassifierTraining,
    exclude: tuple[int, ...] = (),
    on_step: Callable[[int, float], None] | None = None,
    cache: Path | None = None,
) -> tuple[ViTForImageClassification, float, bool]:
    """The classifier trained on the training set without the classes ``exclude`` (from
    the cache, else trained and cached), the CPU seconds its training took (process
    time, so that a loaded machine does not inflate it), and whether it
    came from the cache. ``exclude=()`` is the original model; any other value is the
    exact retrain oracle for forgetting those classes."""
    from transformers import ViTForImageClassification

    known = len(class_names(training.label))
    bad = [c for c in exclude if not 0 <= c < known]
    if bad:
        raise ValueError(f"exclude has class indices {bad} outside 0..{known - 1}")
    folder = (cache or cache_root()) / f"vision-{training.digest(exclude)}"
    if (folder / "training.json").is_file():
        seconds = float(json.loads((folder / "training.json").read_text())["cpu_seconds"])
        model = ViTForImageClassification.from_pretrained(folder)
        return model.eval(), seconds, True
    start, wall = time.process_time(), time.perf_counter()
    model = train_classifier(
        training, training_set(training).without_classes(set(exclude)), on_step
    )
    seconds, wall = time.process_time() - start, time.perf_counter() - wall
    # Same write-then-rename as memorisation/train.py, so concurrent runs never read half a model.
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    model.save_pretrained(tmp)
    (tmp / "training.json").write_text(
        json.dumps(
            {
                "params": training.model_dump(),
                "exclude": list(exclude),
                "cpu_seconds": seconds,
                "wall_seconds": wall,
            }
        )
    )
    if folder.exists():  # another run cached it meanwhile
        shutil.rmtree(tmp)
    else:
        tmp.replace(folder)
    return model, seconds, False
