"""The in-world safety filter: a tiny transformer classifier, trained from scratch, cached.

The paper's filters are Llama 2 prompted to judge, and DistilBERT fine-tuned on safe
and harmful prompts plus erased subsequences of the safe ones. This is the second
kind at toy scale: word embeddings with learned positions, ``layers`` transformer
encoder layers, mean pooling over the prompt's tokens, and a two-way head (index 1 is
"harmful"). It trains on ``safety_prompts.safety_prompts``'s train split and on
``erased_harmless_copies`` randomly erased copies of each harmless train prompt (so
erasing words from a harmless prompt does not make it look harmful), and is cached
under ``cache_root()/defences/`` by a digest of its params, the world and the seed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unlearn_llm.defences.safety_prompts import (
    SafetyClassifierParams,
    SafetyPrompt,
    WordVocabulary,
    safety_prompts,
    vocabulary,
)
from unlearn_llm.models import save_cache_entry
from unlearn_llm.worlds.facts import FactsWorld

CACHE_VERSION = 1
HARMFUL = 1


class SafetyClassifier(nn.Module):
    """Embeddings + positions -> transformer encoder -> mean pool -> (harmless, harmful)."""

    def __init__(self, vocab_size: int, params: SafetyClassifierParams) -> None:
        super().__init__()
        self.max_length = params.max_length
        self.embed = nn.Embedding(vocab_size, params.width, padding_idx=0)
        self.position = nn.Embedding(params.max_length, params.width)
        layer = nn.TransformerEncoderLayer(
            params.width, params.heads, 2 * params.width, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, params.layers, enable_nested_tensor=False)
        self.head = nn.Linear(params.width, 2)

    def forward_embeddings(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits from token embeddings (batch, length, width); ``mask`` True at tokens."""
        positions = torch.arange(embeddings.shape[1], device=embeddings.device)
        hidden = self.encoder(embeddings + self.position(positions), src_key_padding_mask=~mask)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.head(pooled)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of a padded batch of token ids (0 is padding)."""
        mask = tokens != 0
        return self.forward_embeddings(self.embed(tokens), mask)


def pad(sequences: Sequence[Sequence[int]], max_length: int) -> torch.Tensor:
    """A (batch, longest) tensor of ids, 0-padded; a sequence over ``max_length`` is an error."""
    longest = max(len(s) for s in sequences)
    if longest > max_length:
        raise ValueError(
            f"a prompt of {longest} tokens is longer than the filter's max_length={max_length}"
        )
    batch = torch.zeros(len(sequences), longest, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return batch


@dataclass
class SafetyFilter:
    """A trained classifier with its vocabulary; ``harmful_scores`` is what
    erase-and-check calls (``calls`` counts the sequences scored)."""

    model: SafetyClassifier
    vocabulary: WordVocabulary
    log: dict[str, Any]
    path: Path | None = None
    from_cache: bool = False
    calls: int = 0

    @torch.no_grad()
    def harmful_scores(self, sequences: Sequence[Sequence[int]]) -> list[float]:
        """Softmax score of the harmful class for each token sequence."""
        self.calls += len(sequences)
        logits = self.model(pad(sequences, self.model.max_length))
        return torch.softmax(logits, dim=-1)[:, HARMFUL].tolist()

    def harmful(self, text: str) -> bool:
        """The bare filter's verdict on a text."""
        return self.harmful_scores([self.vocabulary.encode(text)])[0] >= 0.5


def erased_copy(tokens: Sequence[int], max_share: float, rng: random.Random) -> tuple[int, ...]:
    """``tokens`` with a random 1..``max_share`` of them erased (one token at least stays)."""
    n = len(tokens)
    most = max(1, int(n * max_share))
    gone = set(rng.sample(range(n), k=rng.randint(1, min(most, n - 1)))) if n > 1 else set()
    return tuple(t for k, t in enumerate(tokens) if k not in gone)


def train_safety_classifier(
    world: FactsWorld, params: SafetyClassifierParams, seed: int
) -> tuple[SafetyClassifier, WordVocabulary, dict[str, Any]]:
    """Train the filter of ``seed`` on the world's safety prompts; returns the training log."""
    torch.manual_seed(seed)
    rng = random.Random(f"safety-train-{seed}")
    vocab = vocabulary(world)
    train, _ = safety_prompts(world, params.prompts, seed)
    examples: list[tuple[tuple[int, ...], int]] = []
    for prompt in train:
        tokens = vocab.encode(prompt.text)
        examples.append((tokens, int(prompt.harmful)))
        if not prompt.harmful:
            for _ in range(params.erased_harmless_copies):
                examples.append((erased_copy(tokens, params.max_erased_share, rng), 0))
    model = SafetyClassifier(vocab.size, params)
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    start = time.perf_counter()
    losses: list[float] = []
    model.train()
    for _ in range(params.epochs):
        rng.shuffle(examples)
        epoch_loss = 0.0
        for at in range(0, len(examples), params.batch_size):
            chunk = examples[at : at + params.batch_size]
            logits = model(pad([tokens for tokens, _ in chunk], params.max_length))
            labels = torch.tensor([label for _, label in chunk])
            loss = nn.functional.cross_entropy(logits, labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            epoch_loss += float(loss.detach()) * len(chunk)
        losses.append(epoch_loss / len(examples))
    model.eval()
    log = {
        "train_prompts": len(train),
        "train_examples": len(examples),
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "wall_time_s": time.perf_counter() - start,
    }
    return model, vocab, log


def _cache_dir(world: FactsWorld, params: SafetyClassifierParams, seed: int) -> Path:
    from unlearn_llm.models import cache_root

    name = f"safety-v{CACHE_VERSION}-{params.digest(world.digest(), seed)}"
    return cache_root() / "defences" / name


def trained_safety_filter(
    world: FactsWorld, params: SafetyClassifierParams, seed: int, use_cache: bool = True
) -> SafetyFilter:
    """The filter of ``seed`` for ``world``, trained or loaded from the cache.

    Saved as ``model.pt`` and ``training.json`` in a temporary folder that is then
    renamed, so an interrupted run never leaves half a checkpoint.
    """
    torch.set_num_threads(params.threads)
    path = _cache_dir(world, params, seed)
    vocab = vocabulary(world)
    if use_cache and (path / "training.json").exists():
        model = SafetyClassifier(vocab.size, params)
        model.load_state_dict(torch.load(path / "model.pt", weights_only=True))
        model.eval()
        log = json.loads((path / "training.json").read_text())
        return SafetyFilter(model, vocab, log, path, from_cache=True)
    model, vocab, log = train_safety_classifier(world, params, seed)
    log.update(seed=seed, params=params.model_dump())
    save_cache_entry(path, lambda folder: torch.save(model.state_dict(), folder / "model.pt"), log)
    return SafetyFilter(model, vocab, log, path)


def accuracy(safety: SafetyFilter, prompts: Sequence[SafetyPrompt]) -> float:
    """Share of ``prompts`` the bare filter labels correctly."""
    scores = safety.harmful_scores([safety.vocabulary.encode(p.text) for p in prompts])
    return sum((s >= 0.5) == p.harmful for s, p in zip(scores, prompts, strict=True)) / len(prompts)
