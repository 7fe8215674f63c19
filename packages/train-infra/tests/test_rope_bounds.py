"""RoPE base bounds: the formulas, their monotonicity, and the Hugging Face config check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from train_infra.rope_bounds import (
    aliasing_lower_bound,
    check_hf_config,
    dc_stability_lower_bound,
    feasible_region,
    precision_upper_bound,
    slowest_frequency,
)
from train_infra.rope_decay import (
    PAPER_TABLE,
    first_negative_distance,
    long_term_decay,
    rope_decay_lower_bound,
)


def test_aliasing_bound_puts_half_a_turn_on_the_slowest_pair() -> None:
    base = aliasing_lower_bound(8192, 128)
    assert 8192 * slowest_frequency(base, 128) == pytest.approx(math.pi, rel=1e-9)
    assert aliasing_lower_bound(16384, 128) > base


def test_dc_bound_tightens_with_depth_and_exceeds_aliasing() -> None:
    shallow = dc_stability_lower_bound(4096, 64, depth=1, tolerance_rad=math.pi)
    deep = dc_stability_lower_bound(4096, 64, depth=32, tolerance_rad=math.pi)
    assert shallow == pytest.approx(aliasing_lower_bound(4096, 64))
    assert deep > 30 * shallow


def test_precision_bound_grows_with_mantissa_bits() -> None:
    bounds = [precision_upper_bound(128, d) for d in ("bfloat16", "float16", "float32")]
    assert bounds == sorted(bounds)
    assert slowest_frequency(precision_upper_bound(128, "float32"), 128) == pytest.approx(2.0**-22)


def test_precision_wall_empties_the_region_for_very_long_contexts() -> None:
    assert not feasible_region(8192, 128, 32, "float32").region_is_empty
    assert feasible_region(2**20, 128, 32, "float32").region_is_empty
    assert feasible_region(8192, 128, 32, "bfloat16").region_is_empty


def test_hf_config_check_reads_theta_and_gives_a_verdict(tmp_path: Path) -> None:
    config = {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
    }
    assert check_hf_config(config).verdict == "dc-unstable"
    assert check_hf_config({**config, "rope_theta": 500000.0}).verdict == "feasible"
    assert check_hf_config({**config, "rope_theta": 1e9}).verdict == "precision"
    assert check_hf_config({**config, "rope_theta": 100.0}).verdict == "aliasing"
    (tmp_path / "config.json").write_text(
        json.dumps({**config, "rope_theta": None, "rope_parameters": {"rope_theta": 5e5}})
    )
    report = check_hf_config(tmp_path)
    assert report.base == 5e5 and "inside the region" in report.explain()


def test_bad_inputs_name_the_value() -> None:
    with pytest.raises(ValueError, match="head_dim must be an even integer >= 4, got 7"):
        aliasing_lower_bound(100, 7)
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        precision_upper_bound(64, "int8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no rope_theta"):
        check_hf_config({"hidden_size": 64})


# -- the long-term-decay bound of arXiv:2405.14591 --------------------------------------


def _decay_holds(base: float, context_length: int, head_dim: int = 128) -> bool:
    """The paper's criterion written out independently: sum_i cos(m b^(-2i/d)) >= 0."""
    thetas = [base ** (-2 * i / head_dim) for i in range(head_dim // 2)]
    return all(sum(math.cos(m * theta) for theta in thetas) >= 0 for m in range(context_length + 1))


@pytest.mark.parametrize("context_length", [1024, 4096])
def test_decay_bound_matches_the_papers_table(context_length: int) -> None:
    bound = rope_decay_lower_bound(context_length)
    # Table 1 of the paper, to its two significant digits.
    assert float(f"{bound:.1e}") == PAPER_TABLE[context_length]
    assert _decay_holds(bound, context_length)
    assert not _decay_holds(bound * (1 - 1e-6), context_length)


@pytest.mark.slow
def test_decay_bound_matches_the_papers_table_at_8k() -> None:
    bound = rope_decay_lower_bound(8192)
    assert float(f"{bound:.1e}") == PAPER_TABLE[8192] == 8.4e4
    assert _decay_holds(bound, 8192) and not _decay_holds(bound * (1 - 1e-6), 8192)


def test_decay_bound_is_the_first_island_of_feasible_bases() -> None:
    # No base on a grid of relative step 1e-3 between 2e3 and the bound holds.
    bound = rope_decay_lower_bound(1024)
    grid = np.geomspace(2e3, bound * (1 - 1e-7), 770)
    assert not any(first_negative_distance(b, 128, 1024) is None for b in grid)
    # At 2k the paper's 1.6e4 satisfies the criterion, but a smaller base does too:
    # the feasible bases are islands, and the first one starts near 1.16e4.
    smallest = rope_decay_lower_bound(2048)
    assert 1.15e4 < smallest < 1.17e4
    assert _decay_holds(smallest, 2048) and _decay_holds(PAPER_TABLE[2048], 2048)
    assert not _decay_holds(1.3e4, 2048)  # between the islands


def test_decay_definition_on_a_hand_worked_example() -> None:
    # d = 4: theta = (1, b^-1/2); base 100 gives theta_1 = 0.1.
    decay = long_term_decay(100.0, 4, np.array([0, 1, 20]))
    assert decay == pytest.approx([2.0, math.cos(1) + math.cos(0.1), math.cos(20) + math.cos(2)])
    with pytest.raises(ValueError, match="head_dim must be an even integer >= 2, got 5"):
        rope_decay_lower_bound(100, 5)
    with pytest.raises(ValueError, match="context_length must be an integer >= 1, got 0"):
        rope_decay_lower_bound(0)


@pytest.mark.slow
def test_decay_bound_at_128k_is_below_the_papers_value_and_holds() -> None:
    bound = rope_decay_lower_bound(131072)
    assert 4.86e6 < bound < 4.88e6 < PAPER_TABLE[131072]
    assert _decay_holds(bound, 131072)
    assert not _decay_holds(bound * (1 - 1e-7), 131072)
    assert not _decay_holds(PAPER_TABLE[131072], 131072)  # the rounded 7.8e6 fails
