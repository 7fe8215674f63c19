r"""``diffusion-erase-transfer``: does an erasure move to another pipeline unretrained?

SPM (arXiv:2312.16145) claims its membranes plug into other diffusion models of the
same architecture without re-tuning; AdvUnlearn (arXiv:2405.15234) that its robust text
encoder plugs into other pipelines. Here the source is the shipped ``tiny-shapes``
pipeline and the target ``tiny-shapes-seed1``: the same architecture and the *same*
(frozen) text encoder, with a UNet trained from scratch from another seed
(`erase_diffusion.train` ``--text-encoder-from``). For each method and concept:

1. erase on the source (``source/erased``);
2. move the result to the target: SPM's membrane is saved to a file, read back and
   attached to the target's UNet; AdvUnlearn's text encoder replaces the target's
   (``target/transferred``);
3. erase directly on the target, the reference a transfer should reach
   (``target/direct``).

Every pipeline is judged on the concept's prompts (erasure rate, lower is better) and on
prompts that name no erased concept (preservation accuracy: the share of images showing
the prompted value of the concept's kind, averaged over values), from the same noise,
and the Fréchet distance in the judge's feature space to the same pipeline's original on
those prompts. torch is imported only inside `run_transfer`.
"""

from __future__ import annotations

import copy
import time
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, field_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import check_methods, spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from erase_diffusion.methods import METHODS
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.shapes import all_attributes, caption, kind_of, make_concept

if TYPE_CHECKING:
    from erase_diffusion.metrics.judge import Judge
    from erase_diffusion.pipeline import TextToImage

TARGET_NAME = "tiny-shapes-seed1"
METHOD_NAMES: tuple[str, ...] = ("spm", "advunlearn")
"""The methods whose result can move: a UNet membrane, a text encoder."""
METRIC_NAMES = frozenset(
    {"erasure_rate", "preservation_accuracy", "frechet_distance", "transfer_gap"}
)
SETTINGS = ("original", "erased", "transferred", "direct")


def target_path() -> Path:
    """Folder of the second pipeline (same architecture and text encoder, UNet seed 1)."""
    return Path(str(files("erase_diffusion") / "weights" / TARGET_NAME))


class TransferRun(StrictModel):
    """Knobs of the transfer run."""

    concepts: list[str] = Field(min_length=1, description="Concepts, each erased alone.")
    erased_samples: int = Field(default=16, ge=2, le=2048)
    preserve_samples: int = Field(default=32, ge=2, le=4096)
    preserve_prompts: int = Field(
        default=16, ge=0, le=1000, description="Prompts the methods are told to preserve."
    )
    prompts_per_concept: int = Field(default=12, ge=1, le=120)
    steps: int = Field(default=12, ge=2, le=1000, description="DDIM steps.")

    @field_validator("concepts")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        for name in names:
            kind_of(name)
        return names


def moved(method: str, erased: TextToImage, target: TextToImage, folder: Path) -> TextToImage:
    """``erased``'s change carried onto ``target`` without retraining: SPM's membrane
    through a file, AdvUnlearn's text encoder swapped in."""
    if method == "spm":
        from erase_diffusion.methods.spm import (
            attach_membrane,
            load_membrane,
            membrane_of,
            save_membrane,
        )

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "membrane.safetensors"
        save_membrane(membrane_of(erased), path)
        transport = _transport(erased)
        return attach_membrane(target, load_membrane(path), transport)
    if method == "advunlearn":
        out = target.copy()
        out.text_encoder = copy.deepcopy(erased.text_encoder)
        return out
    raise ValueError(f"method {method!r} cannot be transferred; accepted: {METHOD_NAMES}")


def _transport(erased: TextToImage) -> Any:
    from erase_diffusion.methods.spm import _MembraneHook

    for module in erased.unet.modules():
        for hook in module._forward_hooks.values():
            if isinstance(hook, _MembraneHook):
                return hook.state.transport
    return "off"


