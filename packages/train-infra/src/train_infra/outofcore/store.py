"""Per-batch packed feature file, RAM cache tier, prefetching loader, read accounting.

After offline sampling the loader knows, for every batch of the epoch, which feature
rows it needs. `pack_epoch` writes, batch after batch, the rows that are not in
the RAM cache contiguously into ``packed.f32``, so reading a batch is one sequential
read instead of one scattered read per node (read amplification: a 4 KiB page read for
a 256-byte row). The cache holds the rows accessed most often over the epoch.

Packing also reorders each batch's nodes, inside each of its three groups (seeds, other
hop-1 nodes, hop-2 nodes), so that packed rows come first and cached rows last, and
relabels the batch's edges to match (``PackedEpoch.batches`` are these batches). A
batch's feature matrix is then three packed runs, read straight into place by one
``preadv`` with three buffers, and three cached runs, gathered straight into place: no
scatter. `iter_packed` reads ``window`` consecutive batches with one ``preadv``,
which runs the storage at its sequential bandwidth rather than its per-request latency.

Bytes read per useful byte counts whole 4 KiB pages, as a disk serves them:

* packed: the pages spanned by the batch's contiguous byte range;
* naive: the distinct pages of the raw file that hold the batch's rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from train_infra.outofcore.sampling import DiskGraph, SampledBatch

PAGE = 4096


@dataclass
class PackedEpoch:
    """Where each batch's rows live: packed file range, cache slots, and positions."""

    path: Path
    num_features: int
    batches: list[SampledBatch]  # reordered: packed rows first within each node group
    offsets: np.ndarray  # row offset of each batch in the packed file (len = batches + 1)
    runs: list[np.ndarray]  # per batch, (group start, end of its packed rows, group end)
    cold_positions: list[np.ndarray]  # positions in batch.nodes of the packed rows
    cached_positions: list[np.ndarray]  # positions in batch.nodes served by the cache
    cache_slots: list[np.ndarray]  # slots in the cache array of those rows
    cache: np.ndarray  # hot rows held in RAM
    stats: dict[str, float] = field(default_factory=dict)

    def packed(self) -> np.ndarray:
        """The packed file as a read-only memory map (see `open` for the fast path)."""
        rows = int(self.offsets[-1])
        return np.memmap(
            self.path, dtype=np.float32, mode="r", shape=(max(rows, 1), self.num_features)
        )

    def open(self) -> PackedFile:
        """The packed file for positional reads into fresh buffers (close it when done)."""
        return PackedFile(self.path, self.num_features)


