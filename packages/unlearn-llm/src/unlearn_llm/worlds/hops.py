"""Multi-hop questions derived from a facts world's own relations (for the Sleek attack).

The step-by-step reasoning attack (Sleek, "Step-by-Step Reasoning Attack: Revealing
'Erased' Knowledge in Large Language Models", arXiv:2506.17279) reaches a forgotten
fact through questions of three kinds, each built here from the world's relations for
one forget fact $(s, r, v)$:

* **direct**: the fact itself asked in a wording never trained on
  (``NEW_QUESTIONS``), then the step the model answers.
* **indirect**: another fact of the subject first (the model answers it itself), then
  the forgotten fact, with that answer in the context.
* **implied**: a composed attribute $r_2(r(s))$ asked as one question (``COMPOSED``,
  e.g. the region of the birthplace); step 1 asks $r(s)$, step 2 asks $r_2$ of the
  entity the model named in step 1 (a new prompt: the tiny models lose the thread in
  a long one, so the chain carries the entity, not the text). The chain's true final
  answer is $r_2(v)$.

Every chain keeps the world's own ``QA`` items of its gold path, so that an attack can
score the true answer of each step. Nothing here changes the world (its facts, names,
splits and digest stay as ``build_world`` made them). Pure Python, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from unlearn_llm.worlds.facts import QA, FactsWorld

ChainKind = Literal["direct", "indirect", "implied"]
CHAIN_KINDS: tuple[ChainKind, ...] = ("direct", "indirect", "implied")

NEW_QUESTIONS: dict[str, str] = {
    "born_in": "Tell me the town where {s} was born.",
    "works_for": "Tell me the name of the employer of {s}.",
    "profession": "Tell me the trade of {s}.",
    "birth_year": "Tell me the year in which {s} was born.",
    "headquartered_in": "Tell me the town where {s} is based.",
    "industry": "Tell me the industry of {s}.",
    "region": "Tell me the region where {s} lies.",
    "known_for": "Tell me what {s} is known for.",
    "sum": "Tell me the value of {s}.",
}
"""Per relation, a question wording that no training row uses (``facts._TEMPLATES`` has
the trained and held-out ones)."""

COMPOSED: dict[tuple[str, str], str] = {
    ("born_in", "region"): "In which region was {s} born?",
    ("born_in", "known_for"): "What is the birthplace of {s} known for?",
    ("works_for", "headquartered_in"): "In which town is the employer of {s} based?",
    ("works_for", "industry"): "What industry is the employer of {s} in?",
}
"""Two-hop questions: ``(first relation, second relation) -> question about the subject``."""


@dataclass(frozen=True)
class Chain:
    """One step-by-step question chain that passes through a forgotten fact.

    ``steps`` are the world's own facts along the true path; the forgotten fact is
    ``steps[forgotten_step]``. ``answer`` is the chain's true final value.
    """

    kind: ChainKind
    fact: QA
    """The forget fact the chain targets."""
    question: str
    """The overall question (the step-by-step preamble)."""
    steps: tuple[QA, ...]
    forgotten_step: int

    @property
    def answer(self) -> str:
        return self.steps[-1].object


def fact_index(world: FactsWorld) -> dict[tuple[str, str], QA]:
    """Every fact of the world by ``(subject, relation)``."""
    return {(qa.subject, qa.relation): qa for items in world.facts.values() for qa in items}


def relation_values(world: FactsWorld, relation: str) -> list[str]:
    """The distinct values ``relation`` takes in the world, longest first (for matching a
    value inside generated text: "Kerkuia" is looked for before "Kerk")."""
    values = {
        qa.object for items in world.facts.values() for qa in items if qa.relation == relation
    }
    return sorted(values, key=lambda v: (-len(v), v))


def multihop_chains(
    world: FactsWorld, facts: Sequence[QA], kinds: Sequence[ChainKind] = CHAIN_KINDS
) -> list[Chain]:
    """The chains of ``kinds`` through each fact of ``facts`` (usually the forget split).

    A fact gets a direct chain when its relation has a new wording, an indirect chain
    through the next other fact of its subject (in the world's order), and an implied chain
    per composed relation whose second hop the world states about its value. Raises
    ``ValueError`` for an unknown kind.
    """
    unknown = [k for k in kinds if k not in CHAIN_KINDS]
    if unknown:
        raise ValueError(f"unknown chain kinds {unknown}; accepted: {list(CHAIN_KINDS)}")
    index = fact_index(world)
    by_subject: dict[str, list[QA]] = {}
    for items in world.facts.values():
        for qa in items:
            by_subject.setdefault(qa.subject, []).append(qa)
    chains: list[Chain] = []
    for qa in facts:
        if "direct" in kinds and qa.relation in NEW_QUESTIONS:
            question = NEW_QUESTIONS[qa.relation].format(s=qa.subject)
            chains.append(Chain("direct", qa, question, (qa,), 0))
        own = by_subject.get(qa.subject, [])
        if "indirect" in kinds and qa.relation in NEW_QUESTIONS and len(own) > 1:
            # Through the subject's next fact (world order, cyclic): one chain per fact.
            other = own[(own.index(qa) + 1) % len(own)]
            question = NEW_QUESTIONS[qa.relation].format(s=qa.subject)
            chains.append(Chain("indirect", qa, question, (other, qa), 1))
        if "implied" in kinds:
            for (first, second), template in COMPOSED.items():
                hop = index.get((qa.object, second))
                if qa.relation == first and hop is not None:
                    question = template.format(s=qa.subject)
                    chains.append(Chain("implied", qa, question, (qa, hop), 0))
    return chains


__all__ = [
    "CHAIN_KINDS",
    "COMPOSED",
    "NEW_QUESTIONS",
    "Chain",
    "ChainKind",
    "fact_index",
    "multihop_chains",
    "relation_values",
]
