"""Building blocks every method shares: data, the training loop, the optimiser steps.

Each method module writes its loss out in full next to its equation, as a function
returning a ``StepLoss``; the loop around it lives here once (``train_steps``): draw
the step's loss, take one optimiser step (``StepRunner`` for the gradient methods, with
clipping and the optional geometric projection; ``PlainStep`` for RMU, SANI's repair
and the task vector's fine-tuning), log it, call ``on_step``. Like the method modules,
this one imports torch only inside its functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import Field
from unlearn_schema import MethodParams, StrictModel

from unlearn_llm.ranks import average_gradients, average_tensor, local_part, mean_over_ranks

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.data import Batch
    from unlearn_llm.sampling import StepSampler
    from unlearn_llm.worlds.facts import QA, Passage

StepCallback = Callable[[int, "torch.nn.Module"], None]
"""Called as ``on_step(step, model)`` every ``eval_every`` steps (per-step curves)."""
OnStep = StepCallback | None
"""An entry function's ``on_step``: a ``StepCallback``, or ``None`` for none."""

ParamsT = TypeVar("ParamsT", bound=MethodParams)


@dataclass
class UnlearnData:
    """What a method sees: forget rows, retain rows, and "I don't know" rows for IdkPO.

    ``forget_idk`` is aligned with the first ``len(forget_idk)`` rows of ``forget`` (its
    QA rows); passage rows, when given, follow them. ``neighbours`` holds the QA rows of
    the retain facts one hop from the forget facts in the knowledge graph (sharing an
    entity with one: ``worlds.hops.anchor_neighbours``), for NEDS; ``None`` when none is.
    """

    forget: Batch
    retain: Batch
    forget_idk: Batch | None = None
    sampler: StepSampler | None = None
    """Which rows each step draws (``unlearn_llm.sampling``: 1:1, cyclic, MELU); ``None``,
    the default: independent shuffled passes over ``forget`` and ``retain``."""
    neighbours: Batch | None = None

    def to(self, device: torch.device | str) -> UnlearnData:
        """Every batch on ``device`` (the model's), the sampler unchanged: a method's
        tensors follow its batches, so a model on ``cuda:LOCAL_RANK`` trains there."""

        def moved(batch: Batch | None) -> Batch | None:
            return None if batch is None else batch.to(device)

        return replace(
            self,
            forget=self.forget.to(device),
            retain=self.retain.to(device),
            forget_idk=moved(self.forget_idk),
            neighbours=moved(self.neighbours),
        )


def make_unlearn_data(
    tokenizer: PreTrainedTokenizerBase,
    forget: Sequence[QA],
    retain: Sequence[QA],
    forget_passages: Sequence[Passage] = (),
    retain_passages: Sequence[Passage] = (),
) -> UnlearnData:
    """Encode the forget and retain facts (and passages); refuse an empty forget set or an
    overlap.

    Both errors are raised here, before any model is touched.
    """
    from unlearn_llm.data import encode_facts, encode_idk
    from unlearn_llm.worlds.hops import anchor_neighbours

    if not forget:
        raise ValueError("the forget set is empty: give at least one fact to forget")
    if not retain:
        raise ValueError("the retain set is empty: give at least one fact to keep")
    overlap = sorted({qa.key for qa in forget} & {qa.key for qa in retain})
    if overlap:
        shown = "; ".join(" / ".join(key) for key in overlap[:3])
        raise ValueError(
            f"{len(overlap)} fact(s) are in both the forget and the retain set (e.g. {shown}); "
            "a fact must be in one of them only"
        )
    neighbours = anchor_neighbours(forget, retain)
    return UnlearnData(
        forget=encode_facts(tokenizer, forget, forget_passages),
        retain=encode_facts(tokenizer, retain, retain_passages),
        forget_idk=encode_idk(tokenizer, forget),
        neighbours=encode_facts(tokenizer, neighbours) if neighbours else None,
    )


