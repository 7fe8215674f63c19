"""The Python and NumPy RNG states as plain integer and float tensors, never pickles.

A snapshot folder is user data: restoring it must not run code from it. So the
generators' states are stored as numbers and checked for shape, dtype and range
before they are handed back to `random.setstate` / `numpy.random.set_state`:

- ``rng/python``: int64 $[v, s_0, \\dots, s_{624}, g]$, the version $v$, the Mersenne
  Twister's 624 words plus its position ($s$, each in $[0, 2^{32})$ but the last in
  $[0, 625]$) and a flag $g$ for a cached Gaussian; ``rng/python_gauss`` its value.
- ``rng/numpy``: int64 $[k_0, \\dots, k_{623}, p, g]$, the MT19937 key, the position
  $p \\in [0, 624]$ and the cached-Gaussian flag; ``rng/numpy_gauss`` its value.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from train_infra.snapshot.errors import IncompatibleSnapshotError

_WORDS = 624
KEYS = ("rng/python", "rng/python_gauss", "rng/numpy", "rng/numpy_gauss")


def encode_rng_states() -> dict[str, torch.Tensor]:
    """The current Python and NumPy RNG states as tensors (see the module docstring)."""
    version, internal, gauss = random.getstate()
    python = torch.tensor([version, *internal, gauss is not None], dtype=torch.int64)
    state: Any = np.random.get_state(legacy=True)
    kind, keys, position, has_gauss, cached = state
    if kind != "MT19937":
        raise ValueError(f"numpy's global generator is {kind!r}; only MT19937 is stored")
    numpy_state = torch.tensor([*keys.tolist(), int(position), int(has_gauss)], dtype=torch.int64)
    return {
        "rng/python": python,
        "rng/python_gauss": torch.tensor([0.0 if gauss is None else gauss], dtype=torch.float64),
        "rng/numpy": numpy_state,
        "rng/numpy_gauss": torch.tensor([float(cached)], dtype=torch.float64),
    }


def _vector(
    tensors: dict[str, torch.Tensor], key: str, dtype: torch.dtype, size: int
) -> torch.Tensor:
    value = tensors.get(key)
    if value is None:
        raise IncompatibleSnapshotError(f"snapshot holds no {key!r} (or an older, pickled one)")
    if value.dtype != dtype or tuple(value.shape) != (size,):
        raise IncompatibleSnapshotError(
            f"{key!r} must be {dtype} of shape ({size},), got {value.dtype} {tuple(value.shape)}"
        )
    return value


def decode_rng_states(tensors: dict[str, torch.Tensor]) -> tuple[Any, Any]:
    """``(python_state, numpy_state)`` checked and ready for ``setstate``; raises if malformed."""
    python = _vector(tensors, "rng/python", torch.int64, _WORDS + 3).tolist()
    python_gauss = float(_vector(tensors, "rng/python_gauss", torch.float64, 1)[0])
    version, words, position, has_gauss = python[0], python[1:-2], python[-2], python[-1]
    if version != 3 or any(not 0 <= w < 2**32 for w in words) or not 0 <= position <= _WORDS:
        raise IncompatibleSnapshotError("'rng/python' is not a valid Mersenne Twister state")
    if has_gauss not in (0, 1) or not np.isfinite(python_gauss):
        raise IncompatibleSnapshotError("'rng/python' has a malformed cached Gaussian")
    python_state = (version, (*words, position), python_gauss if has_gauss else None)

    numpy_values = _vector(tensors, "rng/numpy", torch.int64, _WORDS + 2).tolist()
    numpy_gauss = float(_vector(tensors, "rng/numpy_gauss", torch.float64, 1)[0])
    keys, numpy_position, numpy_has_gauss = (
        numpy_values[:_WORDS],
        numpy_values[-2],
        numpy_values[-1],
    )
    if any(not 0 <= k < 2**32 for k in keys) or not 0 <= numpy_position <= _WORDS:
        raise IncompatibleSnapshotError("'rng/numpy' is not a valid MT19937 state")
    if numpy_has_gauss not in (0, 1) or not np.isfinite(numpy_gauss):
        raise IncompatibleSnapshotError("'rng/numpy' has a malformed cached Gaussian")
    numpy_state = (
        "MT19937",
        np.array(keys, dtype=np.uint32),
        numpy_position,
        numpy_has_gauss,
        numpy_gauss,
    )
    return python_state, numpy_state


def set_rng_states(python_state: Any, numpy_state: Any) -> None:
    """Apply states returned by `decode_rng_states`."""
    random.setstate(python_state)
    np.random.set_state(numpy_state)
