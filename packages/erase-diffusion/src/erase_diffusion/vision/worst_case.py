"""Worst-case forget sets: the training samples a classifier-unlearning method erases worst.

Fan et al., "Challenging Forgets: Unveiling the Worst-Case Forget Sets in Machine
Unlearning" (arXiv:2403.07362) pose a bi-level problem over per-sample weights
$w \\in \\{0, 1\\}^N$, $\\mathbf{1}^\\top w = k$ (the forget set):

- lower level: unlearn the set $w$ from the trained model, $\\theta_u(w)$;
- upper level: choose $w$ so that the set is hardest to erase, i.e. minimise the forget
  loss after unlearning, $\\min_w \\frac{1}{k} \\sum_i w_i \\ell_i(\\theta_u(w))$.

Here, so that a search runs in seconds on the tiny ViT (`erase_diffusion.vision.model`):

- the lower level is a few steps of a sample-wise method: ``gradient-ascent``
  ($\\mathcal{L} = -\\mathrm{CE}$ on the forget samples) or ``finetune`` (CE on the rest);
- the upper level is projected gradient descent on relaxed weights $w \\in [0, 1]^N$ with
  a **first-order** hypergradient: $\\theta_u$ is held fixed, so
  $\\partial / \\partial w_i = \\ell_i(\\theta_u(w)) / k$ and the implicit term
  $\\partial \\theta_u / \\partial w$ the paper keeps is dropped. The gradient is
  standardised, $w$ clipped to $[0, 1]$, and the forget set read as the top $k$ of $w$.
  The search returns the round whose set kept the highest forget accuracy after
  unlearning (ties: lower forget loss). No regulariser on $w$, unlike the paper.

`compare_with_random` puts the worst-case set beside random sets of the same size, each
with its exact retrain oracle (a classifier trained without that set, same seed and steps).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.vision.data import LabelledImages
from erase_diffusion.vision.methods.params import StepParams

if TYPE_CHECKING:
    from transformers import ViTForImageClassification

    from erase_diffusion.vision.model import ClassifierTraining

LowerMethod = Literal["gradient-ascent", "finetune"]


class WorstCaseParams(StrictModel):
    """The search: forget-set size, the lower-level method and the upper-level steps."""

    forget_size: int = Field(default=24, ge=1, le=100_000)
    method: LowerMethod = "gradient-ascent"
    unlearn: StepParams = Field(
        default_factory=lambda: StepParams(steps=15, learning_rate=3e-4, batch_size=32)
    )
    rounds: int = Field(default=6, ge=1, le=1_000, description="Upper-level steps.")
    step_size: float = Field(default=0.5, gt=0.0, le=100.0, description="Upper-level rate.")
    random_draws: int = Field(default=3, ge=1, le=100)
    seed: int = 0


def unlearn_samples(
    model: ViTForImageClassification,
    data: LabelledImages,
    forget: np.ndarray,
    method: LowerMethod,
    params: StepParams,
) -> ViTForImageClassification:
    """A copy of ``model`` after unlearning the samples ``data[forget]`` (index array).

    Same losses as ``methods/gradient_ascent.py`` and ``methods/finetune.py``, on a forget
    set of samples instead of whole classes (their request holds classes).
    """
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise

    mask = np.zeros(len(data), dtype=bool)
    mask[forget] = True
    if not mask.any():
        raise ValueError("the forget set is empty")
    if method == "gradient-ascent":
        chosen, sign = LabelledImages(data.images[mask], data.labels[mask]), -1.0
    elif method == "finetune":
        chosen, sign = LabelledImages(data.images[~mask], data.labels[~mask]), 1.0
    else:
        raise ValueError(
            f"unknown lower-level method {method!r}; accepted: gradient-ascent, finetune"
        )
    tuned = copy.deepcopy(model).train()
    batches = Batches(chosen, params.batch_size, torch.Generator().manual_seed(params.seed))

    def loss_at(step: int) -> torch.Tensor:
        images, labels = batches.next()
        return sign * torch.nn.functional.cross_entropy(tuned(pixel_values=images).logits, labels)

    optimise(tuned.parameters(), params.steps, params.learning_rate, loss_at)
    return tuned.eval()


def per_sample_loss(model: ViTForImageClassification, data: LabelledImages) -> np.ndarray:
    """Cross-entropy of every sample (n,), the upper level's $\\ell_i$."""
    import torch

    from erase_diffusion.vision.model import logits_of

    logits = logits_of(model, data.images)
    losses = torch.nn.functional.cross_entropy(
        logits, torch.from_numpy(data.labels), reduction="none"
    )
    return losses.numpy()


def subset_accuracy(
    model: ViTForImageClassification, data: LabelledImages, idx: np.ndarray
) -> float:
    """Top-1 accuracy on ``data[idx]``."""
    from erase_diffusion.vision.model import accuracy

    return accuracy(model, LabelledImages(data.images[idx], data.labels[idx]))


class WorstCaseSearch(StrictModel):
    """The chosen forget set and the upper-level objective at every round."""

    forget_indices: list[int]
    forget_accuracy_per_round: list[float] = Field(
        description="Forget accuracy after unlearning the round's set (the objective)."
    )
    forget_loss_per_round: list[float]
    best_round: int


