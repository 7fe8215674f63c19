"""The snapshot-manager process: holds snapshots in CPU memory, outside the trainer.

It runs as its own OS process (``python -m train_infra.snapshot.manager``), in its own
session, so a crash or SIGKILL of the training process loses nothing it already holds.
It imports no torch. Clients talk to it over ``multiprocessing.connection`` on
127.0.0.1 with an authentication key.

What it holds:

* full local snapshots in two shared-memory segments (double buffering): the trainer
  writes the spare segment while the latest committed one stays intact, then commits;
  the previous latest becomes the spare. A snapshot that was never committed is never
  returned.
* a pinned pair of segments for a ping-pong optimizer
  (`train_infra.snapshot.pingpong.PingPongAdamW`): the trainer keeps its live
  parameters and optimizer state in them and commits them in turn, so a snapshot needs
  no copy; ``reopen`` marks a committed one as being written again.
* erasure-coded fragments that other ranks placed here, keyed by
  ``(owner rank, step, fragment index)``, with their checksums; the last two steps per
  owner are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from train_infra.snapshot.errors import ManagerLostError

Address = tuple[str, int]
KEEP_STEPS = 2


def _no_delay(conn: Connection) -> None:
    """Turn off Nagle's algorithm on the connection's TCP socket.

    ``multiprocessing.connection`` sends a message over 16 KiB as two writes (length,
    then payload). With Nagle on, the payload's last segment waits for the ACK of the
    first write, which the peer delays by up to 40 ms: a ping-pong commit (a 17 KB
    header) took 43 ms instead of half a millisecond, 10-25 % of a training step.
    """
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        finally:
            sock.close()


@dataclass
class _Slot:
    memory: SharedMemory
    header: dict[str, Any] | None = None  # None until committed


@dataclass
class _State:
    slots: dict[str, _Slot] = field(default_factory=dict)
    latest: str | None = None
    previous: str | None = None
    fragments: dict[tuple[int, int, int], tuple[bytes, dict[str, Any]]] = field(
        default_factory=dict
    )
    pinned: set[str] = field(default_factory=set)  # a ping-pong optimizer's pair
    writing: set[str] = field(default_factory=set)  # begun by a copy, not yet committed
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def _spare_slot(state: _State, nbytes: int) -> str:
    """A segment of at least ``nbytes`` to write the next snapshot into.

    Never the latest committed snapshot. An abandoned segment (begun, never committed)
    is reused first; otherwise the previous snapshot is given up, so at most two
    committed snapshots plus the one in flight exist.
    """
    candidates = [
        n for n in state.slots if n not in (state.latest, state.previous) and n not in state.pinned
    ]
    if not candidates and state.previous is not None and state.previous not in state.pinned:
        candidates = [state.previous]
        state.previous = None
    for extra in candidates[1:]:
        _drop(state, extra)
    name = candidates[0] if candidates else None
    if name is not None and state.slots[name].memory.size < nbytes:
        _drop(state, name)
        name = None
    if name is None:
        memory = SharedMemory(create=True, size=max(nbytes, 1))
        state.slots[memory.name] = _Slot(memory)
        name = memory.name
    state.slots[name].header = None
    state.writing.add(name)
    return name


def _drop_unreferenced(state: _State) -> None:
    """Free segments no snapshot, pair or copy in flight refers to any more."""
    keep = {state.latest, state.previous} | state.pinned | state.writing
    for name in [n for n in state.slots if n not in keep]:
        _drop(state, name)


def _drop(state: _State, name: str) -> None:
    slot = state.slots.pop(name)
    state.writing.discard(name)
    state.pinned.discard(name)
    slot.memory.close()
    slot.memory.unlink()


def _handle(state: _State, request: tuple[Any, ...]) -> Any:
    op = request[0]
    with state.lock:
        if op == "ping":
            return os.getpid()
        if op == "begin":
            return _spare_slot(state, int(request[1]))
        if op == "commit":
            name, header = request[1], request[2]
            if name not in state.slots:
                raise KeyError(f"unknown segment {name!r}")
            state.slots[name].header = header
            state.writing.discard(name)
            if state.latest != name:
                state.previous, state.latest = state.latest, name
            _drop_unreferenced(state)
            return True
        if op == "pair":
            # Two segments for a ping-pong optimizer; a pair left by a crashed trainer is
            # unpinned and freed once no committed snapshot lives in it.
            nbytes = max(int(request[1]), 1)
            state.pinned.clear()
            pair = [SharedMemory(create=True, size=nbytes) for _ in range(2)]
            for memory in pair:
                state.slots[memory.name] = _Slot(memory)
                state.pinned.add(memory.name)
            _drop_unreferenced(state)
            return [memory.name for memory in pair]
        if op == "reopen":
            # The trainer is about to overwrite this committed segment: forget its
            # snapshot first, so a crash mid-write never leaves it looking intact.
            name = request[1]
            if name not in state.slots:
                raise KeyError(f"unknown segment {name!r}")
            state.slots[name].header = None
            if state.previous == name:
                state.previous = None
            elif state.latest == name:
                state.latest, state.previous = state.previous, None
            return True
        if op == "snapshots":
            # (segment name, header) of every committed snapshot, newest first.
            out = []
            for name in (state.latest, state.previous):
                if name is not None and state.slots[name].header is not None:
                    out.append((name, state.slots[name].header))
            return out
        if op == "put_fragment":
            owner, step, index, payload, meta = request[1:]
            state.fragments[(int(owner), int(step), int(index))] = (payload, meta)
            steps = sorted({s for (o, s, _) in state.fragments if o == owner}, reverse=True)
            for old in steps[KEEP_STEPS:]:
                for key in [k for k in state.fragments if k[0] == owner and k[1] == old]:
                    del state.fragments[key]
            return True
        if op == "fragment_index":
            return sorted(state.fragments)
        if op == "get_fragment":
            key = (int(request[1]), int(request[2]), int(request[3]))
            return state.fragments.get(key)
        if op == "corrupt_fragment":
            # Fault injection for tests: flip one byte of a stored fragment.
            key = (int(request[1]), int(request[2]), int(request[3]))
            payload, meta = state.fragments[key]
            flipped = bytearray(payload)
            flipped[len(flipped) // 2] ^= 0xFF
            state.fragments[key] = (bytes(flipped), meta)
            return True
        if op == "shutdown":
            state.stop.set()
            return True
    raise ValueError(f"unknown request {op!r}")


def _serve_connection(state: _State, conn: Connection) -> None:
    with conn:
        while not state.stop.is_set():
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            try:
                reply: tuple[str, Any] = ("ok", _handle(state, request))
            except Exception as error:
                reply = ("error", f"{type(error).__name__}: {error}")
            try:
                conn.send(reply)
            except OSError:
                return


def serve(port: int, authkey: bytes, ready_fd: int | None = None) -> None:
    """Run the manager until a ``shutdown`` request or SIGTERM."""
    state = _State()
    listener = Listener(("127.0.0.1", port), authkey=authkey)
    bound = listener.address[1]
    if ready_fd is not None:
        os.write(ready_fd, f"{bound}\n".encode())
        os.close(ready_fd)
    else:
        print(bound, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: state.stop.set())

    def accept_loop() -> None:
        while not state.stop.is_set():
            try:
                conn = listener.accept()
            except Exception:
                continue
            _no_delay(conn)
            threading.Thread(target=_serve_connection, args=(state, conn), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    while not state.stop.wait(0.2):
        pass
    for slot in state.slots.values():
        slot.memory.close()
        slot.memory.unlink()
    listener.close()


class ManagerClient:
    """A connection to one snapshot manager; thread-safe, one request at a time."""

    def __init__(self, address: Address, authkey: bytes, timeout_s: float = 30.0) -> None:
        self.address = (address[0], int(address[1]))
        self.authkey = authkey
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._conn = Client(self.address, authkey=authkey)
                _no_delay(self._conn)
                break
            except (ConnectionRefusedError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._lock = threading.Lock()
        self._segments: dict[str, SharedMemory] = {}

    def request(self, *message: Any) -> Any:
        with self._lock:
            try:
                self._conn.send(message)
                status, value = self._conn.recv()
            except (EOFError, OSError) as error:
                # A killed manager closes the connection: EOFError has no message.
                raise ManagerLostError(
                    f"snapshot manager at {self.address[0]}:{self.address[1]} stopped answering "
                    f"during {message[0]!r} ({type(error).__name__}: {error or 'connection closed'}"
                    "): it was killed or its node was lost"
                ) from error
        if status != "ok":
            raise RuntimeError(f"snapshot manager at {self.address}: {value}")
        return value

    def segment(self, name: str) -> SharedMemory:
        """Attach a manager-owned shared-memory segment (cached)."""
        if name not in self._segments:
            memory = SharedMemory(name=name)
            # The manager owns the segment: this process must not unlink it at exit
            # (Python 3.11 registers attached segments with the resource tracker).
            with contextlib.suppress(Exception):
                resource_tracker.unregister(memory._name, "shared_memory")  # type: ignore[attr-defined]
            self._segments[name] = memory
        return self._segments[name]

    def close(self) -> None:
        for memory in self._segments.values():
            # A tensor may still view it; then the mapping goes with the process.
            with contextlib.suppress(BufferError):
                memory.close()
        self._segments.clear()
        self._conn.close()


@dataclass
class ManagerProcess:
    """A running manager: its address, key and process, with a way to stop it."""

    address: Address
    authkey: bytes
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> ManagerClient:
        return ManagerClient(self.address, self.authkey)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL: a simulated node failure."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_manager(authkey: bytes | None = None, timeout_s: float = 30.0) -> ManagerProcess:
    """Start a manager process on a free 127.0.0.1 port and wait until it listens.

    It runs in its own session so a signal to the trainer's process group does not
    reach it; stop it with `ManagerProcess.stop`.
    """
    key = authkey if authkey is not None else secrets.token_bytes(16)
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "train_infra.snapshot.manager", "--ready-fd", str(write_fd)],
        env={**os.environ, "TRAIN_INFRA_SNAPSHOT_KEY": key.hex()},
        pass_fds=(write_fd,),
        start_new_session=True,
    )
    os.close(write_fd)
    deadline = time.monotonic() + timeout_s
    data = b""
    with os.fdopen(read_fd, "rb") as ready:
        while not data.endswith(b"\n"):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("snapshot manager did not start")
            chunk = ready.read(16)
            if not chunk:
                break
            data += chunk
    if not data.strip():
        process.kill()
        raise RuntimeError("snapshot manager exited before reporting its port")
    return ManagerProcess(("127.0.0.1", int(data.strip())), key, process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a snapshot manager on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-fd", type=int, default=None)
    args = parser.parse_args(argv)
    key_hex = os.environ.get("TRAIN_INFRA_SNAPSHOT_KEY")
    if not key_hex:
        raise SystemExit("set TRAIN_INFRA_SNAPSHOT_KEY to the hex authentication key")
    serve(args.port, bytes.fromhex(key_hex), args.ready_fd)


if __name__ == "__main__":
    main()
