"""Naive inpainting: replace colour outliers by the local median (no learning).

Our baseline, not a published method. A pixel is taken for text when some channel
differs from the ``window``×``window`` median of that channel by more than
``threshold``; text pixels get the median, every other pixel is kept. It needs no
training data at all, and it cannot tell text from a busy texture's edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.scene_text.methods.eraser import FittedEraser

if TYPE_CHECKING:
    import numpy as np


class MedianInpaintingParams(MethodParams):
    """Window of the median filter and the outlier threshold."""

    window: int = Field(default=7, ge=1, le=63, description="Odd window side in pixels.")
    threshold: float = Field(default=0.2, ge=0.0, le=1.0)


def median_inpaint(images: np.ndarray, params: MedianInpaintingParams) -> np.ndarray:
    """Images (n, 3, H, W) with their outlier pixels replaced by the local median."""
    import numpy as np
    from scipy.ndimage import median_filter

    if params.window % 2 == 0:
        raise ValueError(f"window must be odd, got {params.window}")
    median = median_filter(images, size=(1, 1, params.window, params.window), mode="nearest")
    outlier = (np.abs(images - median) > params.threshold).any(axis=1, keepdims=True)
    return np.asarray(np.where(outlier, median, images), dtype=np.float32)


def fit_median_inpainting(params: MedianInpaintingParams) -> FittedEraser:
    """Nothing to fit: the eraser is `median_inpaint` with these params."""
    return FittedEraser(erase=lambda images: median_inpaint(images, params))
