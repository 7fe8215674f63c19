"""The speed benchmark's data-parallel part: a 2-rank gloo run beside the 1-rank run.

Both runs are the command line users run (``torchrun --nproc-per-node N -m
unlearn_llm.distributed``), started with ``--standalone`` on CPU with one torch thread
per rank, on the same saved model folder, method, seed and global batch. Each rank
reports its unlearning wall time per step and the bytes it sent through
``all_reduce`` (gradients averaged every step, plus the logged losses and the sharded
NLL sums). The benchmark also checks that the two runs end with the same weights and
NLLs, since a speed-up that changes the result would not be one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unlearn_schema import MetricValue

from unlearn_llm.benchmarks._common import metric

if TYPE_CHECKING:
    from unlearn_llm.models import TinyLlamaParams
    from unlearn_llm.worlds.facts import FactsWorldParams

DISTRIBUTED_METRIC_NAMES = frozenset(
    {
        "distributed_seconds_per_step",
        "distributed_bytes_all_reduced_per_step",
        "distributed_step_ratio_to_one_rank",
        "distributed_max_weight_difference",
        "distributed_nll_difference",
    }
)
METHOD = "npo"


def _launch(ranks: int, folder: Path, params: dict[str, Any], out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={ranks}", "-m", "unlearn_llm.distributed"]
    command += ["--model", str(folder / "model"), "--method", METHOD, "--lora-rank", "0"]
    command += ["--forget", str(folder / "forget.jsonl"), "--retain", str(folder / "retain.jsonl")]
    command += ["--params", json.dumps(params), "--backend", "gloo"]
    command += ["--out", str(out), "--report", str(out / "report.json")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(
            f"the {ranks}-rank run failed (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report


def distributed_metrics(
    world_params: FactsWorldParams,
    model_params: TinyLlamaParams,
    seed: int,
    batch_size: int,
    steps: int,
    notes: list[str],
) -> list[MetricValue]:
    """Per-step time and all-reduce bytes of 1 and 2 gloo ranks, and their agreement."""
    from safetensors.torch import load_file

    from unlearn_llm.models import build_model
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    world = build_world(world_params, seed)
    tokenizer = train_tokenizer(world, vocab_size=model_params.vocab_size)
    model = build_model(model_params, seed)
    params = {"steps": steps, "batch_size": batch_size, "seed": seed, "eval_every": 10**5}
    with tempfile.TemporaryDirectory(prefix="unlearn-llm-distributed-") as tmp:
        folder = Path(tmp)
        model.save_pretrained(folder / "model")
        tokenizer.save_pretrained(folder / "model")
        for role in ("forget", "retain"):
            rows = [{"question": qa.questions[0], "answer": qa.answer} for qa in world.split(role)]
            (folder / f"{role}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        reports = {n: _launch(n, folder, params, folder / f"ranks{n}") for n in (1, 2)}
        weights = [load_file(folder / f"ranks{n}" / "model.safetensors") for n in (1, 2)]
    difference = max(float((weights[0][k] - weights[1][k]).abs().max()) for k in weights[0])
    nll_difference = max(
        abs(reports[1][k] - reports[2][k]) for k in ("forget_nll_after", "retain_nll_after")
    )
    trainable = sum(p.numel() for p in model.parameters())
    metrics: list[MetricValue] = []
    for ranks, report in reports.items():
        labels = {"ranks": str(ranks), "method": METHOD}
        metrics += [
            metric(
                "distributed_seconds_per_step",
                report["seconds_per_step"],
                "lower",
                labels,
                unit="s",
            ),
            metric(
                "distributed_bytes_all_reduced_per_step",
                report["bytes_all_reduced"] / max(report["steps"], 1),
                "lower",
                labels,
                unit="B",
            ),
        ]
    ratio = reports[2]["seconds_per_step"] / reports[1]["seconds_per_step"]
    labels = {"method": METHOD}
    metrics += [
        metric("distributed_step_ratio_to_one_rank", ratio, "lower", labels),
        metric("distributed_max_weight_difference", difference, "lower", labels),
        metric("distributed_nll_difference", nll_difference, "lower", labels),
    ]
    per_step = reports[2]["bytes_all_reduced"] / max(reports[2]["steps"], 1)
    notes.append(
        f"data parallel ({METHOD}, full weights, global batch {batch_size}, {steps} steps, "
        f"gloo on CPU, 1 thread per rank): 1 rank {reports[1]['seconds_per_step'] * 1e3:.1f} ms "
        f"per step, 2 ranks {reports[2]['seconds_per_step'] * 1e3:.1f} ms ({ratio:.2f}x); "
        f"each rank all-reduces {per_step / 1e6:.3f} MB per step ({trainable} float32 "
        f"gradients = {trainable * 4 / 1e6:.3f} MB, plus the logged losses); 1 vs 2 ranks: "
        f"weights within {difference:.1e}, NLLs within {nll_difference:.1e}."
    )
    return metrics
