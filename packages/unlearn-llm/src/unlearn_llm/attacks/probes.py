"""Representation probes and logit lens: is the forgotten value still inside the model?

Output metrics cannot tell knowledge that is deleted from knowledge that is only
suppressed on the way out ("Suppression or Deletion: A Restoration-Based
Representation-Level Analysis of Machine Unlearning", arXiv:2602.18505, which reads
class features from intermediate layers). Two readings of every layer's hidden state $h_\\ell$
(``output_hidden_states``: the embeddings, then each decoder layer's output; the last
one after the final norm), both without training the model:

* **linear probe**: for each relation in ``relations`` (by default the birthplace
  among the places, the employer among the organisations and the profession), a
  linear classifier (one-vs-rest ridge regression on standardised features) from
  $h_\\ell$ at one position of the fact's prompt to the value, trained on the
  *retain* people's facts and evaluated on the *forget* people's (and on the
  holdout people's, never trained on). Accuracy is pooled over the relations; the
  chance reference is ``probe_majority_accuracy``, always answering the commonest
  retain value. A model that never learned the forget people (the oracle) sits near
  chance; one that hides them only at the output sits where the original does.
* **logit lens** (nostalgebraist, 2020): $h_\\ell$ at the position that predicts the
  value's first token $t$ (the teacher-forced answer sentence up to the value), read
  through the final norm and the output head, $p_\\ell = \\mathrm{softmax}(W_U\\,
  \\mathrm{norm}(h_\\ell))_t$ (the last state is already normed), with the rank of
  $t$ (1 = top); beside it the model's own output probability of $t$.

``knowledge`` is the forget probe accuracy at the best layer, the one whose probe
is most accurate on the retain people in 5-fold cross-validation (chosen without
looking at the forget people, so a lucky layer cannot lift the oracle). The position
is one of ``answer`` (the lens position, default), ``prompt`` (the prompt's last token) or
``subject`` (the subject's last token in the question; in the two-layer models of the
benchmarks the value is not yet linearly readable there).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget
from unlearn_llm.data import prompt_text

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

    from unlearn_llm.worlds.facts import QA

ProbePosition = Literal["answer", "prompt", "subject"]
ProbedRelation = Literal["born_in", "works_for", "profession"]


def _default_relations() -> list[ProbedRelation]:
    return ["born_in", "works_for", "profession"]


class ProbeParams(MethodParams):
    """Which values to probe for, where, and how strongly the probe is regularised."""

    relations: list[ProbedRelation] = Field(
        default_factory=_default_relations,
        min_length=1,
        description="Person relations whose value the probe predicts (one class per value).",
    )
    position: ProbePosition = Field(
        default="answer", description="Token whose hidden state is probed: answer, prompt, subject."
    )
    regularisation: float = Field(
        default=10.0, gt=0.0, le=1e6, description="Ridge penalty of the probe (alpha)."
    )


def _output_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The final norm and output head of a Llama-style model, also inside a wrapper."""
    for module in model.modules():
        decoder = getattr(module, "model", None)
        head = getattr(module, "lm_head", None)
        if head is not None and decoder is not None and hasattr(decoder, "norm"):
            return decoder.norm, head
    raise ValueError(
        f"{type(model).__name__} has no Llama-style final norm and lm_head "
        "(a module with .model.norm and .lm_head) for the logit lens"
    )


