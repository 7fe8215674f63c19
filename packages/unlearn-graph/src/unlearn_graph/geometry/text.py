"""A small offline text encoder: signed feature hashing of word n-grams.

Weinberger et al., "Feature Hashing for Large Scale Multitask Learning" (ICML 2009,
arXiv:0902.2206): every word unigram and bigram $g$ of a text adds
$\\mathrm{sign}(g)\\,(1 + \\log \\mathrm{count}(g))$ to coordinate $h(g) \\bmod d$, with $h$
and $\\mathrm{sign}$ two bits of a keyed BLAKE2b digest (stable across runs, unlike
Python's ``hash``); the vector is then $\\ell_2$-normalised. Nothing is trained or
downloaded; numpy only.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class HashedTextEncoder:
    """Texts -> ``(len(texts), dim)`` float32 rows of unit norm (zero rows stay zero)."""

    def __init__(self, dim: int = 128, ngrams: tuple[int, ...] = (1, 2), key: str = "unlearn"):
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        if not ngrams or any(n < 1 for n in ngrams):
            raise ValueError(f"ngrams must be positive lengths, got {ngrams}")
        self.dim, self.ngrams, self._key = dim, ngrams, key.encode()[:64]

    def bucket(self, gram: str) -> tuple[int, float]:
        """The coordinate and sign that ``gram`` adds to."""
        digest = hashlib.blake2b(gram.encode(), digest_size=8, key=self._key).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 63) & 1 else -1.0

    def grams(self, text: str) -> list[str]:
        words = text.lower().split()
        return [" ".join(words[i : i + n]) for n in self.ngrams for i in range(len(words) - n + 1)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for row, text in enumerate(texts):
            for gram, count in Counter(self.grams(text)).items():
                index, sign = self.bucket(gram)
                out[row, index] += sign * (1.0 + math.log(count))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
