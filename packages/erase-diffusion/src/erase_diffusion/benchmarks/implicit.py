r"""``diffusion-implicit-concept``: Geom-Erasing (arXiv:2310.05873) on the watermarked world.

The shipped pipeline is fine-tuned on the watermarked shapes world
(`erase_diffusion.worlds.watermark`: half the images carry a corner mark that no
caption names; cached on disk like the memorised pipeline), so it draws the mark
unprompted: an implicit concept. Geom-Erasing (`erase_diffusion.methods.geom_erasing`)
then fine-tunes that model on the same world with the detector's geometric condition
written into the captions, and guides away from the condition.

Rows (``model`` label): ``shipped`` (never saw the mark), ``marked`` (the model that
learned it), ``geom-erasing`` (guided away from the condition), ``geom-erasing-unguided``
(the same weights sampled without the negative: what the caption rewrite alone does)
and, unless ``ablation`` is off, ``existence-only`` (Geom-Erasing with ``"mark"`` and no
location). Metrics per row, on images from world captions: ``mark_rate`` (share the
detector finds a mark in; an independent detector, trained from another seed than the
method's), ``prompt_alignment`` (the judge's shape, colour and style agreement) and
``frechet_distance`` (judge features, to clean renders of the same captions). Also the
detector's accuracy on held-out renders. torch is imported only inside `run_implicit`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, MetricValue

from erase_diffusion.methods.geom_erasing import GeomErasingParams
from erase_diffusion.worlds.watermark import WatermarkWorld

if TYPE_CHECKING:
    from erase_diffusion.pipeline import TextToImage

METRIC_NAMES = frozenset(
    {"mark_rate", "prompt_alignment", "frechet_distance", "detector_accuracy", "erase_seconds"}
)
MARKED_VERSION = 1
"""Bumped whenever what the marked pipeline trains on changes (stale caches unused)."""


class ImplicitRun(StrictModel):
    """Knobs of the implicit-concept benchmark."""

    world: WatermarkWorld = Field(default_factory=WatermarkWorld)
    marked_steps: int = Field(
        default=300, ge=1, le=100_000, description="Fine-tuning that teaches the mark (cached)."
    )
    marked_learning_rate: float = Field(default=5e-4, gt=0.0, le=1.0)
    geom: GeomErasingParams = Field(default_factory=GeomErasingParams)
    ablation: bool = Field(default=False, description="Also run existence-only Geom-Erasing.")
    samples: int = Field(default=64, ge=2, le=4096, description="Images per row.")
    steps: int = Field(default=20, ge=2, le=1000, description="DDIM steps.")
    detector_steps: int = Field(default=300, ge=1, le=100_000)


def _marked_digest(run: ImplicitRun, seed: int) -> str:
    blob = json.dumps(
        [run.world.model_dump(), run.marked_steps, run.marked_learning_rate, seed, MARKED_VERSION],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def marked_pipeline(
    run: ImplicitRun, seed: int, cache: Path | None = None
) -> tuple[TextToImage, bool]:
    """The shipped pipeline fine-tuned on the watermarked world with plain captions, and
    whether it was read from the cache (``$ERASE_DIFFUSION_CACHE``) rather than trained."""
    from erase_diffusion.memorisation.train import cache_root
    from erase_diffusion.methods.geom_erasing import finetune_on_captions
    from erase_diffusion.pipeline import load_pipeline

    folder = (cache or cache_root()) / f"marked-{_marked_digest(run, seed)}"
    if (folder / "model_index.json").is_file():
        return load_pipeline(folder), True
    pipe = load_pipeline()
    finetune_on_captions(
        pipe,
        run.world,
        lambda _images, captions, _corners: captions,
        run.marked_steps,
        run.geom.batch_size,
        run.marked_learning_rate,
        seed,
    )
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    pipe.save_pretrained(tmp)
    if folder.exists():  # another run cached it meanwhile
        shutil.rmtree(tmp)
    else:
        tmp.replace(folder)
    return load_pipeline(folder), False


def run_implicit(
    parsed: ParsedSpec[NoParams, NoParams, ImplicitRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Teach the mark, remove it with Geom-Erasing, read mark rate and preservation."""
    import torch
    from unlearn_schema import Concept

    from erase_diffusion.benchmarks.erase import _save_grid
    from erase_diffusion.methods.geom_erasing import (
        detect_marks,
        erase_geom_erasing,
        train_mark_detector,
    )
    from erase_diffusion.methods.request import EraseRequest
    from erase_diffusion.metrics.erasure import frechet_distance, prompt_alignment
    from erase_diffusion.metrics.judge import load_judge
    from erase_diffusion.pipeline import load_pipeline
    from erase_diffusion.worlds.shapes import KINDS, all_attributes, caption, render
    from erase_diffusion.worlds.watermark import sample_marked

    run, seed = parsed.params, parsed.seeds[0]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    rows = ["shipped", "marked", "geom-erasing", "geom-erasing-unguided"]
    if run.ablation:
        rows.append("existence-only")
    progress.start(len(rows) + 2, "implicit-concept stages")
    torch.manual_seed(seed)

    t0 = time.perf_counter()
    # Another seed than the method's detector: the reading is independent of the labels.
    detector = train_mark_detector(run.world, run.detector_steps, seed=seed + 1_000)
    held, _, truth = sample_marked(
        512, run.world.model_copy(update={"share": 0.5}), seed=-1 % 2**31
    )
    accuracy = float(
        np.mean(
            [
                a == b
                for a, b in zip(detect_marks(detector, torch.from_numpy(held)), truth, strict=True)
            ]
        )
    )
    timings["detector"] = time.perf_counter() - t0
    progress.advance(1, f"detector accuracy {accuracy:.3f}")

    t0 = time.perf_counter()
    marked, cached = marked_pipeline(run, seed)
    timings["marked_pipeline"] = time.perf_counter() - t0
    progress.advance(1, "marked pipeline " + ("read from the cache" if cached else "trained"))

    rng = np.random.default_rng(seed)
    combos = all_attributes()
    picks = [combos[int(i)] for i in rng.integers(0, len(combos), run.samples)]
    prompts = [caption(a) for a in picks]
    clean = torch.from_numpy(np.stack([render(a, run.world.shapes, rng) for a in picks]))
    judge = load_judge()
    clean_features = judge.judge(clean).features
    prompted: dict[str, list[str]] = {k: [a.get(k) for a in picks] for k in KINDS}

    request = EraseRequest([Concept(name="mark", prompts=prompts[:4])])
    metrics: list[MetricValue] = [
        MetricValue(name="detector_accuracy", value=accuracy, direction="higher", labels={})
    ]
    grids = []
    erased = None
    for row in rows:
        t0 = time.perf_counter()
        options: dict[str, Any] = {}
        if row == "shipped":
            model: Any = load_pipeline()
        elif row == "marked":
            model = marked
        elif row == "geom-erasing":
            erased = erase_geom_erasing(marked, request, run.geom)
            timings["erase_geom_erasing"] = time.perf_counter() - t0
            metrics.append(
                MetricValue(
                    name="erase_seconds",
                    value=timings["erase_geom_erasing"],
                    direction="lower",
                    labels={"model": row},
                )
            )
            model = erased
        elif row == "geom-erasing-unguided":
            model, options = erased, {"guidance": 1.0}
        else:
            model = erase_geom_erasing(
                marked, request, run.geom.model_copy(update={"geometry": False})
            )
        images = model.generate(prompts, steps=run.steps, seed=seed + 17, **options)
        seen = judge.judge(images)
        labels = {"model": row}
        found = detect_marks(detector, images)
        metrics += [
            MetricValue(
                name="mark_rate",
                value=float(np.mean([f is not None for f in found])),
                direction="lower",
                labels=labels,
            ),
            MetricValue(
                name="prompt_alignment",
                value=prompt_alignment({k: seen.labels[k] for k in KINDS}, prompted),
                direction="higher",
                labels=labels,
            ),
            MetricValue(
                name="frechet_distance",
                value=frechet_distance(seen.features, clean_features),
                direction="lower",
                labels=labels,
            ),
        ]
        grids.append(images[:16].numpy())
        timings[f"row_{row}"] = time.perf_counter() - t0
        progress.advance(1, f"{row} read")

    path = Path(out_dir) / "grid-implicit.png"
    _save_grid(grids, path)
    timings["total"] = time.perf_counter() - start
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        artifacts={"grid-implicit": str(path)},
        notes=[
            f"marked pipeline: {run.marked_steps} fine-tuning steps on the watermarked world "
            f"(share {run.world.share}), " + ("read from the cache" if cached else "trained now"),
            "grid rows: " + ", ".join(rows) + " (same prompts and noise)",
        ],
    )


def _spec(size: Size) -> BenchmarkSpec:
    run = ImplicitRun() if size == "quick" else ImplicitRun(samples=256, ablation=True)
    return spec_from_parts(
        "diffusion-implicit-concept",
        size,
        world=("watermarked-shapes", NoParams()),
        model=("tiny-shapes", NoParams()),
        params=run,
    )


DIFFUSION_IMPLICIT_CONCEPT: Benchmark[Any, Any, Any] = Benchmark(
    name="diffusion-implicit-concept",
    summary=(
        "Geom-Erasing: a corner mark learned from training images (no caption names it), "
        "removed by geometric conditions; mark rate and preservation."
    ),
    default_spec=_spec,
    run=run_implicit,
    params_type=ImplicitRun,
    worlds={"watermarked-shapes": NoParams},
    models={"tiny-shapes": NoParams},
    metric_names=METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=180.0,
)
