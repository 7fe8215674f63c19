"""Snapshots <-> torch.distributed.checkpoint: round trip, plain dcp.load, plain dcp.save."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from train_infra.snapshot.dcp import export_dcp, import_dcp, load_dcp
from train_infra.snapshot.demo import make_batch, make_model
from train_infra.snapshot.errors import IncompatibleSnapshotError
from train_infra.snapshot.manager import ManagerProcess, start_manager
from train_infra.snapshot.pingpong import PingPongAdamW
from train_infra.snapshot.snapshotter import Snapshotter

pytestmark = pytest.mark.filterwarnings("ignore:torch.distributed is disabled")


@pytest.fixture
def manager() -> Iterator[ManagerProcess]:
    process = start_manager()
    yield process
    process.stop()


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, position: int) -> float:
    inputs, targets = make_batch(position, 0)
    inputs = inputs + torch.from_numpy(np.random.normal(0, 0.1, inputs.shape)).float()
    loss = torch.nn.functional.cross_entropy(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _trained(steps: int = 3) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = make_model(16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for position in range(steps):
        _step(model, optimizer, position)
    return model, optimizer


def _assert_same_state(
    a: tuple[torch.nn.Module, torch.optim.Optimizer],
    b: tuple[torch.nn.Module, torch.optim.Optimizer],
) -> None:
    for (name, x), y in zip(a[0].state_dict().items(), b[0].state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    for p, q in zip(a[0].parameters(), b[0].parameters(), strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(a[1].state[p][key], b[1].state[q][key]), key
    assert a[1].param_groups[0]["lr"] == b[1].param_groups[0]["lr"]


def test_export_then_import_continues_with_identical_losses(
    manager: ManagerProcess, tmp_path: Path
) -> None:
    model, optimizer = _trained()
    snapshots = Snapshotter(manager.address, manager.authkey)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    snapshots.snapshot(model, optimizer, step=3, loader_position={"epoch": 0, "batch": 3})
    assert export_dcp(snapshots, tmp_path / "ckpt", model, optimizer) == 3
    reference = [_step(model, optimizer, 3 + i) for i in range(3)]
    snapshots.close()

    other = make_model(16, seed=99)
    other_optimizer = torch.optim.AdamW(other.parameters(), lr=0.5)
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    step, position = load_dcp(tmp_path / "ckpt", other, other_optimizer)
    assert (step, position) == (3, {"epoch": 0, "batch": 3})
    assert other_optimizer.param_groups[0]["lr"] == 1e-2
    # Weights, moments, step counters and all three RNGs came back: the same losses.
    assert [_step(other, other_optimizer, 3 + i) for i in range(3)] == reference


def test_plain_dcp_load_reads_our_export(manager: ManagerProcess, tmp_path: Path) -> None:
    model, optimizer = _trained()
    snapshots = Snapshotter(manager.address, manager.authkey)
    snapshots.snapshot(model, optimizer, step=3, blocking=True)
    export_dcp(snapshots, tmp_path / "ckpt", model, optimizer)
    snapshots.close()
    # The loading code of a DCP user, unchanged.
    fresh = make_model(16, seed=5)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    model_sd, optim_sd = get_state_dict(fresh, fresh_optimizer)
    state = {"model": model_sd, "optimizer": optim_sd}
    dcp.load(state, checkpoint_id=str(tmp_path / "ckpt"))
    set_state_dict(
        fresh,
        fresh_optimizer,
        model_state_dict=state["model"],
        optim_state_dict=state["optimizer"],
    )
    _assert_same_state((fresh, fresh_optimizer), (model, optimizer))
    # A model-only loader works too.
    only_model = {"model": make_model(16, seed=6).state_dict()}
    dcp.load(only_model, checkpoint_id=str(tmp_path / "ckpt"))
    assert torch.equal(only_model["model"]["0.weight"], model[0].weight)


@pytest.mark.parametrize("keyed_by", ["names", "indices"])
def test_import_a_checkpoint_written_by_plain_dcp_save(
    manager: ManagerProcess, tmp_path: Path, keyed_by: str
) -> None:
    model, optimizer = _trained()
    if keyed_by == "names":
        model_sd, optim_sd = get_state_dict(model, optimizer)
        state = {"model": model_sd, "optimizer": optim_sd}
    else:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    dcp.save(state, checkpoint_id=str(tmp_path / "plain"))
    fresh = make_model(16, seed=7)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    snapshots = Snapshotter(manager.address, manager.authkey)
    # No train_infra entry: step 0, no loader position; the snapshot holds the state.
    assert import_dcp(tmp_path / "plain", snapshots, fresh, fresh_optimizer) == (0, None)
    _assert_same_state((fresh, fresh_optimizer), (model, optimizer))
    restored = make_model(16, seed=8)
    restored_optimizer = torch.optim.AdamW(restored.parameters(), lr=1e-3)
    assert snapshots.restore(restored, restored_optimizer) == (0, None)
    _assert_same_state((restored, restored_optimizer), (model, optimizer))
    snapshots.close()


def test_pingpong_snapshot_exports_like_adamw(manager: ManagerProcess, tmp_path: Path) -> None:
    model = make_model(16)
    snapshots = Snapshotter(manager.address, manager.authkey)
    optimizer = PingPongAdamW(model, snapshots, lr=1e-2)
    for position in range(2):
        _step(model, optimizer, position)
        snapshots.snapshot(model, optimizer, step=position + 1)
    export_dcp(snapshots, tmp_path / "ckpt", model, optimizer)
    fresh = make_model(16, seed=3)
    adamw = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    # Same entries as AdamW's (the class is recorded in the train_infra entry only).
    assert load_dcp(tmp_path / "ckpt", fresh, adamw)[0] == 2
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q)
        assert torch.equal(optimizer.state[p]["exp_avg_sq"], adamw.state[q]["exp_avg_sq"])
    assert adamw.param_groups[0]["lr"] == 1e-2 and adamw.param_groups[0]["amsgrad"] is False
    snapshots.close()  # last: the model's parameters live in the manager's memory


def test_a_mismatched_checkpoint_is_refused_before_anything_changes(tmp_path: Path) -> None:
    model, _ = _trained()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"model": model.state_dict()}, checkpoint_id=str(tmp_path / "ckpt"))
    wider = make_model(32, seed=4)
    before = wider[0].weight.clone()
    with pytest.raises(
        IncompatibleSnapshotError, match=r"'model\.0\.weight'.*\(16, 16\).*\(32, 16\)"
    ):
        load_dcp(tmp_path / "ckpt", wider)
    assert torch.equal(wider[0].weight, before)
    same = make_model(16)
    with pytest.raises(IncompatibleSnapshotError, match="no optimizer state under 'optimizer'"):
        load_dcp(tmp_path / "ckpt", same, torch.optim.AdamW(same.parameters()))
    with pytest.raises(FileNotFoundError, match="no DCP checkpoint"):
        load_dcp(tmp_path / "missing", model)