class PackedFile:
    """Reads row ranges of a packed file with one ``preadv`` each.

    Faster than slicing a memory map: the kernel copies the whole range in one system
    call (with read-ahead) instead of taking a page fault per 4 KiB page.
    """

    def __init__(self, path: Path, num_features: int) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.row_bytes = num_features * 4
        self.num_features = num_features

    def read_into(self, start: int, buffers: list[np.ndarray]) -> None:
        """Fill ``buffers`` (C-contiguous float32 rows) from row ``start`` on, in order.

        One ``preadv`` system call for all of them (several when the kernel returns a
        partial read).
        """
        views = [memoryview(b.reshape(-1).view(np.uint8).data) for b in buffers if b.size]
        offset = start * self.row_bytes
        total = sum(v.nbytes for v in views)
        done = 0
        while done < total:
            got = os.preadv(self.fd, views, offset + done)
            if got <= 0:
                raise OSError(f"packed file ended at byte {offset + done}, rows from {start}")
            done += got
            while views and got >= views[0].nbytes:
                got -= views[0].nbytes
                views.pop(0)
            if views and got:
                views[0] = views[0][got:]

    def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a float32 array (into ``out`` when given)."""
        rows = max(stop - start, 0)
        if out is None:
            out = np.empty((rows, self.num_features), dtype=np.float32)
        elif out.shape != (rows, self.num_features) or not out.flags.c_contiguous:
            raise ValueError(
                f"out must be a C-contiguous {(rows, self.num_features)} array, got "
                f"{out.shape} (contiguous: {out.flags.c_contiguous})"
            )
        self.read_into(start, [out])
        return out

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> PackedFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def pack_epoch(
    graph: DiskGraph,
    batches: list[SampledBatch],
    directory: str | Path,
    cache_rows: int = 0,
    access_counts: np.ndarray | None = None,
) -> PackedEpoch:
    """Pack the cold rows of every batch contiguously on disk; cache the hottest rows.

    The cache holds the ``cache_rows`` nodes accessed most often, counted over
    ``batches`` or given as ``access_counts`` (one count per node, e.g. over a whole
    epoch when only some of its batches are packed here).
    """
    if cache_rows < 0:
        raise ValueError(f"cache_rows must be >= 0, got {cache_rows}")
    raw = graph.features()
    if access_counts is None:
        counts = np.zeros(graph.num_nodes, dtype=np.int64)
        for batch in batches:
            counts[batch.nodes] += 1
    else:
        counts = np.asarray(access_counts)
        if counts.shape != (graph.num_nodes,):
            raise ValueError(
                f"access_counts must have one entry per node ({graph.num_nodes}), "
                f"got shape {counts.shape}"
            )
    hot = np.argsort(-counts, kind="stable")[: min(cache_rows, graph.num_nodes)]
    hot = np.sort(hot[counts[hot] > 0])
    slot_of = np.full(graph.num_nodes, -1, dtype=np.int64)
    slot_of[hot] = np.arange(hot.size)
    cache = (
        np.ascontiguousarray(raw[hot])
        if hot.size
        else np.zeros((0, graph.num_features), np.float32)
    )
    cold_positions, cached_positions, cache_slots, runs = [], [], [], []
    offsets = np.zeros(len(batches) + 1, dtype=np.int64)
    batches = list(batches)
    for i, batch in enumerate(batches):
        batch, group_runs = _packed_first(batch, slot_of[batch.nodes] < 0)
        batches[i] = batch
        slots = slot_of[batch.nodes]
        cold = np.flatnonzero(slots < 0)
        warm = np.flatnonzero(slots >= 0)
        cold_positions.append(cold)
        cached_positions.append(warm)
        cache_slots.append(slots[warm])
        runs.append(group_runs)
        offsets[i + 1] = offsets[i] + cold.size
    path = Path(directory) / "packed.f32"
    path.parent.mkdir(parents=True, exist_ok=True)
    total = int(offsets[-1])
    packed = np.memmap(path, dtype=np.float32, mode="w+", shape=(max(total, 1), graph.num_features))
    # Batched packing: gather many batches' rows with one sorted read of the raw file.
    group = 64
    for start in range(0, len(batches), group):
        stop = min(start + group, len(batches))
        ids = (
            np.concatenate([batches[i].nodes[cold_positions[i]] for i in range(start, stop)])
            if stop > start
            else np.zeros(0, np.int64)
        )
        if ids.size:
            order = np.argsort(ids, kind="stable")
            rows = np.empty((ids.size, graph.num_features), dtype=np.float32)
            rows[order] = raw[ids[order]]
            packed[offsets[start] : offsets[stop]] = rows
    packed.flush()
    del packed
    return PackedEpoch(
        path,
        graph.num_features,
        batches,
        offsets,
        runs,
        cold_positions,
        cached_positions,
        cache_slots,
        cache,
    )


def _packed_first(batch: SampledBatch, cold: np.ndarray) -> tuple[SampledBatch, np.ndarray]:
    """The batch with, inside each node group, its ``cold`` nodes first (stable).

    Returns the reordered batch (edges relabelled) and one row per group: group start,
    end of its cold nodes, group end.
    """
    bounds = [0, batch.seeds, batch.num_hop1, batch.nodes.size]
    order_parts, group_runs = [], []
    for start, stop in itertools.pairwise(bounds):
        group = cold[start:stop]
        order_parts.append(start + np.argsort(~group, kind="stable"))
        group_runs.append((start, start + int(group.sum()), stop))
    runs = np.array(group_runs, dtype=np.int64)
    order = np.concatenate(order_parts)
    if np.array_equal(order, np.arange(order.size)):
        return batch, runs
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    edges = [(position[source], position[target]) for source, target in batch.edges]
    return SampledBatch(batch.seeds, batch.num_hop1, batch.nodes[order], edges), runs


def read_amplification(graph: DiskGraph, epoch: PackedEpoch) -> dict[str, float]:
    """Bytes read per useful byte, packed vs naive per-row reads, over the epoch."""
    row_bytes = graph.num_features * 4
    useful = packed_read = naive_read = 0
    for i, batch in enumerate(epoch.batches):
        cold_ids = batch.nodes[epoch.cold_positions[i]]
        useful += cold_ids.size * row_bytes
        start = int(epoch.offsets[i]) * row_bytes
        stop = int(epoch.offsets[i + 1]) * row_bytes
        if stop > start:
            packed_read += ((stop - 1) // PAGE - start // PAGE + 1) * PAGE
        first = (cold_ids * row_bytes) // PAGE
        last = (cold_ids * row_bytes + row_bytes - 1) // PAGE
        pages = np.unique(np.concatenate([first, last]))
        naive_read += pages.size * PAGE
    useful = max(useful, 1)
    return {
        "packed_bytes_per_useful_byte": packed_read / useful,
        "naive_bytes_per_useful_byte": naive_read / useful,
        "useful_bytes": float(useful),
    }


def _fill_cached(epoch: PackedEpoch, index: int, out: np.ndarray) -> None:
    slots = epoch.cache_slots[index]
    taken = 0
    for _, cold_stop, stop in epoch.runs[index]:
        if stop > cold_stop:
            count = stop - cold_stop
            np.take(epoch.cache, slots[taken : taken + count], axis=0, out=out[cold_stop:stop])
            taken += count


def _packed_runs(epoch: PackedEpoch, index: int, out: np.ndarray) -> list[np.ndarray]:
    return [out[start:cold_stop] for start, cold_stop, _ in epoch.runs[index] if cold_stop > start]


def gather_packed(epoch: PackedEpoch, index: int, packed: np.ndarray | PackedFile) -> np.ndarray:
    """The feature matrix of ``epoch.batches[index]``: one read plus cache rows.

    ``packed`` is `PackedEpoch.open` (one ``preadv`` per batch) or
    `PackedEpoch.packed` (a memory map). Rows follow the node order of
    ``epoch.batches[index]``.
    """
    batch = epoch.batches[index]
    out = np.empty((batch.nodes.size, epoch.num_features), dtype=np.float32)
    start = int(epoch.offsets[index])
    buffers = _packed_runs(epoch, index, out)
    if isinstance(packed, PackedFile):
        packed.read_into(start, buffers)
    else:
        for buffer in buffers:
            buffer[...] = packed[start : start + buffer.shape[0]]
            start += buffer.shape[0]
    _fill_cached(epoch, index, out)
    return out


def iter_packed(
    epoch: PackedEpoch,
    window: int = 4,
    before_read: Callable[[int], None] | None = None,
) -> Generator[np.ndarray, None, None]:
    """The feature matrices of all batches in order, ``window`` batches per ``preadv``.

    The packed file holds consecutive batches back to back, so ``window`` batches are
    one sequential range: one system call fills all their packed runs in place.
    ``before_read(index)`` runs before each read, with its first batch's index.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    count = len(epoch.batches)
    # preadv accepts at most IOV_MAX (1024 on Linux) buffers, three per batch.
    window = min(window, 300)
    with epoch.open() as packed:
        for first in range(0, count, window):
            last = min(first + window, count)
            outs = [
                np.empty((epoch.batches[i].nodes.size, epoch.num_features), dtype=np.float32)
                for i in range(first, last)
            ]
            if before_read is not None:
                before_read(first)
            packed.read_into(
                int(epoch.offsets[first]),
                [
                    b
                    for i, out in zip(range(first, last), outs, strict=True)
                    for b in _packed_runs(epoch, i, out)
                ],
            )
            for i, out in zip(range(first, last), outs, strict=True):
                _fill_cached(epoch, i, out)
                yield out


