"""Trainer side of in-memory snapshots: asynchronous, double-buffered, erasure-coded.

Usage (the five lines of the recipe)::

    manager = start_manager()                       # a separate process
    snapshots = Snapshotter(manager.address, manager.authkey)
    snapshots.protect(optimizer)                    # optimizer.step waits for a copy
    step, position = snapshots.restore(model, optimizer) or (0, 0)
    ...  # after each optimizer.step():
    snapshots.snapshot(model, optimizer, step=step + 1, loader_position=position)

`Snapshotter.snapshot` takes RNG states, metadata and buffers now and copies the
parameters and optimizer state into the manager's spare shared-memory segment on a
background thread, while the next forward and backward run (they do not change
parameters). ``optimizer.step()`` waits (through the hook installed by `protect`)
only until that copy is done; the commit to the manager, the checksum, erasure coding
and, every ``persist_every`` snapshots, atomic persistence run after it on the same
thread. The next `snapshot` waits for all of it: at most one snapshot is in
flight, so the manager's latest committed snapshot is never the one being written.

With ``peers`` (the managers of other ranks) and ``k``/``m``, the same thread then
erasure-codes the packed snapshot and places fragment ``j`` on peer ``(rank + j) mod N``,
so the state of a rank survives the loss of any ``m`` nodes; ``encode_every`` spaces
these out to every n-th snapshot.

The fast path: with a `PingPongAdamW` optimizer,
`Snapshotter.snapshot` copies nothing. The optimizer already computed the step
out of place into the second of two shared-memory slots held by the manager, so the
live slot is the snapshot: it is committed with a small header (RNG states, buffers,
step counters). Erasure coding and persistence of that slot then run on a background
thread, at the ``encode_every``/``persist_every`` frequency, while it stays idle: the
optimizer update that would overwrite it (the step after next) waits for them.

About 650 lines on purpose: `Snapshotter` is one state machine (copy, encode,
persist, load with fallback) whose invariants are easier to check in one file; the
manager, persistence, erasure code and state capture already have modules of their own.
"""

# Over 600 lines on purpose: the trainer side of one protocol (slots, persistence, close);
# splitting it would scatter its invariants.
from __future__ import annotations

import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

import torch

from train_infra.snapshot.erasure import ErasureCode, Fragment
from train_infra.snapshot.errors import (
    IncompatibleSnapshotError,
    NotEnoughFragmentsError,
    SnapshotError,
    SnapshotFallbackWarning,
    TruncatedSnapshotError,
    UnrecoverableSnapshotError,
)
from train_infra.snapshot.manager import Address, ManagerClient
from train_infra.snapshot.pingpong import PingPongAdamW
from train_infra.snapshot.state import (
    TrainingState,
    capture_state,
    checksum,
    decode_inline,
    layout,
    pack_into,
    restore_state,
    unpack,
    unpack_state,
)


