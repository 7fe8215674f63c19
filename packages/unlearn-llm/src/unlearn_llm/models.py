"""Tiny Llama models trained from scratch, the retrain oracle cache, and your own model.

* ``build_model`` makes a small ``LlamaForCausalLM`` from ``TinyLlamaParams``.
* ``train_to_memorise`` trains it on QA rows until the answers are recalled exactly.
* ``trained_model`` returns the original model (all training splits) or the exact
  retrain oracle (the same recipe without the forget split), cached on disk under a key
  made of the world, the seed and the config hash, so a second run loads in a second.
* ``load_causal_lm`` is the "your own model" path: any local Hugging Face causal-LM
  directory, optionally with a LoRA adapter (peft), checked before any training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import Size, StrictModel

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from unlearn_llm.data import Batch
    from unlearn_llm.worlds.facts import FactsWorld

CACHE_ENV = "UNLEARN_LLM_CACHE"
Role = Literal["original", "oracle"]


class TinyLlamaParams(StrictModel):
    """Architecture of the tiny Llama model and the recipe that trains it."""

    hidden_size: int = Field(default=128, ge=16, le=4096)
    layers: int = Field(default=2, ge=1, le=48)
    heads: int = Field(default=4, ge=1, le=64)
    intermediate_size: int = Field(default=256, ge=16, le=16384)
    vocab_size: int = Field(default=768, ge=64, le=200_000, description="Tokenizer size.")
    learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_epochs: int = Field(default=40, ge=1, le=10_000)
    target_accuracy: float = Field(
        default=0.98, gt=0.0, le=1.0, description="Stop once exact-answer accuracy reaches it."
    )
    threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="torch CPU threads (1 is fastest for tiny models on a shared CPU).",
    )

    def digest(self) -> str:
        blob = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def model_params_for(size: Size) -> TinyLlamaParams:
    """The model and recipe of the ``quick`` and ``full`` benchmarks."""
    if size == "quick":
        return TinyLlamaParams()
    # The quick architecture memorises the 200-person world too (98 % in about 15
    # epochs); a larger model would not fit the nightly's 30-minute budget.
    return TinyLlamaParams(max_epochs=40)


def tiny_model_params() -> TinyLlamaParams:
    """A one-layer model of width 32 trained for 3 epochs (it does not memorise): for
    tests and the quick size of the ``unlearn-llm-speed`` benchmark."""
    return TinyLlamaParams(
        hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=384, max_epochs=3
    )


def build_model(params: TinyLlamaParams, seed: int) -> PreTrainedModel:
    """A freshly initialised ``LlamaForCausalLM`` (seeded)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if params.hidden_size % params.heads:
        raise ValueError(
            f"hidden_size={params.hidden_size} must be divisible by heads={params.heads}"
        )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=params.vocab_size,
        hidden_size=params.hidden_size,
        intermediate_size=params.intermediate_size,
        num_hidden_layers=params.layers,
        num_attention_heads=params.heads,
        num_key_value_heads=params.heads,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def exact_answer_accuracy(model: torch.nn.Module, batch: Batch, chunk: int = 256) -> float:
    """Share of rows whose whole answer (and end token) greedy decoding reproduces.

    Under teacher forcing, greedy decoding reproduces the answer exactly iff the
    argmax at every answer position is the true token, so one forward pass suffices.
    """
    import torch

    hits = 0
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            part = batch.subset(slice(start, start + chunk)).trimmed()
            logits = model(input_ids=part.input_ids, attention_mask=part.attention_mask).logits
            predicted = logits[:, :-1].argmax(dim=-1)
            targets = part.labels[:, 1:]
            mask = targets != -100
            correct = ((predicted == targets) | ~mask).all(dim=1)
            hits += int(correct.sum())
    return hits / len(batch)


@dataclass
class TrainingLog:
    """What training did: epochs, final loss and accuracy, wall time, loss per epoch."""

    epochs: int
    loss: float
    accuracy: float
    wall_time_s: float
    losses: list[float]
    accuracies: list[float]


