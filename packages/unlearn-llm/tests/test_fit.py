"""FIT's three mechanisms on hand-worked cases, and one served request end to end."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest


def _batch(rows: list[list[int]]) -> Any:
    import torch
    from unlearn_llm.data import IGNORE_INDEX, Batch

    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    labels = torch.where(mask.bool(), ids, torch.full_like(ids, IGNORE_INDEX))
    return Batch(ids, mask, labels)


def test_idf_is_the_smooth_idf_of_the_retain_rows() -> None:
    from unlearn_llm.methods.fit import inverse_document_frequency

    idf = inverse_document_frequency(_batch([[1, 5, 6, 2], [1, 5, 7, 2]]), vocab_size=9)
    # N = 2: a token in both rows log(3/3) + 1, in one log(3/2) + 1, in none log(3) + 1
    assert float(idf[5]) == pytest.approx(1.0)
    assert float(idf[6]) == pytest.approx(math.log(1.5) + 1)
    assert float(idf[8]) == pytest.approx(math.log(3) + 1)


def test_similarity_is_one_for_a_repeat_and_zero_for_disjoint_tokens() -> None:
    import torch
    from unlearn_llm.methods.fit import chunk_embeddings, max_similarity

    idf = torch.ones(10)
    served = chunk_embeddings(_batch([[3, 4, 4]]), idf)
    new = chunk_embeddings(_batch([[3, 4, 4], [5, 6], [3, 5]]), idf)
    s = max_similarity(new, [served])
    # counts over tokens (3, 4, 5, 6): served (1, 2, 0, 0); the repeat is the same vector;
    # (0, 0, 1, 1) shares nothing; (1, 0, 1, 0) . (1, 2, 0, 0) / (sqrt 2 * sqrt 5)
    assert s.tolist() == pytest.approx([1.0, 0.0, 1 / math.sqrt(10)])
    assert max_similarity(new, []).tolist() == [0.0, 0.0, 0.0]


def test_filter_keeps_new_rows_and_similar_rows_whose_removal_moves_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch
    import unlearn_llm.data as data_module
    from unlearn_llm.methods.fit import filter_request

    # A stand-in loss: the mean over rows of each row's first token id.
    monkeypatch.setattr(
        data_module, "answer_nll", lambda model, batch: batch.input_ids[:, 0].float().mean()
    )
    forget = _batch([[1, 9], [1, 9], [4, 9]])
    # Losses 1, 1, 4: whole 2; without row 0 or 1: 2.5 (change 0.5); without row 2: 1 (1.0)
    similar = torch.tensor([0.95, 0.95, 0.95])
    assert filter_request(None, forget, similar, 0.9, epsilon=0.7) == [2]
    assert filter_request(None, forget, similar, 0.9, epsilon=0.4) == [0, 1, 2]
    assert filter_request(None, forget, similar, 0.9, epsilon=1.5) == []
    # Below the threshold a row is kept without the loss test.
    assert filter_request(None, forget, torch.tensor([0.1, 0.95, 0.95]), 0.9, 0.7) == [0, 2]


def test_algorithm_thresholds() -> None:
    from unlearn_llm.methods.fit import FITParams, select_algorithm

    params = FITParams(high_importance=2.0, low_importance=0.5)
    assert select_algorithm(2.0, params) == "npo-kl"
    assert select_algorithm(1.9, params) == "npo"
    assert select_algorithm(0.5, params) == "npo"
    assert select_algorithm(0.49, params) == "random-label"
    with pytest.raises(ValueError, match=r"low_importance=3\.0 is above high_importance=2\.0"):
        select_algorithm(1.0, FITParams(high_importance=2.0, low_importance=3.0))


def test_random_labels_replace_only_answer_tokens() -> None:
    import torch
    from unlearn_llm.data import IGNORE_INDEX
    from unlearn_llm.methods.fit import random_labels

    batch = _batch([[1, 7, 8, 2], [1, 6]])
    batch.labels[:, 0] = IGNORE_INDEX  # the prompt position carries no loss
    noisy = random_labels(batch, 20, torch.Generator().manual_seed(0))
    answer = batch.labels != IGNORE_INDEX
    assert torch.equal(noisy.labels[~answer], batch.labels[~answer])
    assert bool(((noisy.labels[answer] >= 3) & (noisy.labels[answer] < 20)).all())


def test_attribution_picks_the_layer_whose_zeroing_matters_and_restores_weights(
    tiny: Any,
) -> None:
    import torch
    from unlearn_llm.methods._common import decoder_layers
    from unlearn_llm.methods.fit import attribute_layers

    model = tiny.fresh_model()
    # Layer 0 already zero: zeroing it again changes nothing, so layer 1 must be chosen.
    with torch.no_grad():
        for p in decoder_layers(model)[0].parameters():
            p.zero_()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert attribute_layers(model, tiny.data.forget, 1) == [1]
    assert attribute_layers(model, tiny.data.forget, 5) == [1, 0]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_importance_is_an_input_gradient_norm_leaving_weights_without_grads(tiny: Any) -> None:
    from unlearn_llm.methods.fit import importance_score

    model = tiny.fresh_model()
    score = importance_score(model, tiny.data.forget)
    assert score > 0.0 and math.isfinite(score)
    assert all(p.grad is None for p in model.parameters())


def test_one_request_trains_only_the_attributed_layer_then_its_repeat_is_filtered(
    tiny: Any,
) -> None:
    import torch
    from unlearn_llm.methods._common import decoder_layers
    from unlearn_llm.methods.fit import FITParams, fit, fit_memory

    model = tiny.fresh_model()
    params = FITParams(steps=3, loss_epsilon=100.0)
    memory = fit_memory(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    log = fit(model, tiny.data, params)
    decision = memory.decisions[0]
    assert log.steps == 3 and decision.kept == decision.rows == len(tiny.data.forget)
    assert decision.algorithm in ("npo-kl", "npo", "random-label") and len(decision.layers) == 1
    layer = decision.layers[0]
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(
        k.startswith(f"model.layers.{layer}.self_attn.")
        or k.startswith(f"model.layers.{layer}.mlp.")
        for k in changed
    )
    assert all(p.requires_grad for p in model.parameters())
    assert len(decoder_layers(model)) == 2
    # The same request again: every row is a repeat and (epsilon 100) none moves the loss.
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    again = fit(model, tiny.data, params)
    assert again.steps == 0 and memory.decisions[1].kept == 0
    assert all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())
    # a copy of the model starts a stream of its own
    copied = copy.deepcopy(model)
    assert fit_memory(copied).decisions == [] and len(fit_memory(model).decisions) == 2
