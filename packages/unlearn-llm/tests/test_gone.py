"""GONE + NEDS: the knowledge graph's hop distances and paths on a hand-built graph, the
NEDS loss on a hand-worked example, and a tiny llm-gone run end to end."""

from __future__ import annotations

import math
from typing import Any

import pytest
from unlearn_llm.worlds.facts import QA
from unlearn_llm.worlds.hops import anchor_neighbours, fact_paths, hop_distances, knowledge_graph


def _fact(subject: str, relation: str, obj: str) -> QA:
    return QA(subject, relation, obj, ("q",), "h", "a", "p", ("w",), "retain")


# A born in P, works for O; O based in Q; B born in Q (a trade too); P lies in the north;
# C born in R (not connected to A at all).
FACTS = [
    _fact("A", "born_in", "P"),
    _fact("A", "works_for", "O"),
    _fact("O", "headquartered_in", "Q"),
    _fact("B", "born_in", "Q"),
    _fact("B", "profession", "baker"),
    _fact("P", "region", "the north"),
    _fact("Q", "region", "the south"),
    _fact("C", "born_in", "R"),
    _fact("R", "region", "the east"),
]


def test_hop_distances_on_a_hand_built_graph() -> None:
    graph = knowledge_graph(FACTS)
    # entities are the subjects; "baker" and the regions are literals, not nodes
    assert graph.endpoints(FACTS[4]) == ("B",)
    assert graph.endpoints(FACTS[0]) == ("A", "P")
    removed = [FACTS[0]]  # (A, born_in, P): entities A and P at depth 0, O at 1, Q at 2, B at 3
    distances = hop_distances(graph, removed, max_hops=3)
    assert distances == {
        ("A", "born_in", "P"): 0,
        ("A", "works_for", "O"): 1,  # shares A
        ("P", "region", "the north"): 1,  # shares P
        ("O", "headquartered_in", "Q"): 2,  # touches O, one edge from A
        ("Q", "region", "the south"): 3,  # Q is two edges from A
        ("B", "born_in", "Q"): 3,  # via Q; B's trade (only B, at depth 3) is 4 hops: left out
    }
    assert hop_distances(graph, removed, max_hops=1) == {
        ("A", "born_in", "P"): 0,
        ("A", "works_for", "O"): 1,
        ("P", "region", "the north"): 1,
    }
    retain = [qa for qa in FACTS if qa is not FACTS[0]]
    assert anchor_neighbours(removed, retain) == [FACTS[1], FACTS[5]]
    with pytest.raises(ValueError, match="not in the graph"):
        hop_distances(graph, [_fact("Z", "born_in", "P")])


def test_fact_paths_walk_on_through_objects() -> None:
    graph = knowledge_graph(FACTS)
    works = FACTS[1]
    assert fact_paths(graph, works, 1) == [(works,)]
    assert fact_paths(graph, works, 2) == [(works, FACTS[2])]
    assert fact_paths(graph, works, 3) == [(works, FACTS[2], FACTS[6])]
    assert fact_paths(graph, FACTS[5], 2) == []  # a literal ends the path


def _batch(rows: int) -> Any:
    import torch
    from unlearn_llm.data import Batch

    ids = torch.zeros((rows, 2), dtype=torch.long)
    return Batch(ids, torch.ones_like(ids), ids)


def test_neds_loss_terms_on_a_hand_worked_example() -> None:
    import torch
    from unlearn_llm.methods.neds import reference_kl, uniform_kl

    # Vocabulary of 2. Forget: one answer position with p = (0.8, 0.2); a masked position
    # (p = (0.99, 0.01)) must not count. KL(u || p) = 0.5 ln(0.5/0.8) + 0.5 ln(0.5/0.2).
    forget_logp = torch.tensor([[[0.8, 0.2], [0.99, 0.01]]]).log()
    forget_mask = torch.tensor([[True, False]])
    expected_forget = 0.5 * math.log(0.5 / 0.8) + 0.5 * math.log(0.5 / 0.2)
    assert expected_forget == pytest.approx(0.2231436, abs=1e-7)
    assert float(uniform_kl(forget_logp, forget_mask, _batch(1))) == pytest.approx(0.2231436)
    # Neighbours: two positions. Original p0 = (0.9, 0.1) vs model (0.6, 0.4):
    # 0.9 ln(0.9/0.6) + 0.1 ln(0.1/0.4) = 0.2262892; and p0 = model = (0.3, 0.7): 0.
    model_logp = torch.tensor([[[0.6, 0.4], [0.3, 0.7]]]).log()
    reference_logp = torch.tensor([[[0.9, 0.1], [0.3, 0.7]]]).log()
    both = torch.tensor([[True, True]])
    value = float(reference_kl(model_logp, reference_logp, both, _batch(1)))
    assert value == pytest.approx((0.2262892 + 0.0) / 2, abs=1e-6)
    # NEDS with alpha = 1, beta = 2: 0.2231436 + 2 * 0.1131446
    total = uniform_kl(forget_logp, forget_mask, _batch(1)) + 2 * reference_kl(
        model_logp, reference_logp, both, _batch(1)
    )
    assert float(total) == pytest.approx(0.4494328, abs=1e-6)


