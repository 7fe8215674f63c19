r"""SPM: one-dimensional semi-permeable membranes (Lyu et al., *One-dimensional Adapter to
Rule Them All: Concepts, Diffusion Models and Erasing Applications*, arXiv:2312.16145).

**The membrane.** Every linear and convolution layer $W$ inside the UNet's transformer
blocks (``proj_in``, self- and cross-attention ``to_q/k/v/out``, the feed-forward
layers, ``proj_out``: the layers the paper's code wraps) gets a rank-one adapter,
$W x \mapsto W x + \gamma\, u\,(d^\top x)$ with $d \in \mathbb R^{\text{in}}$ (for a
convolution: one output channel with $W$'s kernel size) and $u \in \mathbb R^{\text{out}}$
(a $1\times1$ convolution). $u$ starts at zero, so the membrane starts closed. The
base UNet is frozen; only $\{d, u\}$ train, and they are saved on their own
(`save_membrane`) and attached to another pipeline of the same architecture
(`attach_membrane`) without retraining.

**Training** (membrane strength $\gamma = 1$). With $\epsilon_\theta$ the frozen UNet,
$\epsilon_{\theta,M}$ the UNet with the membrane, $c$ a concept prompt, $\varnothing$
the empty prompt and $x_t$ drawn by partially denoising pure noise with
$\epsilon_{\theta,M}(\cdot, c)$:

$$L = \big\|\epsilon_{\theta,M}(x_t, c, t) - \big[\epsilon_\theta(x_t, \varnothing, t)
- \eta\,(\epsilon_\theta(x_t, c, t) - \epsilon_\theta(x_t, \varnothing, t))\big]\big\|^2
+ \lambda\, \mathbb E_{a}\,\big\|\epsilon_{\theta,M}(x_t, a, t)
- \epsilon_\theta(x_t, a, t)\big\|^2 .$$

The first term is ESD's negative-guidance erasure; the second is **latent anchoring**:
anchor embeddings $a$ are drawn from the text-embedding space around the target, as in
the paper's code: a Gaussian direction $n$ of the shape of the target's embedding
$e_c$, kept with probability $1 - \cos(n, e_c)$ (rarely near the target), scaled to
$s\,\|e_c\|$ with $s \sim U(0.8, 1.2)$; the membrane must not change the prediction
there.

**Facilitated transport** (inference). The strength is set per prompt from how close
it is to the erased concepts, $\gamma(y) = \max_k \max\big(\cos(e_y, e_k),\;
|T(y) \cap T(k)| / |T(k)|\big)$: the cosine of the flattened text embeddings of the
prompt and of the concept's name, and the share of the concept name's tokens the
prompt contains (the paper code's ``clipcos_tokenuni`` matching; ``transport`` picks
one term or turns it off). The cosine term needs only the embedding, so it also
answers prompts given as embeddings; the token term needs the prompt's tokens, which a
hook on the text encoder records for every prompt it encodes.

**Several concepts: one membrane each, composed.** The paper erases several concepts by
training one membrane per concept and plugging them into the model together, each
with its own transport strength (no retraining, no interference between membranes):

$$W x \mapsto W x + \sum_k \gamma_k(y)\, u_k\,(d_k^\top x), \qquad
\gamma_k(y) = \max_{j \in C_k} \max\big(\cos(e_y, e_j),\; |T(y) \cap T(j)| / |T(j)|\big),$$

$C_k$ the concepts of membrane $k$. A membrane with $\gamma_k(y) = 0$ adds nothing for
that prompt, so the others act exactly as alone. ``composition="per-concept"`` (the
default) trains one membrane per concept of the request (membrane $i$ from seed
``seed + i``; `train_membranes` trains them side by side, one batched UNet call a step
for all, each with its own draws and loss: the membranes training each alone would
give, up to float rounding, about 2x faster for 3 concepts on 2 cores) and attaches
them this way; ``composition="joint"`` trains one membrane
on all the request's concepts (a variant: our earlier default, cheaper for many
concepts). With one concept the two are the same. `attach_membrane` takes a list of
membranes (saved and loaded one by one with `save_membrane` / `load_membrane`) and
`detach_membranes` takes them all off again, leaving the UNet as it was. (The paper's
code merges several membranes by summing their scaled down and up factors separately,
which adds cross terms $u_j d_k^\top$; we add each membrane's own rank-one term, the
composition the paper describes.)
"""

