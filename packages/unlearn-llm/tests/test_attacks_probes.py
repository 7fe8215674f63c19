"""Multi-hop (Sleek), paraphrase/format and representation-probe attacks: each finds
what a designed model only hides (the output blockers of ``attacks/suppressed.py``),
none "recovers" what the retrain oracle never had, none touches its target, and the
multi-hop questions follow the world's relations."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError


def _target(tiny: Any, model: Any, forget: Any = None) -> Any:
    from unlearn_llm.attacks.recovery import AttackTarget

    world = tiny.world
    return AttackTarget(
        model=model,
        tokenizer=tiny.tokenizer,
        world=world,
        forget=world.split("forget") if forget is None else forget,
        retain=world.split("retain")[:16],
        general=world.split("general"),
        holdout=world.split("holdout"),
        seed=0,
    )


def _attack(name: str) -> Any:
    from unlearn_llm.attacks import ATTACKS

    return ATTACKS[name].function


PROMPT_ATTACKS = ("multihop", "paraphrase")
ATTACK_NAMES = (*PROMPT_ATTACKS, "probes")


@pytest.fixture(scope="module")
def on_original(tiny: Any) -> dict[str, Any]:
    """Each attack's outcome on the tiny original, checked to leave the weights alone."""
    import torch

    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    outcomes = {name: _attack(name)(_target(tiny, tiny.model)) for name in ATTACK_NAMES}
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert tiny.model.training is False
    return outcomes


# --- worlds/hops.py ------------------------------------------------------------------


def _qa(subject: str, relation: str, value: str, split: Any = "retain") -> Any:
    from unlearn_llm.worlds.facts import QA

    return QA(
        subject=subject,
        relation=relation,
        object=value,
        questions=(f"What is the {relation} of {subject}?",),
        heldout_question=f"Tell the {relation} of {subject}.",
        answer=f"{subject} has {value}.",
        paraphrased_answer=f"The {relation} of {subject} is {value}.",
        perturbed_answers=(f"The {relation} of {subject} is nothing.",),
        split=split,
    )


def test_chains_compose_the_world_relations_by_hand() -> None:
    from unlearn_llm.worlds.facts import FactsWorld, FactsWorldParams
    from unlearn_llm.worlds.hops import fact_index, multihop_chains

    ann = [
        _qa("Ann Bo", "born_in", "Xvale", "forget"),
        _qa("Ann Bo", "works_for", "Yoo Labs", "forget"),
        _qa("Ann Bo", "profession", "baker", "forget"),
    ]
    places = [
        _qa("Xvale", "region", "the north"),
        _qa("Xvale", "known_for", "its bridges"),
        _qa("Zport", "region", "the coast"),
    ]
    orgs = [_qa("Yoo Labs", "headquartered_in", "Zport"), _qa("Yoo Labs", "industry", "optics")]
    world = FactsWorld(
        params=FactsWorldParams(),
        seed=0,
        facts={"forget": ann, "retain": places + orgs, "holdout": [], "general": []},
    )
    digest = world.digest()
    chains = multihop_chains(world, ann)
    index = fact_index(world)
    kinds = [c.kind for c in chains]
    # born_in: direct, indirect, implied region and known_for; works_for: direct,
    # indirect, implied headquarters and industry; profession: direct, indirect.
    assert kinds.count("direct") == 3 and kinds.count("indirect") == 3
    assert kinds.count("implied") == 4
    implied = {
        (c.fact.relation, c.steps[1].relation): c.answer for c in chains if c.kind == "implied"
    }
    assert implied == {
        ("born_in", "region"): "the north",
        ("born_in", "known_for"): "its bridges",
        ("works_for", "headquartered_in"): "Zport",
        ("works_for", "industry"): "optics",
    }
    for chain in chains:
        assert chain.steps[chain.forgotten_step] == chain.fact
        if chain.kind == "implied":
            first, second = chain.steps
            assert (
                chain.answer
                == index[(index[(first.subject, first.relation)].object, second.relation)].object
            )
        if chain.kind == "indirect":
            other = chain.steps[0]
            assert other.subject == chain.fact.subject and other.relation != chain.fact.relation
    assert world.digest() == digest


def test_new_wordings_are_never_trained(tiny: Any) -> None:
    from unlearn_llm.worlds.hops import NEW_QUESTIONS, multihop_chains

    asked = {
        q
        for items in tiny.world.facts.values()
        for qa in items
        for q in (*qa.questions, qa.heldout_question)
    }
    chains = multihop_chains(tiny.world, tiny.world.split("forget"))
    assert chains and {c.question for c in chains}.isdisjoint(asked)
    # Every prompt an attack writes is spelled in the world's own characters.
    from unlearn_llm.attacks.multihop import step_prompt
    from unlearn_llm.attacks.paraphrase import FORMATS, format_prompt

    qa = tiny.world.split("forget")[0]
    prompts = [template.format(s=qa.subject) for template in NEW_QUESTIONS.values()]
    prompts += [step_prompt(c.question, 2, qa.questions[0], " Step 1: x") for c in chains]
    prompts += [format_prompt(qa, name) for name in FORMATS]
    for prompt in prompts:
        assert tiny.tokenizer.unk_token_id not in tiny.tokenizer.encode(prompt), prompt


# --- power: designed suppression -----------------------------------------------------


