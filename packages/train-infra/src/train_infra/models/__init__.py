"""Parameters of the models the train-infra benchmarks train (torch-free).

The modules themselves: `train_infra.models.mlp.MLP` (the snapshot benchmark's MLP)
and `train_infra.outofcore.model.SAGE` (the out-of-core GraphSAGE). Keeping the params
here lets a spec be validated without importing torch.
"""

from __future__ import annotations

from pydantic import Field
from unlearn_schema import StrictModel


class MLPParams(StrictModel):
    """Model ``mlp`` of ``snapshot-recovery``: an MLP of GELU blocks with dropout."""

    width: int = Field(default=256, ge=8, le=8192, description="Hidden width of the MLP.")
    layers: int = Field(default=4, ge=1, le=64, description="Hidden layers.")


class GraphSageParams(StrictModel):
    """Model ``graphsage-mean`` of ``diskgnn-features``: two mean-aggregator SAGE layers."""

    hidden: int = Field(default=64, ge=1, le=4096, description="Hidden width.")
