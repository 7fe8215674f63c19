"""Unlearning methods: one module each, with its typed params and its loss written out.

``METHODS`` maps a registered name to ``(entry function, params model)``. Every entry
function has the signature ``fn(model, data, params=None, on_step=None) -> UnlearnLog``
and changes ``model`` in place. Modules import torch only inside their functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unlearn_schema import MethodParams

from unlearn_llm.methods._common import (
    GradientMethodParams,
    ProjectionParams,
    UnlearnData,
    UnlearnLog,
    make_unlearn_data,
)
from unlearn_llm.methods.gradient_ascent import GradientAscentParams, gradient_ascent
from unlearn_llm.methods.gradient_difference import (
    GradientDifferenceParams,
    gradient_difference,
)
from unlearn_llm.methods.idk_dpo import IdkPOParams, idk_po
from unlearn_llm.methods.npo import NPOParams, npo
from unlearn_llm.methods.rmu import RMUParams, rmu
from unlearn_llm.methods.sani import SANIParams, sani
from unlearn_llm.methods.simnpo import SimNPOParams, simnpo
from unlearn_llm.methods.task_vector import TaskVectorParams, task_vector

METHODS: dict[str, tuple[Callable[..., UnlearnLog], type[MethodParams]]] = {
    "gradient-ascent": (gradient_ascent, GradientAscentParams),
    "gradient-difference": (gradient_difference, GradientDifferenceParams),
    "npo": (npo, NPOParams),
    "simnpo": (simnpo, SimNPOParams),
    "idk-po": (idk_po, IdkPOParams),
    "rmu": (rmu, RMUParams),
    "task-vector": (task_vector, TaskVectorParams),
    "sani": (sani, SANIParams),
}


def method_params(name: str, params: dict[str, Any]) -> MethodParams:
    """Validate ``params`` for method ``name``; errors name the method and the field."""
    from unlearn_llm._validation import validate_params

    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; accepted: {', '.join(METHODS)}")
    return validate_params(METHODS[name][1], params, f"methods[{name}].params")


__all__ = [
    "METHODS",
    "GradientAscentParams",
    "GradientDifferenceParams",
    "GradientMethodParams",
    "IdkPOParams",
    "NPOParams",
    "ProjectionParams",
    "RMUParams",
    "SANIParams",
    "SimNPOParams",
    "TaskVectorParams",
    "UnlearnData",
    "UnlearnLog",
    "gradient_ascent",
    "gradient_difference",
    "idk_po",
    "make_unlearn_data",
    "method_params",
    "npo",
    "rmu",
    "sani",
    "simnpo",
    "task_vector",
]
