"""Exact memorisation and extraction strength of answers, from one teacher-forced pass.

With $m_t = 1$ when the argmax next-token prediction at answer position $t$
(given the true prefix) equals the true token, over an answer of $|y|$ tokens:

* exact memorisation (Tirumala et al., arXiv:2205.10770):
  $\\mathrm{EM} = \\frac{1}{|y|}\\sum_t m_t$;
* extraction strength (Carlini et al., arXiv:2202.07646, as used by OpenUnlearning):
  $\\mathrm{ES} = 1 - \\frac{k^*}{|y|}$ with $k^*$ the shortest answer prefix
  after which greedy decoding reproduces the rest exactly, i.e. the smallest $k$
  with $m_t = 1$ for all $t \\ge k$ (1: the question alone extracts the answer).
"""

from __future__ import annotations

import numpy as np


def exact_memorisation(matches: list[np.ndarray]) -> np.ndarray:
    """Share of answer tokens the model predicts exactly, per item."""
    return np.array([float(m.mean()) if len(m) else 0.0 for m in matches])


def extraction_strength(matches: list[np.ndarray]) -> np.ndarray:
    """$1 - k^*/|y|$ per item (see module docstring)."""
    values = []
    for m in matches:
        n = len(m)
        k = n
        while k > 0 and m[k - 1]:
            k -= 1
        values.append(1.0 - k / n if n else 0.0)
    return np.array(values)