def test_neds_forgets_and_keeps_its_anchor_neighbours() -> None:
    import torch
    from unlearn_llm.data import answer_nll, encode_facts
    from unlearn_llm.methods import METHODS, NEDSParams, make_unlearn_data, neds
    from unlearn_llm.models import build_model, tiny_model_params, train_to_memorise
    from unlearn_llm.worlds.facts import build_world, tiny_world_params
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    assert METHODS["neds"].paper == "arXiv:2603.12275"
    torch.set_num_threads(1)
    world = build_world(tiny_world_params(), seed=0)
    params = tiny_model_params()
    tokenizer = train_tokenizer(world, vocab_size=params.vocab_size)
    model = build_model(params, seed=0)
    trained = [*world.split("forget"), *world.split("retain")]
    train_to_memorise(model, encode_facts(tokenizer, trained), params, 0)
    forget = [qa for qa in world.split("forget") if qa.relation == "born_in"]
    data = make_unlearn_data(tokenizer, forget, world.split("retain"))
    # anchors: the retain facts sharing the forget people or their towns
    towns = {qa.object for qa in forget}
    assert data.neighbours is not None and len(data.neighbours) == 2 * sum(
        1 for qa in world.split("retain") if qa.subject in towns or qa.object in towns
    )
    with torch.no_grad():
        before = float(answer_nll(model, data.forget))
    log = neds(model, data, NEDSParams(steps=6, learning_rate=2e-3, eval_every=6))
    assert log.steps == 6 and len(log.forget_losses) == 6 and len(log.retain_losses) == 6
    # the shaping term falls towards 0 (uniform answers) and the forget NLL rises (the
    # 3-epoch model is barely trained, so only a little)
    assert log.forget_losses[-1] < log.forget_losses[0]
    with torch.no_grad():
        assert float(answer_nll(model, data.forget)) > before


@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse_and_too_many_people_is_refused(size: Any) -> None:
    from unlearn_llm.benchmarks.gone import LLM_GONE
    from unlearn_schema import SpecError

    spec = LLM_GONE.default_spec(size)
    parsed = LLM_GONE.parse(spec)
    assert "neds" in [m.name for m in parsed.methods]
    if size == "full":  # KIF finds no subject signature on the full world: left out
        assert not {m.name for m in parsed.methods} & {"kif", "kif-runtime"}
    bad = spec.model_copy(update={"params": {**spec.params, "forget_people": 999}})
    with pytest.raises(SpecError, match=r"params\.forget_people=999 but the world's forget split"):
        LLM_GONE.parse(bad)


def test_tiny_gone_run_reports_every_effect_against_the_oracle() -> None:
    import json

    from unlearn_llm.benchmarks.gone import LLM_GONE
    from unlearn_llm.models import tiny_model_params
    from unlearn_llm.worlds.facts import tiny_world_params
    from unlearn_schema import MethodConfig, NullProgress

    spec = LLM_GONE.default_spec("quick")
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": tiny_world_params().model_dump()}),
            "model": spec.model.model_copy(update={"params": tiny_model_params().model_dump()}),
            "methods": [
                MethodConfig(name="gradient-ascent", params={"steps": 2}),
                MethodConfig(name="neds", params={"steps": 2}),
            ],
            "params": {"forget_people": 2, "eval_facts_per_hop": 4, "attacks": ["relearning"]},
        }
    )
    result = LLM_GONE.run(LLM_GONE.parse(spec), NullProgress(), "")
    names = {m.name for m in result.metrics}
    assert {"unlearning_efficacy", "leakage_2hop", "leakage_3hop", "locality"} <= names
    assert {"hop_accuracy", "forgetting", "relearned_forget_exact_accuracy"} <= names
    by = {(m.name, m.labels.get("method"), m.labels.get("hop")): m for m in result.metrics}
    # the original agrees with itself everywhere; every method row has the oracle beside it
    assert by[("locality", "original", None)].value == 1.0
    assert by[("locality", "neds", "1")].reference == by[("locality", "oracle", "1")].value
    assert {("hop_accuracy", "neds", h) for h in ("1", "2", "3")} <= set(by)
    assert any(note.startswith("GONE claim") for note in result.notes)
    assert by[("heldout_locality", "original", None)].value == 1.0
    assert result.summary is not None and len(result.summary.rows) == 4
    json.dumps(result.model_dump(mode="json"))
