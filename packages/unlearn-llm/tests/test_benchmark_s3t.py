"""The llm-s3t benchmark: specs parse and are checked, the deletion-stream replay matches a
hand-worked layout, and a tiny run reports exactness, costs and a serialisable result."""

from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_llm.benchmarks.s3t import LLM_S3T, deletions_before_retrain
from unlearn_schema import NullProgress, SpecError


@pytest.mark.parametrize("size", ["quick", "full"])
def test_default_specs_parse(size: Any) -> None:
    parsed = LLM_S3T.parse(LLM_S3T.default_spec(size))
    assert parsed.params.s3t.sequences <= parsed.params.s3t.slices


def test_more_deletions_than_facts_is_refused() -> None:
    spec = LLM_S3T.default_spec("quick")
    bad = spec.model_copy(update={"params": {**spec.params, "deletable_facts": 6, "deletions": 7}})
    with pytest.raises(SpecError, match=r"deletions=7 exceeds params\.deletable_facts=6"):
        LLM_S3T.parse(bad)


def test_deletion_stream_replay_on_a_hand_worked_layout() -> None:
    # One shard, three slices of one item each; cyclic sequences (0,1,2), (1,2,0), (2,0,1).
    layout = [[[0], [1], [2]]]
    sequences = [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
    # Deleting items 0 and 1 leaves (2,0,1) with one valid adapter; item 2 kills the shard.
    assert deletions_before_retrain(layout, sequences, [0, 1, 2]) == 2
    # SISA: the shard dies at the first deletion.
    assert deletions_before_retrain(layout, None, [0, 1, 2]) == 0
    # Two shards of SISA survive one deletion, not two in different shards.
    two = [[[0], [1]], [[2], [3]]]
    assert deletions_before_retrain(two, None, [0, 1, 2, 3]) == 2
    assert deletions_before_retrain(two, [(0, 1), (1, 0)], [0, 2, 1, 3]) == 3


def test_tiny_run_is_exact_and_deletes_without_training() -> None:
    from unlearn_llm.models import tiny_model_params
    from unlearn_llm.worlds.facts import tiny_world_params

    spec = LLM_S3T.default_spec("quick")
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": tiny_world_params().model_dump()}),
            "model": spec.model.model_copy(update={"params": tiny_model_params().model_dump()}),
            "params": {
                "s3t": {"shards": 2, "slices": 2, "sequences": 2, "epochs": 1, "lora_rank": 2},
                "deletable_facts": 12,
                "deletions": 3,
                "full_epochs": 1,
                "stream_orders": 3,
            },
        }
    )
    result = LLM_S3T.run(LLM_S3T.parse(spec), NullProgress(), "")
    values = {(m.name, m.labels.get("system")): m.value for m in result.metrics}
    assert values[("exact_match", None)] == 1.0
    assert values[("deletion_steps", "s3t")] == 0.0
    assert values[("full_retrain_steps", "full")] > 0
    assert (
        values[("deletions_before_retrain", "s3t")] >= values[("deletions_before_retrain", "sisa")]
    )
    assert result.curves and result.curves[0].series[0].x[0] == 0.0
    json.dumps(result.model_dump())
