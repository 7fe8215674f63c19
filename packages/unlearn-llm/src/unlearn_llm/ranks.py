"""Rank-aware pieces of data-parallel unlearning: which rank this process is, each
rank's share of a global minibatch, gradient and loss averaging over ranks with
``torch.distributed.all_reduce``, and sharded evaluation.

The methods' shared steps (``methods/_common.py``) and ``own_model`` use these; the
``torchrun -m unlearn_llm.distributed`` command line (``distributed.py``, whose
docstring explains the scheme) sits on top. Kept apart from the command line so that
the methods do not import ``own_model`` through it (no import cycle). Imports torch
only inside its functions: the method modules import ``local_part`` and stay
torch-free at import.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from unlearn_llm.data import Batch

BUCKET_BYTES = 25 * 2**20
"""Gradients are all-reduced in flat buckets of at most this size (DDP's default)."""


@dataclass
class Traffic:
    """Bytes this process sent through ``all_reduce`` (payload only), and how many calls."""

    bytes_all_reduced: int = 0
    calls: int = 0


TRAFFIC = Traffic()
"""This process's all-reduce traffic since it started (read a difference to time a part)."""


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised default process group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def comm_device() -> torch.device:
    """Where a tensor must live to be all-reduced: ``cuda:<current>`` on an NCCL group,
    else the CPU (gloo, or no group)."""
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def local_part(batch: Batch, index: torch.Tensor) -> tuple[torch.Tensor, Batch]:
    """This rank's rows of the global minibatch ``batch[index]``: their indices into
    ``batch`` and the trimmed sub-batch, whose ``share`` records the global counts.

    In one process it is ``(index, batch.subset(index).trimmed())`` unchanged.
    """
    from unlearn_llm.data import IGNORE_INDEX, Share

    rank, world = rank_and_world()
    if world == 1:
        return index, batch.subset(index).trimmed()
    if len(index) < world:
        raise ValueError(
            f"a minibatch of {len(index)} row(s) cannot give each of {world} ranks a row; "
            f"accepted: a batch_size and a data set with at least {world} rows per minibatch "
            "(also the last minibatch of a pass, rows % batch_size, unless it is 0)"
        )
    whole = batch.subset(index)
    share = Share(
        rows=len(index),
        answer_tokens=int((whole.labels != IGNORE_INDEX).sum()),
        positions=int(whole.attention_mask.sum()),
        world=world,
    )
    mine = index[rank::world]
    part = batch.subset(mine).trimmed()
    part.share = share
    return mine, part


def _all_reduce_mean(flat: torch.Tensor, world: int) -> None:
    import torch.distributed as dist

    dist.all_reduce(flat)
    flat.div_(world)
    TRAFFIC.bytes_all_reduced += flat.numel() * flat.element_size()
    TRAFFIC.calls += 1


def average_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` averaged over the ranks, in place (unchanged in one process)."""
    _, world = rank_and_world()
    if world > 1:
        _all_reduce_mean(tensor, world)
    return tensor


def average_gradients(parameters: Sequence[torch.nn.Parameter]) -> None:
    """Average every ``.grad`` over the ranks, in flat buckets of ``BUCKET_BYTES``.

    Every rank runs the same code on the same parameters, so the same gradients are
    ``None`` on every rank; those are left out.
    """
    import torch

    _, world = rank_and_world()
    if world == 1:
        return
    # FSDP shards (DTensor parameters) had their gradients reduce-scattered, averaged
    # over the ranks, in the backward pass already.
    grads = [p.grad for p in parameters if p.grad is not None and not _is_sharded(p)]
    start = 0
    while start < len(grads):
        end, size = start, 0
        while end < len(grads) and (end == start or size + _nbytes(grads[end]) <= BUCKET_BYTES):
            size += _nbytes(grads[end])
            end += 1
        bucket = grads[start:end]
        flat = torch.cat([g.reshape(-1) for g in bucket])
        _all_reduce_mean(flat, world)
        offset = 0
        for grad in bucket:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()
        start = end


def _is_sharded(parameter: torch.Tensor) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(parameter, DTensor)


FSDP_METHODS = ("gradient-ascent", "gradient-difference", "npo", "simnpo")
"""The methods that run on FSDP shards: their steps take one backward pass of the loss
and read the model only through forward passes (NPO's reference log-probabilities are
computed before the first step). The others copy, project or overwrite whole
parameters (a frozen reference, a task vector, gradient projections, neuron resets),
which a shard does not hold; ``check_fsdp`` names them."""


def check_fsdp(method: str, params: object) -> None:
    """Refuse, before anything runs, a method or setting that FSDP shards cannot serve."""
    if method not in FSDP_METHODS:
        raise ValueError(
            f"method {method!r} does not run on FSDP shards; accepted with fsdp: "
            f"{', '.join(FSDP_METHODS)} (the others run data-parallel without fsdp)"
        )
    if getattr(params, "projection", None) is not None:
        raise ValueError("the gradient projection needs whole gradients: not with fsdp")
    if getattr(params, "retain_loss", "nll") != "nll":
        raise ValueError("retain_loss='kl' needs a frozen copy of the model: not with fsdp")


def shard_model(model: torch.nn.Module, layers: Sequence[torch.nn.Module]) -> torch.nn.Module:
    """FSDP2 (``torch.distributed.fsdp.fully_shard``) on each of ``layers`` (the decoder
    layers), then on the whole model, in place: parameters become DTensor shards over the
    default group."""
    from torch.distributed.fsdp import fully_shard

    for layer in layers:
        fully_shard(layer)
    fully_shard(model)
    return model


def full_state_dict(model: torch.nn.Module) -> dict[str, Any]:
    """The unsharded state dict of an FSDP model on the CPU (a collective: every rank
    calls it; rank 0 saves it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(model, options=options)


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def mean_over_ranks(values: Sequence[float]) -> list[float]:
    """Each of ``values`` averaged over the ranks (one small all-reduce; a log's losses)."""
    import torch

    _, world = rank_and_world()
    if world == 1 or not values:
        return list(values)
    flat = torch.tensor(list(values), dtype=torch.float64, device=comm_device())
    _all_reduce_mean(flat, world)
    return [float(v) for v in flat]


def sharded_answer_nll(model: torch.nn.Module, batch: Batch, chunk: int = 256) -> float:
    """Mean answer-token NLL of ``batch`` (as ``data.answer_nll``), each rank scoring its
    rows and the sums all-reduced; in one process, ``answer_nll`` on the whole batch."""
    import torch

    from unlearn_llm.data import answer_nll, token_logprobs

    rank, world = rank_and_world()
    if world == 1:
        with torch.no_grad():
            return float(answer_nll(model, batch))
    totals = torch.zeros(2, dtype=torch.float64, device=comm_device())
    rows = torch.arange(len(batch))[rank::world]
    # Every rank runs the same number of forward passes (FSDP's all-gathers are
    # collectives): the largest rank's chunk count, over ranks whose rows differ by one.
    most = -(-len(batch) // world)
    with torch.no_grad():
        for part in torch.tensor_split(rows, max(1, -(-most // chunk))):
            token_logp, mask = token_logprobs(model, batch.subset(part))
            totals[0] -= float(token_logp.double().sum())
            totals[1] += float(mask.sum())
    import torch.distributed as dist

    dist.all_reduce(totals)
    TRAFFIC.bytes_all_reduced += totals.numel() * totals.element_size()
    TRAFFIC.calls += 1
    return float(totals[0] / totals[1].clamp(min=1.0))


def init_from_environment(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` / ``accelerate launch`` describe in the
    environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...); ``False`` without one.

    ``backend`` defaults to ``nccl`` when CUDA is available, else ``gloo``.
    """
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if chosen == "nccl":
        # one GPU per process: torchrun's LOCAL_RANK picks it (comm_device reads it back)
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(chosen)
    return True


def default_device(backend: str | None = None) -> str:
    """The device a rank computes on: ``cuda:LOCAL_RANK`` on NCCL (``backend`` or the
    initialised group's), else ``cpu``."""
    import torch.distributed as dist

    if backend is None and dist.is_available() and dist.is_initialized():
        backend = str(dist.get_backend())
    if backend == "nccl":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"
