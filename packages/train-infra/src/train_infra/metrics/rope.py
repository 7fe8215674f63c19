r"""Metric ``rope-feasibility``: where a Hugging Face config's RoPE base lies.

The bounds are those of `train_infra.rope_bounds` (after *Rotary Positional
Embeddings as Phase Modulation*, arXiv:2602.10959): with $e = d/(d-2)$, aliasing
$b \ge (L/\pi)^e$, DC stability over depth $b \ge (DL/\varepsilon)^e$, precision
$b \le \mathrm{ulp}(\pi)^{-e}$.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field
from unlearn_schema import MethodParams

from train_infra.rope_bounds import PhaseDtype, RopeFeasibility, check_hf_config


class RopeCheckParams(MethodParams):
    """The setting a config is checked in."""

    context_length: int | None = Field(
        default=None, ge=2, description="Tokens; None: the config's max_position_embeddings."
    )
    dtype: PhaseDtype = Field(default="float32", description="Type the phases are computed in.")
    tolerance_rad: float = Field(default=math.pi / 2, gt=0.0, le=2 * math.pi)


def rope_feasibility(config: Any, params: RopeCheckParams) -> RopeFeasibility:
    """The feasible base region of ``config`` (dict, ``config.json`` path or PretrainedConfig)."""
    return check_hf_config(config, params.context_length, params.dtype, params.tolerance_rad)
