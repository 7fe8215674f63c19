"""Every registered method on one saved model folder, under ``torchrun`` or in one process.

``test_distributed.py`` starts this file with ``torchrun --nproc-per-node 2`` (each rank
saves what it got to ``OUT/rank<r>.pt``, then the ranks run the command line's
``unlearn_llm.distributed.main`` with ``CLI_PARAMS``, which writes ``OUT/cli.json`` and
the adapter in ``OUT/cli``), and imports ``run_cases`` to run the very same cases in the
test's own process. One launch for both keeps the test fast: starting the ranks (each
importing torch and transformers) is most of its time. Not collected by pytest (no
``test_`` prefix).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from unlearn_llm import distributed
from unlearn_llm.distributed import (
    TRAFFIC,
    init_from_environment,
    local_part,
    rank_and_world,
    sharded_answer_nll,
)
from unlearn_llm.methods import METHODS
from unlearn_llm.methods._common import cycle_indices
from unlearn_llm.models import add_lora, load_causal_lm

_FEW = {"batch_size": 6, "seed": 3, "learning_rate": 1e-3}
_SGD = {**_FEW, "optimizer": "sgd", "learning_rate": 0.5}
"""The KL cases take plain SGD steps: at the first step the model is its own reference,
so the KL term's gradient is zero up to rounding, and AdamW's per-entry normalisation
would turn that rounding (which differs between one process and two half-batches) into
moves of a whole learning rate in either direction."""
CASES: dict[str, tuple[str, dict[str, Any], int | None]] = {
    "gradient-ascent": ("gradient-ascent", {"steps": 2, **_FEW}, None),
    "gradient-difference": ("gradient-difference", {"steps": 2, **_FEW}, None),
    "gradient-difference kl": (
        "gradient-difference",
        {"steps": 2, "retain_loss": "kl", **_SGD},
        None,
    ),
    "npo": ("npo", {"steps": 2, **_FEW}, None),
    "npo lora": ("npo", {"steps": 2, **_FEW, "learning_rate": 5e-3}, 4),
    "npo+gu": ("npo", {"steps": 2, "projection": {"retain_batches": 2}, **_FEW}, None),
    "simnpo": ("simnpo", {"steps": 2, **_FEW}, None),
    "idk-po kl": ("idk-po", {"steps": 2, "retain_loss": "kl", **_SGD}, None),
    "rmu": ("rmu", {"steps": 2, "layer": 1, **_FEW}, None),
    "task-vector": ("task-vector", {"finetune_steps": 2, **_FEW}, None),
    "sani": ("sani", {"repair_steps": 2, **_FEW}, None),
    "kif": ("kif", {"steps": 2, **_FEW}, None),
    "neds": ("neds", {"steps": 2, **_SGD}, None),
    # no steps and no collectives: every rank installs the same hooks from the same rows
    "test-time-steering": ("test-time-steering", {}, None),
    "kif-runtime": ("kif-runtime", {}, None),
    "fit": ("fit", {"steps": 2, **_SGD}, None),
}
"""Every registered method (and the projection plug-in, KL retain terms, LoRA)."""
CLI_PARAMS = {"steps": 4, "batch_size": 4, "learning_rate": 5e-3}
"""The command line's run: NPO through a fresh rank-4 LoRA adapter."""
DRAW_ROWS, DRAW_BATCH, DRAWS = 20, 6, 8
"""The draw check: 20 rows in minibatches of 6 (a 2-row tail each pass), 8 draws."""


def run_cases(model_dir: Path, data_path: Path) -> dict[str, dict[str, Any]]:
    """Each case on a fresh copy of the folder's model: its log, weights and NLLs."""
    results: dict[str, dict[str, Any]] = {}
    for key, (name, raw, lora_rank) in CASES.items():
        model: Any
        model, _ = load_causal_lm(model_dir)
        if lora_rank is not None:
            torch.manual_seed(0)
            model = add_lora(model, rank=lora_rank, alpha=2 * lora_rank)
        data = torch.load(data_path, weights_only=False)
        record = METHODS.lookup(name)
        log = record.function(model, data, record.validate_params(raw, key))
        results[key] = {
            "losses": log.losses,
            "forget_losses": log.forget_losses,
            "retain_losses": log.retain_losses,
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "forget_nll": sharded_answer_nll(model, data.forget),
            "retain_nll": sharded_answer_nll(model, data.retain),
        }
    return results


def draws() -> list[list[int]]:
    """The rows this rank keeps of each of ``DRAWS`` global minibatches."""
    from unlearn_llm.data import Batch

    rows = torch.arange(DRAW_ROWS).unsqueeze(1)
    batch = Batch(rows, torch.ones_like(rows), rows)
    stream = cycle_indices(DRAW_ROWS, DRAW_BATCH, torch.Generator().manual_seed(0))
    kept = []
    for _ in range(DRAWS):
        index, part = local_part(batch, next(stream))
        assert part.input_ids[:, 0].tolist() == index.tolist()
        kept.append(index.tolist())
    return kept


def cli_arguments(model_dir: Path, forget: Path, retain: Path, out: Path) -> list[str]:
    """``python -m unlearn_llm.distributed`` arguments of the command-line check."""
    return [
        *("--model", str(model_dir), "--method", "npo", "--lora-rank", "4"),
        *("--forget", str(forget), "--retain", str(retain), "--params", json.dumps(CLI_PARAMS)),
        *("--out", str(out / "cli"), "--report", str(out / "cli.json"), "--backend", "gloo"),
    ]


def main(model_dir: str, data_path: str, out_dir: str, forget: str, retain: str) -> None:
    torch.set_num_threads(1)
    init_from_environment("gloo")
    rank, world = rank_and_world()
    try:
        result = {
            "rank": rank,
            "world": world,
            "draws": draws(),
            "cases": run_cases(Path(model_dir), Path(data_path)),
            "bytes_all_reduced": TRAFFIC.bytes_all_reduced,
        }
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
        # the command line joins the group already there and destroys it at its end
        distributed.main(cli_arguments(Path(model_dir), Path(forget), Path(retain), Path(out_dir)))
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
