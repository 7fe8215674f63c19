"""Distance to the retrain oracle: KL between prediction distributions, accuracy gap."""

from __future__ import annotations

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams


class KLToOracleParams(MethodParams):
    """Options of `kl_to_oracle`."""

    eps: float = Field(
        default=1e-7, gt=0.0, lt=0.5, description="Probabilities are clipped to [eps, 1 - eps]."
    )


def kl_to_oracle(oracle: np.ndarray, method: np.ndarray, *, eps: float = 1e-7) -> float:
    """Mean $\\mathrm{KL}(p_{\\text{oracle}} \\,\\|\\, p_{\\text{method}})$ over elements.

    Rows of class probabilities ``(K, C)``, or link probabilities ``(K,)`` read as
    Bernoulli distributions.
    """
    p = np.clip(np.asarray(oracle, dtype=np.float64), eps, 1 - eps)
    q = np.clip(np.asarray(method, dtype=np.float64), eps, 1 - eps)
    if p.shape != q.shape:
        raise ValueError(f"oracle and method predictions differ in shape: {p.shape} vs {q.shape}")
    if p.ndim == 1:
        kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    else:
        kl = (p * np.log(p / q)).sum(-1)
    return float(kl.mean())


def accuracy_gap(oracle_value: float, method_value: float) -> float:
    """$|u_{\\text{method}} - u_{\\text{oracle}}|$ for a utility $u$ (accuracy or AUROC)."""
    return float(abs(method_value - oracle_value))
