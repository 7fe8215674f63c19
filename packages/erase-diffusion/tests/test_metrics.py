from __future__ import annotations

import numpy as np
import pytest
from erase_diffusion.metrics.erasure import (
    erasure_rate,
    frechet_distance,
    preservation_accuracy,
    prompt_alignment,
)


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert frechet_distance(a, a) < 1e-6
    near = frechet_distance(a, rng.normal(size=(200, 8)))
    far = frechet_distance(a, rng.normal(size=(200, 8)) + 2.0)
    assert far > near + 20  # the mean shift alone contributes 8·2² = 32
    with pytest.raises(ValueError, match="equal d"):
        frechet_distance(a, a[:, :4])


def test_rates_and_accuracies() -> None:
    assert erasure_rate(["circle", "square", "circle", "cross"], "circle") == 0.5
    assert preservation_accuracy({"red": ["red", "red"], "blue": ["green", "blue"]}) == 0.75
    judged = {"shape": ["circle", "square"], "colour": ["red", "red"]}
    prompted = {"shape": ["circle", "circle"], "colour": ["red", "blue"]}
    assert prompt_alignment(judged, prompted) == 0.5
    with pytest.raises(ValueError, match="at least one"):
        erasure_rate([], "circle")
