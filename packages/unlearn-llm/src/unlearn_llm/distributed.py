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
every registered method on gloo. Rank 0 alone writes the result.

* **devices.** On NCCL each process takes GPU ``LOCAL_RANK`` (``init_from_environment``
  sets it), the model and every batch go to ``cuda:LOCAL_RANK`` (``--device``, default
  ``ranks.default_device``), the methods create their tensors on their batches'
  device, and the all-reduced scalars live on ``ranks.comm_device``. This path has not
  run here: the project's machines have no GPU; the gloo path is the tested one.
* **FSDP** (``--fsdp``): FSDP2's ``fully_shard`` on every decoder layer and the whole
  model, so each rank holds a shard of every parameter and of its optimiser state;
  gradients are reduce-scattered (averaged) in the backward pass, and rank 0 saves the
  gathered full state dict. It serves the methods of ``ranks.FSDP_METHODS``
  (gradient ascent, gradient difference with the NLL retain loss, NPO, SimNPO; without
  projection): the others read, copy, project or overwrite whole parameters (frozen
  reference copies, task vectors, gradient projections, neuron resets), which a shard
  does not hold, and are refused before training. ``tests/test_distributed.py`` checks
  2 FSDP ranks on gloo against the 1-process run.

The rank-aware pieces (``local_part``, ``average_gradients``, ``sharded_answer_nll``,
``TRAFFIC``...) live in ``unlearn_llm.ranks`` and are re-exported here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unlearn_llm.ranks import (
    BUCKET_BYTES,
    TRAFFIC,
    Traffic,
    average_gradients,
    average_tensor,
    comm_device,
    default_device,
    init_from_environment,
    local_part,
    mean_over_ranks,
    rank_and_world,
    sharded_answer_nll,
)

__all__ = [
    "BUCKET_BYTES",
    "TRAFFIC",
    "Traffic",
    "average_gradients",
    "average_tensor",
    "comm_device",
    "default_device",
    "init_from_environment",
    "local_part",
    "main",
    "mean_over_ranks",
    "rank_and_world",
    "read_pairs",
    "sharded_answer_nll",
]


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
    from torch.distributed.tensor import DTensor

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
        help="default: nccl with CUDA, else gloo",
    )
    parser.add_argument(
        "--fsdp",
        action="store_true",
        help="shard parameters with FSDP2 (gradient-ascent, gradient-difference, npo, simnpo)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="default: cuda:LOCAL_RANK on nccl, else cpu",
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
            device=args.device or default_device(),
            fsdp=args.fsdp,
        )
        steps = result.log.steps if result.log is not None else 0
        train_seconds = result.log.wall_time_s if result.log is not None else 0.0
        report: dict[str, Any] = {
            "method": result.method,
            "world_size": world,
            "fsdp": args.fsdp,
            # parameters held as FSDP shards (DTensor) on this rank; 0 without --fsdp
            "sharded_parameters": sum(isinstance(p, DTensor) for p in result.model.parameters()),
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
    main(sys.argv[1:])
