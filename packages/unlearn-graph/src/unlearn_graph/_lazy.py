"""Lazy re-exports: a package's ``__getattr__`` that imports a submodule on first use.

The registry packages (`unlearn_graph.metrics`, `unlearn_graph.attacks`) re-export their
functions this way, so reading a registry imports only the schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` serving ``name`` from ``package.homes[name]``."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
