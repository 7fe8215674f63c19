"""How a chaos trial ended: survived, or one failure kind (no torch, so the benchmark's
declaration can name the metrics without importing the drivers)."""

from __future__ import annotations

from dataclasses import dataclass, fields

FAILURES = (
    "silent_wrong_restore",
    "silent_fresh_start",
    "lost_durable_copy",
    "partial_restore",
    "unnamed_errors",
    "leftovers",
)


@dataclass
class ChaosCounts:
    """Trials of one fault kind and how each ended (`train_infra.snapshot.chaos`)."""

    trials: int = 0
    survived: int = 0
    silent_wrong_restore: int = 0
    silent_fresh_start: int = 0
    lost_durable_copy: int = 0
    partial_restore: int = 0
    unnamed_errors: int = 0
    leftovers: int = 0
    examples: list[str] | None = None

    def fail(self, kind: str, example: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if self.examples is None:
            self.examples = []
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {example}")

    @property
    def failures(self) -> int:
        return sum(getattr(self, name) for name in FAILURES)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "examples"}
