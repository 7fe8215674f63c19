"""Fault injection on 127.0.0.1: SIGKILL a training rank mid-step, kill m snapshot
managers, corrupt a fragment, kill during persistence. Every test bounds its processes
with timeouts, always cleans them up, and asserts the recovered run equals an
uninterrupted reference bit for bit (losses and final state, tensor by tensor).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import torch
from train_infra.snapshot.demo import make_model, read_losses, train
from train_infra.snapshot.errors import NotEnoughFragmentsError
from train_infra.snapshot.manager import ManagerProcess, start_manager

STEPS = 8
KILL_AT = 5
TIMEOUT_S = 300  # generous: CI machines run several jobs on two cores


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def managers() -> Iterator[list[ManagerProcess]]:
    started: list[ManagerProcess] = []
    yield started
    for manager in started:
        manager.stop()


def _launch(
    world: int,
    out: Path,
    managers: list[ManagerProcess] | None = None,
    k: int = 1,
    m: int = 0,
    kill_at: int | None = None,
    kill_rank: int = 0,
    pingpong: bool = False,
    kill_phase: str = "backward",
    transport: str = "tcp",
) -> list[int]:
    """Run the demo loop on ``world`` ranks; return their exit codes (killed: -9)."""
    port = _free_port()
    processes = []
    logs: list[IO[str]] = []
    out.mkdir(parents=True, exist_ok=True)
    try:
        for rank in range(world):
            args = [sys.executable, "-m", "train_infra.snapshot.demo"]
            args += ["--steps", str(STEPS), "--out", str(out)]
            if managers:
                args += ["--manager", f"127.0.0.1:{managers[rank].address[1]}"]
                args += ["--key", managers[0].authkey.hex()]
                if world > 1:
                    peers = [f"127.0.0.1:{mp.address[1]}" for mp in managers]
                    args += ["--peers", json.dumps(peers), "--k", str(k), "--m", str(m)]
                    args += ["--transport", transport]
            if kill_at is not None:
                args += ["--kill-at", str(kill_at), "--kill-rank", str(kill_rank)]
                args += ["--kill-phase", kill_phase]
            if pingpong:
                args += ["--pingpong"]
            env = {
                **os.environ,
                "RANK": str(rank),
                "WORLD_SIZE": str(world),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
            # stderr to a file (a pipe nobody reads can fill up and stall the rank); a rank
            # that fails has its last lines printed, which pytest shows with the failure.
            log = open(out / f"stderr-{rank}.txt", "a")  # noqa: SIM115 (closed below)
            log.write(f"--- launch {' '.join(args[3:])}\n")
            log.flush()
            logs.append(log)
            processes.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log))
        deadline = time.monotonic() + TIMEOUT_S
        while any(p.poll() is None for p in processes):
            if kill_at is not None and any(p.returncode == -signal.SIGKILL for p in processes):
                # The job has lost a rank: the survivors would wait for the gloo timeout.
                time.sleep(1.0)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"training ranks still running after {TIMEOUT_S} s")
            time.sleep(0.1)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)
        for handle in logs:
            handle.close()
    codes = [p.returncode for p in processes]
    for rank, code in enumerate(codes):
        if code not in (0, -signal.SIGKILL):
            tail = (out / f"stderr-{rank}.txt").read_text().splitlines()[-20:]
            print(
                f"rank {rank} exited with {code}; its stderr ends:",
                *tail,
                sep="\n",
                file=sys.stderr,
            )
    return codes


def _assert_same_run(reference: Path, run: Path, world: int) -> None:
    for rank in range(world):
        expected = read_losses(reference / f"losses-{rank}.jsonl")
        got = read_losses(run / f"losses-{rank}.jsonl")
        assert sorted(got) == list(range(STEPS))
        assert got == expected, f"rank {rank}: losses differ after recovery"
        ref_state = torch.load(reference / f"final-{rank}.pt")
        run_state = torch.load(run / f"final-{rank}.pt")
        for name, tensor in ref_state["model"].items():
            assert torch.equal(run_state["model"][name], tensor), f"rank {rank}: {name}"
        for index, entries in ref_state["optimizer"]["state"].items():
            for key, value in entries.items():
                assert torch.equal(run_state["optimizer"]["state"][index][key], value)


class References:
    """Uninterrupted runs without snapshots, made once per world size on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.runs: dict[int, Path] = {}

    def __getitem__(self, world: int) -> Path:
        if world not in self.runs:
            out = self.factory.mktemp(f"reference-{world}")
            if world == 1:
                # In this process (one torch import fewer), with the demo's thread count.
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                try:
                    train(STEPS, out)
                finally:
                    torch.set_num_threads(threads)
            else:
                assert _launch(world, out) == [0] * world
            self.runs[world] = out
        return self.runs[world]


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory: pytest.TempPathFactory) -> References:
    return References(tmp_path_factory)


