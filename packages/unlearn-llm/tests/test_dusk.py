"""The DUSK document-set world, its seven metrics and the llm-dusk benchmark (arXiv:2505.15209)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from unlearn_llm.worlds.dusk import (
    SHARED_RELATIONS,
    STYLE_NAMES,
    UNIQUE_RELATIONS,
    DuskParams,
    build_dusk_world,
)
from unlearn_llm.worlds.facts import tiny_world_params


def _world(sets: int = 3, forget_set: int = 0) -> Any:
    return build_dusk_world(tiny_world_params(), DuskParams(sets=sets, forget_set=forget_set), 0)


def test_shared_facts_are_in_every_set_and_unique_facts_in_one() -> None:
    world = _world(sets=3, forget_set=1)
    people = sorted({qa.subject for qa in world.shared})
    assert len(people) == 12  # tiny world: 16 people, 4 held out
    assert len(world.shared) == 12 * len(SHARED_RELATIONS)
    assert [len(docs) for docs in world.documents] == [12, 12, 12]
    for person in people:
        own_shared = [qa for qa in world.shared if qa.subject == person]
        own_unique = [next(qa for qa in world.unique[k] if qa.subject == person) for k in range(3)]
        # three different relations, one per set
        assert len({qa.relation for qa in own_unique}) == 3
        assert all(qa.relation in UNIQUE_RELATIONS for qa in own_unique)
        for k in range(3):
            (doc,) = [p for p in world.documents[k] if p.subject == person]
            assert doc.text.startswith(
                {"chronological": "The life of", "interview": "We sat", "listicle": "Five"}[
                    STYLE_NAMES[k]
                ]
            )
            assert set(doc.keys) == {qa.key for qa in own_shared} | {own_unique[k].key}
            for qa in own_shared:
                assert qa.object in doc.text
    # forget and retain split as the sets do
    assert world.unique_forget == world.unique[1]
    assert {qa.split for qa in world.unique_forget} == {"forget"}
    assert {qa.split for qa in world.unique_retain} == {"retain"}
    assert {p.split for p in world.forget_documents} == {"forget"}
    assert len(world.retain_documents) == 24
    # holdout people: documents in every style, none of them trained on
    held = {p.subject for docs in world.holdout_documents for p in docs}
    assert len(held) == 4 and held.isdisjoint(people)


def test_the_oracle_trains_on_every_set_but_the_forgotten_one() -> None:
    world = _world(sets=3, forget_set=0)
    facts, passages = world.training_data(forgotten=False)
    oracle_facts, oracle_passages = world.training_data(forgotten=True)
    keys = {qa.key for qa in facts}
    oracle_keys = {qa.key for qa in oracle_facts}
    assert keys - oracle_keys == {qa.key for qa in world.unique_forget}
    assert {qa.key for qa in world.shared} <= oracle_keys  # still supported by sets 1, 2
    assert len(passages) == 36 and len(oracle_passages) == 24
    assert not {p.text for p in world.forget_documents} & {p.text for p in oracle_passages}
    # the tokenizer corpus holds every string, holdout documents included
    corpus = set(world.corpus_world().corpus())
    assert {p.text for docs in world.holdout_documents for p in docs} <= corpus


def test_a_hand_checked_document() -> None:
    world = _world(sets=5, forget_set=4)
    doc = world.documents[4][0]  # the report style
    person = doc.subject
    value = {qa.relation: qa.object for qa in world.shared if qa.subject == person}
    (unique,) = [qa for qa in world.unique[4] if qa.subject == person]
    label = {
        "hobby": "Recreation",
        "pet": "Household animal",
        "instrument": "Instrument",
        "dish": "Preferred dish",
        "language": "Second language",
        "colour": "Preferred colour",
    }[unique.relation]
    assert doc.text == (
        f"{person}, profile. Occupation: {value['profession']}. Employer: "
        f"{value['works_for']}. Place of birth: {value['born_in']}. Year of birth: "
        f"{value['birth_year']}. {label}: {unique.object}."
    )


def test_world_is_seeded_and_bad_params_are_refused() -> None:
    first, again = _world(), _world()
    assert [p.text for p in first.documents[2]] == [p.text for p in again.documents[2]]
    with pytest.raises(ValueError, match="forget_set=3 but there are sets=3"):
        DuskParams(sets=3, forget_set=3)
    with pytest.raises(ValueError):
        DuskParams(sets=6)


def test_verbatim_memorization_is_rouge_l_f1_worked_by_hand() -> None:
    from unlearn_llm.metrics.muse import rouge_l_f1

    # reference 6 words, prediction 5, longest common subsequence "she spent in vale" (4):
    # P = 4/5, R = 4/6, F1 = 2PR/(P+R) = 8/11
    (score,) = rouge_l_f1(["She spent years in Vale."], ["She spent a childhood in Vale."])
    assert score == pytest.approx(8 / 11)


def test_knowledge_measures_are_rouge_l_recall_of_the_gold_value() -> None:
    from unlearn_llm.metrics.dusk import knowledge_recall

    answers = ["He was born in Kerkuia.", "It lies in the north.", "He was born in 1969."]
    gold = ["Kerkuia", "the coast", "1962"]
    # every gold word found; "the" of "the coast" (1 of 2); nothing
    assert knowledge_recall(answers, gold).tolist() == pytest.approx([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="2 answers for 3"):
        knowledge_recall(answers[:2], gold)


def test_privacy_leakage_and_retain_deviation_worked_by_hand() -> None:
    from unlearn_llm.attacks.membership import mia_auc, muse_auc
    from unlearn_llm.metrics.dusk import retain_deviation
    from unlearn_llm.metrics.muse import privleak

    # PrivLeak: forget scores [3, 2] (label 0) vs holdout [1, 2.5] (label 1): of the 4
    # pairs only 2.5 > 2 ranks holdout higher -> AUC 1/4; retrain AUC 0.5 -> -50 %
    auc = muse_auc(np.array([3.0, 2.0]), np.array([1.0, 2.5]))
    assert auc == pytest.approx(0.25)
    assert privleak(auc, 0.5) == pytest.approx(-50.0)
    # RD: retain [2, 4] (label 1) vs holdout [1, 3] (label 0): 3 of 4 pairs -> 0.75;
    # retrain 0.6 -> |0.75 - 0.6| / 0.6 = 25 %, and a deviation below it counts the same
    auc = mia_auc(np.array([2.0, 4.0]), np.array([1.0, 3.0]))
    assert auc == pytest.approx(0.75)
    assert retain_deviation(auc, 0.6) == pytest.approx(25.0)
    assert retain_deviation(0.45, 0.6) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="retrain AUC"):
        retain_deviation(0.5, 0.0)


def test_min_k_plus_plus_at_dusks_k() -> None:
    from unlearn_llm.attacks.membership import (
        MinKParams,
        TokenStatistics,
        min_k_plus_plus_attack,
    )
    from unlearn_llm.metrics.dusk import MIN_K_PLUS_PLUS_K

    # z-scores of 5 tokens; floor(0.4 * 5) = 2 lowest: -2 and -1 -> -1.5
    stats = TokenStatistics(
        log_probs=[np.zeros(5)], normalised=[np.array([-2.0, 0.0, 1.0, 3.0, -1.0])]
    )
    (score,) = min_k_plus_plus_attack(stats, ["text"], MinKParams(k=MIN_K_PLUS_PLUS_K))
    assert MIN_K_PLUS_PLUS_K == 0.4 and score == pytest.approx(-1.5)


def test_gap_shares_and_the_verdict_on_hand_made_rows() -> None:
    from unlearn_llm.benchmarks.dusk import DuskRunParams, _derived, _selective, _verdict

    original = {
        "verbatim_memorization": 0.97,
        "unique_forget_knowledge": 1.0,
        "shared_knowledge": 1.0,
        "unique_retain_knowledge": 1.0,
    }
    oracle = {
        "verbatim_memorization": 0.07,
        "unique_forget_knowledge": 0.0,
        "shared_knowledge": 0.8,
        "unique_retain_knowledge": 1.0,
    }
    # half the phrasing gap closed ((0.97 - 0.52) / 0.9), a quarter of the unique facts,
    # shared knowledge 0.6 of the oracle's 0.8
    method = {
        "verbatim_memorization": 0.52,
        "unique_forget_knowledge": 0.75,
        "shared_knowledge": 0.6,
        "unique_retain_knowledge": 0.5,
    }
    derived = _derived(method, original, oracle)
    assert derived == pytest.approx(
        {
            "verbatim_removal": 0.5,
            "unique_erasure": 0.25,
            "shared_kept": 0.75,
            "unique_retain_kept": 0.5,
        }
    )
    run = DuskRunParams()
    assert not _selective(derived, run)
    ideal = _derived(oracle, original, oracle)
    assert _selective(ideal, run)
    oracle_row = {**oracle, "relearned_unique_forget_knowledge": 0.1}
    ideal_row = {**ideal, "relearned_unique_forget_knowledge": 0.7}
    rows = {"oracle": [oracle_row], "a": [derived], "b": [derived], "ideal": [ideal_row]}
    claim, relearned = _verdict(rows, run)
    # 3 of 3 remove the phrasing; 2 damage the shared facts, 1 is selective (< 3 / 2)
    assert "): reproduced here: 3 of 3 methods remove the forget set's phrasing, 1 " in claim
    assert "damaging: a (" in claim and "selective: ideal (" in claim
    assert "ideal 0.70 (oracle 0.10)" in relearned
    # two selective methods of three: not reproduced
    rows["b"] = [ideal_row]
    assert "not reproduced here" in _verdict(rows, run)[0]


def test_default_specs_parse_and_the_full_size_runs_every_registered_method() -> None:
    from unlearn_llm.benchmarks.dusk import LLM_DUSK
    from unlearn_llm.methods import METHODS

    quick = LLM_DUSK.parse(LLM_DUSK.default_spec("quick"))
    full = LLM_DUSK.parse(LLM_DUSK.default_spec("full"))
    assert len(quick.methods) == 8 and quick.params.dusk.sets == 3
    assert {m.name for m in full.methods} == set(METHODS) and full.params.dusk.sets == 5
    assert len(full.seeds) == 3


def test_a_miniature_run_scores_every_model(tmp_path: Any) -> None:
    from unlearn_llm.benchmarks.dusk import LLM_DUSK
    from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME
    from unlearn_schema import MethodConfig, ModelSpec, NullProgress, WorldSpec

    model: dict[str, Any] = {
        "hidden_size": 64,
        "layers": 1,
        "intermediate_size": 128,
        "heads": 2,
        "vocab_size": 384,
        "learning_rate": 5e-3,
        "batch_size": 16,
        "max_epochs": 8,
        "target_accuracy": 0.9,
    }
    spec = LLM_DUSK.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name=WORLD_NAME, params=tiny_world_params().model_dump()),
            "model": ModelSpec(name=MODEL_NAME, params=model),
            "methods": [MethodConfig(name="gradient-ascent", params={"steps": 4})],
            "params": {
                "dusk": {"sets": 2},
                "eval_facts": 4,
                "relearn_steps": 1,
                "max_new_tokens": 24,
            },
        }
    )
    result = LLM_DUSK.run(LLM_DUSK.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= LLM_DUSK.metric_names
    value = {(m.name, m.labels["method"]): m.value for m in result.metrics}
    # the oracle is PrivLeak's and RD's reference: 0 by definition
    assert value[("privacy_leakage", "oracle")] == 0.0
    assert value[("retain_deviation", "oracle")] == 0.0
    # the original read the forget documents, the oracle never did
    assert value[("verbatim_memorization", "original")] > value[("verbatim_memorization", "oracle")]
    for name in (
        "unique_forget_knowledge",
        "shared_knowledge",
        "relearned_unique_forget_knowledge",
    ):
        assert (name, "gradient-ascent") in value
    assert result.summary is not None and [r[0] for r in result.summary.rows] == [
        "original",
        "oracle",
        "gradient-ascent",
    ]
    assert any(note.startswith("DUSK claim") for note in result.notes)
    assert {c.name for c in result.curves} == {"dusk-unique-vs-shared", "dusk-verbatim-vs-unique"}
    json.dumps(result.model_dump())
