"""The judge: a small CNN that names the shape, colour and style of a shapes-world image.

Trained on rendered images only (never on generated ones), so it is an independent
observer of what a pipeline draws. Its penultimate layer (128 features) is the feature
space of the Fréchet distance. Shipped weights: ``weights/judge.safetensors``; retrain
with ``python -m erase_diffusion.metrics.judge --out PATH``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from torch import nn

from erase_diffusion.worlds.shapes import KINDS, ConceptKind, ShapesWorld, sample, values_of

FEATURES = 128


class JudgeNet(nn.Module):
    """Three conv layers, a 128-d feature layer and one linear head per attribute kind."""

    def __init__(self, image_size: int = 16) -> None:
        super().__init__()
        self.image_size = image_size
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Flatten(),
            nn.Linear(64 * (image_size // 4) ** 2, FEATURES),
            nn.GELU(),
        )
        self.heads = nn.ModuleDict({k: nn.Linear(FEATURES, len(values_of(k))) for k in KINDS})

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = nn.functional.interpolate(
                images, size=(self.image_size, self.image_size), mode="area"
            )
        return self.body(images)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(images)
        return {k: head(feats) for k, head in self.heads.items()}


@dataclass
class Judgement:
    """What the judge sees in a batch: a value name per kind per image, and features."""

    labels: dict[ConceptKind, list[str]]
    features: np.ndarray

    def sees(self, name: str, kind: ConceptKind) -> np.ndarray:
        return np.array([v == name for v in self.labels[kind]])


class Judge:
    """A trained `JudgeNet` with helpers returning names instead of logits."""

    def __init__(self, net: JudgeNet) -> None:
        self.net = net.eval()

    def judge(self, images: torch.Tensor, batch_size: int = 256) -> Judgement:
        """Judge images (n, 3, H, W) in [-1, 1]."""
        logits: dict[str, list[torch.Tensor]] = {k: [] for k in KINDS}
        feats = []
        with torch.no_grad():
            for start in range(0, images.shape[0], batch_size):
                chunk = images[start : start + batch_size].float()
                f = self.net.features(chunk)
                feats.append(f)
                for k, head in self.net.heads.items():
                    logits[k].append(head(f))
        labels: dict[ConceptKind, list[str]] = {}
        for kind in KINDS:
            idx = torch.cat(logits[kind]).argmax(-1).tolist()
            labels[kind] = [values_of(kind)[i] for i in idx]
        return Judgement(labels=labels, features=torch.cat(feats).double().numpy())

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(path))


def judge_path() -> Path:
    return Path(str(files("erase_diffusion") / "weights" / "judge.safetensors"))


def load_judge(path: str | Path | None = None) -> Judge:
    """Load the shipped judge (or one saved with `Judge.save`)."""
    from safetensors.torch import load_file
    from unlearn_schema import reading_file

    source = judge_path() if path is None else Path(path)
    with reading_file(source, "the judge weights (a file written by Judge.save)"):
        state = load_file(str(source))
        size = round((state["body.7.weight"].shape[1] / 64) ** 0.5) * 4
        net = JudgeNet(image_size=size)
        net.load_state_dict(state)
    return Judge(net)


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # Generated images are softer and noisier than rendered ones: blur and add noise at
    # random so that the judge names what it sees on both.
    blur = torch.rand(images.shape[0], 1, 1, 1, generator=generator) < 0.4
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    kernel = kernel.expand(3, 1, 3, 3)
    blurred = nn.functional.conv2d(
        nn.functional.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=3
    )
    images = torch.where(blur, blurred, images)
    sigma = torch.rand(images.shape[0], 1, 1, 1, generator=generator) * 0.15
    return (images + sigma * torch.randn(images.shape, generator=generator)).clamp(-1, 1)


def train_judge(
    steps: int = 800, batch_size: int = 128, seed: int = 0, image_size: int = 16
) -> tuple[Judge, dict[ConceptKind, float]]:
    """Train the judge on freshly rendered images; returns it and held-out accuracies."""
    torch.manual_seed(seed)
    world = ShapesWorld(image_size=image_size)  # type: ignore[arg-type]
    net = JudgeNet(image_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    index = {k: {v: i for i, v in enumerate(values_of(k))} for k in KINDS}
    for step in range(steps):
        images, _, attrs = sample(batch_size, world, seed=10_000_019 * (seed + 1) + step)
        x = _augment(torch.from_numpy(images), generator)
        out = net(x)
        loss = sum(
            nn.functional.cross_entropy(out[k], torch.tensor([index[k][a.get(k)] for a in attrs]))
            for k in KINDS
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
    judge = Judge(net)
    images, _, attrs = sample(1000, world, seed=-1 % 2**31)
    seen = judge.judge(torch.from_numpy(images))
    accuracy = {
        k: float(np.mean([s == a.get(k) for s, a in zip(seen.labels[k], attrs, strict=True)]))
        for k in KINDS
    }
    return judge, accuracy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the shapes-world judge.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    judge, accuracy = train_judge(args.steps, seed=args.seed)
    judge.save(args.out)
    print(f"held-out accuracy {accuracy} in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
