"""Worst-case forget sets (arXiv:2403.07362): the upper-level step and a tiny search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from erase_diffusion.vision.data import labelled_images
from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.model import ClassifierTraining, TinyViTParams, build_vit
from erase_diffusion.vision.model import test_set as held_out_set
from erase_diffusion.vision.worst_case import (
    WorstCaseComparison,
    WorstCaseParams,
    compare_with_random,
    top_k,
    unlearn_samples,
    upper_step,
)

TINY = TinyViTParams(hidden_size=16, layers=2, heads=2, mlp_size=32)


def test_upper_step_by_hand() -> None:
    # loss / k = [0, 1, 0, 1]; mean 0.5, std 0.5 -> standardised [-1, 1, -1, 1];
    # w - 0.5 g = [1.5, 0.5, 0.5, -0.5] -> clipped [1, 0.5, 0.5, 0].
    weights = upper_step(np.array([1.0, 1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0, 2.0]), 2, 0.5)
    assert weights.tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])
    # Low-loss samples (kept recognised after unlearning) gain weight; ties go by index.
    assert top_k(weights, 2).tolist() == [0, 1]
    assert top_k(np.array([0.1, 0.9, 0.3]), 1).tolist() == [1]


def test_unlearn_samples_rejects_bad_input() -> None:
    data = labelled_images(2, "colour", seed=0)
    model = build_vit(TINY, 5, seed=0)
    with pytest.raises(ValueError, match="forget set is empty"):
        unlearn_samples(model, data, np.array([], dtype=int), "gradient-ascent", StepParams())
    with pytest.raises(ValueError, match="accepted: gradient-ascent, finetune"):
        unlearn_samples(model, data, np.array([0]), "nope", StepParams())  # type: ignore[arg-type]


def test_worst_case_set_is_no_easier_than_random(tmp_path: Path) -> None:
    training = ClassifierTraining(
        label="colour", train_per_class=10, steps=150, batch_size=32, model=TINY
    )
    params = WorstCaseParams(
        forget_size=6,
        rounds=4,
        random_draws=2,
        unlearn=StepParams(steps=10, learning_rate=2e-4, batch_size=6),
    )
    oracles: dict[tuple[str, tuple[int, ...]], Any] = {}
    test = held_out_set("colour", 10, 0)
    result = compare_with_random(training, params, test, cache=tmp_path, oracles=oracles)
    search = result.search
    assert len(search.forget_indices) == 6
    best = search.forget_accuracy_per_round[search.best_round]
    assert best >= search.forget_accuracy_per_round[0]
    worst = result.mean("worst-case", "forget_accuracy")
    assert worst >= result.mean("random", "forget_accuracy")
    assert [o.kind for o in result.outcomes] == ["worst-case", "random", "random"]
    assert all(0.0 <= o.oracle_forget_accuracy <= 1.0 for o in result.outcomes)
    assert WorstCaseComparison.model_validate_json(result.model_dump_json()) == result
    # One oracle per distinct set; a second method (same seed, same random draws) trains
    # only its own worst-case set's oracle and reads the shared random ones.
    assert len(oracles) == 3
    shared = [oracles[key] for key in oracles][1:]
    other = compare_with_random(
        training, params.model_copy(update={"method": "finetune"}), test, oracles=oracles
    )
    assert len(oracles) in (3, 4)  # 3 when the two searches return the same set
    assert [oracles[key] for key in oracles][1:3] == shared
    random_oracles = [o.oracle_forget_accuracy for o in result.outcomes if o.kind == "random"]
    assert random_oracles == [o.oracle_forget_accuracy for o in other.outcomes[1:]]
    with pytest.raises(ValueError, match="must be below"):
        compare_with_random(
            training,
            params.model_copy(update={"forget_size": 50}),
            held_out_set("colour", 2, 0),
            cache=tmp_path,
        )
