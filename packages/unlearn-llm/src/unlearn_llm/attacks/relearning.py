"""Relearning attack: a few fine-tuning steps on related data bring hidden knowledge back.

Lynch et al., "Eight Methods to Evaluate Robust Unlearning in LLMs" (arXiv:2402.16835)
and Hu et al., "Jogging the Memory of Unlearned LLMs Through Targeted Relearning
Attacks" (arXiv:2406.13356): a model that only suppressed the forget set relearns it
from a small, related sample far faster than a model that never knew it. Here the
forget facts are split **within each forget person** (seeded): the attack fine-tunes a
copy on some of a person's facts and measures the others, which it never trained on,
so any rise on them is knowledge that came back rather than knowledge just taught
(the world draws each fact's value independently, so one fact does not imply
another; the oracle, which never knew the person, stays low).

Two variants, each a registered attack:

* ``relearning``: fine-tune on the trained part of the forget facts;
* ``relearning-related``: fine-tune on retain data only, the facts of the places and
  organisations the forget people are linked to (their ``born_in`` and
  ``works_for`` values), and measure the same held-out forget facts.

The fine-tuning is plain AdamW on the answer NLL (``data.answer_nll``) for ``steps``
steps, at most a tenth of ``target.original_training_steps`` when that is known (more
steps are cut to it, and ``metrics["steps"]`` says how many ran). Headline
``knowledge``: the held-out forget answer probability (TOFU's length-normalised
$P(a\\mid q) = \\pi(a\\mid q)^{1/|a|}$, from ``metrics.evaluate.score_facts``) after
fine-tuning; ``truth_ratios`` are the held-out items' after fine-tuning.

The answer sentence names the person, so a few steps on a person's other facts teach
even the oracle the name and the sentence frame: on the quick world the oracle's
held-out answer probability rises from 0.02 to about 0.14 (default params), never its
exact answers; compare a method's value with the oracle's under the same attack.

torch is imported inside the functions, so importing this module (and its params)
stays light.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget

if TYPE_CHECKING:
    import torch

    from unlearn_llm.worlds.facts import QA

Variant = Literal["forget", "related"]
LINK_RELATIONS = ("born_in", "works_for")
"""Person relations whose value is another entity of the world (a place, an organisation)."""


class RelearningParams(MethodParams):
    """Fine-tuning budget and the split of each forget person's facts."""

    steps: int = Field(
        default=20, ge=1, le=10_000, description="Optimiser steps (cut to a tenth of training)."
    )
    learning_rate: float = Field(default=5e-4, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    train_fraction: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="Share of each forget person's facts trained on; the rest is measured.",
    )


def split_forget_facts(
    forget: Sequence[QA], train_fraction: float, seed: int
) -> tuple[list[QA], list[QA]]:
    """``(train, heldout)``: each forget subject's facts, shuffled by ``seed``, split in two.

    A subject with one fact only goes to ``heldout`` (nothing of it is trained on);
    every subject with two or more keeps at least one fact on each side.
    """
    by_subject: dict[str, list[QA]] = {}
    for qa in forget:
        by_subject.setdefault(qa.subject, []).append(qa)
    rng = random.Random(seed)
    train: list[QA] = []
    heldout: list[QA] = []
    for subject in sorted(by_subject):
        facts = list(by_subject[subject])
        rng.shuffle(facts)
        count = round(train_fraction * len(facts))
        count = 0 if len(facts) < 2 else min(len(facts) - 1, max(1, count))
        train.extend(facts[:count])
        heldout.extend(facts[count:])
    return train, heldout


def linked_facts(retain: Sequence[QA], forget: Sequence[QA]) -> list[QA]:
    """The ``retain`` facts about the entities the ``forget`` people link to (their places
    and employers: the values of their ``born_in`` and ``works_for`` facts)."""
    linked = {qa.object for qa in forget if qa.relation in LINK_RELATIONS}
    return [qa for qa in retain if qa.subject in linked]


