"""Two CPU ranks on gloo (torchrun) give the 1-process run's losses, NLLs and weights."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

HERE = Path(__file__).parent


def _cases_module() -> ModuleType:
    # tests/ is not a package (pytest's importlib mode): load the worker file by path.
    spec = importlib.util.spec_from_file_location(
        "distributed_cases", HERE / "distributed_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torchrun(ranks: int, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={ranks}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def saved(tiny: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny trained model as a local HF folder, its unlearning data, and the first
    question of each forget and retain fact as JSONL files for the command line."""
    folder = tmp_path_factory.mktemp("distributed")
    tiny.model.save_pretrained(folder / "model")
    tiny.tokenizer.save_pretrained(folder / "model")
    torch.save(tiny.data, folder / "data.pt")
    paths = {"model": folder / "model", "data": folder / "data.pt"}
    for role in ("forget", "retain"):
        rows = [{"question": qa.questions[0], "answer": qa.answer} for qa in tiny.world.split(role)]
        paths[role] = folder / f"{role}.jsonl"
        paths[role].write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths


@pytest.fixture(scope="module")
def two_ranks(saved: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One 2-rank gloo launch: every case on each rank, then the command line."""
    out = tmp_path_factory.mktemp("ranks")
    _torchrun(
        2,
        str(HERE / "distributed_cases.py"),
        *(str(saved[name]) for name in ("model", "data")),
        str(out),
        *(str(saved[name]) for name in ("forget", "retain")),
    )
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    return {"ranks": ranks, "out": out}


def test_two_ranks_match_one_process_for_every_method(
    saved: dict[str, Path], two_ranks: dict[str, Any]
) -> None:
    from unlearn_llm.methods import METHODS

    cases = _cases_module()
    assert {name for name, _, _ in cases.CASES.values()} == set(METHODS), "a method is missing"
    from unlearn_llm.distributed import sharded_answer_nll
    from unlearn_llm.models import load_causal_lm

    torch.set_num_threads(1)
    alone = cases.run_cases(saved["model"], saved["data"])
    original, _ = load_causal_lm(saved["model"])
    data = torch.load(saved["data"], weights_only=False)
    before = (sharded_answer_nll(original, data.forget), sharded_answer_nll(original, data.retain))
    ranks = two_ranks["ranks"]
    rank0, rank1 = (result["cases"] for result in ranks)
    assert [r["world"] for r in ranks] == [2, 2]
    for key, single in alone.items():
        # the two replicas are bit-identical: every rank took the same averaged step
        for name, tensor in rank0[key]["state"].items():
            assert torch.equal(tensor, rank1[key]["state"][name]), (key, name)
        # ... and equal to the one-process run to float tolerance
        for what in ("losses", "forget_losses", "retain_losses"):
            assert rank0[key][what] == pytest.approx(single[what], rel=1e-5, abs=1e-6), (key, what)
        # hooks only, no steps
        trains = cases.CASES[key][0] not in {"test-time-steering", "kif-runtime"}
        assert len(rank0[key]["losses"]) == len(single["losses"]) >= int(trains)
        for what in ("forget_nll", "retain_nll"):
            assert rank0[key][what] == pytest.approx(single[what], rel=1e-5), (key, what)
        # AdamW divides each gradient entry by its running RMS, so an entry whose gradient
        # is at rounding level moves by up to the learning rate either way: a few entries
        # may differ by a fraction of one step (seen: 8e-5 at lr 1e-3); the mean may not.
        for name, tensor in single["state"].items():
            distributed = rank0[key]["state"][name]
            torch.testing.assert_close(distributed, tensor, rtol=1e-4, atol=2e-4, msg=key)
            assert float((distributed - tensor).abs().float().mean()) < 1e-6, (key, name)
        # ... and the method did change the model (equal weights are not a vacuous pass)
        assert single["forget_nll"] != pytest.approx(before[0], rel=1e-3), key
    # gradients really went through all-reduce (the 1-process run sends nothing)
    assert ranks[0]["bytes_all_reduced"] > 0


def test_ranks_draw_distinct_rows_that_make_up_the_global_minibatch(
    two_ranks: dict[str, Any],
) -> None:
    import torch
    from unlearn_llm.methods._common import cycle_indices

    cases = _cases_module()
    stream = cycle_indices(cases.DRAW_ROWS, cases.DRAW_BATCH, torch.Generator().manual_seed(0))
    for step, (mine, theirs) in enumerate(
        zip(*(r["draws"] for r in two_ranks["ranks"]), strict=True)
    ):
        global_rows = next(stream).tolist()
        assert mine and theirs, step
        assert not set(mine) & set(theirs), (
            f"step {step}: both ranks drew {set(mine) & set(theirs)}"
        )
        assert sorted(mine + theirs) == sorted(global_rows), step


def test_local_part_refuses_a_minibatch_smaller_than_the_world(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import unlearn_llm.ranks as distributed
    from unlearn_llm.data import Batch

    monkeypatch.setattr(distributed, "rank_and_world", lambda: (0, 2))
    rows = torch.arange(3).unsqueeze(1)
    batch = Batch(rows, torch.ones_like(rows), rows)
    with pytest.raises(ValueError, match=r"1 row.*2 ranks"):
        distributed.local_part(batch, torch.tensor([1]))
    index, part = distributed.local_part(batch, torch.tensor([2, 0, 1]))
    assert index.tolist() == [2, 1] and part.share is not None and part.share.rows == 3


def test_command_line_two_ranks_match_one_process(
    saved: dict[str, Path], two_ranks: dict[str, Any], tmp_path: Path
) -> None:
    """``python -m unlearn_llm.distributed`` on 2 ranks (NPO through LoRA) against
    ``forget_in_own_model`` in this process: the same NLLs and adapter weights."""
    from safetensors.torch import load_file
    from unlearn_llm.distributed import read_pairs
    from unlearn_llm.own_model import forget_in_own_model

    cases = _cases_module()
    out = two_ranks["out"]
    report = json.loads((out / "cli.json").read_text())
    torch.set_num_threads(1)
    alone = forget_in_own_model(
        saved["model"],
        read_pairs(saved["forget"]),
        read_pairs(saved["retain"]),
        method="npo",
        params=cases.CLI_PARAMS,
        lora_rank=4,
        out_dir=tmp_path / "one",
    )
    assert report["world_size"] == 2 and report["steps"] == cases.CLI_PARAMS["steps"]
    assert report["bytes_all_reduced"] > 0
    for what in ("forget_nll_before", "forget_nll_after", "retain_nll_before", "retain_nll_after"):
        assert report[what] == pytest.approx(getattr(alone, what), rel=1e-5), what
    assert report["forget_nll_after"] > 2 * report["forget_nll_before"]  # it did unlearn
    one = load_file(tmp_path / "one" / "adapter_model.safetensors")
    two = load_file(out / "cli" / "adapter_model.safetensors")
    assert one.keys() == two.keys() and one
    for name, tensor in one.items():
        torch.testing.assert_close(two[name], tensor, rtol=1e-4, atol=2e-4, msg=name)


@pytest.mark.slow
def test_the_speed_benchmarks_distributed_part_reports_time_bytes_and_agreement() -> None:
    from unlearn_llm.benchmarks._distributed import distributed_metrics
    from unlearn_llm.benchmarks.speed import SPEED_METRIC_NAMES
    from unlearn_llm.models import tiny_model_params
    from unlearn_llm.worlds.facts import tiny_world_params

    notes: list[str] = []
    metrics = distributed_metrics(tiny_world_params(), tiny_model_params(), 0, 8, 3, notes)
    assert {m.name for m in metrics} <= SPEED_METRIC_NAMES
    value = {(m.name, m.labels.get("ranks")): m.value for m in metrics}
    assert value[("distributed_bytes_all_reduced_per_step", "1")] == 0
    assert value[("distributed_bytes_all_reduced_per_step", "2")] > 0
    assert value[("distributed_seconds_per_step", "2")] > 0
    assert value[("distributed_max_weight_difference", None)] < 1e-3
    assert value[("distributed_nll_difference", None)] < 1e-4
    assert "2 ranks" in notes[-1]


def test_a_rank_computes_on_its_local_gpu_under_nccl_and_on_the_cpu_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unlearn_llm.ranks import comm_device, default_device

    monkeypatch.setenv("LOCAL_RANK", "3")
    assert default_device("nccl") == "cuda:3"
    assert default_device("gloo") == "cpu"
    assert default_device() == "cpu"  # no process group in this test
    assert comm_device() == torch.device("cpu")


def test_unlearn_data_moves_every_batch_and_keeps_the_rest(tiny: Any) -> None:
    from unlearn_llm.data import Batch

    data = tiny.data
    moved = data.to("cpu")
    for name in ("forget", "retain", "forget_idk", "neighbours"):
        before, after = getattr(data, name), getattr(moved, name)
        assert (before is None) == (after is None), name
        if isinstance(before, Batch):
            assert after is not before and torch.equal(after.input_ids, before.input_ids)
            assert after.input_ids.device == torch.device("cpu")
    assert moved.sampler is data.sampler


def test_two_fsdp_ranks_match_one_process(saved: dict[str, Path], tmp_path: Path) -> None:
    """``--fsdp`` (FSDP2 shards on gloo, NPO through LoRA) against the 1-process run:
    the same NLLs and, gathered from the shards, the same adapter weights."""
    from safetensors.torch import load_file
    from unlearn_llm.distributed import read_pairs
    from unlearn_llm.own_model import forget_in_own_model

    cases = _cases_module()
    arguments = cases.cli_arguments(saved["model"], saved["forget"], saved["retain"], tmp_path)
    _torchrun(2, "-m", "unlearn_llm.distributed", *arguments, "--fsdp")
    report = json.loads((tmp_path / "cli.json").read_text())
    torch.set_num_threads(1)
    alone = forget_in_own_model(
        saved["model"],
        read_pairs(saved["forget"]),
        read_pairs(saved["retain"]),
        method="npo",
        params=cases.CLI_PARAMS,
        lora_rank=4,
        out_dir=tmp_path / "one",
    )
    assert report["world_size"] == 2 and report["fsdp"] is True
    assert report["sharded_parameters"] > 0
    for what in ("forget_nll_before", "forget_nll_after", "retain_nll_before", "retain_nll_after"):
        assert report[what] == pytest.approx(getattr(alone, what), rel=1e-5), what
    one = load_file(tmp_path / "one" / "adapter_model.safetensors")
    two = load_file(tmp_path / "cli" / "adapter_model.safetensors")
    assert one.keys() == two.keys() and one
    for name, tensor in one.items():
        torch.testing.assert_close(two[name], tensor, rtol=1e-4, atol=2e-4, msg=name)
    # FSDP reduce-scattered the gradients; our own all-reduce carried only losses and NLLs
    adapter_bytes = sum(t.numel() * t.element_size() for t in one.values())
    assert report["bytes_all_reduced"] < adapter_bytes


def test_fsdp_refuses_a_method_that_needs_whole_parameters(saved: dict[str, Path]) -> None:
    from unlearn_llm.distributed import read_pairs
    from unlearn_llm.own_model import forget_in_own_model

    pairs = read_pairs(saved["forget"]), read_pairs(saved["retain"])
    with pytest.raises(ValueError, match=r"'rmu' does not run on FSDP shards; accepted"):
        forget_in_own_model(saved["model"], *pairs, method="rmu", fsdp=True)
    with pytest.raises(ValueError, match="retain_loss='kl'"):
        forget_in_own_model(
            saved["model"],
            *pairs,
            method="gradient-difference",
            params={"retain_loss": "kl"},
            fsdp=True,
        )
