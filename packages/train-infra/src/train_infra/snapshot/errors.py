"""Errors of the snapshot machinery; each names the bad value and what was expected."""

from __future__ import annotations


class SnapshotError(RuntimeError):
    """A snapshot cannot be taken, stored or restored."""


class IncompatibleSnapshotError(SnapshotError):
    """The snapshot was taken from a different model or optimizer than the one restored."""


class TruncatedSnapshotError(SnapshotError):
    """The snapshot bytes are shorter than its manifest says, or fail their checksum."""


class NotEnoughFragmentsError(SnapshotError):
    """Fewer intact erasure-coded fragments survive than the ``k`` needed to decode."""
