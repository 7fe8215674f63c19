"""Systematic Reed–Solomon erasure coding over GF(2^8), vectorised on torch tensors.

A byte buffer is split into ``k`` equal data fragments and ``m`` parity fragments are
computed as ``p_i = ⊕_j C_ij · d_j`` in GF(2^8) (polynomial ``x^8+x^4+x^3+x^2+1``). For
``m = 1`` the parity row is all ones, so parity is a plain XOR; for ``m ≥ 2`` ``C`` is
the Cauchy matrix ``C_ij = 1 / (x_i ⊕ y_j)`` with ``x_i = k + i``, ``y_j = j``, whose
square submatrices are all invertible: any ``k`` of the ``k + m`` fragments recover the
data (the code is MDS). Decoding inverts the ``k × k`` generator rows of the survivors.

Multiplication by a constant ``c`` is linear over GF(2), so it is computed bit-sliced
on 64-bit words: ``c·x = ⊕_b [bit_b(x)] · (c·2^b)``, eight shift/and/multiply/xor
passes per coefficient, over cache-sized chunks. Every fragment carries a CRC-32; a
fragment that fails it is treated as lost and rebuilt from the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from train_infra.snapshot.errors import NotEnoughFragmentsError

_POLY = 0x11D
_LOW_BITS = 0x0101010101010101
_CHUNK_WORDS = 1 << 15  # 256 KiB of int64 per pass: stays in cache


@lru_cache(maxsize=1)
def _tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= _POLY
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


def gf_mul(a: int, b: int) -> int:
    """Product in GF(2^8)."""
    if a == 0 or b == 0:
        return 0
    exp, log = _tables()
    return exp[log[a] + log[b]]


def gf_inv(a: int) -> int:
    """Multiplicative inverse in GF(2^8); ``a`` must be nonzero."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    exp, log = _tables()
    return exp[255 - log[a]]


def generator_matrix(k: int, m: int) -> list[list[int]]:
    """The ``(k + m) × k`` systematic generator: identity rows, then parity rows."""
    rows = [[1 if i == j else 0 for j in range(k)] for i in range(k)]
    if m == 1:
        rows.append([1] * k)
    else:
        rows.extend([[gf_inv((k + i) ^ j) for j in range(k)] for i in range(m)])
    return rows


def invert_matrix(matrix: list[list[int]]) -> list[list[int]]:
    """Gauss–Jordan inverse over GF(2^8)."""
    n = len(matrix)
    work = [row[:] + [1 if i == j else 0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if work[r][col]), None)
        if pivot is None:
            raise ValueError("singular matrix over GF(2^8)")
        work[col], work[pivot] = work[pivot], work[col]
        scale = gf_inv(work[col][col])
        work[col] = [gf_mul(scale, v) for v in work[col]]
        for r in range(n):
            if r != col and work[r][col]:
                factor = work[r][col]
                work[r] = [v ^ gf_mul(factor, p) for v, p in zip(work[r], work[col], strict=True)]
    return [row[n:] for row in work]


def _mul_accumulate(out: torch.Tensor, coefficient: int, words: torch.Tensor) -> None:
    """``out ^= coefficient · words`` bytewise in GF(2^8); both are int64 word views."""
    if coefficient == 0:
        return
    if coefficient == 1:
        out.bitwise_xor_(words)
        return
    powers = [gf_mul(coefficient, 1 << bit) for bit in range(8)]
    for start in range(0, words.numel(), _CHUNK_WORDS):
        src = words[start : start + _CHUNK_WORDS]
        dst = out[start : start + _CHUNK_WORDS]
        scratch = torch.empty_like(src)
        for bit, power in enumerate(powers):
            torch.bitwise_right_shift(src, bit, out=scratch)
            scratch.bitwise_and_(_LOW_BITS)
            scratch.mul_(power)  # each byte is 0 or 1, so no carries between bytes
            dst.bitwise_xor_(scratch)


