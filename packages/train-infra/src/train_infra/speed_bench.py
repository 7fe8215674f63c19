"""Speed and overhead of train-infra against named baselines measured in the same run.

``python -m train_infra.speed_bench --out speed.json [--params-millions 100] [--quick]``

Ratios written (each with its goal from issue 7):

* ``snapshot_step_overhead``: median training-step time with every-step snapshots by
  the ping-pong fast path (:class:`PingPongAdamW`) over the faster of the two steps
  without snapshots (``torch.optim.AdamW``, or ``PingPongAdamW`` never snapshotted),
  minus one (goal ≤ 0.03), on an MLP of about
  ``--params-millions`` M parameters at batch 32; modes alternate in blocks so machine
  load hits all alike. ``snapshot_step_overhead_batch256`` is the same at batch 256.
  ``copy_snapshot_step_overhead`` is the same for the generic copy path (any optimizer),
  ``pingpong_no_snapshot_step_overhead`` the ping-pong optimizer
  alone, and ``memcpy_state_vs_step`` what one plain copy of parameters and moments
  costs relative to a step;
* ``snapshot_vs_torch_save`` and ``restore_vs_torch_load``: in-memory snapshot (the
  trainer-visible wait) and restore time over ``torch.save``/``torch.load`` of the same
  state to a file; the same against ``torch.distributed.checkpoint`` save/load;
* ``encode_vs_zfec``: our erasure-coding throughput (parity plus a CRC-32 of every
  fragment) over zfec called directly on the same ``k`` blocks (goal ≥ 1);
  ``parity_only_vs_zfec`` leaves our checksums out (the same work as zfec); null when
  zfec (the ``zfec`` extra) is not installed;
The feature benchmark runs on a power-law graph (degree exponent 2.5, 2 M nodes,
64 float32 features) with the files' pages dropped from the page cache before every
batch (``posix_fadvise(DONTNEED)``), so every read hits the storage:

* ``gather_speedup_vs_naive``: per-batch packed reads (no cache) over per-row reads of
  the same memory-mapped file (goal ≥ 5);
* ``gather_time_vs_in_memory``: the out-of-core gather as built (an epoch's batches in
  order, packed rows read 8 batches per ``preadv`` straight into place, plus a RAM
  cache tier of the 20 % most-accessed rows) over fancy-index gathers of the same rows
  from RAM (goal ≤ 1.5), median of three passes;
  ``gather_cold_time_vs_in_memory`` is the same without the cache, and
  ``gather_per_batch_cold_time_vs_in_memory`` without the cache, one read per batch;
* ``storage_floor_vs_in_memory`` (and ``_cached``): the batch's cold bytes divided by
  the storage's sequential bandwidth, measured in the same run, over the RAM gather:
  the least time any reader of that storage needs, whatever its layout;
* ``train_epoch_prefetched_vs_in_memory``: a GraphSAGE training epoch fed by the
  prefetch thread (cold reads, overlapped with compute) over the same epoch fed from RAM.
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


def bench_snapshots(
    params_millions: float, blocks: int, block_steps: int, batch: int = 32
) -> dict[str, Any]:
    """Step times of four modes, alternated in blocks so machine load hits all alike.

    ``plain``: ``torch.optim.AdamW`` without snapshots (the baseline); ``copy``: the
    same with a copy-path snapshot after every step; ``pingpong_plain``:
    :class:`PingPongAdamW` without snapshots; ``pingpong``: with a snapshot after every
    step (each flips slots). Two models with the same weights, one per optimizer.
    """
    import torch

    from train_infra.snapshot.manager import start_manager
    from train_infra.snapshot.pingpong import PingPongAdamW
    from train_infra.snapshot.snapshotter import Snapshotter
    from train_infra.snapshot.state import capture_state

    width = int((params_millions * 1e6 / 4) ** 0.5)

    def make() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(4)])

    model = make()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, width)

    def step(net: torch.nn.Module, opt: torch.optim.Optimizer) -> float:
        began = time.perf_counter()
        loss = net(x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - began

    step(model, optimizer)  # creates the optimizer state
    # What a plain copy of the snapshotted bytes (parameters and both moments) costs here.
    state_bytes = 3 * params * 4
    copy_from = torch.empty(state_bytes // 4)
    copy_to = torch.empty_like(copy_from)
    copy_from.fill_(1.0), copy_to.fill_(0.0)  # touch the pages: time the copy, not faults
    copies = []
    for _ in range(3):
        began = time.perf_counter()
        copy_to.copy_(copy_from)
        copies.append(time.perf_counter() - began)
    del copy_from, copy_to
    manager = start_manager()
    pingpong_manager = start_manager()
    out: dict[str, Any] = {
        "params": params,
        "state_bytes": state_bytes,
        "memcpy_state_s": statistics.median(copies),
    }
    try:
        snapshots = Snapshotter(manager.address, manager.authkey)
        snapshots.protect(optimizer)
        fast_snapshots = Snapshotter(pingpong_manager.address, pingpong_manager.authkey)
        fast_model = make()
        fast = PingPongAdamW(fast_model, fast_snapshots, lr=1e-4)
        step(fast_model, fast)
        times: dict[str, list[float]] = {
            m: [] for m in ("plain", "copy", "pingpong_plain", "pingpong")
        }
        commit: list[float] = []
        counter = 0
        for block in range(blocks + 1):  # block 0 warms every mode up (page faults)
            # Reverse the order every other block, so that no mode always follows the
            # same one (the copy path's background work, a mode's cache footprint).
            order = list(times.items())
            for mode, timings in order if block % 2 else order[::-1]:
                net, opt = (fast_model, fast) if mode.startswith("pingpong") else (model, optimizer)
                for _ in range(block_steps):
                    elapsed = step(net, opt)
                    counter += 1
                    if mode in ("copy", "pingpong"):
                        began = time.perf_counter()
                        (snapshots if mode == "copy" else fast_snapshots).snapshot(
                            net, opt, step=counter
                        )
                        taken = time.perf_counter() - began
                        elapsed += taken
                        if mode == "pingpong" and block:
                            commit.append(taken)
                    if block:
                        timings.append(elapsed)
                snapshots.wait()
                fast_snapshots.wait()
        for mode, timings in times.items():
            out[f"step_s_{mode}"] = statistics.median(timings)
        out["step_s_without"] = out["step_s_plain"]
        out["step_s_with"] = out["step_s_copy"]
        out["pingpong_commit_s"] = statistics.median(commit)
        out["snapshot_wait_s_total"] = snapshots.wait_seconds
        began = time.perf_counter()
        snapshots.snapshot(model, optimizer, step=counter + 1, blocking=True)
        out["snapshot_blocking_s"] = time.perf_counter() - began
        began = time.perf_counter()
        snapshots.restore(model, optimizer)
        out["restore_s"] = time.perf_counter() - began
        began = time.perf_counter()
        fast_snapshots.restore(fast_model, fast)
        out["pingpong_restore_s"] = time.perf_counter() - began
        snapshots.close()
        fast_snapshots.close()
        del fast, fast_model
    finally:
        manager.stop()
        pingpong_manager.stop()
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


def bench_erasure(megabytes: int, k: int, m: int, rounds: int = 3) -> dict[str, Any]:
    """Encode throughput, ours and zfec's, alternated for ``rounds``; medians in MB/s."""
    import torch

    from train_infra.snapshot.erasure import ErasureCode, _combine

    data = torch.randint(0, 256, (megabytes << 20,), dtype=torch.uint8)
    code = ErasureCode(k, m)
    code.encode(data[: 1 << 20])
    size = code.fragment_size(data.numel())
    pieces = [data[i * size : (i + 1) * size] for i in range(k)]
    try:
        import zfec

        blocks: list[bytes] | None = [p.numpy().tobytes() for p in pieces]
        encoder = zfec.Encoder(k, k + m)
    except ImportError:
        blocks = None
    times: dict[str, list[float]] = {"ours": [], "parity": [], "zfec": []}
    for _ in range(rounds):
        began = time.perf_counter()
        code.encode(data)  # parity plus a CRC-32 of each of the k + m fragments
        times["ours"].append(time.perf_counter() - began)
        began = time.perf_counter()
        _combine(code.matrix[k:], pieces)  # parity only: the work zfec does
        times["parity"].append(time.perf_counter() - began)
        if blocks is not None:
            began = time.perf_counter()
            encoder.encode(blocks)
            times["zfec"].append(time.perf_counter() - began)
    return {
        "k": k,
        "m": m,
        "megabytes": megabytes,
        "ours_mb_s": megabytes / statistics.median(times["ours"]),
        "ours_parity_only_mb_s": megabytes / statistics.median(times["parity"]),
        "zfec_mb_s": megabytes / statistics.median(times["zfec"]) if times["zfec"] else None,
    }


