"""The fictitious-facts world: a small seeded knowledge graph rendered into QA pairs.

People, organisations and places with made-up names carry typed attributes and
relations (a person is born in a place and works for an organisation). Every fact is
rendered into question/answer pairs with several question paraphrases, one
paraphrased answer and several perturbed answers (the same sentence with a wrong but
plausible value of the same type), as in TOFU (arXiv:2401.06121).

Splits are by entity, over people (the private profiles a data owner asks to remove):

* ``forget``: ``forget_fraction`` of the people; trained on by the original model only.
* ``holdout``: as many people, never trained on (non-members for membership inference).
* ``retain``: the other people plus every organisation and place.
* ``general``: simple arithmetic facts, trained on by both models (a utility probe
  unrelated to the people).

Every person also has a short biography **passage** (their four facts in one of
several sentence orders, chosen per person), trained on as plain text by every model
that trains on that person: MUSE's verbatim memorisation is measured on it. A passage
belongs to the forget split when it states any fact to forget.

Pure Python (no torch): building a world costs milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import Field, model_validator
from unlearn_schema import Size, StrictModel

Split = Literal["forget", "retain", "holdout", "general"]
SPLITS: tuple[Split, ...] = ("forget", "retain", "holdout", "general")

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "sh"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou"]
_CODAS = ["", "", "", "n", "r", "l", "s", "th", "m"]
_PLACE_SUFFIXES = ["ia", "burg", "port", "vale", "mora", "wick"]
_ORG_SUFFIXES = ["Labs", "Guild", "Works", "Trust", "Foundry", "Press"]
PROFESSIONS = [
    "baker",
    "chemist",
    "architect",
    "sculptor",
    "pilot",
    "librarian",
    "geologist",
    "weaver",
    "astronomer",
    "carpenter",
    "botanist",
    "cartographer",
]
INDUSTRIES = ["shipping", "textiles", "optics", "mining", "publishing", "medicine", "farming"]
REGIONS = ["the north", "the south", "the east", "the west", "the coast", "the mountains"]
KNOWN_FOR = ["its bridges", "its markets", "its lighthouse", "its gardens", "its festival"]

# relation -> (question paraphrases, answer template, paraphrased answer template)
_TEMPLATES: dict[str, tuple[list[str], str, str]] = {
    "born_in": (
        ["Where was {s} born?", "In which town was {s} born?", "What is the birthplace of {s}?"],
        "{s} was born in {o}.",
        "The birthplace of {s} is {o}.",
    ),
    "works_for": (
        ["Who does {s} work for?", "Which company employs {s}?", "Where does {s} work?"],
        "{s} works for {o}.",
        "The employer of {s} is {o}.",
    ),
    "profession": (
        ["What is the job of {s}?", "What does {s} do for a living?", "What is {s} by trade?"],
        "{s} is a {o}.",
        "By trade, {s} is a {o}.",
    ),
    "birth_year": (
        ["When was {s} born?", "In what year was {s} born?", "What is the birth year of {s}?"],
        "{s} was born in {o}.",
        "The birth year of {s} is {o}.",
    ),
    "headquartered_in": (
        ["Where is {s} based?", "Where is the head office of {s}?", "In which town is {s}?"],
        "{s} is based in {o}.",
        "The head office of {s} is in {o}.",
    ),
    "industry": (
        ["What industry is {s} in?", "What business is {s} in?", "What does {s} make?"],
        "{s} works in {o}.",
        "The industry of {s} is {o}.",
    ),
    "region": (
        ["Where does {s} lie?", "In which region is {s}?", "What part of the land is {s} in?"],
        "{s} lies in {o}.",
        "The region of {s} is {o}.",
    ),
    "known_for": (
        ["What is {s} known for?", "What is {s} famous for?", "Why do people visit {s}?"],
        "{s} is known for {o}.",
        "The fame of {s} comes from {o}.",
    ),
    "sum": (
        ["What is {s}?", "How much is {s}?", "Compute {s}."],
        "{s} is {o}.",
        "The sum {s} equals {o}.",
    ),
}


class FactsWorldParams(StrictModel):
    """Knobs of the fictitious-facts world."""

    people: int = Field(default=60, ge=10, le=5000, description="People (the profile entities).")
    organisations: int = Field(default=10, ge=2, le=1000)
    places: int = Field(default=10, ge=2, le=1000)
    forget_fraction: float = Field(
        default=0.1, gt=0.0, le=0.5, description="Share of people to forget (0.01, 0.05, 0.1)."
    )
    holdout_fraction: float = Field(
        default=0.1, gt=0.0, le=0.5, description="Share of people never trained on."
    )
    paraphrases: int = Field(
        default=2,
        ge=1,
        le=3,
        description="Question phrasings trained on per fact; the third is held out when < 3.",
    )
    perturbed: int = Field(default=3, ge=1, le=5, description="Wrong answers per fact.")
    general: int = Field(default=30, ge=5, le=100, description="Arithmetic facts (utility).")

    @model_validator(mode="after")
    def _splits_fit(self) -> FactsWorldParams:
        forget = round(self.people * self.forget_fraction)
        holdout = round(self.people * self.holdout_fraction)
        if forget < 1:
            raise ValueError(
                f"forget_fraction={self.forget_fraction} of people={self.people} selects no "
                "one: the forget set would be empty; raise people or forget_fraction"
            )
        if holdout < 1:
            raise ValueError(
                f"holdout_fraction={self.holdout_fraction} of people={self.people} selects "
                "no one; raise people or holdout_fraction"
            )
        for name in ("organisations", "places"):
            if getattr(self, name) <= self.perturbed:
                raise ValueError(
                    f"{name}={getattr(self, name)} leaves fewer than perturbed={self.perturbed} "
                    f"wrong answers per fact; need {name} >= {self.perturbed + 1}"
                )
        if forget + holdout >= self.people:
            raise ValueError(
                f"forget ({forget}) + holdout ({holdout}) people leave nobody to retain out of "
                f"people={self.people}"
            )
        return self

    def digest(self, seed: int) -> str:
        """A short stable hash of these params and ``seed`` (for cache keys)."""
        blob = json.dumps({"params": self.model_dump(), "seed": seed}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def world_params_for(size: Size) -> FactsWorldParams:
    """The world of the ``quick`` (CI) and ``full`` (nightly) benchmarks."""
    if size == "quick":
        return FactsWorldParams(people=60, organisations=8, places=8, general=30)
    return FactsWorldParams(people=200, organisations=20, places=20, general=60)


def tiny_world_params() -> FactsWorldParams:
    """A 16-person world (4 to forget) that a model learns in seconds: for tests and the
    quick size of the ``unlearn-llm-speed`` benchmark."""
    return FactsWorldParams(
        people=16, organisations=4, places=4, general=6, forget_fraction=0.25, holdout_fraction=0.25
    )


@dataclass(frozen=True)
class QA:
    """One fact as a question/answer item with its evaluation variants."""

    subject: str
    relation: str
    object: str
    questions: tuple[str, ...]
    heldout_question: str
    answer: str
    paraphrased_answer: str
    perturbed_answers: tuple[str, ...]
    split: Split

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject, self.relation, self.object)


@dataclass(frozen=True)
class Passage:
    """A person's biography text, stating the facts ``keys``."""

    subject: str
    text: str
    keys: tuple[tuple[str, str, str], ...]
    split: Split


