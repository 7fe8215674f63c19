r"""``scene-text-erasure``: STE against its ablations and a naive inpainting on text images.

*Self-Supervised Text Erasing with Controllable Image Synthesis* (arXiv:2204.12743).
Every method fits an eraser without ever seeing a held-out image's ground truth (STE
and its ablations train on synthetic pairs from the style-aware synthesis function; the
median inpainting fits nothing), then erases the text of the held-out "real" images,
whose styles follow a fixed non-uniform distribution the methods do not know
(`erase_diffusion.scene_text.world.REAL_STYLE_PROBABILITIES`). We read PSNR and SSIM
against the text-free ground truth, per method and per level of font scale and
rotation, and the text detectability: the mean probability that a small detector,
trained on the world (images with and without text), still sees text in the output.
The input left as it is and the ground truth are the two reference rows. The report has
an image grid (input, ground truth, one row per method), the style policy's sampling
distribution after each update (and its total-variation distance to the real style
distribution, which only the realism reward can see), the training losses and the
realism discriminator's loss. torch is imported only inside `run_scene_text`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series, Table

from erase_diffusion.scene_text.methods import METHODS

INPUT = "input (text left in)"
GROUND_TRUTH = "ground truth"
METHOD_NAMES = tuple(METHODS)
METRIC_NAMES = frozenset({"psnr", "ssim", "text_detectability", "fit_seconds"})
BY_LEVEL = ("scale", "rotation")
"""Numeric style factors whose levels get their own PSNR / SSIM curve."""


class DetectorTraining(StrictModel):
    """How the text detector (the judge of detectability) is trained on the world."""

    steps: int = Field(default=150, ge=1, le=1_000_000)
    batch_size: int = Field(default=32, ge=2, le=4096)
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)


class SceneTextRun(StrictModel):
    """Knobs of the scene-text erasure run."""

    test_images: int = Field(default=200, ge=1, le=100_000, description="Held-out images.")
    detector: DetectorTraining = Field(default_factory=DetectorTraining)
    grid_columns: int = Field(default=8, ge=1, le=64)
    threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="torch threads while the run lasts (restored after): the networks are "
        "tiny, and one thread avoids spin-wait contention on shared cores.",
    )


def run_scene_text(
    parsed: ParsedSpec[NoParams, NoParams, SceneTextRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Fit every method, erase the held-out images, score them against the ground truth,
    with ``params.threads`` torch threads."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(parsed.params.threads)
    load_before = os.getloadavg()
    try:
        result = _run(parsed, progress, out_dir)
    finally:
        torch.set_num_threads(previous_threads)
    load_after = os.getloadavg()
    result.notes.append(
        f"Load average (1 min) {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the "
        f"end; {parsed.params.threads} torch thread(s)."
    )
    return result


def _run(
    parsed: ParsedSpec[NoParams, NoParams, SceneTextRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    import numpy as np

    from erase_diffusion.benchmarks.erase import _save_grid
    from erase_diffusion.scene_text.metrics import psnr, ssim
    from erase_diffusion.scene_text.network import text_probability, train_detector
    from erase_diffusion.scene_text.world import STYLE_FACTORS, real_test_set

    run, seed = parsed.params, parsed.seeds[0]
    start = time.perf_counter()
    timings: dict[str, float] = {}
    progress.start(2 + len(parsed.methods), "scene-text erasure")
    test = real_test_set(run.test_images, seed)
    tick = time.perf_counter()
    detector_run = run.detector
    detector = train_detector(
        detector_run.steps, detector_run.batch_size, detector_run.learning_rate, seed
    )
    timings["detector"] = time.perf_counter() - tick
    progress.advance(1, f"detector trained in {timings['detector']:.0f}s")

    outputs: dict[str, np.ndarray] = {INPUT: test.images, GROUND_TRUTH: test.clean}
    fit_seconds: dict[str, float] = {}
    losses: dict[str, list[float]] = {}
    policies: dict[str, list[dict[str, list[float]]]] = {}
    discriminator_losses: dict[str, list[float]] = {}
    for method in parsed.methods:
        params = method.params
        if "seed" in type(params).model_fields:
            params = params.model_copy(update={"seed": seed})
        tick = time.perf_counter()
        fitted = method.spec.function(params)
        outputs[method.name] = fitted.erase(test.images)
        timings[method.name] = time.perf_counter() - tick
        fit_seconds[method.name] = fitted.seconds
        if fitted.losses:
            losses[method.name] = fitted.losses
        if fitted.policy_history:
            policies[method.name] = fitted.policy_history
        if fitted.discriminator_losses:
            discriminator_losses[method.name] = fitted.discriminator_losses
        progress.advance(1, f"{method.name} fitted and applied in {timings[method.name]:.0f}s")

    scores = {
        name: (psnr(out, test.clean), ssim(out, test.clean), text_probability(detector, out))
        for name, out in outputs.items()
    }
    metrics: list[MetricValue] = []
    reference = {
        "psnr": (float(scores[INPUT][0].mean()), INPUT),
        "ssim": (float(scores[INPUT][1].mean()), INPUT),
        "text_detectability": (float(scores[GROUND_TRUTH][2].mean()), GROUND_TRUTH),
    }
    for name, values in scores.items():
        for metric, per_image, direction in zip(
            ("psnr", "ssim", "text_detectability"),
            values,
            ("higher", "higher", "lower"),
            strict=True,
        ):
            value = (
                min(float(per_image.mean()), 99.0) if metric == "psnr" else float(per_image.mean())
            )
            own = name in (INPUT, GROUND_TRUTH)
            metrics.append(
                MetricValue(
                    name=metric,
                    value=value,
                    direction=direction,  # type: ignore[arg-type]
                    unit="dB" if metric == "psnr" else None,
                    reference=None if own else reference[metric][0],
                    reference_name=None if own else reference[metric][1],
                    labels={"method": name},
                )
            )
    for name, seconds in fit_seconds.items():
        metrics.append(
            MetricValue(
                name="fit_seconds",
                value=seconds,
                direction="lower",
                unit="CPU s",
                labels={"method": name},
            )
        )
    if parsed.metrics is not None:
        metrics = [m for m in metrics if m.name in parsed.metrics]

    curves: list[Curve] = []
    erased_rows = [n for n in scores if n != GROUND_TRUTH]
    for factor in BY_LEVEL:
        levels = STYLE_FACTORS[factor]
        index = np.array([s.level_index(factor) for s in test.styles])
        present = [i for i in range(len(levels)) if (index == i).any()]
        for metric, column in (("psnr", 0), ("ssim", 1)):
            curves.append(
                Curve(
                    name=f"{metric}-by-{factor}",
                    title=f"{metric.upper()} against the ground truth, by text {factor}",
                    x_label=f"text {factor}" + (" (degrees)" if factor == "rotation" else ""),
                    y_label=metric.upper() + (" (dB)" if metric == "psnr" else ""),
                    series=[
                        Series(
                            label=name,
                            x=[float(levels[i]) for i in present],
                            y=[float(scores[name][column][index == i].mean()) for i in present],
                        )
                        for name in erased_rows
                    ],
                )
            )
    distances = {name: [distance_to_real(p) for p in h] for name, h in policies.items()}
    for name, title, x_label, y_label, per_step in (
        ("training-loss", "Training loss of the erasing network", "step", "loss", losses),
        (
            "discriminator-loss",
            "Realism discriminator's loss (ln 2 = 0.69: cannot tell real from synthetic)",
            "discriminator step",
            "binary cross-entropy",
            discriminator_losses,
        ),
        (
            "policy-distance-to-real",
            "Total-variation distance of the sampled styles to the real ones",
            "policy update",
            "mean over factors of TV distance",
            distances,
        ),
    ):
        if per_step:
            series = [
                Series(label=label, x=[float(i) for i in range(len(v))], y=v)
                for label, v in per_step.items()
            ]
            curves.append(
                Curve(name=name, title=title, x_label=x_label, y_label=y_label, series=series)
            )
    for name, history in policies.items():
        for factor, levels in STYLE_FACTORS.items():
            curves.append(
                Curve(
                    name=f"policy-{name}-{factor}",
                    title=f"{name}: style policy's probability of each {factor}",
                    x_label="policy update",
                    y_label="sampling probability",
                    series=[
                        Series(
                            label=level,
                            x=[float(u) for u in range(len(history))],
                            y=[p[factor][i] for p in history],
                        )
                        for i, level in enumerate(levels)
                    ],
                )
            )

    # _save_grid draws images in [-1, 1] (the diffusion world's range); ours are in [0, 1].
    k = min(run.grid_columns, len(test))
    grid = Path(out_dir) / "grid-scene-text.png"
    _save_grid([outputs[name][:k] * 2 - 1 for name in outputs], grid)
    rows = [
        [
            name,
            "identical" if name == GROUND_TRUTH else f"{scores[name][0].mean():.2f}",
            f"{scores[name][1].mean():.3f}",
            f"{scores[name][2].mean():.3f}",
            f"{fit_seconds[name]:.1f}" if name in fit_seconds else "",
        ]
        for name in scores
    ]
    summary = Table(
        title=f"Text erasure on {len(test)} held-out images (seed {seed})",
        header=["method", "PSNR (dB)", "SSIM", "text detectability", "fit CPU s"],
        rows=rows,
    )
    notes = [
        "Grid (grid-scene-text.png): rows are " + ", ".join(outputs) + f"; first {k} images.",
        "PSNR / SSIM / detectability: "
        + "; ".join(f"{r[0]} {r[1]} / {r[2]} / {r[3]}" for r in rows)
        + ".",
    ]
    for name, history in policies.items():
        final = history[-1]
        favoured = {f: STYLE_FACTORS[f][int(np.argmax(p))] for f, p in final.items()}
        notes.append(
            f"{name}: after {len(history) - 1} policy updates the most sampled style is "
            + ", ".join(f"{f} {v} ({max(final[f]):.2f})" for f, v in favoured.items())
            + f"; distance to the real styles {distance_to_real(history[0]):.3f} (uniform) "
            f"-> {distance_to_real(final):.3f}."
        )
    for name, d_losses in discriminator_losses.items():
        tail = d_losses[-max(len(d_losses) // 5, 1) :]
        notes.append(
            f"{name}: realism discriminator loss {d_losses[0]:.3f} at its first step, "
            f"{sum(tail) / len(tail):.3f} over its last {len(tail)} (ln 2 = 0.693)."
        )
    timings["total"] = time.perf_counter() - start
    return BenchmarkResult(
        metrics=metrics,
        curves=curves,
        timings=timings,
        artifacts={"grid-scene-text": str(grid)},
        notes=notes,
        summary=summary,
    )


def distance_to_real(probabilities: dict[str, list[float]]) -> float:
    """Mean over the style factors of the total-variation distance
    $\\frac{1}{2}\\sum_k |p_k - q_k|$ between a sampling distribution and
    `REAL_STYLE_PROBABILITIES`."""
    from erase_diffusion.scene_text.world import REAL_STYLE_PROBABILITIES

    distances = [
        0.5 * sum(abs(p - q) for p, q in zip(probabilities[f], real, strict=True))
        for f, real in REAL_STYLE_PROBABILITIES.items()
    ]
    return sum(distances) / len(distances)


def _spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        run = SceneTextRun(test_images=100, detector=DetectorTraining(steps=250))
        steps = {"steps": 200}
    else:
        run = SceneTextRun(test_images=500, detector=DetectorTraining(steps=600))
        steps = {"steps": 2000, "channels": 24}
    return spec_from_parts(
        "scene-text-erasure",
        size,
        world=("scene-text", NoParams()),
        model=("coarse-to-fine-eraser", NoParams()),
        methods=METHOD_NAMES,
        method_params={name: steps for name in METHOD_NAMES if name.startswith("ste")},
        params=run,
    )


SCENE_TEXT_ERASURE: Benchmark[Any, Any, Any] = Benchmark(
    name="scene-text-erasure",
    summary=(
        "STE (policy-styled synthetic pairs, coarse-to-fine eraser, triplet loss) vs uniform "
        "styles, no triplet loss, no realism reward and median inpainting: PSNR, SSIM, "
        "text detectability."
    ),
    default_spec=_spec,
    run=run_scene_text,
    params_type=SceneTextRun,
    worlds={"scene-text": NoParams},
    models={"coarse-to-fine-eraser": NoParams},
    methods=METHODS,
    method_names=METHOD_NAMES,
    metric_names=METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=180.0,
)
