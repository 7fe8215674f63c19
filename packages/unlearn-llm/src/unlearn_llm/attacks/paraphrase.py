"""Paraphrase and format probes: the forget questions asked in words and templates the
unlearning never saw.

An unlearning method trains on the forget facts in the trained phrasings and the
training template (``data.prompt_text``); knowledge that is only hidden behind those
surfaces comes back when the same fact is asked otherwise (TOFU's paraphrased
questions, arXiv:2401.06121; MUSE's knowledge memorisation, arXiv:2407.06460). Each
format gives one prompt per forget fact $(s, r, v)$:

* ``heldout_question``: the world's held-out phrasing, never trained on;
* ``new_question``: a wording of ``worlds/hops.py`` (``NEW_QUESTIONS``);
* ``other_template``: the first trained phrasing in another QA template,
  ``Q: <question> A:``;
* ``cloze``: no question; the answer sentence up to the value (``<s> was born in``),
  the answer being the rest (the value and the full stop, no end token, as in running
  text).

In every format the TOFU quantities are scored after the format's prompt: the
length-normalised probability of the true answer and the truth ratio of the
perturbed answers against the paraphrased one (in ``cloze``, the paraphrased answer
sentence's own frame with the true and wrong values). ``knowledge`` is the best
format's mean answer probability, $\\max_f \\frac{1}{n}\\sum_i P_f(a_i)$;
``truth_ratios`` are that format's. The metrics hold each format's answer probability
and greedy leakage (the share of answers that state $v$), and the same two for the
clean prompt, the first trained phrasing in the training template (``clean_knowledge``
is its answer probability, the headline's reading without the attack, and
``clean_leakage``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.attacks._scoring import answer_probabilities, states_value, truth_ratios_after
from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget
from unlearn_llm.data import prompt_text
from unlearn_llm.metrics.generation import greedy_answers
from unlearn_llm.metrics.tofu import truth_ratio
from unlearn_llm.worlds.hops import NEW_QUESTIONS

if TYPE_CHECKING:
    from unlearn_llm.worlds.facts import QA

Format = Literal["heldout_question", "new_question", "other_template", "cloze"]
FORMATS: tuple[Format, ...] = ("heldout_question", "new_question", "other_template", "cloze")


class ParaphraseParams(MethodParams):
    """Which formats to ask, and whether to decode answers too."""

    formats: list[Format] = Field(
        default_factory=lambda: list(FORMATS),
        min_length=1,
        description="Formats to ask: heldout_question, new_question, other_template, cloze.",
    )
    generate: bool = Field(
        default=True, description="Also decode greedy answers (the leakage metrics)."
    )
    max_new_tokens: int = Field(default=16, ge=4, le=128, description="Greedy tokens per answer.")


def _frame(sentence: str, value: str) -> str:
    """The sentence up to the value it ends with (``"X was born in"``)."""
    cut = sentence.rfind(value)
    if cut <= 0:
        raise ValueError(f"the answer {sentence!r} does not end with its value {value!r}")
    return sentence[:cut].rstrip()


def format_prompt(qa: QA, format_name: Format) -> str:
    """The prompt of ``qa`` in ``format_name`` (the answer follows it after a space)."""
    if format_name == "heldout_question":
        return prompt_text(qa.heldout_question)
    if format_name == "new_question":
        return prompt_text(NEW_QUESTIONS[qa.relation].format(s=qa.subject))
    if format_name == "other_template":
        return f"Q: {qa.questions[0]} A:"
    if format_name == "cloze":
        return _frame(qa.answer, qa.object)
    raise ValueError(f"unknown format {format_name!r}; accepted: {list(FORMATS)}")


def _scores(
    target: AttackTarget, facts: list[QA], format_name: Format | None
) -> tuple[np.ndarray, np.ndarray]:
    """Answer probabilities and truth ratios in one format (None: the clean prompt)."""
    model, tokenizer = target.model, target.tokenizer
    if format_name != "cloze":
        prompts = [
            prompt_text(qa.questions[0]) if format_name is None else format_prompt(qa, format_name)
            for qa in facts
        ]
        probability = answer_probabilities(model, tokenizer, prompts, [qa.answer for qa in facts])
        return probability, truth_ratios_after(model, tokenizer, prompts, facts)
    frames = [format_prompt(qa, "cloze") for qa in facts]
    rests = [qa.answer[len(f) :].strip() for qa, f in zip(facts, frames, strict=True)]
    probability = answer_probabilities(model, tokenizer, frames, rests, end_of_sequence=False)
    # Truth ratio in the paraphrased sentence's frame: its true value against the
    # perturbed answers' wrong ones (every perturbed answer shares that frame).
    m = len(facts[0].perturbed_answers)
    rows_prompts: list[str] = []
    rows_answers: list[str] = []
    for qa in facts:
        frame = _frame(qa.paraphrased_answer, qa.object)
        for answer in (qa.paraphrased_answer, *qa.perturbed_answers):
            rows_prompts.append(frame)
            rows_answers.append(answer[len(frame) :].strip())
    table = answer_probabilities(
        model, tokenizer, rows_prompts, rows_answers, end_of_sequence=False
    ).reshape(len(facts), 1 + m)
    return probability, truth_ratio(table[:, 1:], table[:, 0])


def paraphrase(target: AttackTarget, params: ParaphraseParams | None = None) -> AttackOutcome:
    """Score the forget facts in every format; the best format is the headline."""
    params = params or ParaphraseParams()
    start = time.perf_counter()
    facts = list(target.forget)
    if not facts:
        raise ValueError("the target has no forget facts to attack")
    formats = list(dict.fromkeys(params.formats))
    missing = sorted({qa.relation for qa in facts} - NEW_QUESTIONS.keys())
    if "new_question" in formats and missing:
        raise ValueError(f"new_question has no wording for relations {missing}")
    metrics: dict[str, float] = {}
    results: dict[Format, tuple[np.ndarray, np.ndarray]] = {}
    clean_probability, _ = _scores(target, facts, None)
    metrics["clean_knowledge"] = float(clean_probability.mean())
    for name in formats:
        results[name] = _scores(target, facts, name)
        metrics[f"answer_probability_{name}"] = float(results[name][0].mean())
    if params.generate:
        prompts = [prompt_text(qa.questions[0]) for qa in facts]
        for name in formats:
            prompts += [format_prompt(qa, name) for qa in facts]
        answers = greedy_answers(target.model, target.tokenizer, prompts, params.max_new_tokens)
        for position, label in enumerate(["clean", *formats]):
            said = answers[position * len(facts) : (position + 1) * len(facts)]
            leaked = [states_value(a, qa) for a, qa in zip(said, facts, strict=True)]
            key = "clean_leakage" if label == "clean" else f"leakage_{label}"
            metrics[key] = float(np.mean(leaked))
    best = max(formats, key=lambda name: float(results[name][0].mean()))
    metrics["best_format_index"] = float(FORMATS.index(best))
    return AttackOutcome(
        attack="paraphrase",
        knowledge=float(results[best][0].mean()),
        knowledge_name="best_format_forget_answer_probability",
        truth_ratios=results[best][1],
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )


__all__ = ["FORMATS", "Format", "ParaphraseParams", "format_prompt", "paraphrase"]