def _prompts(concept: str, run: TransferRun, seed: int) -> tuple[list[str], list[str]]:
    """Concept prompts and prompts that do not name the concept (both drawn from ``seed``)."""
    kind = kind_of(concept)
    rng = np.random.default_rng(seed)
    with_concept = [caption(a) for a in all_attributes() if a.get(kind) == concept]
    without = [caption(a) for a in all_attributes() if a.get(kind) != concept]
    erased = [with_concept[i] for i in rng.integers(0, len(with_concept), run.erased_samples)]
    kept = [without[i] for i in rng.integers(0, len(without), run.preserve_samples)]
    return erased, kept


def _judged(
    pipe: TextToImage,
    concept: str,
    erased_prompts: list[str],
    kept_prompts: list[str],
    judge: Judge,
    run: TransferRun,
    seed: int,
) -> tuple[float, float, np.ndarray]:
    """Erasure rate, preservation accuracy and the judge features of the kept images."""
    from erase_diffusion.metrics.erasure import erasure_rate, preservation_accuracy

    kind = kind_of(concept)
    images = pipe.generate(erased_prompts + kept_prompts, steps=run.steps, seed=seed)
    seen = judge.judge(images)
    labels = seen.labels[kind]
    rate = erasure_rate(labels[: len(erased_prompts)], concept)
    per_value: dict[str, list[str]] = {}
    for prompt, label in zip(kept_prompts, labels[len(erased_prompts) :], strict=True):
        value = next(w for w in prompt.split() if _is_value(w, kind))
        per_value.setdefault(value, []).append(label)
    return rate, preservation_accuracy(per_value), seen.features[len(erased_prompts) :]


def _is_value(word: str, kind: str) -> bool:
    try:
        return kind_of(word) == kind
    except ValueError:
        return False


