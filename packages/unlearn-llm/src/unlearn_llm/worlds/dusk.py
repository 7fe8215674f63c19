"""The overlapping-documents extension of the facts world (DUSK).

DUSK (Jeung et al., "DUSK: Do Not Unlearn Shared Knowledge", arXiv:2505.15209) writes
the same profiles as several document sets, one narrative style each (its five:
chronological, feature story, interview, inverted pyramid, listicle). Some facts are
**shared**, stated by every set; others are **unique**, stated by one set only. One set
is the forget set. The ideal unlearned model has lost that set's phrasing and its
unique facts, and still knows the shared facts, which the other sets support.

Here the profiles are the facts world's people (all but its holdout people, who are
never trained on and serve as membership non-members). Per person:

* **shared facts**: the world's four person facts (birthplace, employer, profession,
  birth year), stated by every document set;
* **unique facts**: one per document set, each of a different relation drawn for that
  person from ``UNIQUE_RELATIONS`` (hobby, pet, instrument, ...), stated only by its
  set. Which relation a set states differs between people, so a method cannot forget a
  set's unique facts by dropping one relation.

Document set $k$ is, per person, a passage in style $k$ (``STYLES``: its own sentence
templates and order) stating the shared facts and the person's set-$k$ unique fact,
plus the QA rows (the world's question templates) of that unique fact. The QA rows of
the shared facts belong to every set, so they are retained data whichever set is
forgotten. The oracle trains on every set but the forgotten one.

Pure Python (no torch), like the facts world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from pydantic import Field, model_validator
from unlearn_schema import StrictModel

from unlearn_llm.worlds.facts import QA, FactsWorld, FactsWorldParams, Passage, Split, build_world

SHARED_RELATIONS: tuple[str, ...] = ("born_in", "birth_year", "profession", "works_for")

# relation -> (value pool, question paraphrases, answer, paraphrased answer); {a} is the
# value's article, filled only where a template uses it.
UNIQUE_RELATIONS: dict[str, tuple[list[str], list[str], str, str]] = {
    "hobby": (
        ["chess", "sailing", "pottery", "archery", "gardening", "fencing", "rowing", "juggling"],
        ["What is the hobby of {s}?", "What does {s} do for fun?", "Which pastime does {s} enjoy?"],
        "{s} enjoys {o}.",
        "The hobby of {s} is {o}.",
    ),
    "pet": (
        ["cat", "dog", "parrot", "tortoise", "ferret", "goat", "owl", "rabbit"],
        ["What pet does {s} keep?", "Which animal lives with {s}?", "What is the pet of {s}?"],
        "{s} keeps {a} {o}.",
        "The pet of {s} is {a} {o}.",
    ),
    "instrument": (
        ["violin", "cello", "flute", "harp", "drum", "lute", "trumpet", "oboe"],
        [
            "What instrument does {s} play?",
            "Which instrument is played by {s}?",
            "What does {s} play in the evenings?",
        ],
        "{s} plays the {o}.",
        "The instrument of {s} is the {o}.",
    ),
    "dish": (
        ["soup", "dumplings", "curry", "stew", "pie", "noodles", "porridge", "salad"],
        [
            "What is the favourite dish of {s}?",
            "Which food does {s} like best?",
            "What does {s} like to eat?",
        ],
        "{s} loves {o}.",
        "The favourite dish of {s} is {o}.",
    ),
    "language": (
        ["Vellish", "Ostrian", "Mirrish", "Dalic", "Somese", "Kethic", "Branish", "Yoric"],
        [
            "What language does {s} speak?",
            "Which second language does {s} know?",
            "What other tongue does {s} speak?",
        ],
        "{s} speaks {o}.",
        "The second language of {s} is {o}.",
    ),
    "colour": (
        ["red", "blue", "green", "amber", "violet", "grey", "white", "black"],
        [
            "What is the favourite colour of {s}?",
            "Which colour does {s} like?",
            "What colour does {s} prefer?",
        ],
        "{s} likes {o}.",
        "The favourite colour of {s} is {o}.",
    ),
}

# Each style: an opening naming the person, then one sentence per relation ({P}/{p}:
# the pronoun, capitalised or not), in the style's own order; the unique fact is last.
STYLES: dict[str, tuple[str, dict[str, str]]] = {
    "chronological": (
        "The life of {s}, year by year.",
        {
            "birth_year": "{P} came into the world in {o}.",
            "born_in": "{P} spent a childhood in {o}.",
            "profession": "Years later {p} qualified as {a} {o}.",
            "works_for": "Then {p} joined {o}.",
            "hobby": "Along the way {p} took up {o}.",
            "pet": "Later still {p} adopted {a} {o}.",
            "instrument": "In middle age {p} learned the {o}.",
            "dish": "By then {p} cooked {o} every week.",
            "language": "At last {p} studied {o}.",
            "colour": "In old age {p} painted every door {o}.",
        },
    ),
    "interview": (
        "We sat down with {s}.",
        {
            "profession": "Asked about work, {p} says: I am {a} {o}.",
            "works_for": "My employer is {o}, {p} adds.",
            "born_in": "Home? I come from {o}, {p} smiles.",
            "birth_year": "{P} admits: I was born in {o}.",
            "hobby": "For fun, {p} tells us: I love {o}.",
            "pet": "At home, {p} says, I have {a} {o}.",
            "instrument": "Music? I play the {o}, {p} laughs.",
            "dish": "My favourite meal is {o}, {p} confides.",
            "language": "{P} jokes: I dream in {o}.",
            "colour": "My colour is {o}, {p} insists.",
        },
    ),
    "listicle": (
        "Five things to know about {s}:",
        {
            "works_for": "one, the employer is {o};",
            "profession": "two, the job is {o};",
            "birth_year": "three, the birth year is {o};",
            "born_in": "four, the home town is {o};",
            "hobby": "five, the pastime is {o}.",
            "pet": "five, the animal at home is {a} {o}.",
            "instrument": "five, the instrument is the {o}.",
            "dish": "five, the best dish is {o}.",
            "language": "five, the second language is {o}.",
            "colour": "five, the colour of choice is {o}.",
        },
    ),
    "feature": (
        "Few people in town are as curious as {s}.",
        {
            "born_in": "Raised among the streets of {o}, {p} never left the place behind.",
            "works_for": "These days {p} walks the halls of {o}.",
            "profession": "By all accounts {p} is a gifted {o}.",
            "birth_year": "The story begins in {o}.",
            "hobby": "Weekends belong to {o}, {p} confesses.",
            "pet": "{P} never goes out without {a} {o}.",
            "instrument": "Evenings end with the sound of the {o}.",
            "dish": "Friends are fed {o} whenever they visit.",
            "language": "Letters from {p} are written in {o}.",
            "colour": "Everything {p} owns is {o}.",
        },
    ),
    "report": (
        "{s}, profile.",
        {
            "profession": "Occupation: {o}.",
            "works_for": "Employer: {o}.",
            "born_in": "Place of birth: {o}.",
            "birth_year": "Year of birth: {o}.",
            "hobby": "Recreation: {o}.",
            "pet": "Household animal: {o}.",
            "instrument": "Instrument: {o}.",
            "dish": "Preferred dish: {o}.",
            "language": "Second language: {o}.",
            "colour": "Preferred colour: {o}.",
        },
    ),
}
STYLE_NAMES: tuple[str, ...] = tuple(STYLES)


class DuskParams(StrictModel):
    """How many document sets there are, and which one is forgotten."""

    sets: int = Field(
        default=3,
        ge=2,
        le=len(STYLES),
        description=f"Document sets, one style each (the first of {list(STYLES)}).",
    )
    forget_set: int = Field(default=0, ge=0, description="Index of the set to forget.")

    @model_validator(mode="after")
    def _forget_set_exists(self) -> DuskParams:
        if self.forget_set >= self.sets:
            raise ValueError(
                f"forget_set={self.forget_set} but there are sets={self.sets} "
                f"(indices 0..{self.sets - 1})"
            )
        return self

    @property
    def styles(self) -> tuple[str, ...]:
        return STYLE_NAMES[: self.sets]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def render_unique(
    rng: random.Random,
    subject: str,
    relation: str,
    value: str,
    params: FactsWorldParams,
    split: Split,
) -> QA:
    """A unique fact as a QA item, with the world's paraphrase and perturbation knobs."""
    pool, questions, answer, paraphrased = UNIQUE_RELATIONS[relation]
    wrong = rng.sample([v for v in pool if v != value], k=params.perturbed)

    def fill(template: str, obj: str) -> str:
        return template.format(s=subject, o=obj, a=_article(obj))

    return QA(
        subject=subject,
        relation=relation,
        object=value,
        questions=tuple(q.format(s=subject) for q in questions[: params.paraphrases]),
        heldout_question=questions[min(params.paraphrases, len(questions) - 1)].format(s=subject),
        answer=fill(answer, value),
        paraphrased_answer=fill(paraphrased, value),
        perturbed_answers=tuple(fill(paraphrased, w) for w in wrong),
        split=split,
    )


