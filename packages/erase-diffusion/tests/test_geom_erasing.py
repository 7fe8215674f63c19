"""Geom-Erasing and the watermarked world: the mark drawn where it should be, the
geometric condition written out, the vocabulary grown without moving old ids, the
negative-guided sampler reduced to the plain one at scale 1, and a short end-to-end run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from erase_diffusion.methods.geom_erasing import (
    GeomErasingParams,
    GeomErasingPipeline,
    detect_marks,
    erase_geom_erasing,
    extend_vocabulary,
    train_mark_detector,
)
from erase_diffusion.methods.request import EraseRequest
from erase_diffusion.worlds.watermark import (
    GEOMETRY_WORDS,
    WatermarkWorld,
    add_mark,
    corner_box,
    mark_pattern,
    sample_marked,
    with_condition,
)
from unlearn_schema import Concept


def test_mark_pattern_and_corner_by_hand() -> None:
    assert mark_pattern(4).tolist() == [[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]]
    assert mark_pattern(5)[2, 2] == 1.0 and mark_pattern(5)[1, 2] == 0.0
    assert corner_box("bottom right", 16, 4) == (slice(12, 16), slice(12, 16))
    image = np.zeros((3, 16, 16), dtype=np.float32)
    marked = add_mark(image, "top right", 4)
    # White frame (+1), black core (-1), the rest of the image untouched.
    assert marked[0, 0, 12] == 1.0 and marked[0, 1, 13] == -1.0
    assert np.all(marked[:, 4:, :] == 0.0) and np.all(marked[:, :, :12] == 0.0)
    assert np.all(image == 0.0)
    with pytest.raises(ValueError, match="accepted: top left"):
        corner_box("middle", 16, 4)  # type: ignore[arg-type]


def test_geometric_condition_and_share() -> None:
    assert with_condition("a red circle", "top left") == "a red circle mark top left"
    assert with_condition("a red circle", None) == "a red circle"
    _, captions, corners = sample_marked(20, WatermarkWorld(share=0.0), seed=0)
    assert corners == [None] * 20 and all("mark" not in c for c in captions)
    _, _, corners = sample_marked(20, WatermarkWorld(share=1.0), seed=0)
    assert all(c is not None for c in corners)


def test_extend_vocabulary_keeps_old_ids_and_encodings(tiny_pipe: Any) -> None:
    pipe = tiny_pipe.copy()
    prompt = ["a red circle on a dark plain background"]
    ids, rows = pipe.tokenize(prompt), pipe.encode(prompt)
    size = len(pipe.tokenizer)
    extend_vocabulary(pipe, [*GEOMETRY_WORDS, "red"])
    assert len(pipe.tokenizer) == size + len(GEOMETRY_WORDS)
    assert torch.equal(pipe.tokenize(prompt), ids)
    assert torch.allclose(pipe.encode(prompt), rows)
    new = pipe.tokenize(["mark top left"])[0].tolist()[1:4]
    assert new == [size, size + 1, size + 3]
    assert pipe.text_encoder.get_input_embeddings().weight.shape[0] == size + 5
    # The caller's pipeline keeps its tokenizer.
    assert len(tiny_pipe.tokenizer) == size


def test_negative_prompts_and_scale_one_is_the_plain_sampler(tiny_pipe: Any) -> None:
    variant = GeomErasingParams(negative="prompt-and-phrase")
    pipe = GeomErasingPipeline(**vars(tiny_pipe.copy()), geom=variant)
    assert pipe.negative_prompts("a red circle")[1] == "a red circle mark top right"
    default = GeomErasingPipeline(**vars(tiny_pipe), geom=GeomErasingParams())
    assert default.negative_prompts("a red circle")[0] == "mark top left"
    assert len(pipe.negative_prompts("a red circle")) == 4
    phrase = GeomErasingPipeline(
        **vars(tiny_pipe), geom=GeomErasingParams(negative="phrase", geometry=False)
    )
    assert phrase.negative_prompts("a red circle") == ["mark"]
    prompts = ["a red circle on a dark plain background"] * 2
    # s = 1: eps_neg + (eps_cond - eps_neg) = eps_cond, up to rounding.
    guided = pipe.generate(prompts, steps=3, guidance=1.0)
    plain = tiny_pipe.generate(prompts, steps=3, guidance=1.0)
    assert torch.allclose(guided, plain, atol=1e-4)
    assert isinstance(pipe.copy(), GeomErasingPipeline)


def test_detector_learns_the_corners() -> None:
    world = WatermarkWorld()
    detector = train_mark_detector(world, steps=60, seed=0)
    images, _, corners = sample_marked(200, world, seed=123)
    found = detect_marks(detector, torch.from_numpy(images))
    assert np.mean([a == b for a, b in zip(found, corners, strict=True)]) >= 0.9


def test_geom_erasing_runs_end_to_end_on_a_tiny_pipeline(tiny_pipe: Any) -> None:
    request = EraseRequest([Concept(name="mark", prompts=["a red circle"])])
    params = {"steps": 2, "batch_size": 4, "detector_steps": 2}
    before = [p.detach().clone() for p in tiny_pipe.unet.parameters()]
    erased = erase_geom_erasing(tiny_pipe, request, params)
    assert isinstance(erased, GeomErasingPipeline)
    assert erased.tokenize(["mark"])[0, 1] != erased.tokenizer.unk_token_id
    assert erased.generate(["a red circle"], steps=2).shape == (1, 3, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_pipe.unet.parameters(), strict=True))
    with pytest.raises(ValueError, match="implicit concept 'mark'"):
        erase_geom_erasing(tiny_pipe, EraseRequest([Concept(name="circle", prompts=["x"])]), params)


@pytest.mark.slow
def test_implicit_benchmark_runs_at_a_toy_size(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erase_diffusion.benchmarks.implicit import DIFFUSION_IMPLICIT_CONCEPT, METRIC_NAMES
    from unlearn_schema.plugins import NullProgress

    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path / "cache"))
    spec = DIFFUSION_IMPLICIT_CONCEPT.default_spec("quick")
    toy = {
        "marked_steps": 1,
        "geom": {"steps": 1, "batch_size": 2, "detector_steps": 1},
        "ablation": True,
        "samples": 2,
        "steps": 2,
        "detector_steps": 1,
    }
    parsed = DIFFUSION_IMPLICIT_CONCEPT.parse(spec.model_copy(update={"params": toy}))
    result = DIFFUSION_IMPLICIT_CONCEPT.run(parsed, NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} == set(METRIC_NAMES)
    rows = [m.labels["model"] for m in result.metrics if m.name == "mark_rate"]
    assert rows == ["shipped", "marked", "geom-erasing", "geom-erasing-unguided", "existence-only"]
    assert (tmp_path / "grid-implicit.png").is_file()
    assert any((tmp_path / "cache").glob("marked-*/model_index.json"))