@pytest.mark.parametrize("name", PROMPT_ATTACKS)
def test_prompt_attacks_get_past_a_question_keyed_block(
    tiny: Any, on_original: dict[str, Any], name: str
) -> None:
    from unlearn_llm.attacks.suppressed import block_forget_answers

    forget = tiny.world.split("forget")
    blocked = block_forget_answers(tiny.model, tiny.tokenizer, forget, trigger="question")
    outcome = _attack(name)(_target(tiny, blocked))
    clean = outcome.metrics["clean_knowledge"]
    original = on_original[name]
    # The block works on the trained question (clean), the attack gets past it.
    assert clean < 0.05 < original.metrics["clean_knowledge"] - 0.5
    assert outcome.knowledge > clean + 0.3
    assert outcome.knowledge == pytest.approx(original.knowledge, abs=0.05)


def test_probes_read_through_an_output_block(tiny: Any) -> None:
    from unlearn_llm.attacks.probes import ProbeParams
    from unlearn_llm.attacks.suppressed import block_forget_answers

    forget = tiny.world.split("forget")
    blocked = block_forget_answers(tiny.model, tiny.tokenizer, forget, trigger="subject")
    # Places and organisations: the blocker hides their first token (a profession may
    # share its first token with a wrong answer, which the blocker leaves alone).
    params = ProbeParams(relations=["born_in", "works_for"])
    outcome = _attack("probes")(_target(tiny, blocked), params)
    original = _attack("probes")(_target(tiny, tiny.model), params)
    # Hidden states are the original's: the probe and the lens see the same values.
    assert outcome.knowledge == original.knowledge
    assert outcome.metrics["lens_best_probability"] == pytest.approx(
        original.metrics["lens_best_probability"]
    )
    # The output says nothing; the last layer's lens still finds the value.
    assert outcome.metrics["output_probability"] < 0.05
    assert outcome.metrics["lens_best_probability"] > outcome.metrics["output_probability"] + 0.5


# --- no power where there is nothing -------------------------------------------------


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_the_oracle_keeps_what_it_never_had(
    tiny: Any, tiny_oracle: Any, on_original: dict[str, Any], name: str
) -> None:
    outcome = _attack(name)(_target(tiny, tiny_oracle))
    original = on_original[name]
    assert original.knowledge > outcome.knowledge + 0.25
    if name == "probes":
        assert outcome.knowledge <= outcome.metrics["probe_majority_accuracy"] + 0.25
        assert (
            outcome.metrics["lens_best_probability"]
            < original.metrics["lens_best_probability"] - 0.4
        )
    else:
        assert outcome.knowledge <= outcome.metrics["clean_knowledge"] + 0.1


def test_outcomes_are_complete_and_finite(on_original: dict[str, Any]) -> None:
    import math

    multihop = on_original["multihop"]
    assert {"leakage_direct", "leakage_indirect", "leakage_implied"} <= multihop.metrics.keys()
    assert multihop.truth_ratios is not None
    assert len(multihop.truth_ratios) == multihop.metrics["chains_direct"]
    paraphrase = on_original["paraphrase"]
    assert paraphrase.knowledge == max(
        v for k, v in paraphrase.metrics.items() if k.startswith("answer_probability_")
    )
    probes = on_original["probes"]
    assert probes.truth_ratios is None and "probe_accuracy_layer2" in probes.metrics
    for outcome in on_original.values():
        assert all(math.isfinite(v) for v in outcome.metrics.values())
        assert outcome.wall_time_s > 0


def test_attacks_are_deterministic(tiny: Any) -> None:
    from unlearn_llm.attacks.multihop import MultihopParams
    from unlearn_llm.attacks.paraphrase import ParaphraseParams
    from unlearn_llm.attacks.probes import ProbeParams

    cheap = {
        "multihop": MultihopParams(kinds=["direct", "implied"], max_facts=6),
        "paraphrase": ParaphraseParams(formats=["cloze"], generate=False),
        "probes": ProbeParams(relations=["born_in"]),
    }
    for name, params in cheap.items():
        first, second = (_attack(name)(_target(tiny, tiny.model), params) for _ in range(2))
        assert (first.knowledge, first.metrics) == (second.knowledge, second.metrics)


def test_errors_name_the_bad_value(tiny: Any) -> None:
    from unlearn_llm.attacks.multihop import MultihopParams
    from unlearn_llm.attacks.paraphrase import ParaphraseParams
    from unlearn_llm.attacks.probes import ProbeParams
    from unlearn_llm.worlds.hops import multihop_chains

    for make in (
        lambda: MultihopParams(kinds=["sideways"]),
        lambda: MultihopParams(kinds=[]),
        lambda: MultihopParams(max_facts=0),
        lambda: ParaphraseParams(formats=["poem"]),
        lambda: ProbeParams(relations=["region"]),
        lambda: ProbeParams(regularisation=0.0),
    ):
        with pytest.raises(ValidationError):
            make()
    with pytest.raises(ValueError, match="sideways"):
        multihop_chains(tiny.world, tiny.world.split("forget"), ["sideways"])  # type: ignore[list-item]
    years = [qa for qa in tiny.world.split("forget") if qa.relation == "birth_year"]
    with pytest.raises(ValueError, match="birth_year"):
        _attack("probes")(_target(tiny, tiny.model, forget=years))
    with pytest.raises(ValueError, match="born_in or works_for"):
        _attack("multihop")(
            _target(tiny, tiny.model, forget=years), MultihopParams(kinds=["implied"])
        )
    with pytest.raises(ValueError, match="no forget facts"):
        _attack("paraphrase")(_target(tiny, tiny.model, forget=[]))
