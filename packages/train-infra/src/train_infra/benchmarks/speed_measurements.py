"""The measurements of ``train-infra-speed``, each against a baseline timed in the same run.

- `bench_snapshots`: step times of four modes (``torch.optim.AdamW`` with and without a
  copy-path snapshot after every step, `PingPongAdamW` with and without), alternated in
  blocks so that machine load hits all alike; blocking snapshot and restore against
  ``torch.save``/``torch.load`` and ``torch.distributed.checkpoint``; safetensors
  persistence;
- `bench_erasure`: our erasure-coding throughput against zfec on the same blocks;
- `bench_gather`: cold feature reads on a power-law graph (pages dropped from the page
  cache before every read): per-row, packed, packed with a RAM cache, a gather from RAM,
  the storage's sequential floor, and a GraphSAGE epoch fed by the prefetch thread.

torch is imported inside the functions. `train_infra.benchmarks.speed` turns the
numbers into ratios, goals and metrics.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_snapshots(
    params_millions: float,
    blocks: int,
    block_steps: int,
    batch: int = 32,
    *,
    seed: int = 0,
    dcp_async: bool = False,
) -> dict[str, Any]:
    """Step times of four modes (five with ``dcp_async``), alternated in blocks.

    ``plain``: ``torch.optim.AdamW`` without snapshots (the baseline); ``copy``: the
    same with a copy-path snapshot after every step; ``pingpong_plain``:
    `PingPongAdamW` without snapshots (updates in place); ``pingpong``: with a snapshot
    after every step (each update then goes out of place, into the other slot);
    ``pingpong_flip``: the out-of-place update of every step without any snapshot,
    the floor of the ping-pong design (what ``pingpong`` costs beyond it is the
    snapshot itself: the header, the commit and the reopen); ``dcp_async``: AdamW with
    ``torch.distributed.checkpoint.async_save`` of model and optimizer after every
    step, at most one in flight (the next one waits for the last, as ours do). Two
    models with the same weights, one per optimizer; the alternation makes machine
    load hit all modes alike.
    """
    import torch

    from train_infra.snapshot.manager import start_manager
    from train_infra.snapshot.pingpong import PingPongAdamW
    from train_infra.snapshot.snapshotter import Snapshotter
    from train_infra.snapshot.state import capture_state, checksum, layout

    width = int((params_millions * 1e6 / 4) ** 0.5)

    def make() -> torch.nn.Module:
        torch.manual_seed(seed)
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
        modes = ["plain", "copy", "pingpong_plain", "pingpong", "pingpong_flip"]
        dcp_folder = tempfile.mkdtemp(dir=os.environ.get("TRAIN_INFRA_BENCH_DIR"))
        saves: list[Any] = []  # the async_save in flight (at most one)
        save_calls: list[float] = []
        if dcp_async:
            import torch.distributed.checkpoint as dcp

            modes.append("dcp_async")
        times: dict[str, list[float]] = {m: [] for m in modes}
        commit: list[float] = []
        counter = 0
        for block in range(blocks + 1):  # block 0 warms every mode up (page faults)
            # Reverse the order every other block, so that no mode always follows the
            # same one (the copy path's background work, a mode's cache footprint).
            order = list(times.items())
            for mode, timings in order if block % 2 else order[::-1]:
                net, opt = (fast_model, fast) if mode.startswith("pingpong") else (model, optimizer)
                if mode == "pingpong_flip":
                    # The flips write into both slots uncommitted: the manager forgets
                    # the pair's snapshots first, as before_overwrite does (untimed).
                    for name in fast.slot_names:
                        if name is not None:
                            fast_snapshots.before_overwrite(name)
                for _ in range(block_steps):
                    if mode == "pingpong_flip":
                        host, fast.snapshotter = fast.snapshotter, None
                        fast.live_committed = True  # the update goes to the other slot
                        elapsed = step(net, opt)
                        fast.snapshotter = host
                    else:
                        elapsed = step(net, opt)
                    counter += 1
                    if mode == "dcp_async":
                        began = time.perf_counter()
                        if saves:
                            saves.pop().result()
                        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
                        saves.append(dcp.async_save(state, checkpoint_id=f"{dcp_folder}/step"))
                        taken = time.perf_counter() - began
                        elapsed += taken
                        if block:
                            save_calls.append(taken)
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
                if saves:
                    saves.pop().result()
        # The restores below read a committed ping-pong snapshot, not a flipped slot.
        step(fast_model, fast)
        fast_snapshots.snapshot(fast_model, fast, step=counter + 1, blocking=True)
        for mode, timings in times.items():
            out[f"step_s_{mode}"] = statistics.median(timings)
        out["step_s_without"] = out["step_s_plain"]
        out["step_s_with"] = out["step_s_copy"]
        out["pingpong_commit_s"] = statistics.median(commit)
        # What a ping-pong snapshot copies: the header's inline tensors (RNG states,
        # buffers, step counters); the copy path copies the whole packed state.
        _, header = fast.snapshot_header(fast_model, counter)
        out["pingpong_bytes_copied"] = sum(len(e["data"]) for e in header["inline"].values())
        out["copy_bytes_copied"] = layout(capture_state(model, optimizer, counter).tensors)[1]
        if dcp_async:
            out["dcp_async_call_s"] = statistics.median(save_calls)
            # Time to a durable copy: from the call until the files are written.
            durable = []
            for _ in range(3):
                began = time.perf_counter()
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
                pending: Any = dcp.async_save(state, checkpoint_id=f"{dcp_folder}/step")
                pending.result()  # a Future without a staging/upload split requested
                durable.append(time.perf_counter() - began)
            out["dcp_async_durable_s"] = statistics.median(durable)
            # async_save stages a copy of every tensor in memory, then writes the files.
            out["dcp_async_bytes_copied"] = 2 * _folder_bytes(Path(dcp_folder) / "step")
        import shutil

        shutil.rmtree(dcp_folder, ignore_errors=True)
        out["snapshot_wait_s_total"] = snapshots.wait_seconds
        began = time.perf_counter()
        snapshots.snapshot(model, optimizer, step=counter + 1, blocking=True)
        out["snapshot_blocking_s"] = time.perf_counter() - began
        restores: dict[str, list[float]] = {"copy": [], "pingpong": []}
        for _ in range(3):  # medians of three, as for DCP's loads below
            began = time.perf_counter()
            snapshots.restore(model, optimizer)
            restores["copy"].append(time.perf_counter() - began)
            began = time.perf_counter()
            fast_snapshots.restore(fast_model, fast)
            restores["pingpong"].append(time.perf_counter() - began)
        out["restore_s"] = statistics.median(restores["copy"])
        out["pingpong_restore_s"] = statistics.median(restores["pingpong"])
        # The floor of a verified restore: one CRC-32 pass over the snapshot's bytes
        # (the check before anything changes) plus one copy of them.
        packed = torch.empty(out["copy_bytes_copied"], dtype=torch.uint8).fill_(1)
        crcs = []
        for _ in range(2):
            began = time.perf_counter()
            checksum(packed)
            crcs.append(time.perf_counter() - began)
        del packed
        out["restore_crc_s"] = min(crcs)
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
            loads = []
            for _ in range(3):
                target = {"model": model.state_dict()}
                began = time.perf_counter()
                dcp.load(target, checkpoint_id=f"{tmp}/dcp")
                loads.append(time.perf_counter() - began)
            out["dcp_load_model_only_s"] = statistics.median(loads)
            # The same state our restore brings back: model and optimizer.
            full = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            began = time.perf_counter()
            dcp.save(full, checkpoint_id=f"{tmp}/dcp-full")
            out["dcp_save_s"] = time.perf_counter() - began
            loads = []
            for _ in range(3):
                full = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
                began = time.perf_counter()
                dcp.load(full, checkpoint_id=f"{tmp}/dcp-full")
                loads.append(time.perf_counter() - began)
            out["dcp_load_s"] = statistics.median(loads)
        except Exception as error:  # DCP's single-process mode varies by torch version
            out["dcp_error"] = f"{type(error).__name__}: {error}"
        from train_infra.snapshot.persist import persist

        began = time.perf_counter()
        persist(capture_state(model, optimizer, 0), f"{tmp}/persist")
        out["persist_safetensors_s"] = time.perf_counter() - began
    return out


def bench_erasure(
    megabytes: int, k: int, m: int, rounds: int = 3, *, seed: int = 0
) -> dict[str, Any]:
    """Encode throughput, ours and zfec's, alternated for ``rounds``; medians in MB/s."""
    import torch

    from train_infra.snapshot.erasure import ErasureCode, _combine

    generator = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (megabytes << 20,), dtype=torch.uint8, generator=generator)
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
    *,
    seed: int = 0,
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
            tmp, num_nodes, num_features=num_features, seed=seed, degree_exponent=degree_exponent
        )
        whole_epoch = sample_epoch(graph, graph.train_nodes, 1024, seed=seed)
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
            torch.manual_seed(seed)
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
