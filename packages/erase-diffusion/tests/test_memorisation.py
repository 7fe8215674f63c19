"""The memorisation probe: the replication metric on a hand example, NeMo-style pruning
on a planted neuron, the trigger search's budget, the memorised set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from erase_diffusion.memorisation.pruning import (
    localise,
    prune_memorisation,
    pruned,
    value_layers,
    z_scores,
)
from erase_diffusion.memorisation.train import MemoriseParams, memorised_set
from erase_diffusion.memorisation.triggers import TriggerParams, denoising_loss, search_trigger
from erase_diffusion.metrics.replication import (
    calibrated_threshold,
    nearest_training_distance,
    replication_rate,
)


def test_replication_metric_hand_example() -> None:
    generated = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    training = np.array([[0.0, 0.0], [6.0, 8.0]])
    distances, nearest = nearest_training_distance(generated, training)
    # (0,0) is a training image; (3,4) lies 5 from both (the first wins the tie);
    # (10,0) lies 10 from (0,0) and sqrt(16 + 64) from (6,8).
    assert distances == pytest.approx([0.0, 5.0, np.sqrt(80.0)])
    assert nearest.tolist() == [0, 0, 1]
    assert replication_rate(distances, 5.0) == pytest.approx(2 / 3)
    assert replication_rate(distances, 4.9) == pytest.approx(1 / 3)
    # Re-renders at distances 2, 4, 6 from the one training image: median 4, half is 2.
    rerenders = np.array([[[2.0, 0.0], [0.0, 4.0], [6.0, 0.0]]])
    assert calibrated_threshold(np.array([[0.0, 0.0]]), rerenders, 0.5) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="threshold"):
        replication_rate(distances, 0.0)
    with pytest.raises(ValueError, match="feature"):
        nearest_training_distance(generated, np.zeros((2, 3)))


def _planted(tiny_pipe: Any) -> tuple[str, int, torch.Tensor, torch.Tensor]:
    """Ordinary embeddings, and a 'memorised' one pushed along one value neuron's row."""
    generator = torch.Generator().manual_seed(0)
    layer, projection = next(iter(value_layers(tiny_pipe).items()))
    dim = projection.weight.shape[1]
    ordinary = torch.randn(32, 4, dim, generator=generator)
    unit = 3
    row = projection.weight[unit].detach()
    memorised = ordinary[:1] + 40.0 * row / row.norm()
    return layer, unit, memorised, ordinary


def test_pruning_localises_and_zeroes_the_planted_neuron(tiny_pipe: Any) -> None:
    layer, unit, memorised, ordinary = _planted(tiny_pipe)
    z = z_scores(tiny_pipe, memorised, ordinary)
    scores = sorted(((float(s), (n, u)) for n, row in z.items() for u, s in enumerate(row[0])))
    assert scores[-1][1] == (layer, unit)
    cut = (scores[-1][0] + scores[-2][0]) / 2
    assert localise(z, cut) == [(layer, unit)]

    before = {k: v.clone() for k, v in tiny_pipe.unet.state_dict().items()}
    edited = pruned(tiny_pipe, [(layer, unit)])
    weight = value_layers(edited)[layer].weight
    assert torch.all(weight[unit] == 0)
    changed = [k for k, v in edited.unet.state_dict().items() if not torch.equal(v, before[k])]
    assert changed == [f"{layer}.to_v.weight"]
    assert all(torch.equal(v, before[k]) for k, v in tiny_pipe.unet.state_dict().items())
    with pytest.raises(ValueError, match="not a cross-attention layer"):
        pruned(tiny_pipe, [("down_blocks.0", 0)])


def test_prune_memorisation_stops_at_the_first_threshold_that_works(tiny_pipe: Any) -> None:
    layer, unit, memorised, ordinary = _planted(tiny_pipe)

    def replication(pipe: Any) -> float:
        # Replicates until the planted neuron is gone.
        return 0.0 if torch.all(value_layers(pipe)[layer].weight[unit] == 0) else 1.0

    z = z_scores(tiny_pipe, memorised, ordinary)
    top = max(float(row[0].max()) for row in z.values())
    outcome = prune_memorisation(
        tiny_pipe, memorised, ordinary, replication, thresholds=(top + 1, top - 1e-3, 0.0)
    )
    assert [t for t, _, _ in outcome.tried] == [top + 1, top - 1e-3]
    assert outcome.tried[0][1] == 0 and outcome.tried[0][2] == 1.0
    assert outcome.threshold == top - 1e-3 and outcome.replication == 0.0
    assert (layer, unit) in outcome.neurons