@pytest.fixture
def kill_and_recover(
    tmp_path: Path, managers: list[ManagerProcess], reference_runs: References
) -> Callable[..., None]:
    """``kill_and_recover(key, world, k, m, kill_rank, lost_managers, **options)``: start
    ``world`` managers with ``key``, SIGKILL rank ``kill_rank`` at step ``KILL_AT``, replace
    the ``lost_managers`` with empty ones, rerun, and check the recovered run equals the
    uninterrupted reference bit for bit. ``options`` go to both launches (``pingpong``,
    ``transport``)."""

    def run(
        key: bytes,
        world: int,
        k: int,
        m: int,
        kill_rank: int,
        lost_managers: tuple[int, ...],
        **options: Any,
    ) -> None:
        managers.extend(start_manager(key) for _ in range(world))
        codes = _launch(world, tmp_path, managers, k, m, KILL_AT, kill_rank, **options)
        assert codes[kill_rank] == -signal.SIGKILL
        for lost in lost_managers:
            managers[lost].kill()
            managers[lost] = start_manager(key)  # the replacement node starts empty
        assert _launch(world, tmp_path, managers, k, m, **options) == [0] * world
        _assert_same_run(reference_runs[world], tmp_path, world)

    return run


def test_sigkill_trainer_mid_step_resumes_bit_identically(
    tmp_path: Path, managers: list[ManagerProcess], reference_runs: References
) -> None:
    managers.append(start_manager())
    codes = _launch(1, tmp_path, managers, kill_at=KILL_AT)
    assert codes == [-signal.SIGKILL]
    assert max(read_losses(tmp_path / "losses-0.jsonl")) == KILL_AT - 1
    assert _launch(1, tmp_path, managers) == [0]
    _assert_same_run(reference_runs[1], tmp_path, 1)


def test_pingpong_sigkill_mid_update_resumes_bit_identically(
    tmp_path: Path, managers: list[ManagerProcess], reference_runs: References
) -> None:
    # PingPongAdamW (weight_decay=0) computes what torch.optim.Adam computes, so the
    # recovered run must equal the plain Adam reference bit for bit. The kill lands
    # halfway through an out-of-place update, while the other slot is half written.
    managers.append(start_manager())
    codes = _launch(1, tmp_path, managers, kill_at=KILL_AT, pingpong=True, kill_phase="update")
    assert codes == [-signal.SIGKILL]
    assert max(read_losses(tmp_path / "losses-0.jsonl")) == KILL_AT - 1
    assert _launch(1, tmp_path, managers, pingpong=True) == [0]
    _assert_same_run(reference_runs[1], tmp_path, 1)


@pytest.mark.slow
def test_lost_node_is_rebuilt_from_parity_on_other_ranks(
    kill_and_recover: Callable[..., None],
) -> None:
    # k=2 data + m=1 parity over 3 ranks: rank 1's trainer and its manager die, so its
    # own data fragment is gone and the state must be decoded with the parity fragment.
    kill_and_recover(b"parity-key", 3, k=2, m=1, kill_rank=1, lost_managers=(1,))


@pytest.mark.slow  # the ping-pong variant below covers the same recovery by default
def test_killed_rank_and_its_manager_recover_from_the_peer(
    kill_and_recover: Callable[..., None],
) -> None:
    # k=1 + m=1 over 2 ranks: rank 1's trainer is SIGKILLed mid-step and its snapshot
    # manager (m = 1 of them) is killed too; rank 1 rebuilds its state from the parity
    # fragment held by rank 0's manager; rank 0 restores from its own memory.
    kill_and_recover(b"two-rank-key", 2, k=1, m=1, kill_rank=1, lost_managers=(1,))


@pytest.mark.slow
def test_m_lost_managers_and_a_killed_rank_recover(kill_and_recover: Callable[..., None]) -> None:
    # k=1 + m=2: two of the three snapshot managers are killed; ranks 1 and 2 rebuild
    # their states from the fragments that survive on rank 0's manager alone.
    kill_and_recover(b"fault-injection-key", 3, k=1, m=2, kill_rank=2, lost_managers=(1, 2))


