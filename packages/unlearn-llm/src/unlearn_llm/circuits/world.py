"""The copy world: no-repeat Markov walks, half of them followed by a noisy copy.

A fixed random bigram table (from the world seed) gives every token ``branching``
likely successors. A walk never revisits a token: a successor already in the sequence
has probability 0, the others are renormalised (uniform over the unseen tokens when no
successor is left). So wherever the bigram's favourite successor is already in
context, a model that predicts it copies naively and is wrong: the situation the
copy-suppression paper describes ("components in earlier layers predict a token, and
this token appears earlier in the context").

In a repeated sequence the walk stops after ``prefix_length`` tokens and the prefix is
copied (cyclically), each copied token swapped for a random other token with
probability ``copy_noise``. There an induction head (the copier) is right most of the
time but not always.

``CopyBatch`` marks, for each position ``j``, the token a naive copier would predict for
position ``j + 1``:

- ``copy_target``: in the copy half, where token ``j`` is a faithful copy (so induction
  can match it), the prefix token that follows it; -1 elsewhere;
- ``walk_target``: inside a walk, the bigram's favourite successor of token ``j`` when
  it is already in context (its true probability is 0); -1 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from unlearn_llm.circuits.params import CopyWorldParams


@dataclass(frozen=True)
class CopyBatch:
    """Token sequences and, per position, the naively copied next token (-1: none)."""

    tokens: torch.Tensor  # (batch, length) int64
    copy_target: torch.Tensor  # (batch, length) int64
    walk_target: torch.Tensor  # (batch, length) int64
    repeated: torch.Tensor  # (batch,) bool


class CopyWorld:
    """The bigram table of one world seed, and a sampler of ``CopyBatch`` es."""

    def __init__(self, params: CopyWorldParams, seed: int) -> None:
        self.params = params
        self.seed = seed
        rng = np.random.default_rng([seed, 7919])
        vocab = params.vocab_size
        table = np.zeros((vocab, vocab))
        for token in range(vocab):
            others = np.delete(np.arange(vocab), token)
            successors = rng.choice(others, size=params.branching, replace=False)
            table[token, successors] = rng.dirichlet(np.ones(params.branching))
        self.bigram = table
        self.favourite = table.argmax(axis=1)

    def sample(self, batch_size: int, rng: np.random.Generator) -> CopyBatch:
        """``batch_size`` sequences drawn with ``rng`` (vectorised over the batch)."""
        p = self.params
        vocab, length, prefix = p.vocab_size, p.length, p.prefix_length
        rows = np.arange(batch_size)
        tokens = np.zeros((batch_size, length), dtype=np.int64)
        seen = np.zeros((batch_size, vocab), dtype=bool)
        tokens[:, 0] = rng.integers(0, vocab, size=batch_size)
        seen[rows, tokens[:, 0]] = True
        for j in range(1, length):
            weights = self.bigram[tokens[:, j - 1]] * ~seen
            stuck = weights.sum(axis=1) == 0
            weights[stuck] = (~seen[stuck]).astype(float)
            cumulative = np.cumsum(weights, axis=1)
            draw = rng.random(batch_size) * cumulative[:, -1]
            tokens[:, j] = (cumulative < draw[:, None]).sum(axis=1)
            seen[rows, tokens[:, j]] = True

        repeated = rng.random(batch_size) < p.repeat_share
        copy_index = (np.arange(length - prefix)) % prefix
        faithful = np.zeros((batch_size, length), dtype=bool)
        copies = tokens[:, copy_index]
        noise = rng.random((batch_size, length - prefix)) < p.copy_noise
        # a random token other than the copy: draw from vocab - 1 values and skip the copy
        swap = rng.integers(0, vocab - 1, size=copies.shape)
        swap = swap + (swap >= copies)
        tail = np.where(noise, swap, copies)
        tokens[repeated, prefix:] = tail[repeated]
        faithful[repeated, prefix:] = ~noise[repeated]

        copy_target = np.full((batch_size, length), -1, dtype=np.int64)
        # predicting position j + 1 from a faithful copy at j, both in the copy half
        copied_at = np.arange(prefix, length - 1)
        follow = tokens[:, (copied_at + 1 - prefix) % prefix]
        copy_target[:, prefix : length - 1] = np.where(faithful[:, prefix : length - 1], follow, -1)

        walk_target = np.full((batch_size, length), -1, dtype=np.int64)
        walk_end = np.where(repeated, prefix - 1, length - 1)  # last j whose next is walked
        favourite = self.favourite[tokens]  # (batch, length)
        for j in range(length - 1):
            in_context = (tokens[:, : j + 1] == favourite[:, j : j + 1]).any(axis=1)
            walk_target[:, j] = np.where(in_context & (j < walk_end), favourite[:, j], -1)

        return CopyBatch(
            tokens=torch.from_numpy(tokens),
            copy_target=torch.from_numpy(copy_target),
            walk_target=torch.from_numpy(walk_target),
            repeated=torch.from_numpy(repeated),
        )