def top_k(weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest weights (sorted; ties by index)."""
    return np.sort(np.argsort(-weights, kind="stable")[:k])


def upper_step(weights: np.ndarray, loss: np.ndarray, k: int, step_size: float) -> np.ndarray:
    """One projected step on $w$: the first-order hypergradient of
    $\\frac{1}{k} \\sum_i w_i \\ell_i(\\theta_u)$ with $\\theta_u$ fixed is $\\ell_i / k$;
    standardised, stepped against, clipped to $[0, 1]$."""
    gradient = loss / k
    gradient = (gradient - gradient.mean()) / (gradient.std() + 1e-12)
    return np.clip(weights - step_size * gradient, 0.0, 1.0)


def worst_case_forget_set(
    model: ViTForImageClassification,
    data: LabelledImages,
    params: WorstCaseParams,
    progress: bool = False,
) -> WorstCaseSearch:
    """The bi-level search above, started from a random set of ``forget_size`` samples."""
    from tqdm.auto import tqdm

    k = params.forget_size
    if k >= len(data):
        raise ValueError(f"forget_size {k} must be below the training set's size {len(data)}")
    rng = np.random.default_rng(params.seed)
    weights = np.zeros(len(data))
    weights[rng.choice(len(data), k, replace=False)] = 1.0
    accuracies: list[float] = []
    losses: list[float] = []
    sets: list[np.ndarray] = []
    for _ in tqdm(range(params.rounds), desc="worst-case search", disable=not progress):
        chosen = top_k(weights, k)
        unlearned = unlearn_samples(model, data, chosen, params.method, params.unlearn)
        loss = per_sample_loss(unlearned, data)
        sets.append(chosen)
        accuracies.append(subset_accuracy(unlearned, data, chosen))
        losses.append(float(loss[chosen].mean()))
        weights = upper_step(weights, loss, k, params.step_size)
    best = max(range(len(sets)), key=lambda r: (accuracies[r], -losses[r]))
    return WorstCaseSearch(
        forget_indices=sets[best].tolist(),
        forget_accuracy_per_round=accuracies,
        forget_loss_per_round=losses,
        best_round=best,
    )


class ForgetSetOutcome(StrictModel):
    """One forget set after unlearning, beside its exact retrain oracle."""

    kind: Literal["worst-case", "random"]
    forget_accuracy: float = Field(description="Unlearned model on the forget set.")
    oracle_forget_accuracy: float = Field(description="Retrained without the set, on the set.")
    test_accuracy: float
    oracle_test_accuracy: float


class WorstCaseComparison(StrictModel):
    """Worst-case set vs random sets of the same size."""

    forget_size: int
    method: LowerMethod
    original_test_accuracy: float
    search: WorstCaseSearch
    outcomes: list[ForgetSetOutcome]

    def mean(self, kind: Literal["worst-case", "random"], field: str) -> float:
        return float(np.mean([getattr(o, field) for o in self.outcomes if o.kind == kind]))


def compare_with_random(
    training: ClassifierTraining,
    params: WorstCaseParams,
    test: LabelledImages,
    progress: bool = False,
    cache: Path | None = None,
    oracles: dict[tuple[str, tuple[int, ...]], ViTForImageClassification] | None = None,
) -> WorstCaseComparison:
    """Search the worst-case set of the classifier of ``training`` and unlearn it and
    ``random_draws`` random sets of the same size; each beside its retrain oracle.

    ``oracles`` ((training digest, forget indices) -> oracle) is filled as oracles are
    trained and read before training one: the oracle of a set depends only on
    ``training`` and the set, so calls for several lower-level methods (same seed, so
    the same random draws) can share it instead of training the same classifier again."""
    from erase_diffusion.vision.model import (
        accuracy,
        train_classifier,
        trained_classifier,
        training_set,
    )

    data = training_set(training)
    model, _, _ = trained_classifier(training, cache=cache)
    search = worst_case_forget_set(model, data, params, progress)
    rng = np.random.default_rng(params.seed + 1)
    draws: list[tuple[Literal["worst-case", "random"], np.ndarray]] = [
        ("worst-case", np.asarray(search.forget_indices))
    ]
    for _ in range(params.random_draws):
        draws.append(("random", np.sort(rng.choice(len(data), params.forget_size, replace=False))))
    outcomes = []
    for kind, chosen in draws:
        unlearned = unlearn_samples(model, data, chosen, params.method, params.unlearn)
        key = (training.digest(()), tuple(int(i) for i in chosen))
        if oracles is not None and key in oracles:
            oracle = oracles[key]
        else:
            keep = np.ones(len(data), dtype=bool)
            keep[chosen] = False
            oracle = train_classifier(
                training, LabelledImages(data.images[keep], data.labels[keep])
            )
            if oracles is not None:
                oracles[key] = oracle
        outcomes.append(
            ForgetSetOutcome(
                kind=kind,
                forget_accuracy=subset_accuracy(unlearned, data, chosen),
                oracle_forget_accuracy=subset_accuracy(oracle, data, chosen),
                test_accuracy=accuracy(unlearned, test),
                oracle_test_accuracy=accuracy(oracle, test),
            )
        )
    return WorstCaseComparison(
        forget_size=params.forget_size,
        method=params.method,
        original_test_accuracy=accuracy(model, test),
        search=search,
        outcomes=outcomes,
    )
