"""KIF: the signature and suppression arithmetic on hand-worked tensors, and on the tiny
model: the suppression teacher and the merged adapter lower the forget facts, keep the
retain ones, and the attacks (relearning, probes) are reported beside the oracle's."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from unlearn_llm.data import Batch, sequence_logprob
from unlearn_llm.methods import METHODS, KIFParams, kif
from unlearn_llm.methods.kif import (
    Suppression,
    find_signatures,
    presence,
    retain_baseline,
    signature_basis,
    signature_share,
    subject_tokens,
    suppress,
    token_signatures,
)


def test_retain_baseline_and_token_signatures_worked_by_hand() -> None:
    # one row, three positions: the start token (left out of the baseline) and two more
    hidden = torch.tensor([[[9.0, 9.0], [1.0, 2.0], [3.0, 0.0]]])
    mask = torch.tensor([[1, 1, 1]])
    baseline = retain_baseline(hidden, mask)
    assert baseline.tolist() == [2.0, 1.0]  # mean of (1, 2) and (3, 0)
    # forget activations: token 7 at two positions, token 8 at one (position 0 not asked)
    forget = torch.tensor([[[5.0, 5.0], [4.0, 1.0], [2.0, 3.0], [0.0, 7.0]]])
    ids = torch.tensor([[7, 7, 7, 8]])
    asked = torch.tensor([[False, True, True, True]])
    signatures = token_signatures(forget, ids, asked, [7, 8], baseline)
    # s_7 = mean((4, 1), (2, 3)) - (2, 1) = (1, 1); s_8 = (0, 7) - (2, 1) = (-2, 6)
    assert signatures.tolist() == [[1.0, 1.0], [-2.0, 6.0]]


def test_signature_basis_spans_the_signatures_and_drops_null_directions() -> None:
    # two parallel signatures in 3-d: rank 1, the unit vector along (1, 2, 2) / 3
    signatures = torch.tensor([[1.0, 2.0, 2.0], [2.0, 4.0, 4.0]])
    basis = signature_basis(signatures, max_rank=8)
    assert basis.shape == (3, 1)
    assert torch.allclose(basis[:, 0].abs(), torch.tensor([1.0, 2.0, 2.0]) / 3.0, atol=1e-6)
    # two independent ones, capped at rank 1: the larger direction is kept
    capped = signature_basis(torch.tensor([[10.0, 0.0], [0.0, 1.0]]), max_rank=1)
    assert torch.allclose(capped[:, 0].abs(), torch.tensor([1.0, 0.0]))


def test_presence_and_suppression_worked_by_hand() -> None:
    basis = torch.tensor([[1.0], [0.0], [0.0]])  # U = e_1
    baseline = torch.tensor([1.0, 0.0, 0.0])  # mu
    hidden = torch.tensor(
        [
            [3.0, 1.0, 0.0],  # delta (2, 1, 0): c = 4 / 5 = 0.8 -> present
            [1.5, 2.0, 0.0],  # delta (0.5, 2, 0): c = 0.25 / 4.25 -> absent
            [1.0, 0.0, 0.0],  # delta 0: c = 0, untouched
        ]
    )
    shares = presence(hidden, basis, baseline)
    assert shares.tolist() == pytest.approx([0.8, 0.25 / 4.25, 0.0])
    removed = suppress(hidden, basis, baseline, threshold=0.5, damping=1.0)
    # present: h - U U^T delta = (3, 1, 0) - (2, 0, 0) = (1, 1, 0); the others unchanged
    assert removed.tolist() == [[1.0, 1.0, 0.0], [1.5, 2.0, 0.0], [1.0, 0.0, 0.0]]
    damped = suppress(hidden, basis, baseline, threshold=0.5, damping=0.25)
    assert damped[0].tolist() == [2.5, 1.0, 0.0]  # a quarter of (2, 0, 0) removed
    # threshold 0.9: the signature is not present enough anywhere
    assert torch.equal(suppress(hidden, basis, baseline, threshold=0.9, damping=1.0), hidden)


def test_subject_tokens_are_forget_question_tokens_absent_from_retain_rows() -> None:
    # prompt = start token + question; labels -100 on the prompt
    forget = Batch(
        torch.tensor([[1, 5, 6, 9, 2], [1, 5, 7, 9, 2]]),
        torch.ones(2, 5, dtype=torch.long),
        torch.tensor([[-100, -100, -100, 9, 2], [-100, -100, -100, 9, 2]]),
    )
    retain = Batch(
        torch.tensor([[1, 5, 8, 9, 0]]),
        torch.tensor([[1, 1, 1, 1, 0]]),
        torch.tensor([[-100, -100, -100, 9, -100]]),
    )
    # 5 is shared with retain, 9 is an answer token, 6 and 7 are the subjects
    assert subject_tokens(forget, retain) == [6, 7]


def _probabilities(model: Any, tiny: Any) -> tuple[float, float]:
    with torch.no_grad():
        forget, _ = sequence_logprob(model, tiny.data.forget)
        retain, _ = sequence_logprob(model, tiny.data.retain)
    return float(forget.exp().mean()), float(retain.exp().mean())


@pytest.fixture(scope="module")
def unlearned(tiny: Any) -> Any:
    model = tiny.fresh_model()
    log = kif(model, tiny.data, KIFParams(steps=30, seed=0))
    return model, log


def test_the_suppression_teacher_hides_the_forget_facts(tiny: Any) -> None:
    from unlearn_llm.methods._common import decoder_layers

    model = tiny.fresh_model()
    bases, baselines = find_signatures(model, tiny.data, [0], max_rank=32)
    before = _probabilities(model, tiny)
    hook = Suppression(bases, baselines, threshold=0.5, damping=1.0).hook(0)
    handle = decoder_layers(model)[0].register_forward_hook(hook)
    try:
        after = _probabilities(model, tiny)
    finally:
        handle.remove()
    assert after[0] < 0.2 * before[0], (before, after)
    assert after[1] > before[1] - 0.1, (before, after)


def test_kif_lowers_forget_probability_keeps_retain_and_merges_the_adapter(
    tiny: Any, unlearned: Any
) -> None:
    model, log = unlearned
    before = _probabilities(tiny.model, tiny)
    after = _probabilities(model, tiny)
    assert after[0] < 0.5 * before[0], (before, after)
    assert after[1] > before[1] - 0.05, (before, after)
    assert log.steps == 30 and len(log.forget_losses) == 30
    assert log.forget_losses[-1] < log.forget_losses[0]
    # a plain model again: same parameter names, no adapter, every flag as it was
    names = [name for name, _ in model.named_parameters()]
    assert names == [name for name, _ in tiny.model.named_parameters()]
    assert all(p.requires_grad for p in model.parameters())
    original = dict(tiny.model.named_parameters())
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, original[n])}
    # only layer 0's projections moved (the signature layer); layer 1 and the head did not
    assert changed and all(n.startswith("model.layers.0.") for n in changed), changed


def test_kif_takes_the_signature_out_of_the_models_own_activations(
    tiny: Any, unlearned: Any
) -> None:
    model, _ = unlearned
    bases, baselines = find_signatures(tiny.model, tiny.data, [0], max_rank=32)
    before = signature_share(tiny.model, tiny.data.forget, bases, baselines)[0]
    after = signature_share(model, tiny.data.forget, bases, baselines)[0]
    retain = signature_share(tiny.model, tiny.data.retain, bases, baselines)[0]
    # the forget rows start well above the retain rows' share and end near it
    assert before > retain + 0.05
    assert after < retain + 0.5 * (before - retain), (before, after, retain)


def test_kif_is_reported_under_relearning_and_probes_beside_the_oracle(
    tiny: Any, unlearned: Any, tiny_oracle: Any
) -> None:
    from unlearn_llm.attacks.probes import probes
    from unlearn_llm.attacks.relearning import RelearningParams, relearning

    model, _ = unlearned
    target = tiny.attack_target

    params = RelearningParams(steps=20, learning_rate=1e-3)
    kif_relearned = relearning(target(copy.deepcopy(model)), params)
    oracle_relearned = relearning(target(tiny_oracle), params)
    # before relearning the kif model knows the held-out forget facts less than it did
    original = _probabilities_of_world(tiny, tiny.model)
    assert kif_relearned.metrics["clean_knowledge"] < original - 0.1, (original, kif_relearned)
    print(
        f"kif: clean {kif_relearned.metrics['clean_knowledge']:.3f}, relearned "
        f"{kif_relearned.knowledge:.3f}; oracle relearned {oracle_relearned.knowledge:.3f}; "
        f"original {original:.3f}"
    )
    assert 0.0 <= kif_relearned.knowledge <= 1.0
    assert 0.0 <= oracle_relearned.knowledge <= 1.0
    probed = probes(target(model))
    assert probed.attack == "probes" and 0.0 <= probed.knowledge <= 1.0
    print(f"kif: probe knowledge {probed.knowledge:.3f} ({probed.knowledge_name})")


def _probabilities_of_world(tiny: Any, model: Any) -> float:
    from unlearn_llm.metrics.evaluate import score_facts

    scores = score_facts(model, tiny.tokenizer, tiny.world.split("forget"), generate=False)
    return float(scores.answer_probability.mean())


def test_kif_errors_name_the_bad_value(tiny: Any) -> None:
    with pytest.raises(ValueError, match=r"layer\(s\) \[5\] do not exist.*accepted 0\.\.1"):
        kif(tiny.fresh_model(), tiny.data, KIFParams(layers=[5]))
    # retain rows that hold every forget row's tokens: no subject-specific token is left
    shared = copy.copy(tiny.data)
    shared.retain = tiny.data.forget
    with pytest.raises(ValueError, match="no subject-specific signature"):
        kif(tiny.fresh_model(), shared, KIFParams(steps=1))
    with pytest.raises(TypeError, match="params must be a KIFParams"):
        kif(tiny.fresh_model(), tiny.data, {"steps": 1})  # type: ignore[arg-type]
    assert METHODS.validate_params("kif", {"presence_threshold": 0.3}).presence_threshold == 0.3
