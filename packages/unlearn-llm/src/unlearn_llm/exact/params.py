"""Params of the exact-unlearning systems, torch-free (``unlearn-bench validate`` reads
them without importing torch)."""

from __future__ import annotations

from pydantic import Field
from unlearn_schema import StrictModel


class S3TParams(StrictModel):
    """Shape of an S3T system and the recipe of each training stage."""

    shards: int = Field(default=2, ge=1, le=64, description="Disjoint shards $m$.")
    slices: int = Field(default=3, ge=1, le=16, description="Slices (adapters) per shard $L$.")
    sequences: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Slice sequences trained per shard (budget $B$, cyclic rotations; <= slices).",
    )
    lora_rank: int = Field(default=8, ge=1, le=256)
    lora_alpha: int = Field(default=16, ge=1, le=512)
    epochs: int = Field(default=8, ge=1, le=1000, description="Epochs of each training stage.")
    min_stage_steps: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description=(
            "At least this many steps per stage (whole epochs): the first stages see one "
            "slice only and would otherwise get a fraction of the last stage's steps."
        ),
    )
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=32, ge=1, le=4096)
    seed: int = Field(default=0, ge=0)


def check_params(params: S3TParams, items: int) -> None:
    """Raise ``ValueError`` when the system cannot be built on ``items`` items."""
    if params.sequences > params.slices:
        raise ValueError(
            f"sequences={params.sequences} > slices={params.slices}: the cyclic rotations "
            f"give at most {params.slices} distinct sequences; use sequences <= slices"
        )
    if items < params.shards * params.slices:
        raise ValueError(
            f"{items} items cannot fill shards*slices={params.shards * params.slices} "
            "non-empty slices; lower shards or slices"
        )
