"""S3T: sequence-aware sharded sliced training with LoRA slices, and its baselines.

Chowdhury, Choromanski, Sehanobish, Dubey, Chaturvedi, "Towards Scalable Exact Machine
Unlearning Using Parameter-Efficient Fine-Tuning", arXiv:2406.16257.

The deletable data $D$ is split into $m$ disjoint shards, each shard into $L$ disjoint
slices $D_1, \\dots, D_L$. A shard's model is a frozen base $f_0$ (trained only on data
that is never deleted) plus $L$ LoRA adapters $\\theta_1, \\dots, \\theta_L$ trained in
the order of a slice sequence $\\sigma$: stage $\\ell$ trains $\\theta_\\ell$ on
$D_{\\sigma_1} \\cup \\dots \\cup D_{\\sigma_\\ell}$ with $\\theta_1, \\dots, \\theta_{\\ell-1}$
frozen and $\\theta_{\\ell+1}, \\dots$ switched off, so

$$\\theta_\\ell = \\mathrm{train}\\big(f_0 + \\theta_{<\\ell};\\
  \\textstyle\\bigcup_{i \\le \\ell} D_{\\sigma_i}\\big).$$

The adapters $\\theta_1 \\dots \\theta_k$ depend on $D_{\\sigma_1}, \\dots, D_{\\sigma_k}$ only.
Deleting an item of slice $j$ therefore leaves the prefix $\\theta_{<p}$, $p =
\\sigma^{-1}(j)$, exactly as if it had been trained without the item: the shard switches
off $\\theta_p, \\theta_{p+1}, \\dots$ and serves $f_0 + \\theta_{<p}$, no training.
Each shard trains $B$ sequences (the paper's budget; here the cyclic rotations
$\\sigma^{(b)} = (b, b+1, \\dots, b+L-1) \\bmod L$, so each slice comes first once) and
serves the sequence with the longest valid prefix. A shard with no valid prefix left
(every sequence lost its first slice) drops out until it is retrained. The served
system averages the output distributions of the shards still alive,
$p(y \\mid x) = \\frac{1}{|A|}\\sum_{s \\in A} p_s(y \\mid x)$.

Differences from the paper, forced by the tiny model: its adapters sit in different
transformer layers (layer $\\ell$ holds $\\theta_\\ell$); our model has two layers, so
each $\\theta_\\ell$ is a LoRA adapter over all attention and MLP projections and the
adapters are summed. The exactness argument is the same.

Baselines: ``SISASystem`` (Bourtoule et al., arXiv:1912.03817, without slicing): one
fully fine-tuned model per shard; a deletion either retrains the shard or drops it.
``train_full`` is the full-retrain oracle.

Training is deterministic on the CPU: every stage has its own seed (adapter
initialisation and minibatch order), derived from the system seed, the shard, the
sequence and the stage, so a stage depends on nothing trained after it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from unlearn_llm.data import answer_nll, encode_facts
from unlearn_llm.exact.params import S3TParams, check_params

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"]


def cyclic_sequences(slices: int, sequences: int) -> list[tuple[int, ...]]:
    """The first ``sequences`` cyclic rotations of ``(0, ..., slices-1)``."""
    return [tuple((start + i) % slices for i in range(slices)) for start in range(sequences)]


def split_items(count: int, shards: int, slices: int, seed: int) -> list[list[list[int]]]:
    """Item indices ``0..count-1`` dealt at random into ``shards`` x ``slices`` groups.

    Returns ``layout[shard][slice]``, a sorted list of item indices.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(count, generator=generator).tolist()
    layout: list[list[list[int]]] = [[[] for _ in range(slices)] for _ in range(shards)]
    for rank, item in enumerate(order):
        group = rank % (shards * slices)
        layout[group // slices][group % slices].append(item)
    return [[sorted(part) for part in shard] for shard in layout]


def valid_prefix(sequence: Sequence[int], dirty_slices: set[int]) -> int:
    """How many leading adapters of ``sequence`` saw no deleted item."""
    for position, slice_index in enumerate(sequence):
        if slice_index in dirty_slices:
            return position
    return len(sequence)


def best_sequence(sequences: Sequence[Sequence[int]], dirty_slices: set[int]) -> tuple[int, int]:
    """``(sequence index, prefix length)`` of the longest valid prefix (first on ties)."""
    prefixes = [valid_prefix(sequence, dirty_slices) for sequence in sequences]
    best = max(range(len(prefixes)), key=lambda index: (prefixes[index], -index))
    return best, prefixes[best]


def _stage_seed(seed: int, shard: int, sequence: int, position: int) -> int:
    return ((seed * 1009 + shard) * 1013 + sequence) * 1019 + position


def adapter_name(sequence: int, position: int) -> str:
    return f"seq{sequence}_stage{position}"


def _lora_config(params: S3TParams) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=params.lora_rank,
        lora_alpha=params.lora_alpha,
        target_modules=LORA_TARGETS,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )


