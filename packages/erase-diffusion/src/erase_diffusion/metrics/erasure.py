"""Erasure metrics computed from the judge's verdicts (numpy and scipy only).

- erasure rate of a concept ``c`` of kind ``k``: share of images generated from ``c``'s
  prompts in which the judge still names ``c``: ``(1/N) Σₙ 1[judgeₖ(xₙ) = c]`` (lower is
  better; 1 − this is the usual "erasure success").
- preservation accuracy: the same share for every *other* concept, on prompts that
  mention no erased concept, averaged over those concepts (higher is better).
- prompt alignment: share of (image, attribute) pairs on which the judge agrees with the
  prompt, over shape, colour and style: ``(1/3N) Σₙ Σₖ 1[judgeₖ(xₙ) = promptₖ(xₙ)]``.
- Fréchet distance between two image sets in the judge's feature space:
  ``‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2})`` (FID with the judge as feature network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import linalg


def erasure_rate(judged: Sequence[str], concept: str) -> float:
    """Share of images whose judged value (of the concept's kind) is still ``concept``."""
    if not judged:
        raise ValueError("erasure_rate needs at least one judged image")
    return float(np.mean([value == concept for value in judged]))


def preservation_accuracy(per_concept: Mapping[str, Sequence[str]]) -> float:
    """Mean over preserved concepts of the share of their images judged as that concept."""
    if not per_concept:
        raise ValueError("preservation_accuracy needs at least one preserved concept")
    return float(
        np.mean([np.mean([v == name for v in seen]) for name, seen in per_concept.items()])
    )


def prompt_alignment(
    judged: Mapping[str, Sequence[str]], prompted: Mapping[str, Sequence[str]]
) -> float:
    """Share of (image, attribute) pairs where the judged value equals the prompt's."""
    hits = [
        a == b
        for kind, values in prompted.items()
        for a, b in zip(judged[kind], values, strict=True)
    ]
    if not hits:
        raise ValueError("prompt_alignment needs at least one image")
    return float(np.mean(hits))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows = samples)."""
    if features_a.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            f"need two (n, d) feature arrays of equal d, got {features_a.shape} and "
            f"{features_b.shape}"
        )
    if min(features_a.shape[0], features_b.shape[0]) < 2:
        raise ValueError("each feature set needs at least 2 samples")
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a = np.cov(features_a, rowvar=False)
    cov_b = np.cov(features_b, rowvar=False)
    # A small ridge keeps sqrtm stable when there are fewer samples than features.
    eps = 1e-6 * np.eye(cov_a.shape[0])
    root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))
    return max(value, 0.0)
