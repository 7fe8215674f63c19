"""Train the tiny shapes-world pipeline from scratch (the shipped weights come from here).

The shipped ``weights/tiny-shapes`` came from two runs of 1 500 steps at batch 32
(about 33 minutes each on a shared 2-core machine; about 9 alone)::

    python -m erase_diffusion.train --out stage1 --steps 1500 --seed 0 --lr 1e-3 --threads 1
    python -m erase_diffusion.train --init stage1 --out tiny-shapes --steps 1500 --seed 1 \
        --lr 5e-4 --threads 1

Noise-prediction loss of DDPM, E‖ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, c, t)‖², on freshly rendered
shapes-world images; the caption is replaced by the empty prompt 10 % of the time so
that classifier-free guidance works. Fixed seed, so a rerun on the same torch build
reproduces the weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from erase_diffusion.pipeline import TextToImage, TinyPipelineConfig, build_tiny_pipeline
from erase_diffusion.worlds.shapes import ShapesWorld, all_attributes, caption, sample


def vocabulary() -> list[str]:
    """Every word of every caption of the world."""
    return sorted({w for a in all_attributes() for w in caption(a).split()})


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
) -> TextToImage:
    """Train a tiny pipeline on the shapes world (from scratch, or continuing from the
    diffusers folder ``init_from``); returns it in eval mode."""
    import torch
    from diffusers import DDPMScheduler

    config = config or TinyPipelineConfig()
    world = world or ShapesWorld(image_size=config.image_size)  # type: ignore[arg-type]
    if init_from is not None:
        from erase_diffusion.pipeline import load_pipeline

        pipe = load_pipeline(init_from)
    else:
        pipe = build_tiny_pipeline(config, vocabulary(), seed=seed)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=1e-4)
    warmup = max(steps // 20, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, 0.5 * (1 + __import__("math").cos(3.14159 * s / steps))),
    )
    generator = torch.Generator().manual_seed(seed)
    pipe.unet.train()
    pipe.text_encoder.train()
    start = time.perf_counter()
    for step in range(steps):
        images, captions, _ = sample(batch_size, world, seed=seed * 1_000_003 + step)
        drop = torch.rand(batch_size, generator=generator) < 0.1
        captions = ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]
        x0 = torch.from_numpy(images)
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (batch_size,), generator=generator
        )
        xt = noise_scheduler.add_noise(x0, noise, t)
        context = pipe.text_encoder(pipe.tokenize(captions)).last_hidden_state
        eps = pipe.unet(xt, t, encoder_hidden_states=context).sample
        loss = torch.nn.functional.mse_loss(eps, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            elapsed = time.perf_counter() - start
            print(f"step {step:5d}  loss {loss.item():.4f}  {elapsed:7.1f}s", flush=True)
        if save_every and save_to is not None and step and step % save_every == 0:
            # Intermediate checkpoints let a long CPU run be cut short without loss.
            pipe.save_pretrained(save_to / f"step-{step}")
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe


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
    )
    pipe.save_pretrained(args.out)
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