def bench_gather(
    num_nodes: int,
    num_features: int,
    batches_timed: int,
    degree_exponent: float = 2.5,
    cache_fraction: float = 0.2,
    window: int = 8,
) -> dict[str, Any]:
    """Cold feature reads on a power-law graph: naive, packed, packed with a RAM cache.

    The RAM cache tier holds the ``cache_fraction`` of rows accessed most often over
    the whole sampled epoch (the ranking DiskGNN's offline sampling makes possible);
    only ``batches_timed`` of the epoch's batches are packed and timed. The storage's
    own sequential bandwidth is measured too: the cold bytes of a batch divided by it is
    what any reader needs at least, whatever its layout.
    """
    import numpy as np

    from train_infra.outofcore.sampling import make_graph, sample_epoch
    from train_infra.outofcore.store import (
        PrefetchLoader,
        gather_naive,
        gather_packed,
        iter_packed,
        pack_epoch,
    )

    with tempfile.TemporaryDirectory(dir=os.environ.get("TRAIN_INFRA_BENCH_DIR")) as tmp:
        graph = make_graph(
            tmp, num_nodes, num_features=num_features, seed=0, degree_exponent=degree_exponent
        )
        whole_epoch = sample_epoch(graph, graph.train_nodes, 1024, seed=0)
        counts = np.zeros(graph.num_nodes, dtype=np.int64)
        for batch in whole_epoch:
            counts[batch.nodes] += 1
        batches = whole_epoch[:batches_timed]
        del whole_epoch
        epochs = {
            "cold": pack_epoch(graph, batches, Path(tmp) / "cold", cache_rows=0),
            "cached": pack_epoch(
                graph,
                batches,
                Path(tmp) / "cached",
                cache_rows=int(cache_fraction * num_nodes),
                access_counts=counts,
            ),
        }
        in_memory = np.array(graph.features())
        row_bytes = num_features * 4
        useful_bytes = sum(b.nodes.size for b in batches) * row_bytes
        cold_bytes = {name: int(e.offsets[-1]) * row_bytes for name, e in epochs.items()}
        # No mapping of either file may stay alive: the kernel keeps mapped pages in the
        # page cache whatever posix_fadvise says, which would make the reads warm.
        # Out of core means the pages of earlier batches are gone too: drop the file's
        # pages before every batch, for every reader, and time the reads only.
        naive = 0.0
        for batch in batches:
            _drop_cache(graph.feature_path)
            began = time.perf_counter()
            gather_naive(batch, graph.features())
            naive += time.perf_counter() - began
        packed_s = 0.0
        with epochs["cold"].open() as reader:  # one preadv per batch into a fresh buffer
            for index in range(len(batches)):
                _drop_cache(epochs["cold"].path)
                began = time.perf_counter()
                gather_packed(epochs["cold"], index, reader)
                packed_s += time.perf_counter() - began
        # Sequential epoch reads, ``window`` batches per preadv; the page-cache drop
        # before each read is not timed. Storage latency varies: median of three passes.
        windowed: dict[str, list[float]] = {name: [] for name in epochs}
        memory: list[float] = []
        for _ in range(3):
            for name, epoch in epochs.items():
                dropping = [0.0]

                def drop(_: int, epoch: Any = epoch, dropping: list[float] = dropping) -> None:
                    began = time.perf_counter()
                    _drop_cache(epoch.path)
                    dropping[0] += time.perf_counter() - began

                began = time.perf_counter()
                for _features in iter_packed(epoch, window, before_read=drop):
                    pass
                windowed[name].append(time.perf_counter() - began - dropping[0])
            began = time.perf_counter()
            for batch in batches:
                in_memory[batch.nodes]
            memory.append(time.perf_counter() - began)
        memory_s = statistics.median(memory)
        # The storage's sequential bandwidth: the whole cold file in one read.
        _drop_cache(epochs["cold"].path)
        with epochs["cold"].open() as reader:
            began = time.perf_counter()
            reader.read_rows(0, int(epochs["cold"].offsets[-1]))
            storage_s = time.perf_counter() - began
        storage_bytes_per_s = cold_bytes["cold"] / storage_s
        # Reading overlapped with compute: a GraphSAGE training epoch fed by the prefetch
        # thread (cold reads of the cached layout) against the same epoch fed from RAM.
        import torch

        from train_infra.outofcore.model import SAGE, train_epoch

        train_s: dict[str, float] = {}
        cached = epochs["cached"]
        for mode in ("in_memory", "prefetched", "in_memory", "prefetched"):
            torch.manual_seed(0)
            model = SAGE(num_features, 128, int(graph.labels.max()) + 1)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            feed: Any = (
                PrefetchLoader(
                    cached, 2, before_read=lambda _: _drop_cache(cached.path), window=window
                )
                if mode == "prefetched"
                else ((b, in_memory[b.nodes]) for b in batches)
            )
            began = time.perf_counter()
            train_epoch(model, optimizer, feed, graph.labels)
            train_s[mode] = time.perf_counter() - began  # the second (warm) run counts
        cache_hits = sum(p.size for p in cached.cached_positions) / max(
            sum(b.nodes.size for b in batches), 1
        )
        return {
            "num_nodes": num_nodes,
            "degree_exponent": degree_exponent,
            "feature_bytes": num_nodes * num_features * 4,
            "batches": len(batches),
            "useful_bytes": useful_bytes,
            "cache_fraction": cache_fraction,
            "cache_hit_rate": cache_hits,
            "cold_bytes_packed": cold_bytes["cold"],
            "cold_bytes_cached": cold_bytes["cached"],
            "naive_s": naive,
            "window": window,
            "packed_s": packed_s,
            "packed_window_s": statistics.median(windowed["cold"]),
            "packed_cached_window_s": statistics.median(windowed["cached"]),
            "packed_window_passes_s": windowed["cold"],
            "packed_cached_window_passes_s": windowed["cached"],
            "in_memory_passes_s": memory,
            "in_memory_s": memory_s,
            "in_memory_gb_s": useful_bytes / memory_s / 1e9,
            "storage_sequential_gb_s": storage_bytes_per_s / 1e9,
            "storage_floor_s": cold_bytes["cold"] / storage_bytes_per_s,
            "storage_floor_cached_s": cold_bytes["cached"] / storage_bytes_per_s,
            "train_epoch_in_memory_s": train_s["in_memory"],
            "train_epoch_prefetched_s": train_s["prefetched"],
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
        5.0 if quick else args.params_millions, blocks=2 if quick else 10, block_steps=3
    )
    # The same at batch 256: the snapshot's cost per step is fixed (memory traffic of the
    # out-of-place update), so its share depends on how much compute a step holds.
    large_batch = bench_snapshots(
        5.0 if quick else args.params_millions,
        blocks=1 if quick else 4,
        block_steps=3,
        batch=256,
    )
    erasure = bench_erasure(16 if quick else 256, 4, 2)
    gather = bench_gather(100_000 if quick else 2_000_000, 64, 10 if quick else 40)
    ratios = {
        # Against the faster of the two snapshot-free steps, so a faster optimizer
        # cannot hide the cost of the snapshots themselves.
        "snapshot_step_overhead": snapshots["step_s_pingpong"]
        / min(snapshots["step_s_plain"], snapshots["step_s_pingpong_plain"])
        - 1,
        "snapshot_step_overhead_batch256": large_batch["step_s_pingpong"]
        / min(large_batch["step_s_plain"], large_batch["step_s_pingpong_plain"])
        - 1,
        "copy_snapshot_step_overhead": snapshots["step_s_copy"] / snapshots["step_s_plain"] - 1,
        "pingpong_no_snapshot_step_overhead": (
            snapshots["step_s_pingpong_plain"] / snapshots["step_s_plain"] - 1
        ),
        "memcpy_state_vs_step": snapshots["memcpy_state_s"] / snapshots["step_s_plain"],
        "snapshot_vs_torch_save": snapshots["snapshot_blocking_s"] / snapshots["torch_save_s"],
        "restore_vs_torch_load": snapshots["restore_s"] / snapshots["torch_load_s"],
        "encode_vs_zfec": (
            erasure["ours_mb_s"] / erasure["zfec_mb_s"] if erasure["zfec_mb_s"] else None
        ),
        "parity_only_vs_zfec": (
            erasure["ours_parity_only_mb_s"] / erasure["zfec_mb_s"]
            if erasure["zfec_mb_s"]
            else None
        ),
        "gather_speedup_vs_naive": gather["naive_s"] / gather["packed_s"],
        "gather_time_vs_in_memory": gather["packed_cached_window_s"] / gather["in_memory_s"],
        "gather_cold_time_vs_in_memory": gather["packed_window_s"] / gather["in_memory_s"],
        "gather_per_batch_cold_time_vs_in_memory": gather["packed_s"] / gather["in_memory_s"],
        "storage_floor_vs_in_memory": gather["storage_floor_s"] / gather["in_memory_s"],
        "storage_floor_cached_vs_in_memory": (
            gather["storage_floor_cached_s"] / gather["in_memory_s"]
        ),
        "train_epoch_prefetched_vs_in_memory": (
            gather["train_epoch_prefetched_s"] / gather["train_epoch_in_memory_s"]
        ),
    }
    if "dcp_save_model_only_s" in snapshots:
        ratios["snapshot_vs_dcp_save_model_only"] = (
            snapshots["snapshot_blocking_s"] / snapshots["dcp_save_model_only_s"]
        )
        ratios["restore_vs_dcp_load_model_only"] = (
            snapshots["restore_s"] / snapshots["dcp_load_model_only_s"]
        )
    targets = {
        "snapshot_step_overhead": ("<=", 0.03),
        "snapshot_step_overhead_batch256": ("<=", 0.03),
        "encode_vs_zfec": (">=", 1.0),
        "gather_speedup_vs_naive": (">=", 5.0),
        "gather_time_vs_in_memory": ("<=", 1.5),
    }
    goals: dict[str, dict[str, Any]] = {}
    for name, (sign, bound) in targets.items():
        value = ratios.get(name)
        met = None if value is None else (value <= bound if sign == "<=" else value >= bound)
        goals[name] = {"goal": f"{sign} {bound}", "value": value, "met": met}
    report = {
        "hardware": _hardware(),
        "quick": quick,
        "ratios": ratios,
        "goals": goals,
        "measurements": {
            "snapshots": snapshots,
            "snapshots_batch256": large_batch,
            "erasure": erasure,
            "gather": gather,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(ratios, indent=2))
    for name, goal in goals.items():
        flag = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
        print(f"{name}: {goal['value']} (goal {goal['goal']}): {flag}")


if __name__ == "__main__":
    main()
