"""Snapshots to and from ``torch.distributed.checkpoint`` (DCP) checkpoints.

A user who already loads DCP checkpoints keeps that code: `export_dcp` writes a snapshot
(from a `Snapshotter` or a `TrainingState`) as the checkpoint that plain DCP code
writes for a model and its optimizer,

    {"model": model_state_dict, "optimizer": optimizer_state_dict, "train_infra": {...}}

with the optimizer state keyed by parameter names, as
``torch.distributed.checkpoint.state_dict.get_state_dict(model, optimizer)`` gives it.
So the usual loading code reads it unchanged::

    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optimizer": optim_sd}
    dcp.load(state, checkpoint_id=path)
    set_state_dict(model, optimizer, model_state_dict=state["model"],
                   optim_state_dict=state["optimizer"])

The ``train_infra`` entry (ignored by such code) carries what a snapshot holds beyond
the two state dicts, as plain tensors: the step, the data-loader position and the
optimizer's class as one JSON byte tensor, and the RNG states of python, numpy and
torch (`train_infra.snapshot.rng`).

`load_dcp` reads the other way: any checkpoint with a model state dict under
``model_key`` and, optionally, an optimizer state dict under ``optimizer_key`` keyed by
parameter names (``get_state_dict``) or by indices (``optimizer.state_dict()``), as
plain ``dcp.save`` wrote it. Keys and shapes are checked against the checkpoint's
metadata before anything is loaded; the model tensors are loaded in place. `import_dcp`
then takes a snapshot of the loaded state, so in-memory snapshots start from it.

Single process: without a process group DCP saves and loads in one process (it warns
that it does; the warning is silenced here).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)

from train_infra.snapshot.errors import IncompatibleSnapshotError, SnapshotError
from train_infra.snapshot.rng import KEYS as RNG_KEYS
from train_infra.snapshot.rng import decode_rng_states, set_rng_states
from train_infra.snapshot.snapshotter import Snapshotter
from train_infra.snapshot.state import FORMAT_VERSION, TrainingState

EXTRA_KEY = "train_infra"
_ADAMW_DEFAULTS = {
    k: v for k, v in torch.optim.AdamW([torch.zeros(1)]).param_groups[0].items() if k != "params"
}
_RNG_NAMES = (*RNG_KEYS, "rng/torch")


@contextmanager
def _single_process() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def parameter_names(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The model's name of every parameter the optimizer updates, in state-dict order."""
    names = {id(p): name for name, p in model.named_parameters()}
    out = []
    for group in optimizer.param_groups:
        for param in group["params"]:
            if id(param) not in names:
                raise IncompatibleSnapshotError(
                    f"the optimizer updates a parameter of shape {tuple(param.shape)} that "
                    "is not a parameter of the model: pass the model it was built for"
                )
            out.append(names[id(param)])
    return out


