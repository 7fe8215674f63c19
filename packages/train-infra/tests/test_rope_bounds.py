"""RoPE base bounds: the formulas, their monotonicity, and the Hugging Face config check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from train_infra.rope_bounds import (
    aliasing_lower_bound,
    check_hf_config,
    dc_stability_lower_bound,
    feasible_region,
    precision_upper_bound,
    slowest_frequency,
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
