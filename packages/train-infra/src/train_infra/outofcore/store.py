"""Per-batch packed feature file, RAM cache tier, prefetching loader, read accounting.

After offline sampling the loader knows, for every batch of the epoch, which feature
rows it needs. :func:`pack_epoch` writes, batch after batch, the rows that are not in
the RAM cache contiguously into ``packed.f32``, so reading a batch is one sequential
read instead of one scattered read per node (read amplification: a 4 KiB page read for
a 256-byte row). The cache holds the rows accessed most often over the epoch.

Bytes read per useful byte counts whole 4 KiB pages, as a disk serves them:

* packed: the pages spanned by the batch's contiguous byte range;
* naive: the distinct pages of the raw file that hold the batch's rows.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
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
    batches: list[SampledBatch]
    offsets: np.ndarray  # row offset of each batch in the packed file (len = batches + 1)
    cold_positions: list[np.ndarray]  # positions in batch.nodes of the packed rows
    cached_positions: list[np.ndarray]  # positions in batch.nodes served by the cache
    cache_slots: list[np.ndarray]  # slots in the cache array of those rows
    cache: np.ndarray  # hot rows held in RAM
    stats: dict[str, float] = field(default_factory=dict)

    def packed(self) -> np.ndarray:
        """The packed file as a read-only memory map (see :meth:`open` for the fast path)."""
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
        view = memoryview(out.reshape(-1).view(np.uint8).data)
        offset, done = start * self.row_bytes, 0
        while done < view.nbytes:
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"packed file ended at byte {offset + done}, rows {start}:{stop}")
            done += got
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
) -> PackedEpoch:
    """Pack the cold rows of every batch contiguously on disk; cache the hottest rows."""
    if cache_rows < 0:
        raise ValueError(f"cache_rows must be >= 0, got {cache_rows}")
    raw = graph.features()
    counts = np.zeros(graph.num_nodes, dtype=np.int64)
    for batch in batches:
        counts[batch.nodes] += 1
    hot = np.argsort(-counts, kind="stable")[: min(cache_rows, graph.num_nodes)]
    hot = np.sort(hot[counts[hot] > 0])
    slot_of = np.full(graph.num_nodes, -1, dtype=np.int64)
    slot_of[hot] = np.arange(hot.size)
    cache = (
        np.ascontiguousarray(raw[hot])
        if hot.size
        else np.zeros((0, graph.num_features), np.float32)
    )
    cold_positions, cached_positions, cache_slots = [], [], []
    offsets = np.zeros(len(batches) + 1, dtype=np.int64)
    for i, batch in enumerate(batches):
        slots = slot_of[batch.nodes]
        cold = np.flatnonzero(slots < 0)
        warm = np.flatnonzero(slots >= 0)
        cold_positions.append(cold)
        cached_positions.append(warm)
        cache_slots.append(slots[warm])
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
        cold_positions,
        cached_positions,
        cache_slots,
        cache,
    )


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


def gather_packed(epoch: PackedEpoch, index: int, packed: np.ndarray | PackedFile) -> np.ndarray:
    """The feature matrix of batch ``index``: one contiguous read plus cache rows.

    ``packed`` is :meth:`PackedEpoch.open` (one ``preadv`` per batch) or
    :meth:`PackedEpoch.packed` (a memory map).
    """
    batch = epoch.batches[index]
    start, stop = int(epoch.offsets[index]), int(epoch.offsets[index + 1])
    if epoch.cached_positions[index].size == 0:
        # No cached rows: the packed range is the batch, in order.
        if isinstance(packed, PackedFile):
            return packed.read_rows(start, stop)
        return np.array(packed[start:stop])
    rows = packed.read_rows(start, stop) if isinstance(packed, PackedFile) else packed[start:stop]
    out = np.empty((batch.nodes.size, epoch.num_features), dtype=np.float32)
    out[epoch.cold_positions[index]] = rows
    if epoch.cached_positions[index].size:
        out[epoch.cached_positions[index]] = epoch.cache[epoch.cache_slots[index]]
    return out


def gather_naive(batch: SampledBatch, raw: np.ndarray) -> np.ndarray:
    """The same matrix read row by row from the raw file in the batch's node order."""
    return np.asarray(raw[batch.nodes])


class PrefetchLoader:
    """Iterates an epoch's batches; a thread reads up to ``depth`` batches ahead.

    ``before_read(index)`` runs on the reading thread before batch ``index`` is read
    (the speed benchmark drops the file's cached pages there, to keep reads cold).
    """

    def __init__(
        self,
        epoch: PackedEpoch,
        depth: int = 2,
        before_read: Callable[[int], None] | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.epoch = epoch
        self.depth = depth
        self.before_read = before_read

    def __len__(self) -> int:
        return len(self.epoch.batches)

    def __iter__(self) -> Iterator[tuple[SampledBatch, np.ndarray]]:
        slots: queue.Queue[tuple[int, np.ndarray] | BaseException | None] = queue.Queue(self.depth)
        stop = threading.Event()

        def produce() -> None:
            try:
                with self.epoch.open() as packed:
                    for index in range(len(self.epoch.batches)):
                        if stop.is_set():
                            return
                        if self.before_read is not None:
                            self.before_read(index)
                        slots.put((index, gather_packed(self.epoch, index, packed)))
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
