"""Atomic periodic persistence of a training state: safetensors plus JSON, never torn.

Layout under ``directory``::

    step-00000120/state.safetensors   tensors (model, optimizer, RNG states as uint8)
    step-00000120/meta.json           step, loader position, optimizer groups, CRC-32
    LATEST                            the name of the newest complete snapshot

A snapshot is written into ``.tmp-step-…``, each file flushed and ``fsync``-ed, the
folder renamed into place and the parent folder ``fsync``-ed; only then does
``LATEST`` move (itself written to a temp file, fsync-ed and renamed). A crash at any
point leaves the previous complete snapshot readable, and it is deleted only after the
new one is complete (``keep`` newest are retained).
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from train_infra.snapshot.errors import IncompatibleSnapshotError, TruncatedSnapshotError
from train_infra.snapshot.state import FORMAT_VERSION, TrainingState

LATEST = "LATEST"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def persist(
    state: TrainingState,
    directory: str | Path,
    keep: int = 2,
    before_publish: Callable[[], None] | None = None,
) -> Path:
    """Write ``state`` atomically under ``directory``; return the snapshot folder.

    ``before_publish`` runs after the files are durable and before the rename (a hook
    for fault-injection tests).
    """
    from safetensors.torch import save

    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state.step:08d}"
    temp = root / f".tmp-{name}-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    tensors = {key: value.contiguous() for key, value in state.tensors.items()}
    payload = save(tensors)
    _write_durable(temp / "state.safetensors", payload)
    meta = {**state.meta, "crc": zlib.crc32(payload) & 0xFFFFFFFF, "nbytes": len(payload)}
    _write_durable(temp / "meta.json", json.dumps(meta).encode())
    _fsync_dir(temp)
    if before_publish is not None:
        before_publish()
    final = root / name
    if final.exists():
        # Same step written again: move the old one aside only once the new is durable.
        shutil.rmtree(final)
    os.replace(temp, final)
    _fsync_dir(root)
    pointer = root / f".{LATEST}.tmp-{os.getpid()}"
    _write_durable(pointer, name.encode())
    os.replace(pointer, root / LATEST)
    _fsync_dir(root)
    complete = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in complete[:-keep]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_persisted(directory: str | Path, step: int | None = None) -> TrainingState:
    """The newest complete snapshot under ``directory`` (or the one at ``step``).

    Raises `FileNotFoundError` when there is none and
    `TruncatedSnapshotError` when the files are shorter than recorded or fail
    their checksum.
    """
    from safetensors.torch import load

    root = Path(directory)
    if step is not None:
        folder = root / f"step-{step:08d}"
    else:
        pointer = root / LATEST
        if not pointer.exists():
            raise FileNotFoundError(f"no complete snapshot under {root} (no {LATEST} file)")
        folder = root / pointer.read_text().strip()
    if not (folder / "meta.json").exists():
        raise FileNotFoundError(f"no snapshot at {folder}")
    meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise IncompatibleSnapshotError(
            f"{folder} has format {meta.get('format')!r}; this version reads {FORMAT_VERSION}"
        )
    payload = (folder / "state.safetensors").read_bytes()
    if len(payload) != meta["nbytes"]:
        raise TruncatedSnapshotError(
            f"{folder}/state.safetensors holds {len(payload)} bytes, expected {meta['nbytes']}"
        )
    if zlib.crc32(payload) & 0xFFFFFFFF != meta["crc"]:
        raise TruncatedSnapshotError(f"{folder}/state.safetensors fails its CRC-32 checksum")
    tensors: dict[str, torch.Tensor] = load(payload)
    return TrainingState(tensors=tensors, meta=meta)