def _rows(
    tokenizer: PreTrainedTokenizerBase, facts: Sequence[QA], position: ProbePosition
) -> tuple[list[list[int]], list[int], list[int], list[int]]:
    """Token rows (prompt + answer frame), the probed and lens positions, value tokens."""
    rows: list[list[int]] = []
    probed: list[int] = []
    lens: list[int] = []
    values: list[int] = []
    for qa in facts:
        prompt = prompt_text(qa.questions[0])
        cut = qa.answer.rfind(qa.object)
        frame = qa.answer[:cut].rstrip()
        prompt_ids = [tokenizer.bos_token_id, *tokenizer.encode(prompt, add_special_tokens=False)]
        frame_ids = tokenizer.encode(" " + frame, add_special_tokens=False)
        # The rest of the sentence, as training tokenised it ("Kerkuia." may be one token).
        value_ids = tokenizer.encode(" " + qa.answer[cut:], add_special_tokens=False)
        rows.append(prompt_ids + frame_ids)
        lens.append(len(rows[-1]) - 1)
        values.append(value_ids[0])
        if position == "answer":
            probed.append(lens[-1])
        elif position == "prompt":
            probed.append(len(prompt_ids) - 1)
        else:
            upto = prompt[: prompt.index(qa.subject) + len(qa.subject)]
            probed.append(len(tokenizer.encode(upto, add_special_tokens=False)))
    return rows, probed, lens, values


def layer_readings(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    facts: Sequence[QA],
    position: ProbePosition = "answer",
) -> dict[str, np.ndarray]:
    """Per fact and layer: the probed hidden state, and the lens probability and rank
    of the value's first token; also the model's own output probability of it.

    Returns ``states [facts, layers + 1, hidden]``, ``lens_probability`` and
    ``lens_rank`` ``[facts, layers + 1]``, ``output_probability [facts]``.
    """
    import torch

    norm, head = _output_head(model)
    rows, probed, lens, values = _rows(tokenizer, facts, position)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    pick = torch.arange(len(rows))
    with torch.no_grad():
        out: Any = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hidden = out.hidden_states
        states = torch.stack([h[pick, torch.tensor(probed)] for h in hidden], dim=1)
        at_lens = torch.stack([h[pick, torch.tensor(lens)] for h in hidden], dim=1)
        last = len(hidden) - 1
        lens_logits = torch.stack(
            [head(at_lens[:, i] if i == last else norm(at_lens[:, i])) for i in range(last + 1)],
            dim=1,
        ).float()
        value = torch.tensor(values)
        probability = torch.softmax(lens_logits, dim=-1)[pick, :, value]
        chosen = lens_logits[pick, :, value]
        rank = 1 + (lens_logits > chosen.unsqueeze(-1)).sum(dim=-1)
        output = torch.softmax(out.logits[pick, torch.tensor(lens)].float(), dim=-1)[pick, value]
    return {
        "states": states.float().numpy(),
        "lens_probability": probability.numpy(),
        "lens_rank": rank.numpy().astype(np.float64),
        "output_probability": output.numpy(),
    }


def _probe(regularisation: float) -> Any:
    """A linear probe: standardised features, one-vs-rest ridge regression (closed form,
    so deterministic and fast enough to cross-validate on every layer)."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeClassifier(alpha=regularisation))


def probe_accuracies(
    train: np.ndarray,
    train_labels: Sequence[str],
    tests: Sequence[tuple[np.ndarray, Sequence[str]]],
    regularisation: float,
    seed: int,
    folds: int = 5,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One probe per layer (``train``: ``[items, layers, hidden]``): its cross-validated
    hits on the training items, and its hits per item and layer on each test set.

    A value never seen in training is a miss; a fold whose training part holds one
    value predicts that value.
    """
    labels = np.asarray(train_labels)
    if len(set(labels)) < 2:
        raise ValueError(
            f"a probe needs at least two values among the retain facts, got {sorted(set(labels))}"
        )
    order = np.random.default_rng(seed).permutation(len(labels))
    parts = np.array_split(order, min(folds, len(labels)))
    validated = np.zeros((len(labels), train.shape[1]), dtype=bool)
    hits = [np.zeros((len(x), train.shape[1]), dtype=bool) for x, _ in tests]
    for layer in range(train.shape[1]):
        for part in parts:
            rest = np.setdiff1d(order, part)
            if len(set(labels[rest])) < 2:
                validated[part, layer] = labels[part] == labels[rest][0]
                continue
            fold = _probe(regularisation).fit(train[rest, layer], labels[rest])
            validated[part, layer] = fold.predict(train[part, layer]) == labels[part]
        probe = _probe(regularisation).fit(train[:, layer], labels)
        for index, (x, expected) in enumerate(tests):
            if len(x):
                hits[index][:, layer] = probe.predict(x[:, layer]) == np.asarray(expected)
    return validated, hits


