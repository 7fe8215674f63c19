"""Systematic Reed–Solomon erasure coding over GF(2^8), as XORs of packets (numpy).

A byte buffer is split into ``k`` equal data fragments and ``m`` parity fragments are
computed as ``p_i = ⊕_j C_ij · d_j`` in GF(2^8) (polynomial ``x^8+x^4+x^3+x^2+1``). For
``m = 1`` the parity row is all ones, so parity is a plain XOR; for ``m ≥ 2`` ``C`` is
the Cauchy matrix ``C_ij = 1 / (x_i ⊕ y_j)`` with ``x_i = k + i``, ``y_j = j``, whose
square submatrices are all invertible: any ``k`` of the ``k + m`` fragments recover the
data (the code is MDS). Decoding inverts the ``k × k`` generator rows of the survivors.

Cauchy Reed–Solomon as a bit matrix (Blömer et al., ICSI TR-95-048; the "bitmatrix"
form of Plank's Jerasure): multiplication by a constant ``c`` is a linear map on the
eight bits of an element, an 8 × 8 binary matrix ``B(c)`` whose column ``b`` holds the
bits of ``c · 2^b``. Each fragment is cut into eight packets, packet ``b`` carrying bit
``b`` of many elements side by side, so output packet ``r`` of ``c · d`` is the XOR of
the packets ``b`` of ``d`` with ``B(c)[r, b] = 1``:

    parity packet ``(i, r) = ⊕_{j, b : B(C_ij)[r, b] = 1} data packet (j, b)``

Encoding is then a fixed list of large XORs on ``uint64`` views, done in cache-sized
column chunks so the sources stay in cache. Because ``B(ab) = B(a)B(b)`` and
``B(a ⊕ b) = B(a) ⊕ B(b)``, decoding applies the bit matrix of the inverse the same
way. Every fragment carries a CRC-32; a fragment that fails it is treated as lost and
rebuilt from the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from train_infra.snapshot.errors import NotEnoughFragmentsError

_POLY = 0x11D
_CHUNK_WORDS = 1 << 13  # 64 KiB per packet per pass (measured best of 8 to 128 KiB)


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


@lru_cache(maxsize=256)
def bit_matrix(coefficient: int) -> tuple[tuple[int, ...], ...]:
    """``B(c)``: row ``r``, column ``b`` is bit ``r`` of ``c · 2^b`` in GF(2^8)."""
    columns = [gf_mul(coefficient, 1 << bit) for bit in range(8)]
    return tuple(tuple((columns[b] >> r) & 1 for b in range(8)) for r in range(8))


def _combine(rows: list[list[int]], sources: list[torch.Tensor]) -> list[torch.Tensor]:
    """``out_i = ⊕_j rows[i][j] · sources[j]`` for uint8 fragments (64-byte multiples).

    Each output packet is a fixed XOR of source packets (see the module docstring),
    computed chunk by chunk over the packets' columns.
    """
    size = sources[0].numel()
    words = size // 64  # uint64 words per packet
    packets = [s.numpy().view(np.uint64).reshape(8, words) for s in sources]
    outputs = [torch.empty(size, dtype=torch.uint8) for _ in rows]
    plans = []
    for row, out in zip(rows, outputs, strict=True):
        target = out.numpy().view(np.uint64).reshape(8, words)
        for r in range(8):
            terms = [
                (j, b)
                for j, coefficient in enumerate(row)
                if coefficient
                for b in range(8)
                if bit_matrix(coefficient)[r][b]
            ]
            plans.append((target[r], terms))
    for start in range(0, words, _CHUNK_WORDS):
        stop = min(start + _CHUNK_WORDS, words)
        for target_packet, terms in plans:
            dst = target_packet[start:stop]
            if not terms:
                dst[:] = 0
            elif len(terms) == 1:
                j, b = terms[0]
                dst[:] = packets[j][b, start:stop]
            else:
                (j0, b0), (j1, b1) = terms[0], terms[1]
                np.bitwise_xor(packets[j0][b0, start:stop], packets[j1][b1, start:stop], out=dst)
                for j, b in terms[2:]:
                    np.bitwise_xor(dst, packets[j][b, start:stop], out=dst)
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
        """Bytes per fragment: ``nbytes / k`` rounded up to eight whole 64-bit packets."""
        per = -(-max(nbytes, 1) // self.k)
        return -(-per // 64) * 64

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
        raises `NotEnoughFragmentsError` naming how many survived.
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
