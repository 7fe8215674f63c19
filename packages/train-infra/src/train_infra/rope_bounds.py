"""Bounds on the RoPE base for long contexts, read as phase modulation.

Seed: *Rotary Positional Embeddings as Phase Modulation: Theoretical Bounds on the RoPE
Base for Long-Context Transformers*. RoPE rotates the pair ``i`` of a head of dimension
``d`` by the phase ``m θ_i`` at position ``m``, with ``θ_i = b^{-2i/d}``,
``i = 0 … d/2 - 1``. The slowest oscillator has ``θ_min = b^{-(d-2)/d}``; every bound
below constrains it. With the exponent ``e = d / (d - 2)``:

* aliasing (Nyquist-like) lower bound: the slowest oscillator must not turn by more than
  half a turn over the context, ``L θ_min ≤ π``, so ``b ≥ (L / π)^e``;
* DC-stability lower bound with depth: the slowest mode acts as the quasi-DC component;
  its phase drift over the context, compounded once per layer over ``D`` layers, must
  stay within a tolerance ``ε``: ``D L θ_min ≤ ε``, so ``b ≥ (D L / ε)^e``;
* precision upper bound: phases are wrapped to ``[-π, π)`` in a floating type, so the
  per-position increment of the slowest oscillator must be at least the spacing of that
  type near ``π``: ``θ_min ≥ ulp(π)``, so ``b ≤ ulp(π)^{-e}``. Beyond it, consecutive
  positions get the same slowest phase (positional erasure).

The exact constants of the paper are not reproduced here (only its abstract was
available); the tolerances are explicit arguments so a reader can set their own.
Pure math: imports neither torch nor numpy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from unlearn_schema import StrictModel

PhaseDtype = Literal["float64", "float32", "bfloat16", "float16"]

# Bits of the significand after the leading one, per floating type.
_MANTISSA_BITS: dict[str, int] = {"float64": 52, "float32": 23, "bfloat16": 7, "float16": 10}


def _exponent(head_dim: int) -> float:
    if head_dim < 4 or head_dim % 2:
        raise ValueError(f"head_dim must be an even integer >= 4, got {head_dim}")
    return head_dim / (head_dim - 2)


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def slowest_frequency(base: float, head_dim: int) -> float:
    """``θ_min = b^{-(d-2)/d}``, the angular step per position of the slowest pair."""
    _positive("base", base)
    return float(base ** (-1.0 / _exponent(head_dim)))


def phase_spacing(dtype: PhaseDtype) -> float:
    """Spacing of representable numbers of ``dtype`` in ``[2, 4)``, where ``π`` lies."""
    if dtype not in _MANTISSA_BITS:
        raise ValueError(f"unknown dtype {dtype!r}; accepted: {', '.join(_MANTISSA_BITS)}")
    return 2.0 ** (1 - _MANTISSA_BITS[dtype])


def aliasing_lower_bound(context_length: int, head_dim: int) -> float:
    """Smallest base with ``L θ_min ≤ π``: ``b ≥ (L/π)^{d/(d-2)}``."""
    _positive("context_length", context_length)
    return float((context_length / math.pi) ** _exponent(head_dim))


def dc_stability_lower_bound(
    context_length: int, head_dim: int, depth: int, tolerance_rad: float = math.pi / 2
) -> float:
    """Smallest base with ``D L θ_min ≤ ε``: ``b ≥ (D L / ε)^{d/(d-2)}``."""
    _positive("context_length", context_length)
    _positive("depth", depth)
    _positive("tolerance_rad", tolerance_rad)
    return float((depth * context_length / tolerance_rad) ** _exponent(head_dim))


def precision_upper_bound(head_dim: int, dtype: PhaseDtype = "float32") -> float:
    """Largest base with ``θ_min ≥ ulp(π)`` in ``dtype``: ``b ≤ ulp(π)^{-d/(d-2)}``."""
    return float(phase_spacing(dtype) ** (-_exponent(head_dim)))


class RopeFeasibility(StrictModel):
    """The feasible interval of the RoPE base for one setting, and where a base lies."""

    context_length: int = Field(ge=1)
    head_dim: int = Field(ge=4)
    depth: int = Field(ge=1)
    dtype: PhaseDtype
    tolerance_rad: float = Field(gt=0)
    aliasing_lower: float
    dc_stability_lower: float
    precision_upper: float
    base: float | None = None

    @property
    def lower(self) -> float:
        """The binding lower bound (the larger of the two)."""
        return max(self.aliasing_lower, self.dc_stability_lower)

    @property
    def region_is_empty(self) -> bool:
        """True when no base satisfies all three bounds (the precision wall)."""
        return self.lower > self.precision_upper

    @property
    def verdict(self) -> str:
        """``feasible``, ``aliasing``, ``dc-unstable``, ``precision`` or ``no-base``."""
        if self.base is None:
            return "no-base"
        if self.base < self.aliasing_lower:
            return "aliasing"
        if self.base < self.dc_stability_lower:
            return "dc-unstable"
        if self.base > self.precision_upper:
            return "precision"
        return "feasible"

    def explain(self) -> str:
        """One plain sentence for a reader."""
        region = (
            "empty (lower bound above the precision bound)"
            if self.region_is_empty
            else f"[{self.lower:.4g}, {self.precision_upper:.4g}]"
        )
        head = (
            f"context {self.context_length}, head_dim {self.head_dim}, depth {self.depth}, "
            f"phases in {self.dtype}: feasible base region {region}"
        )
        if self.base is None:
            return head + "."
        reasons = {
            "feasible": "inside the region",
            "aliasing": f"below the aliasing bound {self.aliasing_lower:.4g}",
            "dc-unstable": f"below the DC-stability bound {self.dc_stability_lower:.4g}",
            "precision": f"above the precision bound {self.precision_upper:.4g}",
        }
        return f"{head}; base {self.base:.4g} is {reasons[self.verdict]}."


def feasible_region(
    context_length: int,
    head_dim: int,
    depth: int,
    dtype: PhaseDtype = "float32",
    tolerance_rad: float = math.pi / 2,
    base: float | None = None,
) -> RopeFeasibility:
    """All three bounds for one setting, and the verdict on ``base`` when given."""
    if base is not None:
        _positive("base", base)
    return RopeFeasibility(
        context_length=context_length,
        head_dim=head_dim,
        depth=depth,
        dtype=dtype,
        tolerance_rad=tolerance_rad,
        aliasing_lower=aliasing_lower_bound(context_length, head_dim),
        dc_stability_lower=dc_stability_lower_bound(context_length, head_dim, depth, tolerance_rad),
        precision_upper=precision_upper_bound(head_dim, dtype),
        base=base,
    )


def _config_dict(config: Any) -> dict[str, Any]:
    if isinstance(config, dict):
        return config
    if isinstance(config, str | Path):
        path = Path(config)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no Hugging Face config at {path}")
        loaded = json.loads(path.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        return loaded
    if hasattr(config, "to_dict"):
        return dict(config.to_dict())
    raise TypeError(
        f"expected a dict, a config.json path or a transformers PretrainedConfig, got "
        f"{type(config).__name__}"
    )


def check_hf_config(
    config: Any,
    context_length: int | None = None,
    dtype: PhaseDtype = "float32",
    tolerance_rad: float = math.pi / 2,
) -> RopeFeasibility:
    """Whether a Hugging Face config's ``rope_theta`` lies in the feasible region.

    ``config`` is a dict, a path to ``config.json`` (or its folder) or a transformers
    ``PretrainedConfig``. The base is read from ``rope_theta`` or, in newer configs,
    ``rope_parameters["rope_theta"]``; the head dimension from ``head_dim`` or
    ``hidden_size / num_attention_heads``; the depth from ``num_hidden_layers``; the
    context from ``context_length`` when given, else ``max_position_embeddings``.
    Phases are computed in float32 by transformers, hence the default ``dtype``.
    """
    data = _config_dict(config)
    params = data.get("rope_parameters") or data.get("rope_scaling") or {}
    base = data.get("rope_theta")
    if base is None and isinstance(params, dict):
        base = params.get("rope_theta")
    if base is None:
        raise ValueError(
            "config has no rope_theta (nor rope_parameters.rope_theta); "
            f"keys present: {', '.join(sorted(data))}"
        )
    head_dim = data.get("head_dim")
    if head_dim is None:
        if "hidden_size" not in data or "num_attention_heads" not in data:
            raise ValueError("config needs head_dim or hidden_size and num_attention_heads")
        head_dim = int(data["hidden_size"]) // int(data["num_attention_heads"])
    depth = data.get("num_hidden_layers")
    if depth is None:
        raise ValueError("config has no num_hidden_layers")
    length = context_length if context_length is not None else data.get("max_position_embeddings")
    if length is None:
        raise ValueError("config has no max_position_embeddings; pass context_length")
    return feasible_region(
        int(length), int(head_dim), int(depth), dtype, tolerance_rad, float(base)
    )