class Snapshotter:
    """Asynchronous in-memory snapshots of one rank into its manager process."""

    def __init__(
        self,
        address: Address,
        authkey: bytes,
        rank: int = 0,
        peers: list[tuple[Address, bytes]] | None = None,
        k: int = 1,
        m: int = 0,
        persist_dir: str | None = None,
        persist_every: int = 0,
        encode_every: int = 1,
        transport: str = "tcp",
    ) -> None:
        if transport not in ("tcp", "gloo"):
            raise ValueError(f"transport must be 'tcp' or 'gloo', got {transport!r}")
        if encode_every < 1:
            raise ValueError(f"encode_every must be >= 1 (1 = every snapshot), got {encode_every}")
        if persist_every < 0:
            raise ValueError(f"persist_every must be >= 0 (0 = never), got {persist_every}")
        if persist_every and persist_dir is None:
            raise ValueError("persist_every > 0 needs a persist_dir")
        self.rank = rank
        self.persist_dir = persist_dir
        self.persist_every = persist_every
        if self.persist_root is not None and self.persist_root.is_dir():
            from train_infra.snapshot.persist import sweep_stale

            sweep_stale(self.persist_root)  # what a killed writer of this rank left
        self.encode_every = encode_every
        self.client = ManagerClient(address, authkey)
        self.peers = peers or []
        self.code = ErasureCode(k, m) if self.peers else None
        if self.peers and k + m > len(self.peers):
            raise ValueError(
                f"k + m = {k + m} fragments need as many ranks, but there are {len(self.peers)}"
            )
        self._peer_clients: dict[int, ManagerClient] = {}
        self._attached: weakref.WeakSet[PingPongAdamW] = weakref.WeakSet()
        self.transport = transport
        self._group: Any = None
        if transport == "gloo" and self.code is not None:
            self._group = self._gloo_group()
        self._thread: threading.Thread | None = None
        self._copied = threading.Event()
        self._copied.set()
        self._error: BaseException | None = None
        self._error_step: int | None = None
        self._reader: str | None = None  # the ping-pong slot a background job reads
        self._count = 0  # snapshots started (their encode_every phase)
        self.wait_seconds = 0.0
        self.snapshots_taken = 0

    # -- taking snapshots -------------------------------------------------------------

    def protect(self, optimizer: torch.optim.Optimizer) -> None:
        """Make ``optimizer.step()`` wait until a snapshot in flight has copied the state.

        Only the copy must finish before parameters change; the commit to the manager
        and the fragment placement go on in the background.
        """
        optimizer.register_step_pre_hook(lambda *_: self.wait_copied())

    def wait_copied(self) -> None:
        """Block until the snapshot in flight no longer reads the live tensors."""
        if not self._copied.is_set():
            start = time.perf_counter()
            self._copied.wait()
            self.wait_seconds += time.perf_counter() - start

    def wait(self) -> None:
        """Block until the snapshot in flight (if any) is committed; re-raise its error."""
        if self._thread is not None:
            start = time.perf_counter()
            self._thread.join()
            self.wait_seconds += time.perf_counter() - start
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            detail = str(error) or "no message"
            raise SnapshotError(
                f"snapshot of rank {self.rank} at step {self._error_step} failed: "
                f"{type(error).__name__}: {detail}"
            ) from error

    def snapshot(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None,
        step: int,
        loader_position: Any = None,
        blocking: bool = False,
    ) -> None:
        """Snapshot the state after ``step`` steps; copies in the background.

        With a `PingPongAdamW` there is nothing to copy: the live slot is
        committed as it is (see the module docstring).
        """
        if isinstance(optimizer, PingPongAdamW):
            self._snapshot_pingpong(model, optimizer, step, loader_position, blocking)
            return
        self.wait()  # double buffering: at most one snapshot in flight
        state = capture_state(model, optimizer, step, loader_position)
        encode = self._count % self.encode_every == 0
        self._count += 1
        self._copied.clear()
        self._reader = None
        self._thread = threading.Thread(target=self._write, args=(state, encode), daemon=True)
        self._thread.start()
        if blocking:
            self.wait()

    def _snapshot_pingpong(
        self,
        model: torch.nn.Module,
        optimizer: PingPongAdamW,
        step: int,
        loader_position: Any,
        blocking: bool,
    ) -> None:
        if optimizer.snapshotter is not self:
            raise SnapshotError("this PingPongAdamW keeps its slots with another Snapshotter")
        if self._error is not None:
            self.wait()  # re-raises the background job's error
        name, header = optimizer.snapshot_header(model, step, loader_position)
        header["rank"] = self.rank
        self.client.request("commit", name, header)
        optimizer.live_committed = True
        self.snapshots_taken += 1
        encode = self.code is not None and self._count % self.encode_every == 0
        self._count += 1
        persist = bool(self.persist_every) and step % self.persist_every == 0
        if encode or persist:
            self.wait()  # at most one background job
            self._reader = name
            self._thread = threading.Thread(
                target=self._background, args=(name, header, encode, persist), daemon=True
            )
            self._thread.start()
        if blocking:
            self.wait()

    def _background(self, name: str, header: dict[str, Any], encode: bool, persist: bool) -> None:
        """Fragments and persistence of a committed ping-pong slot, while it is idle."""
        try:
            memory = self.client.segment(name)
            if encode:
                self._place_fragments(memory, header)
            if persist:
                from train_infra.snapshot.persist import persist as write

                data = torch.frombuffer(memory.buf, dtype=torch.uint8, count=header["size"])
                tensors = unpack(data, header["manifest"], copy=False)
                tensors.update(decode_inline(header["inline"]))
                assert self.persist_dir is not None
                target = f"{self.persist_dir}/rank-{self.rank}"
                write(TrainingState(tensors, header["meta"]), target)
                del tensors, data
        except BaseException as error:
            self._error, self._error_step = error, int(header["meta"]["step"])

    def before_overwrite(self, name: str) -> None:
        """Called by `PingPongAdamW` before it writes into the committed slot ``name``.

        Waits for a background job still reading it, then has the manager forget that
        snapshot, so a crash during the write cannot leave a torn one looking intact.
        """
        if self._thread is not None and self._reader == name:
            self.wait()
        self.client.request("reopen", name)

    def _write(self, state: TrainingState, encode: bool = True) -> None:
        try:
            manifest, size = layout(state.tensors)
            name = self.client.request("begin", size)
            memory = self.client.segment(name)
            target = torch.frombuffer(memory.buf, dtype=torch.uint8, count=size)
            pack_into(target, state.tensors, manifest)
            self._copied.set()
            header = {
                "manifest": manifest,
                "meta": state.meta,
                "size": size,
                "crc": checksum(target),
                "rank": self.rank,
            }
            self.client.request("commit", name, header)
            if self.code is not None and encode:
                self._place_fragments(memory, header)
            step = int(state.meta["step"])
            if self.persist_every and step % self.persist_every == 0:
                from train_infra.snapshot.persist import persist

                views = unpack(target, manifest, copy=False)
                assert self.persist_dir is not None
                persist(TrainingState(views, state.meta), f"{self.persist_dir}/rank-{self.rank}")
                del views
            del target
            self.snapshots_taken += 1
        except BaseException as error:
            self._error, self._error_step = error, int(state.meta["step"])
        finally:
            self._copied.set()

    def _peer(self, index: int) -> ManagerClient:
        if index not in self._peer_clients:
            address, key = self.peers[index]
            # A lost node refuses connections: give up quickly instead of retrying.
            self._peer_clients[index] = ManagerClient(address, key, timeout_s=2.0)
        return self._peer_clients[index]

    def _gloo_group(self) -> Any:
        """A gloo group of all ranks, for fragments only (collective: every rank calls it)."""
        import datetime

        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("transport='gloo' needs an initialised torch.distributed job")
        if dist.get_world_size() != len(self.peers) or dist.get_rank() != self.rank:
            raise ValueError(
                f"transport='gloo': rank {self.rank} of {len(self.peers)} peers, but the "
                f"process group says rank {dist.get_rank()} of {dist.get_world_size()}"
            )
        return dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=60))

    def _place_fragments(self, memory: Any, header: dict[str, Any]) -> None:
        assert self.code is not None
        data = torch.frombuffer(memory.buf, dtype=torch.uint8, count=header["size"])
        fragments = self.code.encode(data)
        del data
        world = len(self.peers)
        meta = {"size": header["size"], "header": header, "k": self.code.k, "m": self.code.m}
        if self._group is not None:
            self._exchange_fragments(fragments, meta, header["meta"]["step"])
            return
        for fragment in fragments:
            holder = (self.rank + fragment.index) % world
            self._peer(holder).request(
                "put_fragment",
                self.rank,
                header["meta"]["step"],
                fragment.index,
                fragment.payload.numpy().tobytes(),
                {**meta, "crc": fragment.crc},
            )

    def _exchange_fragments(
        self, fragments: list[Fragment], meta: dict[str, Any], step: int
    ) -> None:
        """Fragment ``j`` to rank ``(rank + j) mod N`` over gloo; store what arrives here.

        Every rank calls this for the same snapshots in the same order (snapshots in
        lockstep, the same ``encode_every``): first the ranks swap the fragments'
        metadata, then one batch of point-to-point sends and receives moves the
        payloads; each rank puts the fragments it received into its own manager.
        """
        import torch.distributed as dist

        world = len(self.peers)
        mine = {
            "step": step,
            "meta": meta,
            "crcs": [f.crc for f in fragments],
            "nbytes": fragments[0].payload.numel(),
        }
        everyone: list[Any] = [None] * world
        dist.all_gather_object(everyone, mine, group=self._group)
        operations = []
        received: list[tuple[int, int, torch.Tensor]] = []
        for fragment in fragments:
            holder = (self.rank + fragment.index) % world
            if holder == self.rank:
                received.append((self.rank, fragment.index, fragment.payload))
            else:
                operations.append(
                    dist.P2POp(dist.isend, fragment.payload.contiguous(), holder, self._group)
                )
        for index in range(len(fragments)):
            owner = (self.rank - index) % world
            if owner != self.rank:
                buffer = torch.empty(everyone[owner]["nbytes"], dtype=torch.uint8)
                operations.append(dist.P2POp(dist.irecv, buffer, owner, self._group))
                received.append((owner, index, buffer))
        for request in dist.batch_isend_irecv(operations) if operations else []:
            request.wait()
        for owner, index, payload in received:
            theirs = everyone[owner]
            self.client.request(
                "put_fragment",
                owner,
                theirs["step"],
                index,
                payload.numpy().tobytes(),
                {**theirs["meta"], "crc": theirs["crcs"][index]},
            )

    # -- restoring --------------------------------------------------------------------
    #
    # Three tiers hold a step: this rank's manager (memory), the fragments on its peers
    # and the persisted folder. A step any tier knows of is a candidate; `load` tries
    # the newest first, each tier in that order, and a step that no tier can give back
    # is reported, never dropped: restore falls back to the next one with a warning, and
    # raises when candidates exist but none can be restored.

    @property
    def persist_root(self) -> Path | None:
        """This rank's persistence folder (``persist_dir/rank-R``), if any."""
        return None if self.persist_dir is None else Path(self.persist_dir) / f"rank-{self.rank}"

    def local_steps(self) -> list[int]:
        """Steps of the full snapshots this rank's manager holds (checked at load)."""
        return [h["meta"]["step"] for _, h in self.client.request("snapshots")]

    def _fragment_counts(self) -> dict[int, int]:
        """For every step with a fragment of this rank on a reachable peer: how many."""
        counts: dict[int, int] = {}
        if self.code is None:
            return counts
        for index in range(len(self.peers)):
            try:
                keys = self._peer(index).request("fragment_index")
            except Exception:
                continue  # a lost node
            for owner, step, _ in keys:
                if owner == self.rank:
                    counts[step] = counts.get(step, 0) + 1
        return counts

    def fragment_steps(self) -> list[int]:
        """Steps for which at least ``k`` fragments of this rank answer their peers."""
        if self.code is None:
            return []
        return sorted(s for s, n in self._fragment_counts().items() if n >= self.code.k)

    def _persisted(self) -> tuple[list[int], dict[int, str]]:
        if self.persist_root is None or not self.persist_root.is_dir():
            return [], {}
        from train_infra.snapshot.persist import persisted_steps

        return persisted_steps(self.persist_root)

    def step_report(self) -> tuple[list[int], dict[int, str]]:
        """``(restorable steps, {damaged step: why})``, from one survey of every tier.

        A step is restorable from memory, from at least ``k`` fragments or from an
        intact persisted folder; it is damaged when some tier knows of it but none of
        them can give it back (fewer than ``k`` fragments answer, its files fail their
        checks).
        """
        local = set(self.local_steps())
        counts = self._fragment_counts()
        on_disk, broken = self._persisted()
        k = self.code.k if self.code is not None else 1
        available = local | {s for s, n in counts.items() if n >= k} | set(on_disk)
        damaged: dict[int, str] = {}
        for step, count in counts.items():
            if step not in available:
                damaged[step] = (
                    f"rank {self.rank}, step {step}: {count} fragment(s) answer, k={k} are needed"
                )
        for step, why in broken.items():
            if step not in available:
                damaged[step] = f"{damaged[step]}; {why}" if step in damaged else why
        return sorted(available), damaged

    def available_steps(self) -> list[int]:
        """Every step this rank can restore: from memory, fragments or the persisted folder.

        Steps that exist but cannot be restored are in `damaged_steps`, not here.
        """
        return self.step_report()[0]

    def damaged_steps(self) -> dict[int, str]:
        """Steps some tier knows of that none can restore, with why (fragments, files)."""
        return self.step_report()[1]

    def _candidate_steps(self) -> list[int]:
        available, damaged = self.step_report()
        return sorted(set(available) | set(damaged), reverse=True)

    def _load_step(self, step: int, copy: bool) -> TrainingState:
        """The state at ``step`` from the first tier that gives it back intact."""
        problems: list[tuple[str, Exception]] = []
        for name, header in self.client.request("snapshots"):
            if header["meta"]["step"] == step:
                memory = self.client.segment(name)
                data = torch.frombuffer(memory.buf, dtype=torch.uint8, count=header["size"])
                try:
                    return unpack_state(data, header, copy=copy)
                except SnapshotError as error:
                    problems.append(("in the manager's memory", error))
        counts = self._fragment_counts()
        if counts.get(step):
            try:
                return self._load_from_fragments(step)
            except SnapshotError as error:
                problems.append(("from fragments", error))
        root = self.persist_root
        if root is not None and (root / f"step-{step:08d}").is_dir():
            from train_infra.snapshot.persist import load_persisted

            try:
                return load_persisted(root, step=step)
            except (SnapshotError, OSError) as error:
                problems.append(("from disk", error))
        if not problems:
            raise SnapshotError(
                f"rank {self.rank} holds no snapshot of step {step} in memory, fragments or "
                f"on disk (restorable: {self.available_steps()})"
            )
        message = f"rank {self.rank}, step {step}: " + "; ".join(f"{w}: {e}" for w, e in problems)
        kinds = {type(error) for _, error in problems}
        single = kinds.pop() if len(kinds) == 1 else SnapshotError
        known = (NotEnoughFragmentsError, TruncatedSnapshotError, IncompatibleSnapshotError)
        raise (single if single in known else SnapshotError)(message)

    def load(
        self, step: int | None = None, copy: bool = True, fallback: bool = True
    ) -> TrainingState | None:
        """The state at ``step`` (default: the newest restorable), from any tier.

        None only when this rank knows of no snapshot at all. When the newest one cannot
        be restored, the newest that can is returned with a `SnapshotFallbackWarning`
        naming what was skipped and why (``fallback=False``: a `SnapshotError` naming
        the step that could be restored); when none can, `UnrecoverableSnapshotError`.
        With ``copy=False`` tensors may be views of the manager's memory, valid until
        the next snapshot: enough for `restore`, which copies them into the model and
        the optimizer (into the optimizer's own state tensors where it has them).
        """
        self.wait()
        if step is not None:
            return self._load_step(step, copy)
        problems: dict[str, str] = {}
        for candidate in self._candidate_steps():
            try:
                state = self._load_step(candidate, copy)
            except SnapshotError as error:
                problems[f"step {candidate}"] = str(error)
                continue
            if problems:
                skipped = "; ".join(problems.values())
                if not fallback:
                    raise SnapshotError(
                        f"rank {self.rank}: the newest snapshot cannot be restored ({skipped}); "
                        f"step {candidate} can: pass fallback=True or step={candidate}"
                    )
                message = f"rank {self.rank}: restoring step {candidate} instead ({skipped})"
                warnings.warn(message, SnapshotFallbackWarning, stacklevel=2)
            return state
        if problems:
            raise UnrecoverableSnapshotError(
                f"rank {self.rank}: snapshots exist but none can be restored: "
                + "; ".join(problems.values()),
                problems,
            )
        return None

    def _load_from_fragments(self, step: int) -> TrainingState:
        assert self.code is not None
        fragments: list[Fragment] = []
        meta: dict[str, Any] | None = None
        for index in range(self.code.k + self.code.m):
            holder = (self.rank + index) % len(self.peers)
            try:
                found = self._peer(holder).request("get_fragment", self.rank, step, index)
            except Exception:
                continue
            if found is None:
                continue
            payload, meta = found
            fragments.append(
                Fragment(
                    index, torch.frombuffer(bytearray(payload), dtype=torch.uint8), meta["crc"]
                )
            )
        if meta is None:
            raise NotEnoughFragmentsError(
                f"no fragment of rank {self.rank} at step {step} survives on any peer"
            )
        data = self.code.decode(fragments, meta["size"])
        return unpack_state(data, meta["header"])

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        step: int | None = None,
        fallback: bool = True,
        required: bool = False,
    ) -> tuple[int, Any] | None:
        """Restore the newest restorable (or the given) snapshot: ``(step, loader_position)``.

        None only on a true fresh start: this rank knows of no snapshot in memory, in
        fragments or on disk (``required=True`` makes that an error too, for a restart
        that knows it is one). Damaged newer snapshots are skipped with a warning, or
        refused with ``fallback=False`` (see `load`); model, optimizer and RNGs are
        checked against the snapshot before any of them changes.
        """
        state = self.load(step, copy=False, fallback=fallback)
        if state is None:
            if required:
                raise UnrecoverableSnapshotError(
                    f"rank {self.rank}: a snapshot is required but none exists in its "
                    f"manager at {self.client.address}, on its {len(self.peers)} peers or "
                    f"under {self.persist_root}",
                    {},
                )
            return None
        restore_state(state, model, optimizer)
        return state.step, state.loader_position

    def restore_agreed(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        required: bool = False,
    ) -> tuple[int, Any] | None:
        """Restore the newest step that every rank of the default process group can restore.

        Ranks gather their `available_steps` and `damaged_steps` and all restore the
        largest common available step, so they continue from the same step; without an
        initialised ``torch.distributed`` group this is `restore`. Returns None only when
        no rank knows of any snapshot; when some rank does but no step is common to all,
        every rank raises `UnrecoverableSnapshotError` (a partial fresh start would
        desynchronise the job).
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self.restore(model, optimizer, required=required)
        available, damaged = self.step_report()
        mine = (available, sorted(damaged))
        everyone: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(everyone, mine)
        common = set(everyone[0][0]).intersection(*(steps for steps, _ in everyone[1:]))
        if not common:
            if not required and not any(steps or damaged for steps, damaged in everyone):
                return None
            report = "; ".join(
                f"rank {r}: restorable {steps}, damaged {damaged}"
                for r, (steps, damaged) in enumerate(everyone)
            )
            raise UnrecoverableSnapshotError(
                f"rank {self.rank}: no step every rank can restore ({report})",
                {f"rank {r}": str(entry) for r, entry in enumerate(everyone)},
            )
        chosen = max(common)
        newer = sorted({s for _, damaged in everyone for s in damaged if s > chosen})
        if newer:
            warnings.warn(
                f"rank {self.rank}: restoring step {chosen}, the newest every rank can "
                f"restore; steps {newer} are damaged on some rank (see damaged_steps)",
                SnapshotFallbackWarning,
                stacklevel=2,
            )
        return self.restore(model, optimizer, step=chosen)

    def attach(self, optimizer: PingPongAdamW) -> None:
        """Remember a `PingPongAdamW` whose slots this snapshotter's memory holds."""
        self._attached.add(optimizer)

    def close(self) -> None:
        """Wait for the copy in flight, then drop the connections (the manager keeps all).

        Ping-pong optimizers still alive are detached first: their parameters move to
        process memory, so the model stays usable after the slots are unmapped.
        """
        try:
            self.wait()
        finally:
            for optimizer in list(self._attached):
                optimizer.detach()
            self._attached.clear()
            self.client.close()
            for client in self._peer_clients.values():
                client.close()
