"""Atomic periodic persistence of a training state: every file checksummed, never torn.

Layout under ``directory``::

    step-00000120/state.safetensors   tensors (model, optimizer, RNG states as uint8)
    step-00000120/meta.json           {"crc32":"<8 hex>","meta":{step, loader position,
                                      optimizer groups, the shard's nbytes and crc}}
    LATEST                            "step-00000120 <8 hex>\\n": the newest snapshot

Every file is verified before use. ``meta.json`` carries the CRC-32 of the exact bytes
of its ``meta`` body and the body carries the shard's size and CRC-32; ``LATEST``
carries the CRC-32 of the name it points to. A CRC-32 detects every single-bit error
and every burst of up to 32 bits, and the framing around each checksum must match
byte for byte, so a bit flip anywhere in a snapshot's files is an error naming the file
(`TruncatedSnapshotError`), never a changed value, a bare ``JSONDecodeError`` or an
older step loaded in silence.

Writing step $n$ (each arrow is a point where a SIGKILL may land):

1. the files go into ``.tmp-step-n-PID``, each flushed and ``fsync``-ed, then the folder;
2. a ``step-n`` that exists already (the same step written again) is renamed aside to
   ``.old-step-n-PID`` and the parent ``fsync``-ed: it is never deleted first;
3. the temp folder is renamed to ``step-n`` and the parent ``fsync``-ed;
4. ``LATEST`` is written to ``.LATEST.tmp-PID``, ``fsync``-ed, renamed, the parent
   ``fsync``-ed;
5. the aside copy goes; so do the steps beyond the ``keep`` newest and any step newer
   than $n$ (an abandoned timeline after a restore of an older step), each renamed to
   ``.del-…-PID`` before it is removed, so no half-deleted step ever looks intact.

`sweep_stale` mends what a killed writer left (its pid is dead): temp folders and
pointer files are removed, an aside copy whose replacement never arrived is renamed
back, an aside copy that was replaced is removed. `persist` and `load_persisted` call
it first, so a restart never sees the leftovers; a live writer's files are left alone.

`load_persisted` reads the step ``LATEST`` names. When ``LATEST`` or that step is
missing or damaged, it restores the newest intact step and says so with a
`SnapshotFallbackWarning` naming what it skipped and why (``fallback=False`` raises
instead and names the step it would have restored). Snapshots that exist with none
intact raise `UnrecoverableSnapshotError`; only a folder without any snapshot raises
`FileNotFoundError`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from train_infra.snapshot.errors import (
    IncompatibleSnapshotError,
    SnapshotError,
    SnapshotFallbackWarning,
    TruncatedSnapshotError,
    UnrecoverableSnapshotError,
)
from train_infra.snapshot.state import FORMAT_VERSION, TrainingState

LATEST = "LATEST"
META = "meta.json"
SHARD = "state.safetensors"
STAGES = ("written", "aside", "published", "pointed")

_STEP = re.compile(r"step-(\d{8})")
_HIDDEN = re.compile(r"\.(tmp|old|del)-(step-\d{8})-(\d+)")
_POINTER_TEMP = re.compile(r"\.LATEST\.tmp-(\d+)")
_LATEST_TEXT = re.compile(rb"(step-\d{8}) ([0-9a-f]{8})\n")
_META_TEXT = re.compile(rb'\{"crc32":"([0-9a-f]{8})","meta":(.*)\}', re.DOTALL)
# One writer or sweeper per process at a time: a leftover with this process's pid is
# then from an earlier, interrupted call, never from one in flight.
_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


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


def step_name(step: int) -> str:
    """The folder name of ``step``: ``step-00000120``."""
    return f"step-{step:08d}"


def latest_text(name: str) -> bytes:
    """The bytes of a ``LATEST`` file pointing at the step folder ``name``."""
    return f"{name} {_crc(name.encode()):08x}\n".encode()


def meta_text(meta: dict[str, Any]) -> bytes:
    """The bytes of a ``meta.json``: the body and the CRC-32 of its exact bytes."""
    body = json.dumps(meta).encode()
    return b'{"crc32":"%08x","meta":%s}' % (_crc(body), body)


def _owner_alive(pid: int) -> bool:
    # The same probe as unlearn_bench.runner._alive (the app and this package share no
    # module), plus: this process's own leftovers are stale under _LOCK.
    if pid == os.getpid():
        return False  # under _LOCK: an interrupted call of this process left it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sweep(root: Path) -> list[str]:
    mended = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        hidden = _HIDDEN.fullmatch(path.name)
        pointer = _POINTER_TEMP.fullmatch(path.name)
        pid = int(hidden.group(3)) if hidden else int(pointer.group(1)) if pointer else None
        if pid is None or _owner_alive(pid):
            continue
        if hidden and hidden.group(1) == "old" and not (root / hidden.group(2)).exists():
            # The new copy never arrived: the aside copy is the durable one, put it back.
            os.replace(path, root / hidden.group(2))
            _fsync_dir(root)
            mended.append(f"{path.name} renamed back to {hidden.group(2)}")
        else:
            _remove(path)
            mended.append(f"{path.name} removed")
    return mended


def sweep_stale(directory: str | Path) -> list[str]:
    """Mend what killed writers left under ``directory``; return what was done.

    Only leftovers whose owning pid is dead are touched (module docstring).
    """
    with _LOCK:
        return _sweep(Path(directory))


def persist(
    state: TrainingState,
    directory: str | Path,
    keep: int = 2,
    stage_hook: Callable[[str], None] | None = None,
) -> Path:
    """Write ``state`` atomically under ``directory``; return the snapshot folder.

    ``stage_hook(stage)`` runs after each step of the write (`STAGES`: ``written``,
    ``aside``, ``published``, ``pointed``), a hook for fault-injection tests.
    """
    from safetensors.torch import save

    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    hook = stage_hook or (lambda _stage: None)
    name = step_name(state.step)
    pid = os.getpid()
    with _LOCK:
        for line in _sweep(root):
            _log.info("%s: %s (left by a killed writer)", root, line)
        temp = root / f".tmp-{name}-{pid}"
        temp.mkdir()
        tensors = {key: value.contiguous() for key, value in state.tensors.items()}
        payload = save(tensors)
        _write_durable(temp / SHARD, payload)
        meta = {**state.meta, "crc": _crc(payload), "nbytes": len(payload)}
        _write_durable(temp / META, meta_text(meta))
        _fsync_dir(temp)
        hook("written")
        final = root / name
        aside = root / f".old-{name}-{pid}"
        if final.exists():
            os.replace(final, aside)
            _fsync_dir(root)
            hook("aside")
        os.replace(temp, final)
        _fsync_dir(root)
        hook("published")
        pointer = root / f".{LATEST}.tmp-{pid}"
        _write_durable(pointer, latest_text(name))
        os.replace(pointer, root / LATEST)
        _fsync_dir(root)
        hook("pointed")
        _remove(aside)
        steps = sorted(int(m.group(1)) for p in root.iterdir() if (m := _STEP.fullmatch(p.name)))
        older = [s for s in steps if s < state.step]
        doomed = [s for s in steps if s > state.step] + older[: max(len(older) - keep + 1, 0)]
        for old in doomed:
            trash = root / f".del-{step_name(old)}-{pid}"
            os.replace(root / step_name(old), trash)
            _remove(trash)
    return final


def _fail(path: Path, why: str) -> TruncatedSnapshotError:
    return TruncatedSnapshotError(f"{path}: {why}")


def read_latest(directory: str | Path) -> str:
    """The step folder ``LATEST`` names, verified; `FileNotFoundError` when absent."""
    path = Path(directory) / LATEST
    data = path.read_bytes()
    match = _LATEST_TEXT.fullmatch(data)
    if match is None:
        raise _fail(path, f"is not 'step-NNNNNNNN <crc32>' plus a newline: {data[:40]!r}")
    name, crc = match.group(1), int(match.group(2), 16)
    if _crc(name) != crc:
        raise _fail(path, f"names {name.decode()} but fails its CRC-32 (damaged)")
    return name.decode()


def read_step(folder: str | Path) -> TrainingState:
    """The snapshot in one step folder, every file verified (names the damaged file)."""
    from safetensors.torch import load

    folder = Path(folder)
    meta_path, shard_path = folder / META, folder / SHARD
    if not meta_path.is_file():
        raise FileNotFoundError(f"no snapshot at {folder} (no {META})")
    data = meta_path.read_bytes()
    match = _META_TEXT.fullmatch(data)
    if match is None:
        raise _fail(meta_path, 'is not {"crc32":"<8 hex>","meta":{...}} (damaged or older)')
    body = match.group(2)
    if _crc(body) != int(match.group(1), 16):
        raise _fail(meta_path, "fails its CRC-32 checksum (damaged)")
    meta = json.loads(body)
    fields = ("step", "nbytes", "crc")
    if not isinstance(meta, dict) or any(not isinstance(meta.get(f), int) for f in fields):
        raise _fail(meta_path, f"passes its checksum but lacks integer fields {fields}")
    if meta.get("format") != FORMAT_VERSION:
        raise IncompatibleSnapshotError(
            f"{meta_path} has format {meta.get('format')!r}; this version reads {FORMAT_VERSION}"
        )
    named = _STEP.fullmatch(folder.name)
    if named is not None and int(named.group(1)) != meta["step"]:
        raise _fail(meta_path, f"holds step {meta['step']}, but its folder is {folder.name}")
    if not shard_path.is_file():
        raise _fail(shard_path, "is missing")
    payload = shard_path.read_bytes()
    if len(payload) != meta["nbytes"]:
        raise _fail(shard_path, f"holds {len(payload)} bytes, expected {meta['nbytes']}")
    if _crc(payload) != meta["crc"]:
        raise _fail(shard_path, "fails its CRC-32 checksum (damaged)")
    tensors: dict[str, torch.Tensor] = load(payload)
    return TrainingState(tensors=tensors, meta=meta)


def _step_folders(root: Path) -> list[Path]:
    """Step folders, newest first."""
    found = [p for p in root.iterdir() if _STEP.fullmatch(p.name)] if root.is_dir() else []
    return sorted(found, key=lambda p: p.name, reverse=True)


def persisted_steps(directory: str | Path) -> tuple[list[int], dict[int, str]]:
    """``(intact steps, {damaged step: why})`` under ``directory``, each step verified."""
    intact, damaged = [], {}
    for folder in _step_folders(Path(directory)):
        step = int(folder.name[5:])
        try:
            read_step(folder)
            intact.append(step)
        except (SnapshotError, OSError, ValueError) as error:
            damaged[step] = str(error)
    return sorted(intact), damaged


def load_persisted(
    directory: str | Path, step: int | None = None, fallback: bool = True
) -> TrainingState:
    """The snapshot ``LATEST`` names under ``directory`` (or the one at ``step``).

    A damaged or missing newest snapshot falls back to the newest intact step with a
    `SnapshotFallbackWarning`, or raises with ``fallback=False`` (module docstring).
    Raises `UnrecoverableSnapshotError` when snapshots exist but none is intact and
    `FileNotFoundError` only when there is none.
    """
    root = Path(directory)
    if root.is_dir():
        try:
            sweep_stale(root)
        except OSError as error:  # a read-only folder: read what is there
            _log.warning("%s: could not sweep stale files: %s", root, error)
    if step is not None:
        folder = root / step_name(step)
        if not folder.is_dir():
            steps = [p.name for p in _step_folders(root)]
            raise FileNotFoundError(f"no snapshot of step {step} under {root} (there: {steps})")
        return read_step(folder)
    problems: dict[str, str] = {}
    wanted: str | None = None
    try:
        wanted = read_latest(root)
    except FileNotFoundError:
        problems[LATEST] = f"{root / LATEST} is missing"
    except SnapshotError as error:
        problems[LATEST] = str(error)
    if wanted is not None:
        try:
            return read_step(root / wanted)
        except (SnapshotError, OSError, ValueError) as error:
            problems[wanted] = str(error)
    for folder in _step_folders(root):
        if folder.name == wanted:
            continue
        try:
            state = read_step(folder)
        except (SnapshotError, OSError, ValueError) as error:
            problems[folder.name] = str(error)
            continue
        skipped = "; ".join(f"{name}: {why}" for name, why in problems.items())
        if not fallback:
            raise TruncatedSnapshotError(
                f"{root}: the newest snapshot is damaged or missing ({skipped}); "
                f"{folder.name} is intact: pass fallback=True or step={state.step}"
            )
        message = f"{root}: restoring {folder.name}, the newest intact snapshot ({skipped})"
        _log.info(message)
        warnings.warn(message, SnapshotFallbackWarning, stacklevel=2)
        return state
    if wanted is None and set(problems) <= {LATEST} and not (root / LATEST).exists():
        raise FileNotFoundError(f"no snapshot under {root}")
    raise UnrecoverableSnapshotError(
        f"{root}: snapshots exist but none is intact: "
        + "; ".join(f"{name}: {why}" for name, why in problems.items()),
        problems,
    )
