"""SPM: the membrane is rank one and leaves the base weights alone, latent anchors and
facilitated transport worked by hand, and the saved membrane attaches to another
pipeline of the same architecture with the same effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.methods.spm import (
    Membrane,
    _digest,
    _State,
    anchor_embeddings,
    attach_membrane,
    erase_spm,
    load_membrane,
    membrane_of,
    save_membrane,
    train_membrane,
    transport_strength,
    wrapped_layers,
)
from erase_diffusion.pipeline import TinyPipelineConfig, build_tiny_pipeline
from erase_diffusion.train import vocabulary
from erase_diffusion.worlds.shapes import make_concept

REQUEST = EraseRequest([make_concept("circle", prompts_per_concept=2)])
FEW = {"iterations": 2, "batch_size": 2, "anchor_samples": 2, "ddim_steps": 3}


@pytest.fixture(scope="module")
def membrane(tiny_pipe: Any) -> Membrane:
    return train_membrane(tiny_pipe, REQUEST, FEW)


def test_membrane_is_rank_one_on_every_wrapped_layer(tiny_pipe: Any, membrane: Membrane) -> None:
    names = [n for n, _ in wrapped_layers(tiny_pipe.unet)]
    assert sorted(membrane.layers) == sorted(names)
    assert any(".attn2.to_k" in n for n in names) and any("proj_in" in n for n in names)
    for name in names:
        singular = torch.linalg.svdvals(membrane.delta_weight(name))
        assert singular[0] > 0, name  # trained: the membrane opened
        assert torch.all(singular[1:] <= 1e-6 * singular[0]), name


def test_layer_output_changes_by_a_rank_one_map(tiny_pipe: Any, membrane: Membrane) -> None:
    # The change of one wrapped linear layer's output over 20 random inputs is X (u d^T)^T:
    # a (20, out) matrix of rank one.
    attached = attach_membrane(tiny_pipe, membrane, "off")
    name = next(n for n in membrane.layers if n.endswith("attn2.to_v"))
    layer = dict(attached.unet.named_modules())[name]
    base = dict(tiny_pipe.unet.named_modules())[name]
    x = torch.randn(20, layer.in_features, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        change = layer(x) - base(x)
        singular = torch.linalg.svdvals(change)
    assert singular[0] > 0 and torch.all(singular[1:] <= 1e-5 * singular[0])
    down, up = membrane.layers[name]
    assert torch.allclose(change, (x @ down.T) @ up.T, atol=1e-6)


def test_base_weights_and_the_callers_pipeline_untouched(tiny_pipe: Any) -> None:
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    erased = erase_spm(tiny_pipe, REQUEST, FEW)
    for n, p in erased.unet.named_parameters():
        assert torch.equal(p, before[n]), n
    assert not tiny_pipe.unet._forward_pre_hooks
    assert not any(m._forward_hooks for m in tiny_pipe.unet.modules())
    assert not tiny_pipe.text_encoder._forward_hooks
    assert sorted(membrane_of(erased).layers) == sorted(n for n, _ in wrapped_layers(erased.unet))


def test_anchor_embeddings_keep_the_target_norm_band() -> None:
    target = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    anchors = anchor_embeddings(target, 50, torch.Generator().manual_seed(2))
    assert anchors.shape == (50, 4, 3)
    ratio = anchors.flatten(1).norm(dim=1) / target.norm()
    assert torch.all(ratio >= 0.8 - 1e-6) and torch.all(ratio <= 1.2 + 1e-6)


def test_transport_strength_worked_by_hand() -> None:
    # One concept, embedding e = (1, 0 | 0, 0) (2 tokens, d = 2), its token set {7}.
    e = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    context = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 0.0]],  # cos 1
            [[1.0, 1.0], [1.0, 1.0]],  # cos 1/2
            [[-1.0, 0.0], [0.0, 0.0]],  # cos -1, clamped to 0
        ]
    )
    both = _State("clipcos_tokenuni", ["c"], e, [{7}])
    assert transport_strength(context, both).tolist() == pytest.approx([1.0, 0.5, 0.0])
    # The third prompt contained the concept's token: its token share 1 wins the max.
    both.overlaps[_digest(context[2])] = torch.tensor([1.0])
    assert transport_strength(context, both).tolist() == pytest.approx([1.0, 0.5, 1.0])
    tokens_only = _State("tokenuni", ["c"], e, [{7}])
    tokens_only.overlaps = both.overlaps
    assert transport_strength(context, tokens_only).tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_transport_opens_the_membrane_for_the_concept_prompt(
    tiny_pipe: Any, membrane: Membrane
) -> None:
    attached = attach_membrane(tiny_pipe, membrane, "tokenuni")
    state = next(
        h.state
        for m in attached.unet.modules()
        for h in m._forward_hooks.values()
        if hasattr(h, "state")
    )
    prompts = ["a red circle on a dark plain background", "a red square on a dark plain background"]
    context = attached.encode(prompts)
    with torch.no_grad():
        attached.unet(torch.zeros(2, 3, 16, 16), 10, encoder_hidden_states=context)
    assert state.strength is not None and state.strength.tolist() == [1.0, 0.0]


def test_saved_membrane_transfers_to_another_pipeline(
    tiny_pipe: Any, membrane: Membrane, tmp_path: Path
) -> None:
    path = tmp_path / "circle.safetensors"
    save_membrane(membrane, path)
    loaded = load_membrane(path)
    assert loaded.concepts == ["circle"] and sorted(loaded.layers) == sorted(membrane.layers)
    other = build_tiny_pipeline(TinyPipelineConfig(block_out_channels=(8, 16)), vocabulary(), 1)
    here = attach_membrane(tiny_pipe, membrane, "off")
    there = attach_membrane(other, loaded, "off")
    name = next(iter(membrane.layers))
    x = torch.randn(3, dict(other.unet.named_modules())[name].weight.shape[1], 1, 1)
    layer_here, layer_there = (dict(p.unet.named_modules())[name] for p in (here, there))
    base_here, base_there = (dict(p.unet.named_modules())[name] for p in (tiny_pipe, other))
    if not isinstance(layer_here, torch.nn.Conv2d):
        x = x.flatten(1)
    with torch.no_grad():
        # The same membrane adds the same change to different base weights.
        change_here = layer_here(x) - base_here(x)
        assert torch.allclose(change_here, layer_there(x) - base_there(x), atol=1e-6)
        assert change_here.abs().max() > 1e-4
    wider = build_tiny_pipeline(TinyPipelineConfig(block_out_channels=(8, 32)), vocabulary(), 0)
    with pytest.raises(ValueError, match="same architecture"):
        attach_membrane(wider, loaded)
    with pytest.raises(ValueError, match="spm-rank1"):
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
        load_membrane(tmp_path / "other.safetensors")