# Over 600 lines on purpose: the membrane, its transport hooks, composition, attach /
# detach / save / load and the (batched) training loop share the hook and state types;
# split, every part would import the others' private classes.

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods.cross_attention import working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import TextToImage

if TYPE_CHECKING:
    import torch

Transport = Literal["clipcos_tokenuni", "clipcos", "tokenuni", "off"]
Composition = Literal["per-concept", "joint"]
_WRAPPED_BLOCK = "Transformer2DModel"


class SPMParams(MethodParams):
    """Parameters of SPM."""

    iterations: int = Field(default=40, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-2, gt=0.0, le=1.0)
    negative_guidance: float = Field(default=1.0, gt=0.0, le=20.0, description="η.")
    anchor_weight: float = Field(
        default=10.0,
        ge=0.0,
        le=1e7,
        description=(
            "λ of latent anchoring (0: none). The paper's code uses 1000 on Stable "
            "Diffusion latents; on the shapes world 1000 keeps the membrane closed."
        ),
    )
    anchor_samples: int = Field(
        default=4, ge=1, le=256, description="Anchor embeddings drawn per iteration."
    )
    batch_size: int = Field(default=4, ge=1, le=256)
    ddim_steps: int = Field(default=10, ge=2, le=1000, description="Steps of the x_t sampler.")
    transport: Transport = Field(
        default="clipcos_tokenuni",
        description="Facilitated transport at inference: both terms, one, or 'off' (γ = 1).",
    )
    composition: Composition = Field(
        default="per-concept",
        description=(
            "Several concepts: one membrane per concept, composed with a transport strength "
            "each (the paper's), or one membrane trained on all of them ('joint')."
        ),
    )
    seed: int = Field(default=0, description="Seed of the adapter init and of every draw.")


@dataclass
class Membrane:
    """A trained SPM: the rank-one factors per wrapped layer and the concepts it erases.

    ``layers`` maps a UNet module name to ``(down, up)``: for a linear layer
    ``down`` (1, in) and ``up`` (out, 1); for a convolution ``down`` (1, in, kh, kw) and
    ``up`` (out, 1, 1, 1).
    """

    concepts: list[str]
    layers: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def delta_weight(self, name: str) -> torch.Tensor:
        """$u d^\\top$ of one layer (out, in·kh·kw): rank one by construction."""
        down, up = self.layers[name]
        return up.reshape(up.shape[0], 1) @ down.reshape(1, -1)


class _State:
    """What every hook of one attached membrane reads: on/off, the per-sample strength
    set by the transport hook, and the transport's inputs. One object per attachment,
    shared (not copied) by copies of the pipeline, since the UNet's and the text
    encoder's hooks are deep-copied separately and must still meet here."""

    def __init__(
        self,
        transport: Transport,
        concept_names: list[str],
        concept_rows: torch.Tensor,
        concept_tokens: list[set[int]],
    ) -> None:
        self.enabled = True
        self.concept_names = concept_names
        self.transport = transport
        self.concept_rows = concept_rows  # (concepts, tokens·d): e_k, flattened
        self.concept_tokens = concept_tokens  # T(k) per concept
        self.strength: torch.Tensor | None = None  # (batch,) for the running UNet call
        self.overlaps: dict[str, torch.Tensor] = {}  # prompt embedding digest -> (concepts,)

    def __deepcopy__(self, memo: dict[int, Any]) -> _State:
        return self