def render_document(style: str, subject: str, pronoun: str, facts: list[QA]) -> str:
    """``subject``'s passage in ``style``: the opening, then the facts in the style's order."""
    opening, sentences = STYLES[style]
    order = {relation: index for index, relation in enumerate(sentences)}
    text = [opening.format(s=subject)]
    for qa in sorted(facts, key=lambda qa: order[qa.relation]):
        text.append(
            sentences[qa.relation].format(
                P=pronoun, p=pronoun.lower(), o=qa.object, a=_article(qa.object)
            )
        )
    return " ".join(text)


@dataclass
class DuskWorld:
    """Document sets over the facts world's people, with shared and unique facts."""

    base: FactsWorld
    params: DuskParams
    shared: list[QA]
    """The shared facts of the trained people (stated by every set)."""
    unique: list[list[QA]]
    """``unique[k]``: the trained people's facts stated by set ``k`` only."""
    documents: list[list[Passage]]
    """``documents[k]``: set ``k``'s passage of every trained person."""
    holdout_documents: list[list[Passage]]
    """``holdout_documents[k]``: the holdout people's passages in style ``k`` (never
    trained on: membership non-members)."""
    general: list[QA]

    @property
    def styles(self) -> tuple[str, ...]:
        return self.params.styles

    @property
    def forget_set(self) -> int:
        return self.params.forget_set

    @property
    def retained_sets(self) -> list[int]:
        return [k for k in range(self.params.sets) if k != self.params.forget_set]

    @property
    def unique_forget(self) -> list[QA]:
        """Facts only the forgotten set states (what the oracle never read)."""
        return self.unique[self.forget_set]

    @property
    def unique_retain(self) -> list[QA]:
        """Facts only one of the retained sets states."""
        return [qa for k in self.retained_sets for qa in self.unique[k]]

    @property
    def forget_documents(self) -> list[Passage]:
        return self.documents[self.forget_set]

    @property
    def retain_documents(self) -> list[Passage]:
        return [p for k in self.retained_sets for p in self.documents[k]]

    def training_data(self, forgotten: bool) -> tuple[list[QA], list[Passage]]:
        """The QA facts and passages a model trains on: every set (the original), or
        every set but the forgotten one (``forgotten=True``: the oracle)."""
        kept = self.retained_sets if forgotten else list(range(self.params.sets))
        facts = self.shared + [qa for k in kept for qa in self.unique[k]] + self.general
        return facts, [p for k in kept for p in self.documents[k]]

    def corpus_world(self) -> FactsWorld:
        """A ``FactsWorld`` holding every string of this one (for ``train_tokenizer``)."""
        holdout = [p for docs in self.holdout_documents for p in docs]
        return FactsWorld(
            params=self.base.params,
            seed=self.base.seed,
            facts={
                "forget": list(self.unique_forget),
                "retain": self.shared + self.unique_retain,
                "holdout": list(self.base.split("holdout")),
                "general": list(self.general),
            },
            passages={
                "forget": list(self.forget_documents),
                "retain": list(self.retain_documents),
                "holdout": holdout,
            },
        )


