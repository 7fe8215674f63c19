"""Unlearning and editing methods, one module each, registered by name.

Every deletion method has the signature ``method(original, problem, params, seed)`` and
returns a model that scores elements on the retained graph. Modules are imported only
when a method is looked up, so this registry costs nothing to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from unlearn_schema import MethodParams

# name -> (module, entry function, params class)
METHODS: dict[str, tuple[str, str, str]] = {
    "retrain": ("retrain", "retrain", "RetrainParams"),
    "gradient-ascent": ("gradient_ascent", "gradient_ascent", "GradientAscentParams"),
    "gnndelete": ("gnndelete", "gnndelete", "GNNDeleteParams"),
    "d2dgn": ("d2dgn", "d2dgn", "D2DGNParams"),
    "grapheraser": ("grapheraser", "grapheraser", "GraphEraserParams"),
    "gif": ("gif", "gif", "GIFParams"),
    "egnn": ("egnn", "egnn_edit", "EGNNParams"),
}


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown method {name!r}; accepted: {', '.join(METHODS)}")


def params_class(name: str) -> type[MethodParams]:
    """The typed parameter model of method ``name`` (imports no torch)."""
    if name not in METHODS:
        raise _unknown(name)
    module, _, params = METHODS[name]
    cls: type[MethodParams] = getattr(importlib.import_module(f"{__name__}.{module}"), params)
    return cls


def get_method(name: str) -> Callable[..., Any]:
    """The entry function of method ``name``."""
    if name not in METHODS:
        raise _unknown(name)
    module, function, _ = METHODS[name]
    fn: Callable[..., Any] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return fn


__all__ = ["METHODS", "get_method", "params_class"]