class _MembraneHook:
    """Forward hook of one wrapped layer: adds $\\gamma\\, u (d^\\top x)$ to its output."""

    def __init__(self, down: torch.Tensor, up: torch.Tensor, conv: Any, state: _State) -> None:
        self.down = down
        self.up = up
        self.conv = conv  # (stride, padding, dilation) of a convolution, None for linear
        self.state = state

    def __call__(self, module: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> Any:
        import torch.nn.functional as F

        if not self.state.enabled:
            return output
        x = inputs[0]
        if self.conv is None:
            delta = F.linear(F.linear(x, self.down), self.up)
        else:
            stride, padding, dilation = self.conv
            delta = F.conv2d(F.conv2d(x, self.down, None, stride, padding, dilation), self.up)
        strength = self.state.strength
        if strength is not None and strength.shape[0] == delta.shape[0]:
            delta = delta * strength.reshape(-1, *([1] * (delta.ndim - 1))).to(delta.dtype)
        return output + delta


def _digest(row: torch.Tensor) -> str:
    data = row.detach().cpu().contiguous().numpy().tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class _TokenRecorder:
    """Forward hook of the text encoder: the concept-token share of every encoded prompt,
    keyed by the digest of its output rows (what the UNet later receives)."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def __call__(
        self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        import torch

        ids = kwargs.get("input_ids", args[0] if args else None)
        hidden = getattr(output, "last_hidden_state", None)
        if ids is None or hidden is None:
            return
        if len(self.state.overlaps) > 20_000:  # a bound, not a cache policy: start over
            self.state.overlaps.clear()
        for row_ids, row in zip(ids.tolist(), hidden, strict=True):
            present = set(row_ids)
            share = [len(present & t) / max(len(t), 1) for t in self.state.concept_tokens]
            self.state.overlaps[_digest(row)] = torch.tensor(share)


class _Transport:
    """Forward pre-hook of the UNet: sets the membrane strength γ per sample."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def __call__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        context = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
        if context is None or self.state.transport == "off":
            self.state.strength = None
            return
        self.state.strength = transport_strength(context, self.state)


def transport_strength(context: torch.Tensor, state: _State) -> torch.Tensor:
    """γ (batch,) for a batch of prompt embeddings (batch, tokens, d); see the module doc."""
    import torch

    terms = []
    if state.transport in ("clipcos_tokenuni", "clipcos"):
        flat = context.detach().reshape(context.shape[0], -1).to(state.concept_rows.dtype)
        terms.append(
            torch.nn.functional.cosine_similarity(
                flat[:, None, :], state.concept_rows[None, :, :], dim=-1
            )
        )
    if state.transport in ("clipcos_tokenuni", "tokenuni"):
        zero = torch.zeros(state.concept_rows.shape[0])
        shares = [state.overlaps.get(_digest(row), zero) for row in context]
        terms.append(torch.stack(shares).to(state.concept_rows.dtype))
    return torch.stack(terms).amax(dim=0).amax(dim=-1).clamp(min=0.0)


def wrapped_layers(unet: Any) -> list[tuple[str, Any]]:
    """``(name, module)`` of every Linear/Conv2d inside the UNet's transformer blocks."""
    found = []
    for name, module in unet.named_modules():
        if type(module).__name__ != _WRAPPED_BLOCK:
            continue
        for child, layer in module.named_modules():
            if type(layer).__name__ in ("Linear", "Conv2d"):
                found.append((f"{name}.{child}", layer))
    if not found:
        raise ValueError(
            f"{type(unet).__name__} has no {_WRAPPED_BLOCK} blocks: SPM wraps the layers of "
            "the UNet's transformer (attention) blocks, as in UNet2DConditionModel"
        )
    return found


def new_membrane(unet: Any, concepts: list[str], seed: int) -> Membrane:
    """A closed membrane ($u = 0$, $d$ Kaiming-uniform, as a LoRA starts) for ``unet``."""
    import math

    import torch

    generator = torch.Generator().manual_seed(seed)
    membrane = Membrane(concepts=list(concepts))
    for name, layer in wrapped_layers(unet):
        weight = layer.weight
        down_shape = (1, *weight.shape[1:])
        fan_in = math.prod(weight.shape[1:])
        bound = 1.0 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)), torch's default
        down = (torch.rand(down_shape, generator=generator) * 2 - 1) * bound
        up = torch.zeros((weight.shape[0], 1, *([1] * (weight.ndim - 2))))
        membrane.layers[name] = (down, up)
    return membrane


