"""The validity gate: is the world able to tell a model that knows from one that never did?

Reported in every run. It passes when the original model *fails* forget quality
(:math:`p < 0.01`: its forget-set truth ratios are clearly unlike the oracle's) and a
retrain oracle trained with another seed *passes* it (:math:`p > 0.1`: two models that
never saw the forget set are indistinguishable). If either fails, the forget set is
too small or training too noisy for forget quality to mean anything, and the run says
so instead of printing a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidityGate:
    original_p: float
    second_oracle_p: float
    original_threshold: float = 0.01
    oracle_threshold: float = 0.1

    @property
    def original_fails(self) -> bool:
        return self.original_p < self.original_threshold

    @property
    def oracle_passes(self) -> bool:
        return self.second_oracle_p > self.oracle_threshold

    @property
    def passed(self) -> bool:
        return self.original_fails and self.oracle_passes

    def explain(self) -> str:
        if self.passed:
            return (
                f"validity gate passed: original forget quality p={self.original_p:.2g} < "
                f"{self.original_threshold} and second-seed oracle p={self.second_oracle_p:.2g} "
                f"> {self.oracle_threshold}, so forget quality separates knowing from not knowing"
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
                f"an oracle with another seed fails it (p={self.second_oracle_p:.2g} <= "
                f"{self.oracle_threshold}): seed noise alone moves the truth-ratio distribution"
            )
        return (
            "validity gate FAILED, forget-quality verdicts are not meaningful for this world: "
            + "; ".join(problems)
        )


def validity_gate(original_p: float, second_oracle_p: float) -> ValidityGate:
    """Build the gate from the two forget-quality p-values."""
    return ValidityGate(original_p=original_p, second_oracle_p=second_oracle_p)