def test_trigger_search_keeps_its_budget_and_the_weights(tiny_pipe: Any) -> None:
    size = tiny_pipe.default_size
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    start = tiny_pipe.encode(["a red circle on a dark plain background"])[0]
    before = {k: v.clone() for k, v in tiny_pipe.unet.state_dict().items()}
    params = TriggerParams(steps=6, learning_rate=0.5, batch_size=2, budget=0.1)
    found, saved = search_trigger(tiny_pipe, image, start, params, seed=0, checkpoints=(0, 3))
    change = float((found - start).norm() / start.norm())
    assert 0.0 < change <= 0.1 + 1e-6
    assert sorted(saved) == [0, 3] and torch.equal(saved[0], start)
    assert all(torch.equal(v, before[k]) for k, v in tiny_pipe.unet.state_dict().items())
    assert all(p.grad is None for p in tiny_pipe.unet.parameters())
    # Unbounded, the search lowers the denoising loss on the image (same draws).
    # (seeded image; 64 held-out draws: measured 0.995-0.998 of the start's loss on 5 images)
    free = TriggerParams(steps=30, learning_rate=0.1, batch_size=8, budget=None)
    trigger, _ = search_trigger(tiny_pipe, image, start, free, seed=0)
    with torch.no_grad():
        loss_start = denoising_loss(tiny_pipe, image, start, torch.Generator().manual_seed(9), 64)
        loss_found = denoising_loss(tiny_pipe, image, trigger, torch.Generator().manual_seed(9), 64)
    assert float(loss_found) < float(loss_start)


def test_memorised_set_is_fixed_and_out_of_world(tiny_pipe: Any) -> None:
    first, again = memorised_set(3, seed=0, rerenders=2), memorised_set(3, seed=0, rerenders=2)
    assert torch.equal(first.images, again.images) and first.captions == again.captions
    assert first.images.shape == (3, 3, 16, 16) and first.rerenders.shape == (3, 2, 3, 16, 16)
    assert len(set(first.captions)) == 3
    unk = tiny_pipe.tokenizer.unk_token_id
    assert all(unk not in tiny_pipe.tokenizer(c).input_ids for c in first.captions)
    assert not any(c.startswith("a ") for c in first.captions)  # world captions all do
    assert not torch.equal(first.rerenders[:, 0], first.images)
    assert MemoriseParams().digest() != MemoriseParams(steps=1).digest()
    with pytest.raises(ValueError, match="count"):
        memorised_set(0)


def test_default_params_load_the_shipped_memorising_pipeline(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped pipeline is the one the defaults train (digest recorded beside it), so
    a default run trains nothing; and it does replicate its training images (the check
    the shipped fixture was kept for: replication 0.81 when it was trained)."""
    import json

    from erase_diffusion.memorisation.train import (
        memorising_pipeline,
        shipped_memorised_path,
    )

    record = json.loads((shipped_memorised_path() / "training.json").read_text())
    assert record["digest"] == MemoriseParams().digest()
    assert record["params"] == MemoriseParams().model_dump()
    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path / "empty-cache"))

    def must_not_train(step: int, loss: float) -> None:
        raise AssertionError("the default params trained instead of loading the shipped pipeline")

    pipe, memorised, read = memorising_pipeline(MemoriseParams(), must_not_train)
    assert read and not (tmp_path / "empty-cache").exists()
    # Same-seed generations from the memorised captions lie near the training images:
    # far nearer than the shipped base model's (which never saw the pairs).
    from erase_diffusion.metrics.judge import load_judge
    from erase_diffusion.pipeline import load_pipeline

    judge = load_judge()
    training = judge.judge(memorised.images).features
    nearest = {}
    for name, model in (("memorised", pipe), ("base", load_pipeline())):
        images = model.generate(memorised.captions, steps=8, seed=0)
        nearest[name] = nearest_training_distance(judge.judge(images).features, training)[0]
    assert nearest["memorised"].mean() < 0.5 * nearest["base"].mean()


@pytest.mark.slow
def test_benchmark_runs_end_to_end_at_a_toy_size(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erase_diffusion.benchmarks.memorisation import DIFFUSION_MEMORISATION, METRIC_NAMES
    from unlearn_schema.plugins import NullProgress

    monkeypatch.setenv("ERASE_DIFFUSION_CACHE", str(tmp_path / "cache"))
    spec = DIFFUSION_MEMORISATION.default_spec("quick")
    toy = {
        "memorise": {"images": 2, "steps": 2, "batch_size": 4},
        "samples_per_image": 1,
        "steps": 2,
        "prune_thresholds": [1.0],
        "near_trigger": {"steps": 1, "batch_size": 1},
        "far_trigger": {"steps": 1, "batch_size": 1, "budget": None},
        "far_starts": 2,
        "checkpoints": [0, 1],
        "adversarial": {
            "rounds": 1,
            "steps_per_round": 1,
            "batch_size": 4,
            "triggers_per_image": 1,
            "trigger": {"steps": 1, "batch_size": 1},
        },
        "utility_prompts": 2,
    }
    parsed = DIFFUSION_MEMORISATION.parse(spec.model_copy(update={"params": toy}))
    result = DIFFUSION_MEMORISATION.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    assert names == set(METRIC_NAMES)
    rates = [m for m in result.metrics if m.name == "replication_rate"]
    assert len(rates) == 4 * 3 and all(0.0 <= m.value <= 1.0 for m in rates)
    assert (tmp_path / "grid-memorisation.png").is_file()
    assert [s.label for s in result.curves[0].series] == [
        "shipped",
        "memorised",
        "pruned",
        "adversarial",
    ]