def _check_fits(membrane: Membrane, layers: dict[str, Any]) -> None:
    """Raise naming the layer when ``membrane`` does not fit the UNet's ``layers``."""
    for name, (down, up) in membrane.layers.items():
        layer = layers.get(name)
        if layer is None:
            raise ValueError(
                f"membrane layer {name!r} is not a transformer-block layer of this UNet "
                f"(it has {len(layers)}, e.g. {next(iter(layers))!r}): same architecture needed"
            )
        want = (layer.weight.shape[0], *layer.weight.shape[1:])
        if (up.shape[0], *down.shape[1:]) != want:
            raise ValueError(
                f"membrane layer {name!r} has shape {(up.shape[0], *down.shape[1:])}, the "
                f"UNet's layer {want}: same architecture needed"
            )


def attach_membrane(
    pipe: TextToImage,
    membrane: Membrane | Sequence[Membrane],
    transport: Transport | Sequence[Transport] = "clipcos_tokenuni",
    *,
    in_place: bool = False,
) -> TextToImage:
    """``pipe`` (a copy unless ``in_place``) with ``membrane`` (one, or a list composed as
    in the module doc, each with its own strength $\\gamma_k(y)$) hooked onto its UNet;
    ``transport`` is one for all membranes or one per membrane. The pipeline's own
    weights are not changed; `detach_membranes` takes the membranes off again.

    Raises naming the layer when ``pipe``'s UNet lacks a wrapped layer or its shape
    differs (another architecture).
    """
    import torch

    membranes = [membrane] if isinstance(membrane, Membrane) else list(membrane)
    if not membranes:
        raise ValueError("attach_membrane needs at least one membrane, got an empty list")
    transports = [transport] * len(membranes) if isinstance(transport, str) else list(transport)
    if len(transports) != len(membranes):
        raise ValueError(
            f"got {len(transports)} transports for {len(membranes)} membranes: give one "
            "transport for all, or one per membrane"
        )
    attached = working_copy(pipe, in_place)
    layers = dict(wrapped_layers(attached.unet))
    for one in membranes:
        _check_fits(one, layers)
    special = set(attached.tokenizer.all_special_ids)
    for one, how in zip(membranes, transports, strict=True):
        names = one.concepts
        tokens = [set(attached.tokenize([n])[0].tolist()) - special for n in names]
        with torch.no_grad():
            rows = attached.encode(names).reshape(len(names), -1).double()
        state = _State(how, list(names), rows, tokens)
        for name, (down, up) in one.layers.items():
            layer = layers[name]
            conv = None
            if isinstance(layer, torch.nn.Conv2d):
                conv = (layer.stride, layer.padding, layer.dilation)
            layer.register_forward_hook(_MembraneHook(down, up, conv, state))
        attached.unet.register_forward_pre_hook(_Transport(state), with_kwargs=True)
        if how in ("clipcos_tokenuni", "tokenuni"):
            attached.text_encoder.register_forward_hook(_TokenRecorder(state), with_kwargs=True)
    return attached


_HOOK_TABLES = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
)


def detach_membranes(pipe: TextToImage, *, in_place: bool = False) -> TextToImage:
    """``pipe`` (a copy unless ``in_place``) with every attached membrane and its
    transport hooks taken off: the UNet computes exactly what it did before
    `attach_membrane` (its weights were never changed)."""
    detached = working_copy(pipe, in_place)
    ours = (_MembraneHook, _Transport, _TokenRecorder)
    for module in [*detached.unet.modules(), *detached.text_encoder.modules()]:
        hooks = {**module._forward_hooks, **module._forward_pre_hooks}
        for key in [k for k, hook in hooks.items() if isinstance(hook, ours)]:
            for table in _HOOK_TABLES:
                getattr(module, table, {}).pop(key, None)
    return detached