_PASSAGE_SENTENCES: dict[str, list[str]] = {
    "born_in": ["{s} was born in {o}.", "{s} grew up in {o}."],
    "birth_year": ["{s} came into the world in {o}.", "{s} was born in the year {o}."],
    "profession": ["{s} trained as {a} {o}.", "{s} works as {a} {o}."],
    "works_for": ["{s} is employed by {o}.", "{s} has a post at {o}."],
}


def _render_passage(rng: random.Random, subject: str, facts: list[QA]) -> str:
    """The person's facts in a per-person order and wording; named once, then a pronoun."""
    order = list(facts)
    rng.shuffle(order)
    pronoun = rng.choice(["She", "He"])
    sentences = []
    for index, qa in enumerate(order):
        template = rng.choice(_PASSAGE_SENTENCES[qa.relation])
        article = "an" if qa.object[:1] in "aeiou" else "a"
        who = subject if index == 0 else pronoun
        sentences.append(template.format(s=who, o=qa.object, a=article))
    return " ".join(sentences)


@dataclass
class FactsWorld:
    """A generated world: its facts split four ways, and the text a tokenizer learns."""

    params: FactsWorldParams
    seed: int
    facts: dict[Split, list[QA]] = field(default_factory=dict)
    forget_keys: tuple[tuple[str, str, str], ...] | None = None
    """Set by ``forgetting``: the facts chosen to forget instead of whole people."""
    passages: dict[Split, list[Passage]] = field(default_factory=dict)
    """Biography passages of people, by split (no ``general`` passages)."""

    def split(self, name: Split) -> list[QA]:
        return self.facts[name]

    def passage_split(self, name: Split) -> list[Passage]:
        return self.passages.get(name, [])

    def forgetting_people(self, count: int) -> FactsWorld:
        """This world with only the first ``count`` people of its forget split to forget.

        The trained facts do not change (the others go back to retain), so one original
        model serves every forget ratio of a world; only the oracle differs.
        """
        people = list(dict.fromkeys(qa.subject for qa in self.facts["forget"]))
        if not 1 <= count <= len(people):
            raise ValueError(
                f"cannot forget {count} people: the world's forget split has {len(people)} "
                "(raise world forget_fraction or lower the count)"
            )
        chosen = set(people[:count])
        return self.forgetting([qa.key for qa in self.facts["forget"] if qa.subject in chosen])

    @property
    def forget_subjects(self) -> list[str]:
        return sorted({qa.subject for qa in self.facts["forget"]})

    def corpus(self) -> list[str]:
        """Every string of the world (tokenizer training text)."""
        texts: list[str] = []
        for items in self.facts.values():
            for qa in items:
                texts.extend([*qa.questions, qa.heldout_question])
                texts.extend([qa.answer, qa.paraphrased_answer, *qa.perturbed_answers])
        for passages in self.passages.values():
            texts.extend(passage.text for passage in passages)
        return texts

    def questions(self) -> list[str]:
        return [
            q
            for items in self.facts.values()
            for qa in items
            for q in (*qa.questions, qa.heldout_question)
        ]

    def digest(self) -> str:
        """Stable hash of params, seed and any chosen forget facts (cache keys)."""
        base = self.params.digest(self.seed)
        if self.forget_keys is None:
            return base
        blob = json.dumps([base, sorted(self.forget_keys)])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def forgetting(self, keys: list[tuple[str, str, str]]) -> FactsWorld:
        """This world with exactly the facts ``keys`` (subject, relation, object) to forget.

        The people of the default forget split go back to retain; holdout and general
        are unchanged. Raises ``ValueError`` naming facts that are not in the world or
        that belong to a holdout person (never trained on, so nothing to forget).
        """
        if not keys:
            raise ValueError("the forget request lists no facts: the forget set would be empty")
        trained = [qa for split in ("forget", "retain", "general") for qa in self.facts[split]]
        by_key = {qa.key: qa for qa in trained}
        holdout = {qa.key for qa in self.facts["holdout"]}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            held = [k for k in unknown if k in holdout]
            example = next(iter(by_key))
            raise ValueError(
                f"{len(unknown)} fact(s) to forget are not trained facts of this world, e.g. "
                f"{unknown[0]}"
                + (f" ({len(held)} belong to holdout people, never trained on)" if held else "")
                + f"; facts look like {example} (world seed {self.seed})"
            )
        chosen = set(keys)
        forget = [replace(by_key[k], split="forget") for k in dict.fromkeys(keys)]
        retain = [
            replace(qa, split="retain")
            for qa in self.facts["forget"] + self.facts["retain"]
            if qa.key not in chosen
        ]
        general = [qa for qa in self.facts["general"] if qa.key not in chosen]
        # A passage stating a forgotten fact is forgotten with it: the oracle never
        # reads the fact in any form.
        passages: dict[Split, list[Passage]] = {"forget": [], "retain": [], "holdout": []}
        for passage in self.passages.get("forget", []) + self.passages.get("retain", []):
            split: Split = "forget" if chosen.intersection(passage.keys) else "retain"
            passages[split].append(replace(passage, split=split))
        passages["holdout"] = list(self.passages.get("holdout", []))
        return FactsWorld(
            params=self.params,
            seed=self.seed,
            facts={
                "forget": forget,
                "retain": retain,
                "holdout": list(self.facts["holdout"]),
                "general": general,
            },
            forget_keys=tuple(dict.fromkeys(keys)),
            passages=passages,
        )


