"""Retain samplers (1:1, cyclic, MELU; arXiv:2509.05316) and how the methods read them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from unlearn_llm.sampling import (
    CyclicSampler,
    MELUSampler,
    Module,
    OneToOneSampler,
    make_sampler,
)


def _pairs(sampler: Any, size: int, epoch: int = 0) -> list[tuple[int, int]]:
    return [
        pair
        for step in sampler.plan(size, epoch)
        for pair in zip(step.forget, step.retain, strict=True)
    ]


def test_one_to_one_pairs_each_forget_row_once_with_a_pooled_retain_row() -> None:
    sampler = OneToOneSampler(forget_rows=4, retain_rows=10, seed=0)
    steps = sampler.plan(2, 0)
    # ceil(4 / 2) steps of 2 pairs: one epoch is the forget set once
    assert [len(step.forget) for step in steps] == [2, 2]
    assert sampler.epoch_steps(2) == 2
    pairs = _pairs(sampler, 2)
    assert sorted(f for f, _ in pairs) == [0, 1, 2, 3]
    assert all(0 <= r < 10 for _, r in pairs)
    # 4 of the 10 retain rows at most are seen in an epoch
    assert len({r for _, r in pairs}) <= 4


def test_cyclic_visits_every_retain_row_once_and_wraps_the_forget_rows() -> None:
    sampler = CyclicSampler(forget_rows=2, retain_rows=5, seed=3)
    # max(2, 5) = 5 pairs: steps of 2, 2, 1
    assert [len(step.retain) for step in sampler.plan(2, 0)] == [2, 2, 1]
    pairs = _pairs(sampler, 2)
    assert Counter(r for _, r in pairs) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    # pair i is (i mod 2, i mod 5): forget row 0 for i = 0, 2, 4, row 1 for i = 1, 3
    assert Counter(f for f, _ in pairs) == {0: 3, 1: 2}
    assert all(f == r % 2 for f, r in pairs)
    # a new epoch is a new order of the same pairs
    assert sorted(_pairs(sampler, 2, 1)) == sorted(pairs)


def test_melu_pairs_forget_rows_with_their_own_module_in_exact_proportions() -> None:
    first = Module("A", (0, 1), {"direct": (0, 1, 2), "indirect": (3,), "general": (6,)})
    second = Module("B", (2,), {"direct": (4,), "indirect": (5,), "general": (7,)})
    sampler = MELUSampler([first, second], forget_rows=3, retain_rows=8, seed=1)
    pairs = _pairs(sampler, 3)
    # max(2, 5) + max(1, 3) = 8 pairs: steps of 3, 3, 2
    assert len(pairs) == 8 and sampler.epoch_steps(3) == 3
    set_of = {0: "direct", 1: "direct", 2: "direct", 3: "indirect", 6: "general"}
    set_of |= {4: "direct", 5: "indirect", 7: "general"}
    module_of_forget = {0: "A", 1: "A", 2: "B"}
    module_of_retain = {r: "A" for r in (0, 1, 2, 3, 6)} | {r: "B" for r in (4, 5, 7)}
    # every forget row is paired only with a retain row of its own module
    assert all(module_of_forget[f] == module_of_retain[r] for f, r in pairs)
    draws = Counter((module_of_retain[r], set_of[r]) for _, r in pairs)
    assert draws == {
        ("A", "direct"): 3,
        ("A", "indirect"): 1,
        ("A", "general"): 1,
        ("B", "direct"): 1,
        ("B", "indirect"): 1,
        ("B", "general"): 1,
    }
    # module A's 5 pairs cycle its 2 forget rows (3 + 2), module B's 3 pairs its one row
    forget_counts = Counter(f for f, _ in pairs)
    assert forget_counts[2] == 3 and sorted([forget_counts[0], forget_counts[1]]) == [2, 3]


def test_streams_follow_one_plan_in_lockstep_and_check_their_rows() -> None:
    sampler = make_sampler("cyclic", 3, 7, seed=0)
    forget = sampler.forget_indices(3, 2)
    retain = sampler.retain_indices(7, 2)
    # two epochs of ceil(7 / 2) = 4 steps, read one stream ahead of the other
    forget_steps = [next(forget).tolist() for _ in range(8)]
    retain_steps = [next(retain).tolist() for _ in range(8)]
    plan = sampler.plan(2, 0) + sampler.plan(2, 1)
    assert forget_steps == [list(step.forget) for step in plan]
    assert retain_steps == [list(step.retain) for step in plan]
    assert sampler.plan(2, 0) == make_sampler("cyclic", 3, 7, seed=0).plan(2, 0)
    with pytest.raises(ValueError, match="built for 7 retain rows"):
        sampler.retain_indices(9, 2)
    with pytest.raises(ValueError, match="unknown retain-sampling strategy"):
        make_sampler("balanced", 3, 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        MELUSampler([Module("A", (0,), {"direct": (9,)})], 1, 3)


def test_methods_draw_the_samplers_rows_and_keep_their_default_without_one() -> None:
    import dataclasses

    import torch
    from unlearn_llm.data import Batch
    from unlearn_llm.methods._common import (
        UnlearnData,
        cycle,
        forget_row_indices,
        retain_minibatches,
    )

    rows = torch.arange(12).view(6, 2)
    batch = Batch(rows, torch.ones_like(rows), rows)
    data = UnlearnData(forget=batch.subset(slice(0, 2)), retain=batch)
    default = retain_minibatches(data, 4, torch.Generator().manual_seed(5))
    reference = cycle(batch, 4, torch.Generator().manual_seed(5))
    for _ in range(3):
        assert torch.equal(next(default).input_ids, next(reference).input_ids)
    sampler = make_sampler("one-to-one", 2, 6, seed=2)
    planned = dataclasses.replace(data, sampler=sampler)
    step = sampler.plan(2, 0)[0]
    drawn = next(retain_minibatches(planned, 2, torch.Generator()))
    assert drawn.input_ids[:, 0].tolist() == [2 * r for r in step.retain]
    forget = next(forget_row_indices(planned, 2, 2, torch.Generator()))
    assert forget.tolist() == list(step.forget)
