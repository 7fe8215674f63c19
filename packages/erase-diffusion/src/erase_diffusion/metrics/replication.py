r"""Replication of training images: nearest-training-image distance in judge features.

A generated image $x$ *replicates* a training image when it lies closer to it than a
fresh drawing of the same content would: with $f$ the judge's feature map (the
128-d layer of `erase_diffusion.metrics.judge`) and training images $y_1..y_M$,

$$d(x) = \min_i \lVert f(x) - f(y_i) \rVert_2,\qquad
\mathrm{replicated}(x) = 1[d(x) \le \tau],\qquad
\mathrm{replication\ rate} = \frac{1}{N}\sum_n \mathrm{replicated}(x_n),$$

the nearest-neighbour test of Somepalli et al. and Carlini et al. (arXiv:2212.03860,
arXiv:2301.13188) with the judge as feature network. The threshold $\tau$ is
calibrated on renders: ``calibrated_threshold`` takes a share of the median distance
between each training image and fresh renders of the same content (other positions,
other pixel noise), so that an image counts as a copy only when it is nearer to the
training image than the world's own variation puts a new drawing of it.

numpy only.
"""

from __future__ import annotations

import numpy as np


def nearest_training_distance(
    features: np.ndarray, training_features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """$d(x_n)$ and the index of the nearest training image, for each row of ``features``.

    ``features`` (n, d) of generated images, ``training_features`` (m, d); Euclidean.
    """
    if features.ndim != 2 or training_features.ndim != 2:
        raise ValueError(
            f"need (n, d) and (m, d) feature arrays, got {features.shape} and "
            f"{training_features.shape}"
        )
    if features.shape[1] != training_features.shape[1] or training_features.shape[0] == 0:
        raise ValueError(
            f"feature widths differ or no training images: {features.shape} vs "
            f"{training_features.shape}"
        )
    diff = features[:, None, :] - training_features[None, :, :]
    distances = np.sqrt((diff**2).sum(-1))
    nearest = distances.argmin(1)
    return distances[np.arange(features.shape[0]), nearest], nearest


def replication_rate(distances: np.ndarray, threshold: float) -> float:
    """Share of generated images whose nearest-training distance is at most ``threshold``."""
    if distances.size == 0:
        raise ValueError("replication_rate needs at least one distance")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    return float(np.mean(distances <= threshold))


def calibrated_threshold(
    training_features: np.ndarray, rerender_features: np.ndarray, share: float = 0.5
) -> float:
    """$\\tau$ = ``share`` × the median distance from each training image to fresh renders
    of its own content (``rerender_features`` (m, r, d): r renders per training image)."""
    if rerender_features.ndim != 3 or rerender_features.shape[0] != training_features.shape[0]:
        raise ValueError(
            f"need (m, r, d) re-renders for m = {training_features.shape[0]} training images, "
            f"got {rerender_features.shape}"
        )
    if not 0 < share <= 1:
        raise ValueError(f"share must lie in (0, 1], got {share}")
    gaps = np.sqrt(((rerender_features - training_features[:, None, :]) ** 2).sum(-1))
    return float(share * np.median(gaps))
