"""Unlearning methods: one module each, with its typed params and its loss written out.

``METHODS`` is the registry (``unlearn-bench list`` prints it): one ``MethodSpec`` per
name, holding ``"module:attribute"`` references to its params class and its entry
function. Every entry function has the shape

    fn(model, data, params=None, *, on_step=None) -> UnlearnLog

``model`` is changed in place, ``data`` is an ``UnlearnData`` (``make_unlearn_data``),
``params`` the method's typed params (``None``: the defaults; a dict from a spec is
parsed once with ``METHODS.validate_params(name, raw)``), ``on_step(step, model)`` is
called every ``eval_every`` steps.

Where params live: a method's params class sits in the method's own module, next to
its loss. Method modules import torch only inside their functions and define no
``nn.Module`` classes, so they stay torch-free at import and validating a spec imports
no torch. (A method that needs module-level ``nn.Module`` classes would put its params
in a sibling ``<method>_params.py``.)

The geometric-disentanglement projection (GU, arXiv:2511.17100) is not a method: it is
an attachment of the gradient methods, given as their ``projection`` params
(``ProjectionParams`` in ``methods/_common.py``; the projection itself in
``methods/projection.py``). A benchmark shows it as the ``+gu`` suffix (``npo+gu``).

The names re-exported below come from those torch-free modules (pydantic and the
schema only), for ``from unlearn_llm.methods import npo, make_unlearn_data``.
"""

from __future__ import annotations

from unlearn_schema import MethodSpec, Registry

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
from unlearn_llm.methods.kif import KIFParams, kif
from unlearn_llm.methods.kif_runtime import KIFRuntimeParams, kif_runtime
from unlearn_llm.methods.neds import NEDSParams, neds
from unlearn_llm.methods.npo import NPOParams, npo
from unlearn_llm.methods.rmu import RMUParams, rmu
from unlearn_llm.methods.sani import SANIParams, sani
from unlearn_llm.methods.simnpo import SimNPOParams, simnpo
from unlearn_llm.methods.task_vector import TaskVectorParams, task_vector
from unlearn_llm.methods.test_time_steering import TestTimeSteeringParams, test_time_steering

_M = "unlearn_llm.methods"

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="gradient-ascent",
            params=f"{_M}.gradient_ascent:GradientAscentParams",
            entry=f"{_M}.gradient_ascent:gradient_ascent",
            summary="Gradient ascent on the forget-set NLL (the TOFU baseline).",
            paper="arXiv:2210.01504",
        ),
        MethodSpec(
            name="gradient-difference",
            params=f"{_M}.gradient_difference:GradientDifferenceParams",
            entry=f"{_M}.gradient_difference:gradient_difference",
            summary="Ascend on the forget set, descend on retain (NLL or KL to the original).",
            paper="arXiv:2203.12817",
        ),
        MethodSpec(
            name="npo",
            params=f"{_M}.npo:NPOParams",
            entry=f"{_M}.npo:npo",
            summary="Negative preference optimisation on the forget set, plus retain NLL.",
            paper="arXiv:2404.05868",
        ),
        MethodSpec(
            name="simnpo",
            params=f"{_M}.simnpo:SimNPOParams",
            entry=f"{_M}.simnpo:simnpo",
            summary="Reference-free, length-normalised NPO with a margin, plus retain NLL.",
            paper="arXiv:2410.07163",
        ),
        MethodSpec(
            name="idk-po",
            params=f"{_M}.idk_dpo:IdkPOParams",
            entry=f"{_M}.idk_dpo:idk_po",
            summary="DPO preferring an 'I don't know' refusal over the answer, plus retain term.",
            paper="arXiv:2410.08109",
        ),
        MethodSpec(
            name="rmu",
            params=f"{_M}.rmu:RMUParams",
            entry=f"{_M}.rmu:rmu",
            summary="Steer forget activations at one layer to a random vector (WMDP's RMU).",
            paper="arXiv:2403.03218",
        ),
        MethodSpec(
            name="task-vector",
            params=f"{_M}.task_vector:TaskVectorParams",
            entry=f"{_M}.task_vector:task_vector",
            summary="Fine-tune a copy on the forget set and subtract that task vector.",
            paper="arXiv:2212.04089",
        ),
        MethodSpec(
            name="sani",
            params=f"{_M}.sani:SANIParams",
            entry=f"{_M}.sani:sani",
            summary="Reset the MLP neurons that carry the forget set, then repair on retain.",
            paper="arXiv:2510.21322",
        ),
        MethodSpec(
            name="test-time-steering",
            params=f"{_M}.test_time_steering:TestTimeSteeringParams",
            entry=f"{_M}.test_time_steering:test_time_steering",
            summary="Hooks (no weight change) add a refusal direction to gated forget inputs.",
            paper="arXiv:2510.04217",
        ),
        MethodSpec(
            name="kif",
            params=f"{_M}.kif:KIFParams",
            entry=f"{_M}.kif:kif",
            summary="Suppress forget subjects' activation signatures; distil that into LoRA.",
            paper="arXiv:2601.10566",
        ),
        MethodSpec(
            name="kif-runtime",
            params=f"{_M}.kif_runtime:KIFRuntimeParams",
            entry=f"{_M}.kif_runtime:kif_runtime",
            summary="KIF's gated signature suppression as inference hooks (no weight change).",
            paper="arXiv:2601.10566",
        ),
        MethodSpec(
            name="neds",
            params=f"{_M}.neds:NEDSParams",
            entry=f"{_M}.neds:neds",
            summary="Forget answers pushed to uniform, KL to the original on graph neighbours.",
            paper="arXiv:2603.12275",
        ),
        MethodSpec(
            name="fit",
            params=f"{_M}.fit:FITParams",
            entry=f"{_M}.fit:fit",
            summary="Continual: filter repeats, pick NPO+KL/NPO/random labels, train top layers.",
            paper="arXiv:2601.21682",
        ),
    ],
)

__all__ = [
    "METHODS",
    "GradientAscentParams",
    "GradientDifferenceParams",
    "GradientMethodParams",
    "IdkPOParams",
    "KIFParams",
    "KIFRuntimeParams",
    "NEDSParams",
    "NPOParams",
    "ProjectionParams",
    "RMUParams",
    "SANIParams",
    "SimNPOParams",
    "TaskVectorParams",
    "TestTimeSteeringParams",
    "UnlearnData",
    "UnlearnLog",
    "gradient_ascent",
    "gradient_difference",
    "idk_po",
    "kif",
    "kif_runtime",
    "make_unlearn_data",
    "neds",
    "npo",
    "rmu",
    "sani",
    "simnpo",
    "task_vector",
    "test_time_steering",
]
