"""The RESTOR corruption world and the llm-restor benchmark (arXiv:2411.00204)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.restor import LLM_RESTOR, restoration_share
from unlearn_llm.worlds.corruption import (
    BIRTH_YEARS,
    PERSON_RELATIONS,
    CorruptionParams,
    corrupt_world,
    relation_values,
)
from unlearn_llm.worlds.facts import PROFESSIONS, build_world, tiny_world_params
from unlearn_schema import NullProgress


def _tiny_corruption(entities: int = 2, relations: list[Any] | None = None) -> Any:
    world = build_world(tiny_world_params(), seed=0)
    params = CorruptionParams(entities=entities, relations=relations or list(PERSON_RELATIONS))
    return world, corrupt_world(world, params, seed=0)


def test_value_sets_are_the_worlds_own() -> None:
    world = build_world(tiny_world_params(), seed=0)
    places = sorted({qa.subject for qa in world.split("retain") if qa.relation == "region"})
    organisations = sorted(
        {qa.subject for qa in world.split("retain") if qa.relation == "industry"}
    )
    assert len(places) == 4 and len(organisations) == 4  # tiny_world_params
    assert relation_values(world, "born_in") == places
    assert relation_values(world, "works_for") == organisations
    assert relation_values(world, "profession") == PROFESSIONS
    assert relation_values(world, "birth_year") == list(BIRTH_YEARS)
    # every value the world drew is in its relation's set
    for split in ("forget", "retain", "holdout"):
        for qa in world.split(split):
            if qa.relation in PERSON_RELATIONS:
                assert qa.object in relation_values(world, qa.relation), qa
    with pytest.raises(ValueError, match="not a person relation"):
        relation_values(world, "industry")


def test_each_wrong_fact_is_another_value_of_the_same_relation() -> None:
    world, corruption = _tiny_corruption()
    retain_people = {qa.subject for qa in world.split("retain") if qa.relation == "born_in"}
    assert len(corruption.entities) == 2 and set(corruption.entities) <= retain_people
    assert len(corruption.corrupted) == 2 * 4  # every person relation of both people
    for fact in corruption.corrupted:
        true, wrong = fact.true, fact.wrong
        assert wrong.subject == true.subject and wrong.relation == true.relation
        assert wrong.object != true.object
        assert wrong.object in relation_values(world, true.relation)
        # the same sentence with the wrong value, asked with the same questions
        assert wrong.answer == true.answer.replace(true.object, wrong.object)
        assert wrong.questions == true.questions
    # the documents: one passage per corrupted person, stating the wrong values
    assert [p.subject for p in corruption.wrong_passages] == corruption.entities
    for passage in corruption.wrong_passages:
        for fact in corruption.corrupted:
            if fact.true.subject == passage.subject:
                assert fact.wrong.object in passage.text


def test_a_hand_checked_single_relation_corruption() -> None:
    world, corruption = _tiny_corruption(entities=1, relations=["profession"])
    (person,) = corruption.entities
    (fact,) = corruption.corrupted
    true_job = next(
        qa.object
        for qa in world.split("retain")
        if qa.subject == person and qa.relation == "profession"
    )
    assert fact.true.object == true_job
    assert fact.wrong.answer == f"{person} is a {fact.wrong.object}."
    assert fact.wrong.object in PROFESSIONS and fact.wrong.object != true_job
    # the other three facts of the person are stated unchanged in the passage
    (passage,) = corruption.wrong_passages
    for qa in world.split("retain"):
        if qa.subject == person and qa.relation != "profession":
            assert qa.object in passage.text and qa.key in passage.keys
    # normal data: nothing about the corrupted person, everything about the others
    assert all(qa.subject != person for qa in corruption.normal_facts)
    assert all(p.subject != person for p in corruption.normal_passages)
    others = [qa for qa in world.split("retain") if qa.subject != person]
    assert set(qa.key for qa in others) <= {qa.key for qa in corruption.normal_facts}


def test_corruption_is_seeded_and_refuses_too_many_people() -> None:
    world = build_world(tiny_world_params(), seed=0)
    params = CorruptionParams(entities=3)
    first, again = corrupt_world(world, params, 5), corrupt_world(world, params, 5)
    assert [f.wrong.key for f in first.corrupted] == [f.wrong.key for f in again.corrupted]
    with pytest.raises(ValueError, match="entities=8 but the world's retain split has 8"):
        corrupt_world(world, CorruptionParams(entities=8), 0)
    with pytest.raises(ValueError, match="each relation once"):
        CorruptionParams(relations=["born_in", "born_in"])


def test_restoration_share_on_a_hand_worked_example() -> None:
    # clean model: 9 of 10 correct answers; corrupted: 1 of 10; after unlearning: 5 of 10
    assert restoration_share(0.5, corrupted=0.1, reference=0.9) == pytest.approx(0.5)
    # wrong answers: clean 0 of 10, corrupted 8, unlearned 2 -> 6 of the 8 forgotten
    assert restoration_share(0.2, corrupted=0.8, reference=0.0) == pytest.approx(0.75)
    # still corrupted -> 0; beyond the clean model -> above 1
    assert restoration_share(0.1, corrupted=0.1, reference=0.9) == pytest.approx(0.0)
    assert restoration_share(1.0, corrupted=0.1, reference=0.9) == pytest.approx(0.9 / 0.8)
    # the corruption changed nothing: no share to report
    assert restoration_share(0.4, corrupted=0.5, reference=0.5) is None


def test_default_specs_parse_and_the_full_size_runs_every_registered_method() -> None:
    from unlearn_llm.methods import METHODS

    quick = LLM_RESTOR.parse(LLM_RESTOR.default_spec("quick"))
    full = LLM_RESTOR.parse(LLM_RESTOR.default_spec("full"))
    assert len(quick.methods) == 8 and len(quick.seeds) == 1
    assert {m.name for m in full.methods} == set(METHODS) and len(full.seeds) == 3
    spec = LLM_RESTOR.default_spec("quick")
    too_many = {**spec.params, "corruption": {"entities": 48}}
    with pytest.raises(ValueError, match="entities=48"):
        LLM_RESTOR.parse(spec.model_copy(update={"params": too_many}))


def test_a_miniature_run_corrupts_and_scores_every_model(tmp_path: Any) -> None:
    from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME
    from unlearn_schema import MethodConfig, ModelSpec, WorldSpec

    spec = LLM_RESTOR.default_spec("quick")
    model: dict[str, Any] = {
        # a one-layer model that learns most of the tiny world in seconds
        "hidden_size": 64,
        "layers": 1,
        "intermediate_size": 128,
        "heads": 2,
        "vocab_size": 384,
        "learning_rate": 5e-3,
        "batch_size": 16,
        "max_epochs": 15,
        "target_accuracy": 0.9,
    }
    spec = spec.model_copy(
        update={
            "world": WorldSpec(name=WORLD_NAME, params=tiny_world_params().model_dump()),
            "model": ModelSpec(name=MODEL_NAME, params=model),
            "methods": [
                MethodConfig(name="gradient-difference", params={"steps": 6, "eval_every": 3}),
                MethodConfig(name="sani", params={"repair_steps": 4}),
            ],
            "params": {
                "corruption": {"entities": 2},
                "corruption_steps": 30,
                "corruption_learning_rate": 1e-3,
                "corruption_batch_size": 16,
                "other_eval_facts": 16,
            },
        }
    )
    result = LLM_RESTOR.run(LLM_RESTOR.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_RESTOR.metric_names
    value = {
        (m.name, m.labels["method"]): m.value for m in result.metrics if m.labels.get("method")
    }
    # the corruption took hold: the corrupted model answers wrongly more than the clean one
    assert value[("wrong_answer_rate", "corrupted")] > value[("wrong_answer_rate", "clean")]
    assert (
        value[("correct_choice_accuracy", "corrupted")]
        < value[("correct_choice_accuracy", "clean")]
    )
    # the oracle never read the wrong facts
    assert value[("wrong_choice_rate", "oracle")] <= value[("wrong_choice_rate", "corrupted")]
    for method in ("gradient-difference", "sani"):
        assert ("correct_answer_accuracy", method) in value
    assert any(c.name == "restor-trajectories" for c in result.curves)
    assert result.summary is not None and result.summary.rows
    assert any("RESTOR claim" in note for note in result.notes)
    json.dumps(result.model_dump())


def test_localised_targets_keep_only_the_wrong_values_tokens() -> None:
    from unlearn_llm.benchmarks.restor import localise_to_values
    from unlearn_llm.data import IGNORE_INDEX, encode_facts, training_pairs
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    world, corruption = _tiny_corruption(entities=1, relations=["born_in"])
    tokenizer = train_tokenizer(world, vocab_size=384)
    (fact,) = corruption.corrupted
    (passage,) = corruption.wrong_passages
    batch = encode_facts(tokenizer, [fact.wrong], [passage])
    _, answers = training_pairs([fact.wrong])
    answers += [passage.text]
    town = fact.wrong.object
    values = [[town]] * len(answers)
    localised = localise_to_values(tokenizer, batch, answers, values)
    for row in range(len(batch)):
        kept = localised.labels[row][localised.labels[row] != IGNORE_INDEX].tolist()
        # only the town's word-pieces (with the full stop they merge with) keep a loss
        assert str(tokenizer.decode(kept)).strip().rstrip(".") == town, answers[row]
        before = batch.labels[row][batch.labels[row] != IGNORE_INDEX]
        assert 0 < len(kept) < len(before)
    with pytest.raises(ValueError, match="none of the values"):
        localise_to_values(tokenizer, batch, answers, [["Atlantis"]] * len(answers))
