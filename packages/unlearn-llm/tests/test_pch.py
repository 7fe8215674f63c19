"""The PCH stream: its kinds and counts, near-duplicates after their originals, the
world's forget split is exactly the stream's facts, seeded, and bad sizes refused."""

from __future__ import annotations

import pytest
from unlearn_llm.worlds.facts import build_world, world_params_for
from unlearn_llm.worlds.pch import PCHParams, build_pch_stream, stream_params_for


def _stream(params: PCHParams | None = None, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_pch_stream(
        build_world(world_params_for("quick"), seed), params or PCHParams(), seed
    )


def test_counts_and_kinds() -> None:
    params = PCHParams(personal=5, copyright=3, harmful=2, redundant=2)
    stream = _stream(params)
    kinds = [(r.kind, r.redundant) for r in stream.requests]
    assert len(stream.requests) == params.requests == 12
    assert kinds.count(("personal", False)) == 5
    assert kinds.count(("copyright", False)) == 3
    assert kinds.count(("harmful", False)) == 2
    assert sum(redundant for _, redundant in kinds) == 2
    # personal: 4 facts + a biography; copyright: author + opening + the passage; harmful: 3
    for r in stream.requests:
        if not r.redundant:
            assert len(r.facts) == {"personal": 4, "copyright": 2, "harmful": 3}[r.kind]
            assert len(r.passages) == 1
    assert [r.index for r in stream.requests] == list(range(12))


def test_near_duplicates_follow_their_originals_and_repeat_their_content() -> None:
    stream = _stream()
    for r in stream.requests:
        if r.duplicate_of is None:
            continue
        original = stream.requests[r.duplicate_of]
        assert r.duplicate_of < r.index and not original.redundant
        assert r.subject == original.subject and r.kind == original.kind
        assert {qa.key for qa in r.facts} <= {qa.key for qa in original.facts}
        # three or more facts: one is dropped (a near-duplicate, not a copy)
        assert len(r.facts) == len(original.facts) - (1 if len(original.facts) >= 3 else 0)


def test_world_forget_split_is_the_streams_facts_and_nothing_else() -> None:
    stream = _stream()
    world = stream.world
    streamed = {qa.key for r in stream.requests for qa in r.facts}
    assert {qa.key for qa in world.split("forget")} == streamed
    assert not streamed & {qa.key for qa in world.split("retain")}
    # every streamed passage is a forget passage: the oracle never reads any of them
    forget_texts = {p.text for p in world.passage_split("forget")}
    assert {p.text for r in stream.requests for p in r.passages} == forget_texts
    # works and agents never requested stay retained, with their passages
    relations = {qa.relation for qa in world.split("retain")}
    assert {"written_by", "opening", "precursor", "activation", "lethal_dose"} <= relations
    # the prefix helpers count distinct facts, first seen first
    everything = stream.forgotten(len(stream.requests) - 1)
    assert len(everything) == len(streamed)
    assert stream.forgotten(0) == list(stream.requests[0].facts)


def test_copyright_passage_opens_with_its_title_and_states_its_opening() -> None:
    stream = _stream()
    work = next(r for r in stream.requests if r.kind == "copyright")
    passage = work.passages[0].text
    assert passage.startswith(work.subject + ". ")
    opening = next(qa for qa in work.facts if qa.relation == "opening").object
    assert passage[len(work.subject) + 2 :].lower().startswith(opening)


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    a, b, c = _stream(seed=0), _stream(seed=0), _stream(seed=1)
    assert [r.facts for r in a.requests] == [r.facts for r in b.requests]
    assert [r.subject for r in a.requests] != [r.subject for r in c.requests]


def test_full_stream_has_over_a_hundred_requests() -> None:
    stream = build_pch_stream(
        build_world(world_params_for("full").model_copy(update={"forget_fraction": 0.25}), 0),
        stream_params_for("full"),
        0,
    )
    assert len(stream.requests) >= 100


def test_too_many_people_or_duplicates_is_refused() -> None:
    with pytest.raises(ValueError, match="personal=50 requests but the world trains"):
        _stream(PCHParams(personal=50))
    with pytest.raises(ValueError, match="redundant=20 near-duplicates but only 17"):
        PCHParams(redundant=20)
