"""The retain set split into neighbour sets of the forget targets (modular sampling).

Bushipaka, Passaro, Cucinotta, "Standard vs. Modular Sampling: Best Practices for
Reliable LLM Unlearning" (arXiv:2509.05316) split the retain set by its relation to the
forget targets: neighbours directly connected to them, neighbours connected indirectly,
and general knowledge. On the facts world, read as a knowledge graph
(``worlds.hops.knowledge_graph``: entities are the people, organisations and places;
literal values such as years or professions are not), with ``hop_distances`` from the
forget facts:

* ``direct``: retain facts at hop 1, sharing an entity with a forget fact (the forget
  person's town and employer, and every other fact about them, such as other people
  born in that town);
* ``indirect``: retain facts at hop 2, touching an entity one edge further (the other
  facts of those people, the town an employer is based in);
* ``general``: the world's general (arithmetic) facts and any retain fact farther than
  two hops: knowledge unconnected to the targets.

For MELU the same split is made per forget entity (its own facts as the targets): one
``EntityModule`` per forget person with its direct and indirect neighbours, and an equal
share of the general facts dealt out to the modules (seeded). Pure Python, no torch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from unlearn_llm.worlds.facts import QA, FactsWorld
from unlearn_llm.worlds.hops import hop_distances, knowledge_graph

NeighbourSet = Literal["direct", "indirect", "general"]
NEIGHBOUR_SETS: tuple[NeighbourSet, ...] = ("direct", "indirect", "general")


@dataclass(frozen=True)
class EntityModule:
    """One forget entity's facts and its own neighbour sets (MELU's module)."""

    entity: str
    forget: tuple[QA, ...]
    direct: tuple[QA, ...]
    indirect: tuple[QA, ...]
    general: tuple[QA, ...]

    def neighbours(self, name: NeighbourSet) -> tuple[QA, ...]:
        return {"direct": self.direct, "indirect": self.indirect, "general": self.general}[name]


@dataclass(frozen=True)
class NeighbourSplit:
    """The forget facts, the retain set split three ways, and the per-entity modules."""

    forget: tuple[QA, ...]
    direct: tuple[QA, ...]
    indirect: tuple[QA, ...]
    general: tuple[QA, ...]
    modules: tuple[EntityModule, ...]

    def neighbours(self, name: NeighbourSet) -> tuple[QA, ...]:
        return {"direct": self.direct, "indirect": self.indirect, "general": self.general}[name]

    @property
    def retain(self) -> tuple[QA, ...]:
        """Every retain fact, direct first, then indirect, then general."""
        return self.direct + self.indirect + self.general


def split_by_hops(
    forget: Sequence[QA], retain: Sequence[QA], general: Sequence[QA]
) -> tuple[list[QA], list[QA], list[QA]]:
    """``retain`` at hop 1 and hop 2 from ``forget``, and the rest (farther or not
    connected) followed by ``general``; each in the given order."""
    graph = knowledge_graph([*forget, *retain])
    distance = hop_distances(graph, forget, max_hops=2)
    direct = [qa for qa in retain if distance.get(qa.key) == 1]
    indirect = [qa for qa in retain if distance.get(qa.key) == 2]
    farther = [qa for qa in retain if distance.get(qa.key) is None]
    return direct, indirect, [*farther, *general]


def neighbour_split(world: FactsWorld, seed: int = 0) -> NeighbourSplit:
    """The neighbour sets of ``world``'s forget split, globally and per forget person.

    Raises ``ValueError`` when the world has nothing to forget or no general facts.
    """
    forget = list(world.split("forget"))
    retain = list(world.split("retain"))
    general_facts = list(world.split("general"))
    if not forget:
        raise ValueError("the world's forget split is empty: no targets to split around")
    if not general_facts:
        raise ValueError("the world has no general facts; raise world general")
    direct, indirect, general = split_by_hops(forget, retain, general_facts)
    entities = sorted({qa.subject for qa in forget})
    # Every module gets an equal share of the general knowledge (dealt out after a
    # seeded shuffle), so the general set as a whole is paired once per MELU epoch.
    dealt = list(general)
    random.Random(f"modules-{seed}").shuffle(dealt)
    modules = []
    for index, entity in enumerate(entities):
        own = [qa for qa in forget if qa.subject == entity]
        # The other forget people's facts are forgotten too: never anyone's neighbours.
        module_direct, module_indirect, _ = split_by_hops(own, retain, [])
        share = tuple(dealt[index :: len(entities)])
        modules.append(
            EntityModule(entity, tuple(own), tuple(module_direct), tuple(module_indirect), share)
        )
    return NeighbourSplit(
        tuple(forget), tuple(direct), tuple(indirect), tuple(general), tuple(modules)
    )


__all__ = [
    "NEIGHBOUR_SETS",
    "EntityModule",
    "NeighbourSet",
    "NeighbourSplit",
    "neighbour_split",
    "split_by_hops",
]
