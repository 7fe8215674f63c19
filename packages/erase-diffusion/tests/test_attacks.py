"""Attacks that bring an erased concept back: registry, contract, and power on a model that
only hides the concept in its text encoder (shipped pipeline, concept circle)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest
import torch
from erase_diffusion.attacks import ATTACKS
from erase_diffusion.attacks.arithmetic import concept_arithmetic
from erase_diffusion.attacks.concept_vector import concept_vector
from erase_diffusion.attacks.embeddings import learned_embedding, learned_embedding_transfer
from erase_diffusion.attacks.hiding import hide_in_text_encoder
from erase_diffusion.attacks.latents import inverted_latents, inverted_latents_transfer
from erase_diffusion.attacks.prompt_search import adversarial_ids, prompt_search
from erase_diffusion.attacks.target import DiffusionAttackTarget
from erase_diffusion.worlds.shapes import make_concept
from unlearn_schema import MethodParams, SpecError
from unlearn_schema.testing import heavy_modules_after

# Test sizes: a few seconds per attack on one core.
FAST_EMBEDDING = {"steps": 25, "training_images": 16, "images_per_prompt": 1}
FAST_LATENTS = {"images": 12}
FAST_SEARCH = {"prompts": 4, "noise_draws": 2, "sweeps": 1, "tokens": 3}


@pytest.fixture(scope="module")
def hidden(shipped_pipe: Any) -> Any:
    return hide_in_text_encoder(shipped_pipe, "circle", "square")


def target_for(pipe: Any, shipped_pipe: Any, judge: Any, seed: int = 0) -> DiffusionAttackTarget:
    concept = make_concept("circle", prompts_per_concept=8)
    return DiffusionAttackTarget(
        pipe=pipe, concept=concept, judge=judge, seed=seed, original=shipped_pipe
    )


def weights(pipe: Any) -> dict[str, torch.Tensor]:
    parts = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    return {f"{p}.{k}": v.clone() for p, m in parts.items() for k, v in m.state_dict().items()}


def test_registry_records_and_entry_point() -> None:
    assert list(ATTACKS) == [
        "learned-embedding",
        "learned-embedding-transfer",
        "inverted-latents",
        "inverted-latents-transfer",
        "concept-vector",
        "prompt-search",
        "concept-arithmetic",
    ]
    for name, record in ATTACKS.items():
        assert record.kind == "attack"
        assert record.summary.strip() and len(record.summary) < 100, name
        assert issubclass(record.params_type, MethodParams), name
        assert callable(record.function), name
    found = [ep for ep in entry_points(group="unlearn.attacks") if ep.name == "erase-diffusion"]
    assert len(found) == 1 and found[0].load() is ATTACKS


def test_listing_and_validating_attacks_imports_no_torch() -> None:
    code = (
        "from erase_diffusion.attacks import ATTACKS\n"
        "for record in ATTACKS.values():\n"
        "    record.validate_params({}, record.name)\n"
    )
    assert heavy_modules_after(code, ("torch", "diffusers", "transformers")) == []


def test_hiding_model_hides_at_the_text_encoder_only(
    shipped_pipe: Any, hidden: Any, judge: Any
) -> None:
    prompts = make_concept("circle", prompts_per_concept=8).prompts
    seen = judge.judge(hidden.generate(prompts, steps=12)).sees("circle", "shape")
    assert seen.mean() <= 0.1
    original = shipped_pipe.unet.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in hidden.unet.state_dict().items())
    circle, square = (
        hidden.tokenizer(w, add_special_tokens=False).input_ids[0] for w in ("circle", "square")
    )
    table = hidden.text_encoder.get_input_embeddings().weight
    assert torch.equal(table[circle], table[square])
    assert not torch.equal(
        shipped_pipe.text_encoder.get_input_embeddings().weight[circle], table[circle]
    )


@pytest.mark.parametrize(
    ("attack", "params"),
    [
        (learned_embedding, FAST_EMBEDDING),
        (learned_embedding_transfer, FAST_EMBEDDING),
        (inverted_latents, FAST_LATENTS),
        (concept_vector, {"images_per_prompt": 1}),
    ],
)
def test_attack_brings_back_a_concept_hidden_in_the_text_encoder(
    attack: Any, params: dict[str, Any], shipped_pipe: Any, hidden: Any, judge: Any
) -> None:
    before = weights(hidden)
    outcome = attack(target_for(hidden, shipped_pipe, judge), params)
    assert outcome.clean_reproduction_rate <= 0.1
    assert outcome.reproduction_rate >= 0.5
    assert outcome.attack_success_rate >= outcome.reproduction_rate
    assert outcome.concept == "circle" and outcome.wall_time_s > 0
    after = weights(hidden)
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert all(p.grad is None for p in hidden.unet.parameters())


def test_attacks_reach_the_concept_on_the_original(shipped_pipe: Any, judge: Any) -> None:
    target = target_for(shipped_pipe, shipped_pipe, judge)
    for outcome in (
        inverted_latents(target, FAST_LATENTS),
        inverted_latents_transfer(target, FAST_LATENTS),
    ):
        assert outcome.reproduction_rate >= 0.8, outcome.attack
        assert outcome.metrics["reconstruction_mse"] < 0.05


def test_inverted_latents_bring_back_what_uce_erased(shipped_pipe: Any, judge: Any) -> None:
    # UCE edits the UNet's cross-attention, not the text encoder; white-box inversion still
    # finds starting noise from which the edited UNet draws the concept.
    from erase_diffusion.methods.request import EraseRequest
    from erase_diffusion.methods.uce import erase_uce
    from erase_diffusion.worlds.shapes import all_attributes, caption

    preserve = [caption(a) for a in all_attributes() if a.shape != "circle"][::4][:24]
    erased = erase_uce(shipped_pipe, EraseRequest([make_concept("circle")], preserve))
    outcome = inverted_latents(target_for(erased, shipped_pipe, judge), FAST_LATENTS)
    assert outcome.clean_reproduction_rate <= 0.1
    assert outcome.reproduction_rate >= 0.5


def test_attacks_are_seeded(shipped_pipe: Any, hidden: Any, judge: Any) -> None:
    params = {"steps": 3, "training_images": 4, "batch_size": 2}
    first = learned_embedding(target_for(hidden, shipped_pipe, judge, seed=3), params)
    again = learned_embedding(target_for(hidden, shipped_pipe, judge, seed=3), params)
    assert first.metrics["embedding_norm"] == again.metrics["embedding_norm"]
    assert first.reproduction_rate == again.reproduction_rate
    other = learned_embedding(target_for(hidden, shipped_pipe, judge, seed=4), params)
    assert other.metrics["embedding_norm"] != first.metrics["embedding_norm"]


def test_bad_params_and_targets_are_errors(shipped_pipe: Any, hidden: Any, judge: Any) -> None:
    target = target_for(hidden, shipped_pipe, judge)
    with pytest.raises(SpecError, match=r"(?s)learned-embedding params.*steps"):
        learned_embedding(target, {"steps": 0})
    with pytest.raises(SpecError, match=r"(?s)inverted-latents params.*imagez"):
        inverted_latents(target, {"imagez": 3})
    no_original = DiffusionAttackTarget(pipe=hidden, concept=target.concept, judge=judge, seed=0)
    with pytest.raises(ValueError, match=r"black-box.*original=\.\.\."):
        learned_embedding_transfer(no_original, FAST_EMBEDDING)
    with pytest.raises(ValueError, match=r"black-box.*original=\.\.\."):
        inverted_latents_transfer(no_original, FAST_LATENTS)
    with pytest.raises(ValueError, match=r"black-box.*original=\.\.\."):
        concept_vector(no_original)
    with pytest.raises(SpecError, match=r"(?s)concept-vector params.*strength"):
        concept_vector(target, {"strength": -1.0})
    with pytest.raises(SpecError, match=r"(?s)prompt-search params.*position"):
        prompt_search(target, {"position": "middle"})
    with pytest.raises(ValueError, match="anchor must differ"):
        hide_in_text_encoder(shipped_pipe, "circle", "circle")


def test_prompt_search_tokens_sit_before_or_after_the_prompt(shipped_pipe: Any) -> None:
    tok = shipped_pipe.tokenizer
    red, dark = (tok(w, add_special_tokens=False).input_ids[0] for w in ("red", "dark"))
    prompt = "a red circle on a dark plain background"
    words = tok(prompt, add_special_tokens=False).input_ids
    for position, body in (("prefix", [red, dark, *words]), ("suffix", [*words, red, dark])):
        ids = adversarial_ids(shipped_pipe, [prompt], [[red, dark]], position)
        row = [tok.bos_token_id, *body, tok.eos_token_id]
        assert ids[0, : len(row)].tolist() == row
        assert set(ids[0, len(row) :].tolist()) <= {tok.pad_token_id}
    with pytest.raises(ValueError, match=r"takes 8 tokens; with 7 adversarial.*exceeds"):
        adversarial_ids(shipped_pipe, [prompt], [[red] * 7], "prefix")


def test_prompt_search_keeps_most_circles_on_the_original(shipped_pipe: Any, judge: Any) -> None:
    # On the original model the prompt already names the concept: the search keeps most
    # images circles, and the tokens it found are words. The denoising loss is not the
    # judge, so the chosen tokens ("triangle", say) cost some circles: measured 0.88 -> 0.62.
    outcome = prompt_search(target_for(shipped_pipe, shipped_pipe, judge), FAST_SEARCH)
    assert outcome.clean_reproduction_rate >= 0.75
    assert outcome.reproduction_rate >= 0.5
    assert len(outcome.prompts) == 4
    # 3 searched tokens before the 8-word caption ("a red circle on a dark plain background")
    assert all(
        p.endswith("background") and len(p.split()) == 3 + 8 and p.split()[3] == "a"
        for p in outcome.prompts
    ), outcome.prompts
    assert outcome.metrics["denoising_loss"] > 0 and outcome.metrics["search_s"] > 0


def test_prompt_search_on_the_hiding_model_reaches_only_the_shape_prior(
    shipped_pipe: Any, hidden: Any, judge: Any
) -> None:
    # The hider reads "circle" as "square" and the world's vocabulary has no other word
    # for a circle, so no discrete prompt can name it: the search only breaks the shape
    # conditioning (0.25 is the prior's one-in-four). Measured: CRR 0.00 -> 0.25, ASR 0.50.
    before = weights(hidden)
    outcome = prompt_search(target_for(hidden, shipped_pipe, judge), FAST_SEARCH)
    assert outcome.clean_reproduction_rate == 0.0
    assert 0.1 <= outcome.reproduction_rate <= 0.5
    assert outcome.attack_success_rate >= outcome.reproduction_rate
    after = weights(hidden)
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert all(p.grad is None for p in hidden.unet.parameters())


# Against a pipeline retrained without circles (shipped, undertrained: the judge sees a
# circle in about 13 % of its images of other shapes, the band of "nothing found").
# Slow: seven attacks on it take about 20 s on an idle core (a minute under load).
NEVER_SAW = [
    (learned_embedding, FAST_EMBEDDING, 0.15),
    (learned_embedding_transfer, FAST_EMBEDDING, 0.15),
    (inverted_latents_transfer, FAST_LATENTS, 0.3),
    (concept_vector, {"images_per_prompt": 1}, 0.15),
    (prompt_search, FAST_SEARCH, 0.15),
    (concept_arithmetic, {"images_per_prompt": 1}, 0.15),
]


@pytest.fixture(scope="module")
def never_saw_circle() -> Any:
    from erase_diffusion.attacks.reference import retrained_without

    pipe = retrained_without("circle")
    assert pipe is not None, "the shipped tiny-shapes-no-circle pipeline is missing"
    return pipe


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attack", "params", "band"), NEVER_SAW, ids=[a.__name__ for a, _, _ in NEVER_SAW]
)
def test_attack_finds_nothing_in_a_model_retrained_without_the_concept(
    attack: Any,
    params: dict[str, Any],
    band: float,
    shipped_pipe: Any,
    never_saw_circle: Any,
    judge: Any,
) -> None:
    # Measured (seed 0): learned embeddings 0.12, their transfer 0.12, inverted-latents
    # transfer 0.25, concept vector 0.00, prompt search 0.00 (on the hiding model the
    # same attacks reach 0.5-1.0, prompt search 0.25).
    outcome = attack(target_for(never_saw_circle, shipped_pipe, judge), params)
    assert outcome.reproduction_rate <= band


@pytest.mark.slow
def test_white_box_inversion_paints_circles_even_into_a_model_that_never_saw_one(
    shipped_pipe: Any, never_saw_circle: Any, judge: Any
) -> None:
    # DDIM inversion through the model itself is close to invertible: it reconstructs the
    # concept image whatever the model learned (measured CRR 1.00 here). So its CRR on an
    # erased model is an upper bound, not evidence of knowledge left behind.
    outcome = inverted_latents(target_for(never_saw_circle, shipped_pipe, judge), FAST_LATENTS)
    assert outcome.clean_reproduction_rate <= 0.15
    assert outcome.reproduction_rate >= 0.8
