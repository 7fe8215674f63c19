r"""Constant-curvature spaces in one chart: the $\kappa$-stereographic model.

Bachmann, Bécigneul, Ganea, "Constant Curvature Graph Convolutional Networks" (ICML
2020, arXiv:1911.05076). For curvature $\kappa < 0$ the space is the Poincaré ball of
radius $1/\sqrt{|\kappa|}$ (hyperbolic; $\kappa = -1$ is Ganea et al.'s ball, arXiv:1805.09112),
for $\kappa > 0$ the stereographic projection of the sphere of radius $1/\sqrt\kappa$
(spherical), and $\kappa = 0$ is $\mathbb{R}^d$. With
$\tan_\kappa(u) = \tan(\sqrt\kappa u)/\sqrt\kappa$ for $\kappa > 0$ and
$\tanh(\sqrt{|\kappa|} u)/\sqrt{|\kappa|}$ for $\kappa < 0$:

$$\exp_0^\kappa(v) = \tan_\kappa(\lVert v\rVert)\,\frac{v}{\lVert v\rVert}, \qquad
\log_0^\kappa(y) = \tan_\kappa^{-1}(\lVert y\rVert)\,\frac{y}{\lVert y\rVert},$$

$$x \oplus_\kappa y = \frac{(1 - 2\kappa\langle x,y\rangle - \kappa\lVert y\rVert^2)\,x
+ (1 + \kappa\lVert x\rVert^2)\,y}{1 - 2\kappa\langle x,y\rangle
+ \kappa^2\lVert x\rVert^2\lVert y\rVert^2}, \qquad
d_\kappa(x, y) = 2\tan_\kappa^{-1}\lVert(-x) \oplus_\kappa y\rVert .$$

At $\kappa = -1$, $d$ equals $\operatorname{arccosh}\bigl(1 + 2\lVert x-y\rVert^2 /
((1-\lVert x\rVert^2)(1-\lVert y\rVert^2))\bigr)$. Maps are taken at the origin only
(as in HGCN's tangent-space aggregation). Two guards keep the numbers finite: points of
the ball are kept at norm $\le (1 - 10^{-5})/\sqrt{|\kappa|}$, and on the sphere a tangent
vector is clipped to norm $< \pi/(2\sqrt\kappa)$ before $\exp_0$ (past it $\tan$ wraps
round the antipode).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_MIN_NORM = 1e-15
_BALL_EPS = 1e-5
_SPHERE_MARGIN = 1e-3


def _norm(x: Tensor) -> Tensor:
    return x.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)


def tan_k(u: Tensor, curvature: float) -> Tensor:
    """$\\tan_\\kappa(u)$ (``u`` itself at $\\kappa = 0$)."""
    if curvature == 0:
        return u
    root = math.sqrt(abs(curvature))
    return (torch.tan(root * u) if curvature > 0 else torch.tanh(root * u)) / root


def artan_k(u: Tensor, curvature: float) -> Tensor:
    """$\\tan_\\kappa^{-1}(u)$, the inverse of `tan_k`."""
    if curvature == 0:
        return u
    root = math.sqrt(abs(curvature))
    if curvature > 0:
        return torch.atan(root * u) / root
    return torch.atanh((root * u).clamp(max=1 - _BALL_EPS)) / root


def project(x: Tensor, curvature: float) -> Tensor:
    """Pull points of the Poincaré ball ($\\kappa < 0$) just inside its boundary."""
    if curvature >= 0:
        return x
    radius = (1 - _BALL_EPS) / math.sqrt(-curvature)
    norm = _norm(x)
    return torch.where(norm > radius, x / norm * radius, x)


def exp0(v: Tensor, curvature: float) -> Tensor:
    """$\\exp_0^\\kappa(v)$: a tangent vector at the origin to a point of the space."""
    if curvature == 0:
        return v
    norm = _norm(v)
    if curvature > 0:
        limit = (math.pi / 2 - _SPHERE_MARGIN) / math.sqrt(curvature)
        norm = norm.clamp(max=limit)
        v = v / _norm(v) * norm
    return project(tan_k(norm, curvature) * v / norm, curvature)


def log0(y: Tensor, curvature: float) -> Tensor:
    """$\\log_0^\\kappa(y)$: a point to its tangent vector at the origin."""
    if curvature == 0:
        return y
    norm = _norm(y)
    return artan_k(norm, curvature) * y / norm


def mobius_add(x: Tensor, y: Tensor, curvature: float) -> Tensor:
    """$x \\oplus_\\kappa y$ (``x + y`` at $\\kappa = 0$)."""
    k = curvature
    xy = (x * y).sum(dim=-1, keepdim=True)
    x2 = (x * x).sum(dim=-1, keepdim=True)
    y2 = (y * y).sum(dim=-1, keepdim=True)
    numerator = (1 - 2 * k * xy - k * y2) * x + (1 + k * x2) * y
    denominator = 1 - 2 * k * xy + k * k * x2 * y2
    return project(numerator / denominator.clamp_min(_MIN_NORM), k)


def distance(x: Tensor, y: Tensor, curvature: float) -> Tensor:
    """Geodesic distance $d_\\kappa(x, y)$ over the last dimension."""
    if curvature == 0:
        return (x - y).norm(dim=-1)
    gap = mobius_add(-x, y, curvature).norm(dim=-1)
    return 2 * artan_k(gap, curvature)
