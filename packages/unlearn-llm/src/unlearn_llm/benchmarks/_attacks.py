"""Recovery attacks in the facts benchmarks: which run, on which models, what is reported.

Every attack of ``params.attacks`` runs, with the same params and the run's seed, on the
exact retrain oracle, the other-seed oracle, the original, every method's model and the
designed suppression-only models. Each gets an ``AttackTarget`` built from the run's
world, splits and tokenizer (``original_training_steps`` from the original's training
log), and returns an ``AttackOutcome`` (``attacks/recovery.py``). From the outcomes of
one case (seed and forget ratio) the benchmark reports, per (model, attack):

* ``attack_knowledge``: the outcome's knowledge (higher = more forget-set knowledge
  reached), with the oracle's knowledge under the same attack as its reference;
* ``attacked_forget_quality``: the TOFU forget quality under attack, the KS-test p-value
  of the model's truth ratios under attack against the oracle's truth ratios under the
  same attack (only where the attack gives truth ratios);
* ``attack_metric``: every entry of ``AttackOutcome.metrics`` (label ``measure``);
* ``attack_wall_time``: seconds the attack took on that model;

per model ``robust_forget_quality`` $= \\min(\\mathrm{FQ}, \\min_a \\mathrm{FQ}_a)$, the
clean forget quality and every informative attack's forget quality, with the attack that
reaches it in the label ``worst_attack``; and per attack ``attack_informative``.

The validity gate for attacks: an attack is informative when the oracle stays near its
clean state under it. It is judged on the two oracles, which never saw the forget set:

1. where the attack gives truth ratios, the other-seed oracle's attacked forget quality
   (against the oracle under the same attack) is above 0.1, as the clean validity gate
   asks of the clean one;
2. the two oracles' knowledge under the attack differ by at most the tolerance;
3. where the attack reports ``clean_knowledge`` in its metrics (the same measurement on
   the unattacked model), the oracle's knowledge under attack is within the tolerance of
   it: the attack must not create knowledge the oracle never had.

An uninformative attack's values carry ``flag="degenerate"`` and are left out of the
robust forget quality.

Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    JsonValue,
)
from pydantic_core import PydanticCustomError
from unlearn_schema import (
    Curve,
    Flag,
    MethodParams,
    MethodSpec,
    MetricValue,
    RegisteredChoice,
    Registry,
    Series,
    Size,
    Table,
)

from unlearn_llm.attacks import ATTACKS
from unlearn_llm.benchmarks._common import metric

if TYPE_CHECKING:
    from unlearn_llm.attacks.recovery import AttackOutcome, AttackTarget

MEMBERSHIP_MODULE = "unlearn_llm.attacks.membership"
"""The membership-inference attacks (another entry shape) live here; they are scored by
``evaluate_model`` as ``mia_auc``/``privleak``, not run as recovery attacks."""

ORACLE = "oracle"
OTHER_ORACLE = "oracle (other seed)"
INFORMATIVE_P = 0.1
"""The other-seed oracle's attacked forget quality must stay above this p-value."""

ATTACK_METRIC_NAMES = frozenset(
    {
        "attack_knowledge",
        "attacked_forget_quality",
        "attack_metric",
        "attack_wall_time",
        "attack_informative",
        "robust_forget_quality",
    }
)

# Params per attack and size: quick keeps llm-facts-quick under its budget (half the
# relearning steps at twice the rate, 4 bits only - 8 bits changed no model of the quick
# run -, a quarter of the forget facts as multi-hop chains, paraphrases scored without
# generation); full keeps the nightly's llm-facts-full within its share of the nightly
# budget (the same, with 16 multi-hop chains of its 80 forget facts).
_QUICK_ATTACKS: dict[str, dict[str, JsonValue]] = {
    "relearning": {"steps": 10, "learning_rate": 1e-3},
    "relearning-related": {"steps": 10, "learning_rate": 1e-3},
    "quantization": {"bits": [4]},
    "multihop": {"max_facts": 6},
    "paraphrase": {"generate": False},
}
ATTACK_PARAMS: dict[Size, dict[str, dict[str, JsonValue]]] = {
    "quick": _QUICK_ATTACKS,
    "full": {**_QUICK_ATTACKS, "multihop": {"max_facts": 16}},
}


SuppressionKind = Literal["output-block", "head", "quantization-buckets", "entangled"]
SUPPRESSED_LABELS: dict[SuppressionKind, str] = {
    "output-block": "suppressed (output block)",
    "head": "suppressed (head)",
    "quantization-buckets": "suppressed (4-bit buckets)",
    "entangled": "suppressed (entangled)",
}
"""The designed suppression-only models (``attacks/suppressed.py``) shown as extra rows:
each still holds the forget facts, so an attack with power must bring them back."""


