"""Synthetic worlds: seeded generators of facts to learn and to forget."""

from unlearn_llm.worlds.facts import (
    QA,
    FactsWorld,
    FactsWorldParams,
    build_world,
    world_params_for,
)

__all__ = ["QA", "FactsWorld", "FactsWorldParams", "build_world", "world_params_for"]
