"""Data-parallel unlearning under ``torchrun`` or ``accelerate launch``.

Run any registered method on a local Hugging Face folder with several processes:

    torchrun --nproc-per-node 2 -m unlearn_llm.distributed --model DIR \\
        --forget forget.jsonl --retain retain.jsonl --method npo --out OUT

(``accelerate launch --multi_gpu --num_processes 2 -m unlearn_llm.distributed ...``
starts the same processes; it ran so on a CPU-only machine too.) Every rank holds a
full replica of the model (LoRA or full weights), and:

* **distinct batches.** Every rank draws the same *global* minibatch indices from the
  method's seeded generator and keeps its own strided part of them (``local_part``,
  rows ``rank, rank + world, ...`` as ``DistributedSampler`` does), so the ranks' rows
  are disjoint and their union is the 1-process minibatch. ``batch_size`` is the global
  batch size. (Seeding each rank's sampler alike without sharding makes every rank
  draw the same retain rows, the known bug this rules out.)
* **exact means.** A loss that is a mean over rows or answer tokens divides the
  rank-local sum by the global minibatch's count over the number of ranks
  (``data.Share``), so the mean over ranks of the local losses is the global mean,
  not a mean of per-rank means.
* **synchronised gradients.** The shared optimiser steps (``StepRunner`` and
  ``PlainStep`` in ``methods/_common.py``) average every gradient over the ranks with
  ``torch.distributed.all_reduce`` before clipping and stepping (``average_gradients``);
  the projection plug-in averages its forget, retain and basis gradients the same way.
  This is what ``DistributedDataParallel`` computes, done after the backward pass
  instead of overlapped with it, because the methods' steps also take gradients with
  ``torch.autograd.grad`` (the projection), train copies of the model (the task
  vector's fine-tuned copy) and run several forward passes per step, which DDP's
  reducer hooks on one wrapped module do not follow. Every rank then takes the same
  optimiser step, and the replicas stay equal.
* **sharded evaluation.** ``sharded_answer_nll`` scores each rank's rows and
  all-reduces the summed NLL and token counts, so the reported NLL is the
  1-process one.

With the same seed and global batch, a 2-rank run gives the 1-process run's losses,
metrics and (to float tolerance) weights: ``tests/test_distributed.py`` checks it for
every registered method on gloo. Rank 0 alone writes the result. FSDP (sharded
parameters) is not supported: the methods read and copy whole parameters. The
package's data and methods build their tensors on the CPU (no device placement yet),
so gloo is the backend that works today; NCCL needs the model and batches on
``cuda:LOCAL_RANK`` first.

This module imports torch only inside its functions: the method modules import
``local_part`` from it and stay torch-free at import.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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
    grads = [p.grad for p in parameters if p.grad is not None]
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


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def mean_over_ranks(values: Sequence[float]) -> list[float]:
    """Each of ``values`` averaged over the ranks (one small all-reduce; a log's losses)."""
    import torch

    _, world = rank_and_world()
    if world == 1 or not values:
        return list(values)
    flat = torch.tensor(list(values), dtype=torch.float64)
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
    totals = torch.zeros(2, dtype=torch.float64)
    rows = torch.arange(len(batch))[rank::world]
    with torch.no_grad():
        for start in range(0, len(rows), chunk):
            token_logp, mask = token_logprobs(model, batch.subset(rows[start : start + chunk]))
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
    dist.init_process_group(chosen)
    return True


def read_pairs(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(question, answer) pairs of a JSONL file, one ``{"question": ..., "answer": ...}``
    object per line."""
    pairs: list[tuple[str, str]] = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not {"question", "answer"} <= row.keys():
            raise ValueError(
                f"{path}:{number}: expected an object with 'question' and 'answer', got {line!r}"
            )
        pairs.append((str(row["question"]), str(row["answer"])))
    return pairs


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``python -m unlearn_llm.distributed`` entry point (run it under torchrun)."""
    import time

    import torch.distributed as dist

    from unlearn_llm.own_model import forget_in_own_model

    parser = argparse.ArgumentParser(
        prog="python -m unlearn_llm.distributed",
        description="Unlearn with a registered method on every rank (torchrun / accelerate).",
    )
    parser.add_argument("--model", required=True, help="local save_pretrained folder")
    parser.add_argument("--forget", required=True, help="JSONL of question/answer to forget")
    parser.add_argument("--retain", required=True, help="JSONL of question/answer to keep")
    parser.add_argument("--method", default="npo", help="a name of `unlearn-bench list`")
    parser.add_argument("--params", default="{}", help='method params as JSON, e.g. {"steps": 5}')
    parser.add_argument("--adapter", default=None, help="an existing LoRA adapter to continue")
    parser.add_argument("--lora-rank", type=int, default=8, help="fresh adapter rank; 0: full")
    parser.add_argument("--out", default=None, help="where rank 0 saves the result")
    parser.add_argument("--report", default=None, help="where rank 0 writes the JSON report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backend",
        default=None,
        choices=["gloo", "nccl"],
        help="default: nccl with CUDA, else gloo (the methods compute on the CPU today)",
    )
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    if not isinstance(params, dict):
        raise SystemExit(f"--params must be a JSON object, got {args.params!r}")
    joined = init_from_environment(args.backend)
    rank, world = rank_and_world()
    start, sent = time.perf_counter(), TRAFFIC.bytes_all_reduced
    try:
        result = forget_in_own_model(
            args.model,
            read_pairs(args.forget),
            read_pairs(args.retain),
            method=args.method,
            params=params,
            adapter_dir=args.adapter,
            lora_rank=args.lora_rank or None,
            out_dir=args.out,
            seed=args.seed,
        )
        steps = result.log.steps if result.log is not None else 0
        train_seconds = result.log.wall_time_s if result.log is not None else 0.0
        report: dict[str, Any] = {
            "method": result.method,
            "world_size": world,
            "steps": steps,
            "train_seconds": train_seconds,
            "seconds_per_step": train_seconds / max(steps, 1),
            "forget_nll_before": result.forget_nll_before,
            "forget_nll_after": result.forget_nll_after,
            "retain_nll_before": result.retain_nll_before,
            "retain_nll_after": result.retain_nll_after,
            "saved_to": result.saved_to,
            "wall_time_s": time.perf_counter() - start,
            # this rank's all-reduce payload: gradients, logged losses, the NLL sums
            "bytes_all_reduced": TRAFFIC.bytes_all_reduced - sent,
            "losses": result.log.losses if result.log is not None else [],
        }
        if rank == 0:
            text = json.dumps(report, indent=2)
            print(text)
            if args.report is not None:
                Path(args.report).write_text(text + "\n", encoding="utf-8")
        return report
    finally:
        if joined:
            dist.destroy_process_group()


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy's: the methods count their
    # all-reduce bytes in unlearn_llm.distributed.TRAFFIC, which the report reads.
    from unlearn_llm.distributed import main as imported_main

    imported_main(sys.argv[1:])
