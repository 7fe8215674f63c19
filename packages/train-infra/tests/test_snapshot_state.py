"""In-process checks of capture/restore, packing, erasure coding and persistence."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from train_infra.snapshot.demo import make_batch, make_model
from train_infra.snapshot.erasure import ErasureCode, bit_matrix, gf_mul
from train_infra.snapshot.errors import (
    IncompatibleSnapshotError,
    NotEnoughFragmentsError,
    TruncatedSnapshotError,
    UnrecoverableSnapshotError,
)
from train_infra.snapshot.persist import load_persisted, persist
from train_infra.snapshot.state import capture_state, pack, restore_state, unpack_state


def _trained(steps: int = 3) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = make_model(16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for position in range(steps):
        inputs, targets = make_batch(position, 0)
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, optimizer


def _next_losses(model: torch.nn.Module, optimizer: torch.optim.Optimizer, n: int) -> list[float]:
    out = []
    for _ in range(n):
        inputs, targets = make_batch(random.randrange(100), 0)
        inputs = inputs + torch.from_numpy(np.random.normal(0, 0.1, inputs.shape)).float()
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        out.append(loss.item())
    return out


def test_restore_continues_with_identical_losses() -> None:
    model, optimizer = _trained()
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    buffer, header = pack(capture_state(model, optimizer, step=3, loader_position=3))
    reference = _next_losses(model, optimizer, 4)
    # Fresh objects with other weights and other RNG states: the restore must undo both.
    other = make_model(16, seed=99)
    other_optimizer = torch.optim.Adam(other.parameters(), lr=1e-2)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    restored = restore_state(unpack_state(buffer, header), other, other_optimizer)
    assert restored.step == 3 and restored.loader_position == 3
    assert _next_losses(other, other_optimizer, 4) == reference


def test_incompatible_and_truncated_snapshots_are_refused() -> None:
    model, optimizer = _trained(1)
    buffer, header = pack(capture_state(model, optimizer, step=1))
    wider = make_model(24)
    with pytest.raises(IncompatibleSnapshotError, match="model expects"):
        restore_state(unpack_state(buffer, header), wider)
    with pytest.raises(TruncatedSnapshotError, match="manifest needs"):
        unpack_state(buffer[:-100], header)
    damaged = buffer.clone()
    damaged[10] ^= 1
    with pytest.raises(TruncatedSnapshotError, match="checksum"):
        unpack_state(damaged, header)


@pytest.mark.parametrize(("k", "m"), [(2, 1), (3, 2), (1, 2), (4, 3)])
def test_any_k_fragments_recover_the_bytes(k: int, m: int) -> None:
    code = ErasureCode(k, m)
    data = torch.randint(
        0, 256, (10_007,), dtype=torch.uint8, generator=torch.Generator().manual_seed(k)
    )
    fragments = code.encode(data)
    assert len(fragments) == k + m
    for lost in itertools.combinations(range(k + m), m):
        survivors = [f for f in fragments if f.index not in lost]
        assert torch.equal(code.decode(survivors, data.numel()), data)


def test_bit_matrices_multiply_like_their_field_elements() -> None:
    # B(a)B(b) = B(ab) over GF(2) and B(a) xor B(b) = B(a xor b): what lets a decoder apply
    # the bit matrix of the inverse generator rows.
    for a, b in [(2, 3), (7, 200), (255, 128), (29, 29)]:
        left = torch.tensor(bit_matrix(a)) @ torch.tensor(bit_matrix(b)) % 2
        assert torch.equal(left, torch.tensor(bit_matrix(gf_mul(a, b))))
        summed = torch.tensor(bit_matrix(a)) ^ torch.tensor(bit_matrix(b))
        assert torch.equal(summed, torch.tensor(bit_matrix(a ^ b)))


def test_corrupt_fragment_is_detected_and_rebuilt() -> None:
    code = ErasureCode(3, 2)
    data = torch.arange(5000, dtype=torch.int32).view(torch.uint8).clone()
    expected = [f.payload.clone() for f in code.encode(data)]
    fragments = code.encode(data.clone())  # data fragments are views of their input
    fragments[1].payload[17] ^= 0x40  # silent corruption: the CRC no longer matches
    assert not fragments[1].intact()
    rebuilt = code.rebuild(fragments, data.numel())
    assert all(f.intact() for f in rebuilt)
    assert all(torch.equal(f.payload, e) for f, e in zip(rebuilt, expected, strict=True))


def test_fewer_than_k_fragments_is_a_clear_error() -> None:
    code = ErasureCode(3, 1)
    data = torch.ones(999, dtype=torch.uint8)
    fragments = code.encode(data)
    fragments[0].payload[0] ^= 1
    with pytest.raises(NotEnoughFragmentsError, match=r"2 intact fragments .* k=3"):
        code.decode(fragments[:3], data.numel())


def test_bad_code_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="k \\(data fragments\\)"):
        ErasureCode(0, 1)
    with pytest.raises(ValueError, match="at most 255"):
        ErasureCode(200, 100)


def test_persist_is_atomic_and_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    model, optimizer = _trained(2)
    first = capture_state(model, optimizer, step=2, clone=True)
    persist(first, tmp_path)

    def crash(stage: str) -> None:
        if stage == "written":
            raise KeyboardInterrupt("simulated crash before publishing")

    model2, optimizer2 = _trained(4)
    with pytest.raises(KeyboardInterrupt):
        persist(capture_state(model2, optimizer2, step=4, clone=True), tmp_path, stage_hook=crash)
    loaded = load_persisted(tmp_path)
    assert loaded.step == 2
    for name, tensor in first.tensors.items():
        assert torch.equal(loaded.tensors[name], tensor), name
    (tmp_path / "step-00000002" / "state.safetensors").write_bytes(b"short")
    # The only snapshot is damaged: an error naming the file, never a fresh start.
    with pytest.raises(UnrecoverableSnapshotError, match=r"state\.safetensors: holds 5 bytes"):
        load_persisted(tmp_path)


class _Boom:
    """A pickle payload: unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_in_a_snapshot_is_refused_without_running(tmp_path: Path) -> None:
    import pickle

    model, optimizer = _trained()
    state = capture_state(model, optimizer, step=3)
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_Boom(marker))
    # An old-format or crafted snapshot: the Python RNG state as pickled bytes.
    state.tensors["rng/python"] = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    persist(state, tmp_path / "snap")
    loaded = load_persisted(tmp_path / "snap")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(IncompatibleSnapshotError, match="rng/python"):
        restore_state(loaded, make_model(16, seed=4), torch.optim.Adam(model.parameters()))
    assert not marker.exists()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_rng_states_round_trip_as_numbers() -> None:
    from train_infra.snapshot.rng import decode_rng_states, encode_rng_states, set_rng_states

    random.seed(11)
    random.gauss(0, 1)  # leaves a cached Gaussian
    np.random.seed(12)
    np.random.standard_normal()
    tensors = encode_rng_states()
    assert all(t.dtype in (torch.int64, torch.float64) for t in tensors.values())
    expected = (random.random(), random.gauss(0, 1), np.random.standard_normal())
    random.seed(0)
    np.random.seed(0)
    set_rng_states(*decode_rng_states(tensors))
    assert (random.random(), random.gauss(0, 1), np.random.standard_normal()) == expected
    bad = dict(tensors)
    bad["rng/numpy"] = bad["rng/numpy"].clone()
    bad["rng/numpy"][-2] = 10_000  # position past the key
    with pytest.raises(IncompatibleSnapshotError, match="MT19937"):
        decode_rng_states(bad)


def test_a_wrong_optimizer_leaves_the_model_untouched() -> None:
    model, optimizer = _trained()
    state = capture_state(model, optimizer, step=3)
    target = make_model(16, seed=42)
    before = [p.detach().clone() for p in target.parameters()]
    with pytest.raises(IncompatibleSnapshotError, match="optimizer is Adam"):
        restore_state(state, target, torch.optim.SGD(target.parameters(), lr=0.1))
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters(), strict=True))
