"""Snapshots never restore silently wrong or silently nothing: a small version of each
fault kind of the ``snapshot-chaos`` benchmark, plus the sweep of stale files, the
fallback to the newest intact step and a manager killed mid-snapshot."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from train_infra.snapshot import chaos
from train_infra.snapshot.chaos import flip_bit
from train_infra.snapshot.demo import make_model
from train_infra.snapshot.errors import (
    SnapshotError,
    SnapshotFallbackWarning,
    TruncatedSnapshotError,
    UnrecoverableSnapshotError,
)
from train_infra.snapshot.manager import start_manager
from train_infra.snapshot.persist import (
    LATEST,
    load_persisted,
    persist,
    persisted_steps,
    sweep_stale,
)
from train_infra.snapshot.snapshotter import Snapshotter
from train_infra.snapshot.state import TrainingState, capture_state


def _state(step: int, seed: int = 0) -> TrainingState:
    return capture_state(make_model(4, seed=seed), None, step=step, clone=True)


def _assert_same(state: TrainingState, expected: TrainingState) -> None:
    assert set(state.tensors) == set(expected.tensors)
    for name, tensor in expected.tensors.items():
        assert torch.equal(state.tensors[name], tensor), name


def test_every_bit_flip_of_meta_json_is_an_error_naming_the_file(tmp_path: Path) -> None:
    persist(_state(1), tmp_path)
    meta = tmp_path / "step-00000001" / "meta.json"
    for bit in range(meta.stat().st_size * 8):
        flip_bit(meta, bit)
        with pytest.raises(SnapshotError, match=r"step-00000001/meta\.json"):
            load_persisted(tmp_path, fallback=False)
        flip_bit(meta, bit)
    _assert_same(load_persisted(tmp_path), _state(1))


def test_every_bit_flip_of_latest_is_detected_or_loads_the_newest(tmp_path: Path) -> None:
    persist(_state(1), tmp_path)
    persist(_state(2, seed=5), tmp_path)
    latest = tmp_path / LATEST
    for bit in range(latest.stat().st_size * 8):
        flip_bit(latest, bit)
        with pytest.raises(TruncatedSnapshotError, match="LATEST"):
            load_persisted(tmp_path, fallback=False)
        with pytest.warns(SnapshotFallbackWarning, match="LATEST"):
            state = load_persisted(tmp_path)
        assert state.step == 2  # never an older step in silence
        flip_bit(latest, bit)


def test_bit_flips_over_every_file_are_survived(tmp_path: Path) -> None:
    # A sample of each file's bits; the benchmark flips every bit of meta.json and LATEST.
    counts, flipped = chaos.flip_bits(tmp_path, shard_flips=60, seed=1, metadata_flips=60)
    assert counts.failures == 0, counts.examples
    assert counts.trials == counts.survived == sum(flipped.values()) == 180


def test_a_damaged_newest_step_falls_back_with_a_warning_or_refuses(tmp_path: Path) -> None:
    persist(_state(1), tmp_path)
    persist(_state(2, seed=3), tmp_path)
    shard = tmp_path / "step-00000002" / "state.safetensors"
    flip_bit(shard, 800)
    with pytest.warns(SnapshotFallbackWarning, match=r"step-00000002.*CRC-32"):
        _assert_same(load_persisted(tmp_path), _state(1))
    with pytest.raises(TruncatedSnapshotError, match="step=1"):
        load_persisted(tmp_path, fallback=False)
    assert persisted_steps(tmp_path)[0] == [1]
    assert list(persisted_steps(tmp_path)[1]) == [2]
    (tmp_path / "step-00000001" / "meta.json").unlink()
    with pytest.raises(UnrecoverableSnapshotError, match="none is intact") as caught:
        load_persisted(tmp_path)
    assert set(caught.value.damaged) == {"step-00000002", "step-00000001"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no snapshot"):
        load_persisted(empty)


def test_rewriting_a_step_never_deletes_the_durable_copy_first(tmp_path: Path) -> None:
    persist(_state(4), tmp_path)

    def crash(stage: str) -> None:
        if stage == "aside":
            raise KeyboardInterrupt("killed between moving the old copy aside and the rename")

    with pytest.raises(KeyboardInterrupt):
        persist(_state(4, seed=9), tmp_path, stage_hook=crash)
    assert not (tmp_path / "step-00000004").exists()  # only the aside copy holds it now
    _assert_same(load_persisted(tmp_path), _state(4))  # put back by the sweep
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, "step-00000004"]


def test_random_and_aimed_kills_inside_persist_are_survived(tmp_path: Path) -> None:
    counts, hits = chaos.kill_in_persist(tmp_path, kills=16, seed=3)
    assert counts.failures == 0, counts.examples
    assert counts.trials == counts.survived == 16
    assert hits["aimed"] == 8 and hits["mid_persist"] >= 8


def test_only_stale_leftovers_of_dead_writers_are_swept(tmp_path: Path) -> None:
    persist(_state(1), tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    try:
        live = tmp_path / f".tmp-step-00000002-{sleeper.pid}"
        stale = tmp_path / f".tmp-step-00000002-{dead_pid}"
        trash = tmp_path / f".del-step-00000000-{dead_pid}"
        pointer = tmp_path / f".LATEST.tmp-{dead_pid}"
        for folder in (live, stale, trash):
            folder.mkdir()
        pointer.write_text("step-00000002")
        mended = sweep_stale(tmp_path)
        assert len(mended) == 3 and live.exists()
        assert not stale.exists() and not trash.exists() and not pointer.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sweep_stale(tmp_path) == [f"{live.name} removed"]  # its writer is dead now
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, "step-00000001"]


def test_a_wrong_optimizer_model_or_rng_changes_nothing() -> None:
    counts = chaos.wrong_optimizer()
    assert counts.failures == 0, counts.examples
    assert counts.trials == counts.survived == 8


def test_m_plus_one_lost_fragments_raise_or_use_the_disk_copy(tmp_path: Path) -> None:
    counts = chaos.lose_fragments(2, tmp_path)
    assert counts.failures == 0, counts.examples
    assert counts.trials == counts.survived == 2


def test_damaged_steps_are_reported_and_restore_falls_back_or_refuses(tmp_path: Path) -> None:
    manager = start_manager()
    try:
        model = make_model(4)
        optimizer = torch.optim.Adam(model.parameters())
        for step in (2, 3):
            persist(capture_state(model, optimizer, step=step, clone=True), tmp_path / "rank-0")
        shards = [tmp_path / "rank-0" / f"step-0000000{s}" / "state.safetensors" for s in (2, 3)]
        flip_bit(shards[1], 100)
        snapshots = Snapshotter(manager.address, manager.authkey, persist_dir=str(tmp_path))
        assert snapshots.available_steps() == [2]
        assert list(snapshots.damaged_steps()) == [3]
        assert "CRC-32" in snapshots.damaged_steps()[3]
        with pytest.warns(SnapshotFallbackWarning, match="restoring step 2"):
            assert snapshots.restore(model, optimizer) == (2, None)
        with pytest.raises(SnapshotError, match="step=2"):
            snapshots.restore(model, optimizer, fallback=False)
        flip_bit(shards[0], 100)
        with pytest.raises(UnrecoverableSnapshotError, match="step 3") as caught:
            snapshots.restore(model, optimizer)
        assert set(caught.value.damaged) == {"step 2", "step 3"}
        flip_bit(shards[1], 100)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the newest is intact: no fallback warning
            assert snapshots.restore(model, optimizer) == (3, None)
        empty = Snapshotter(manager.address, manager.authkey, rank=1)
        assert empty.restore(model, optimizer) is None  # a true fresh start
        with pytest.raises(UnrecoverableSnapshotError, match="required"):
            empty.restore(model, optimizer, required=True)
        snapshots.close()
        empty.close()
    finally:
        manager.stop()


def test_a_manager_killed_mid_snapshot_gives_a_message_naming_it() -> None:
    manager = start_manager()
    snapshots = Snapshotter(manager.address, manager.authkey, rank=2)
    model = make_model(4)
    try:
        manager.kill()
        with pytest.raises(SnapshotError) as caught:
            snapshots.snapshot(model, None, step=1, blocking=True)
        message = str(caught.value)
        assert f"127.0.0.1:{manager.address[1]}" in message and "rank 2 at step 1" in message
        assert not message.rstrip().endswith(":")
    finally:
        snapshots.close()
        manager.stop()