class ProjectionParams(StrictModel):
    """Geometric-disentanglement projection (GU, arXiv:2511.17100), an attachment.

    Not a method of its own: a gradient method takes it as its ``projection`` field
    (``{"projection": {"retain_batches": 2}}``); the projection itself is
    ``unlearn_llm.methods.projection.project_out``.
    """

    retain_batches: int = Field(
        default=1, ge=1, le=64, description="Retain minibatch gradients spanning the subspace."
    )
    retain_batch_size: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description=(
            "Rows per retain-gradient batch; None: half the method's batch size. Each "
            "basis gradient costs a forward+backward over these rows every refresh, so "
            "this knob sets the plug-in's cost (about 1.6x a plain step at half, 1.95x "
            "at the full batch size)."
        ),
    )
    refresh_every: int = Field(
        default=1, ge=1, le=1000, description="Recompute the retain basis every k steps."
    )
    ridge: float = Field(default=1e-10, ge=0.0, le=1.0, description="Gram-matrix ridge.")


class GradientMethodParams(MethodParams):
    """Knobs every gradient-based method shares."""

    steps: int = Field(default=30, ge=1, le=100_000, description="Optimiser steps.")
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=16, ge=1, le=4096)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    max_grad_norm: float = Field(default=1.0, gt=0.0, le=1e6)
    eval_every: int = Field(default=5, ge=1, le=100_000, description="on_step cadence.")
    seed: int = Field(default=0, ge=0)
    projection: ProjectionParams | None = Field(
        default=None, description="Attach the geometric-disentanglement projection."
    )


GradientParamsT = TypeVar("GradientParamsT", bound=GradientMethodParams)


@dataclass
class StepLoss:
    """One step's loss, as a method's loss function returns it: its two terms, each as
    it enters the total that is minimised (weights and signs applied).

    ``forget`` is the term the geometric projection acts on; ``retain`` is added
    unprojected. A method without one of the terms (gradient ascent has no retain
    term, SANI's repair no forget term unless it ascends) leaves it ``None``.
    """

    forget: torch.Tensor | None = None
    retain: torch.Tensor | None = None

    def total(self) -> torch.Tensor:
        """``forget + retain`` (the one that is given, when only one is)."""
        if self.forget is None:
            if self.retain is None:
                raise ValueError("a step loss needs a forget term, a retain term or both")
            return self.retain
        return self.forget if self.retain is None else self.forget + self.retain


@dataclass
class UnlearnLog:
    """Per-step losses of an unlearning run, recorded by ``train_steps``.

    ``losses[i]`` is step ``i + 1``'s total loss; ``forget_losses`` and
    ``retain_losses`` hold its ``StepLoss`` terms (as they enter that total), one per
    step that has the term.
    """

    method: str
    steps: int = 0
    losses: list[float] = field(default_factory=list)
    forget_losses: list[float] = field(default_factory=list)
    retain_losses: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0

    def record(self, loss: StepLoss) -> None:
        """Append one step's loss and its terms (under torch.distributed, their means over
        the ranks: the global minibatch's loss)."""
        terms = [term for term in (loss.forget, loss.retain) if term is not None]
        values = mean_over_ranks([float(term.detach()) for term in terms])
        self.losses.append(sum(values))
        if loss.forget is not None:
            self.forget_losses.append(values[0])
        if loss.retain is not None:
            self.retain_losses.append(values[-1])


def typed(params_type: type[ParamsT], params: ParamsT | None) -> ParamsT:
    """The method's typed params (``None``: the defaults); a dict is refused.

    Parse a dict from a spec once, with ``METHODS.validate_params(name, raw)``, whose
    errors name the field and the value.
    """
    if params is None:
        return params_type()
    if not isinstance(params, params_type):
        raise TypeError(
            f"params must be a {params_type.__name__}, got {type(params).__name__}; "
            "validate a dict with unlearn_llm.methods.METHODS.validate_params(name, raw)"
        )
    return params


def setup(
    model: torch.nn.Module,
    data: UnlearnData,
    params_type: type[GradientParamsT],
    params: GradientParamsT | None,
) -> tuple[GradientParamsT, torch.Generator, StepRunner]:
    """The start of every gradient method: its typed params (``typed``), the generator
    seeded with their ``seed`` that draws every minibatch, and the ``StepRunner`` that
    takes the optimiser steps."""
    import torch

    config = typed(params_type, params)
    generator = torch.Generator().manual_seed(config.seed)
    return config, generator, StepRunner(model, data, config, generator)


def finish(log: UnlearnLog, model: torch.nn.Module, steps: int, start: float) -> UnlearnLog:
    """Leave ``model`` in eval mode and record the step count and wall time since ``start``."""
    model.eval()
    log.steps = steps
    log.wall_time_s = time.perf_counter() - start
    return log