def gather_naive(batch: SampledBatch, raw: np.ndarray) -> np.ndarray:
    """The same matrix read row by row from the raw file in the batch's node order."""
    return np.asarray(raw[batch.nodes])


class PrefetchLoader:
    """Iterates an epoch's batches; a thread reads up to ``depth`` batches ahead.

    The thread reads ``window`` batches per system call (`iter_packed`).
    ``before_read(index)`` runs on the reading thread before each read, with the index
    of its first batch (the speed benchmark drops the file's cached pages there, to
    keep reads cold).
    """

    def __init__(
        self,
        epoch: PackedEpoch,
        depth: int = 2,
        before_read: Callable[[int], None] | None = None,
        window: int = 2,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.epoch = epoch
        self.depth = depth
        self.before_read = before_read
        self.window = window

    def __len__(self) -> int:
        return len(self.epoch.batches)

    def __iter__(self) -> Iterator[tuple[SampledBatch, np.ndarray]]:
        slots: queue.Queue[tuple[int, np.ndarray] | BaseException | None] = queue.Queue(self.depth)
        stop = threading.Event()

        def produce() -> None:
            try:
                reading = iter_packed(self.epoch, self.window, self.before_read)
                with contextlib.closing(reading) as features:
                    for index, matrix in enumerate(features):
                        if stop.is_set():
                            return
                        slots.put((index, matrix))
                slots.put(None)
            except BaseException as error:
                slots.put(error)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        try:
            while True:
                item = slots.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                index, features = item
                yield self.epoch.batches[index], features
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    slots.get_nowait()
                except queue.Empty:
                    thread.join(0.01)
