"""Quantization attack: round-to-nearest weight quantization brings hidden knowledge back.

Zhang et al., "Catastrophic Failure of LLM Unlearning via Quantization" (arXiv:2410.16454):
unlearning with a utility constraint moves weights so little that, after 4-bit
quantization, the unlearned and the original weights fall into the same buckets, and
the quantized unlearned model answers like the original. The attack quantizes and
dequantizes a copy of the model and scores the forget facts again.

Round-to-nearest (RTN), per output channel (one row $w$ of a ``Linear`` weight), with
$b$ bits:

* symmetric (absmax, the paper's RTN analysis): $\\Delta = \\max_j |w_j| / (2^{b-1} - 1)$,
  $\\hat w = \\Delta\\,\\mathrm{clip}(\\mathrm{round}(w/\\Delta), -(2^{b-1}-1), 2^{b-1}-1)$;
* asymmetric (min-max with a zero point): $\\Delta = (\\max_j w_j - \\min_j w_j)/(2^b - 1)$,
  $z = \\mathrm{round}(-\\min_j w_j/\\Delta)$,
  $\\hat w = \\Delta\\,(\\mathrm{clip}(\\mathrm{round}(w/\\Delta) + z, 0, 2^b - 1) - z)$.

Every ``nn.Linear`` weight is quantized (the attention and MLP projections and the
output head); embeddings only with ``embeddings=True``; norms and biases stay in full
precision, as weight-only quantizers (GPTQ, AWQ, bitsandbytes) leave them. The quantizer
is written out here: torchao and optimum-quanto are not dependencies, and a
quantize-dequantize in float gives the same numbers as their RTN kernels would.

Headline ``knowledge``: the forget answer probability (length-normalised, TOFU) of the
bit width that reaches the most of it; ``truth_ratios`` are that width's. torch is
imported inside the functions, so importing this module (and its params) stays light.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator
from unlearn_schema import MethodParams

from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget

if TYPE_CHECKING:
    import torch

Scheme = Literal["symmetric", "asymmetric"]


class QuantizationParams(MethodParams):
    """Bit widths and the rounding scheme of the quantization attack."""

    bits: list[int] = Field(
        default=[8, 4], min_length=1, description="Bit widths to try, each in 2..16."
    )
    scheme: Scheme = Field(
        default="symmetric", description="'symmetric' (absmax) or 'asymmetric' (min-max)."
    )
    embeddings: bool = Field(default=False, description="Also quantize the embedding tables.")

    @field_validator("bits")
    @classmethod
    def _bits_in_range(cls, bits: list[int]) -> list[int]:
        bad = [b for b in bits if not 2 <= b <= 16]
        if bad:
            raise ValueError(f"bits {bad} are out of range; each bit width must be in 2..16")
        if len(set(bits)) != len(bits):
            raise ValueError(f"bits {bits} repeat a width; list each width once")
        return bits


def quantize_rows(weight: torch.Tensor, bits: int, scheme: Scheme = "symmetric") -> torch.Tensor:
    """Round-to-nearest quantize-dequantize of ``weight``, one scale per row (output channel)."""
    import torch

    if not 2 <= bits <= 16:
        raise ValueError(f"bits={bits} is out of range; use 2..16")
    w = weight.detach().float()
    flat = w.reshape(w.shape[0], -1)
    if scheme == "symmetric":
        levels = 2 ** (bits - 1) - 1
        step = flat.abs().amax(dim=1, keepdim=True) / levels
        step = torch.where(step > 0, step, torch.ones_like(step))
        quantized = (flat / step).round().clamp(-levels, levels) * step
    elif scheme == "asymmetric":
        levels = 2**bits - 1
        low = flat.amin(dim=1, keepdim=True)
        high = flat.amax(dim=1, keepdim=True)
        step = (high - low) / levels
        step = torch.where(step > 0, step, torch.ones_like(step))
        zero = (-low / step).round()
        quantized = ((flat / step).round() + zero).clamp(0, levels).sub(zero) * step
    else:
        raise ValueError(f"scheme={scheme!r} is unknown; use 'symmetric' or 'asymmetric'")
    return quantized.reshape(w.shape).to(weight.dtype)


def quantize_weights(
    model: torch.nn.Module, bits: int, scheme: Scheme = "symmetric", embeddings: bool = False
) -> torch.nn.Module:
    """A deep copy of ``model``, every Linear (and optionally Embedding) weight RTN-quantized."""
    import torch

    quantized = copy.deepcopy(model)
    kinds: tuple[type[torch.nn.Module], ...] = (torch.nn.Linear,)
    if embeddings:
        kinds = (torch.nn.Linear, torch.nn.Embedding)
    with torch.no_grad():
        for module in quantized.modules():
            if isinstance(module, kinds):
                weight: torch.Tensor = module.weight  # type: ignore[assignment]
                weight.copy_(quantize_rows(weight, bits, scheme))
    return quantized


def quantization(target: AttackTarget, params: QuantizationParams | None = None) -> AttackOutcome:
    """Quantize a copy of ``target.model`` at each bit width and score the forget facts again.

    Metrics per width ``b``: ``forget_answer_probability_<b>bit``,
    ``forget_exact_answer_accuracy_<b>bit``, ``retain_answer_probability_<b>bit``; and
    the unquantized (clean) values under the same names without the suffix.
    """
    import numpy as np

    from unlearn_llm.metrics.evaluate import score_facts

    params = params or QuantizationParams()
    if not target.forget:
        raise ValueError("the quantization attack needs forget facts to score; got none")
    start = time.perf_counter()
    metrics: dict[str, float] = {}

    def score(model: torch.nn.Module, suffix: str) -> tuple[float, np.ndarray]:
        forget = score_facts(model, target.tokenizer, target.forget, generate=False)
        probability = float(np.mean(forget.answer_probability))
        metrics[f"forget_answer_probability{suffix}"] = probability
        metrics[f"forget_exact_answer_accuracy{suffix}"] = float(np.mean(forget.exact_match))
        if target.retain:
            retain = score_facts(model, target.tokenizer, target.retain, generate=False)
            metrics[f"retain_answer_probability{suffix}"] = float(
                np.mean(retain.answer_probability)
            )
        return probability, forget.truth_ratio

    metrics["clean_knowledge"] = score(target.model, "")[0]
    best: tuple[float, np.ndarray] | None = None
    for bits in params.bits:
        quantized = quantize_weights(target.model, bits, params.scheme, params.embeddings)
        result = score(quantized, f"_{bits}bit")
        if best is None or result[0] > best[0]:
            best = result
    assert best is not None  # bits has at least one width
    return AttackOutcome(
        attack="quantization",
        knowledge=best[0],
        knowledge_name="quantized_forget_answer_probability",
        truth_ratios=best[1],
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )


__all__ = ["QuantizationParams", "quantization", "quantize_rows", "quantize_weights"]