def related_retain_facts(target: AttackTarget, forget: Sequence[QA]) -> list[QA]:
    """Retain facts about the entities the ``forget`` people link to (their places, employers)."""
    return linked_facts(target.world.split("retain"), forget)


def fine_tune(
    model: torch.nn.Module,
    tokenizer: object,
    facts: Sequence[QA],
    params: RelearningParams,
    steps: int,
    seed: int,
) -> torch.nn.Module:
    """A copy of ``model`` fine-tuned for ``steps`` AdamW steps on every phrasing of ``facts``."""
    import torch

    from unlearn_llm.data import answer_nll, encode_facts

    tuned = copy.deepcopy(model)
    rows = encode_facts(tokenizer, facts)  # type: ignore[arg-type]
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(tuned.parameters(), lr=params.learning_rate, weight_decay=0.0)
    tuned.train()
    done = 0
    while done < steps:
        for minibatch in rows.minibatches(params.batch_size, generator):
            loss = answer_nll(tuned, minibatch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tuned.parameters(), 1.0)
            optimizer.step()
            done += 1
            if done == steps:
                break
    tuned.eval()
    return tuned


def _relearn(target: AttackTarget, params: RelearningParams, variant: Variant) -> AttackOutcome:
    import numpy as np

    from unlearn_llm.metrics.evaluate import score_facts

    start = time.perf_counter()
    train, heldout = split_forget_facts(target.forget, params.train_fraction, target.seed)
    if not heldout or not train:
        raise ValueError(
            f"relearning needs forget people with two or more facts (some to train on, some "
            f"to measure); got {len(target.forget)} forget facts over "
            f"{len({qa.subject for qa in target.forget})} subjects"
        )
    data = train if variant == "forget" else related_retain_facts(target, target.forget)
    if not data:
        raise ValueError(
            "relearning-related found no retain facts about the places or organisations the "
            "forget people link to (relations born_in, works_for); use 'relearning' instead"
        )
    steps = params.steps
    if target.original_training_steps is not None:
        steps = max(1, min(steps, target.original_training_steps // 10))
    before = score_facts(target.model, target.tokenizer, heldout, generate=False)
    tuned = fine_tune(target.model, target.tokenizer, data, params, steps, target.seed)
    after = score_facts(tuned, target.tokenizer, heldout, generate=False)
    metrics = {
        "steps": float(steps),
        "train_facts": float(len(data)),
        "heldout_facts": float(len(heldout)),
        "clean_knowledge": float(np.mean(before.answer_probability)),
        "heldout_forget_exact_answer_accuracy_before": float(np.mean(before.exact_match)),
        "heldout_forget_exact_answer_accuracy": float(np.mean(after.exact_match)),
        "heldout_forget_truth_ratio_median": float(np.median(after.truth_ratio)),
    }
    if variant == "forget":
        trained = score_facts(tuned, target.tokenizer, train, generate=False)
        metrics["trained_forget_answer_probability"] = float(np.mean(trained.answer_probability))
    if target.retain:
        retain = score_facts(tuned, target.tokenizer, target.retain, generate=False)
        metrics["retain_answer_probability"] = float(np.mean(retain.answer_probability))
    return AttackOutcome(
        attack="relearning" if variant == "forget" else "relearning-related",
        knowledge=float(np.mean(after.answer_probability)),
        knowledge_name="heldout_forget_answer_probability",
        truth_ratios=after.truth_ratio,
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )


def relearning(target: AttackTarget, params: RelearningParams | None = None) -> AttackOutcome:
    """Fine-tune a copy on part of each forget person's facts; score the other facts."""
    return _relearn(target, params or RelearningParams(), "forget")


def related_relearning(
    target: AttackTarget, params: RelearningParams | None = None
) -> AttackOutcome:
    """Fine-tune a copy on retain facts of the forget people's places and employers only;
    score the same held-out forget facts as ``relearning``."""
    return _relearn(target, params or RelearningParams(), "related")


__all__ = [
    "RelearningParams",
    "fine_tune",
    "linked_facts",
    "related_relearning",
    "related_retain_facts",
    "relearning",
    "split_forget_facts",
]
