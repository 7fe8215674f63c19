"""``scene-text-erasure`` end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

from erase_diffusion.benchmarks.scene_text import GROUND_TRUTH, INPUT, SCENE_TEXT_ERASURE
from pydantic import JsonValue
from unlearn_schema.configs import MethodConfig
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def test_tiny_run_scores_every_method_against_the_ground_truth(tmp_path: Path) -> None:
    spec = SCENE_TEXT_ERASURE.default_spec("quick")
    tiny: dict[str, JsonValue] = {"steps": 4, "batch_size": 4, "channels": 4, "policy_every": 2}
    methods = [
        MethodConfig(name="ste", params=tiny),
        MethodConfig(name="median-inpainting", params={}),
    ]
    params = {"test_images": 6, "detector": {"steps": 3, "batch_size": 4}, "grid_columns": 3}
    spec = spec.model_copy(update={"params": params, "methods": methods})
    parsed = SCENE_TEXT_ERASURE.parse(spec)
    result = SCENE_TEXT_ERASURE.run(parsed, NullProgress(), str(tmp_path))
    psnr = {m.labels["method"]: m for m in result.metrics if m.name == "psnr"}
    assert set(psnr) == {INPUT, GROUND_TRUTH, "ste", "median-inpainting"}
    assert psnr[GROUND_TRUTH].value == 99.0  # identical images, capped for the report
    assert psnr["ste"].reference == psnr[INPUT].value
    ssim = {m.labels["method"]: m.value for m in result.metrics if m.name == "ssim"}
    assert ssim[GROUND_TRUTH] == 1.0 and all(-1.0 <= v <= 1.0 for v in ssim.values())
    names = {c.name for c in result.curves}
    assert {"psnr-by-scale", "ssim-by-rotation", "training-loss", "policy-ste-texture"} <= names
    assert Path(result.artifacts["grid-scene-text"]).is_file()
    assert result.summary is not None and len(result.summary.rows) == 4


def test_default_specs_parse_without_torch() -> None:
    code = (
        "from erase_diffusion.benchmarks.scene_text import SCENE_TEXT_ERASURE as b\n"
        "for size in ('quick', 'full'):\n"
        "    b.parse(b.default_spec(size))"
    )
    assert heavy_modules_after(code) == []
