from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import requires


def test_import_is_light() -> None:
    # Importing the package must not import torch: discovery and config validation
    # stay fast, and heavy imports live inside the functions that need them.
    code = (
        "import sys, train_infra, train_infra.benchmarks, train_infra.snapshot, "
        "train_infra.snapshot.manager, train_infra.rope_bounds, train_infra.outofcore; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dependencies_stay_within_the_package() -> None:
    names = {
        re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requires("train-infra") or []
    }
    assert "unlearn-schema" in names
    assert names.isdisjoint({"diffusers", "transformers", "torch-geometric"})
