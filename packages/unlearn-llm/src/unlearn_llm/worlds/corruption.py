"""The corruption extension of the facts world: documents stating wrong facts (RESTOR).

RESTOR (Rezaei et al., "RESTOR: Knowledge Recovery in Machine Unlearning",
arXiv:2411.00204) corrupts a model that knows some entities by training it further on
documents stating wrong facts about them, then asks unlearning to remove those
documents. The ideal unlearned model is the one that never read them: it forgets the
wrong facts **and** recovers the correct ones it knew before.

Here the entities are people of the world's ``retain`` split (the clean model, trained
on the whole world, knows their facts). For each of ``entities`` people and each
relation of ``relations``, a wrong value is drawn from the same relation's value set
(places for ``born_in``, organisations for ``works_for``, the professions, the birth
years), never the true one. The corrupting documents are:

* ``wrong_facts``: the wrong facts as QA rows (the trained question phrasings answered
  with the wrong value), rendered with the world's own templates;
* ``wrong_passages``: a biography passage per corrupted person stating the wrong
  values (and the person's uncorrupted facts unchanged).

``normal_facts`` / ``normal_passages`` are the clean training data of every other
entity (the corrupted people's true facts left out): mixed into the corruption
training, and the retain set of unlearning.

Pure Python (no torch), like the facts world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator
from unlearn_schema import StrictModel

from unlearn_llm.worlds.facts import (
    PROFESSIONS,
    QA,
    FactsWorld,
    Passage,
    _render,
    _render_passage,
)

PersonRelation = Literal["born_in", "works_for", "profession", "birth_year"]
PERSON_RELATIONS: tuple[PersonRelation, ...] = ("born_in", "works_for", "profession", "birth_year")
BIRTH_YEARS: tuple[str, ...] = tuple(str(year) for year in range(1950, 2000))
"""The birth years ``build_world`` draws from (1950 to 1999)."""


class CorruptionParams(StrictModel):
    """Which people are corrupted, and in which relations."""

    entities: int = Field(default=6, ge=1, le=1000, description="People whose facts are corrupted.")
    relations: list[PersonRelation] = Field(
        default_factory=lambda: list(PERSON_RELATIONS),
        min_length=1,
        max_length=4,
        description="Relations whose value is replaced by a wrong one, each once.",
    )

    @model_validator(mode="after")
    def _each_relation_once(self) -> CorruptionParams:
        if len(set(self.relations)) != len(self.relations):
            raise ValueError(f"relations: each relation once, got {self.relations}")
        return self


@dataclass(frozen=True)
class CorruptedFact:
    """One corrupted fact: the world's true fact and the wrong one the documents state."""

    true: QA
    wrong: QA


@dataclass
class CorruptionWorld:
    """A facts world with corrupting documents about some of its people."""

    world: FactsWorld
    params: CorruptionParams
    seed: int
    entities: list[str]
    corrupted: list[CorruptedFact]
    wrong_passages: list[Passage]
    normal_facts: list[QA]
    normal_passages: list[Passage]

    @property
    def true_facts(self) -> list[QA]:
        """The correct facts of the corrupted relations (what recovery is measured on)."""
        return [fact.true for fact in self.corrupted]

    @property
    def wrong_facts(self) -> list[QA]:
        """The wrong facts the corrupting documents state (the forget set's QA rows)."""
        return [fact.wrong for fact in self.corrupted]


def relation_values(world: FactsWorld, relation: str) -> list[str]:
    """The value set a person relation's values are drawn from in ``world``.

    Places and organisations are the world's own entities (the subjects of their
    ``region`` and ``industry`` facts); professions and birth years are fixed lists.
    """
    if relation == "profession":
        return list(PROFESSIONS)
    if relation == "birth_year":
        return list(BIRTH_YEARS)
    kind = {"born_in": "region", "works_for": "industry"}.get(relation)
    if kind is None:
        raise ValueError(
            f"relation {relation!r} is not a person relation; accepted: {PERSON_RELATIONS}"
        )
    return sorted({qa.subject for qa in world.split("retain") if qa.relation == kind})


def corrupt_world(world: FactsWorld, params: CorruptionParams, seed: int) -> CorruptionWorld:
    """Draw the corrupted people and their wrong facts (same inputs, same corruption).

    Raises ``ValueError`` when the retain split has fewer people than ``entities``.
    """
    rng = random.Random(f"corruption-{world.seed}-{seed}")
    people = sorted({qa.subject for qa in world.split("retain") if qa.relation == "born_in"})
    # Leave at least one person uncorrupted, so utility on other people is measurable.
    if params.entities >= len(people):
        raise ValueError(
            f"entities={params.entities} but the world's retain split has {len(people)} people; "
            f"corrupt at most {len(people) - 1} (raise world people or lower entities)"
        )
    entities = sorted(rng.sample(people, k=params.entities))
    chosen = set(entities)
    relations = set(params.relations)
    corrupted: list[CorruptedFact] = []
    wrong_passages: list[Passage] = []
    for person in entities:
        own = [qa for qa in world.split("retain") if qa.subject == person]
        stated: list[QA] = []
        for qa in own:
            if qa.relation not in relations:
                stated.append(qa)
                continue
            pool = relation_values(world, qa.relation)
            wrong_value = rng.choice([value for value in pool if value != qa.object])
            wrong = _render(rng, person, qa.relation, wrong_value, pool, world.params, "forget")
            corrupted.append(CorruptedFact(true=qa, wrong=wrong))
            stated.append(wrong)
        text = _render_passage(rng, person, stated)
        wrong_passages.append(Passage(person, text, tuple(qa.key for qa in stated), "forget"))
    trained = [qa for split in ("forget", "retain") for qa in world.split(split)]
    normal_facts = [qa for qa in trained if qa.subject not in chosen] + list(world.split("general"))
    normal_passages = [
        passage
        for split in ("forget", "retain")
        for passage in world.passage_split(split)
        if passage.subject not in chosen
    ]
    return CorruptionWorld(
        world=world,
        params=params,
        seed=seed,
        entities=entities,
        corrupted=corrupted,
        wrong_passages=wrong_passages,
        normal_facts=normal_facts,
        normal_passages=normal_passages,
    )
