"""Each published metric against a worked example computed by hand from its definition.

The expected numbers are typed in (with the arithmetic in a comment), never computed by
calling the package a second time. References: TOFU (arXiv:2401.06121, locuslab/tofu),
MUSE (arXiv:2407.06460, its ``privleak`` evaluation), Min-K% (arXiv:2310.16789),
Min-K%++ (arXiv:2404.02936), OpenUnlearning (exact memorisation, extraction strength),
SimNPO (arXiv:2410.07163, its released code), RMU (arXiv:2403.03218, the WMDP code).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

LN2 = math.log(2.0)


# --- TOFU ---------------------------------------------------------------------------


def test_truth_ratio_is_the_geometric_mean_over_the_paraphrased_probability() -> None:
    from unlearn_llm.metrics.tofu import forget_truth_ratio, truth_ratio, truth_ratio_score

    # Item 1: perturbed answers with average log-likelihoods -1, -2, -3 (normalised
    # probabilities e^-1, e^-2, e^-3), paraphrased answer -0.5 (e^-0.5).
    #   geometric mean = exp((-1 - 2 - 3) / 3) = e^-2
    #   R = e^-2 / e^-0.5 = e^-1.5 = 0.22313016
    # (the arithmetic mean would give (e^-1 + e^-2 + e^-3)/3 / e^-0.5 = 0.31752...)
    # Item 2: perturbed -0.2, -0.4, -0.6 (mean -0.4), paraphrased -1.0:
    #   R = exp(-0.4 + 1.0) = e^0.6 = 1.8221188
    perturbed = np.exp(np.array([[-1.0, -2.0, -3.0], [-0.2, -0.4, -0.6]]))
    paraphrased = np.exp(np.array([-0.5, -1.0]))
    ratios = truth_ratio(perturbed, paraphrased)
    assert ratios == pytest.approx([0.22313016, 1.8221188], rel=1e-7)
    # Utility term (retain/general): mean of max(0, 1 - R) = (0.77686984 + 0) / 2
    assert truth_ratio_score(ratios) == pytest.approx(0.38843492, rel=1e-7)
    # Forget-set summary: mean of min(R, 1/R) = (0.22313016 + 1/1.8221188) / 2
    #   = (0.22313016 + 0.54881164) / 2 = 0.38597090
    assert forget_truth_ratio(ratios) == pytest.approx(0.38597090, rel=1e-7)


def test_forget_quality_is_the_ks_p_value_and_ignores_r_versus_one_over_r() -> None:
    from unlearn_llm.metrics.tofu import forget_quality

    # Two samples of 3 that do not overlap: KS statistic D = 1; the exact two-sided
    # p-value is P(D >= 1) = 2 / C(6, 3) = 2 / 20 = 0.1 (either sample entirely below).
    unlearned, oracle = np.array([0.2, 0.3, 0.4]), np.array([1.1, 1.5, 2.0])
    assert forget_quality(unlearned, oracle) == pytest.approx(0.1)
    # TOFU's code tests 1/R (paraphrased over perturbed); ranks, hence p, are the same.
    assert forget_quality(1 / unlearned, 1 / oracle) == pytest.approx(0.1)


def test_answer_and_option_probability() -> None:
    from unlearn_llm.metrics.tofu import answer_probability, option_probability

    # log pi(a|q) = -3.0 over |a| = 4 tokens (EOS included, as TOFU's labels):
    #   P = exp(-3/4) = 0.47236655
    assert answer_probability(np.array([-3.0]), np.array([4]))[0] == pytest.approx(0.47236655)
    # TOFU's real-authors/world-facts probability: P(true) / (P(true) + sum P(perturbed))
    #   0.5 / (0.5 + 0.2 + 0.2 + 0.1) = 0.5;  0.3 / (0.3 + 0.1 + 0.1 + 0.1) = 0.5
    #   0.6 / (0.6 + 0.3 + 0.2 + 0.1) = 0.6 / 1.2 = 0.5 ... and 0.9 / (0.9 + 0.1) = 0.9
    values = option_probability(
        np.array([0.5, 0.6, 0.9]), np.array([[0.2, 0.2, 0.1], [0.3, 0.2, 0.1], [0.1, 0.0, 0.0]])
    )
    assert values == pytest.approx([0.5, 0.5, 0.9])


def test_model_utility_is_the_harmonic_mean() -> None:
    from unlearn_llm.metrics.tofu import model_utility

    # 3 / (1/0.5 + 1/1.0 + 1/0.25) = 3 / (2 + 1 + 4) = 3/7
    assert model_utility([0.5, 1.0, 0.25]) == pytest.approx(3 / 7)


def test_rouge_l_recall_stems_as_tofu_and_muse_does_not() -> None:
    from unlearn_llm.metrics.muse import rouge_l_f1
    from unlearn_llm.metrics.tofu import rouge_l_recall

    # Reference "Ana runs daily" (3 words), prediction "Ana running daily".
    # TOFU (use_stemmer=True): running -> run, runs -> run, LCS = 3: recall 3/3 = 1.
    # MUSE (use_stemmer=False): LCS = "Ana daily" = 2: F1 = 2 * (2/3 * 2/3) / (4/3) = 2/3.
    assert rouge_l_recall(["Ana running daily"], ["Ana runs daily"])[0] == pytest.approx(1.0)
    assert rouge_l_f1(["Ana running daily"], ["Ana runs daily"])[0] == pytest.approx(2 / 3)


# --- MUSE PrivLeak -------------------------------------------------------------------


def test_privleak_uses_muses_auc_orientation() -> None:
    from unlearn_llm.attacks.membership import mia_auc, muse_auc
    from unlearn_llm.metrics.muse import privleak

    # Scores are log-likelihoods (higher = "trained on").
    # Unlearned model: forget -0.1, -0.2, -0.3; holdout -2.0, -1.0, -0.15.
    #   MUSE AUC = P(holdout > forget) over the 9 pairs: only -0.15 beats -0.2 and -0.3
    #   = 2/9; the members-positive AUC is 7/9.
    forget, holdout = np.array([-0.1, -0.2, -0.3]), np.array([-2.0, -1.0, -0.15])
    assert muse_auc(forget, holdout) == pytest.approx(2 / 9)
    assert mia_auc(forget, holdout) == pytest.approx(7 / 9)
    # Retrain model: forget -1, -2, -3; holdout -1.5, -2.5, -0.5.
    #   holdout > forget: -1.5 beats -2, -3 (2); -2.5 beats -3 (1); -0.5 beats all (3)
    #   = 6/9.
    retrain = muse_auc(np.array([-1.0, -2.0, -3.0]), np.array([-1.5, -2.5, -0.5]))
    assert retrain == pytest.approx(6 / 9)
    # PrivLeak = (2/9 - 6/9) / (6/9) * 100 = -200/3 = -66.67 %
    assert privleak(2 / 9, retrain) == pytest.approx(-200 / 3)
    # A model that ranks every forget text above every holdout text: AUC 0, PrivLeak -100;
    # the retrain model itself: 0.
    memorised = muse_auc(np.array([-0.1, -0.2]), np.array([-3.0, -4.0]))
    assert memorised == 0.0
    assert privleak(memorised, 0.5) == pytest.approx(-100.0)
    assert privleak(0.5, 0.5) == 0.0


# --- Min-K% and Min-K%++ --------------------------------------------------------------


def test_min_k_takes_the_floor_of_k_times_the_length_and_at_least_one_token() -> None:
    from unlearn_llm.attacks.membership import (
        MinKParams,
        TokenStatistics,
        min_k_attack,
        min_k_plus_plus_attack,
    )

    # T = 5 token log-probabilities; sorted: -5, -3, -0.3, -0.2, -0.1.
    logp = np.array([-0.1, -5.0, -0.2, -3.0, -0.3])
    stats = TokenStatistics(log_probs=[logp], normalised=[logp / 2])
    # k = 0.5: max(1, floor(2.5)) = 2 lowest: (-5 - 3) / 2 = -4 (ceil would take 3: -2.7667)
    assert min_k_attack(stats, ["x"], MinKParams(k=0.5))[0] == pytest.approx(-4.0)
    # k = 0.1: floor(0.5) = 0, so 1 token: -5
    assert min_k_attack(stats, ["x"], MinKParams(k=0.1))[0] == pytest.approx(-5.0)
    # k = 1.0: all 5: -8.6 / 5 = -1.72
    assert min_k_attack(stats, ["x"], MinKParams(k=1.0))[0] == pytest.approx(-1.72)
    # Min-K%++ on the normalised scores, k = 0.5: (-2.5 - 1.5) / 2 = -2
    assert min_k_plus_plus_attack(stats, ["x"], MinKParams(k=0.5))[0] == pytest.approx(-2.0)


class _NextTokenModel(torch.nn.Module):
    """Reads the true next token from its input: probability 1/2 on it and 1/4 on each of
    the next two token ids (so the Min-K%++ statistics are known in closed form).

    With ``miss_eos``, where the next token is ``eos`` the 1/2 goes to another token and
    ``eos`` gets 1/4: the greedy prediction misses exactly the end of sequence.
    """

    def __init__(self, vocab: int, eos: int | None = None) -> None:
        super().__init__()
        self.vocab, self.eos = vocab, eos

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        rows, width = input_ids.shape
        nxt = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)  # last column unused
        logits = torch.full((rows, width, self.vocab), -1e4)
        top = nxt.clone()
        if self.eos is not None:
            top[nxt == self.eos] = (self.eos + 3) % self.vocab
        quarter_a = torch.where(top == nxt, (nxt + 1) % self.vocab, nxt)
        quarter_b = (top + 2) % self.vocab
        logits.scatter_(2, top.unsqueeze(-1), math.log(0.5))
        logits.scatter_(2, quarter_a.unsqueeze(-1), math.log(0.25))
        logits.scatter_(2, quarter_b.unsqueeze(-1), math.log(0.25))
        return SimpleNamespace(logits=logits)


@pytest.fixture(scope="module")
def world_and_tokenizer() -> tuple[Any, Any]:
    from unlearn_llm.worlds.facts import build_world, tiny_world_params
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    world = build_world(tiny_world_params(), seed=0)
    return world, train_tokenizer(world, vocab_size=384)


def test_membership_statistics_score_the_answer_tokens_only(
    world_and_tokenizer: tuple[Any, Any],
) -> None:
    from unlearn_llm.metrics.evaluate import answer_token_statistics

    world, tokenizer = world_and_tokenizer
    facts = world.split("forget")[:3]
    stats = answer_token_statistics(_NextTokenModel(len(tokenizer)), tokenizer, facts)
    for qa, logp, z in zip(facts, stats.log_probs, stats.normalised, strict=True):
        # exactly the answer's tokens (no question token, no end-of-sequence token)
        assert len(logp) == len(tokenizer.encode(" " + qa.answer, add_special_tokens=False))
        # each scored token has probability 1/2: l_t = -ln 2
        assert logp == pytest.approx(-LN2)
        # next-token law (1/2, 1/4, 1/4), a = ln 2: log-probs -a, -2a, -2a
        #   mu = -(1/2)a - (1/2)2a = -1.5a;  var = (1/2)(0.5a)^2 + (1/2)(0.5a)^2 = 0.25a^2
        #   z = (-a + 1.5a) / (0.5a) = 1
        assert z == pytest.approx(1.0, abs=1e-5)


def test_exact_memorisation_and_extraction_strength_leave_the_eos_out(
    world_and_tokenizer: tuple[Any, Any],
) -> None:
    from unlearn_llm.metrics.evaluate import score_facts
    from unlearn_llm.metrics.memorisation import exact_memorisation, extraction_strength

    world, tokenizer = world_and_tokenizer
    facts = world.split("forget")[:3]
    model = _NextTokenModel(len(tokenizer), eos=tokenizer.eos_token_id)
    scores = score_facts(model, tokenizer, facts, generate=False)
    # every answer token is predicted, only the end of sequence is missed
    assert scores.exact_memorisation == pytest.approx(1.0)
    assert scores.extraction_strength == pytest.approx(1.0)
    assert not scores.exact_match.any()  # the exact answer must also stop
    # Hand examples of the definitions (OpenUnlearning's EM and ES):
    #   matches 1 1 0 1: EM = 3/4; shortest prefix after which the rest is all right is
    #   k* = 3 (the last token alone), ES = 1 - 3/4 = 0.25
    matches = [np.array([True, True, False, True])]
    assert exact_memorisation(matches)[0] == pytest.approx(0.75)
    assert extraction_strength(matches)[0] == pytest.approx(0.25)


# --- Retain KL, SimNPO --------------------------------------------------------------


class _FixedLogits(torch.nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.fixed = logits

    def forward(self, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(logits=self.fixed)


def test_retain_kl_is_the_per_token_mean_over_non_padding_positions() -> None:
    from unlearn_llm.data import Batch
    from unlearn_llm.methods.gradient_difference import retain_kl

    # One row of 4 positions, the last one padding; 2 tokens in the vocabulary.
    # Reference law (1/2, 1/2) everywhere; model (0.8, 0.2), (0.8, 0.2), (0.5, 0.5) and, on
    # the padding, (0.99, 0.01).
    # KL(p || q) = 0.5 ln(0.5/0.8) + 0.5 ln(0.5/0.2) = 0.5 (-0.47000363 + 0.91629073)
    #            = 0.22314355 on the first two positions, 0 on the third;
    # mean over the 3 real positions = 0.44628710 / 3 = 0.14876237
    q = torch.tensor([[0.8, 0.2], [0.8, 0.2], [0.5, 0.5], [0.99, 0.01]]).log().unsqueeze(0)
    p = torch.full((1, 4, 2), 0.5).log()
    batch = Batch(
        input_ids=torch.zeros((1, 4), dtype=torch.long),
        attention_mask=torch.tensor([[1, 1, 1, 0]]),
        labels=torch.tensor([[-100, -100, 1, -100]]),
    )
    value = retain_kl(_FixedLogits(q), _FixedLogits(p), batch)
    assert float(value) == pytest.approx(0.14876237, rel=1e-6)


def test_simnpo_margin_is_subtracted_before_the_beta_scale() -> None:
    from unlearn_llm.methods.simnpo import simnpo_forget_loss

    # log pi(y|x) = -8 over |y| = 4 tokens: NLL/|y| = 2; beta = 2.5, gamma = 0.5.
    #   inner = beta * (2 - 0.5) = 3.75;  -log sigma(3.75) = log(1 + e^-3.75) = 0.02324540
    #   loss = (2 / beta) * 0.02324540 = 0.8 * 0.02324540 = 0.01859632
    # (the paper's equation with the same gamma outside the scale would give
    #  0.8 * log(1 + e^-(5 - 0.5)) = 0.8 * 0.01104054 = 0.00883243)
    loss = simnpo_forget_loss(torch.tensor([-8.0]), torch.tensor([4.0]), beta=2.5, gamma=0.5)
    assert float(loss) == pytest.approx(0.01859632, rel=1e-5)


# --- RMU ------------------------------------------------------------------------------


def _tiny_llama(layers: int = 4) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    return LlamaForCausalLM(config).eval()


def _rows(seed: int) -> Any:
    from unlearn_llm.data import Batch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 40, (6, 7), generator=generator)
    mask = torch.ones_like(ids)
    mask[:2, 5:] = 0
    labels = ids.masked_fill(mask == 0, -100)
    return Batch(input_ids=ids, attention_mask=mask, labels=labels)


def test_rmu_steers_the_layer_output_before_the_final_norm() -> None:
    from unlearn_llm.methods.rmu import _hidden

    model = _tiny_llama()
    batch = _rows(0)
    seen: list[torch.Tensor] = []
    handle = model.model.norm.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    with torch.no_grad():
        out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            output_hidden_states=True,
        )
        last = _hidden(model, batch, 3)
        middle = _hidden(model, batch, 1)
    handle.remove()
    # the last layer's output is the final norm's input, not HF's last hidden state
    assert torch.allclose(last, seen[0])
    assert not torch.allclose(last, out.hidden_states[-1], atol=1e-3)
    # a middle layer's output is HF's hidden_states[layer + 1]
    assert torch.allclose(middle, out.hidden_states[2])


@pytest.mark.parametrize("trainable", ["down_proj", "layers"])
def test_rmu_trains_the_down_projections_of_three_layers_by_default(trainable: str) -> None:
    from unlearn_llm.methods import RMUParams, UnlearnData, rmu

    model = _tiny_llama()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    flagged: list[set[str]] = []

    def on_step(_step: int, current: Any) -> None:
        flagged.append({n for n, p in current.named_parameters() if p.requires_grad})

    # layer 3 of 4: layers 1, 2, 3 are updated (the paper's l-2..l)
    params = RMUParams(layer=3, steps=2, eval_every=1, trainable=trainable)  # type: ignore[arg-type]
    rmu(model, UnlearnData(forget=_rows(1), retain=_rows(2)), params, on_step=on_step)
    if trainable == "down_proj":
        expected = {f"model.layers.{i}.mlp.down_proj.weight" for i in (1, 2, 3)}
    else:
        prefixes = ("model.layers.1.", "model.layers.2.", "model.layers.3.")
        expected = {name for name in before if name.startswith(prefixes)}
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert flagged[0] == expected
    assert changed == expected
    assert all(p.requires_grad for p in model.parameters())  # every flag restored
