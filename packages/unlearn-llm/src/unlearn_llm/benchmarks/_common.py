"""What the benchmark modules share: building one MetricValue."""

from __future__ import annotations

from unlearn_schema import Direction, MetricValue


def metric(
    name: str,
    value: float,
    direction: Direction,
    labels: dict[str, str],
    reference: float | None = None,
    unit: str | None = None,
    reference_name: str = "retrain oracle",
) -> MetricValue:
    """A MetricValue; ``reference_name`` is recorded only when there is a reference."""
    return MetricValue(
        name=name,
        value=float(value),
        direction=direction,
        reference=reference,
        reference_name=reference_name if reference is not None else None,
        unit=unit,
        labels=labels,
    )
