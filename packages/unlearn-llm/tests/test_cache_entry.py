"""`models.save_cache_entry`: a cache entry appears whole, under its name, or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from unlearn_llm.models import save_cache_entry


def test_the_entry_is_written_in_a_staging_folder_then_renamed(tmp_path: Path) -> None:
    path = tmp_path / "model-key"
    staged: list[Path] = []

    def write(folder: Path) -> None:
        assert not path.exists()  # nothing shows under the name while writing
        staged.append(folder)
        (folder / "model.pt").write_text("weights")

    save_cache_entry(path, write, {"epochs": 3})
    assert staged[0].name.startswith("model-key.tmp-") and not staged[0].exists()
    assert sorted(p.name for p in path.iterdir()) == ["model.pt", "training.json"]
    assert json.loads((path / "training.json").read_text()) == {"epochs": 3}

    def write_again(folder: Path) -> None:
        (folder / "other.pt").write_text("new")

    save_cache_entry(path, write_again, {"epochs": 4})
    assert sorted(p.name for p in path.iterdir()) == ["other.pt", "training.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-key"]


def test_a_failed_write_leaves_no_entry(tmp_path: Path) -> None:
    def write(folder: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_cache_entry(tmp_path / "model-key", write, {})
    assert not (tmp_path / "model-key").exists()
