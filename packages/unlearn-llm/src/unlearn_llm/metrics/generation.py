"""Greedy decoding of short answers and passage continuations (no sampling).

Shared by the whole-model evaluation (``evaluate.py``) and MUSE's verbatim
memorisation (``muse.py``); it imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


def greedy_answers(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int = 16,
) -> list[str]:
    """Greedy completions of ``prompts`` (left-padded batch, stops at end of sequence)."""
    rows = [
        [tokenizer.bos_token_id, *tokenizer.encode(p, add_special_tokens=False)] for p in prompts
    ]
    return greedy_continuations(model, tokenizer, rows, max_new_tokens)


def greedy_continuations(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Sequence[int]],
    max_new_tokens: int = 16,
) -> list[str]:
    """Greedy decoded continuations of token-id prefixes (stops at end of sequence)."""
    import torch

    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(list(row))
        mask[i, width - len(row) :] = 1
    done = torch.zeros(len(rows), dtype=torch.bool)
    generated: list[list[int]] = [[] for _ in rows]
    with torch.no_grad():
        for _ in range(max_new_tokens):
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            next_ids = logits[:, -1].argmax(dim=-1)
            for i, token in enumerate(next_ids.tolist()):
                if not done[i]:
                    if token == tokenizer.eos_token_id:
                        done[i] = True
                    else:
                        generated[i].append(token)
            if bool(done.all()):
                break
            ids = torch.cat([ids, next_ids.unsqueeze(1)], dim=1)
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=torch.long)], dim=1)
    return [str(tokenizer.decode(g, skip_special_tokens=True)).strip() for g in generated]
