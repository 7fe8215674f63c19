"""The base model every schema type derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown fields.

    A misspelled field in a spec (``seed`` for ``seeds``) must be an error, never a
    silently ignored value, so every schema type forbids extra fields.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
