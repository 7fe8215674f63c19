"""The circuits room: OV copy-suppression score by hand, exact attribution, a planted
negative head found by ablation, self-repair on a hand-built copier and suppressor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from unlearn_llm.circuits.analysis import (
    Targets,
    ablation_effects,
    centred_target_logit,
    copy_suppression_score,
    copying_score,
    direct_logit_attribution,
    embedding_attribution,
    negative_heads,
    ov_scores,
    ov_token_matrix,
    self_repair,
    targets_of,
)
from unlearn_llm.circuits.model import (
    AttentionOnlyTransformer,
    build_copy_model,
    trained_copy_model,
)
from unlearn_llm.circuits.params import AttentionOnlyParams, CopyWorldParams
from unlearn_llm.circuits.world import CopyWorld


def test_copy_suppression_score_on_a_hand_worked_ov_circuit() -> None:
    W_E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # 3 tokens, d = 2
    W_OV = torch.tensor([[-1.0, 0.0], [0.0, 2.0]])
    W_U = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, -1.0]])
    # By hand: W_E W_OV = [[-1, 0], [0, 2], [-1, 2]]; a row [a, b] maps to [a, b, a/2 - b]:
    expected = torch.tensor([[-1.0, 0.0, -0.5], [0.0, 2.0, -2.0], [-1.0, 2.0, -2.5]])
    matrix = ov_token_matrix(W_E, W_OV, torch.eye(2), W_U)
    assert torch.allclose(matrix, expected)
    # Diagonal ranks from the bottom: row 0: -1 is lowest (0); row 1: 2 is highest (2);
    # row 2: -2.5 is lowest (0). So 2 of 3 tokens suppress themselves most.
    assert copy_suppression_score(matrix, 1) == pytest.approx(2 / 3)
    assert copy_suppression_score(matrix, 2) == pytest.approx(2 / 3)
    assert copy_suppression_score(matrix, 3) == pytest.approx(1.0)
    # From the top only token 1 raises itself most.
    assert copying_score(matrix, 1) == pytest.approx(1 / 3)
    # Ties count against the head: a head that writes nothing suppresses nothing.
    assert copy_suppression_score(torch.zeros(3, 3), 1) == 0.0
    with pytest.raises(ValueError, match=r"bottom_k must be in 1\.\.3"):
        copy_suppression_score(matrix, 4)


def test_world_marks_naive_copies() -> None:
    params = CopyWorldParams(copy_noise=0.0)
    batch = CopyWorld(params, 3).sample(64, np.random.default_rng(0))
    tokens = batch.tokens
    walked = tokens[~batch.repeated]
    assert all(len(set(row.tolist())) == params.length for row in walked)  # never revisits
    rows, positions = (batch.copy_target >= 0).nonzero(as_tuple=True)
    assert len(rows) > 0 and bool(batch.repeated[rows].all())
    # without noise the copied token is the true next token
    assert torch.equal(batch.copy_target[rows, positions], tokens[rows, positions + 1])
    rows, positions = (batch.walk_target >= 0).nonzero(as_tuple=True)
    assert len(rows) > 0
    for row, position in zip(rows.tolist(), positions.tolist(), strict=True):
        target = int(batch.walk_target[row, position])
        assert target in tokens[row, : position + 1].tolist()  # already in context ...
        assert target != int(tokens[row, position + 1])  # ... so the walk never goes there


def test_direct_logit_attribution_sums_to_the_centred_logit() -> None:
    params = AttentionOnlyParams(layers=2, heads=3, d_model=16, d_head=4)
    world = CopyWorld(CopyWorldParams(), 0)
    model = build_copy_model(params, world.params, 0)
    at = targets_of(world.sample(16, np.random.default_rng(1)), "walk")
    with torch.no_grad():
        forward = model.run(at.tokens)
        total = direct_logit_attribution(model, forward, at).sum(dim=(0, 1))
        total += embedding_attribution(model, forward, at)
        assert torch.allclose(total, centred_target_logit(model, forward, at), atol=1e-5)


VOCAB = 12


def _hand_built(suppressor_reads: str, suppression: float = 1.5) -> AttentionOnlyTransformer:
    """Residual = [token block | copier block], each VOCAB wide; logits read both.

    Head (0, 0) copies: uniform attention over the context, writes 2 x the attended
    tokens into the copier block. Head (1, 1) is the planted suppressor: uniform
    attention, reads the token block (``"tokens"``) or the copier block (``"copier"``)
    and writes ``-suppression`` x it into the token block. Heads (0, 1) and (1, 0) are
    small and random."""
    params = AttentionOnlyParams(layers=2, heads=2, d_model=2 * VOCAB, d_head=VOCAB)
    torch.manual_seed(0)
    model = AttentionOnlyTransformer(params, VOCAB, 10)
    eye, zero = torch.eye(VOCAB), torch.zeros(VOCAB, VOCAB)
    with torch.no_grad():
        model.W_E.copy_(torch.cat([eye, zero], dim=1))
        model.W_pos.zero_()
        model.W_U.copy_(torch.cat([eye, eye], dim=0))
        for layer in (0, 1):
            block = model.layer(layer)
            block.W_Q.zero_()
            block.W_K.zero_()
            for tensor in (block.W_V, block.W_O):
                tensor.mul_(0.1)
        copier, suppressor = model.layer(0), model.layer(1)
        copier.W_V[0] = torch.cat([eye, zero], dim=0)
        copier.W_O[0] = 2.0 * torch.cat([zero, eye], dim=1)
        reads = [eye, zero] if suppressor_reads == "tokens" else [zero, eye]
        suppressor.W_V[1] = torch.cat(reads, dim=0)
        suppressor.W_O[1] = -suppression * torch.cat([eye, zero], dim=1)
        if suppressor_reads == "copier":
            # only the copier feeds the suppressor, and only the suppressor is downstream
            model.layer(0).W_O[1].zero_()
            model.layer(1).W_V[0].zero_()
    return model


def _earliest_token_targets(rows: int, length: int = 10) -> Targets:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.stack([torch.randperm(VOCAB, generator=generator)[:length] for _ in range(rows)])
    positions = torch.arange(2, length).repeat(rows)
    row_index = torch.arange(rows).repeat_interleave(length - 2)
    return Targets(tokens, row_index, positions, tokens[row_index, 0])


def test_detector_finds_exactly_the_planted_negative_head() -> None:
    model = _hand_built("tokens")
    at = _earliest_token_targets(32)
    effects = ablation_effects(model, at, "mean").logprob
    assert negative_heads(effects, threshold=0.05) == [(1, 1)]
    with torch.no_grad():
        direct = direct_logit_attribution(model, model.run(at.tokens), at).mean(dim=2)
    assert float(direct[1, 1]) < 0  # it writes against the copied token itself
    assert negative_heads(effects, 0.05, direct) == [(1, 1)]
    assert negative_heads(effects, 0.05, -direct) == []  # raised, but not by its own write
    # ablating the copier lowers the copied token more than ablating any other head
    assert float(effects[0, 0]) == float(effects.min()) < -0.1
    suppression, copying = ov_scores(model, 1)
    assert suppression[1, 1] == 1.0 and copying[0, 0] == 1.0
    assert suppression[0, 1] < 0.3 and suppression[1, 0] < 0.3  # the random heads


def test_self_repair_of_a_suppressor_that_reads_the_copier() -> None:
    # At position p the copier writes 2/(p+1) on the earliest token; the suppressor
    # averages the copier's writes over positions 0..p, 2 H(p+1)/(p+1) (H harmonic), and
    # writes -0.25 x that: between 0.46 and 0.73 of the copier's write for p in 2..9, so
    # it undoes part of the copy, never all of it.
    model = _hand_built("copier", suppression=0.25)
    at = _earliest_token_targets(16)
    with torch.no_grad():
        clean = direct_logit_attribution(model, model.run(at.tokens), at).mean(dim=2)
    repair = self_repair(model, at, (0, 0), "zero")
    # Zero-ablating the copier silences the suppressor, which read only the copier:
    # the suppressor's direct effect goes from its clean (negative) value to exactly 0.
    assert clean[1, 1] < 0
    assert float(repair.compensation[1, 1]) == pytest.approx(-float(clean[1, 1]), abs=1e-5)
    assert repair.direct_effect == pytest.approx(float(clean[0, 0]), abs=1e-5)
    assert repair.self_repair == pytest.approx(float(repair.compensation.sum()), abs=1e-5)
    assert 0.0 < repair.repaired_share < 1.0  # partial: the copier's loss still shows
    # By hand (centring subtracts 2/V from a write of 2/(q+1) on one token of q+1):
    copier_write = [2 / (q + 1) - 2 / VOCAB for q in range(10)]
    direct = np.mean(copier_write[2:])
    repaired = np.mean([0.25 * np.mean(copier_write[: p + 1]) for p in range(2, 10)])
    assert repair.direct_effect == pytest.approx(direct, rel=1e-4)
    assert repair.repaired_share == pytest.approx(repaired / direct, rel=1e-4)
    assert repair.share_of_repair([(1, 1)]) == pytest.approx(1.0, abs=1e-4)


def test_ablation_rejects_a_head_that_does_not_exist() -> None:
    model = _hand_built("tokens")
    with pytest.raises(ValueError, match=r"head \(2, 0\) does not exist"):
        model.run(torch.zeros(1, 4, dtype=torch.long), {(2, 0): torch.zeros(2 * VOCAB)})


def test_trained_model_is_cached() -> None:
    params = AttentionOnlyParams(layers=1, heads=2, d_model=16, d_head=4, steps=20)
    world = CopyWorldParams()
    first = trained_copy_model(params, world, seed=0)
    second = trained_copy_model(params, world, seed=0)
    assert not first.from_cache and second.from_cache
    assert first.log["final_loss"] < first.log["first_loss"]
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)
