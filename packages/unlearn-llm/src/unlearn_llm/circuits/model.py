"""An attention-only transformer small enough to read head by head, trained and cached.

No MLPs and no LayerNorm: the residual stream at the last layer is the sum of the token
embedding, the positional embedding and every head's output, so the logits are an
exact sum of direct effects ($\\text{logits} = (x_{emb} + x_{pos} + \\sum_{l,h} o_{l,h})
W_U$) and a head's direct logit attribution needs no frozen-LayerNorm approximation (the
paper, working on GPT-2, has to freeze the final LayerNorm scale).

Head $(l, h)$ writes $o_{l,h} = A_{l,h}\\, x_l W_V^{l,h} W_O^{l,h}$ with the causal
softmax pattern $A_{l,h} = \\mathrm{softmax}(x_l W_Q^{l,h} (x_l W_K^{l,h})^\\top /
\\sqrt{d_{head}})$. ``forward`` can replace any head's output (an ablation) and returns
every head's output and pattern.

``trained_copy_model`` trains one on the copy world from scratch (next-token
cross-entropy on every position) and caches it under ``cache_root()/circuits/``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearn_llm.circuits.params import AttentionOnlyParams, CopyWorldParams
from unlearn_llm.circuits.world import CopyWorld
from unlearn_llm.models import save_cache_entry

Head = tuple[int, int]
"""(layer, head), both counted from 0."""

CACHE_VERSION = 1
"""Bumped whenever the world or the training changes, so stale checkpoints never load."""


@dataclass
class Forward:
    """Logits, and per layer the heads' outputs ``(batch, pos, heads, d_model)`` and
    attention patterns ``(batch, heads, query, key)``."""

    logits: torch.Tensor
    head_outputs: list[torch.Tensor]
    patterns: list[torch.Tensor]
    embedding: torch.Tensor  # token + positional embedding, (batch, pos, d_model)


class AttentionLayer(nn.Module):
    """One layer of ``heads`` attention heads, each with its own $W_Q, W_K, W_V, W_O$."""

    def __init__(self, heads: int, d_model: int, d_head: int) -> None:
        super().__init__()
        scale = 1.0 / math.sqrt(d_model)
        self.W_Q = nn.Parameter(torch.randn(heads, d_model, d_head) * scale)
        self.W_K = nn.Parameter(torch.randn(heads, d_model, d_head) * scale)
        self.W_V = nn.Parameter(torch.randn(heads, d_model, d_head) * scale)
        self.W_O = nn.Parameter(torch.randn(heads, d_head, d_model) / math.sqrt(d_head * heads))

    def forward(
        self, residual: torch.Tensor, replace: Mapping[int, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head outputs ``(batch, pos, heads, d_model)`` and patterns; a head in
        ``replace`` writes the given tensor (broadcast to ``(batch, pos, d_model)``)."""
        q = torch.einsum("bpd,hde->bhpe", residual, self.W_Q)
        k = torch.einsum("bpd,hde->bhpe", residual, self.W_K)
        v = torch.einsum("bpd,hde->bhpe", residual, self.W_V)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        length = residual.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=residual.device).tril()
        pattern = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        z = pattern @ v  # (batch, heads, pos, d_head)
        out = torch.einsum("bhpe,hed->bphd", z, self.W_O)
        if replace:
            out = out.clone()
            for head, value in replace.items():
                out[:, :, head] = value.expand(out.shape[0], out.shape[1], out.shape[3])
        return out, pattern