def _hooks(pipe: TextToImage) -> list[tuple[str, _MembraneHook]]:
    found = []
    for name, module in pipe.unet.named_modules():
        for hook in module._forward_hooks.values():
            if isinstance(hook, _MembraneHook):
                found.append((name, hook))
    return found


def membranes_of(pipe: TextToImage) -> list[Membrane]:
    """The membranes attached to ``pipe`` (by `erase_spm` or `attach_membrane`), in the
    order they were attached."""
    hooks = _hooks(pipe)
    if not hooks:
        raise ValueError("this pipeline has no SPM attached (use erase_spm or attach_membrane)")
    grouped: dict[int, Membrane] = {}
    for name, hook in hooks:
        state = hook.state
        one = grouped.setdefault(id(state), Membrane(concepts=list(state.concept_names)))
        one.layers[name] = (hook.down.detach().clone(), hook.up.detach().clone())
    return list(grouped.values())


def membrane_of(pipe: TextToImage) -> Membrane:
    """The one membrane attached to ``pipe``; raises when there are several (per-concept
    composition: use `membranes_of`)."""
    found = membranes_of(pipe)
    if len(found) > 1:
        raise ValueError(
            f"this pipeline has {len(found)} membranes attached "
            f"({', '.join('+'.join(m.concepts) for m in found)}): use membranes_of"
        )
    return found[0]


def save_membrane(membrane: Membrane, path: str | Path) -> None:
    """Write the membrane as one safetensors file (the concepts in its metadata)."""
    from safetensors.torch import save_file

    tensors = {}
    for name, (down, up) in membrane.layers.items():
        tensors[f"{name}.down"] = down.detach().contiguous()
        tensors[f"{name}.up"] = up.detach().contiguous()
    metadata = {"format": "spm-rank1", "concepts": json.dumps(membrane.concepts)}
    save_file(tensors, str(path), metadata=metadata)


def load_membrane(path: str | Path) -> Membrane:
    """Read a membrane written by `save_membrane`."""
    from safetensors import safe_open
    from unlearn_schema import reading_file

    what = "the SPM membrane (a file written by save_membrane)"
    with reading_file(Path(path), what), safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != "spm-rank1":
            raise ValueError(
                f"{path} is not an SPM membrane: metadata format is "
                f"{metadata.get('format')!r}, expected 'spm-rank1'"
            )
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    names = sorted({key.rsplit(".", 1)[0] for key in tensors})
    layers = {n: (tensors[f"{n}.down"], tensors[f"{n}.up"]) for n in names}
    return Membrane(concepts=json.loads(metadata["concepts"]), layers=layers)


