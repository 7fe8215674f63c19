r"""``vision-restoration``: do classifier-unlearning methods delete a class or only suppress it?

*Suppression or Deletion: A Restoration-Based Representation-Level Analysis of Machine
Unlearning* (Jang et al., arXiv:2602.18505). As in the paper, the classifier is a
fine-tuned pre-trained ViT: a tiny ViT pre-trained from scratch on one label kind of
the shapes world (``pretraining``, cached; default the 20 ``shape-colour`` classes, so
the pre-training saw the class to be forgotten, as ImageNet saw CIFAR-10's classes), its
head replaced and every weight fine-tuned on the target label kind (the original).
Every method of `erase_diffusion.vision.methods` forgets ``forget`` from the original;
two more rows are the paper's references: **retrain from pretrained** (the same
fine-tuning from the same pre-trained checkpoint on the retain set only) and the
registry's ``retrain``, **retrain from scratch** (a fresh ViT on the retain set).

A sparse autoencoder trained on block $k$ of the original (`erase_diffusion.vision.sae`)
names each forgotten class's expert features; `erase_diffusion.vision.restoration`
steers every unlearned model's block-$k$ output back towards the original's expert
values on the forgotten class's held-out images and reads the forget accuracy at each
strength $\alpha$ and the restoration rate
$(\mathrm{acc}_{steered} - \mathrm{acc}_{unlearned}) / (\mathrm{acc}_{original} -
\mathrm{acc}_{unlearned})$: high means the class was suppressed, low deleted. torch is
imported only inside `run_vision_restoration`.
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from erase_diffusion.vision.data import LabelKind, class_names
from erase_diffusion.vision.methods import METHODS
from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.model import ClassifierTraining, TinyViTParams
from erase_diffusion.vision.restoration import RestorationParams
from erase_diffusion.vision.sae import SAEParams

if TYPE_CHECKING:
    from transformers import ViTForImageClassification

FROM_PRETRAINED = "retrain (from pretrained)"
EXPERTS = "experts"
EXPERTS_AND_CLS = "experts + class token"
CLS_ONLY = "class token only"
METHOD_NAMES = tuple(METHODS)
METRIC_NAMES = frozenset(
    {
        "restoration_rate",
        "best_restoration_rate",
        "forget_accuracy",
        "steered_forget_accuracy",
        "retain_accuracy",
        "sae_explained_variance",
        "experts",
        "expert_retention",
    }
)


class VisionRestorationRun(StrictModel):
    """Knobs of the restoration run."""

    pretraining: ClassifierTraining = Field(
        default_factory=lambda: ClassifierTraining(label="shape-colour"),
        description="The pre-trained checkpoint (trained from scratch, cached).",
    )
    label: LabelKind = Field(default="colour", description="What the original classifies.")
    train_per_class: int = Field(default=120, ge=1, le=100_000)
    finetune: StepParams = Field(
        default_factory=lambda: StepParams(steps=300, learning_rate=1e-3, batch_size=64),
        description="Fine-tuning of the original and of the retrain-from-pretrained model.",
    )
    forget: list[str] = Field(default_factory=lambda: ["red"], min_length=1)
    test_per_class: int = Field(default=40, ge=1, le=10_000)
    sae_per_class: int = Field(
        default=60, ge=1, le=100_000, description="Training images per class the SAE reads."
    )
    restoration: RestorationParams = Field(default_factory=RestorationParams)
    threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="torch threads while the run lasts (restored after): the ViT is tiny, "
        "and one thread avoids spin-wait contention on shared cores.",
    )

    @model_validator(mode="after")
    def _forget_is_classes(self) -> VisionRestorationRun:
        known = class_names(self.label)
        unknown = [name for name in self.forget if name not in known]
        if unknown:
            raise ValueError(
                f"forget has {unknown}, not {self.label} classes; accepted: {', '.join(known)}"
            )
        if len(set(self.forget)) >= len(known):
            raise ValueError("forget names every class; leave at least one to keep")
        return self


def run_vision_restoration(
    parsed: ParsedSpec[NoParams, NoParams, VisionRestorationRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Pre-train (or load), fine-tune the original, unlearn with every method, fit the SAE
    on the original, steer every unlearned model and read the restoration rates, with
    ``params.threads`` torch threads; the notes record the load and the CPU seconds."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(parsed.params.threads)
    load_before, cpu = os.getloadavg(), time.process_time()
    try:
        result = _run(parsed, progress)
    finally:
        torch.set_num_threads(previous_threads)
    result.notes.append(
        f"load average (1 min) {load_before[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        f"the end; {time.process_time() - cpu:.0f} CPU seconds; "
        f"{parsed.params.threads} torch thread(s)"
    )
    return result


def _run(
    parsed: ParsedSpec[NoParams, NoParams, VisionRestorationRun], progress: Progress
) -> BenchmarkResult:
    import torch

    from erase_diffusion.vision.data import class_indices, labelled_images
    from erase_diffusion.vision.methods.request import ClassForgetRequest
    from erase_diffusion.vision.model import accuracy, test_set, trained_classifier
    from erase_diffusion.vision.restoration import fine_tune_from, resolve_layer, restore
    from erase_diffusion.vision.sae import (
        block_output,
        expert_features,
        explained_variance,
        image_codes,
        token_activations,
        train_sae,
    )

    run, seed = parsed.params, parsed.seeds[0]
    rest = run.restoration
    pretraining = run.pretraining.model_copy(update={"seed": seed})
    names = class_names(run.label)
    num_classes = len(names)
    forget = tuple(class_indices(run.forget, run.label))
    start = time.perf_counter()
    timings: dict[str, float] = {}
    progress.start(3 + len(parsed.methods) + 1, "vision restoration")
    torch.manual_seed(seed)

    def step(s: int, loss: float) -> None:
        if (s + 1) % 100 == 0:
            progress.advance(0, f"pre-training: step {s + 1}/{pretraining.steps}, loss {loss:.3f}")

    tick = time.perf_counter()
    pretrained, _, cached = trained_classifier(pretraining, (), step)
    timings["pretrain" + (" (cached)" if cached else "")] = time.perf_counter() - tick
    progress.advance(1, "pre-trained ViT " + ("from cache" if cached else "trained"))

    train = labelled_images(run.train_per_class, run.label, seed=seed)
    test = test_set(run.label, run.test_per_class, seed)
    forget_train, retain_train = train.of_classes(set(forget)), train.without_classes(set(forget))
    forget_test, retain_test = test.of_classes(set(forget)), test.without_classes(set(forget))
    finetune = run.finetune.model_copy(update={"seed": seed})
    tick = time.perf_counter()
    original = fine_tune_from(pretrained, train, num_classes, finetune)
    from_pretrained = fine_tune_from(pretrained, retain_train, num_classes, finetune)
    timings["fine-tune original + retrain from pretrained"] = time.perf_counter() - tick
    progress.advance(1, "original and retrain-from-pretrained fine-tuned")

    tick = time.perf_counter()
    layer = resolve_layer(original, rest.layer)
    sae_images = train.first_per_class(run.sae_per_class)
    hidden = block_output(original, layer, torch.from_numpy(sae_images.images))
    sae = train_sae(
        token_activations(hidden, rest.tokens), rest.sae.model_copy(update={"seed": seed})
    )
    variance = explained_variance(sae, token_activations(hidden, rest.tokens))
    codes = image_codes(sae, hidden, rest.tokens)
    experts = {
        c: expert_features(codes, sae_images.labels, c, rest.experts_per_class) for c in forget
    }
    timings["sae"] = time.perf_counter() - tick
    progress.advance(1, f"SAE on block {layer}: explained variance {variance:.3f}")

    models: dict[str, ViTForImageClassification] = {FROM_PRETRAINED: from_pretrained}
    request = ClassForgetRequest(forget_train, retain_train, forget, num_classes)
    for method in parsed.methods:
        tick = time.perf_counter()
        models[method.name] = method.spec.function(original, request, method.params)
        timings[f"method {method.name}"] = time.perf_counter() - tick
        progress.advance(1, f"{method.name} unlearned")

    tick = time.perf_counter()
    # The class-token-only control (no expert moves) tells how much of the released code's
    # variant the experts carry and how much the patched class token alone does.
    variants = {
        EXPERTS: (rest.model_copy(update={"patch_class_token": False}), experts),
        EXPERTS_AND_CLS: (rest.model_copy(update={"patch_class_token": True}), experts),
        CLS_ONLY: (rest.model_copy(update={"patch_class_token": True}), {}),
    }
    rows = {
        (name, variant): restore(original, model, sae, chosen, forget_test, steer)
        for variant, (steer, chosen) in variants.items()
        for name, model in models.items()
    }
    retained = {name: accuracy(model, retain_test) for name, model in models.items()}
    timings["steering"] = time.perf_counter() - tick
    progress.advance(1, "every model steered")

    metrics: list[MetricValue] = [
        MetricValue(name="sae_explained_variance", value=variance, direction="higher"),
        *(
            MetricValue(name="experts", value=float(len(experts[c])), labels={"class": names[c]})
            for c in forget
        ),
    ]
    original_forget = accuracy(original, forget_test)
    for name in models:
        row = rows[(name, EXPERTS)]
        labels = {"method": name}
        metrics += [
            MetricValue(
                name="forget_accuracy",
                value=row.unlearned_accuracy,
                reference=original_forget,
                reference_name="original",
                labels=labels,
            ),
            MetricValue(
                name="retain_accuracy", value=retained[name], direction="higher", labels=labels
            ),
        ]
        if not math.isnan(row.expert_retention):
            metrics.append(
                MetricValue(
                    name="expert_retention",
                    value=row.expert_retention,
                    direction="lower",
                    labels=labels,
                )
            )
    for (name, variant), row in rows.items():
        labels = {"method": name, "steering": variant}
        for alpha, steered in row.steered_accuracy.items():
            alpha_labels = {**labels, "alpha": f"{alpha:g}"}
            metrics.append(
                MetricValue(
                    name="steered_forget_accuracy",
                    value=steered,
                    direction="none",
                    reference=original_forget,
                    reference_name="original",
                    labels=alpha_labels,
                )
            )
            if not math.isnan(row.rate[alpha]):
                metrics.append(
                    MetricValue(
                        name="restoration_rate",
                        value=row.rate[alpha],
                        direction="lower",
                        labels=alpha_labels,
                    )
                )
        if not math.isnan(row.best_rate):
            metrics.append(
                MetricValue(
                    name="best_restoration_rate",
                    value=row.best_rate,
                    direction="lower",
                    labels=labels,
                )
            )
    if parsed.metrics is not None:
        metrics = [m for m in metrics if m.name in parsed.metrics]

    alphas = [float(a) for a in rest.alphas]
    curves: list[Curve] = []
    for slug, variant in (
        ("experts", EXPERTS),
        ("experts-and-class-token", EXPERTS_AND_CLS),
        ("class-token-only", CLS_ONLY),
    ):
        curves += [
            Curve(
                name=f"restoration-rate-{slug}",
                title=f"Restoration rate per method ({variant}; 1 = suppressed, 0 = deleted)",
                x_label="steering strength α",
                y_label="restoration rate",
                series=[
                    Series(label=name, x=alphas, y=[rows[(name, variant)].rate[a] for a in alphas])
                    for name in models
                    if not math.isnan(rows[(name, variant)].best_rate)
                ]
                or [Series(label="no method forgot", x=[], y=[])],
                hlines={"deleted": 0.0, "fully restored": 1.0},
            ),
            Curve(
                name=f"forget-accuracy-steered-{slug}",
                title=f"Forget-class accuracy before (α = 0) and after steering ({variant})",
                x_label="steering strength α (0: no steering)",
                y_label="accuracy on the forgotten classes (held-out)",
                series=[
                    Series(
                        label=name,
                        x=[0.0, *alphas],
                        y=[
                            rows[(name, variant)].unlearned_accuracy,
                            *(rows[(name, variant)].steered_accuracy[a] for a in alphas),
                        ],
                    )
                    for name in models
                ],
                hlines={"original": original_forget},
            ),
        ]
    notes = [
        f"pre-trained on {pretraining.label} ({len(class_names(pretraining.label))} classes), "
        f"fine-tuned on {run.label} ({num_classes} classes); forget {', '.join(run.forget)}; "
        f"original forget / retain accuracy {original_forget:.3f} / "
        f"{accuracy(original, retain_test):.3f}",
        f"SAE on block {layer} ({rest.tokens} tokens, {sae.latents} latents, "
        f"{rest.sae.sparsity}, k={rest.sae.k}): explained variance {variance:.3f}; experts "
        + "; ".join(f"{names[c]} {experts[c]}" for c in forget),
        "expert retention at block "
        + f"{layer} (unlearned / original expert activation): "
        + "; ".join(f"{n} {rows[(n, EXPERTS)].expert_retention:.2f}" for n in models),
    ]
    for variant in variants:
        suppress = [
            n
            for n in models
            if not math.isnan(rows[(n, variant)].best_rate) and rows[(n, variant)].best_rate >= 0.5
        ]
        defined = [n for n in models if not math.isnan(rows[(n, variant)].best_rate)]
        notes += [
            f"{variant}: forget accuracy unlearned -> steered at "
            + ", ".join(f"α={a:g}" for a in alphas)
            + " (rate at best α): "
            + "; ".join(
                f"{n} {rows[(n, variant)].unlearned_accuracy:.2f} -> "
                + "/".join(f"{rows[(n, variant)].steered_accuracy[a]:.2f}" for a in alphas)
                + f" ({rows[(n, variant)].best_rate:.2f})"
                for n in models
            ),
            f"{variant}: suppress (best rate >= 0.5) {len(suppress)} of {len(defined)} models "
            f"that forgot ({', '.join(suppress) or 'none'})",
        ]
    timings["total"] = time.perf_counter() - start
    return BenchmarkResult(metrics=metrics, curves=curves, timings=timings, notes=notes)


def _spec(size: Size) -> BenchmarkSpec:
    quick_model = TinyViTParams(hidden_size=32, layers=3, heads=4, mlp_size=64)
    if size == "quick":
        run = VisionRestorationRun(
            pretraining=ClassifierTraining(
                label="shape-colour",
                train_per_class=20,
                steps=300,
                batch_size=32,
                learning_rate=3e-3,
                model=quick_model,
            ),
            label="colour",
            train_per_class=60,
            finetune=StepParams(steps=100, learning_rate=1e-3, batch_size=32),
            forget=["red"],
            test_per_class=40,
            sae_per_class=40,
            restoration=RestorationParams(
                layer=-2, sae=SAEParams(latents=64, k=4, steps=600), experts_per_class=4
            ),
        )
        method_params: dict[str, dict[str, Any]] = {
            "retrain": {"steps": 250, "learning_rate": 3e-3, "batch_size": 32}
        }
    else:
        run = VisionRestorationRun(
            pretraining=ClassifierTraining(
                label="shape-colour", train_per_class=100, steps=2000, batch_size=64
            ),
            label="shape",
            train_per_class=150,
            finetune=StepParams(steps=400, learning_rate=1e-3, batch_size=64),
            forget=["circle"],
            test_per_class=100,
            sae_per_class=100,
            restoration=RestorationParams(
                layer=-2,
                sae=SAEParams(latents=256, k=8, steps=2000),
                experts_per_class=8,
                alphas=[1.0, 2.0, 5.0, 10.0],
            ),
        )
        method_params = {"retrain": {"steps": 2000, "learning_rate": 2e-3, "batch_size": 64}}
    return spec_from_parts(
        "vision-restoration",
        size,
        world=("shapes", NoParams()),
        model=("tiny-vit", NoParams()),
        methods=METHOD_NAMES,
        method_params=method_params,
        params=run,
    )


VISION_RESTORATION: Benchmark[Any, Any, Any] = Benchmark(
    name="vision-restoration",
    summary=(
        "Suppression or deletion: SAE expert features of the original ViT steered back into "
        "every unlearned model; restoration rate per method, retrain from pretrained and "
        "from scratch."
    ),
    default_spec=_spec,
    run=run_vision_restoration,
    params_type=VisionRestorationRun,
    worlds={"shapes": NoParams},
    models={"tiny-vit": NoParams},
    methods=METHODS,
    method_names=METHOD_NAMES,
    metric_names=METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=180.0,
)
