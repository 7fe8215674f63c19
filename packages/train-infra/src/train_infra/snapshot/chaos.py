"""Fault injection on snapshots: every fault is survived or refused loudly, never silently.

Four fault kinds, each a function returning `ChaosCounts` (the ``snapshot-chaos``
benchmark reports them; the package's tests run small versions):

- `kill_in_persist`: a forked writer persists steps (and rewrites of the same step) in a
  loop and is SIGKILLed, half the time after a random delay, half the time at a chosen
  stage of `train_infra.snapshot.persist.persist`. After each kill the next reader must
  load the newest durable step or the one in flight, tensor for tensor, and leave no
  temporary file behind.
- `flip_bits`: every bit of the newest step's ``meta.json`` and of ``LATEST``, and a
  sample of the shard's bits, flipped one at a time: the load must raise an error
  naming the file, fall back (with a warning) to the intact older step, or give values
  identical to the original.
- `lose_fragments`: $m + 1$ of a rank's $k + m$ erasure-coded fragments lost with its
  manager: ``restore`` must raise, never return None (a silent fresh start), and a
  persisted copy must be used when one exists.
- `wrong_optimizer`: restores into a wrong optimizer, model or with malformed RNG
  states must raise and leave model, optimizer and RNGs untouched.

What counts as a failure: ``silent_wrong_restore`` (values that differ from what was
saved, with no error), ``silent_fresh_start`` (no snapshot reported although one was
durable), ``lost_durable_copy`` (an error or an older step although a newer one was
durable), ``partial_restore`` (an error after something was changed),
``unnamed_errors`` (an exception that is not a `SnapshotError` naming the file) and
``leftovers`` (temporary files a restart does not clean).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import signal
import struct
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from train_infra.snapshot.errors import (
    IncompatibleSnapshotError,
    SnapshotError,
    SnapshotFallbackWarning,
)
from train_infra.snapshot.outcomes import ChaosCounts
from train_infra.snapshot.persist import LATEST, load_persisted, persist, step_name
from train_infra.snapshot.state import TrainingState, capture_state, restore_state


def _hidden(root: Path) -> list[str]:
    """Names under ``root`` a finished writer never leaves (temp, aside, trash files)."""
    keep = {LATEST}
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".") and p.name not in keep)


# ---------------------------------------------------------------------------------------
# SIGKILL inside persist.


def _payload(step: int, version: int) -> TrainingState:
    """A state whose every value is a function of ``(step, version)``."""
    generator = torch.Generator().manual_seed(step * 1_000 + version)
    tensors = {
        "model/weight": torch.randn(96, 96, generator=generator),
        "model/bias": torch.randn(96, generator=generator),
        "optim/0/exp_avg": torch.randn(96, 96, generator=generator),
    }
    meta = {"format": 1, "step": step, "loader_position": version, "optimizer": None}
    return TrainingState(tensors=tensors, meta=meta)


def _plan(start: tuple[int, int], length: int) -> list[tuple[int, int]]:
    """What a writer persists after ``start``: a new step, then that step again, ..."""
    step, version = start
    out = []
    for index in range(length):
        step, version = (step, version + 1) if index % 2 else (step + 1, 0)
        out.append((step, version))
    return out


def _writer(
    root: Path, plan: list[tuple[int, int]], report: int, aim: tuple[int, str] | None
) -> None:
    """The forked child: persist the plan, report each completion, die where aimed."""
    for index, (step, version) in enumerate(plan):

        def hook(stage: str, index: int = index) -> None:
            if aim is not None and aim == (index, stage):
                os.kill(os.getpid(), signal.SIGKILL)

        persist(_payload(step, version), root, keep=2, stage_hook=hook)
        os.write(report, struct.pack("<qq", step, version))


def _same(state: TrainingState, expected: TrainingState) -> bool:
    if set(state.tensors) != set(expected.tensors):
        return False
    return all(torch.equal(state.tensors[k], v) for k, v in expected.tensors.items())


def kill_in_persist(
    root: str | Path, kills: int, seed: int = 0, progress: Callable[[], None] | None = None
) -> tuple[ChaosCounts, dict[str, int]]:
    """SIGKILL a forked persist loop ``kills`` times; check each restart (module docstring).

    Returns the counts and what the kills hit: ``mid_persist`` (a temp or aside file was
    left: the kill landed inside a write) and ``aimed`` (killed at a chosen stage).
    """
    rng = random.Random(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    for step in range(1, 4):  # time a write, and start from a durable step
        persist(_payload(step, 0), root, keep=2)
    write_s = (time.perf_counter() - began) / 3
    durable: tuple[int, int] | None = (3, 0)
    counts, hits = ChaosCounts(), {"mid_persist": 0, "aimed": 0}
    stages = ("written", "aside", "published", "pointed")
    for trial in range(kills):
        plan = _plan(durable or (0, 0), 1_000)
        aim = None
        if trial % 2 == 0:
            stage = stages[(trial // 2) % len(stages)]
            # "aside" happens only when a step is written again (odd plan indices).
            index = rng.randrange(4) * 2 + (1 if stage == "aside" else rng.randrange(2))
            aim = (index, stage)
            hits["aimed"] += 1
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            try:
                os.close(read)
                _writer(root, plan, write, aim)
            finally:
                os._exit(0)
        os.close(write)
        if aim is None:
            time.sleep(rng.uniform(0.0, 6 * write_s))
        else:  # the child kills itself at the aimed stage; this is only a deadline
            deadline = time.perf_counter() + 30 * write_s
            while time.perf_counter() < deadline and os.waitpid(pid, os.WNOHANG)[0] == 0:
                time.sleep(0.001)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        reported = b""
        while chunk := os.read(read, 4096):
            reported += chunk
        os.close(read)
        done = len(reported) // 16
        newest = plan[done - 1] if done else durable
        acceptable = {newest, plan[done]} - {None}
        counts.trials += 1
        hits["mid_persist"] += bool(_hidden(root))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SnapshotFallbackWarning)  # a loud fallback is fine
            try:
                state = load_persisted(root)
            except FileNotFoundError as error:
                counts.fail("silent_fresh_start", f"trial {trial}: {error}")
                continue
            except SnapshotError as error:
                counts.fail("lost_durable_copy", f"trial {trial}: {error}")
                continue
            except Exception as error:
                counts.fail("unnamed_errors", f"trial {trial}: {type(error).__name__}: {error}")
                continue
        got = (state.step, int(state.loader_position))
        if not _same(state, _payload(*got)):
            counts.fail("silent_wrong_restore", f"trial {trial}: {got} loads other values")
        elif got not in acceptable:
            counts.fail("lost_durable_copy", f"trial {trial}: loaded {got}, durable {newest}")
        else:
            counts.survived += 1
        durable = got
        left = _hidden(root)
        if left:
            counts.fail("leftovers", f"trial {trial}: {left}")
        if progress is not None:
            progress()
    return counts, hits


# ---------------------------------------------------------------------------------------
# Bit flips in a small snapshot's files.


def _trained_state(step: int) -> TrainingState:
    """A small model and Adam after two updates (gradients drawn, no autograd: cheap)."""
    from train_infra.snapshot.demo import make_model

    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(step)  # the captured RNG states too are a function of step
    np.random.seed(step)
    try:
        model = make_model(8, seed=step)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(step)
        for _ in range(2):
            for parameter in model.parameters():
                parameter.grad = torch.randn(parameter.shape, generator=generator)
            optimizer.step()
        return capture_state(model, optimizer, step=step, loader_position=step * 10, clone=True)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


def flip_bit(path: Path, bit: int) -> None:
    """Flip bit ``bit`` (bit ``bit % 8`` of byte ``bit // 8``) of the file at ``path``."""
    # In place (no truncation: rewriting the whole file is ten times slower here).
    fd = os.open(path, os.O_RDWR)
    try:
        byte = os.pread(fd, 1, bit // 8)[0] ^ (1 << (bit % 8))
        os.pwrite(fd, bytes([byte]), bit // 8)
    finally:
        os.close(fd)


def _identical(state: TrainingState, expected: TrainingState) -> bool:
    meta = {k: v for k, v in state.meta.items() if k not in ("crc", "nbytes")}
    return _same(state, expected) and meta == json.loads(json.dumps(expected.meta))


def flip_bits(
    root: str | Path,
    shard_flips: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    metadata_flips: int | None = None,
) -> tuple[ChaosCounts, dict[str, int]]:
    """Flip bits of a two-step snapshot folder one at a time (module docstring).

    Every bit of the newest ``meta.json`` and of ``LATEST`` (or ``metadata_flips`` random
    bits of each); ``shard_flips`` random bits of the newest shard. Returns the counts
    and the bits flipped per file.
    """
    rng = random.Random(seed)
    root = Path(root)
    older, newer = _trained_state(1), _trained_state(2)
    persist(older, root, keep=2)
    persist(newer, root, keep=2)
    folder = root / step_name(2)
    targets = {
        "meta.json": (folder / "meta.json", metadata_flips),
        "LATEST": (root / LATEST, metadata_flips),
        "state.safetensors": (folder / "state.safetensors", shard_flips),
    }
    counts, flipped = ChaosCounts(), {}
    for label, (path, sample) in targets.items():
        size = path.stat().st_size * 8
        bits = list(range(size)) if sample is None else rng.sample(range(size), min(sample, size))
        flipped[label] = len(bits)
        for bit in bits:
            flip_bit(path, bit)
            counts.trials += 1
            where = f"bit {bit} of {label}"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    state = load_persisted(root)
                except SnapshotError as error:
                    if label not in str(error):
                        counts.fail("unnamed_errors", f"{where}: {error}")
                    else:
                        counts.survived += 1
                    state = None
                except Exception as error:
                    counts.fail("unnamed_errors", f"{where}: {type(error).__name__}: {error}")
                    state = None
            warned = [w for w in caught if issubclass(w.category, SnapshotFallbackWarning)]
            if state is not None:
                if _identical(state, newer) or (warned and _identical(state, older)):
                    counts.survived += 1
                else:
                    counts.fail(
                        "silent_wrong_restore", f"{where}: step {state.meta.get('step')} differs"
                    )
            flip_bit(path, bit)
            if progress is not None:
                progress(1)
    return counts, flipped


# ---------------------------------------------------------------------------------------
# m + 1 lost fragments.


def lose_fragments(trials: int, persist_root: str | Path) -> ChaosCounts:
    """Lose $m + 1$ fragments of rank 1 (k=2, m=1 over 3 ranks) ``trials`` times.

    Odd trials also persisted rank 1's state at an older step: restore must then
    return that step with a fallback warning. Even trials have no persisted copy:
    restore must raise `train_infra.snapshot.errors.UnrecoverableSnapshotError`.
    """
    from train_infra.snapshot.demo import make_model
    from train_infra.snapshot.manager import start_manager
    from train_infra.snapshot.snapshotter import Snapshotter

    key = b"snapshot-chaos"
    counts = ChaosCounts()
    managers = [start_manager(key) for _ in range(3)]
    try:
        for trial in range(trials):
            with_disk = trial % 2 == 1
            disk = Path(persist_root) / f"trial-{trial}"
            peers = [(mp.address, key) for mp in managers]
            models = [make_model(8, seed=10 * trial + rank) for rank in range(3)]
            optimizers = [torch.optim.Adam(m.parameters()) for m in models]
            old_state = capture_state(models[1], optimizers[1], step=5, clone=True)
            if with_disk:
                persist(old_state, disk / "rank-1")
            with torch.no_grad():
                for parameter in models[1].parameters():
                    parameter.add_(1.0)
            ranks = [
                Snapshotter(mp.address, key, r, peers, 2, 1, persist_dir=str(disk))
                for r, mp in enumerate(managers)
            ]
            for rank, snapshotter in enumerate(ranks):
                snapshotter.snapshot(models[rank], optimizers[rank], step=9, blocking=True)
                snapshotter.close()
            # Rank 1's node (its manager, fragment 0) and the holder of its fragment 1
            # are lost: one of the k = 2 fragments survives.
            lost = (1, 2)
            for index in lost:
                managers[index].kill()
                managers[index] = start_manager(key)
            peers = [(mp.address, key) for mp in managers]
            survivor = Snapshotter(managers[1].address, key, 1, peers, 2, 1, persist_dir=str(disk))
            target = make_model(8, seed=99)
            before = {k: v.clone() for k, v in target.state_dict().items()}
            counts.trials += 1
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    restored = survivor.restore(target, torch.optim.Adam(target.parameters()))
                except Exception as error:
                    refused: Exception | None = error
                else:
                    refused = None
            warned = any(issubclass(w.category, SnapshotFallbackWarning) for w in caught)
            where = f"trial {trial} ({'a persisted step 5' if with_disk else 'no copy on disk'})"
            unchanged = all(torch.equal(target.state_dict()[k], v) for k, v in before.items())
            expected = {k[6:]: v for k, v in old_state.tensors.items() if k[:6] == "model/"}
            if refused is not None and not isinstance(refused, SnapshotError):
                counts.fail("unnamed_errors", f"{where}: {type(refused).__name__}: {refused}")
            elif refused is not None and with_disk:
                counts.fail("lost_durable_copy", f"{where}: {refused}")
            elif refused is not None and not unchanged:
                counts.fail("partial_restore", f"{where}: {refused}")
            elif refused is not None and "step 9" not in str(refused):
                counts.fail("unnamed_errors", f"{where}: the error names no step: {refused}")
            elif refused is not None:
                counts.survived += 1
            elif restored is None:
                counts.fail("silent_fresh_start", f"{where}: restore returned None")
            elif not all(torch.equal(target.state_dict()[k], v) for k, v in expected.items()):
                counts.fail("silent_wrong_restore", f"{where}: restored other values")
            elif not warned or restored[0] != 5:
                counts.fail("silent_wrong_restore", f"{where}: step {restored[0]}, no warning")
            else:
                counts.survived += 1
            survivor.close()
    finally:
        for manager in managers:
            manager.stop()
    return counts


# ---------------------------------------------------------------------------------------
# Restores that must be refused before anything changes.


@contextmanager
def _rng_unchanged() -> Iterator[Callable[[], bool]]:
    python, numpy_state, torch_state = (
        random.getstate(),
        np.random.get_state(),
        torch.get_rng_state(),
    )

    def unchanged() -> bool:
        now = np.random.get_state()
        return (
            random.getstate() == python
            and all(np.array_equal(a, b) for a, b in zip(now, numpy_state, strict=True))
            and torch.equal(torch.get_rng_state(), torch_state)
        )

    yield unchanged


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _wrong_targets() -> dict[str, Callable[[TrainingState], tuple[Any, Any, TrainingState]]]:
    from train_infra.snapshot.demo import make_model

    def warmed(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """One update, so the optimizer holds state a partial restore would change."""
        for parameter in model.parameters():
            parameter.grad = torch.ones_like(parameter)
        optimizer.step()

    def with_optimizer(make: Callable[[torch.nn.Module], torch.optim.Optimizer]) -> Callable:
        def build(state: TrainingState) -> tuple[Any, Any, TrainingState]:
            model = make_model(8, seed=7)
            optimizer = make(model)
            warmed(model, optimizer)
            return model, optimizer, state

        return build

    def two_groups(model: torch.nn.Module) -> torch.optim.Optimizer:
        params = list(model.parameters())
        return torch.optim.Adam([{"params": params[:2]}, {"params": params[2:]}])

    def other_model(model: torch.nn.Module) -> torch.optim.Optimizer:
        other = make_model(8, seed=7)
        first = next(other.parameters())
        first.data = torch.zeros(16, 8)  # as many numbers, another shape
        return torch.optim.Adam(other.parameters())

    def bad_rng(key: str, value: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
        def build(state: TrainingState) -> tuple[Any, Any, TrainingState]:
            model = make_model(8, seed=7)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
            warmed(model, optimizer)
            tensors = dict(state.tensors)
            tensors[key] = value(tensors[key].clone())
            return model, optimizer, TrainingState(tensors, state.meta)

        return build

    def numpy_position(t: torch.Tensor) -> torch.Tensor:
        t[-2] = 10_000
        return t

    def wider_model(state: TrainingState) -> tuple[Any, Any, TrainingState]:
        model = make_model(12, seed=7)
        optimizer = torch.optim.Adam(model.parameters())
        warmed(model, optimizer)
        return model, optimizer, state

    return {
        "sgd": with_optimizer(lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)),
        "adamw": with_optimizer(lambda m: torch.optim.AdamW(m.parameters())),
        "adam-two-groups": with_optimizer(two_groups),
        "adam-other-shapes": with_optimizer(other_model),
        "wider-model": wider_model,
        "numpy-rng-out-of-range": bad_rng("rng/numpy", numpy_position),
        "torch-rng-truncated": bad_rng("rng/torch", lambda t: t[:-8]),
        "python-rng-missing-word": bad_rng("rng/python", lambda t: t[:-1]),
    }


def wrong_optimizer() -> ChaosCounts:
    """Restore a snapshot into each wrong target; all must refuse and change nothing."""
    from train_infra.snapshot.demo import make_model

    state = _trained_state(3)
    control = make_model(8, seed=7)
    restore_state(state, control, torch.optim.Adam(control.parameters()))  # the right target
    counts = ChaosCounts()
    for name, build in _wrong_targets().items():
        model, optimizer, snapshot = build(state)
        model_before = copy.deepcopy(model.state_dict())
        optimizer_before = copy.deepcopy(optimizer.state_dict())
        counts.trials += 1
        with _rng_unchanged() as rng_unchanged:
            try:
                restore_state(snapshot, model, optimizer)
            except IncompatibleSnapshotError:
                refused = True
            except Exception as error:
                counts.fail("unnamed_errors", f"{name}: {type(error).__name__}: {error}")
                continue
            else:
                refused = False
            untouched = (
                _equal(model.state_dict(), model_before)
                and _equal(optimizer.state_dict(), optimizer_before)
                and rng_unchanged()
            )
        if not refused:
            counts.fail("silent_wrong_restore", f"{name}: restored without an error")
        elif not untouched:
            counts.fail("partial_restore", f"{name}: refused after changing state")
        else:
            counts.survived += 1
    return counts
