"""Typed schema shared by every package of the unlearning toolkit.

Pure data: pydantic v2 models for what to forget, method and benchmark configs,
metric values and run reports. Importing it never imports torch.
"""

from unlearn_schema.base import StrictModel
from unlearn_schema.configs import (
    SIZES,
    BenchmarkSpec,
    MethodConfig,
    MethodParams,
    ModelSpec,
    Size,
    WorldSpec,
)
from unlearn_schema.errors import SpecError, describe_validation_error, validate_or_raise
from unlearn_schema.jsonschema import atomic_write_text, json_schemas, write_json_schemas
from unlearn_schema.plugins import (
    BENCHMARKS_GROUP,
    ENTRY_POINT_GROUPS,
    METHODS_GROUP,
    METRICS_GROUP,
    Benchmark,
    NullProgress,
    Progress,
)
from unlearn_schema.requests import (
    Concept,
    ConceptEraseRequest,
    DataSliceRequest,
    EdgeDeletionRequest,
    Fact,
    FactForgetRequest,
    ForgetRequest,
    NodeDeletionRequest,
    NodeFeatureDeletionRequest,
    TextForgetRequest,
    TextSample,
)
from unlearn_schema.results import (
    BenchmarkResult,
    Curve,
    Direction,
    Hardware,
    Heatmap,
    MetricValue,
    RunReport,
    Series,
)

__version__ = "0.1.0"

__all__ = [
    "BENCHMARKS_GROUP",
    "ENTRY_POINT_GROUPS",
    "METHODS_GROUP",
    "METRICS_GROUP",
    "SIZES",
    "Benchmark",
    "BenchmarkResult",
    "BenchmarkSpec",
    "Concept",
    "ConceptEraseRequest",
    "Curve",
    "DataSliceRequest",
    "Direction",
    "EdgeDeletionRequest",
    "Fact",
    "FactForgetRequest",
    "ForgetRequest",
    "Hardware",
    "Heatmap",
    "MethodConfig",
    "MethodParams",
    "MetricValue",
    "ModelSpec",
    "NodeDeletionRequest",
    "NodeFeatureDeletionRequest",
    "NullProgress",
    "Progress",
    "RunReport",
    "Series",
    "Size",
    "SpecError",
    "StrictModel",
    "TextForgetRequest",
    "TextSample",
    "WorldSpec",
    "atomic_write_text",
    "describe_validation_error",
    "json_schemas",
    "validate_or_raise",
    "write_json_schemas",
]
