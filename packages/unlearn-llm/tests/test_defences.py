"""Erase-and-check: erased-subsequence counts by hand, the certificate on a planted suffix,
the randomized and greedy variants, and the trained in-world filter under a GCG-like attack."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from unlearn_llm.defences import (
    MODES,
    erase_and_check,
    erased_subsequences,
    greedy_erase_and_check,
    randomized_erase_and_check,
    subsequence_count,
)

HARM, CALM = 7, 9


def planted_scores(sequences: Sequence[Sequence[int]]) -> list[float]:
    """A filter with a known blind spot: token 7 is harmful (0.9), each token 9 lowers
    the score by 0.5, so a single 9 anywhere hides a harmful prompt (0.9 -> 0.4)."""
    return [max(0.0, 0.9 - 0.5 * list(s).count(CALM)) if HARM in s else 0.0 for s in sequences]


def test_erased_subsequences_listed_by_hand() -> None:
    prompt = (1, 2, 3, 4)
    assert erased_subsequences(prompt, "suffix", 2) == [(1, 2, 3, 4), (1, 2, 3), (1, 2)]
    assert erased_subsequences(prompt, "insertion", 2) == [
        (1, 2, 3, 4),
        (2, 3, 4),
        (1, 3, 4),
        (1, 2, 4),
        (1, 2, 3),
        (3, 4),
        (1, 4),
        (1, 2),
    ]
    infusion = erased_subsequences(prompt, "infusion", 2)
    assert len(infusion) == 11 and len(set(infusion)) == 11
    assert (2, 4) in infusion and (1, 3) in infusion  # non-contiguous erasures
    assert (2, 4) not in erased_subsequences(prompt, "insertion", 2)


@pytest.mark.parametrize(
    ("n", "d", "suffix", "insertion", "infusion"),
    [
        # suffix d+1; insertion 1 + sum_{j<=d} (n-j+1); infusion sum_{i<=d} C(n,i)
        (4, 2, 3, 1 + 4 + 3, 1 + 4 + 6),
        (6, 3, 4, 1 + 6 + 5 + 4, 1 + 6 + 15 + 20),
        (5, 0, 1, 1, 1),
        (10, 1, 2, 11, 11),
        (3, 5, 3, 1 + 3 + 2, 1 + 3 + 3),  # d >= n: one token always stays (d = n-1)
    ],
)
def test_counts_match_the_closed_form(
    n: int, d: int, suffix: int, insertion: int, infusion: int
) -> None:
    prompt = tuple(range(10, 10 + n))
    for mode, expected in zip(MODES, (suffix, insertion, infusion), strict=True):
        assert subsequence_count(n, mode, d) == expected
        assert len(erased_subsequences(prompt, mode, d)) == expected
    assert subsequence_count(20, "insertion", 4) <= 20 * 4 + 1  # the paper's nd bound
    assert subsequence_count(20, "infusion", 3) == sum(math.comb(20, i) for i in range(4))


def test_bad_mode_and_size_are_named() -> None:
    with pytest.raises(ValueError, match=r"'prefix'.*accepted"):
        subsequence_count(4, "prefix", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="-1"):
        erased_subsequences((1, 2), "suffix", -1)


def test_a_planted_adversarial_suffix_is_caught_with_d_at_least_its_length() -> None:
    clean = (1, HARM, 2, 3)
    attacked = (*clean, CALM, CALM)
    assert planted_scores([clean])[0] >= 0.5
    assert planted_scores([attacked])[0] < 0.5  # the bare filter is fooled
    assert not erase_and_check(planted_scores, attacked, "suffix", 0).harmful
    assert not erase_and_check(planted_scores, attacked, "suffix", 1).harmful  # one 9 left
    for d in (2, 3, 5):
        result = erase_and_check(planted_scores, attacked, "suffix", d)
        assert result.harmful and result.max_score >= 0.5
    harmless = (1, 2, 3, CALM, CALM)
    full = erase_and_check(planted_scores, harmless, "infusion", 2)
    assert not full.harmful and full.checks == subsequence_count(5, "infusion", 2)


def test_insertion_and_infusion_catch_tokens_in_the_middle() -> None:
    attacked = (1, CALM, CALM, HARM, 2)  # the block before the harmful token
    assert not erase_and_check(planted_scores, attacked, "suffix", 2).harmful
    assert erase_and_check(planted_scores, attacked, "insertion", 2).harmful
    spread = (CALM, 1, HARM, CALM, 2)
    assert not erase_and_check(planted_scores, spread, "insertion", 2).harmful
    assert erase_and_check(planted_scores, spread, "infusion", 2).harmful


def test_randomized_checks_the_stated_share() -> None:
    attacked = (1, HARM, 2, 3, 4, 5, CALM, CALM)
    count = subsequence_count(len(attacked), "infusion", 2)
    result = randomized_erase_and_check(
        planted_scores, (1, 2, 3, 4, 5, 6, 7, 8), "infusion", 2, 0.1, random.Random(0)
    )
    assert result.checks == 1 + math.ceil(0.1 * (count - 1))
    full = randomized_erase_and_check(
        planted_scores, attacked, "infusion", 2, 1.0, random.Random(0)
    )
    assert full.harmful
    with pytest.raises(ValueError, match="fraction"):
        randomized_erase_and_check(planted_scores, attacked, "suffix", 2, 0.0, random.Random(0))


def test_greedy_erases_the_token_that_raises_the_harmful_score() -> None:
    attacked = (HARM, CALM, CALM)
    zero = greedy_erase_and_check(planted_scores, attacked, 0)
    assert not zero.harmful and zero.checks == 1
    one = greedy_erase_and_check(planted_scores, attacked, 1)
    # round 1 tries erasing each of the 3 tokens: a 9 gone gives 0.4, still below 0.5
    assert not one.harmful and one.checks == 1 + 3 and one.max_score == pytest.approx(0.4)
    two = greedy_erase_and_check(planted_scores, attacked, 2)
    # round 2 erases the other 9 (0.9), not the 7 (0.0)
    assert two.harmful and two.checks == 1 + 3 + 2 and two.max_score == pytest.approx(0.9)
    calm = greedy_erase_and_check(planted_scores, (1, 2, CALM), 5)
    assert not calm.harmful and calm.checks == 1 + 3 + 2


def test_trained_filter_certificate_under_a_gcg_like_attack(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unlearn_llm.defences.safety_classifier import accuracy, trained_safety_filter
    from unlearn_llm.defences.safety_prompts import (
        SafetyClassifierParams,
        SafetyPromptsParams,
        safety_prompts,
    )
    from unlearn_llm.defences.suffix_attack import greedy_coordinate_attack
    from unlearn_llm.worlds.facts import build_world, tiny_world_params

    monkeypatch.setenv("UNLEARN_LLM_CACHE", str(tmp_path))
    world = build_world(tiny_world_params(), 0)
    params = SafetyClassifierParams(epochs=15, prompts=SafetyPromptsParams(per_label=120))
    safety = trained_safety_filter(world, params, seed=0)
    _, test = safety_prompts(world, params.prompts, 0)
    assert accuracy(safety, test) >= 0.9
    again = trained_safety_filter(world, params, seed=0)
    assert again.from_cache
    rng = random.Random(0)
    fooled = 0
    harmful = [p for p in test if p.harmful][:6]
    for prompt in harmful:
        clean = safety.vocabulary.encode(prompt.text)
        attack = greedy_coordinate_attack(safety, clean, "suffix", 4, rng, steps=30)
        assert attack.tokens[: len(clean)] == clean and attack.positions == (
            tuple(range(len(clean), len(clean) + 4))
        )
        fooled += attack.score < 0.5
        if attack.clean_score >= 0.5:  # the certificate: erasing 4 trailing tokens gives clean
            assert erase_and_check(safety.harmful_scores, attack.tokens, "suffix", 4).harmful
    assert fooled >= len(harmful) // 2  # the attack works on the bare filter