def _activate(model: Any, names: list[str], trainable: str | None) -> None:
    """Switch on exactly ``names`` (in this order); only ``trainable`` gets gradients."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in model.modules():
        if isinstance(module, BaseTunerLayer):
            module.set_adapter(names, inference_mode=True)
    if trainable is not None:
        marker = f".{trainable}."
        for name, parameter in model.named_parameters():
            if marker in name + ".":
                parameter.requires_grad_(True)


def train_stage(
    model: torch.nn.Module,
    rows: Any,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
) -> int:
    """Train the parameters of ``model`` that require grad; returns the optimiser steps.

    AdamW at a constant rate (no weight decay), minibatch order from ``seed``.
    """
    # The loop of models.train_to_memorise without its schedule and accuracy stop: a
    # fixed number of epochs keeps every stage's step count independent of the others.
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("train_stage got a model with no trainable parameters")
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    steps = 0
    model.train()
    for _ in range(epochs):
        for minibatch in rows.minibatches(batch_size, generator):
            loss = answer_nll(model, minibatch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            steps += 1
    model.eval()
    return steps


@dataclass
class S3TShard:
    """One shard: its slices (item indices), its sequences and their adapters."""

    index: int
    slices: list[list[int]]
    sequences: list[tuple[int, ...]]
    model: Any
    """A peft model holding one adapter per (sequence, stage)."""
    deleted: set[int] = field(default_factory=set)
    train_steps: int = 0

    @property
    def dirty_slices(self) -> set[int]:
        return {j for j, part in enumerate(self.slices) if self.deleted.intersection(part)}

    def served(self) -> tuple[int, int]:
        """``(sequence, prefix)`` this shard serves; prefix 0 means it is dead."""
        return best_sequence(self.sequences, self.dirty_slices)

    def serve(self) -> bool:
        """Switch the served prefix on; ``False`` when the shard has none left."""
        sequence, prefix = self.served()
        if prefix == 0:
            return False
        self.activate_prefix(sequence, prefix)
        return True

    def activate_prefix(self, sequence: int, prefix: int) -> None:
        """Switch on the first ``prefix`` adapters of ``sequence`` only (inference)."""
        if not 1 <= prefix <= len(self.slices):
            raise ValueError(f"prefix={prefix} is not in 1..{len(self.slices)}")
        _activate(self.model, [adapter_name(sequence, p) for p in range(prefix)], None)


def train_shard(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    slices: list[list[int]],
    params: S3TParams,
    shard_index: int,
    on_stage: Callable[[int, int, int], None] | None = None,
) -> S3TShard:
    """Train every sequence of one shard, stage by stage, on a copy of ``base``.

    ``slices[j]`` lists the indices (into ``facts``) of slice ``j``; an empty slice is
    allowed (a retrain after deletions) and trains nothing at its stages.
    ``on_stage(sequence, stage, steps)`` is called after each stage.
    """
    from peft import get_peft_model

    torch.set_num_threads(1)
    sequences = cyclic_sequences(params.slices, params.sequences)
    config = _lora_config(params)
    model: Any = None
    for b in range(len(sequences)):
        for position in range(params.slices):
            # Each adapter starts from its own seed, so nothing trained earlier or
            # added later changes its initialisation.
            torch.manual_seed(_stage_seed(params.seed, shard_index, b, position))
            name = adapter_name(b, position)
            if model is None:
                model = get_peft_model(copy.deepcopy(base), config, adapter_name=name)
            else:
                model.add_adapter(name, config)
    total = 0
    for b, sequence in enumerate(sequences):
        for position in range(params.slices):
            seen = [facts[i] for j in sequence[: position + 1] for i in slices[j]]
            names = [adapter_name(b, p) for p in range(position + 1)]
            _activate(model, names, trainable=names[-1])
            steps = 0
            if seen:
                rows = encode_facts(tokenizer, seen)
                batches = -(-len(rows) // params.batch_size)
                epochs = max(params.epochs, -(-params.min_stage_steps // batches))
                steps = train_stage(
                    model,
                    rows,
                    epochs,
                    params.learning_rate,
                    params.batch_size,
                    _stage_seed(params.seed, shard_index, b, position),
                )
            total += steps
            if on_stage is not None:
                on_stage(b, position, steps)
    return S3TShard(shard_index, slices, sequences, model, train_steps=total)


class EnsembleOutput:
    """What ``exact_answer_accuracy`` reads from a model call: ``.logits``."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class AveragedEnsemble(torch.nn.Module):
    """Shards' models served together: the log of their mean output distribution."""

    def __init__(self, members: Sequence[Callable[[], torch.nn.Module]]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one live shard; got none")
        self.members = list(members)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EnsembleOutput:
        total: torch.Tensor | None = None
        for prepare in self.members:
            model = prepare()
            probs = model(input_ids=input_ids, attention_mask=attention_mask).logits.softmax(-1)
            total = probs if total is None else total + probs
        assert total is not None
        return EnsembleOutput((total / len(self.members)).clamp_min(1e-30).log())


@dataclass
class DeletionRecord:
    """What one deletion did: which shard, the prefix it serves now, the time it took."""

    item: int
    shard: int
    prefix: int
    seconds: float
    retrain_steps: int = 0


@dataclass
class S3TSystem:
    """Sharded sliced system; ``delete`` switches adapters off, never trains."""

    params: S3TParams
    facts: list[QA]
    shards: list[S3TShard]
    item_shard: dict[int, int]
    train_seconds: float = 0.0

    @property
    def train_steps(self) -> int:
        return sum(shard.train_steps for shard in self.shards)

    def delete(self, item: int) -> DeletionRecord:
        """Delete item ``item`` (an index into ``facts``): deactivate, no training."""
        if item not in self.item_shard:
            raise ValueError(f"item {item} is not in the system (0..{len(self.facts) - 1})")
        start = time.perf_counter()
        shard = self.shards[self.item_shard[item]]
        shard.deleted.add(item)
        _, prefix = shard.served()
        return DeletionRecord(item, shard.index, prefix, time.perf_counter() - start)

    def live_shards(self) -> list[S3TShard]:
        return [shard for shard in self.shards if shard.served()[1] > 0]

    def needs_retrain(self) -> bool:
        """True once no shard has a valid prefix left."""
        return not self.live_shards()

    def served_model(self) -> AveragedEnsemble:
        def prepare(shard: S3TShard) -> Callable[[], torch.nn.Module]:
            def activate() -> torch.nn.Module:
                shard.serve()
                return shard.model

            return activate

        return AveragedEnsemble([prepare(shard) for shard in self.live_shards()])


def build_s3t(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    params: S3TParams,
    on_stage: Callable[[int, int, int, int], None] | None = None,
) -> S3TSystem:
    """Deal ``facts`` into shards and slices and train every shard's sequences."""
    check_params(params, len(facts))
    layout = split_items(len(facts), params.shards, params.slices, params.seed)
    start = time.perf_counter()
    shards = []
    for index, slices in enumerate(layout):
        report = None
        if on_stage is not None:

            def report(
                b: int,
                position: int,
                steps: int,
                index: int = index,
                callback: Callable[[int, int, int, int], None] = on_stage,
            ) -> None:
                callback(index, b, position, steps)

        shards.append(train_shard(base, tokenizer, facts, slices, params, index, report))
    item_shard = {i: s for s, slices in enumerate(layout) for part in slices for i in part}
    return S3TSystem(params, list(facts), shards, item_shard, time.perf_counter() - start)


def train_full(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
) -> tuple[PreTrainedModel, int, float]:
    """Fine-tune every parameter of a copy of ``base`` on ``facts``: the full retrain.

    Returns ``(model, optimiser steps, seconds)``.
    """
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = copy.deepcopy(base)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    steps = train_stage(
        model, encode_facts(tokenizer, list(facts)), epochs, learning_rate, batch_size, seed
    )
    return model, steps, time.perf_counter() - start


@dataclass
class SISASystem:
    """SISA-style sharding: one fully fine-tuned model per shard (no slices)."""

    facts: list[QA]
    shard_items: list[list[int]]
    models: list[Any]
    alive: list[bool]
    deleted: set[int]
    train_steps: int
    train_seconds: float

    def shard_of(self, item: int) -> int:
        for index, items in enumerate(self.shard_items):
            if item in items:
                return index
        raise ValueError(f"item {item} is not in the system (0..{len(self.facts) - 1})")

    def drop(self, item: int) -> DeletionRecord:
        """Serve the deletion without training: the item's shard stops serving."""
        start = time.perf_counter()
        shard = self.shard_of(item)
        self.deleted.add(item)
        self.alive[shard] = False
        return DeletionRecord(item, shard, 0, time.perf_counter() - start)

    def needs_retrain(self) -> bool:
        return not any(self.alive)

    def served_model(self) -> AveragedEnsemble:
        members = [
            (lambda model=model: model)
            for model, alive in zip(self.models, self.alive, strict=True)
            if alive
        ]
        return AveragedEnsemble(members)


def build_sisa(
    base: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    params: S3TParams,
) -> SISASystem:
    """The SISA baseline on the same shards as ``build_s3t`` (slices merged), each shard
    fully fine-tuned for ``params.epochs * params.slices`` epochs (S3T's last stage of a
    sequence sees every slice after that many epochs in total on its first slice)."""
    check_params(params, len(facts))
    layout = split_items(len(facts), params.shards, params.slices, params.seed)
    shard_items = [sorted(i for part in slices for i in part) for slices in layout]
    start = time.perf_counter()
    models = []
    steps = 0
    for index, items in enumerate(shard_items):
        model, shard_steps, _ = train_full(
            base,
            tokenizer,
            [facts[i] for i in items],
            params.epochs * params.slices,
            params.learning_rate,
            params.batch_size,
            _stage_seed(params.seed, index, 99, 0),
        )
        models.append(model)
        steps += shard_steps
    return SISASystem(
        list(facts),
        shard_items,
        models,
        [True] * len(models),
        set(),
        steps,
        time.perf_counter() - start,
    )
