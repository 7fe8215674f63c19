"""Forget text from your own local Hugging Face causal LM, optionally through LoRA.

The whole path in one call: ``forget_in_own_model`` loads a local checkpoint
(``save_pretrained`` folder; nothing is downloaded), optionally attaches an existing
LoRA adapter or a fresh one, checks every input before training, runs a registered
unlearning method on the forget / retain QA pairs, and saves the result (the adapter
only, when LoRA is used).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from unlearn_schema import TextForgetRequest, TextSample

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.methods import UnlearnData, UnlearnLog


@dataclass
class OwnModelResult:
    """Forget/retain answer NLL before and after, where the result was saved, the log."""

    method: str
    forget_nll_before: float
    forget_nll_after: float
    retain_nll_before: float
    retain_nll_after: float
    saved_to: str | None
    model: Any
    log: UnlearnLog | None = None


def _as_pairs(
    items: Sequence[TextSample] | Sequence[tuple[str, str]], what: str
) -> list[tuple[str, str]]:
    """(question, answer) pairs from TextSamples (text = question) or from tuples."""
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(list(items)):
        if isinstance(item, TextSample):
            if item.answer is None:
                raise ValueError(
                    f"{what}[{index}] has no answer: give each sample as a question (text) "
                    "and the answer to forget or keep (answer)"
                )
            pairs.append((item.text, item.answer))
        else:
            question, answer = cast(tuple[str, str], item)
            pairs.append((str(question), str(answer)))
    return pairs


def unlearn_data_from_pairs(
    tokenizer: PreTrainedTokenizerBase,
    forget: Sequence[tuple[str, str]],
    retain: Sequence[tuple[str, str]],
) -> UnlearnData:
    """Encode (question, answer) pairs; refuse an empty forget set or an overlap."""
    import random

    from unlearn_llm.data import IDK_ANSWERS, encode, prompt_text
    from unlearn_llm.methods import UnlearnData

    if not forget:
        raise ValueError("the forget set is empty: give at least one (question, answer) pair")
    if not retain:
        raise ValueError("the retain set is empty: give at least one (question, answer) pair")
    overlap = sorted(set(forget) & set(retain))
    if overlap:
        raise ValueError(
            f"{len(overlap)} pair(s) are in both the forget and the retain set, e.g. "
            f"{overlap[0]!r}; a pair must be in one of them only"
        )
    rng = random.Random(0)
    return UnlearnData(
        forget=encode(tokenizer, [prompt_text(q) for q, _ in forget], [a for _, a in forget]),
        retain=encode(tokenizer, [prompt_text(q) for q, _ in retain], [a for _, a in retain]),
        # IdkPO's preferred answers: refusals drawn from the phrasing set (seeded).
        forget_idk=encode(
            tokenizer,
            [prompt_text(q) for q, _ in forget],
            [rng.choice(IDK_ANSWERS) for _ in forget],
        ),
    )


def forget_in_own_model(
    model_dir: str | os.PathLike[str],
    forget: TextForgetRequest | Sequence[tuple[str, str]],
    retain: Sequence[TextSample] | Sequence[tuple[str, str]],
    *,
    method: str = "npo",
    params: dict[str, Any] | None = None,
    adapter_dir: str | os.PathLike[str] | None = None,
    lora_rank: int | None = 8,
    out_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    fsdp: bool = False,
) -> OwnModelResult:
    """Unlearn ``forget`` from the model in ``model_dir``; keep ``retain``.

    * ``adapter_dir``: an existing peft LoRA adapter to continue from (trainable);
    * ``lora_rank``: without ``adapter_dir``, attach a fresh LoRA adapter of this rank
      (``None`` updates all weights of the model);
    * ``out_dir``: where to ``save_pretrained`` the result (the adapter only with LoRA);
    * ``seed``: seeds the fresh adapter's initialisation and, unless ``params`` sets
      its own, the method's batches, so that the same call gives the same result;
    * ``device``: where the model and batches go (``"cuda:0"``...; ``None``: where
      ``from_pretrained`` put them, the CPU). Under an NCCL group each rank passes its
      ``cuda:LOCAL_RANK`` (``ranks.default_device``; the command line does);
    * ``fsdp``: under torch.distributed, shard the parameters with FSDP2
      (``fully_shard`` per decoder layer) instead of holding a replica on every rank;
      for the methods of ``ranks.FSDP_METHODS`` (others are refused before training).

    All errors (missing directory, tokenizer not matching the model, empty forget set,
    forget/retain overlap, method parameter out of range) are raised before training.

    Under ``torchrun`` / ``accelerate launch`` (an initialised torch.distributed group)
    every rank runs this same call: each trains on its share of every minibatch with
    gradients averaged over the ranks, the NLLs are scored sharded and gathered, and rank
    0 alone saves (``unlearn_llm.distributed``; ``python -m unlearn_llm.distributed`` is
    the command line).
    """
    import torch

    from unlearn_llm.methods import METHODS
    from unlearn_llm.methods._common import decoder_layers
    from unlearn_llm.models import add_lora, load_causal_lm
    from unlearn_llm.ranks import (
        check_fsdp,
        full_state_dict,
        rank_and_world,
        shard_model,
        sharded_answer_nll,
    )

    record = METHODS.lookup(method, "method")
    raw = dict(params or {})
    if "seed" in record.params_type.model_fields and "seed" not in raw:
        raw["seed"] = seed
    config = record.validate_params(raw, "params")
    if fsdp:
        check_fsdp(method, config)
    samples = forget.samples if isinstance(forget, TextForgetRequest) else forget
    forget_pairs = _as_pairs(samples, "forget")
    retain_pairs = _as_pairs(retain, "retain")
    model, tokenizer = load_causal_lm(model_dir, adapter_dir=adapter_dir)
    data = unlearn_data_from_pairs(tokenizer, forget_pairs, retain_pairs)
    if adapter_dir is None and lora_rank is not None:
        torch.manual_seed(seed)  # LoRA's A matrices are drawn from torch's global generator
        model = add_lora(model, rank=lora_rank, alpha=2 * lora_rank)
    if device is not None:
        module: torch.nn.Module = model  # Module.to moves the parameters in place
        module.to(device)
        data = data.to(device)
    if fsdp and rank_and_world()[1] > 1:
        shard_model(model, decoder_layers(model))

    def nll(batch: Any) -> float:
        return sharded_answer_nll(model, batch)

    forget_before, retain_before = nll(data.forget), nll(data.retain)
    log = record.function(model, data, config)
    forget_after, retain_after = nll(data.forget), nll(data.retain)
    saved = None
    if out_dir is not None:
        rank, world = rank_and_world()
        # FSDP: gather the shards (a collective) before rank 0 writes
        state = full_state_dict(model) if fsdp and world > 1 else None
        if rank == 0:  # the replicas are equal: one writer
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            model.save_pretrained(out_dir, state_dict=state)
            tokenizer.save_pretrained(out_dir)
        if world > 1:
            import torch.distributed as dist

            dist.barrier()  # the folder is complete before any rank returns
        saved = str(out_dir)
    return OwnModelResult(
        method=method,
        forget_nll_before=forget_before,
        forget_nll_after=forget_after,
        retain_nll_before=retain_before,
        retain_nll_after=retain_after,
        saved_to=saved,
        model=model,
        log=log,
    )