def train_to_memorise(
    model: PreTrainedModel,
    batch: Batch,
    params: TinyLlamaParams,
    seed: int,
    on_epoch: Callable[[int, float, float], None] | None = None,
    score_rows: int | None = None,
) -> TrainingLog:
    """Train on ``batch`` (answer tokens only) until the exact-answer accuracy target.

    The accuracy is measured on the first ``score_rows`` rows (the QA rows when
    passages follow them; default every row).

    AdamW with a linear warm-up, at most ``max_epochs`` epochs; accuracy is checked
    each epoch with ``exact_answer_accuracy``.
    """
    import torch

    from unlearn_llm.data import answer_nll

    torch.set_num_threads(params.threads)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=0.0)
    steps_per_epoch = -(-len(batch) // params.batch_size)
    warmup = max(1, steps_per_epoch * 2)
    total_steps = steps_per_epoch * params.max_epochs

    def schedule(step: int) -> float:
        # Linear warm-up, then cosine decay: the late small steps settle the last facts.
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    start = time.perf_counter()
    losses: list[float] = []
    accuracies: list[float] = []
    epoch = 0
    for epoch in range(1, params.max_epochs + 1):
        model.train()
        total = 0.0
        for minibatch in batch.minibatches(params.batch_size, generator):
            loss = answer_nll(model, minibatch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(minibatch)
        model.eval()
        losses.append(total / len(batch))
        # Checking accuracy every epoch costs a forward pass; skip while loss is high.
        scored = batch if score_rows is None else batch.subset(slice(0, score_rows))
        accuracy = exact_answer_accuracy(model, scored) if losses[-1] < 0.3 else 0.0
        accuracies.append(accuracy)
        if on_epoch is not None:
            on_epoch(epoch, losses[-1], accuracy)
        if accuracy >= params.target_accuracy:
            break
    return TrainingLog(
        epochs=epoch,
        loss=losses[-1],
        accuracy=accuracies[-1],
        wall_time_s=time.perf_counter() - start,
        losses=losses,
        accuracies=accuracies,
    )


def cache_root() -> Path:
    """Where trained originals and oracles are cached.

    ``$UNLEARN_LLM_CACHE`` when set, else the user's cache directory
    (``$XDG_CACHE_HOME/unlearn-llm`` or ``~/.cache/unlearn-llm``).
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unlearn-llm"


DATA_VERSION = 2
"""Bumped whenever what a model trains on changes (2: biography passages), so stale
cached checkpoints are never loaded."""


def cache_key(world: FactsWorld, role: Role, seed: int, params: TinyLlamaParams) -> str:
    """``<world hash>/<role>-seed<seed>-<config hash>``: one directory per trained model.

    The original trains on the same facts whichever of them are to be forgotten, so
    its key hashes the trained facts, not the forget split: every forget ratio of a
    world shares one original.
    """
    if role == "original":
        trained = sorted(qa.key for qa in training_facts(world, role))
        blob = json.dumps([world.params.digest(world.seed), trained, DATA_VERSION])
        world_key = "trained-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
    else:
        world_key = f"world-{world.digest()}-v{DATA_VERSION}"
    return f"{world_key}/{role}-seed{seed}-{params.digest()}"


def training_facts(world: FactsWorld, role: Role) -> list[Any]:
    """The facts a role trains on: the original sees forget too, the oracle does not."""
    splits = ("forget", "retain", "general") if role == "original" else ("retain", "general")
    return [qa for split in splits for qa in world.split(split)]  # type: ignore[arg-type]


def training_passages(world: FactsWorld, role: Role) -> list[Any]:
    """The biography passages a role trains on (forget passages: the original only)."""
    splits = ("forget", "retain") if role == "original" else ("retain",)
    return [p for split in splits for p in world.passage_split(split)]  # type: ignore[arg-type]


@dataclass
class TrainedModel:
    """A trained (or cache-loaded) model with its tokenizer and training record."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    role: Role
    seed: int
    path: Path
    log: dict[str, Any]
    from_cache: bool


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Hide transformers' progress bars ("Loading weights", "Writing model shards") while
    the package reads or writes its own cached checkpoints, and only then.

    A tqdm hook is swapped in and the previous one put back, so a caller's own
    progress-bar settings (in transformers and huggingface_hub) are left as they were.
    A transformers without ``set_tqdm_hook`` has its bars turned off and, if they were
    on, back on.
    """
    from transformers.utils import logging as hf_logging

    set_hook = getattr(hf_logging, "set_tqdm_hook", None)
    if set_hook is None:
        enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if enabled:
                hf_logging.enable_progress_bar()
        return
    previous = set_hook(lambda _factory, args, kwargs: hf_logging.EmptyTqdm(*args, **kwargs))
    try:
        yield
    finally:
        set_hook(previous)


def trained_model(
    world: FactsWorld,
    role: Role,
    seed: int,
    params: TinyLlamaParams,
    tokenizer: PreTrainedTokenizerBase,
    use_cache: bool = True,
    on_epoch: Callable[[int, float, float], None] | None = None,
    finetune_epochs: int | None = None,
) -> TrainedModel:
    """The original model or the exact retrain oracle of ``world``, trained or cached.

    The checkpoint (safetensors), the tokenizer and ``training.json`` live in
    ``cache_root() / cache_key(...)``; it is written to a temporary folder and renamed,
    so an interrupted training never leaves a half checkpoint behind.

    With ``finetune_epochs``, the TOFU-like two-stage recipe: stage 1 is the oracle of
    the same seed (retain and general facts, trained to memorise), stage 2 trains a
    copy of it for at most ``finetune_epochs`` more epochs on the role's facts (the
    original: every fact, so the forget facts are the recently learned ones; the
    oracle: the retain and general facts again). Cached under the key plus
    ``-two-stage<epochs>``; the log's ``stage_one_steps`` counts stage 1.
    """
    import torch
    from transformers import LlamaForCausalLM

    from unlearn_llm.data import encode_facts, qa_rows

    torch.set_num_threads(params.threads)
    key = cache_key(world, role, seed, params)
    if finetune_epochs is not None:
        key += f"-two-stage{finetune_epochs}"
    path = cache_root() / key
    if use_cache and (path / "training.json").exists():
        with _no_progress_bars():
            cached = LlamaForCausalLM.from_pretrained(path)
        cached.eval()
        log = json.loads((path / "training.json").read_text())
        return TrainedModel(cached, tokenizer, role, seed, path, log, from_cache=True)
    recipe, stage_one_steps = params, 0
    if finetune_epochs is None:
        model = build_model(params, seed)
    else:
        import copy

        stage_one = trained_model(world, "oracle", seed, params, tokenizer, use_cache)
        model = copy.deepcopy(stage_one.model)
        recipe = params.model_copy(update={"max_epochs": finetune_epochs})
        stage_one_steps = training_steps(stage_one.log)
    facts = training_facts(world, role)
    batch = encode_facts(tokenizer, facts, training_passages(world, role))
    training = train_to_memorise(model, batch, recipe, seed, on_epoch, qa_rows(facts))
    log = {
        "role": role,
        "seed": seed,
        "epochs": training.epochs,
        "loss": training.loss,
        "exact_answer_accuracy": training.accuracy,
        "wall_time_s": training.wall_time_s,
        "rows": len(batch),
        "params": params.model_dump(),
        "world": world.params.model_dump(),
        "world_seed": world.seed,
        "finetune_epochs": finetune_epochs,
        "stage_one_steps": stage_one_steps,
    }

    def write(folder: Path) -> None:
        with _no_progress_bars():
            model.save_pretrained(folder, safe_serialization=True)
            tokenizer.save_pretrained(folder)

    save_cache_entry(path, write, log)
    return TrainedModel(model, tokenizer, role, seed, path, log, from_cache=False)


def save_cache_entry(path: Path, write: Callable[[Path], None], log: dict[str, Any]) -> None:
    """Save a trained model's cache entry at ``path`` so that an interrupted run never
    leaves half of one: ``write(folder)`` fills a staging folder beside ``path``,
    ``training.json`` there holds ``log``, and the folder is renamed to ``path`` (an
    older entry there is removed first). When another process finished the same entry
    first, the rename fails and theirs is kept."""
    import shutil

    staging = path.with_name(path.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write(staging)
    (staging / "training.json").write_text(json.dumps(log, indent=2))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    try:
        staging.rename(path)
    except OSError:  # another process finished the same entry first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)


def training_steps(log: dict[str, Any]) -> int:
    """Optimiser steps of a training log: ``epochs * ceil(rows / batch_size)``, plus the
    first stage's steps of a two-stage model."""
    steps = int(log["epochs"]) * -(-int(log["rows"]) // int(log["params"]["batch_size"]))
    return steps + int(log.get("stage_one_steps") or 0)


def load_causal_lm(
    model_dir: str | os.PathLike[str],
    adapter_dir: str | os.PathLike[str] | None = None,
    tokenizer_dir: str | os.PathLike[str] | None = None,
    trainable_adapter: bool = True,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load your own local causal LM (and optional LoRA adapter) for unlearning.

    ``model_dir`` is any directory written by ``save_pretrained`` of a Hugging Face
    causal LM; never a hub id (nothing is downloaded). ``tokenizer_dir`` defaults to
    ``model_dir``. With ``adapter_dir``, the peft adapter is attached and, when
    ``trainable_adapter``, only its weights train (the base stays frozen).

    Raises ``FileNotFoundError`` for a missing directory, ``UnreadableFileError``
    (naming the folder) for a damaged config or weights file, and ``ValueError`` when
    the tokenizer's ids do not fit the model's vocabulary, before anything is trained.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from unlearn_schema import reading_file

    model_path = Path(model_dir)
    if not model_path.is_dir():
        raise FileNotFoundError(
            f"model directory {str(model_path)!r} does not exist; give a local folder "
            "written by save_pretrained (hub ids are not downloaded)"
        )
    if not (model_path / "config.json").exists():
        raise FileNotFoundError(
            f"model directory {str(model_path)!r} has no config.json; expected a folder "
            "written by save_pretrained"
        )
    tokenizer_path = Path(tokenizer_dir) if tokenizer_dir is not None else model_path
    if not tokenizer_path.is_dir():
        raise FileNotFoundError(f"tokenizer directory {str(tokenizer_path)!r} does not exist")
    with reading_file(tokenizer_path, "the tokenizer folder"):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    with reading_file(model_path, "the model folder (config.json and weights)"):
        model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True)
    check_tokenizer_matches(model, tokenizer)
    if adapter_dir is not None:
        from peft import PeftModel

        adapter_path = Path(adapter_dir)
        if not (adapter_path / "adapter_config.json").exists():
            raise FileNotFoundError(
                f"adapter directory {str(adapter_path)!r} has no adapter_config.json; "
                "expected a folder written by a peft model's save_pretrained"
            )
        with reading_file(adapter_path, "the LoRA adapter folder"):
            wrapped: Any = PeftModel.from_pretrained(
                model, adapter_path, is_trainable=trainable_adapter
            )
        wrapped.eval()
        return wrapped, tokenizer
    model.eval()
    return model, tokenizer


def check_tokenizer_matches(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Raise ``ValueError`` unless every tokenizer id fits the model's embedding table."""
    embedding: Any = model.get_input_embeddings()
    embeddings = int(embedding.weight.shape[0])
    needed = len(tokenizer)
    if needed > embeddings:
        raise ValueError(
            f"tokenizer has {needed} tokens but the model embeds only {embeddings}; the "
            "tokenizer does not match the model (pass the tokenizer the model was trained with)"
        )
    for name in ("eos_token_id", "pad_token_id"):
        token_id = getattr(tokenizer, name, None)
        if token_id is not None and token_id >= embeddings:
            raise ValueError(f"tokenizer {name}={token_id} is outside the model vocabulary")


def add_lora(model: PreTrainedModel, rank: int = 8, alpha: int = 16) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter on the attention and MLP projections."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"],
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
