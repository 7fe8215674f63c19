"""JSON Schema export for every top-level model."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from unlearn_schema.configs import BenchmarkSpec, MethodConfig
from unlearn_schema.requests import ForgetRequest
from unlearn_schema.results import BenchmarkResult, MetricValue, RunReport
from unlearn_schema.sweeps import SweepSpec

TOP_LEVEL: dict[str, Any] = {
    "benchmark-spec": BenchmarkSpec,
    "forget-request": ForgetRequest,
    "method-config": MethodConfig,
    "metric-value": MetricValue,
    "benchmark-result": BenchmarkResult,
    "run-report": RunReport,
    "sweep-spec": SweepSpec,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of each top-level model, keyed by file stem."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model in TOP_LEVEL.items():
        if isinstance(model, type) and issubclass(model, BaseModel):
            schemas[name] = model.model_json_schema()
        else:
            schemas[name] = TypeAdapter(model).json_schema()
    return schemas


def write_json_schemas(directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``<name>.schema.json`` files into ``directory``, each atomically."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = target / f"{name}.schema.json"
        atomic_write_text(path, json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a part."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets a later run remove the file if this process is killed.
    prefix = f".{path.name}.pid{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