def anchor_embeddings(target: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Latent anchors around one target embedding (tokens, d): ``count`` Gaussian
    directions kept with probability $1 - \\cos$ to the target, scaled to 0.8-1.2 times
    its norm; (count, tokens, d)."""
    import torch

    flat = target.reshape(-1)
    norm = flat.norm()
    kept: list[torch.Tensor] = []
    while len(kept) < count:
        noise = torch.randn(flat.shape, generator=generator)
        noise = noise / noise.norm()
        similarity = float(torch.dot(noise, flat) / norm)
        if float(torch.rand((), generator=generator)) < 1 - similarity:
            scale = 0.8 + 0.4 * float(torch.rand((), generator=generator))
            kept.append(scale * norm * noise)
    return torch.stack(kept).reshape(count, *target.shape)


class _GroupState:
    """Shared by the hooks of `train_membranes`: on/off and, for the running UNet call,
    which membrane each row of the batch trains (``groups``, (batch,))."""

    def __init__(self) -> None:
        self.enabled = True
        self.groups: torch.Tensor | None = None


class _GroupedMembraneHook:
    """Training hook of K membranes on one layer, stacked (``downs`` (K, 1, in...),
    ``ups`` (K, out, 1...)): row i of the batch gets membrane ``groups[i]``'s
    $u_k (d_k^\top x)$ only, so K membranes train in one batched UNet call and each
    sees exactly what it would see alone."""

    def __init__(
        self, downs: torch.Tensor, ups: torch.Tensor, conv: Any, state: _GroupState
    ) -> None:
        self.downs = downs
        self.ups = ups
        self.conv = conv
        self.state = state

    def __call__(self, module: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> Any:
        import torch
        import torch.nn.functional as F

        groups = self.state.groups
        if not self.state.enabled or groups is None:
            return output
        x = inputs[0]
        rows = x.shape[0]
        down = self.downs[groups]
        up = self.ups[groups]
        if self.conv is None:  # x (B, ..., in); down (B, 1, in); up (B, out, 1)
            flat = x.reshape(rows, -1, x.shape[-1])
            delta = torch.bmm(torch.bmm(flat, down.transpose(1, 2)), up.transpose(1, 2))
            return output + delta.reshape(*x.shape[:-1], up.shape[1])
        stride, padding, dilation = self.conv  # x (B, C, H, W); one group per row
        _, channels, height, width = x.shape
        score = F.conv2d(
            x.reshape(1, rows * channels, height, width),
            down.reshape(rows, *down.shape[2:]),
            None,
            stride,
            padding,
            dilation,
            groups=rows,
        )
        return output + score.reshape(rows, 1, *score.shape[2:]) * up.reshape(rows, -1, 1, 1)


def _per_group_mse(prediction: torch.Tensor, target: torch.Tensor, groups: int) -> torch.Tensor:
    """The MSE of each group of equal-sized consecutive rows, summed: each membrane's own
    loss, so the gradient of membrane k is the one it gets trained alone."""
    return (prediction - target).pow(2).reshape(groups, -1).mean(dim=1).sum()


def train_membranes(
    pipe: TextToImage,
    requests: Sequence[EraseRequest],
    params: SPMParams | Mapping[str, Any] | None = None,
) -> list[Membrane]:
    """Train one SPM per request on ``pipe`` (the pipeline is not changed), membrane k
    from seed ``params.seed + k``: all in one loop, with one batched UNet call a step
    for all of them (`_GroupedMembraneHook`). Each membrane draws from its own generator
    and gets its own loss (Adam is elementwise), so membrane k is the one
    `train_membrane` trains on request k alone from that seed, up to float rounding of
    the larger batch. ``preserve_prompts`` are not read: latent anchoring needs none."""
    import torch

    params = method_params(SPMParams, params, "spm")
    requests = list(requests)
    if not requests:
        raise ValueError("train_membranes needs at least one request, got none")
    count = len(requests)
    membranes = [
        new_membrane(pipe.unet, [c.name for c in r.concepts], params.seed + k)
        for k, r in enumerate(requests)
    ]
    # A frozen copy carries the hooks, so the caller's pipeline stays untouched.
    unet = copy.deepcopy(pipe.unet).eval().requires_grad_(False)
    state = _GroupState()
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    layers = dict(wrapped_layers(unet))
    for name in membranes[0].layers:
        downs = torch.stack([m.layers[name][0] for m in membranes]).requires_grad_(True)
        ups = torch.stack([m.layers[name][1] for m in membranes]).requires_grad_(True)
        factors[name] = (downs, ups)
        layer = layers[name]
        conv = None
        if isinstance(layer, torch.nn.Conv2d):
            conv = (layer.stride, layer.padding, layer.dilation)
        layer.register_forward_hook(_GroupedMembraneHook(downs, ups, conv, state))
    optimizer = torch.optim.Adam(
        [t for pair in factors.values() for t in pair], lr=params.learning_rate
    )
    scheduler = copy.deepcopy(pipe.scheduler)
    scheduler.set_timesteps(params.ddim_steps)
    timesteps = scheduler.timesteps
    generators = [torch.Generator().manual_seed(params.seed + k) for k in range(count)]
    prompt_sets = [[p for c in r.concepts for p in c.prompts] for r in requests]
    with torch.no_grad():
        targets = [pipe.encode(prompts) for prompts in prompt_sets]
        empty = pipe.encode([""])
    size = int(unet.config.sample_size)
    channels = int(unet.config.in_channels)
    b = params.batch_size
    a = params.anchor_samples
    rows_of = torch.arange(count).repeat_interleave(b)
    anchors_of = torch.arange(count).repeat_interleave(a)
    # Per membrane, the draws of esd.py's partial-denoising x_t and negative-guidance
    # target (the trained parameters, the membrane, and the anchoring term differ).
    for _ in range(params.iterations):
        contexts, stops, starts, anchor_sets = [], [], [], []
        for k, generator in enumerate(generators):
            picks = torch.randint(0, len(prompt_sets[k]), (b,), generator=generator)
            contexts.append(targets[k][picks])
            stops.append(int(torch.randint(1, params.ddim_steps, (1,), generator=generator)))
            starts.append(torch.randn((b, channels, size, size), generator=generator))
            anchor_sets.append(anchor_embeddings(targets[k][picks[0]], a, generator))
        context = torch.cat(contexts)
        anchors = torch.cat(anchor_sets)
        row_stop = torch.tensor(stops).repeat_interleave(b)
        with torch.no_grad():
            x = torch.cat(starts)
            state.enabled = True
            for j in range(max(stops)):
                active = (row_stop > j).nonzero().squeeze(1)
                state.groups = rows_of[active]
                t = timesteps[j]
                eps = unet(x[active], t, encoder_hidden_states=context[active]).sample
                x[active] = scheduler.step(eps, t, x[active]).prev_sample
            t_rows = timesteps[row_stop]
            x_anchor = x[::b].repeat_interleave(a, dim=0)
            t_anchor = timesteps[torch.tensor(stops)].repeat_interleave(a)
            state.enabled = False
            eps_empty = unet(x, t_rows, encoder_hidden_states=empty.expand(len(x), -1, -1)).sample
            eps_concept = unet(x, t_rows, encoder_hidden_states=context).sample
            erase_target = eps_empty - params.negative_guidance * (eps_concept - eps_empty)
            anchor_target = unet(x_anchor, t_anchor, encoder_hidden_states=anchors).sample
        state.enabled = True
        state.groups = rows_of
        prediction = unet(x, t_rows, encoder_hidden_states=context).sample
        loss = _per_group_mse(prediction, erase_target, count)
        if params.anchor_weight > 0:
            state.groups = anchors_of
            anchored = unet(x_anchor, t_anchor, encoder_hidden_states=anchors).sample
            loss = loss + params.anchor_weight * _per_group_mse(anchored, anchor_target, count)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for name, (downs, ups) in factors.items():
        for k, membrane in enumerate(membranes):
            membrane.layers[name] = (downs[k].detach().clone(), ups[k].detach().clone())
    return membranes


def train_membrane(
    pipe: TextToImage,
    request: EraseRequest,
    params: SPMParams | Mapping[str, Any] | None = None,
) -> Membrane:
    """Train an SPM on ``pipe`` for ``request.concepts`` (the pipeline is not changed);
    ``request.preserve_prompts`` is not read: latent anchoring needs no retain prompts."""
    return train_membranes(pipe, [request], params)[0]


def erase_spm(
    pipe: TextToImage,
    request: EraseRequest,
    params: SPMParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> TextToImage:
    """Erase ``request.concepts`` with trained SPMs attached to ``pipe`` (a copy unless
    ``in_place``): one per concept, or one for all with ``composition="joint"``; the
    base weights are not changed. `membranes_of` gets the membranes back, to save them
    and attach them to another pipeline."""
    params = method_params(SPMParams, params, "spm")
    if params.composition == "joint":
        membranes = [train_membrane(pipe, request, params)]
    else:
        # One per concept, membrane i from seed + i, trained side by side in one loop.
        membranes = train_membranes(
            pipe,
            [EraseRequest([concept], request.preserve_prompts) for concept in request.concepts],
            params,
        )
    return attach_membrane(pipe, membranes, params.transport, in_place=in_place)