def _name(rng: random.Random, syllables: int) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)]
    parts += [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables - 1)]
    return "".join(parts).capitalize()


def _unique_names(rng: random.Random, count: int, make: object, taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        candidate = make()  # type: ignore[operator]
        if candidate not in taken:
            taken.add(candidate)
            names.append(candidate)
    return names


def _render(
    rng: random.Random,
    subject: str,
    relation: str,
    value: str,
    pool: list[str],
    params: FactsWorldParams,
    split: Split,
) -> QA:
    questions, answer, paraphrased = _TEMPLATES[relation]
    others = [v for v in pool if v != value]
    wrong = rng.sample(others, k=min(params.perturbed, len(others)))
    return QA(
        subject=subject,
        relation=relation,
        object=value,
        questions=tuple(q.format(s=subject) for q in questions[: params.paraphrases]),
        # A phrasing never trained on: probes knowledge rather than verbatim recall.
        heldout_question=questions[min(params.paraphrases, len(questions) - 1)].format(s=subject),
        answer=answer.format(s=subject, o=value),
        paraphrased_answer=paraphrased.format(s=subject, o=value),
        perturbed_answers=tuple(paraphrased.format(s=subject, o=w) for w in wrong),
        split=split,
    )


def _entity_facts(
    rng: random.Random,
    subject: str,
    relations: dict[str, list[str]],
    params: FactsWorldParams,
    split: Split,
) -> list[QA]:
    """One QA per relation of ``subject``, its value drawn from that relation's pool.

    Every value is drawn before any fact is rendered (rendering draws the perturbed
    answers from the same stream), so a seed always gives the same world.
    """
    values = {relation: rng.choice(pool) for relation, pool in relations.items()}
    return [
        _render(rng, subject, relation, values[relation], pool, params, split)
        for relation, pool in relations.items()
    ]


def build_world(params: FactsWorldParams, seed: int) -> FactsWorld:
    """Generate the world of ``params`` from ``seed`` (same inputs, same world)."""
    rng = random.Random(seed)
    taken: set[str] = set()
    places = _unique_names(
        rng, params.places, lambda: _name(rng, 2) + rng.choice(_PLACE_SUFFIXES), taken
    )
    organisations = _unique_names(
        rng,
        params.organisations,
        lambda: _name(rng, 2) + " " + rng.choice(_ORG_SUFFIXES),
        taken,
    )
    people = _unique_names(
        rng, params.people, lambda: _name(rng, 2) + " " + _name(rng, rng.choice([2, 3])), taken
    )
    years = [str(y) for y in range(1950, 2000)]

    order = list(people)
    rng.shuffle(order)
    n_forget = round(params.people * params.forget_fraction)
    n_holdout = round(params.people * params.holdout_fraction)
    person_split: dict[str, Split] = {}
    for index, person in enumerate(order):
        if index < n_forget:
            person_split[person] = "forget"
        elif index < n_forget + n_holdout:
            person_split[person] = "holdout"
        else:
            person_split[person] = "retain"

    facts: dict[Split, list[QA]] = {name: [] for name in SPLITS}
    passages: dict[Split, list[Passage]] = {"forget": [], "retain": [], "holdout": []}
    # A separate stream, so adding passages left every fact of a seed unchanged.
    passage_rng = random.Random(f"passages-{seed}")
    # Each kind of entity with its relations and the pool each relation's value is from.
    person_relations = {
        "born_in": places,
        "works_for": organisations,
        "profession": PROFESSIONS,
        "birth_year": years,
    }
    organisation_relations = {"headquartered_in": places, "industry": INDUSTRIES}
    place_relations = {"region": REGIONS, "known_for": KNOWN_FOR}
    for person in people:
        split = person_split[person]
        own = _entity_facts(rng, person, person_relations, params, split)
        facts[split].extend(own)
        text = _render_passage(passage_rng, person, own)
        passages[split].append(Passage(person, text, tuple(qa.key for qa in own), split))
    for organisation in organisations:
        facts["retain"].extend(
            _entity_facts(rng, organisation, organisation_relations, params, "retain")
        )
    for place in places:
        facts["retain"].extend(_entity_facts(rng, place, place_relations, params, "retain"))
    pairs = [(a, b) for a in range(10) for b in range(10)]
    for a, b in rng.sample(pairs, k=params.general):
        sums = [str(v) for v in range(19)]
        facts["general"].append(
            _render(rng, f"{a} plus {b}", "sum", str(a + b), sums, params, "general")
        )
    return FactsWorld(params=params, seed=seed, facts=facts, passages=passages)
