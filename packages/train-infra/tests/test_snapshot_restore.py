"""Restore from the manager's memory: in place into the optimizer, never a view kept."""

from __future__ import annotations

import torch
from train_infra.snapshot.demo import make_batch, make_model
from train_infra.snapshot.manager import start_manager
from train_infra.snapshot.snapshotter import Snapshotter


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, position: int) -> None:
    inputs, targets = make_batch(position, 0)
    loss = torch.nn.functional.cross_entropy(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_restore_overwrites_the_optimizers_own_tensors_and_keeps_no_view() -> None:
    manager = start_manager()
    try:
        snapshots = Snapshotter(manager.address, manager.authkey)
        model = make_model(16)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        _step(model, optimizer, 0)
        snapshots.snapshot(model, optimizer, step=1, blocking=True)
        saved = {id(p): optimizer.state[p]["exp_avg"].clone() for p in model.parameters()}
        own = {id(p): optimizer.state[p]["exp_avg"] for p in model.parameters()}
        _step(model, optimizer, 1)  # moves on: the restore must bring step 1 back
        assert snapshots.restore(model, optimizer) == (1, None)
        (segment,) = [snapshots.client.segment(n) for n, _ in snapshots.client.request("snapshots")]
        start = torch.frombuffer(segment.buf, dtype=torch.uint8).data_ptr()
        end = start + segment.size
        for p in model.parameters():
            moment = optimizer.state[p]["exp_avg"]
            assert moment is own[id(p)]  # overwritten in place, not replaced
            assert torch.equal(moment, saved[id(p)])
            assert not start <= moment.data_ptr() < end  # no view of the manager's memory
        # A fresh optimizer has no state to overwrite: it gets clones, not views.
        fresh = torch.optim.AdamW(model.parameters(), lr=1e-2)
        snapshots.restore(model, fresh)
        for p in model.parameters():
            assert not start <= fresh.state[p]["exp_avg_sq"].data_ptr() < end
        snapshots.close()
    finally:
        manager.stop()
