"""PingPongAdamW: the arithmetic of torch's AdamW, and snapshots that never tear."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from train_infra.snapshot.demo import make_model
from train_infra.snapshot.errors import SnapshotError
from train_infra.snapshot.manager import ManagerProcess, start_manager
from train_infra.snapshot.pingpong import PingPongAdamW
from train_infra.snapshot.snapshotter import Snapshotter


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(8, 16, generator=generator)
    loss = model(inputs).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@pytest.fixture
def manager() -> Iterator[ManagerProcess]:
    process = start_manager()
    yield process
    process.stop()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_pingpong_equals_torch_adamw_bit_for_bit(weight_decay: float) -> None:
    reference = make_model(32)
    model = make_model(32)
    model.eval(), reference.eval()  # no dropout: the two models see the same function
    # A frozen parameter has no gradient: AdamW skips it, the flip must carry it over.
    reference[6].bias.requires_grad_(False)
    model[6].bias.requires_grad_(False)
    expected = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=weight_decay)
    optimizer = PingPongAdamW(model, None, lr=1e-2, weight_decay=weight_decay)
    for step in range(6):
        _train_step(reference, expected, step)
        _train_step(model, optimizer, step)
        optimizer.live_committed = step % 2 == 0  # alternate out-of-place and in-place
    for (name, want), got in zip(
        reference.state_dict().items(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(want, got), name
    want_state, got_state = expected.state_dict()["state"], optimizer.state_dict()["state"]
    for index, entries in want_state.items():
        for key, value in entries.items():
            assert torch.equal(got_state[index][key], value), (index, key)


def test_a_crash_mid_update_never_tears_a_snapshot(manager: ManagerProcess) -> None:
    snapshots = Snapshotter(manager.address, manager.authkey)
    model = make_model(32)
    optimizer = PingPongAdamW(model, snapshots, lr=1e-2)
    for step in range(3):
        _train_step(model, optimizer, step)
        snapshots.snapshot(model, optimizer, step=step + 1)
    after_three = {name: t.clone() for name, t in model.state_dict().items()}
    assert snapshots.local_steps() == [3, 2]

    def crash(index: int) -> None:
        if index == 2:
            raise RuntimeError("simulated crash halfway through the update")

    optimizer._after_param = crash
    with pytest.raises(RuntimeError, match="simulated"):
        _train_step(model, optimizer, 3)
    # Step 2's slot was being overwritten: the manager forgot it before the write.
    assert snapshots.local_steps() == [3]
    fresh = make_model(32, seed=7)
    restored = PingPongAdamW(fresh, snapshots, lr=1e-2)
    assert snapshots.restore(fresh, restored) == (3, None)
    for name, tensor in after_three.items():
        assert torch.equal(fresh.state_dict()[name], tensor), name
    snapshots.close()


def test_steps_without_snapshots_keep_the_latest_one(manager: ManagerProcess) -> None:
    snapshots = Snapshotter(manager.address, manager.authkey)
    model = make_model(32)
    optimizer = PingPongAdamW(model, snapshots, lr=1e-2)
    _train_step(model, optimizer, 0)
    snapshots.snapshot(model, optimizer, step=1)
    after_one = {name: t.clone() for name, t in model.state_dict().items()}
    for step in range(1, 4):  # three steps, no snapshot: in place in the live slot
        _train_step(model, optimizer, step)
    assert not torch.equal(model[0].weight, after_one["0.weight"])
    assert snapshots.local_steps() == [1]
    state = snapshots.load()
    assert state is not None and state.step == 1
    for name, tensor in after_one.items():
        assert torch.equal(state.tensors[f"model/{name}"], tensor), name
    snapshots.close()


def test_snapshot_of_a_model_moved_out_of_the_slots_is_an_error(manager: ManagerProcess) -> None:
    snapshots = Snapshotter(manager.address, manager.authkey)
    model = make_model(32)
    optimizer = PingPongAdamW(model, snapshots, lr=1e-2)
    model[0].weight.data = model[0].weight.data.clone()
    with pytest.raises(SnapshotError, match="no longer lives"):
        snapshots.snapshot(model, optimizer, step=1)
    with pytest.raises(ValueError, match="betas"):
        PingPongAdamW(make_model(8), None, betas=(0.9, 1.5))
    snapshots.close()


def test_closing_the_snapshotter_detaches_the_optimizer(manager: ManagerProcess) -> None:
    """After `close` the slots are unmapped; the model trains on in process memory."""
    import copy

    snapshots = Snapshotter(manager.address, manager.authkey)
    model = make_model(32)
    reference = copy.deepcopy(model)
    optimizer = PingPongAdamW(model, snapshots, lr=1e-2)
    reference_optimizer = PingPongAdamW(reference, None, lr=1e-2)
    for step in range(3):
        if step == 1:
            snapshots.snapshot(model, optimizer, step=1, blocking=True)
            snapshots.close()
            assert optimizer.snapshotter is None
        # the same dropout masks for both; steps 1 and 2 would touch unmapped memory
        # without the detach
        torch.manual_seed(step)
        _train_step(model, optimizer, step)
        torch.manual_seed(step)
        _train_step(reference, reference_optimizer, step)
    for (name, tensor), expected in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(tensor, expected), name
    with pytest.raises(SnapshotError, match="Snapshotter was closed"):
        optimizer.snapshot_header(model, step=3)
