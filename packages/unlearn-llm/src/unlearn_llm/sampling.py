"""Retain sampling: which forget and retain rows each unlearning step draws.

Bushipaka, Passaro, Cucinotta, "Standard vs. Modular Sampling: Best Practices for
Reliable LLM Unlearning" (arXiv:2509.05316) compare how the unlearning loop pairs
forget rows with retain rows. Each strategy here is a ``StepSampler``: a seeded plan of
epochs, each a list of steps, each step the forget row indices and the retain row
indices of one minibatch. A method reads it through ``UnlearnData.sampler``
(``methods._common.forget_batches`` / ``retain_batches``); without one (the default)
every method keeps its independent shuffled passes over the forget and retain rows.

With $F$ forget rows, $R$ retain rows and minibatches of $b$ rows, the strategies, as
the paper's reference code builds its training sets:

* ``one-to-one`` (1:1, TOFU's loader): an epoch pairs every forget row once (shuffled)
  with a retain row drawn uniformly at random from the pooled retain set;
  $\\lceil F / b \\rceil$ steps per epoch, so most retain rows are never seen.
* ``cyclic``: an epoch is as long as the longer split, $n = \\max(F, R)$ pairs; pair
  $i$ (shuffled) is forget row $i \\bmod F$ with retain row $i \\bmod R$, so every retain
  row is seen once per epoch and the forget rows are repeated;
  $\\lceil n / b \\rceil$ steps.
* ``melu`` (Modular Entity-Level Unlearning): the rows are grouped into one module per
  forget entity $e$: its forget rows $F_e$ and its own retain rows $R_e$, the union of
  its neighbour sets (facts one hop from $e$'s facts, facts two hops away, and a share
  of the general knowledge). Within a module, pair $i$ is forget row $i \\bmod |F_e|$
  with retain row $i \\bmod |R_e|$, $\\max(|F_e|, |R_e|)$ pairs, so every forget row is
  paired only with its own entity's neighbours and every neighbour set of every module
  is represented in proportion to its size. An epoch is the pairs of every module,
  shuffled; $\\lceil \\sum_e \\max(|F_e|, |R_e|) / b \\rceil$ steps.

The plans come from ``random.Random`` seeded with the sampler's seed, the batch size and
the epoch number, so the forget and the retain stream, each reading the plan on its own,
see the same steps in lockstep. Pure Python at import; the streams build torch tensors.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

    from unlearn_llm.worlds.facts import QA

Strategy = Literal["one-to-one", "cyclic", "melu"]
STRATEGIES: tuple[Strategy, ...] = ("one-to-one", "cyclic", "melu")


@dataclass(frozen=True)
class Step:
    """One minibatch of the plan: forget and retain row indices."""

    forget: tuple[int, ...]
    retain: tuple[int, ...]


@dataclass(frozen=True)
class Module:
    """One forget entity's rows for MELU: its forget rows and, per neighbour set, its
    retain rows (indices into the forget and the retain batch)."""

    entity: str
    forget: tuple[int, ...]
    retain: Mapping[str, tuple[int, ...]]

    @property
    def retain_rows(self) -> tuple[int, ...]:
        """Every retain row of the module, set after set."""
        return tuple(row for rows in self.retain.values() for row in rows)


def _chunks(pairs: Sequence[tuple[int, int]], size: int) -> list[Step]:
    return [
        Step(
            tuple(f for f, _ in pairs[start : start + size]),
            tuple(r for _, r in pairs[start : start + size]),
        )
        for start in range(0, len(pairs), size)
    ]


class StepSampler:
    """A seeded plan of epochs over ``forget_rows`` and ``retain_rows`` row indices.

    Subclasses write ``epoch`` (the steps of one epoch for minibatches of ``size``
    pairs); the two streams read the plan epoch after epoch, endlessly.
    """

    name: str = "sampler"

    def __init__(self, forget_rows: int, retain_rows: int, seed: int = 0) -> None:
        if forget_rows < 1 or retain_rows < 1:
            raise ValueError(
                f"a {self.name} sampler needs forget and retain rows; got {forget_rows} "
                f"forget and {retain_rows} retain rows"
            )
        self.forget_rows = forget_rows
        self.retain_rows = retain_rows
        self.seed = seed

    def epoch(self, size: int, rng: random.Random) -> list[Step]:
        raise NotImplementedError

    def plan(self, size: int, epoch: int) -> list[Step]:
        """Epoch ``epoch``'s steps for minibatches of ``size`` pairs (the same every call)."""
        if size < 1:
            raise ValueError(f"batch size {size}; accepted: 1 or more")
        return self.epoch(size, random.Random(f"{self.name}-{self.seed}-{size}-{epoch}"))

    def epoch_steps(self, size: int) -> int:
        """Steps in one epoch at minibatches of ``size`` pairs."""
        return len(self.plan(size, 0))

    def _check_rows(self, side: str, rows: int, expected: int) -> None:
        if rows != expected:
            raise ValueError(
                f"the {self.name} sampler was built for {expected} {side} rows but the method "
                f"draws from {rows}; build it on the same UnlearnData rows"
            )

    def _stream(self, size: int, side: Literal["forget", "retain"]) -> Iterator[torch.Tensor]:
        import torch

        epoch = 0
        while True:
            for step in self.plan(size, epoch):
                yield torch.tensor(step.forget if side == "forget" else step.retain)
            epoch += 1

    def forget_indices(self, rows: int, size: int) -> Iterator[torch.Tensor]:
        """Endless forget row indices, one tensor per step."""
        self._check_rows("forget", rows, self.forget_rows)
        return self._stream(size, "forget")

    def retain_indices(self, rows: int, size: int) -> Iterator[torch.Tensor]:
        """Endless retain row indices, one tensor per step, in lockstep with the forget ones."""
        self._check_rows("retain", rows, self.retain_rows)
        return self._stream(size, "retain")