def _combine(rows: list[list[int]], sources: list[torch.Tensor]) -> list[torch.Tensor]:
    """``out_i = ⊕_j rows[i][j] · sources[j]`` for uint8 fragments of equal length."""
    words = [s.view(torch.int64) for s in sources]
    outputs = []
    for row in rows:
        first = next((j for j, c in enumerate(row) if c == 1), None)
        # Start from a copy of a source with coefficient 1: saves a pass over zeros.
        out = torch.zeros_like(words[0]) if first is None else words[first].clone()
        for j, (coefficient, source) in enumerate(zip(row, words, strict=True)):
            if j != first:
                _mul_accumulate(out, coefficient, source)
        outputs.append(out.view(torch.uint8))
    return outputs


@dataclass
class Fragment:
    """One of the ``k + m`` pieces of an encoded buffer, with its checksum."""

    index: int
    payload: torch.Tensor  # uint8, 1-D
    crc: int

    def intact(self) -> bool:
        return zlib.crc32(self.payload.numpy().data) & 0xFFFFFFFF == self.crc


class ErasureCode:
    """``k`` data + ``m`` parity fragments; any ``k`` intact ones recover the data."""

    def __init__(self, k: int, m: int) -> None:
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"k (data fragments) must be an integer >= 1, got {k!r}")
        if not (isinstance(m, int) and m >= 0):
            raise ValueError(f"m (parity fragments) must be an integer >= 0, got {m!r}")
        if k + m > 255:
            raise ValueError(f"k + m must be at most 255 in GF(2^8), got {k + m}")
        self.k, self.m = k, m
        self.matrix = generator_matrix(k, m)

    def fragment_size(self, nbytes: int) -> int:
        """Bytes per fragment: ``nbytes / k`` rounded up to whole 64-bit words."""
        per = -(-max(nbytes, 1) // self.k)
        return -(-per // 8) * 8

    def encode(self, data: torch.Tensor) -> list[Fragment]:
        """Split a 1-D uint8 tensor into ``k`` data and ``m`` parity fragments.

        Full data fragments are views of ``data`` (no copy): copy them before changing
        ``data``.
        """
        if data.dtype != torch.uint8 or data.dim() != 1:
            raise ValueError(f"encode takes a 1-D uint8 tensor, got {data.dtype} {data.shape}")
        size = self.fragment_size(data.numel())
        # Full fragments are views of the input; only the tail is copied and padded.
        pieces = []
        for index in range(self.k):
            piece = data[index * size : (index + 1) * size]
            if piece.numel() < size:
                padded = torch.zeros(size, dtype=torch.uint8)
                padded[: piece.numel()] = piece
                piece = padded
            pieces.append(piece)
        parity = _combine(self.matrix[self.k :], pieces) if self.m else []
        fragments = [*pieces, *parity]
        return [
            Fragment(index=i, payload=f, crc=zlib.crc32(f.numpy().data) & 0xFFFFFFFF)
            for i, f in enumerate(fragments)
        ]

    def decode(self, fragments: list[Fragment], nbytes: int) -> torch.Tensor:
        """The original ``nbytes`` bytes from any ``k`` intact fragments.

        Fragments failing their CRC are ignored; with fewer than ``k`` intact ones left,
        raises :class:`NotEnoughFragmentsError` naming how many survived.
        """
        intact = {f.index: f for f in fragments if f.intact()}
        if len(intact) < self.k:
            bad = sorted({f.index for f in fragments} - set(intact))
            raise NotEnoughFragmentsError(
                f"{len(intact)} intact fragments ({sorted(intact)}) of the k={self.k} needed "
                f"(k={self.k}, m={self.m}; corrupt: {bad}); the state cannot be rebuilt"
            )
        if all(i in intact for i in range(self.k)):
            data = torch.cat([intact[i].payload for i in range(self.k)])
            return data[:nbytes].clone()
        chosen = sorted(intact)[: self.k]
        inverse = invert_matrix([self.matrix[i] for i in chosen])
        pieces = _combine(inverse, [intact[i].payload for i in chosen])
        return torch.cat(pieces)[:nbytes].clone()

    def rebuild(self, fragments: list[Fragment], nbytes: int) -> list[Fragment]:
        """All ``k + m`` fragments again, recomputing lost or corrupt ones from parity."""
        return self.encode(self.decode(fragments, nbytes))
