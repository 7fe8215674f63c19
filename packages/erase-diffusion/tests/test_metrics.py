from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from erase_diffusion.metrics import erasure


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert erasure.frechet_distance(a, a) < 1e-6
    near = erasure.frechet_distance(a, rng.normal(size=(200, 8)))
    far = erasure.frechet_distance(a, rng.normal(size=(200, 8)) + 2.0)
    assert far > near + 20  # the mean shift alone contributes 8·2² = 32
    with pytest.raises(ValueError, match="equal d"):
        erasure.frechet_distance(a, a[:, :4])


def test_rates_and_accuracies() -> None:
    assert erasure.erasure_rate(["circle", "square", "circle", "cross"], "circle") == 0.5
    assert erasure.preservation_accuracy({"red": ["red", "red"], "blue": ["green", "blue"]}) == 0.75
    judged = {"shape": ["circle", "square"], "colour": ["red", "red"]}
    prompted = {"shape": ["circle", "circle"], "colour": ["red", "blue"]}
    assert erasure.prompt_alignment(judged, prompted) == 0.5
    with pytest.raises(ValueError, match="at least one"):
        erasure.erasure_rate([], "circle")


def test_a_damaged_judge_file_is_an_error_naming_it(tmp_path: Path) -> None:
    from erase_diffusion.metrics.judge import load_judge
    from unlearn_schema import UnreadableFileError

    path = tmp_path / "judge.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(UnreadableFileError, match=r"judge\.safetensors: cannot read the judge"):
        load_judge(path)
    with pytest.raises(FileNotFoundError):
        load_judge(tmp_path / "missing.safetensors")
