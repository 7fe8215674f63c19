"""Methods on a tiny random pipeline: falsifiable properties of each edit, and errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from erase_diffusion.methods.cross_attention import (
    concept_rows,
    cross_attention_projections,
    preserve_rows,
    reference_update,
)
from erase_diffusion.methods.esd import ESDUParams, erase_esd, erase_esd_u, erase_esd_x
from erase_diffusion.methods.mace import erase_mace
from erase_diffusion.methods.rece import RECETrace, erase_rece, erase_rece_cumulative
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.uce import erase_uce
from erase_diffusion.worlds.shapes import make_concept, prompts_for
from unlearn_schema import Concept, SpecError

PRESERVE = prompts_for("triangle", 4) + prompts_for("cross", 4)


def _weights(pipe: Any) -> list[torch.Tensor]:
    return [m.weight.detach().double().clone() for _, m in cross_attention_projections(pipe.unet)]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_uce_maps_erased_rows_to_the_anchor_image_and_keeps_preserved(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    before = _weights(tiny_pipe)
    edited = erase_uce(
        tiny_pipe, EraseRequest([concept], PRESERVE), {"preserve_weight": 1.0, "ridge": 1e-3}
    )
    after = _weights(edited)
    erased, anchors = concept_rows(tiny_pipe, [concept])
    kept = preserve_rows(tiny_pipe, PRESERVE)
    for w, w_new in zip(before, after, strict=True):
        anchor_image = anchors @ w.T
        distance_before = _relative(erased @ w.T, anchor_image)
        # Erased rows land 4× closer to the anchor's image than before (the rows outnumber
        # the 64 dimensions, so the least-squares fit is not exact) while preserved rows
        # move by less than a quarter of that original gap.
        after_gap = _relative(erased @ w_new.T, anchor_image)
        assert after_gap < 0.25 * distance_before
        assert _relative(kept @ w_new.T, kept @ w.T) < 0.25 * distance_before
    # The caller's model is untouched unless asked.
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(tiny_pipe), strict=True))


def test_in_place_edit_changes_the_given_model(tiny_pipe: Any) -> None:
    copy = tiny_pipe.copy()
    before = _weights(copy)
    returned = erase_uce(
        copy, EraseRequest([make_concept("red", prompts_per_concept=2)]), in_place=True
    )
    assert returned is copy
    assert any(not torch.equal(a, b) for a, b in zip(before, _weights(copy), strict=True))


def test_reference_and_fast_uce_agree(tiny_pipe: Any) -> None:
    concept = make_concept("square", prompts_per_concept=3)
    fast = _weights(erase_uce(tiny_pipe, EraseRequest([concept], PRESERVE)))
    ref = _weights(
        erase_uce(tiny_pipe, EraseRequest([concept], PRESERVE), {"implementation": "reference"})
    )
    for a, b in zip(fast, ref, strict=True):
        assert _relative(a, b) < 1e-5


def test_rece_derived_embedding_regenerates_until_its_own_erasure(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    trace = RECETrace()
    params = {"rounds": 2, "ridge": 1e-3}
    erase_rece(tiny_pipe, EraseRequest([concept], PRESERVE), params, trace=trace)
    original = _weights(tiny_pipe)
    erased, _ = concept_rows(tiny_pipe, [concept])
    # Round 1's derived rows E'₁ were found on the UCE-edited model (rounds=1 stops there);
    # round 2's model is the one that also erased E'₁.
    before_its_erasure = _weights(
        erase_rece(tiny_pipe, EraseRequest([concept], PRESERVE), {**params, "rounds": 1})
    )
    uce_only = _weights(erase_uce(tiny_pipe, EraseRequest([concept], PRESERVE), {"ridge": 1e-3}))
    derived = trace.derived[0]

    def gap(rows: torch.Tensor, weights: list[torch.Tensor]) -> float:
        concept_image = [erased @ w.T for w in original]
        return sum(_relative(rows @ w.T, c) for w, c in zip(weights, concept_image, strict=True))

    assert gap(derived, uce_only) < 0.5 * gap(erased, uce_only)
    assert gap(derived, before_its_erasure) > 2 * gap(derived, uce_only)


def test_mace_erases_several_concepts_at_once(tiny_pipe: Any) -> None:
    concepts = [make_concept(n, prompts_per_concept=2) for n in ("circle", "red", "striped")]
    before = _weights(tiny_pipe)
    after = _weights(erase_mace(tiny_pipe, EraseRequest(concepts, PRESERVE), {"ridge": 1e-3}))
    for concept in concepts:
        rows, anchors = concept_rows(tiny_pipe, [concept], from_concept_token=True)
        for w, w_new in zip(before, after, strict=True):
            target = anchors @ w.T
            assert _relative(rows @ w_new.T, target) < 0.7 * _relative(rows @ w.T, target)


def test_mace_shared_fusion_equals_fusing_materialised_experts(tiny_pipe: Any) -> None:
    concepts = [make_concept(n, prompts_per_concept=2) for n in ("circle", "red")]
    params = {"ridge": 1e-2, "fusion_preserve_weight": 0.5}
    before = _weights(tiny_pipe)
    fused = _weights(erase_mace(tiny_pipe, EraseRequest(concepts, PRESERVE), params))
    # MACE's fusion written out: one expert per concept (the straightforward UCE solve
    # on its rows), then W* = (Σ Wᵢ EᵢᵀEᵢ + λ W PᵀP + γ W)(Σ EᵢᵀEᵢ + λ PᵀP + γ I)⁻¹.
    kept = preserve_rows(tiny_pipe, PRESERVE)
    rows = [concept_rows(tiny_pipe, [c], from_concept_token=True) for c in concepts]
    eye = torch.eye(kept.shape[1], dtype=torch.float64)
    for w, w_fused in zip(before, fused, strict=True):
        left = 0.5 * w @ kept.T @ kept + 1e-2 * w
        right = 0.5 * kept.T @ kept + 1e-2 * eye
        for e, t in rows:
            expert = reference_update(w, e, t, kept, 1.0, 1e-2)
            left = left + expert @ e.T @ e
            right = right + e.T @ e
        literal = left @ torch.linalg.inv(right)
        assert _relative(w_fused, literal) < 1e-5
        assert _relative(w_fused, w) > 1e-3


@pytest.mark.parametrize("erase", [erase_rece, erase_rece_cumulative])
def test_rece_fast_and_reference_implementations_agree(tiny_pipe: Any, erase: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    params = {"rounds": 2, "ridge": 1e-2}
    fast_trace, ref_trace = RECETrace(), RECETrace()
    fast = _weights(erase(tiny_pipe, EraseRequest([concept], PRESERVE), params, trace=fast_trace))
    ref = _weights(
        erase(
            tiny_pipe,
            EraseRequest([concept], PRESERVE),
            {**params, "implementation": "reference"},
            trace=ref_trace,
        )
    )
    for a, b in zip(fast_trace.derived, ref_trace.derived, strict=True):
        assert _relative(a, b) < 1e-4
    original = _weights(tiny_pipe)
    for a, b, w in zip(fast, ref, original, strict=True):
        assert (a - b).norm() / (b - w).norm() < 1e-4


def _uce_by_hand(
    w: torch.Tensor, erased: torch.Tensor, targets: torch.Tensor, preserve: torch.Tensor
) -> torch.Tensor:
    # UCE (arXiv:2308.14761, eq. 7) with lambda = 1 and gamma = 1e-2, targets read through w:
    # W' = (sum_i W t_i c_i^T + lambda sum_j W p_j p_j^T + gamma W)
    #      (sum_i c_i c_i^T + lambda sum_j p_j p_j^T + gamma I)^-1
    eye = torch.eye(w.shape[1], dtype=torch.float64)
    left = w @ targets.T @ erased + w @ preserve.T @ preserve + 1e-2 * w
    return left @ torch.linalg.inv(erased.T @ erased + preserve.T @ preserve + 1e-2 * eye)


def test_rece_rounds_follow_the_authors_loop(tiny_pipe: Any) -> None:
    # A transcription of RECE's loop: UCE once, then per round derive e' from the
    # *current* weights (closed form, ridge rho and regulariser mu relative to the
    # scale of sum W'^T W' as RECEParams documents) and apply UCE to the current
    # weights with e' -> anchor alone.
    concept = make_concept("circle", prompts_per_concept=2)
    rho, mu, rounds = 1e-3, 1e-4, 2
    erased, targets = concept_rows(tiny_pipe, [concept])
    preserve = preserve_rows(tiny_pipe, PRESERVE)
    original = _weights(tiny_pipe)
    current = [_uce_by_hand(w, erased, targets, preserve) for w in original]
    d = erased.shape[1]
    prior = preserve.T @ preserve
    for _ in range(rounds):
        gram = sum(wc.T @ wc for wc in current)
        cross = sum(wc.T @ w for wc, w in zip(current, original, strict=True))
        scale = float(torch.trace(gram)) / d
        system = gram + rho * scale * torch.eye(d, dtype=torch.float64)
        system = system + mu * scale * d / float(torch.trace(prior)) * prior
        derived = torch.linalg.solve(system, cross @ erased.T).T
        current = [_uce_by_hand(wc, derived, targets, preserve) for wc in current]

    params = {"rounds": rounds, "ridge": 1e-2, "derive_ridge": rho, "regularization": mu}
    for implementation in ("fast", "reference"):
        ours = _weights(
            erase_rece(
                tiny_pipe,
                EraseRequest([concept], PRESERVE),
                {**params, "implementation": implementation},
            )
        )
        for a, b, w in zip(ours, current, original, strict=True):
            assert (a - b).norm() / (b - w).norm() < 1e-4, implementation
    # the cumulative variant is another method: after two rounds it lands elsewhere
    cumulative = _weights(
        erase_rece_cumulative(tiny_pipe, EraseRequest([concept], PRESERVE), params)
    )
    gap = sum(float((a - b).norm()) for a, b in zip(cumulative, current, strict=True))
    update = sum(float((b - w).norm()) for b, w in zip(current, original, strict=True))
    assert gap > 0.01 * update


def test_a_concept_name_of_several_words_gets_its_anchor_in_place() -> None:
    from erase_diffusion.methods.cross_attention import anchor_prompt

    style = Concept(name="van gogh", prompts=["a field by van gogh"], anchor="an artist")
    assert anchor_prompt("a field by van gogh at dusk", style) == "a field by an artist at dusk"
    assert anchor_prompt("a field by Van Gogh", style) == "a field by an artist"
    assert anchor_prompt("a field by gogh", style) == "an artist"  # not the whole name
    red = Concept(name="red", prompts=["a red circle"], anchor="blue")
    assert anchor_prompt("a shred of red", red) == "a shred of blue"  # whole words only
    assert anchor_prompt("a red circle", red.model_copy(update={"anchor": None})) == ""


@pytest.mark.parametrize("variant", ["x", "u"])
def test_esd_trains_only_its_layers_towards_negative_guidance(tiny_pipe: Any, variant: str) -> None:
    concept = make_concept("circle", prompts_per_concept=2)
    edited = erase_esd(
        tiny_pipe,
        EraseRequest([concept]),
        {
            "variant": variant,
            "iterations": 6,
            "batch_size": 2,
            "ddim_steps": 3,
            "learning_rate": 1e-2 if variant == "x" else 1e-3,
        },
    )
    changed = {
        name
        for (name, a), (_, b) in zip(
            tiny_pipe.unet.named_parameters(), edited.unet.named_parameters(), strict=True
        )
        if not torch.equal(a, b)
    }
    assert changed
    assert all((".attn2." in name) == (variant == "x") for name in changed)
    # Negative guidance: for the concept prompt the edited model's noise prediction moves
    # towards ε(∅) − η(ε(c) − ε(∅)) of the original.
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 16, 16, generator=g)
    t = torch.tensor(500)
    c = tiny_pipe.encode(concept.prompts[:1] * 4)
    u = tiny_pipe.encode([""]).expand(4, -1, -1)
    with torch.no_grad():
        e_c = tiny_pipe.unet(x, t, encoder_hidden_states=c).sample
        e_u = tiny_pipe.unet(x, t, encoder_hidden_states=u).sample
        target = e_u - (e_c - e_u)
        new = edited.unet(x, t, encoder_hidden_states=c).sample
    assert (new - target).pow(2).mean() < (e_c - target).pow(2).mean()


def test_a_concept_without_prompts_is_an_error(tiny_pipe: Any) -> None:
    with pytest.raises(SpecError, match=r"'circle'.*at least one prompt"):
        EraseRequest([{"name": "circle", "prompts": [], "anchor": "square"}])
    with pytest.raises(SpecError, match=r"'circle'.*empty prompt"):
        EraseRequest([{"name": "circle", "prompts": ["a red circle", " "]}])
    with pytest.raises(ValueError, match="at least one concept"):
        EraseRequest([])
    with pytest.raises(TypeError, match="sequence of prompts"):
        EraseRequest([make_concept("circle")], "a blue square")


def test_non_positive_lambda_is_an_error_naming_the_field(tiny_pipe: Any) -> None:
    concept = make_concept("circle", prompts_per_concept=1)
    with pytest.raises(SpecError, match="preserve_weight"):
        erase_uce(tiny_pipe, EraseRequest([concept], PRESERVE), {"preserve_weight": 0.0})
    with pytest.raises(SpecError, match="preserve_weight"):
        erase_rece(tiny_pipe, EraseRequest([concept], PRESERVE), {"preserve_weight": -1.0})
    with pytest.raises(SpecError, match="did you mean 'ridge'"):
        erase_mace(tiny_pipe, EraseRequest([concept], PRESERVE), {"ridg": 1.0})


def test_a_model_without_cross_attention_is_an_error(tiny_pipe: Any) -> None:
    from diffusers import UNet2DModel

    unet = UNet2DModel(
        sample_size=16,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        layers_per_block=1,
    )
    pipe = type(tiny_pipe)(unet, tiny_pipe.text_encoder, tiny_pipe.tokenizer, tiny_pipe.scheduler)
    concept = Concept(name="circle", prompts=["a red circle"], anchor="square")
    for erase in (erase_uce, erase_rece, erase_mace, erase_esd, erase_esd_x, erase_esd_u):
        with pytest.raises(ValueError, match="no cross-attention layers"):
            erase(pipe, EraseRequest([concept]))


def test_registered_esd_variants_fix_their_variant(tiny_pipe: Any) -> None:
    request = EraseRequest([make_concept("circle", prompts_per_concept=1)])
    tiny = {"iterations": 1, "batch_size": 1, "ddim_steps": 2}
    with pytest.raises(SpecError, match="variant"):
        erase_esd_u(tiny_pipe, request, {**tiny, "variant": "x"})
    # esd-u's dict params default to variant "u" (plain erase_esd's to "x").
    assert ESDUParams.model_validate(tiny).variant == "u"
    edited = erase_esd_u(tiny_pipe, request, tiny)
    changed = [
        name
        for (name, a), (_, b) in zip(
            tiny_pipe.unet.named_parameters(), edited.unet.named_parameters(), strict=True
        )
        if not torch.equal(a, b)
    ]
    assert changed and not any(".attn2." in name for name in changed)
