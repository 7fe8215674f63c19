r"""Pruning the neurons that trigger replication (NeMo-style localisation, arXiv:2406.02366).

*Finding NeMo* localises memorisation in the value projections of the cross-attention
layers: a neuron (an output unit $j$ of a layer's $W_V$) whose activation on a
memorised prompt is far out of the distribution of its activations on ordinary
prompts is taken to carry the memorised image, and pruning those neurons (setting
their rows of $W_V$ to zero) is meant to stop replication. With $e$ the prompt's text
embedding (encoder output, tokens $1..T$),

$$a_j(e) = \frac{1}{T}\sum_{\tau} \lvert (W_V e_\tau)_j \rvert,\qquad
z_j(e) = \frac{a_j(e) - \mu_j}{\sigma_j},$$

with $\mu_j, \sigma_j$ the mean and standard deviation of $a_j$ over ordinary (world)
prompts. `localise` selects the neurons with $z_j \ge \theta$; `prune_memorisation`
lowers $\theta$ over a schedule until the memorised prompts stop replicating (the
refinement NeMo does per prompt, here over the whole memorised set at once), then
returns the pruned copy and the neurons it zeroed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from erase_diffusion.pipeline import TextToImage

Neuron = tuple[str, int]
"""(layer name, output unit of its value projection)."""


def value_layers(pipe: TextToImage) -> dict[str, torch.nn.Linear]:
    """The value projections of every cross-attention layer, by module name."""
    return {
        name: module.to_v
        for name, module in pipe.unet.named_modules()
        if name.endswith("attn2") and hasattr(module, "to_v")
    }


def value_activations(pipe: TextToImage, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
    """$a_j(e)$ for each embedding (n, tokens, dim): layer -> (n, units)."""
    import torch

    with torch.no_grad():
        return {
            name: layer(embeddings.to(layer.weight.dtype)).abs().mean(1)
            for name, layer in value_layers(pipe).items()
        }


def z_scores(
    pipe: TextToImage, embeddings: torch.Tensor, ordinary: torch.Tensor
) -> dict[str, torch.Tensor]:
    """$z_j(e)$ of each embedding against the ``ordinary`` embeddings: layer -> (n, units)."""
    reference = value_activations(pipe, ordinary)
    out = {}
    for name, acts in value_activations(pipe, embeddings).items():
        mean, std = reference[name].mean(0), reference[name].std(0)
        out[name] = (acts - mean) / std.clamp_min(1e-8)
    return out


def localise(z: dict[str, torch.Tensor], threshold: float) -> list[Neuron]:
    """Every (layer, unit) whose z-score is at least ``threshold`` for any embedding."""
    found = []
    for name, scores in z.items():
        units = (scores >= threshold).any(0).nonzero().flatten().tolist()
        found += [(name, int(u)) for u in units]
    return found


def pruned(pipe: TextToImage, neurons: Sequence[Neuron]) -> TextToImage:
    """A copy of ``pipe`` with the rows (and biases) of ``neurons`` in $W_V$ set to zero."""
    import torch

    copy = pipe.copy()
    layers = value_layers(copy)
    unknown = sorted({name for name, _ in neurons} - set(layers))
    if unknown:
        raise ValueError(f"not a cross-attention layer: {unknown}; accepted: {sorted(layers)}")
    with torch.no_grad():
        for name, unit in neurons:
            layers[name].weight[unit] = 0.0
            if layers[name].bias is not None:
                layers[name].bias[unit] = 0.0
    return copy


@dataclass
class PruningOutcome:
    """The pruned pipeline, the neurons zeroed and the threshold that stopped replication."""

    pipe: TextToImage
    neurons: list[Neuron]
    threshold: float
    replication: float
    """Replication rate of the memorised prompts on the pruned pipeline."""
    tried: list[tuple[float, int, float]]
    """(threshold, neurons, replication rate) for each threshold of the schedule tried."""


def prune_memorisation(
    pipe: TextToImage,
    memorised: torch.Tensor,
    ordinary: torch.Tensor,
    replication: Callable[[TextToImage], float],
    thresholds: Sequence[float] = (6.0, 4.0, 3.0, 2.0, 1.5, 1.0),
    target: float = 0.1,
) -> PruningOutcome:
    """Prune at each threshold in turn (highest first) until ``replication(pruned)`` (the
    memorised prompts' replication rate) is at most ``target``; the last one tried
    otherwise. ``memorised`` and ``ordinary`` are text embeddings (n, tokens, dim)."""
    if not thresholds:
        raise ValueError("give at least one z-score threshold")
    z = z_scores(pipe, memorised, ordinary)
    tried: list[tuple[float, int, float]] = []
    outcome = None
    for threshold in thresholds:
        neurons = localise(z, threshold)
        candidate = pruned(pipe, neurons)
        rate = replication(candidate)
        tried.append((threshold, len(neurons), rate))
        outcome = PruningOutcome(candidate, neurons, threshold, rate, tried)
        if rate <= target:
            break
    assert outcome is not None
    return outcome