def test_pingpong_rank_and_its_manager_recover_from_the_peer(
    kill_and_recover: Callable[..., None],
) -> None:
    # The ping-pong fast path with fragments produced from the idle slot in the
    # background: rank 1 and its manager die, rank 1 decodes its state from rank 0's.
    kill_and_recover(b"pingpong-key", 2, k=1, m=1, kill_rank=1, lost_managers=(1,), pingpong=True)


@pytest.mark.slow
def test_fragments_over_gloo_rebuild_a_lost_rank(kill_and_recover: Callable[..., None]) -> None:
    # As above, but the fragments travel between the trainer ranks over a gloo group
    # (batched isend/irecv) and each rank files what it receives in its own manager.
    kill_and_recover(
        b"gloo-transport-key",
        2,
        k=1,
        m=1,
        kill_rank=1,
        lost_managers=(1,),
        pingpong=True,
        transport="gloo",
    )


def test_corrupt_fragment_is_rebuilt_and_too_few_is_an_error(
    managers: list[ManagerProcess],
) -> None:
    # Three ranks' snapshotters in one process (no torch.distributed needed for this).
    from train_infra.snapshot.snapshotter import Snapshotter

    key = b"corruption-key"
    managers.extend(start_manager(key) for _ in range(3))
    peers = [(mp.address, key) for mp in managers]
    model = make_model(16)
    optimizer = torch.optim.Adam(model.parameters())
    expected = {n: t.clone() for n, t in model.state_dict().items()}
    for k, m in [(1, 2), (2, 1)]:
        snapshotters = [
            Snapshotter(mp.address, key, r, peers, k, m) for r, mp in enumerate(managers)
        ]
        for snapshotter in snapshotters:
            snapshotter.snapshot(model, optimizer, step=10 * k, blocking=True)
        # Rank 1 loses its local snapshot (a new, empty manager) and one fragment of it
        # on rank 2 is silently corrupted.
        managers[1].kill()
        managers[1] = start_manager(key)
        peers[1] = (managers[1].address, key)
        snapshotters[2].client.request("corrupt_fragment", 1, 10 * k, 1)
        survivor = Snapshotter(managers[1].address, key, 1, peers, k, m)
        if k == 1:
            state = survivor.load(step=10)
            assert state is not None
            for name, tensor in expected.items():
                assert torch.equal(state.tensors[f"model/{name}"], tensor), name
        else:
            with pytest.raises(NotEnoughFragmentsError, match="k=2"):
                survivor.load(step=20)
        for snapshotter in [*snapshotters, survivor]:
            snapshotter.close()


def test_kill_during_persistence_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    script = f"""
import os, signal, sys, torch
from train_infra.snapshot.demo import make_model
from train_infra.snapshot.persist import persist
from train_infra.snapshot.state import capture_state
model = make_model(64)
persist(capture_state(model, None, step=1, clone=True), {str(tmp_path)!r})
with torch.no_grad():
    for p in model.parameters():
        p.add_(1.0)
def die(stage):
    if stage == "written":
        os.kill(os.getpid(), signal.SIGKILL)
persist(capture_state(model, None, step=2, clone=True), {str(tmp_path)!r}, stage_hook=die)
"""
    done = subprocess.run([sys.executable, "-c", script], timeout=TIMEOUT_S, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert any(p.name.startswith(".tmp-step-00000002") for p in tmp_path.iterdir())
    from train_infra.snapshot.persist import load_persisted

    loaded = load_persisted(tmp_path)
    assert loaded.step == 1
    # The killed writer's temp folder is swept by the next reader (its pid is dead).
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    reference = make_model(64).state_dict()
    for name, tensor in reference.items():
        assert torch.equal(loaded.tensors[f"model/{name}"], tensor), name


def test_manager_connections_send_without_nagle_delay() -> None:
    """A ping-pong commit sends a header over 16 KiB, which multiprocessing writes in two
    parts; with Nagle's algorithm on, the second waited for a delayed ACK (43 ms per
    commit). The client end must have TCP_NODELAY set (the manager sets its end alike)."""
    manager = start_manager()
    try:
        client = manager.client()
        sock = socket.socket(fileno=os.dup(client._conn.fileno()))
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            sock.close()
        # A large message still round-trips intact (the header path of a commit).
        name = client.request("begin", 8)
        header = {"inline": "x" * 40_000}
        assert client.request("commit", name, header) is True
        assert client.request("snapshots")[0] == (name, header)
        client.close()
    finally:
        manager.stop()
