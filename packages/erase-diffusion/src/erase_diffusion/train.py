"""Train the tiny shapes-world pipeline from scratch (the shipped weights come from here).

The shipped ``weights/tiny-shapes`` came from one run of 8 000 steps at batch 32 with an
exponential moving average of the weights (15 minutes on 2 idle cores)::

    python -m erase_diffusion.train --out tiny-shapes --steps 8000 --seed 0 --lr 1e-3 \
        --ema 0.999

``--text-encoder-from DIR`` keeps that folder's text encoder and tokenizer frozen and
trains only a fresh UNet: a second pipeline of the same architecture that reads the same
text embeddings, so that an erased text encoder or a UNet adapter can be moved onto it
(``weights/tiny-shapes-seed1``; see its ``training.json``).

Noise-prediction loss of DDPM, E‖ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, c, t)‖², on freshly rendered
shapes-world images; the caption is replaced by the empty prompt 10 % of the time so
that classifier-free guidance works. Fixed seed, so a rerun on the same torch build
reproduces the weights.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erase_diffusion.pipeline import TextToImage, TinyPipelineConfig, build_tiny_pipeline
from erase_diffusion.worlds.shapes import (
    ShapesWorld,
    all_attributes,
    caption,
    kind_of,
    render,
    sample,
)

if TYPE_CHECKING:
    import torch


def vocabulary() -> list[str]:
    """Every word of every caption of the world."""
    return sorted({w for a in all_attributes() for w in caption(a).split()})


def _batch(
    n: int, world: ShapesWorld, seed: int, exclude: tuple[str, ...]
) -> tuple[Any, list[str]]:
    """``n`` training images and captions; none shows (or names) a concept in ``exclude``."""
    if not exclude:
        images, captions, _ = sample(n, world, seed=seed)
        return images, captions
    import numpy as np

    left = [a for a in all_attributes() if not {a.shape, a.colour, a.style} & set(exclude)]
    rng = np.random.default_rng(seed)
    picks = [left[i] for i in rng.integers(0, len(left), n)]
    return np.stack([render(a, world, rng) for a in picks]), [caption(a) for a in picks]


def noise_prediction_loss(
    pipe: TextToImage,
    noise_scheduler: Any,
    x0: torch.Tensor,
    captions: list[str],
    generator: torch.Generator,
    text_encoder_grad: bool = True,
) -> torch.Tensor:
    """DDPM's loss $\\lVert \\epsilon - \\epsilon_\theta(x_t, c, t)\rVert^2$ on the clean
    images ``x0`` and their ``captions``: the noise, then the timesteps, drawn from
    ``generator`` in that order. ``text_encoder_grad=False`` encodes the captions without
    gradients (a frozen text encoder). The one loss of the pipeline's training and of the
    fine-tunes that teach it more (memorisation, Geom-Erasing's marked captions)."""
    import torch

    noise = torch.randn(x0.shape, generator=generator)
    t = torch.randint(
        0, noise_scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator
    )
    xt = noise_scheduler.add_noise(x0, noise, t)
    with torch.set_grad_enabled(text_encoder_grad):
        context = pipe.text_encoder(pipe.tokenize(captions)).last_hidden_state
    eps = pipe.unet(xt, t, encoder_hidden_states=context).sample
    return torch.nn.functional.mse_loss(eps, noise)


def train_pipeline(
    steps: int = 1500,
    batch_size: int = 32,
    seed: int = 0,
    learning_rate: float = 1e-3,
    config: TinyPipelineConfig | None = None,
    world: ShapesWorld | None = None,
    log_every: int = 100,
    save_every: int = 0,
    save_to: Path | None = None,
    init_from: Path | None = None,
    ema_decay: float = 0.0,
    exclude: tuple[str, ...] = (),
    text_encoder_from: Path | None = None,
) -> TextToImage:
    """Train a tiny pipeline on the shapes world (from scratch, or continuing from the
    diffusers folder ``init_from``); returns it in eval mode.

    With ``ema_decay`` > 0 the returned (and checkpointed) weights are an exponential
    moving average of the trained ones, ``θ̄ ← d·θ̄ + (1 − d)·θ`` after every step (the
    usual way to get sharper samples from a diffusion model than its last iterate).

    ``exclude`` names concepts the model never sees: no training image shows them (their
    words stay in the vocabulary, with untrained embeddings), which gives the "retrained
    without the concept" reference that attacks are checked against.

    ``text_encoder_from`` names a diffusers folder whose text encoder and tokenizer are
    loaded, frozen and reused; only a freshly initialised UNet (from ``seed``) is trained.
    """
    if not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in [0, 1), got {ema_decay}")
    for name in exclude:
        kind_of(name)
    import torch
    from diffusers import DDPMScheduler

    config = config or TinyPipelineConfig()
    world = world or ShapesWorld(image_size=config.image_size)  # type: ignore[arg-type]
    if init_from is not None and text_encoder_from is not None:
        raise ValueError(
            f"give init_from ({init_from}) or text_encoder_from ({text_encoder_from}), not both"
        )
    if init_from is not None:
        from erase_diffusion.pipeline import load_pipeline

        pipe = load_pipeline(init_from)
    else:
        pipe = build_tiny_pipeline(config, vocabulary(), seed=seed)
    if text_encoder_from is not None:
        from erase_diffusion.pipeline import load_pipeline

        donor = load_pipeline(text_encoder_from)
        pipe.text_encoder, pipe.tokenizer = donor.text_encoder, donor.tokenizer
        pipe.text_encoder.requires_grad_(False)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    params = list(pipe.unet.parameters())
    if text_encoder_from is None:
        params += list(pipe.text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
    warmup = max(steps // 20, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, 0.5 * (1 + __import__("math").cos(3.14159 * s / steps))),
    )
    generator = torch.Generator().manual_seed(seed)
    average = [p.detach().clone() for p in params] if ema_decay else []
    pipe.unet.train()
    # A frozen (reused) text encoder stays in eval mode: no dropout, same embeddings.
    pipe.text_encoder.train(text_encoder_from is None)
    start = time.perf_counter()
    for step in range(steps):
        images, captions = _batch(batch_size, world, seed * 1_000_003 + step, exclude)
        drop = torch.rand(batch_size, generator=generator) < 0.1
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        x0 = torch.from_numpy(images)
        loss = noise_prediction_loss(
            pipe, noise_scheduler, x0, captions, generator, text_encoder_from is None
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        if average:
            # Warm-up of the decay, so the average is not dominated by the initial weights.
            decay = min(ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(average, [p.detach() for p in params], 1 - decay)
        if log_every and (step % log_every == 0 or step == steps - 1):
            elapsed = time.perf_counter() - start
            print(f"step {step:5d}  loss {loss.item():.4f}  {elapsed:7.1f}s", flush=True)
        if save_every and save_to is not None and step and step % save_every == 0:
            # Intermediate checkpoints let a long CPU run be cut short without loss.
            with _swapped(params, average):
                pipe.save_pretrained(save_to / f"step-{step}")
    if average:
        with torch.no_grad():
            for p, a in zip(params, average, strict=True):
                p.copy_(a)
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe


@contextlib.contextmanager
def _swapped(params: list[Any], average: list[Any]) -> Iterator[None]:
    """The averaged weights in place of the trained ones while inside (none: unchanged)."""
    import torch

    if not average:
        yield
        return
    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        for p, a in zip(params, average, strict=True):
            p.copy_(a)
        try:
            yield
        finally:
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=int, default=0)
    parser.add_argument("--init", type=Path, default=None, help="Continue from this folder.")
    parser.add_argument(
        "--ema", type=float, default=0.0, help="EMA decay of the saved weights (0: off)"
    )
    parser.add_argument(
        "--exclude", nargs="*", default=[], help="Concepts no training image shows."
    )
    parser.add_argument(
        "--text-encoder-from",
        type=Path,
        default=None,
        help="Reuse (frozen) this folder's text encoder and tokenizer; train only a new UNet.",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    pipe = train_pipeline(
        args.steps,
        args.batch_size,
        args.seed,
        args.lr,
        save_every=args.save_every,
        save_to=args.out.parent / (args.out.name + "-checkpoints"),
        init_from=args.init,
        ema_decay=args.ema,
        exclude=tuple(args.exclude),
        text_encoder_from=args.text_encoder_from,
    )
    pipe.save_pretrained(args.out)
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
