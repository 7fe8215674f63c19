"""Capture and restore of a training state as named tensors plus JSON metadata.

A training state is everything a loop needs to continue exactly as if it had never
stopped: model and optimizer state dicts, the RNG states of python, numpy and torch,
the data-loader position and the step. `capture_state` flattens it into named
tensors (RNG states become uint8 tensors) and JSON metadata; `pack_into` lays the
tensors out in one flat uint8 buffer (64-byte aligned) described by a manifest, so a
snapshot is one contiguous copy and restore is a view plus a clone.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import torch

from train_infra.snapshot.errors import IncompatibleSnapshotError, TruncatedSnapshotError
from train_infra.snapshot.rng import decode_rng_states, encode_rng_states, set_rng_states

ALIGN = 64
FORMAT_VERSION = 1


@dataclass
class TrainingState:
    """Named tensors plus JSON-serialisable metadata (step, loader position, groups)."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    @property
    def loader_position(self) -> Any:
        return self.meta.get("loader_position")


def capture_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    loader_position: Any = None,
    clone: bool = False,
) -> TrainingState:
    """The training state at this instant.

    Without ``clone`` the model and optimizer tensors are references (the caller must
    copy them before the next ``optimizer.step()``); buffers such as batch-norm running
    statistics change during the forward pass, so they are always cloned. RNG states
    and metadata are always taken now.
    """
    tensors: dict[str, torch.Tensor] = {}
    buffer_names = {name for name, _ in model.named_buffers()}
    for name, value in model.state_dict().items():
        value = value.detach()
        tensors[f"model/{name}"] = value.clone() if clone or name in buffer_names else value
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "step": int(step),
        "loader_position": loader_position,
        "optimizer": None,
    }
    if optimizer is not None:
        opt_state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entries in opt_state["state"].items():
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    value = value.detach()
                    tensors[f"optim/{index}/{key}"] = value.clone() if clone else value
                else:
                    scalars.setdefault(str(index), {})[key] = value
        meta["optimizer"] = {
            "class": type(optimizer).__name__,
            "param_groups": opt_state["param_groups"],
            "scalars": scalars,
            "param_shapes": param_shapes(optimizer),
        }
    tensors.update(encode_rng_states())
    tensors["rng/torch"] = torch.get_rng_state().clone()
    return TrainingState(tensors=tensors, meta=meta)


def param_shapes(optimizer: torch.optim.Optimizer) -> list[list[int]]:
    """The shape of every parameter the optimizer updates, in state-dict order."""
    return [list(p.shape) for group in optimizer.param_groups for p in group["params"]]


def _check_optimizer(
    state: TrainingState, optimizer: torch.optim.Optimizer
) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """The optimizer's state dict from ``state``, checked against ``optimizer``."""
    opt_meta = state.meta.get("optimizer")
    if opt_meta is None:
        raise IncompatibleSnapshotError("snapshot holds no optimizer state")
    if opt_meta["class"] != type(optimizer).__name__:
        raise IncompatibleSnapshotError(
            f"snapshot optimizer is {opt_meta['class']}, restoring into {type(optimizer).__name__}"
        )
    groups = opt_meta["param_groups"]
    sizes = [len(g["params"]) for g in groups]
    here = [len(g["params"]) for g in optimizer.param_groups]
    if sizes != here:
        raise IncompatibleSnapshotError(
            f"optimizer parameter groups of sizes {here}, the snapshot's are {sizes}"
        )
    shapes = param_shapes(optimizer)
    recorded = opt_meta.get("param_shapes")
    if recorded is not None and recorded != shapes:
        first = next(i for i, (a, b) in enumerate(zip(recorded, shapes, strict=False)) if a != b)
        raise IncompatibleSnapshotError(
            f"optimizer parameter {first}: the snapshot's has shape {tuple(recorded[first])}, "
            f"this optimizer's {tuple(shapes[first])}"
        )
    ids = {int(i) for g in groups for i in g["params"]}
    per_param: dict[int, dict[str, Any]] = {}
    for name, value in state.tensors.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/", 2)
            per_param.setdefault(int(index), {})[key] = value
    for index, scalars in opt_meta["scalars"].items():
        per_param.setdefault(int(index), {}).update(scalars)
    unknown = sorted(set(per_param) - ids)
    if unknown:
        raise IncompatibleSnapshotError(
            f"optimizer state for parameters {unknown[:5]} that no group of the snapshot lists"
        )
    return per_param, groups


