"""Validation that names the bad value as well as the field and what is accepted."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from unlearn_schema import SpecError, describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_params(model: type[ModelT], data: object, source: str) -> ModelT:
    """Like ``unlearn_schema.validate_or_raise``, adding ``(got <value>)`` to each line."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        lines = describe_validation_error(error, model)
        for index, item in enumerate(error.errors(include_url=False)):
            skip = item["type"] in ("missing", "extra_forbidden") or not item["loc"]
            if not skip and index < len(lines):
                lines[index] += f" (got {item.get('input')!r})"
        raise SpecError(lines, source) from None
