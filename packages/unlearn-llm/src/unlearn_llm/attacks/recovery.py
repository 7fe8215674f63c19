"""The contract of a knowledge-recovery attack: what it receives and what it returns.

A recovery attack tries to bring forgotten knowledge back (relearning, quantization,
multi-hop questions, paraphrases, representation probes) or to show that unlearning
left a trace (trace detection). Each is one module in ``attacks/`` with a params model
and one entry function of the shape::

    def relearning(target: AttackTarget, params: RelearningParams | None = None) -> AttackOutcome

registered as an ``AttackSpec`` in ``attacks/__init__.py``. The benchmark runs every
attack on every unlearned model and, with the same params, on the original model and
on the exact retrain oracle, so each attacked number has the oracle's attacked number
beside it as the reference.

Rules every attack keeps:

* it never changes ``target.model`` in place: an attack that edits weights works on a
  ``copy.deepcopy`` of it;
* it is reproducible from ``target.seed`` (and its params);
* ``AttackOutcome.knowledge`` is its headline measurement of forget-set knowledge that
  the attack reaches, oriented so that *higher means more knowledge* (e.g. the
  length-normalised answer probability or the accuracy of a probe on the forget
  entities); it must be comparable between models of one run, because the benchmark
  sets a method's value beside the original's and the oracle's;
* ``truth_ratios``, when the attack can score the forget facts under attack (a modified
  model, rephrased questions), holds the TOFU truth ratio per forget item, so that the
  benchmark can compute forget quality under attack against the oracle under the same
  attack; ``None`` when the notion does not apply (probes, trace detection).

This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA, FactsWorld, Passage


@dataclass
class AttackTarget:
    """A model under attack and the world it was unlearned on."""

    model: PreTrainedModel
    """The model to attack; never modified in place."""
    tokenizer: PreTrainedTokenizerBase
    world: FactsWorld
    """The world, whose ``forget`` split is the knowledge that should be gone."""
    forget: Sequence[QA]
    retain: Sequence[QA]
    """The retain facts an attack may score or train on (a fixed evaluation sample)."""
    general: Sequence[QA]
    holdout: Sequence[QA]
    """People never trained on by any model (negatives for classifiers and probes)."""
    seed: int
    original: PreTrainedModel | None = None
    """The model before unlearning (trace detection tells the two apart); never modified."""
    forget_passages: Sequence[Passage] = ()
    retain_passages: Sequence[Passage] = ()
    original_training_steps: int | None = None
    """Optimiser steps the original was trained for: relearning may use at most a tenth."""


@dataclass
class AttackOutcome:
    """What one attack measured on one model."""

    attack: str
    """The registered attack name."""
    knowledge: float
    """Headline: forget-set knowledge the attack reaches (higher = more knowledge)."""
    knowledge_name: str
    """What ``knowledge`` is, e.g. ``"heldout_forget_answer_probability"``."""
    truth_ratios: np.ndarray | None = None
    """TOFU truth ratio per forget item under the attack, or ``None``."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Every other number the attack reports (name -> finite value)."""
    wall_time_s: float = 0.0


AttackFunction = Callable[[AttackTarget, Any], AttackOutcome]
"""The entry shape: ``attack(target, params=None) -> AttackOutcome``."""


__all__ = ["AttackFunction", "AttackOutcome", "AttackTarget"]