def _owned_by(
    optimizer: torch.optim.Optimizer, per_param: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The state to hand to ``load_state_dict``, holding no tensor of the snapshot.

    ``torch.optim.Optimizer.load_state_dict`` keeps the tensors it is given, and the
    snapshot's may be views of the manager's memory. A tensor of the same shape and
    dtype that the optimizer already holds is overwritten in place (a copy, no
    allocation, no page faults); any other is cloned.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    out: dict[int, dict[str, Any]] = {}
    for index, entries in per_param.items():
        live = optimizer.state.get(params[index], {}) if index < len(params) else {}
        out[index] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                mine = live.get(key)
                if (
                    isinstance(mine, torch.Tensor)
                    and mine.shape == value.shape
                    and mine.dtype == value.dtype
                    and mine.device == value.device
                ):
                    value = mine.copy_(value)
                else:
                    value = value.clone()
            out[index][key] = value
    return out


def restore_state(
    state: TrainingState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> TrainingState:
    """Load ``state`` into ``model``, ``optimizer`` and the global RNGs; return it.

    All or nothing: the model's tensors, the optimizer's class, groups and parameter
    shapes and the RNG states are all checked before any of them is touched, and
    `IncompatibleSnapshotError` names the first mismatch. The RNG states are numbers
    (`train_infra.snapshot.rng`), so restoring a snapshot never unpickles anything.
    """
    if state.meta.get("format") != FORMAT_VERSION:
        raise IncompatibleSnapshotError(
            f"snapshot format {state.meta.get('format')!r}; this version reads {FORMAT_VERSION}"
        )
    model_state = {k[6:]: v for k, v in state.tensors.items() if k.startswith("model/")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(model_state))
    extra = sorted(set(model_state) - set(expected))
    if missing or extra:
        raise IncompatibleSnapshotError(
            f"snapshot does not match the model: missing {missing[:5]}, unexpected {extra[:5]}"
        )
    for name, value in expected.items():
        got = model_state[name]
        if got.shape != value.shape or got.dtype != value.dtype:
            raise IncompatibleSnapshotError(
                f"tensor {name!r}: snapshot has {tuple(got.shape)} {got.dtype}, "
                f"model expects {tuple(value.shape)} {value.dtype}"
            )
    checked = _check_optimizer(state, optimizer) if optimizer is not None else None
    python_rng, numpy_rng = decode_rng_states(state.tensors)
    torch_rng = state.tensors.get("rng/torch")
    current_rng = torch.get_rng_state()
    if torch_rng is None or torch_rng.dtype != torch.uint8 or torch_rng.shape != current_rng.shape:
        raise IncompatibleSnapshotError(
            f"snapshot holds no uint8 'rng/torch' state of shape {tuple(current_rng.shape)}"
        )
    # Everything checked: now change the optimizer (the one whose loading may still
    # refuse), the model and the RNGs.
    if optimizer is not None and checked is not None:
        per_param, groups = checked
        if not getattr(optimizer, "copies_on_load", False):
            per_param = _owned_by(optimizer, per_param)
        optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    model.load_state_dict(model_state)
    set_rng_states(python_rng, numpy_rng)
    torch.set_rng_state(torch_rng.clone())
    return state


# ---------------------------------------------------------------------------------------
# Flat layout: one uint8 buffer plus a manifest.


def layout(tensors: dict[str, torch.Tensor]) -> tuple[list[dict[str, Any]], int]:
    """Manifest entries (name, dtype, shape, offset, nbytes) and the total size."""
    entries: list[dict[str, Any]] = []
    offset = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        entries.append(
            {
                "name": name,
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "shape": list(tensor.shape),
                "offset": offset,
                "nbytes": nbytes,
            }
        )
        offset += -(-nbytes // ALIGN) * ALIGN
    return entries, offset


def pack_into(
    buffer: torch.Tensor, tensors: dict[str, torch.Tensor], manifest: list[dict[str, Any]]
) -> None:
    """Copy every tensor into its slot of the flat uint8 ``buffer``."""
    for entry in manifest:
        tensor = tensors[entry["name"]]
        if entry["nbytes"] == 0:
            continue
        target = buffer[entry["offset"] : entry["offset"] + entry["nbytes"]]
        target.view(tensor.dtype).copy_(tensor.reshape(-1))


def unpack(
    buffer: torch.Tensor, manifest: list[dict[str, Any]], copy: bool = True
) -> dict[str, torch.Tensor]:
    """Named tensors from a flat buffer (cloned unless ``copy`` is False)."""
    size = buffer.numel()
    tensors: dict[str, torch.Tensor] = {}
    for entry in manifest:
        end = entry["offset"] + entry["nbytes"]
        if end > size:
            raise TruncatedSnapshotError(
                f"tensor {entry['name']!r} ends at byte {end} but the snapshot holds {size}"
            )
        dtype = getattr(torch, entry["dtype"])
        view = buffer[entry["offset"] : end].view(dtype).reshape(entry["shape"])
        tensors[entry["name"]] = view.clone() if copy else view
    return tensors


def checksum(buffer: torch.Tensor | bytes | memoryview) -> int:
    """CRC-32 of a uint8 buffer (zlib releases the GIL on large inputs)."""
    if isinstance(buffer, torch.Tensor):
        data: Any = buffer.numpy()
    else:
        data = buffer
    return zlib.crc32(data) & 0xFFFFFFFF


def pack(state: TrainingState) -> tuple[torch.Tensor, dict[str, Any]]:
    """The state as one flat uint8 tensor and a header (manifest, meta, size, crc)."""
    manifest, size = layout(state.tensors)
    buffer = torch.zeros(size, dtype=torch.uint8)
    pack_into(buffer, state.tensors, manifest)
    header = {"manifest": manifest, "meta": state.meta, "size": size, "crc": checksum(buffer)}
    return buffer, header


def encode_inline(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    """Small tensors (RNG states, buffers, step counters) as bytes for a header."""
    return {
        name: {
            "dtype": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape),
            "data": t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes(),
        }
        for name, t in tensors.items()
    }


def decode_inline(entries: dict[str, dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Inverse of `encode_inline` (fresh tensors, owned by the caller)."""
    out = {}
    for name, entry in entries.items():
        raw = torch.frombuffer(bytearray(entry["data"]), dtype=torch.uint8)
        out[name] = raw.view(getattr(torch, entry["dtype"])).reshape(entry["shape"])
    return out


def unpack_state(buffer: torch.Tensor, header: dict[str, Any], copy: bool = True) -> TrainingState:
    """Inverse of `pack`, verifying size and checksum first.

    With ``copy=False`` every tensor is a view of ``buffer``, valid while it is:
    `restore_state` copies them into the model and the optimizer (it never lets an
    optimizer keep one). A header may carry small tensors inline
    (``header["inline"]``, from a ping-pong snapshot) and ``crc`` None when its bytes
    were not checksummed (a ping-pong slot; its fragments always are).
    """
    if buffer.numel() < header["size"]:
        raise TruncatedSnapshotError(
            f"snapshot holds {buffer.numel()} bytes, its manifest needs {header['size']}"
        )
    buffer = buffer[: header["size"]]
    if header.get("crc") is not None and checksum(buffer) != header["crc"]:
        raise TruncatedSnapshotError("snapshot bytes fail their CRC-32 checksum")
    tensors = unpack(buffer, header["manifest"], copy=copy)
    tensors.update(decode_inline(header.get("inline", {})))
    return TrainingState(tensors=tensors, meta=header["meta"])


def header_json(header: dict[str, Any]) -> str:
    """The header as JSON (meta must be JSON-serialisable: loader positions included)."""
    return json.dumps(header)
