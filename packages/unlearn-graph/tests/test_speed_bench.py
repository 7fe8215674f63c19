from __future__ import annotations

import json
from pathlib import Path

from unlearn_graph.speed_bench import main


def test_speed_bench_writes_ratios_against_retraining(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    main(["--out", str(out), "--nodes", "300", "--epochs", "5"])
    report = json.loads(out.read_text())
    assert report["baseline"].startswith("exact retraining")
    assert report["graph"]["deleted_edges"] >= 1
    for name in ("gnndelete", "d2dgn", "gif", "gradient-ascent", "grapheraser"):
        row = report["methods"][name]
        assert row["speedup_at_matched_utility"] > 0 and row["wall_s"] > 0
        assert row["retrain_s_to_match"] <= report["retrain"]["wall_s"] + 1e-9
    assert set(report["goals"]) == {"gnndelete", "d2dgn"}