def cycle(batch: Batch, size: int, generator: torch.Generator) -> Iterator[Batch]:
    """Endless shuffled minibatches of ``batch`` (every row once per pass).

    Under torch.distributed each is this rank's part of the global minibatch
    (``unlearn_llm.ranks.local_part``): the ranks draw the same global rows from
    their equally seeded generators and each keeps a distinct share of them.
    """
    for index in cycle_indices(len(batch), size, generator):
        yield local_part(batch, index)[1]


def cycle_indices(rows: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless shuffled minibatches of row indices in ``range(rows)`` (global: the same on
    every rank; ``local_part`` turns one into this rank's rows)."""
    import torch

    while True:
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows, size):
            yield order[start : start + size]


def forget_row_indices(
    data: UnlearnData, rows: int, size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Each step's forget row indices in ``range(rows)``: ``data.sampler``'s plan, or
    without one ``cycle_indices`` (shuffled passes drawn from ``generator``)."""
    if data.sampler is None:
        return cycle_indices(rows, size, generator)
    return data.sampler.forget_indices(rows, size)


def forget_minibatches(data: UnlearnData, size: int, generator: torch.Generator) -> Iterator[Batch]:
    """Each step's forget minibatch: ``cycle(data.forget, ...)`` unless ``data.sampler``
    plans the steps (this rank's part under torch.distributed, as ``cycle``)."""
    if data.sampler is None:
        return cycle(data.forget, size, generator)
    return _planned(data.forget, data.sampler.forget_indices(len(data.forget), size))


def retain_minibatches(data: UnlearnData, size: int, generator: torch.Generator) -> Iterator[Batch]:
    """Each step's retain minibatch: ``cycle(data.retain, ...)`` unless ``data.sampler``
    plans the steps (then in lockstep with its forget rows)."""
    if data.sampler is None:
        return cycle(data.retain, size, generator)
    return _planned(data.retain, data.sampler.retain_indices(len(data.retain), size))


def _planned(batch: Batch, indices: Iterator[torch.Tensor]) -> Iterator[Batch]:
    for index in indices:
        yield local_part(batch, index)[1]


def reference_logprob(model: torch.nn.Module, batch: Batch, chunk: int = 256) -> torch.Tensor:
    """Sum of answer log-probabilities of every row under ``model`` as it is now.

    Methods with a frozen reference (NPO, IdkPO) call this once before training: the
    reference never changes, so per-step reference forward passes would be wasted.
    """
    import torch

    from unlearn_llm.data import sequence_logprob

    was_training = model.training
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            logp, _ = sequence_logprob(model, batch.subset(slice(start, start + chunk)).trimmed())
            parts.append(logp)
    model.train(was_training)
    return torch.cat(parts)


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` as it is now, in eval mode and without gradients (the
    reference $\\pi_{ref}$ or $\\theta_0$ of methods that need its forward passes)."""
    import copy

    reference = copy.deepcopy(model).eval()
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def decoder_layers(model: torch.nn.Module) -> list[Any]:
    """The decoder layers of a Llama-style model (through a peft wrapper if any)."""
    inner: Any = model
    unwrap = getattr(model, "get_base_model", None)
    if callable(unwrap):
        inner = unwrap()
    return list(inner.model.layers)


def question_batch(
    tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA], question: int | Literal["heldout"]
) -> Batch:
    """The prompts (start token and question) of ``facts`` with their answers, encoded:
    question ``question`` of each fact (its last one when it has fewer) or its held-out
    question."""
    from unlearn_llm.data import encode, prompt_text

    questions = [
        qa.heldout_question
        if question == "heldout"
        else qa.questions[min(question, len(qa.questions) - 1)]
        for qa in facts
    ]
    return encode(tokenizer, [prompt_text(q) for q in questions], [qa.answer for qa in facts])


def make_optimizer(
    parameters: Sequence[torch.nn.Parameter], params: GradientMethodParams
) -> torch.optim.Optimizer:
    import torch

    if params.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=params.learning_rate)
    return torch.optim.AdamW(parameters, lr=params.learning_rate, weight_decay=0.0)


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def train_steps(
    model: torch.nn.Module,
    loss: Callable[[], StepLoss],
    optimiser: StepRunner | PlainStep,
    *,
    method: str,
    steps: int,
    eval_every: int = 1,
    on_step: StepCallback | None = None,
    start: float | None = None,
) -> UnlearnLog:
    """The training loop every method shares, in train mode: ``steps`` times ``loss()``,
    one ``optimiser`` step on it, a log entry, and ``on_step(step, model)`` (in eval
    mode) every ``eval_every`` steps.

    Returns the log with ``model`` left in eval mode and the wall time since ``start``
    (default: now; a method with work before its loop passes its own start).
    """
    log = UnlearnLog(method=method)
    start = time.perf_counter() if start is None else start
    model.train()
    for step in range(1, steps + 1):
        step_loss = loss()
        optimiser.step(step_loss)
        log.record(step_loss)
        if on_step is not None and step % eval_every == 0:
            model.eval()
            on_step(step, model)
            model.train()
    return finish(log, model, steps, start)


class PlainStep:
    """One AdamW step (no weight decay) on the total loss: no clipping, no projection.

    The optimiser step of the methods outside the gradient family (RMU, SANI's repair,
    the task vector's fine-tuning), as their papers train.
    """

    def __init__(self, parameters: Sequence[torch.nn.Parameter], learning_rate: float) -> None:
        import torch

        self.parameters = list(parameters)
        self.optimizer = torch.optim.AdamW(self.parameters, lr=learning_rate, weight_decay=0.0)

    def step(self, loss: StepLoss) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.total().backward()
        average_gradients(self.parameters)
        self.optimizer.step()


class StepRunner:
    """The optimiser step of the gradient methods: the gradient of the ``StepLoss``,
    with optional projection, clipped to ``max_grad_norm``.

    Without projection the step follows the gradient of ``forget + retain``. With it,
    the forget gradient is first projected onto the orthogonal complement of the span
    of retain gradients (``unlearn_llm.methods.projection.project_out``), then the
    retain gradient is added unchanged.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data: UnlearnData,
        params: GradientMethodParams,
        generator: torch.Generator,
    ) -> None:
        self.model = model
        self.params = params
        self.parameters = trainable(model)
        self.optimizer = make_optimizer(self.parameters, params)
        retain_rows = params.batch_size // 2
        if params.projection is not None and params.projection.retain_batch_size is not None:
            retain_rows = params.projection.retain_batch_size
        self.retain_stream = cycle(data.retain, max(1, retain_rows), generator)
        self.basis: torch.Tensor | None = None
        self.step_count = 0

    def train(
        self, method: str, loss: Callable[[], StepLoss], on_step: StepCallback | None
    ) -> UnlearnLog:
        """``train_steps`` with this step, for the params' ``steps`` and ``eval_every``."""
        return train_steps(
            self.model,
            loss,
            self,
            method=method,
            steps=self.params.steps,
            eval_every=self.params.eval_every,
            on_step=on_step,
        )

    def step(self, loss: StepLoss) -> None:
        import torch

        from unlearn_llm.methods.projection import project_out, retain_gradient_basis

        projection = self.params.projection
        if projection is None:
            self.optimizer.zero_grad(set_to_none=True)
            loss.total().backward()
            average_gradients(self.parameters)
        else:
            if loss.forget is None:
                raise ValueError("the projection acts on the forget term; this step has none")
            forget_grads = torch.autograd.grad(
                loss.forget, self.parameters, retain_graph=loss.retain is not None
            )
            # Under torch.distributed each gradient is averaged over the ranks first
            # (average_tensor), so the projection acts on the global minibatch's ones.
            flat = average_tensor(torch.cat([g.reshape(-1) for g in forget_grads]))
            # One more forward+backward per basis batch is the whole cost of the plug-in;
            # fusing it with the forget pass into one forward on the concatenated batch
            # was measured slower (two backward passes over the doubled graph).
            if self.basis is None or self.step_count % projection.refresh_every == 0:
                self.basis = average_tensor(
                    retain_gradient_basis(
                        self.model,
                        self.parameters,
                        [next(self.retain_stream) for _ in range(projection.retain_batches)],
                    )
                )
            flat = project_out(flat, self.basis, projection.ridge)
            if loss.retain is not None:
                retain_grads = torch.autograd.grad(loss.retain, self.parameters)
                flat = flat + average_tensor(torch.cat([g.reshape(-1) for g in retain_grads]))
            offset = 0
            for parameter in self.parameters:
                count = parameter.numel()
                parameter.grad = flat[offset : offset + count].view_as(parameter)
                offset += count
        torch.nn.utils.clip_grad_norm_(self.parameters, self.params.max_grad_norm)
        self.optimizer.step()
        self.step_count += 1
