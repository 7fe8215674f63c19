"""Image-quality metrics against the erasure ground truth, numpy only.

- PSNR: $10 \\log_{10}(R^2 / \\mathrm{MSE})$ with data range $R$ (1 for our [0, 1] images);
- SSIM (Wang et al. 2004, *Image Quality Assessment: From Error Visibility to Structural
  Similarity*): per channel, with Gaussian-weighted local means $\\mu$, variances
  $\\sigma^2$ and covariance $\\sigma_{xy}$ (window 11, $\\sigma = 1.5$),
  $\\mathrm{SSIM} = \\frac{(2\\mu_x\\mu_y + C_1)(2\\sigma_{xy} + C_2)}
  {(\\mu_x^2 + \\mu_y^2 + C_1)(\\sigma_x^2 + \\sigma_y^2 + C_2)}$,
  $C_1 = (0.01 R)^2$, $C_2 = (0.03 R)^2$, averaged over the valid (unpadded) positions and
  the channels.

Text detectability (the third metric of the benchmark) needs the trained detector and
lives in `erase_diffusion.scene_text.network`.
"""

from __future__ import annotations

import numpy as np

MAX_PSNR = 100.0
"""PSNR of identical images (MSE 0) is reported as this value, not infinity."""


def psnr(output: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Per-image PSNR in dB of (n, C, H, W) arrays (or one (C, H, W) image: shape ())."""
    squeeze = output.ndim == 3
    output, target = _batched(output, target)
    mse = ((output - target) ** 2).reshape(len(output), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        value = np.minimum(10 * np.log10(data_range**2 / mse), MAX_PSNR)
    return value[0] if squeeze else value


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The normalised 1-D Gaussian of SSIM's window (applied along rows, then columns)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be odd and positive, got {size}")
    x = np.arange(size) - size // 2
    weights = np.exp(-(x**2) / (2 * sigma**2))
    return weights / weights.sum()


def _filter(images: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (n, C, H, W) along H then W."""
    k = len(window)
    h, w = images.shape[-2:]
    rows = sum(window[i] * images[..., i : h - k + 1 + i, :] for i in range(k))
    return sum(window[j] * rows[..., :, j : w - k + 1 + j] for j in range(k))


def ssim(
    output: np.ndarray,
    target: np.ndarray,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> np.ndarray:
    """Per-image mean SSIM of (n, C, H, W) arrays (or one (C, H, W) image: shape ())."""
    squeeze = output.ndim == 3
    output, target = _batched(output, target)
    if min(output.shape[-2:]) < window_size:
        raise ValueError(f"images {output.shape[-2:]} are smaller than the window {window_size}")
    window = gaussian_window(window_size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = _filter(output, window), _filter(target, window)
    var_x = _filter(output * output, window) - mu_x**2
    var_y = _filter(target * target, window) - mu_y**2
    cov = _filter(output * target, window) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    value = index.reshape(len(output), -1).mean(axis=1)
    return value[0] if squeeze else value


def _batched(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} differ in shape")
    if output.ndim not in (3, 4):
        raise ValueError(f"expected (C, H, W) or (n, C, H, W) images, got shape {output.shape}")
    output, target = output.astype(np.float64), target.astype(np.float64)
    return (output[None], target[None]) if output.ndim == 3 else (output, target)
