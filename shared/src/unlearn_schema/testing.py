"""Checks that every package's tests make the same way: a light import, its own dependencies.

Each package promises that importing it (its registries, params modules and benchmark
declarations) imports no torch, so that ``unlearn-bench list`` and ``validate`` stay fast,
and that it depends on the schema and not on another package's heavy stack::

    def test_import_is_light() -> None:
        assert heavy_modules_after("import erase_diffusion") == []

    def test_dependencies_stay_within_the_package() -> None:
        names = requirement_names("erase-diffusion")
        assert "unlearn-schema" in names
        assert names.isdisjoint({"torch-geometric", "peft", "dgl"})

Standard library only (no pytest, no torch), like the rest of the schema package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import requires

HEAVY_MODULES = ("torch",)
"""What ``heavy_modules_after`` looks for unless told otherwise."""

_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def heavy_modules_after(code: str, heavy: Iterable[str] = HEAVY_MODULES) -> list[str]:
    """The modules of ``heavy`` that running ``code`` in a fresh interpreter has imported.

    A fresh process, because this test session has long imported torch itself. ``code``
    is Python source (``"import unlearn_llm.methods"``, several lines allowed); the
    answer is sorted, ``[]`` when it imported none of them.
    """
    names = sorted(set(heavy))
    script = f"{code}\nimport sys\nprint(','.join(m for m in {names!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the import check failed to run {code!r}:\n{out.stderr}")
    found = out.stdout.strip()
    return found.split(",") if found else []


def requirement_names(distribution: str) -> set[str]:
    """The lower-cased names of what the installed ``distribution`` requires (extras too)."""
    names = set()
    for requirement in requires(distribution) or []:
        match = _REQUIREMENT_NAME.match(requirement)
        if match is None:
            raise ValueError(f"{distribution} lists a requirement without a name: {requirement!r}")
        names.add(match.group(0).lower())
    return names
