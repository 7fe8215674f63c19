r"""CGCE: Classifier-Guided Concept Erasure (Nguyen and Patel, arXiv:2511.05865).

No weight of the pipeline changes. One lightweight classifier per erased concept reads
the text embedding $e \in \mathbb{R}^{T \times d}$ (the text encoder's hidden states, one
row per token, what cross-attention reads) and says whether it expresses the concept;
at inference, an embedding that a classifier flags is refined by gradient steps against
the flagged classifiers, and every other embedding passes unchanged.

**Classifier** (a compact cross-attention classifier, one per concept $k$): a learned
query $q_k$ attends over the tokens and a linear head reads the pooled row,

$$a_{k,j} = \operatorname{softmax}_j\Big(\frac{q_k \cdot e_j}{\sqrt d}\Big),\qquad
z_k(e) = w_k \cdot \sum_j a_{k,j}\, e_j + b_k,\qquad p_k(e) = \sigma(z_k(e)),$$

trained with the binary cross-entropy on paired prompts (the paper's stage 1 pairs each
unsafe prompt with a similar safe one): the concept's prompts are positives, the same
prompts with the anchor word, the preserved prompts, the other concepts' prompts that do
not name this one and the empty prompt are negatives. Training rows get Gaussian noise
(``noise`` times the rows' RMS) so the boundary has a margin.

**Detect and refine.** $e$ is *flagged* when $F(e) = \{k : p_k(e) > \tau\}$ is not
empty; then, with $e^{(0)} = e$, the multi-concept guidance of the flagged classifiers
is summed,

$$e^{(i+1)} = e^{(i)} - \eta\,\nabla_e\Big[\sum_{k \in F(e)} -\log\big(1 - p_k(e^{(i)})\big)
+ \lambda\,\|e^{(i)} - e\|^2\Big],$$

for at most ``refine_steps`` steps; a row stops once every flagged $p_k$ is below
``target``. An embedding with $F(e) = \varnothing$ is returned as is (bit for bit).

**Where it runs.** `erase_cgce` returns a pipeline whose UNet refines its
``encoder_hidden_states`` before every call (a forward pre-hook), so prompts,
precomputed ``prompt_embeds`` and the attacks' own samplers are all refined. Gradients
that an attack takes through the UNet pass straight through the refinement (its result
is added as a constant), so the attack sees the refined model's output but optimises
against the unrefined path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import Concept, MethodParams

from erase_diffusion.methods.cross_attention import anchor_prompt, working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch


class CGCEParams(MethodParams):
    """Parameters of CGCE."""

    classifier_steps: int = Field(default=300, ge=1, le=100_000, description="Adam steps.")
    learning_rate: float = Field(default=1e-2, gt=0.0, le=1.0)
    noise: float = Field(
        default=0.1, ge=0.0, le=2.0, description="Training-row noise, times the rows' RMS."
    )
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="τ: flag when p_k > τ.")
    # On the shipped pipeline the classifier's boundary (p = 0.5) is crossed long before
    # the UNet stops drawing the concept: refining far past it (p < 1e-6, at most 300
    # steps of η = 20) turns circles into squares (4 % circles left, colours kept).
    target: float = Field(
        default=1e-6, gt=0.0, lt=1.0, description="A refined row stops once every p_k < this."
    )
    refine_steps: int = Field(default=300, ge=0, le=10_000, description="At most this many.")
    step_size: float = Field(default=20.0, gt=0.0, le=1e4, description="η.")
    proximity: float = Field(default=0.0, ge=0.0, le=1e4, description="λ: pull towards e.")
    seed: int = Field(default=0, description="Seed of the classifier's init and noise.")


def classifier_logits(classifier: Mapping[str, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """$z_k(e)$ for every concept and row: ``classifier`` holds ``query`` (K, d),
    ``weight`` (K, d) and ``bias`` (K,); ``rows`` (n, T, d); returns (n, K)."""
    import torch

    query, weight, bias = classifier["query"], classifier["weight"], classifier["bias"]
    scores = torch.einsum("ntd,kd->nkt", rows, query) / math.sqrt(rows.shape[-1])
    pooled = torch.einsum("nkt,ntd->nkd", scores.softmax(-1), rows)
    return (pooled * weight).sum(-1) + bias


def _names(prompt: str, name: str) -> bool:
    words = name.split()
    pattern = r"(?<!\S)" + r"\s+".join(map(re.escape, words)) + r"(?!\S)"
    return re.search(pattern, prompt, re.I) is not None


def training_prompts(
    concepts: Sequence[Concept], preserve_prompts: Sequence[str]
) -> list[tuple[list[str], list[str]]]:
    """(positives, negatives) per concept, as described in the module docstring."""
    pairs = []
    for concept in concepts:
        positives = list(concept.prompts)
        negatives = [anchor_prompt(p, concept) for p in positives] + list(preserve_prompts)
        for other in concepts:
            if other is not concept:
                negatives += [p for p in other.prompts if not _names(p, concept.name)]
        negatives = [p for p in dict.fromkeys([*negatives, ""]) if not _names(p, concept.name)]
        pairs.append((positives, negatives))
    return pairs


def train_classifiers(
    pipe: TextToImage,
    concepts: Sequence[Concept],
    preserve_prompts: Sequence[str],
    params: CGCEParams,
) -> dict[str, torch.Tensor]:
    """One classifier per concept (stacked: ``query``, ``weight`` (K, d), ``bias`` (K,))."""
    import torch

    generator = torch.Generator().manual_seed(params.seed)
    pairs = training_prompts(concepts, preserve_prompts)
    prompts = sorted({p for pos, neg in pairs for p in pos + neg})
    index = {p: i for i, p in enumerate(prompts)}
    rows = pipe.encode(prompts).float()
    labels = torch.full((len(prompts), len(concepts)), -1.0)  # -1: not a training row of k
    for k, (positives, negatives) in enumerate(pairs):
        labels[[index[p] for p in negatives], k] = 0.0
        labels[[index[p] for p in positives], k] = 1.0
    d = rows.shape[-1]
    classifier = {
        "query": (torch.randn(len(concepts), d, generator=generator) * 0.01).requires_grad_(),
        "weight": (torch.randn(len(concepts), d, generator=generator) * 0.01).requires_grad_(),
        "bias": torch.zeros(len(concepts)).requires_grad_(),
    }
    optimizer = torch.optim.Adam(list(classifier.values()), lr=params.learning_rate)
    known = labels >= 0
    # Positives and negatives weigh the same in each classifier's loss.
    positive_share = ((labels == 1) & known).sum(0).clamp(min=1)
    negative_share = ((labels == 0) & known).sum(0).clamp(min=1)
    balance = torch.where(labels == 1, 0.5 / positive_share, 0.5 / negative_share) * known
    scale = rows.pow(2).mean().sqrt()
    for _ in range(params.classifier_steps):
        noisy = rows + params.noise * scale * torch.randn(rows.shape, generator=generator)
        logits = classifier_logits(classifier, noisy)
        losses = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, labels.clamp(min=0), reduction="none"
        )
        loss = (losses * balance).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {name: value.detach() for name, value in classifier.items()}


def refine_embeddings(
    classifier: Mapping[str, torch.Tensor], rows: torch.Tensor, params: CGCEParams
) -> torch.Tensor:
    """The refined embeddings (n, T, d); ``rows`` itself when no row is flagged, and every
    unflagged row bit for bit as given."""
    import torch

    with torch.no_grad():
        start = rows.detach().to(classifier["weight"].dtype)
        flagged = torch.sigmoid(classifier_logits(classifier, start)) > params.threshold
    if not bool(flagged.any()):
        return rows
    picked = flagged.any(-1).nonzero().squeeze(-1)
    origin = start[picked]
    chosen = flagged[picked].to(origin.dtype)  # (m, K): the flagged classifiers per row
    current = origin.clone()
    with torch.enable_grad():
        for _ in range(params.refine_steps):
            current.requires_grad_(True)
            logits = classifier_logits(classifier, current)
            active = (torch.sigmoid(logits) * chosen).amax(-1) >= params.target
            if not bool(active.any()):
                break
            # -log(1 - p) = softplus(z); each row's loss touches only its own rows.
            loss = (torch.nn.functional.softplus(logits) * chosen).sum()
            loss = loss + params.proximity * ((current - origin) ** 2).sum()
            (grad,) = torch.autograd.grad(loss, current)
            step = params.step_size * grad * active[:, None, None].to(grad.dtype)
            current = (current - step).detach()
    refined = rows.detach().clone()
    refined[picked] = current.to(rows.dtype)
    # Straight through: a gradient taken through the UNet reaches ``rows`` unchanged.
    return rows + (refined - rows.detach())


class _RefineHook:
    """UNet forward pre-hook: refine ``encoder_hidden_states`` (keyword or third argument).

    Keeps the last input and its refinement, so the many UNet calls of one sampling run
    on the same context refine it once.
    """

    def __init__(self, classifier: dict[str, torch.Tensor], params: CGCEParams) -> None:
        self.classifier = classifier
        self.params = params
        self._last: tuple[Any, int, Any] | None = None

    def refine(self, context: torch.Tensor) -> torch.Tensor:
        last = self._last
        if last is not None and last[0] is context and last[1] == context._version:
            return last[2]
        out = refine_embeddings(self.classifier, context, self.params)
        self._last = (context, context._version, out)
        return out

    def __call__(
        self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if kwargs.get("encoder_hidden_states") is not None:
            refined = self.refine(kwargs["encoder_hidden_states"])
            kwargs = {**kwargs, "encoder_hidden_states": refined}
        elif len(args) >= 3 and args[2] is not None:
            args = (*args[:2], self.refine(args[2]), *args[3:])
        return args, kwargs


def cgce_hook(pipe: TextToImage) -> _RefineHook | None:
    """The CGCE hook of a pipeline returned by `erase_cgce` (None for any other)."""
    for hook in pipe.unet._forward_pre_hooks.values():
        if isinstance(hook, _RefineHook):
            return hook
    return None


def erase_cgce(
    pipe: TextToImage,
    request: EraseRequest,
    params: CGCEParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Train one classifier per concept of ``request`` (negatives include
    ``request.preserve_prompts``) and return a pipeline that refines flagged embeddings
    before every UNet call; a copy unless ``in_place``. No weight changes."""
    params = method_params(CGCEParams, params, "cgce")
    edited = working_copy(pipe, in_place)
    classifier = train_classifiers(edited, request.concepts, request.preserve_prompts, params)
    edited.unet.register_forward_pre_hook(_RefineHook(classifier, params), with_kwargs=True)
    return edited
