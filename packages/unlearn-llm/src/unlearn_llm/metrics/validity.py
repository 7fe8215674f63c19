"""The validity gate: is the world able to tell a model that knows from one that never did?

Reported in every run. It passes when the original model *fails* forget quality
($p < 0.01$: its forget-set truth ratios are clearly unlike the oracle's) and
retrain oracles trained with other seeds *pass* it (median $p > 0.1$ over the
extra oracles: models that never saw the forget set are indistinguishable). The
median, not the minimum, decides because under the null hypothesis each p-value is
uniform on [0, 1], so with two or more extra oracles one of them falls under 0.1 by
chance far more often than the world is actually too noisy; the minimum is reported
next to it. If the gate fails, the forget set is too small or training too noisy for
forget quality to mean anything, and the run says so instead of printing a verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidityGate:
    original_p: float
    oracle_ps: tuple[float, ...]
    original_threshold: float = 0.01
    oracle_threshold: float = 0.1

    def __post_init__(self) -> None:
        if not self.oracle_ps:
            raise ValueError("the validity gate needs at least one extra oracle p-value")

    @property
    def second_oracle_p(self) -> float:
        """Median forget quality of the extra-seed oracles (the value the gate tests)."""
        return float(statistics.median(self.oracle_ps))

    @property
    def oracle_min_p(self) -> float:
        return float(min(self.oracle_ps))

    @property
    def original_fails(self) -> bool:
        return self.original_p < self.original_threshold

    @property
    def oracle_passes(self) -> bool:
        return self.second_oracle_p > self.oracle_threshold

    @property
    def passed(self) -> bool:
        return self.original_fails and self.oracle_passes

    def _oracles(self) -> str:
        if len(self.oracle_ps) == 1:
            return f"other-seed oracle p={self.oracle_ps[0]:.2g}"
        return (
            f"{len(self.oracle_ps)} other-seed oracles median p={self.second_oracle_p:.2g} "
            f"(min {self.oracle_min_p:.2g})"
        )

    def explain(self) -> str:
        if self.passed:
            return (
                f"validity gate passed: original forget quality p={self.original_p:.2g} < "
                f"{self.original_threshold} and {self._oracles()} > {self.oracle_threshold}, "
                "so forget quality separates knowing from not knowing"
            )
        problems = []
        if not self.original_fails:
            problems.append(
                f"the original model passes forget quality (p={self.original_p:.2g} >= "
                f"{self.original_threshold}): it did not memorise the forget set well enough "
                "or the forget set is too small"
            )
        if not self.oracle_passes:
            problems.append(
                f"oracles with other seeds fail it ({self._oracles()}, needs median > "
                f"{self.oracle_threshold}): seed noise alone moves the truth-ratio distribution"
            )
        return (
            "validity gate FAILED, forget-quality verdicts are not meaningful for this world: "
            + "; ".join(problems)
        )


def validity_gate(original_p: float, oracle_ps: float | Sequence[float]) -> ValidityGate:
    """Build the gate from the original's and the extra-seed oracles' forget quality."""
    values = (oracle_ps,) if isinstance(oracle_ps, int | float) else tuple(oracle_ps)
    return ValidityGate(original_p=float(original_p), oracle_ps=tuple(float(p) for p in values))
