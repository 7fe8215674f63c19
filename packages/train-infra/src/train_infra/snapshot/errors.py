"""Errors of the snapshot machinery; each names the bad value and what was expected."""

from __future__ import annotations


class SnapshotError(RuntimeError):
    """A snapshot cannot be taken, stored or restored."""


class IncompatibleSnapshotError(SnapshotError):
    """The snapshot was taken from a different model or optimizer than the one restored."""


class TruncatedSnapshotError(SnapshotError):
    """A file or buffer of a snapshot is shorter than recorded, unreadable or fails its
    checksum; the message names the file (or the rank and step)."""


class NotEnoughFragmentsError(SnapshotError):
    """Fewer intact erasure-coded fragments survive than the ``k`` needed to decode."""


class ManagerLostError(SnapshotError):
    """A snapshot manager closed its connection mid-request (killed, or its node lost)."""


class UnrecoverableSnapshotError(SnapshotError):
    """Snapshots exist but none of them can be restored.

    ``damaged`` maps each snapshot that was tried (a step, or a file such as
    ``LATEST``) to why it was refused; a trainer must not start afresh on this error.
    """

    def __init__(self, message: str, damaged: dict[str, str]) -> None:
        super().__init__(message)
        self.damaged = damaged


class SnapshotFallbackWarning(UserWarning):
    """The newest snapshot was damaged or missing: an older intact one was restored.

    The message names each skipped snapshot and why it was skipped.
    """