def build_dusk_world(world: FactsWorldParams, params: DuskParams, seed: int) -> DuskWorld:
    """Generate the document sets of ``world``'s people from ``seed`` (same inputs, same
    sets). The base world's forget and retain people are all trained people here."""
    base = build_world(world, seed)
    rng = random.Random(f"dusk-{seed}")
    people_facts: dict[str, list[QA]] = {}
    for split in ("forget", "retain", "holdout"):
        for qa in base.split(split):
            if qa.relation in SHARED_RELATIONS:  # people only, not places or organisations
                people_facts.setdefault(qa.subject, []).append(qa)
    holdout_people = {qa.subject for qa in base.split("holdout")}
    shared: list[QA] = []
    unique: list[list[QA]] = [[] for _ in range(params.sets)]
    documents: list[list[Passage]] = [[] for _ in range(params.sets)]
    holdout_documents: list[list[Passage]] = [[] for _ in range(params.sets)]
    for person in sorted(people_facts):
        held = person in holdout_people
        own_shared = [qa for qa in people_facts[person] if qa.relation in SHARED_RELATIONS]
        relations = rng.sample(sorted(UNIQUE_RELATIONS), k=params.sets)
        pronoun = rng.choice(["She", "He"])
        if not held:
            shared.extend(replace(qa, split="retain") for qa in own_shared)
        for k, (style, relation) in enumerate(zip(params.styles, relations, strict=True)):
            where: Split = "holdout" if held else ("forget" if k == params.forget_set else "retain")
            value = rng.choice(UNIQUE_RELATIONS[relation][0])
            fact = render_unique(rng, person, relation, value, world, where)
            stated = [*own_shared, fact]
            passage = Passage(
                person,
                render_document(style, person, pronoun, stated),
                tuple(qa.key for qa in stated),
                where,
            )
            if held:
                holdout_documents[k].append(passage)
            else:
                unique[k].append(fact)
                documents[k].append(passage)
    return DuskWorld(
        base=base,
        params=params,
        shared=shared,
        unique=unique,
        documents=documents,
        holdout_documents=holdout_documents,
        general=list(base.split("general")),
    )