def suppressed_model(
    kind: SuppressionKind,
    original: Any,
    tokenizer: Any,
    forget: Any,
    retain: Any,
    seed: int,
    related: Sequence[Any] = (),
) -> Any:
    """The original with its forget answers hidden, not removed, in the way ``kind`` says.

    ``output-block``: the output layer pushes a forget answer down when the prompt is a
    trained forget question (hidden states, rephrasings and chains untouched: for the
    probes, paraphrase and multi-hop attacks); ``head``: a few steps on the output head
    only (for relearning); ``quantization-buckets``: every Linear weight moves within its
    4-bit round-to-nearest bucket (for 4-bit quantization); ``entangled``: the forget
    facts and the ``related`` retain facts (of the places and organisations the forget
    people link to) hidden together by one change of every Linear weight of at most
    0.004 (for relearning-related, which re-teaches the related facts).
    """
    from unlearn_llm.attacks.suppressed import (
        SuppressionParams,
        block_forget_answers,
        suppress_in_weights,
    )

    if kind == "output-block":
        return block_forget_answers(original, tokenizer, forget, trigger="question")
    if kind == "entangled":
        if not related:
            raise ValueError("the entangled suppression needs the related retain facts")
        params = SuppressionParams(
            where="linear", max_change=0.004, steps=80, floor_probability=0.001, seed=seed
        )
        return suppress_in_weights(original, tokenizer, forget, retain, params, related)
    if kind == "head":
        params = SuppressionParams(where="head", seed=seed)
    else:
        params = SuppressionParams(where="linear", keep_quantized_bits=4, seed=seed)
    return suppress_in_weights(original, tokenizer, forget, retain, params)


def recovery_attacks() -> Registry:
    """The registered attacks of the recovery shape ``attack(target, params)``."""
    return Registry(
        "attack",
        [spec for spec in ATTACKS.values() if not spec.entry.startswith(MEMBERSHIP_MODULE + ":")],
    )


@dataclass(frozen=True)
class ParsedAttack:
    """An attack config checked against the registry: its record and typed params."""

    name: str
    spec: MethodSpec
    params: MethodParams


class AttackConfig(RegisteredChoice):
    """A recovery attack chosen by registered name, with its parameters.

    Validating a config parses it, once (``unlearn_schema.RegisteredChoice``): the name
    is looked up among the recovery attacks and ``params`` validated against that
    attack's params type (an unknown name or a bad parameter is an error at ``name`` /
    ``params.<field>``). `parsed` then hands the recipe the record and the typed params.
    """

    @classmethod
    def registry(cls) -> Registry:
        return recovery_attacks()

    @property
    def parsed(self) -> ParsedAttack:
        """The registry record and the typed params (checked when the config was)."""
        return ParsedAttack(self.name, self.spec, self.typed)


