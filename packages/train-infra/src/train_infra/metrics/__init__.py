"""The metric functions of train-infra, registered for ``unlearn-bench list``.

- ``read-amplification``: bytes read per useful byte of a packed epoch vs per-row
  reads, counted in 4 KiB pages (`train_infra.outofcore.store.read_amplification`,
  takes no options);
- ``rope-feasibility``: the verdict on a config's RoPE base
  (`train_infra.metrics.rope.rope_feasibility`, options in `RopeCheckParams`).

This module imports only the schema.
"""

from __future__ import annotations

from unlearn_schema import MetricSpec, Registry

METRICS = Registry(
    "metric",
    [
        MetricSpec(
            name="read-amplification",
            params="unlearn_schema:NoParams",
            entry="train_infra.outofcore.store:read_amplification",
            summary="Bytes read per useful byte (4 KiB pages): per-batch packed vs per-row reads.",
            paper="arXiv:2405.05231",
        ),
        MetricSpec(
            name="rope-feasibility",
            params="train_infra.metrics.rope:RopeCheckParams",
            entry="train_infra.metrics.rope:rope_feasibility",
            summary="Aliasing, DC-stability and precision bounds on a config's RoPE base.",
            paper="arXiv:2602.10959",
        ),
    ],
)

__all__ = ["METRICS"]
