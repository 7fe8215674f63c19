"""Readable validation errors: the field path, what was wrong, and what is accepted."""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ValidationError


class SpecError(ValueError):
    """An invalid spec or config, with one line per problem naming the field path."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid spec{where}:\n" + "\n".join(f"  - {p}" for p in problems))


class UnreadableFileError(ValueError):
    """A user's file (checkpoint, weights, snapshot) that exists but cannot be read."""

    def __init__(self, path: str | os.PathLike[str], what: str, cause: BaseException) -> None:
        self.path = str(path)
        detail = str(cause).strip() or "no detail given"
        super().__init__(f"{self.path}: cannot read {what} ({type(cause).__name__}: {detail})")


@contextmanager
def reading_file(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Re-raise any failure to parse ``path`` as an `UnreadableFileError` that names it.

    Libraries' own errors often omit the file (safetensors: "Error while deserializing
    header"); a missing file stays a ``FileNotFoundError``.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as error:  # any parser's error: safetensors, json, torch, PIL
        raise UnreadableFileError(path, what, error) from error


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> tuple[Any, ...]:
    annotation = _strip_annotated(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(_strip_annotated(a) for a in typing.get_args(annotation))
    return (annotation,)


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return str(args[0]) if args else None


def _step(annotation: Any, key: str | int) -> Any:
    """The type found one step down ``key`` from ``annotation``, or None if unknown."""
    for member in _union_members(annotation):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            if isinstance(key, str) and key in member.model_fields:
                return member.model_fields[key].annotation
            if isinstance(key, str) and _kind_of(member) == key:
                # Discriminated unions put the chosen tag into the error location.
                return member
        elif origin in (list, tuple, set, frozenset) and isinstance(key, int):
            args = typing.get_args(member)
            return args[0] if args else None
        elif origin is dict:
            args = typing.get_args(member)
            return args[1] if len(args) == 2 else None
    return None


def accepted_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names accepted at ``loc`` (the location of a model) inside ``model``."""
    annotation: Any = model
    for key in loc:
        annotation = _step(annotation, key)
        if annotation is None:
            return []
    names: list[str] = []
    for member in _union_members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            names.extend(member.model_fields)
    return sorted(set(names))


def _format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for key in loc:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"


def describe_validation_error(error: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem: ``field.path: message`` plus the accepted names where useful."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        line = f"{_format_loc(loc)}: {item['msg']}"
        if item["type"] == "extra_forbidden" and loc:
            accepted = accepted_fields(model, loc[:-1])
            bad = str(loc[-1])
            close = difflib.get_close_matches(bad, accepted, n=1)
            if close:
                line += f" (did you mean '{close[0]}'?)"
            if accepted:
                line += f"; accepted fields: {', '.join(accepted)}"
        elif item["type"] == "missing":
            line += " (required field)"
        problems.append(line)
    return problems


ModelT = typing.TypeVar("ModelT", bound=BaseModel)


def validate_or_raise(model: type[ModelT], data: object, source: str | None = None) -> ModelT:
    """Validate ``data`` as ``model``; raise `SpecError` with readable lines on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, model), source) from None


def validate_at(model: type[ModelT], data: object, path: str) -> ModelT:
    """Validate ``data`` as ``model``; each error line starts with ``path`` and, where
    pydantic saw one, ends with the bad value (``(got -5)``)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        lines = describe_validation_error(error, model)
        for index, item in enumerate(error.errors(include_url=False)):
            skip = item["type"] in ("missing", "extra_forbidden") or not item["loc"]
            if not skip and index < len(lines):
                lines[index] += f" (got {item.get('input')!r})"
        raise SpecError([f"{path}.{line}" for line in lines]) from None
