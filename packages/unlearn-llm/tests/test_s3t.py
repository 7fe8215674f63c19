"""S3T: deactivation bookkeeping by hand, and bit-exactness against a retrain."""

from __future__ import annotations

from typing import Any

import pytest


def test_cyclic_sequences_put_every_slice_first_once() -> None:
    from unlearn_llm.exact.s3t import cyclic_sequences

    assert cyclic_sequences(3, 3) == [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
    assert cyclic_sequences(4, 2) == [(0, 1, 2, 3), (1, 2, 3, 0)]


def test_deactivation_bookkeeping_on_a_hand_worked_example() -> None:
    from unlearn_llm.exact.s3t import best_sequence, cyclic_sequences, valid_prefix

    sequences = cyclic_sequences(3, 3)  # (0,1,2), (1,2,0), (2,0,1)
    # Nothing deleted: every sequence keeps all three adapters; the first one serves.
    assert best_sequence(sequences, set()) == (0, 3)
    # An item of slice 1 deleted: (0,1,2) keeps adapter 1 only (trained on slice 0),
    # (1,2,0) keeps none, (2,0,1) keeps two (trained on slices 2 and 2+0).
    assert [valid_prefix(s, {1}) for s in sequences] == [1, 0, 2]
    assert best_sequence(sequences, {1}) == (2, 2)
    # Then an item of slice 0: (0,1,2) -> 0, (1,2,0) -> 0, (2,0,1) -> 1.
    assert best_sequence(sequences, {0, 1}) == (2, 1)
    # Every slice dirty: no prefix left, the shard needs a retrain.
    assert best_sequence(sequences, {0, 1, 2})[1] == 0


@pytest.fixture(scope="module")
def small() -> Any:
    import torch
    from unlearn_llm.models import build_model, tiny_model_params
    from unlearn_llm.worlds.facts import build_world, tiny_world_params
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    torch.set_num_threads(1)
    world = build_world(tiny_world_params(), seed=0)
    tokenizer = train_tokenizer(world, vocab_size=384)
    facts = (world.split("retain") + world.split("forget"))[:18]
    base = build_model(tiny_model_params(), seed=0)
    return tokenizer, facts, base


def _params() -> Any:
    from unlearn_llm.exact.s3t import S3TParams

    return S3TParams(shards=2, slices=3, sequences=2, epochs=2, lora_rank=4, batch_size=8)


def _adapter_state(model: Any, names: list[str]) -> dict[str, Any]:
    return {
        key: value.clone()
        for key, value in model.state_dict().items()
        if any(f".{name}." in key for name in names)
    }


def test_served_model_after_deletion_equals_a_retrain_without_the_item(small: Any) -> None:
    import torch
    from unlearn_llm.data import encode_facts
    from unlearn_llm.exact.s3t import adapter_name, build_s3t, train_shard

    tokenizer, facts, base = small
    params = _params()
    system = build_s3t(base, tokenizer, facts, params)
    shard = system.shards[0]
    # Delete an item of slice 1 of shard 0: sequence (0,1,2) keeps stage 0 only,
    # (1,2,0) keeps nothing, so the shard serves sequence 0 with one adapter.
    item = shard.slices[1][0]
    record = system.delete(item)
    assert (record.shard, record.prefix) == (0, 1)
    assert shard.served() == (0, 1)
    assert record.retrain_steps == 0

    # From scratch, the same recipe, on the shard's data without the item.
    slices = [[i for i in part if i != item] for part in shard.slices]
    retrained = train_shard(base, tokenizer, facts, slices, params, shard_index=0)
    kept = [adapter_name(0, 0)]
    served = _adapter_state(shard.model, kept)
    reference = _adapter_state(retrained.model, kept)
    assert served and served.keys() == reference.keys()
    for key in served:
        assert torch.equal(served[key], reference[key]), key
    # The stage that saw the item differs (so the comparison above could fail).
    seen = [adapter_name(0, 1)]
    old, new = _adapter_state(shard.model, seen), _adapter_state(retrained.model, seen)
    assert any(not torch.equal(old[key], new[key]) for key in old)

    # And the served outputs are bit-identical.
    rows = encode_facts(tokenizer, facts[:6])
    shard.serve()
    retrained.activate_prefix(0, 1)
    with torch.no_grad():
        ours = shard.model(input_ids=rows.input_ids, attention_mask=rows.attention_mask).logits
        theirs = retrained.model(
            input_ids=rows.input_ids, attention_mask=rows.attention_mask
        ).logits
    assert torch.equal(ours, theirs)


def test_frozen_prefix_and_base_are_untouched_by_later_stages(small: Any) -> None:
    import torch
    from unlearn_llm.exact.s3t import adapter_name, train_shard

    tokenizer, facts, base = small
    params = _params().model_copy(update={"sequences": 1})
    slices = [[0, 1], [2, 3], [4, 5]]
    one = train_shard(base, tokenizer, facts, slices, params, shard_index=0)
    # A shard trained with only the first slice: its stage 0 must equal the full one's.
    short = train_shard(base, tokenizer, facts, [[0, 1], [], []], params, shard_index=0)
    first = [adapter_name(0, 0)]
    a, b = _adapter_state(one.model, first), _adapter_state(short.model, first)
    assert all(torch.equal(a[key], b[key]) for key in a)
    # The base weights are frozen throughout.
    base_state = base.state_dict()
    for key, value in one.model.get_base_model().state_dict().items():
        if "lora_" not in key and key.replace(".base_layer", "") in base_state:
            assert torch.equal(value, base_state[key.replace(".base_layer", "")]), key


def test_deleting_until_every_shard_is_dead_asks_for_a_retrain(small: Any) -> None:
    from unlearn_llm.exact.s3t import build_sisa

    tokenizer, facts, base = small
    params = _params().model_copy(update={"epochs": 1})
    sisa = build_sisa(base, tokenizer, facts, params)
    assert not sisa.needs_retrain()
    sisa.drop(sisa.shard_items[0][0])
    assert sisa.alive == [False, True] and not sisa.needs_retrain()
    sisa.drop(sisa.shard_items[1][0])
    assert sisa.needs_retrain()
    with pytest.raises(ValueError, match="an ensemble needs at least one live shard"):
        sisa.served_model()


def test_bad_shape_is_refused() -> None:
    from unlearn_llm.exact.s3t import S3TParams, check_params

    with pytest.raises(ValueError, match="sequences=4 > slices=3"):
        check_params(S3TParams(slices=3, sequences=4), 100)
    with pytest.raises(ValueError, match="cannot fill"):
        check_params(S3TParams(shards=4, slices=3, sequences=1), 5)