def dcp_state_dict(
    state: TrainingState, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """The snapshot ``state`` as the nested dict `export_dcp` hands to ``dcp.save``.

    No tensor is copied: model and optimizer entries are the snapshot's own tensors.
    """
    model_sd = {k[6:]: v for k, v in state.tensors.items() if k.startswith("model/")}
    expected = set(model.state_dict())
    if set(model_sd) != expected:
        missing, unexpected = sorted(expected - set(model_sd)), sorted(set(model_sd) - expected)
        raise IncompatibleSnapshotError(
            f"snapshot does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    out: dict[str, Any] = {"model": model_sd}
    opt_meta = state.meta.get("optimizer")
    if opt_meta is not None:
        if optimizer is None:
            raise ValueError(
                "the snapshot holds optimizer state: pass the optimizer, whose parameters "
                "name the entries of the exported optimizer state dict"
            )
        names = parameter_names(model, optimizer)
        per_param: dict[str, dict[str, Any]] = {}
        for key, value in state.tensors.items():
            if key.startswith("optim/"):
                _, index, entry = key.split("/", 2)
                per_param.setdefault(names[int(index)], {})[entry] = value
        for index, scalars in opt_meta["scalars"].items():
            per_param.setdefault(names[int(index)], {}).update(scalars)
        # PingPongAdamW's arithmetic is AdamW's: export its groups with the entries of
        # AdamW's, so that plain DCP code loads them into a torch.optim.AdamW.
        defaults = _ADAMW_DEFAULTS if opt_meta["class"] == "PingPongAdamW" else {}
        groups = [
            {**defaults, **group, "params": [names[int(i)] for i in group["params"]]}
            for group in opt_meta["param_groups"]
        ]
        out["optimizer"] = {"state": per_param, "param_groups": groups}
    meta = {
        "format": FORMAT_VERSION,
        "step": state.step,
        "loader_position": state.loader_position,
        "optimizer_class": None if opt_meta is None else opt_meta["class"],
    }
    extra: dict[str, Any] = {
        "meta": torch.frombuffer(bytearray(json.dumps(meta).encode()), dtype=torch.uint8)
    }
    extra.update({name: state.tensors[name] for name in _RNG_NAMES if name in state.tensors})
    out[EXTRA_KEY] = extra
    return out


def export_dcp(
    source: Snapshotter | TrainingState,
    checkpoint_id: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    step: int | None = None,
) -> int:
    """Write a snapshot as a DCP checkpoint in the folder ``checkpoint_id``; its step.

    ``source`` is a `Snapshotter` (its newest restorable snapshot, or ``step``, from
    whichever tier holds it) or a `TrainingState`. ``model`` and ``optimizer`` only
    name the entries (parameter names of the optimizer state); they are not changed.
    """
    if isinstance(source, Snapshotter):
        state = source.load(step, copy=False)
        if state is None:
            raise SnapshotError(f"rank {source.rank} holds no snapshot to export")
    elif isinstance(source, TrainingState):
        if step is not None and step != source.step:
            raise ValueError(f"step={step} given, but the TrainingState is of step {source.step}")
        state = source
    else:
        raise TypeError(
            f"source must be a Snapshotter or a TrainingState, got {type(source).__name__}"
        )
    with _single_process():
        dcp.save(dcp_state_dict(state, model, optimizer), checkpoint_id=str(checkpoint_id))
    return state.step


def _flat_metadata(checkpoint_id: str | Path) -> dict[str, Any]:
    path = Path(checkpoint_id)
    if not (path / ".metadata").is_file():
        raise FileNotFoundError(f"no DCP checkpoint at {path} (its .metadata file is missing)")
    return dict(dcp.FileSystemReader(str(path)).read_metadata().state_dict_metadata)


def _check_tensor(entries: dict[str, Any], key: str, like: torch.Tensor, what: str) -> None:
    if key not in entries:
        present = sorted(k for k in entries if k.split(".", 1)[0] == key.split(".", 1)[0])
        holds = present[:6] or sorted(entries)[:6]
        raise IncompatibleSnapshotError(
            f"the DCP checkpoint has no {what} {key!r}; it holds {holds}"
        )
    size = getattr(entries[key], "size", None)
    if size is not None and tuple(size) != tuple(like.shape):
        raise IncompatibleSnapshotError(
            f"{what} {key!r}: the checkpoint's has shape {tuple(size)}, "
            f"this one's {tuple(like.shape)}"
        )


def _optimizer_target(
    entries: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    optimizer_key: str,
) -> tuple[dict[str, Any], bool, list[tuple[int, str, Any]]]:
    """The optimizer state dict to load into, whether it is keyed by names, and the
    group entries the checkpoint lacks (with this optimizer's values)."""
    names = parameter_names(model, optimizer)
    prefix = f"{optimizer_key}.state."
    by_name = any(k.startswith(f"{prefix}{names[0]}.") for k in entries)
    by_index = any(k.startswith(f"{prefix}0.") for k in entries)
    if not (by_name or by_index):
        raise IncompatibleSnapshotError(
            f"the DCP checkpoint holds no optimizer state under {optimizer_key!r} (neither "
            f"{prefix}{names[0]}.* nor {prefix}0.*); keys: {sorted(entries)[:6]}"
        )
    # get_optimizer_state_dict creates the state of a fresh optimizer (a step at lr 0),
    # so the target has a tensor of the right shape for every entry to load.
    named = get_optimizer_state_dict(model, optimizer)
    target: dict[str, Any] = dict(named) if by_name else optimizer.state_dict()
    # A group entry the checkpoint lacks (a hyperparameter of a newer torch, or of
    # another AdamW) keeps this optimizer's value: `load_dcp` puts it back after loading.
    kept: list[tuple[int, str, Any]] = []
    for index, group in enumerate(target["param_groups"]):
        for key in list(group):
            if key != "params" and f"{optimizer_key}.param_groups.{index}.{key}" not in entries:
                kept.append((index, key, group.pop(key)))
    for param_key, values in target["state"].items():
        for entry, value in values.items():
            if isinstance(value, torch.Tensor):
                _check_tensor(entries, f"{prefix}{param_key}.{entry}", value, "optimizer entry")
    return target, by_name, kept


def load_dcp(
    checkpoint_id: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    model_key: str = "model",
    optimizer_key: str = "optimizer",
) -> tuple[int, Any]:
    """Load a DCP checkpoint into ``model`` (and ``optimizer``): ``(step, loader_position)``.

    Reads checkpoints from `export_dcp` and from plain ``dcp.save`` (see the module
    docstring); RNG states, step and loader position come back when the checkpoint has
    the ``train_infra`` entry, else the step is 0 and the position None. Every key and
    shape is checked against the checkpoint's metadata first: a mismatch raises
    `IncompatibleSnapshotError` naming the key, and nothing has changed.
    """
    entries = _flat_metadata(checkpoint_id)
    model_sd = model.state_dict()  # the model's own tensors: DCP loads into them in place
    for name, value in model_sd.items():
        _check_tensor(entries, f"{model_key}.{name}", value, "model tensor")
    target: dict[str, Any] = {model_key: model_sd}
    by_name, kept = False, list[tuple[int, str, Any]]()
    if optimizer is not None:
        target[optimizer_key], by_name, kept = _optimizer_target(
            entries, model, optimizer, optimizer_key
        )
    extra: dict[str, torch.Tensor] = {}
    for name in ("meta", *_RNG_NAMES):
        key = f"{EXTRA_KEY}.{name}"
        if key in entries:
            spec = entries[key]
            extra[name] = torch.empty(tuple(spec.size), dtype=spec.properties.dtype)
    if extra:
        target[EXTRA_KEY] = extra
    with _single_process():
        dcp.load(target, checkpoint_id=str(checkpoint_id))
    if optimizer is not None:
        for index, key, value in kept:
            target[optimizer_key]["param_groups"][index][key] = value
        if by_name:
            set_optimizer_state_dict(model, optimizer, target[optimizer_key])
        else:
            optimizer.load_state_dict(target[optimizer_key])
    if "meta" not in extra:
        return 0, None
    meta = json.loads(extra["meta"].numpy().tobytes())
    if all(name in extra for name in _RNG_NAMES):
        set_rng_states(*decode_rng_states(extra))
        torch.set_rng_state(extra["rng/torch"])
    return int(meta["step"]), meta.get("loader_position")


def import_dcp(
    checkpoint_id: str | Path,
    snapshots: Snapshotter,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    model_key: str = "model",
    optimizer_key: str = "optimizer",
) -> tuple[int, Any]:
    """`load_dcp`, then a blocking snapshot of the loaded state: ``(step, loader_position)``."""
    step, position = load_dcp(
        checkpoint_id, model, optimizer, model_key=model_key, optimizer_key=optimizer_key
    )
    snapshots.snapshot(model, optimizer, step=step, loader_position=position, blocking=True)
    return step, position
