"""What every erasure method of this package takes: the request (what to erase, what to
keep) and its params, typed or as a mapping to validate.

torch-free (only the schema), so specs and docs can build requests without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from unlearn_schema import Concept, SpecError, validate_or_raise

ParamsT = TypeVar("ParamsT", bound=BaseModel)


def method_params(
    params_type: type[ParamsT], params: ParamsT | Mapping[str, Any] | None, method: str
) -> ParamsT:
    """``params`` as ``params_type``: typed params pass through, a mapping is validated
    (``None``: the defaults), its errors naming ``<method> params``."""
    if isinstance(params, params_type):
        return params
    return validate_or_raise(params_type, dict(params or {}), f"{method} params")


def check_concepts(concepts: Sequence[Concept | Mapping[str, Any]]) -> list[Concept]:
    """Validate concepts (a concept with no prompts is an error naming the concept)."""
    if not concepts:
        raise ValueError("give at least one concept to erase, got an empty list")
    checked = []
    for i, concept in enumerate(concepts):
        data = concept.model_dump() if isinstance(concept, Concept) else concept
        name = data.get("name", f"#{i}") if isinstance(data, Mapping) else f"#{i}"
        if isinstance(data, Mapping) and not data.get("prompts"):
            raise SpecError(
                [
                    f"concepts[{i}] ({name!r}).prompts: a concept needs at least one prompt that "
                    "expresses it, got none"
                ]
            )
        checked.append(validate_or_raise(Concept, data, f"concepts[{i}]"))
        bad = [p for p in checked[-1].prompts if not p.strip()]
        if bad:
            raise SpecError([f"concepts[{i}] ({name!r}).prompts: empty prompt {bad[0]!r}"])
    return checked


class EraseRequest:
    """Concepts to erase and prompts to preserve, checked once when the request is made.

    ``concepts``: each a schema ``Concept`` (or its dict) with the prompts that express
    it and the anchor it is mapped to. ``preserve_prompts``: prompts whose images the
    edit should leave alone; the closed forms fit the text embeddings of exactly these
    prompts (ESD has no preservation term and ignores them). Unlike the schema's
    ``ConceptEraseRequest``, whose ``preserve`` names concepts, these are prompts:
    ``EraseRequest(request.concepts, prompts)`` builds one from it.

    A concept without prompts, an empty prompt or an empty concept list raises here,
    naming the concept, before any model is touched.
    """

    __slots__ = ("concepts", "preserve_prompts")

    concepts: tuple[Concept, ...]
    preserve_prompts: tuple[str, ...]

    def __init__(
        self,
        concepts: Sequence[Concept | Mapping[str, Any]],
        preserve_prompts: Sequence[str] = (),
    ) -> None:
        if isinstance(preserve_prompts, str):
            raise TypeError(
                "preserve_prompts must be a sequence of prompts, got the string "
                f"{preserve_prompts!r}"
            )
        self.concepts = tuple(check_concepts(concepts))
        self.preserve_prompts = tuple(preserve_prompts)

    def __repr__(self) -> str:
        names = [concept.name for concept in self.concepts]
        return f"EraseRequest(concepts={names}, preserve_prompts={len(self.preserve_prompts)})"
