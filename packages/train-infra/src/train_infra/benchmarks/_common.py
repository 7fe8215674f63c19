"""What the train-infra recipes share: one-line metrics and the mean of a metric over seeds."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from unlearn_schema import Direction, MetricValue


def metric(
    name: str,
    value: float,
    direction: Direction = "none",
    labels: Mapping[str, str] | None = None,
    *,
    unit: str | None = None,
    reference: float | None = None,
    reference_name: str | None = None,
) -> MetricValue:
    """A `MetricValue` with its name, value, direction and labels in that order."""
    return MetricValue(
        name=name,
        value=value,
        direction=direction,
        labels=dict(labels or {}),
        unit=unit,
        reference=reference,
        reference_name=reference_name,
    )


def _key(metric: MetricValue) -> tuple[str, tuple[tuple[str, str], ...]]:
    return metric.name, tuple(sorted(metric.labels.items()))


def aggregate_seeds(per_seed: Mapping[int, list[MetricValue]]) -> list[MetricValue]:
    """One metric per name and labels: its mean over the seeds (value and reference).

    With one seed that seed's metrics are returned as they are. With several, each
    seed's own values follow the means, labelled ``seed``, so the spread stays visible.
    Every seed must report the same metrics in the same order.
    """
    seeds = list(per_seed)
    if len(seeds) == 1:
        return list(per_seed[seeds[0]])
    first = per_seed[seeds[0]]
    for seed in seeds[1:]:
        if [_key(m) for m in per_seed[seed]] != [_key(m) for m in first]:
            raise RuntimeError(f"seed {seed} reported other metrics than seed {seeds[0]}")
    means = []
    for index, metric in enumerate(first):
        rows = [per_seed[seed][index] for seed in seeds]
        references = [row.reference for row in rows]
        means.append(
            metric.model_copy(
                update={
                    "value": statistics.fmean(row.value for row in rows),
                    "reference": None
                    if any(r is None for r in references)
                    else statistics.fmean(r for r in references if r is not None),
                }
            )
        )
    labelled = [
        metric.model_copy(update={"labels": {**metric.labels, "seed": str(seed)}})
        for seed in seeds
        for metric in per_seed[seed]
    ]
    return means + labelled