def run_transfer(
    parsed: ParsedSpec[NoParams, NoParams, TransferRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Erase on the source, move to the target, erase on the target; judge all five."""
    from erase_diffusion.metrics.erasure import frechet_distance
    from erase_diffusion.metrics.judge import load_judge
    from erase_diffusion.pipeline import load_pipeline

    run, seed = parsed.params, parsed.seeds[0]
    for method in parsed.methods:
        if method.name not in METHOD_NAMES:
            raise ValueError(
                f"method {method.name!r} has nothing to transfer; accepted: {METHOD_NAMES}"
            )
    judge = load_judge()
    pipes = {"source": load_pipeline(), "target": load_pipeline(target_path())}
    start = time.perf_counter()
    progress.start(len(run.concepts) * (1 + 2 * len(parsed.methods)), "erase and transfer")
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    points: dict[str, tuple[list[float], list[float]]] = {}

    def record(values: tuple[float, float, float | None], labels: dict[str, str]) -> None:
        rate, kept, distance = values
        metrics.append(MetricValue(name="erasure_rate", value=rate, labels=labels))
        metrics.append(
            MetricValue(name="preservation_accuracy", value=kept, direction="higher", labels=labels)
        )
        if distance is not None:
            metrics.append(MetricValue(name="frechet_distance", value=distance, labels=labels))
        xs, ys = points.setdefault(f"{labels['pipeline']}/{labels['setting']}", ([], []))
        xs.append(rate)
        ys.append(kept)

    for concept_name in run.concepts:
        concept = make_concept(concept_name, prompts_per_concept=run.prompts_per_concept)
        erased_prompts, kept_prompts = _prompts(concept_name, run, seed)
        preserve = _prompts(concept_name, run, seed + 7)[1][: run.preserve_prompts]
        request = EraseRequest([concept], preserve)
        originals = {}
        for where, pipe in pipes.items():
            rate, kept, features = _judged(
                pipe, concept_name, erased_prompts, kept_prompts, judge, run, seed
            )
            originals[where] = features
            record(
                (rate, kept, None),
                {
                    "concept": concept_name,
                    "pipeline": where,
                    "setting": "original",
                    "method": "none",
                },
            )
        progress.advance(1, f"{concept_name}: originals judged")
        for method in parsed.methods:
            entry = method.spec.function
            rates: dict[str, float] = {}
            results: dict[tuple[str, str], TextToImage] = {}
            tick = time.perf_counter()
            results[("source", "erased")] = entry(
                pipes["source"], request, method.params.model_copy()
            )
            timings[f"{method.name}/{concept_name}/erase_s"] = time.perf_counter() - tick
            folder = Path(out_dir) / "transfer" / method.name / concept_name
            results[("target", "transferred")] = moved(
                method.name, results[("source", "erased")], pipes["target"], folder
            )
            progress.advance(1, f"{method.name} {concept_name}: erased on source, moved")
            tick = time.perf_counter()
            results[("target", "direct")] = entry(
                pipes["target"], request, method.params.model_copy()
            )
            timings[f"{method.name}/{concept_name}/direct_erase_s"] = time.perf_counter() - tick
            for (where, setting), pipe in results.items():
                rate, kept, features = _judged(
                    pipe, concept_name, erased_prompts, kept_prompts, judge, run, seed
                )
                distance = frechet_distance(features, originals[where])
                labels = {
                    "concept": concept_name,
                    "pipeline": where,
                    "setting": setting,
                    "method": method.name,
                }
                record((rate, kept, distance), labels)
                rates[f"{where}/{setting}"] = rate
            gap = rates["target/transferred"] - rates["target/direct"]
            metrics.append(
                MetricValue(
                    name="transfer_gap",
                    value=gap,
                    labels={"concept": concept_name, "method": method.name},
                )
            )
            notes.append(
                f"{method.name} {concept_name}: erasure rate on the source "
                f"{rates['source/erased']:.2f}, moved to {TARGET_NAME} "
                f"{rates['target/transferred']:.2f}, erased there directly "
                f"{rates['target/direct']:.2f} (transfer gap {gap:+.2f})"
            )
            progress.advance(1, f"{method.name} {concept_name}: erased on target, judged")
    curves = [
        Curve(
            name="transfer-erasure-vs-preservation",
            title="Erasure rate vs preservation, source and target pipelines",
            x_label="erasure rate (lower is better)",
            y_label="preservation accuracy (higher is better)",
            series=[Series(label=k, x=xs, y=ys) for k, (xs, ys) in points.items()],
        )
    ]
    if parsed.metrics is not None:
        metrics = [m for m in metrics if m.name in parsed.metrics]
    timings["total"] = time.perf_counter() - start
    return BenchmarkResult(metrics=metrics, curves=curves, timings=timings, notes=notes)


def _spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        run = TransferRun(concepts=["circle"], erased_samples=12, preserve_samples=24)
        method_params: dict[str, dict[str, Any]] = {
            "spm": {"iterations": 40},
            "advunlearn": {"iterations": 40, "attack_steps": 3},
        }
    else:
        run = TransferRun(
            concepts=["circle", "red", "striped"], erased_samples=32, preserve_samples=64, steps=20
        )
        method_params = {"spm": {"iterations": 80}, "advunlearn": {"iterations": 120}}
    return spec_from_parts(
        "diffusion-erase-transfer",
        size,
        world=("shapes", NoParams()),
        model=("tiny-shapes", NoParams()),
        methods=METHOD_NAMES,
        method_params=method_params,
        params=run,
    )


def _check(parsed: ParsedSpec[NoParams, NoParams, TransferRun]) -> None:
    check_methods(parsed, at_least=1)


DIFFUSION_ERASE_TRANSFER: Benchmark[Any, Any, Any] = Benchmark(
    name="diffusion-erase-transfer",
    summary=(
        "SPM's membrane and AdvUnlearn's text encoder moved from tiny-shapes to "
        "tiny-shapes-seed1 (another UNet) vs erasing there directly."
    ),
    default_spec=_spec,
    run=run_transfer,
    params_type=TransferRun,
    worlds={"shapes": NoParams},
    models={"tiny-shapes": NoParams},
    methods=METHODS,
    method_names=METHOD_NAMES,
    metric_names=METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=180.0,
    check=_check,
)