class AttentionOnlyTransformer(nn.Module):
    """Token and positional embedding, ``layers`` attention layers, an unembedding."""

    def __init__(self, params: AttentionOnlyParams, vocab_size: int, length: int) -> None:
        super().__init__()
        self.params = params
        self.vocab_size = vocab_size
        self.W_E = nn.Parameter(torch.randn(vocab_size, params.d_model) / math.sqrt(params.d_model))
        self.W_pos = nn.Parameter(torch.randn(length, params.d_model) / math.sqrt(params.d_model))
        self.blocks = nn.ModuleList(
            AttentionLayer(params.heads, params.d_model, params.d_head)
            for _ in range(params.layers)
        )
        self.W_U = nn.Parameter(torch.randn(params.d_model, vocab_size) / math.sqrt(params.d_model))

    @property
    def layer_count(self) -> int:
        return len(self.blocks)

    @property
    def head_count(self) -> int:
        return self.params.heads

    def layer(self, index: int) -> AttentionLayer:
        block = self.blocks[index]
        assert isinstance(block, AttentionLayer)
        return block

    def run(
        self, tokens: torch.Tensor, replace: Mapping[Head, torch.Tensor] | None = None
    ) -> Forward:
        """The forward pass; each head in ``replace`` writes the given output instead."""
        replace = replace or {}
        for layer, head in replace:
            if not (0 <= layer < self.layer_count and 0 <= head < self.head_count):
                raise ValueError(
                    f"head {(layer, head)} does not exist; layers 0..{self.layer_count - 1}, "
                    f"heads 0..{self.head_count - 1}"
                )
        embedding = self.W_E[tokens] + self.W_pos[: tokens.shape[1]]
        residual = embedding
        outputs, patterns = [], []
        for index in range(self.layer_count):
            mine = {h: value for (layer, h), value in replace.items() if layer == index}
            out, pattern = self.layer(index)(residual, mine)
            residual = residual + out.sum(dim=2)
            outputs.append(out)
            patterns.append(pattern)
        return Forward(residual @ self.W_U, outputs, patterns, embedding)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.run(tokens).logits


@dataclass
class TrainedCopyModel:
    """A trained (or loaded) model, its world and its training log."""

    model: AttentionOnlyTransformer
    world: CopyWorld
    log: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    from_cache: bool = False


def build_copy_model(
    params: AttentionOnlyParams, world: CopyWorldParams, seed: int
) -> AttentionOnlyTransformer:
    """A freshly initialised model for ``world`` (seeded)."""
    torch.manual_seed(seed)
    return AttentionOnlyTransformer(params, world.vocab_size, world.length)


def train_copy_model(
    model: AttentionOnlyTransformer, world: CopyWorld, seed: int
) -> dict[str, Any]:
    """Next-token cross-entropy on fresh batches of ``world``; returns the training log."""
    params = model.params
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 104729])
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=params.learning_rate, total_steps=params.steps, pct_start=0.1
    )
    start = time.perf_counter()
    losses: list[float] = []
    model.train()
    for _ in range(params.steps):
        tokens = world.sample(params.batch_size, rng).tokens
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    tail = losses[-max(1, len(losses) // 20) :]
    return {
        "steps": params.steps,
        "final_loss": float(np.mean(tail)),
        "first_loss": losses[0],
        "wall_time_s": time.perf_counter() - start,
    }


def _cache_dir(params: AttentionOnlyParams, world: CopyWorldParams, seed: int) -> Path:
    from unlearn_llm.models import cache_root

    blob = json.dumps(world.model_dump(), sort_keys=True)
    world_digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    name = f"v{CACHE_VERSION}-world{world_digest}-model{params.digest()}-seed{seed}"
    return cache_root() / "circuits" / name


def trained_copy_model(
    params: AttentionOnlyParams,
    world_params: CopyWorldParams,
    seed: int,
    use_cache: bool = True,
) -> TrainedCopyModel:
    """The model of ``seed`` trained on the copy world of ``seed``, trained or cached.

    Saved as ``model.pt`` (the state dict) and ``training.json`` in a temporary folder
    that is then renamed, so an interrupted run never leaves half a checkpoint.
    """
    torch.set_num_threads(params.threads)
    world = CopyWorld(world_params, seed)
    model = build_copy_model(params, world_params, seed)
    path = _cache_dir(params, world_params, seed)
    if use_cache and (path / "training.json").exists():
        model.load_state_dict(torch.load(path / "model.pt", weights_only=True))
        model.eval()
        log = json.loads((path / "training.json").read_text())
        return TrainedCopyModel(model, world, log, path, from_cache=True)
    log = train_copy_model(model, world, seed)
    log.update(seed=seed, params=params.model_dump(), world=world_params.model_dump())
    save_cache_entry(path, lambda folder: torch.save(model.state_dict(), folder / "model.pt"), log)
    return TrainedCopyModel(model, world, log, path, from_cache=False)
