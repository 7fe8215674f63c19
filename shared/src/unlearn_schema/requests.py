"""What to forget: one discriminated union covering every kind of deletion request.

Each request names its ``kind``; JSON/YAML specs pick the variant by that key, and a
wrong ``kind`` is rejected with the list of accepted kinds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from unlearn_schema.base import StrictModel


class TextSample(StrictModel):
    """One text sample to forget, optionally as a prompt/answer pair."""

    text: str = Field(min_length=1, description="The text (or the prompt, when answer is set).")
    answer: str | None = Field(default=None, description="Expected completion of a prompt.")


class Fact(StrictModel):
    """A (subject, relation, object) triple, for example a fictitious person's birthplace."""

    subject: str = Field(min_length=1)
    relation: str = Field(min_length=1)
    object: str = Field(min_length=1)


class TextForgetRequest(StrictModel):
    """Forget verbatim text samples (copyrighted passages, private records)."""

    kind: Literal["text"] = "text"
    samples: list[TextSample] = Field(min_length=1)


class FactForgetRequest(StrictModel):
    """Forget facts, whatever their phrasing (all paraphrases of a QA pair)."""

    kind: Literal["facts"] = "facts"
    facts: list[Fact] = Field(min_length=1)


class Concept(StrictModel):
    """A visual concept of a text-to-image model: a style, an object, a colour."""

    name: str = Field(min_length=1)
    prompts: list[str] = Field(min_length=1, description="Prompts that express the concept.")
    anchor: str | None = Field(
        default=None, description="Concept to map it to after erasure; empty prompt when None."
    )


class ConceptEraseRequest(StrictModel):
    """Erase concepts from an image model while preserving others."""

    kind: Literal["concepts"] = "concepts"
    concepts: list[Concept] = Field(min_length=1)
    preserve: list[str] = Field(default_factory=list, description="Concept names to keep intact.")

    @model_validator(mode="after")
    def _erase_and_preserve_are_disjoint(self) -> ConceptEraseRequest:
        overlap = sorted({c.name for c in self.concepts} & set(self.preserve))
        if overlap:
            raise ValueError(f"concepts both erased and preserved: {overlap}")
        return self


class NodeDeletionRequest(StrictModel):
    """Delete nodes (and every edge touching them) from a graph model."""

    kind: Literal["graph_nodes"] = "graph_nodes"
    nodes: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)

    @field_validator("nodes")
    @classmethod
    def _unique(cls, nodes: list[int]) -> list[int]:
        if len(set(nodes)) != len(nodes):
            raise ValueError("node ids must be unique")
        return nodes


class EdgeDeletionRequest(StrictModel):
    """Delete edges, given as (source, target) node-id pairs."""

    kind: Literal["graph_edges"] = "graph_edges"
    edges: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]] = Field(
        min_length=1
    )
    undirected: bool = Field(default=True, description="Also delete the reverse edge.")


class NodeFeatureDeletionRequest(StrictModel):
    """Delete feature columns of chosen nodes (set to zero / unknown)."""

    kind: Literal["graph_node_features"] = "graph_node_features"
    nodes: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    features: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="Feature columns to delete; all of them when None."
    )


class DataSliceRequest(StrictModel):
    """Forget a slice of a training set by example indices or a half-open range."""

    kind: Literal["data_slice"] = "data_slice"
    dataset: str = Field(min_length=1)
    indices: list[Annotated[int, Field(ge=0)]] | None = None
    start: Annotated[int, Field(ge=0)] | None = None
    stop: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _exactly_one_selection(self) -> DataSliceRequest:
        by_range = self.start is not None or self.stop is not None
        if (self.indices is None) == (not by_range):
            raise ValueError("give either 'indices' or 'start'/'stop', not both and not neither")
        if by_range and (self.start is None or self.stop is None or self.stop <= self.start):
            raise ValueError(f"need start < stop, got start={self.start}, stop={self.stop}")
        return self


ForgetRequest = Annotated[
    TextForgetRequest
    | FactForgetRequest
    | ConceptEraseRequest
    | NodeDeletionRequest
    | EdgeDeletionRequest
    | NodeFeatureDeletionRequest
    | DataSliceRequest,
    Field(discriminator="kind"),
]
"""Any deletion request; the ``kind`` field selects the variant."""
