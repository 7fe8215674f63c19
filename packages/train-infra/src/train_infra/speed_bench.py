"""Speed and overhead of train-infra against named baselines measured in the same run.

``python -m train_infra.speed_bench --out speed.json [--params-millions 100] [--quick]``

Ratios written (each with its goal from issue 7):

* ``snapshot_step_overhead``: median training-step time with every-step snapshots over
  without, minus one (goal ≤ 0.03), on an MLP of about ``--params-millions`` M
  parameters with AdamW; modes alternate in blocks so machine load hits both alike;
* ``snapshot_vs_torch_save`` and ``restore_vs_torch_load``: in-memory snapshot (the
  trainer-visible wait) and restore time over ``torch.save``/``torch.load`` of the same
  state to a file; the same against ``torch.distributed.checkpoint`` save/load;
* ``encode_vs_zfec``: our erasure-coding throughput over zfec called directly (goal
  ≥ 1); recorded as null when zfec is not installed;
* ``gather_speedup_vs_naive``: per-batch packed reads over per-row reads of the same
  memory-mapped file (goal ≥ 5), both with the files' pages dropped from the page cache
  before every batch (``posix_fadvise(DONTNEED)``) so the reads hit the storage;
* ``gather_time_vs_in_memory``: packed reads (cold) over gathering from RAM (goal ≤ 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _hardware() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def bench_snapshots(params_millions: float, blocks: int, block_steps: int) -> dict[str, Any]:
    import torch

    from train_infra.snapshot.manager import start_manager
    from train_infra.snapshot.snapshotter import Snapshotter
    from train_infra.snapshot.state import capture_state

    width = int((params_millions * 1e6 / 4) ** 0.5)
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(4)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(32, width)

    def step() -> float:
        began = time.perf_counter()
        loss = model(x).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - began

    step()  # creates the optimizer state
    manager = start_manager()
    out: dict[str, Any] = {"params": params}
    try:
        snapshots = Snapshotter(manager.address, manager.authkey)
        snapshots.protect(optimizer)
        base: list[float] = []
        snap: list[float] = []
        counter = 0
        for block in range(2 * blocks):
            for _ in range(block_steps):
                elapsed = step()
                counter += 1
                if block % 2:
                    began = time.perf_counter()
                    snapshots.snapshot(model, optimizer, step=counter)
                    elapsed += time.perf_counter() - began
                    snap.append(elapsed)
                else:
                    base.append(elapsed)
            snapshots.wait()
        out["step_s_without"] = statistics.median(base)
        out["step_s_with"] = statistics.median(snap)
        out["snapshot_wait_s_total"] = snapshots.wait_seconds
        began = time.perf_counter()
        snapshots.snapshot(model, optimizer, step=counter + 1, blocking=True)
        out["snapshot_blocking_s"] = time.perf_counter() - began
        began = time.perf_counter()
        snapshots.restore(model, optimizer)
        out["restore_s"] = time.perf_counter() - began
        snapshots.close()
    finally:
        manager.stop()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.pt"
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        began = time.perf_counter()
        torch.save(state, path)
        out["torch_save_s"] = time.perf_counter() - began
        began = time.perf_counter()
        torch.load(path)
        out["torch_load_s"] = time.perf_counter() - began
        path.unlink()
        try:
            import torch.distributed.checkpoint as dcp

            began = time.perf_counter()
            dcp.save({"model": model.state_dict()}, checkpoint_id=f"{tmp}/dcp")
            out["dcp_save_model_only_s"] = time.perf_counter() - began
            target = {"model": model.state_dict()}
            began = time.perf_counter()
            dcp.load(target, checkpoint_id=f"{tmp}/dcp")
            out["dcp_load_model_only_s"] = time.perf_counter() - began
        except Exception as error:  # DCP's single-process mode varies by torch version
            out["dcp_error"] = f"{type(error).__name__}: {error}"
        from train_infra.snapshot.persist import persist

        began = time.perf_counter()
        persist(capture_state(model, optimizer, 0), f"{tmp}/persist")
        out["persist_safetensors_s"] = time.perf_counter() - began
    return out


def bench_erasure(megabytes: int, k: int, m: int) -> dict[str, Any]:
    import torch

    from train_infra.snapshot.erasure import ErasureCode

    data = torch.randint(0, 256, (megabytes << 20,), dtype=torch.uint8)
    code = ErasureCode(k, m)
    code.encode(data[: 1 << 20])
    began = time.perf_counter()
    code.encode(data)
    ours = time.perf_counter() - began
    out: dict[str, Any] = {"k": k, "m": m, "megabytes": megabytes, "ours_mb_s": megabytes / ours}
    try:
        import zfec

        size = code.fragment_size(data.numel())
        blocks = [data[i * size : (i + 1) * size].numpy().tobytes() for i in range(k)]
        encoder = zfec.Encoder(k, k + m)
        began = time.perf_counter()
        encoder.encode(blocks)
        out["zfec_mb_s"] = megabytes / (time.perf_counter() - began)
    except ImportError:
        out["zfec_mb_s"] = None
    return out


def bench_gather(num_nodes: int, num_features: int, batches_timed: int) -> dict[str, Any]:
    import numpy as np

    from train_infra.outofcore.sampling import make_graph, sample_epoch
    from train_infra.outofcore.store import gather_naive, gather_packed, pack_epoch

    with tempfile.TemporaryDirectory(dir=os.environ.get("TRAIN_INFRA_BENCH_DIR")) as tmp:
        graph = make_graph(tmp, num_nodes, num_features=num_features, seed=0)
        batches = sample_epoch(graph, graph.train_nodes, 1024, seed=0)[:batches_timed]
        epoch = pack_epoch(graph, batches, tmp, cache_rows=0)
        in_memory = np.array(graph.features())
        # No mapping of either file may stay alive: the kernel keeps mapped pages in the
        # page cache whatever posix_fadvise says, which would make the reads warm.
        # Out of core means the pages of earlier batches are gone too: drop the file's
        # pages before every batch, for both readers, and time the reads only.
        naive = 0.0
        for batch in batches:
            _drop_cache(graph.feature_path)
            began = time.perf_counter()
            gather_naive(batch, graph.features())
            naive += time.perf_counter() - began
        packed_s = 0.0
        for index in range(len(batches)):
            _drop_cache(epoch.path)
            began = time.perf_counter()
            gather_packed(epoch, index, epoch.packed())
            packed_s += time.perf_counter() - began
        began = time.perf_counter()
        for batch in batches:
            in_memory[batch.nodes]
        memory_s = time.perf_counter() - began
        return {
            "num_nodes": num_nodes,
            "feature_bytes": num_nodes * num_features * 4,
            "batches": len(batches),
            "naive_s": naive,
            "packed_s": packed_s,
            "in_memory_s": memory_s,
            "directory": tmp,
        }


def main(argv: list[str] | None = None) -> None:
    import warnings

    # torch.distributed.checkpoint warns that it runs without a process group: intended.
    warnings.filterwarnings("ignore", message="torch.distributed is disabled")
    parser = argparse.ArgumentParser(description="train-infra speed and overhead benchmark")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--params-millions", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    quick = args.quick
    snapshots = bench_snapshots(
        5.0 if quick else args.params_millions, blocks=2 if quick else 4, block_steps=3
    )
    erasure = bench_erasure(16 if quick else 256, 4, 2)
    gather = bench_gather(100_000 if quick else 2_000_000, 64, 10 if quick else 40)
    ratios = {
        "snapshot_step_overhead": snapshots["step_s_with"] / snapshots["step_s_without"] - 1,
        "snapshot_vs_torch_save": snapshots["snapshot_blocking_s"] / snapshots["torch_save_s"],
        "restore_vs_torch_load": snapshots["restore_s"] / snapshots["torch_load_s"],
        "encode_vs_zfec": (
            erasure["ours_mb_s"] / erasure["zfec_mb_s"] if erasure["zfec_mb_s"] else None
        ),
        "gather_speedup_vs_naive": gather["naive_s"] / gather["packed_s"],
        "gather_time_vs_in_memory": gather["packed_s"] / gather["in_memory_s"],
    }
    if "dcp_save_model_only_s" in snapshots:
        ratios["snapshot_vs_dcp_save_model_only"] = (
            snapshots["snapshot_blocking_s"] / snapshots["dcp_save_model_only_s"]
        )
        ratios["restore_vs_dcp_load_model_only"] = (
            snapshots["restore_s"] / snapshots["dcp_load_model_only_s"]
        )
    goals = {
        "snapshot_step_overhead": "<= 0.03",
        "encode_vs_zfec": ">= 1",
        "gather_speedup_vs_naive": ">= 5",
        "gather_time_vs_in_memory": "<= 1.5",
    }
    report = {
        "hardware": _hardware(),
        "quick": quick,
        "ratios": ratios,
        "goals": goals,
        "measurements": {"snapshots": snapshots, "erasure": erasure, "gather": gather},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
