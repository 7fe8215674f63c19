"""Test helpers shared by every package's tests (stdlib and pytest only).

``@pytest.mark.requires("dgl")`` skips a test, with the reason, unless the named
optional module imports: an explicit gate instead of ad-hoc try/except in tests.
"""

from __future__ import annotations

import importlib

import pytest


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="requires"):
        for module in marker.args:
            try:
                importlib.import_module(module)
            except Exception as error:  # an installed but broken module counts as missing
                pytest.skip(f"optional module {module!r} does not import here: {error!r}")
