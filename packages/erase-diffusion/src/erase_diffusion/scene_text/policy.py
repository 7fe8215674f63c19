"""STE's style policy, simplified to a bandit over the style factors (numpy only).

The paper (arXiv:2204.12743, Sec. 3.3) samples style parameters from an LSTM policy
network, one categorical output per parameter, and trains it with REINFORCE on two
rewards: a difficulty reward (the erasing network's loss on images of the sampled style)
and a realism reward (how well a discriminator mistakes the synthetic text for real
text). Our policy keeps the per-parameter categoricals and REINFORCE but drops the LSTM
(each factor has its own logits $\\theta_f$, no conditioning between factors): after $M$
candidate styles $a^{(m)}$ earn rewards $r_m$,

$\\theta_f \\leftarrow \\theta_f + \\eta \\frac{1}{M}\\sum_m \\tilde r_m
\\,(\\mathbb{1}[a^{(m)}_f] - \\pi_f)$, with $\\tilde r_m = (r_m - \\bar r) / (s_r + 10^{-8})$,

the score-function gradient of $\\mathbb{E}[r]$ under $\\pi_f = \\mathrm{softmax}(\\theta_f)$
with the batch mean as baseline. Styles are drawn from
$(1 - \\epsilon)\\,\\pi_f + \\epsilon / K_f$ so that no level is ever dropped.

`combined_rewards` gives $r_m$ from the two rewards,
$r_m = z(d)_m + w\\, z(\\rho)_m$, $z(x)_m = (x_m - \\bar x) / (s_x + 10^{-8})$: the
difficulty $d_m$ and the realism $\\rho_m$ each standardised over the $M$ candidates
(they live on unrelated scales: a box error near 0.05, a discriminator logit of a few
units), then summed with the weight $w$ (``realism_weight``). The paper trains on both
rewards; we could not read how it weights them against each other, so $w$ is a knob
(1: equal say).
With $w = 0$ the difficulty rewards pass through unchanged.
"""

from __future__ import annotations

import numpy as np

from erase_diffusion.scene_text.world import STYLE_FACTORS, TextStyle


class StyleBandit:
    """Per-factor softmax policy over `STYLE_FACTORS`, favouring styles with high reward."""

    def __init__(self, learning_rate: float = 0.5, uniform_mix: float = 0.2) -> None:
        if not 0.0 <= uniform_mix <= 1.0:
            raise ValueError(f"uniform_mix must lie in [0, 1], got {uniform_mix}")
        self.learning_rate = learning_rate
        self.uniform_mix = uniform_mix
        self.logits = {f: np.zeros(len(levels)) for f, levels in STYLE_FACTORS.items()}
        self.history: list[dict[str, list[float]]] = [self.probabilities()]

    def softmax(self, factor: str) -> np.ndarray:
        """$\\pi_f$, the policy before mixing with the uniform distribution."""
        z = np.exp(self.logits[factor] - self.logits[factor].max())
        return z / z.sum()

    def probabilities(self) -> dict[str, list[float]]:
        """The sampling distribution of every factor (policy mixed with uniform)."""
        return {
            f: ((1 - self.uniform_mix) * self.softmax(f) + self.uniform_mix / len(lv)).tolist()
            for f, lv in STYLE_FACTORS.items()
        }

    def sample(self, n: int, rng: np.random.Generator) -> list[TextStyle]:
        """``n`` styles drawn independently per factor."""
        p = self.probabilities()
        columns = {f: rng.choice(len(lv), size=n, p=p[f]) for f, lv in STYLE_FACTORS.items()}
        return [
            TextStyle(**{f: STYLE_FACTORS[f][int(columns[f][i])] for f in STYLE_FACTORS})
            for i in range(n)
        ]

    def update(self, styles: list[TextStyle], rewards: np.ndarray) -> None:
        """One REINFORCE step from candidate styles and their rewards (higher: favoured)."""
        rewards = np.asarray(rewards, dtype=float)
        if rewards.shape != (len(styles),) or len(styles) < 2:
            raise ValueError(f"need one reward per style and >= 2 styles, got {rewards.shape}")
        advantage = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
        for factor in STYLE_FACTORS:
            pi = self.softmax(factor)
            grad = np.zeros_like(pi)
            for style, a in zip(styles, advantage, strict=True):
                grad += a * (np.eye(len(pi))[style.level_index(factor)] - pi)
            self.logits[factor] += self.learning_rate * grad / len(styles)
        self.history.append(self.probabilities())


def combined_rewards(
    difficulty: np.ndarray, realism: np.ndarray | None, realism_weight: float
) -> np.ndarray:
    """$r = z(d) + w\\,z(\\rho)$ per candidate (module docstring); ``difficulty`` itself
    when ``realism_weight`` is 0 or there is no realism reward."""
    difficulty = np.asarray(difficulty, dtype=float)
    if realism_weight < 0:
        raise ValueError(f"realism_weight must be >= 0, got {realism_weight}")
    if realism is None or realism_weight == 0:
        return difficulty
    realism = np.asarray(realism, dtype=float)
    if realism.shape != difficulty.shape:
        raise ValueError(
            f"need one realism reward per candidate: {realism.shape} vs {difficulty.shape}"
        )
    return _standardised(difficulty) + realism_weight * _standardised(realism)


def _standardised(x: np.ndarray) -> np.ndarray:
    return np.asarray((x - x.mean()) / (x.std() + 1e-8))
