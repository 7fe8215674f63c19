from __future__ import annotations

import pytest
from unlearn_llm.worlds.facts import FactsWorldParams, build_world, world_params_for
from unlearn_schema import SpecError, validate_or_raise


def test_same_seed_same_world_and_other_seed_differs() -> None:
    params = world_params_for("quick")
    assert build_world(params, 3).facts == build_world(params, 3).facts
    assert build_world(params, 3).facts != build_world(params, 4).facts


def test_splits_are_disjoint_by_entity_and_sized_by_fraction() -> None:
    params = FactsWorldParams(people=40, forget_fraction=0.1, holdout_fraction=0.1)
    world = build_world(params, 0)
    subjects = {
        name: {qa.subject for qa in world.split(name)} for name in ("forget", "retain", "holdout")
    }
    assert len(subjects["forget"]) == 4 and len(subjects["holdout"]) == 4
    assert not subjects["forget"] & subjects["retain"]
    assert not subjects["forget"] & subjects["holdout"]
    assert not subjects["holdout"] & subjects["retain"]
    assert len(world.split("general")) == params.general


def test_perturbed_answers_are_wrong_and_heldout_question_is_new() -> None:
    world = build_world(world_params_for("quick"), 0)
    for qa in world.split("forget") + world.split("retain"):
        assert qa.object in qa.answer and qa.object in qa.paraphrased_answer
        assert len(set(qa.perturbed_answers)) == len(qa.perturbed_answers)
        assert qa.paraphrased_answer not in qa.perturbed_answers
        assert qa.heldout_question not in qa.questions


def test_empty_forget_set_is_refused_with_the_value() -> None:
    with pytest.raises(SpecError, match=r"forget_fraction=0.01 of people=20 selects no one"):
        validate_or_raise(FactsWorldParams, {"people": 20, "forget_fraction": 0.01})


def test_unknown_world_field_is_refused() -> None:
    with pytest.raises(SpecError, match="did you mean 'people'"):
        validate_or_raise(FactsWorldParams, {"peeple": 20})


def test_forgetting_chosen_facts_moves_only_them_and_changes_the_cache_key() -> None:
    world = build_world(world_params_for("quick"), 0)
    chosen = [world.split("retain")[0].key, world.split("retain")[5].key]
    custom = world.forgetting(chosen)
    assert [qa.key for qa in custom.split("forget")] == chosen
    retain_keys = {qa.key for qa in custom.split("retain")}
    assert not retain_keys & set(chosen)
    # The people of the default forget split are kept now.
    assert {qa.key for qa in world.split("forget")} <= retain_keys
    assert custom.split("holdout") == world.split("holdout")
    assert custom.digest() != world.digest()


def test_forgetting_unknown_or_holdout_facts_is_refused() -> None:
    world = build_world(world_params_for("quick"), 0)
    with pytest.raises(ValueError, match=r"not trained facts of this world, e\.g\. \('Nobody'"):
        world.forgetting([("Nobody", "born_in", "Nowhere")])
    with pytest.raises(ValueError, match="belong to holdout people"):
        world.forgetting([world.split("holdout")[0].key])
    with pytest.raises(ValueError, match="forget set would be empty"):
        world.forgetting([])


def test_every_person_has_a_passage_stating_their_facts_in_their_split() -> None:
    world = build_world(world_params_for("quick"), 0)
    for split in ("forget", "retain", "holdout"):
        people = {qa.subject for qa in world.split(split) if qa.relation == "born_in"}
        passages = world.passage_split(split)
        assert {p.subject for p in passages} == people
        for passage in passages:
            assert passage.text.startswith(passage.subject)
            facts = [qa for qa in world.split(split) if qa.subject == passage.subject]
            assert all(qa.object in passage.text for qa in facts)
    # Passages are part of the tokenizer's text; facts of a seed did not change.
    assert world.passage_split("forget")[0].text in world.corpus()


def test_forgetting_people_nests_forget_sets_and_moves_passages_with_facts() -> None:
    world = build_world(FactsWorldParams(people=40, forget_fraction=0.2), 0)
    small, large = world.forgetting_people(2), world.forgetting_people(6)
    small_people = {qa.subject for qa in small.split("forget")}
    large_people = {qa.subject for qa in large.split("forget")}
    assert len(small_people) == 2 and small_people < large_people
    assert {p.subject for p in small.passage_split("forget")} == small_people
    # The trained facts are the same whichever people are forgotten.
    trained = {qa.key for s in ("forget", "retain") for qa in small.split(s)}
    assert trained == {qa.key for s in ("forget", "retain") for qa in large.split(s)}
    # Forgetting one fact forgets the passage that states it.
    fact = world.split("retain")[0]
    one = world.forgetting([fact.key])
    assert [p.subject for p in one.passage_split("forget")] == [fact.subject]
    with pytest.raises(ValueError, match="cannot forget 9 people"):
        world.forgetting_people(9)