def probes(target: AttackTarget, params: ProbeParams | None = None) -> AttackOutcome:
    """Probe and lens every layer for the forget people's values (see module)."""
    params = params or ProbeParams()
    start = time.perf_counter()
    relations = list(dict.fromkeys(params.relations))
    world = target.world
    forget_keys = {qa.key for qa in target.forget}

    def of(split: str, relation: str) -> list[QA]:
        return [qa for qa in world.split(split) if qa.relation == relation]  # type: ignore[arg-type]

    forget_hits: list[np.ndarray] = []
    holdout_hits: list[np.ndarray] = []
    lens_probability: list[np.ndarray] = []
    lens_rank: list[np.ndarray] = []
    output_probability: list[np.ndarray] = []
    majority_hits: list[bool] = []
    retain_hits: list[np.ndarray] = []
    for relation in relations:
        forget = [qa for qa in target.forget if qa.relation == relation]
        if not forget:
            continue
        retain = [qa for qa in of("retain", relation) if qa.key not in forget_keys]
        holdout = of("holdout", relation)
        groups = [retain, forget, holdout] if holdout else [retain, forget]
        read = [
            layer_readings(target.model, target.tokenizer, facts, params.position)
            for facts in groups
        ]
        tests = [(read[1]["states"], [qa.object for qa in forget])]
        if holdout:
            tests.append((read[2]["states"], [qa.object for qa in holdout]))
        validated, hits = probe_accuracies(
            read[0]["states"],
            [qa.object for qa in retain],
            tests,
            params.regularisation,
            target.seed,
        )
        retain_hits.append(validated)
        forget_hits.append(hits[0])
        # The chance reference: always answering the commonest retain value.
        common = Counter(qa.object for qa in retain).most_common(1)[0][0]
        majority_hits.extend(qa.object == common for qa in forget)
        if holdout:
            holdout_hits.append(hits[1])
        lens_probability.append(read[1]["lens_probability"])
        lens_rank.append(read[1]["lens_rank"])
        output_probability.append(read[1]["output_probability"])
    if not forget_hits:
        raise ValueError(
            f"no forget fact has a probed relation {relations}; the forget set has "
            f"{sorted({qa.relation for qa in target.forget})}"
        )
    accuracy = np.concatenate(forget_hits).mean(axis=0)
    validated = np.concatenate(retain_hits).mean(axis=0)
    metrics: dict[str, float] = {"probe_majority_accuracy": float(np.mean(majority_hits))}
    layers = len(accuracy)
    probability = np.concatenate(lens_probability).mean(axis=0)
    rank = np.concatenate(lens_rank).mean(axis=0)
    holdout_accuracy = np.concatenate(holdout_hits).mean(axis=0) if holdout_hits else None
    for layer in range(layers):
        metrics[f"probe_accuracy_layer{layer}"] = float(accuracy[layer])
        metrics[f"probe_retain_accuracy_layer{layer}"] = float(validated[layer])
        if holdout_accuracy is not None:
            metrics[f"probe_holdout_accuracy_layer{layer}"] = float(holdout_accuracy[layer])
        metrics[f"lens_probability_layer{layer}"] = float(probability[layer])
        metrics[f"lens_rank_layer{layer}"] = float(rank[layer])
    # The layer is chosen on the retain people (cross-validated), never on the forget
    # ones: the deepest of the best, since later layers hold more of a fact.
    best = layers - 1 - int(np.argmax(validated[::-1]))
    metrics["probe_best_layer"] = float(best)
    metrics["lens_best_probability"] = float(probability.max())
    metrics["output_probability"] = float(np.concatenate(output_probability).mean())
    return AttackOutcome(
        attack="probes",
        knowledge=float(accuracy[best]),
        knowledge_name="best_layer_forget_probe_accuracy",
        truth_ratios=None,
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )


__all__ = ["ProbeParams", "ProbePosition", "layer_readings", "probe_accuracies", "probes"]