class OneToOneSampler(StepSampler):
    """1:1: each forget row once per epoch, with a uniformly random pooled retain row."""

    name = "one-to-one"

    def epoch(self, size: int, rng: random.Random) -> list[Step]:
        order = list(range(self.forget_rows))
        rng.shuffle(order)
        return _chunks([(f, rng.randrange(self.retain_rows)) for f in order], size)


class CyclicSampler(StepSampler):
    """Cyclic: $\\max(F, R)$ pairs per epoch, pair $i$ = (forget $i \\bmod F$, retain
    $i \\bmod R$), in shuffled order."""

    name = "cyclic"

    def epoch(self, size: int, rng: random.Random) -> list[Step]:
        order = list(range(max(self.forget_rows, self.retain_rows)))
        rng.shuffle(order)
        return _chunks([(i % self.forget_rows, i % self.retain_rows) for i in order], size)


class MELUSampler(StepSampler):
    """Modular entity-level: each forget row paired only with its own module's retain rows."""

    name = "melu"

    def __init__(
        self, modules: Sequence[Module], forget_rows: int, retain_rows: int, seed: int = 0
    ) -> None:
        super().__init__(forget_rows, retain_rows, seed)
        if not modules:
            raise ValueError("MELU needs at least one module (a forget entity and its rows)")
        for module in modules:
            if not module.forget or not module.retain_rows:
                raise ValueError(
                    f"module {module.entity!r} has {len(module.forget)} forget and "
                    f"{len(module.retain_rows)} retain rows; MELU needs both"
                )
            bad = [r for r in module.forget if not 0 <= r < forget_rows]
            bad += [r for r in module.retain_rows if not 0 <= r < retain_rows]
            if bad:
                raise ValueError(f"module {module.entity!r} names rows out of range, e.g. {bad[0]}")
        self.modules = list(modules)

    def module_pairs(self, module: Module, rng: random.Random) -> list[tuple[int, int]]:
        """The module's $\\max(|F_e|, |R_e|)$ (forget, retain) pairs (each side shuffled)."""
        forget = list(module.forget)
        retain = list(module.retain_rows)
        rng.shuffle(forget)
        rng.shuffle(retain)
        count = max(len(forget), len(retain))
        return [(forget[i % len(forget)], retain[i % len(retain)]) for i in range(count)]

    def epoch(self, size: int, rng: random.Random) -> list[Step]:
        pairs = [pair for module in self.modules for pair in self.module_pairs(module, rng)]
        rng.shuffle(pairs)
        return _chunks(pairs, size)


def fact_rows(facts: Sequence[QA], start: int = 0) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """Each fact's row indices in ``data.encode_facts(tokenizer, facts)`` (one row per
    trained question phrasing, facts in order), offset by ``start``."""
    rows: dict[tuple[str, str, str], tuple[int, ...]] = {}
    index = start
    for qa in facts:
        rows[qa.key] = tuple(range(index, index + len(qa.questions)))
        index += len(qa.questions)
    return rows


def make_sampler(
    strategy: Strategy,
    forget_rows: int,
    retain_rows: int,
    modules: Sequence[Module] = (),
    seed: int = 0,
) -> StepSampler:
    """The sampler of ``strategy`` (``modules`` are needed by ``melu`` only)."""
    if strategy == "one-to-one":
        return OneToOneSampler(forget_rows, retain_rows, seed)
    if strategy == "cyclic":
        return CyclicSampler(forget_rows, retain_rows, seed)
    if strategy == "melu":
        return MELUSampler(modules, forget_rows, retain_rows, seed)
    raise ValueError(f"unknown retain-sampling strategy {strategy!r}; accepted: {STRATEGIES}")


__all__ = [
    "STRATEGIES",
    "CyclicSampler",
    "MELUSampler",
    "Module",
    "OneToOneSampler",
    "Step",
    "StepSampler",
    "Strategy",
    "fact_rows",
    "make_sampler",
]