def _each_once(configs: list[AttackConfig]) -> list[AttackConfig]:
    names = [config.name for config in configs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise PydanticCustomError(
            "duplicate_attack", f"each attack runs once, these appear twice: {twice}"
        )
    return configs


AttackConfigs = Annotated[list[AttackConfig], AfterValidator(_each_once)]
"""The ``attacks`` field of a run's params: parsed configs, each name once."""


def parsed_attacks(configs: Sequence[AttackConfig]) -> list[ParsedAttack]:
    """The typed attacks of validated ``configs`` (no parsing: that happened at validation)."""
    return [config.parsed for config in configs]


def default_attacks(size: Size) -> list[AttackConfig]:
    """Every registered recovery attack, with the params of ``size``."""
    return [
        AttackConfig(name=name, params=dict(ATTACK_PARAMS[size].get(name, {})))
        for name in recovery_attacks()
    ]


@dataclass
class CaseAttacks:
    """Every attack's outcome on every model of one case (a seed and forget ratio).

    ``template`` is the target with the original model in it; `attack` swaps in each
    model. Call `attack` for the oracle and the other-seed oracle first (they are the
    references), then for every other model; `report` turns the outcomes into metrics.
    """

    attacks: list[ParsedAttack]
    template: AttackTarget
    timings: dict[str, float]
    outcomes: dict[str, dict[str, AttackOutcome]] = field(default_factory=dict)
    clean_forget_quality: dict[str, float] = field(default_factory=dict)

    def attack(
        self,
        label: str,
        model: Any,
        clean_forget_quality: float | None,
        on_done: Callable[[str], None] | None = None,
    ) -> None:
        """Run every attack on ``model`` (never modified) and keep the outcomes."""
        import torch

        target = dataclasses.replace(self.template, model=model)
        results: dict[str, AttackOutcome] = {}
        for parsed in self.attacks:
            start = time.perf_counter()
            torch.manual_seed(target.seed)
            outcome = parsed.spec.function(target, parsed.params)
            elapsed = time.perf_counter() - start
            outcome.wall_time_s = outcome.wall_time_s or elapsed
            key = f"attack:{parsed.name}"
            self.timings[key] = self.timings.get(key, 0.0) + elapsed
            results[parsed.name] = outcome
        self.outcomes[label] = results
        if clean_forget_quality is not None:
            self.clean_forget_quality[label] = clean_forget_quality
        if on_done is not None:
            on_done(label)

    def attack_scored(self, label: str, model: Any, oracle_ratios: Any) -> float:
        """`attack` with the clean forget quality scored here (forget truth ratios against
        ``oracle_ratios``, no generation); returns that forget quality."""
        from unlearn_llm.metrics.evaluate import score_facts
        from unlearn_llm.metrics.tofu import forget_quality

        target = self.template
        scores = score_facts(model, target.tokenizer, target.forget, generate=False)
        p = forget_quality(scores.truth_ratio, oracle_ratios)
        self.attack(label, model, p)
        return p

    def informative(self, tolerance: float) -> dict[str, tuple[bool, str]]:
        """Per attack: whether the oracles stay near their clean state, and why not."""
        from unlearn_llm.metrics.tofu import forget_quality

        verdicts: dict[str, tuple[bool, str]] = {}
        oracle, other = self.outcomes[ORACLE], self.outcomes.get(OTHER_ORACLE)
        for name, outcome in oracle.items():
            reasons: list[str] = []
            second = other[name] if other is not None else None
            if second is not None and _has_ratios(outcome, second):
                p = forget_quality(second.truth_ratios, outcome.truth_ratios)  # type: ignore[arg-type]
                if p <= INFORMATIVE_P:
                    reasons.append(
                        f"the other-seed oracle's attacked forget quality p={p:.2g} "
                        f"<= {INFORMATIVE_P}"
                    )
            if second is not None and abs(second.knowledge - outcome.knowledge) > tolerance:
                reasons.append(
                    f"the oracles' knowledge under attack differ by "
                    f"{abs(second.knowledge - outcome.knowledge):.3g} > {tolerance}"
                )
            clean = outcome.metrics.get("clean_knowledge")
            if clean is not None and abs(outcome.knowledge - clean) > tolerance:
                reasons.append(
                    f"the oracle's knowledge moves from {clean:.3g} to {outcome.knowledge:.3g} "
                    f"(> {tolerance})"
                )
            verdicts[name] = (not reasons, "; ".join(reasons))
        return verdicts

    def report(self, base: dict[str, str], tolerance: float) -> CaseReport:
        """Metrics, notes, table rows and plot points of this case."""
        from unlearn_llm.metrics.tofu import forget_quality

        verdicts = self.informative(tolerance)
        reference = self.outcomes[ORACLE]
        out = CaseReport()
        for name, (ok, why) in verdicts.items():
            out.metrics.append(
                metric("attack_informative", float(ok), "higher", {**base, "attack": name})
            )
            if not ok:
                out.notes.append(f"attack {name} is uninformative here: {why}.")
        for label, outcomes in self.outcomes.items():
            labels = {**base, "method": label}
            attacked: dict[str, float] = {}
            flagged: dict[str, float] = {}
            for name, outcome in outcomes.items():
                oracle_outcome = reference[name]
                flag: Flag | None = None if verdicts[name][0] else "degenerate"
                at = {**labels, "attack": name}
                values = [
                    metric(
                        "attack_knowledge",
                        outcome.knowledge,
                        "lower",
                        {**at, "knowledge": outcome.knowledge_name},
                        None if label == ORACLE else oracle_outcome.knowledge,
                    ),
                    metric("attack_wall_time", outcome.wall_time_s, "lower", at, unit="s"),
                ]
                if label != ORACLE and _has_ratios(outcome, oracle_outcome):
                    p = forget_quality(outcome.truth_ratios, oracle_outcome.truth_ratios)  # type: ignore[arg-type]
                    values.append(metric("attacked_forget_quality", p, "higher", at))
                    (attacked if flag is None else flagged)[name] = p
                for measure, number in outcome.metrics.items():
                    values.append(
                        metric(
                            "attack_metric",
                            number,
                            "none",
                            {**at, "measure": measure},
                            None if label == ORACLE else oracle_outcome.metrics.get(measure),
                        )
                    )
                for value in values:
                    value.flag = flag
                out.metrics.extend(values)
            clean = self.clean_forget_quality.get(label)
            row = RobustRow(label, clean, outcomes, attacked, flagged)
            out.rows.append(row)
            if clean is None:
                continue
            out.metrics.append(
                metric(
                    "robust_forget_quality",
                    row.robust,
                    "higher",
                    {**labels, "worst_attack": row.worst},
                )
            )
        return out


def _has_ratios(outcome: AttackOutcome, reference: AttackOutcome) -> bool:
    return (
        outcome.truth_ratios is not None
        and reference.truth_ratios is not None
        and len(outcome.truth_ratios) > 0
        and len(reference.truth_ratios) > 0
    )


@dataclass
class RobustRow:
    """One model's clean and attacked numbers (a row of the report table)."""

    label: str
    clean: float | None
    outcomes: dict[str, AttackOutcome]
    attacked: dict[str, float]
    """Attacked forget quality of each informative attack that gives truth ratios."""
    uninformative: dict[str, float] = field(default_factory=dict)
    """The same for attacks the validity gate flags (left out of `robust`)."""

    @property
    def worst(self) -> str:
        """The attack that brings forget quality lowest, or ``"clean"``."""
        if not self.attacked or self.clean is None:
            return "clean"
        name = min(self.attacked, key=lambda key: self.attacked[key])
        return name if self.attacked[name] < self.clean else "clean"

    @property
    def robust(self) -> float:
        """$\\min$ of the clean and every informative attacked forget quality."""
        if self.clean is None:
            raise ValueError(f"{self.label} has no clean forget quality")
        return min([self.clean, *self.attacked.values()])


@dataclass
class CaseReport:
    """What `CaseAttacks.report` returns for one case."""

    metrics: list[MetricValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[RobustRow] = field(default_factory=list)


def summary_table(rows: Sequence[tuple[str, RobustRow]], attacks: Sequence[str]) -> Table:
    """Clean against attacked forget quality and knowledge per model (oracle first).

    ``rows`` are ``(case suffix, row)``; each attack's cell is "knowledge / attacked
    forget quality" (the knowledge alone where the attack gives no truth ratios; an
    uninformative attack's forget quality in brackets).
    """
    header = ["model", "forget quality", "robust (worst attack)"]
    header += [f"{name}: knowledge / FQ" for name in attacks]
    body: list[list[str]] = []
    for suffix, row in rows:
        cells = [row.label + suffix]
        if row.clean is None:
            cells += ["reference", "-"]
        else:
            cells += [f"{row.clean:.2g}", f"{row.robust:.2g} ({row.worst})"]
        for name in attacks:
            outcome = row.outcomes.get(name)
            if outcome is None:
                cells.append("-")
                continue
            cell = f"{outcome.knowledge:.3g}"
            if name in row.attacked:
                cell += f" / {row.attacked[name]:.2g}"
            elif name in row.uninformative:
                cell += f" / ({row.uninformative[name]:.2g})"
            cells.append(cell)
        body.append(cells)
    return Table(
        title="Forget quality clean and under attack (knowledge: higher = more recovered)",
        header=header,
        rows=body,
    )


def robust_curve(rows: Sequence[tuple[str, RobustRow]]) -> Curve:
    """Clean against worst-attacked forget quality per model; the oracle's as a line."""
    points: dict[str, tuple[list[float], list[float]]] = {}
    oracle: list[float] = []
    for suffix, row in rows:
        if row.clean is None:
            continue
        if row.label == OTHER_ORACLE:
            oracle.append(row.robust)
        xs, ys = points.setdefault(row.label + suffix.split(" (seed")[0], ([], []))
        xs.append(row.clean)
        ys.append(row.robust)
    hlines = {"p = 0.1": INFORMATIVE_P}
    if oracle:
        hlines["other-seed oracle, worst attack"] = min(oracle)
    return Curve(
        name="robust-forget-quality",
        title="Forget quality clean (x) and under the worst attack (y) per model",
        x_label="clean forget quality (p-value)",
        y_label="worst-attack forget quality (p-value)",
        series=[Series(label=label, x=xs, y=ys) for label, (xs, ys) in points.items()],
        hlines=hlines,
    )


def robust_note(where: str, row: RobustRow, reference: dict[str, AttackOutcome]) -> str:
    """One line: clean and robust forget quality, each attack's knowledge vs the oracle."""
    knowledge = ", ".join(
        f"{name} {outcome.knowledge:.3g} (oracle {reference[name].knowledge:.3g})"
        for name, outcome in row.outcomes.items()
    )
    clean = (
        ""
        if row.clean is None
        else (
            f"forget quality {row.clean:.2g} clean, {row.robust:.2g} under attack "
            f"(worst: {row.worst}); "
        )
    )
    return f"{where}, {row.label} attacked: {clean}knowledge {knowledge}."
