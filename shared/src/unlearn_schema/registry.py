"""One registry shape for the methods, attacks and metrics of every package.

A package lists its methods in ``<package>/methods/__init__.py`` as one record each::

    METHODS = Registry(
        "method",
        [
            MethodSpec(
                name="npo",
                params="unlearn_llm.methods.npo:NPOParams",
                entry="unlearn_llm.methods.npo:npo",
                summary="Negative preference optimisation on the forget set.",
                paper="arXiv:2404.05868",
            ),
        ],
    )

and names that mapping in an entry point (``[project.entry-points."unlearn.methods"]
unlearn-llm = "unlearn_llm.methods:METHODS"``). Attacks (``ATTACKS`` in
``attacks/__init__.py``, group ``unlearn.attacks``) and metrics (``METRICS`` in
``metrics/__init__.py``, group ``unlearn.metrics``) are registered the same way.

The record holds ``"module:attribute"`` references, not the objects, so a registry
module imports nothing heavy: ``unlearn-bench list`` reads summaries without importing
torch, and validating a spec imports only the (torch-free) params modules. The entry
function is imported on first use.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from unlearn_schema.configs import MethodParams
from unlearn_schema.errors import SpecError, validate_at

RegistryKind = Literal["method", "attack", "metric"]


def resolve_reference(reference: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"a reference must look like 'module:attribute', got {reference!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"{module_name} has no attribute {attribute!r} ({reference})") from None


@dataclass(frozen=True)
class MethodSpec:
    """One registered method: its name, parameter model, entry function and source.

    ``params`` and ``entry`` are ``"module:attribute"`` references. The params module
    must import no torch (keep the params class in a module of its own when the method's
    module defines ``nn.Module`` classes), so that validating a spec stays fast.
    ``paper`` is the arXiv id (``"arXiv:2404.05868"``) or another citation; ``None``
    for a baseline of our own.
    """

    name: str
    params: str
    entry: str
    summary: str
    paper: str | None = None
    kind: ClassVar[RegistryKind] = "method"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or " " in self.name:
            raise ValueError(f"a registered name must be one non-empty word, got {self.name!r}")
        for label, reference in (("params", self.params), ("entry", self.entry)):
            if reference.count(":") != 1:
                raise ValueError(
                    f"{self.kind} {self.name!r}: {label} must be 'module:attribute', "
                    f"got {reference!r}"
                )
        if not self.summary.strip():
            raise ValueError(f"{self.kind} {self.name!r} needs a one-line summary")

    @property
    def params_type(self) -> type[MethodParams]:
        """The parameter model (imported on first use)."""
        if "params" not in self._cache:
            params_type = resolve_reference(self.params)
            if not (isinstance(params_type, type) and issubclass(params_type, BaseModel)):
                raise TypeError(f"{self.params} is not a pydantic model")
            self._cache["params"] = params_type
        cls: type[MethodParams] = self._cache["params"]
        return cls

    @property
    def function(self) -> Callable[..., Any]:
        """The entry function (imported on first use)."""
        if "entry" not in self._cache:
            self._cache["entry"] = resolve_reference(self.entry)
        fn: Callable[..., Any] = self._cache["entry"]
        return fn

    def validate_params(self, raw: Mapping[str, Any], path: str) -> MethodParams:
        """Validate ``raw`` against the params model; errors name ``path`` and the bad value."""
        return validate_at(self.params_type, dict(raw), path)

    def describe(self) -> dict[str, str | None]:
        """Name, kind, summary and paper, as ``unlearn-bench list --json`` prints them."""
        return {"name": self.name, "kind": self.kind, "summary": self.summary, "paper": self.paper}


@dataclass(frozen=True)
class AttackSpec(MethodSpec):
    """One registered attack (relearning, quantization, probes ...); same shape as a method."""

    kind: ClassVar[RegistryKind] = "attack"


@dataclass(frozen=True)
class MetricSpec(MethodSpec):
    """One registered metric function; same shape as a method."""

    kind: ClassVar[RegistryKind] = "metric"


class UnknownNameError(SpecError, LookupError):
    """A method, attack or metric name that the registry does not hold."""

    def __init__(self, kind: str, name: str, known: Iterable[str], path: str | None = None) -> None:
        known = sorted(known)
        self.name = name
        self.known = known
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        where = f"{path}: " if path else ""
        super().__init__(
            [f"{where}unknown {kind} {name!r}{hint}; accepted: {', '.join(known) or 'none'}"]
        )


class Registry(Mapping[str, MethodSpec]):
    """An ordered, read-only ``name -> record`` mapping; an unknown name is an error."""

    def __init__(self, kind: RegistryKind, records: Iterable[MethodSpec]) -> None:
        self.kind: RegistryKind = kind
        self._records: dict[str, MethodSpec] = {}
        for record in records:
            if record.kind != kind:
                raise TypeError(f"a {kind} registry cannot hold {record.kind} {record.name!r}")
            if record.name in self._records:
                raise ValueError(f"{kind} {record.name!r} is registered twice")
            self._records[record.name] = record

    def __getitem__(self, name: str) -> MethodSpec:
        try:
            return self._records[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._records) from None

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._records)})"

    def lookup(self, name: str, path: str | None = None) -> MethodSpec:
        """The record of ``name``; `UnknownNameError` naming ``path`` otherwise."""
        if name not in self._records:
            raise UnknownNameError(self.kind, name, self._records, path)
        return self._records[name]

    def validate_params(
        self, name: str, raw: Mapping[str, Any], path: str = "params"
    ) -> MethodParams:
        """The typed params of ``name`` validated from ``raw``."""
        return self.lookup(name, path).validate_params(raw, path)

    def describe(self) -> list[dict[str, str | None]]:
        """Every record's name, kind, summary and paper."""
        return [record.describe() for record in self._records.values()]
