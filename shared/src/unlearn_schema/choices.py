"""A registry entry chosen in a spec by name, with its params, parsed once.

``RegisteredChoice`` is the one shape of a spec field that picks an attack (or any
other registered record) by name: ``{"name": "relearning", "params": {"steps": 5}}``.
A subclass says which registry to look in (``registry``); validating the choice looks
the name up there and validates ``params`` against that record's params type, so an
unknown name is an error at ``name`` (with the closest registered one), and a bad or
unknown param an error at ``params.<field>`` (listing the accepted fields). The recipe
then reads the record (``spec``) and the typed params (``typed``) without parsing again.
"""

from __future__ import annotations

from pydantic import Field, JsonValue, PrivateAttr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from unlearn_schema.base import StrictModel
from unlearn_schema.configs import MethodParams
from unlearn_schema.registry import MethodSpec, Registry, UnknownNameError

__all__ = ["RegisteredChoice"]


def _error(
    title: str, kind: str, message: str, loc: tuple[str | int, ...], given: object
) -> ValidationError:
    # A ValidationError raised inside a validator keeps its own location under the
    # field's, so a spec's errors name e.g. ``params.attacks[1].name``.
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=given)]
    )


class RegisteredChoice(StrictModel):
    """A record of ``registry()`` by name, with its params (see the module docstring)."""

    name: str = Field(min_length=1, description="Registered name, e.g. 'relearning'.")
    params: dict[str, JsonValue] = Field(default_factory=dict)
    _spec: MethodSpec | None = PrivateAttr(default=None)
    _typed: MethodParams | None = PrivateAttr(default=None)

    @classmethod
    def registry(cls) -> Registry:
        """Where ``name`` is looked up; every subclass names its registry."""
        raise NotImplementedError(f"{cls.__name__} must say which registry it chooses from")

    @model_validator(mode="after")
    def _look_up(self) -> RegisteredChoice:
        title = type(self).__name__
        registry = type(self).registry()
        if self.name not in registry:
            unknown = UnknownNameError(registry.kind, self.name, registry)
            raise _error(
                title, f"unknown_{registry.kind}", unknown.problems[0], ("name",), self.name
            )
        spec = registry[self.name]
        try:
            typed = spec.params_type.model_validate(self.params)
        except ValidationError as error:
            accepted = ", ".join(sorted(spec.params_type.model_fields)) or "none"
            details = [
                InitErrorDetails(
                    type=PydanticCustomError(
                        item["type"],
                        item["msg"]
                        + (
                            f"; accepted fields: {accepted}"
                            if item["type"] == "extra_forbidden"
                            else ""
                        ),
                    ),
                    loc=("params", *item["loc"]),
                    input=item["input"],
                )
                for item in error.errors(include_url=False)
            ]
            raise ValidationError.from_exception_data(title, details) from None
        self._spec, self._typed = spec, typed
        return self

    @property
    def spec(self) -> MethodSpec:
        """The registry record (checked when the choice was validated)."""
        if self._spec is None:  # only a model_construct()ed choice skips validation
            raise ValueError(f"{self.name!r} was never validated")
        return self._spec

    @property
    def typed(self) -> MethodParams:
        """The params, validated against the record's params type."""
        if self._typed is None:
            raise ValueError(f"{self.name!r} was never validated")
        return self._typed
