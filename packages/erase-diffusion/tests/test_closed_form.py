"""The closed-form solver against its straightforward oracle, on random matrices."""

from __future__ import annotations

import pytest
import torch
from erase_diffusion.methods.cross_attention import closed_form_update, reference_update
from erase_diffusion.methods.rece import derive_embeddings


def _problem(n: int, m: int = 40, d: int = 32, seed: int = 0) -> tuple[list[torch.Tensor], ...]:
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(out, d, generator=g) for out in (16, 24, 48)]
    erased = torch.randn(n, d, generator=g, dtype=torch.float64)
    targets = torch.randn(n, d, generator=g, dtype=torch.float64)
    preserve = torch.randn(m, d, generator=g, dtype=torch.float64)
    return weights, erased, targets, preserve  # type: ignore[return-value]


@pytest.mark.parametrize("n", [3, 50])  # low-rank path (n < d) and shared d×d path
def test_fast_update_equals_the_reference(n: int) -> None:
    weights, erased, targets, preserve = _problem(n)
    fast = closed_form_update(weights, erased, targets, preserve, 0.7, 0.1)
    for w, new in zip(weights, fast, strict=True):
        ref = reference_update(w, erased, targets, preserve, 0.7, 0.1)
        assert (new - ref).norm() / (ref - w).norm() < 1e-4


def test_update_maps_erased_rows_to_the_anchor_image_and_keeps_preserved_rows() -> None:
    # Few constraints in a 32-d space: the minimiser meets them almost exactly.
    weights, erased, targets, preserve = _problem(n=4, m=10)
    new = closed_form_update(weights, erased, targets, preserve, 1.0, 1e-4)
    for w, w_new in zip(weights, new, strict=True):
        w64, n64 = w.double(), w_new.double()
        anchor_image = targets @ w64.T
        assert (erased @ n64.T - anchor_image).norm() / anchor_image.norm() < 1e-3
        assert (erased @ w64.T - anchor_image).norm() / anchor_image.norm() > 0.5
        kept = preserve @ w64.T
        assert (preserve @ n64.T - kept).norm() / kept.norm() < 1e-3


def test_non_positive_weights_are_rejected() -> None:
    weights, erased, targets, preserve = _problem(3)
    with pytest.raises(ValueError, match="preserve_weight λ must be > 0, got 0"):
        closed_form_update(weights, erased, targets, preserve, 0.0, 0.1)
    with pytest.raises(ValueError, match="ridge γ must be > 0, got -1"):
        closed_form_update(weights, erased, targets, preserve, 1.0, -1.0)


def test_derived_embedding_regenerates_the_erased_image() -> None:
    weights, erased, targets, preserve = _problem(n=4, m=10)
    edited = closed_form_update(weights, erased, targets, preserve, 1.0, 1e-3)
    derived = derive_embeddings(weights, edited, erased, preserve, 1e-3, 0.0)

    def gap(rows: torch.Tensor, ws: list[torch.Tensor]) -> float:
        return float(
            sum(
                (rows @ w.double().T - erased @ w0.double().T).norm()
                for w, w0 in zip(ws, weights, strict=True)
            )
        )

    # In the edited model the derived rows produce keys/values close to the concept's
    # original ones, while the concept's own rows no longer do.
    assert gap(derived, edited) < 0.2 * gap(erased, edited)


def test_shared_derivation_equals_the_per_projection_one() -> None:
    from erase_diffusion.methods.cross_attention import closed_form_edit
    from erase_diffusion.methods.rece import derive_embeddings_shared, weight_gram

    weights, erased, targets, preserve = _problem(n=4, m=10)
    weights = [w.double() for w in weights]
    edit = closed_form_edit(erased, targets, preserve, 1.0, 1e-3)
    edited = edit.apply(weights)
    literal = derive_embeddings(weights, edited, erased, preserve, 1e-3, 1e-2)
    shared = derive_embeddings_shared(weight_gram(weights), edit, erased, preserve, 1e-3, 1e-2)
    assert (shared - literal).norm() / literal.norm() < 1e-8


@pytest.mark.parametrize("n", [3, 50])
def test_shared_edit_is_low_rank_only_when_few_rows_are_erased(n: int) -> None:
    from erase_diffusion.methods.cross_attention import closed_form_edit

    _, erased, targets, preserve = _problem(n)
    edit = closed_form_edit(erased, targets, preserve, 1.0, 0.1)
    assert (edit.right is not None) == (2 * n < erased.shape[1])
    assert torch.linalg.matrix_rank(edit.dense()) <= min(n, erased.shape[1])


def test_speed_benchmark_quick_run_reports_every_goal_with_a_flag() -> None:
    from erase_diffusion.benchmarks.speed import ERASE_DIFFUSION_SPEED, METRIC_NAMES
    from unlearn_schema import NullProgress

    # The benchmark's own code on tiny shapes (its quick size): both paths (few rows:
    # low-rank; many: dense), through parse and run as the CLI does.
    parsed = ERASE_DIFFUSION_SPEED.parse(ERASE_DIFFUSION_SPEED.default_spec("quick"))
    result = ERASE_DIFFUSION_SPEED.run(parsed, NullProgress(), "unused")
    assert {m.name for m in result.metrics} <= METRIC_NAMES
    # IRECE's sampling-time rows (method irece / plain) carry no concept count.
    sampling = [m for m in result.metrics if m.labels["method"] in {"irece", "plain"}]
    overhead = {m.name: m.value for m in sampling if m.labels["method"] == "irece"}
    assert {"sampling_s", "irece_overhead", "irece_overhead_met"} <= overhead.keys()
    assert overhead["sampling_s"] > 0 and overhead["irece_overhead_met"] in {0.0, 1.0}
    edits = [m for m in result.metrics if m not in sampling]
    cases = {(m.labels["method"], m.labels["concepts"]) for m in edits}
    assert cases == {("uce", "1"), ("rece", "1"), ("uce", "4"), ("rece", "4")}
    by = {(m.name, m.labels["method"], m.labels["concepts"]): m for m in edits}
    for method, count in cases:
        assert by[("update_relative_error", method, count)].value < 1e-4
        assert by[("error_met", method, count)].value == 1.0
        flags = [
            by[(name, method, count)].value
            for name in ("time_met", "speedup_met", "error_met")
            if (name, method, count) in by
        ]
        assert set(flags) <= {0.0, 1.0}
        assert by[("goals_met", method, count)].value == float(all(flags))
        assert by[("baseline_s", method, count)].unit == "s"
        assert by[("baseline_s", method, count)].value > 0
        assert all(m.direction == "higher" for m in edits if m.name.endswith("_met"))
    # Only 1 and 100 concepts have a time goal.
    assert ("time_met", "uce", "1") in by and ("time_met", "uce", "4") not in by
    assert ("warm_fast_s", "rece", "1") in by and ("warm_fast_s", "uce", "1") not in by
    assert any("load" in note for note in result.notes)
    assert any(note.startswith("baseline: straightforward") for note in result.notes)


def test_grown_edit_reuses_the_prefix_factor_exactly() -> None:
    from erase_diffusion.methods.cross_attention import closed_form_edit

    _, erased, targets, preserve = _problem(n=9, m=12)
    first = closed_form_edit(erased[:3], targets[:3], preserve, 1.0, 0.1)
    second = closed_form_edit(erased[:6], targets[:6], preserve, 1.0, 0.1, extends=first)
    third = closed_form_edit(erased, targets, preserve, 1.0, 0.1, extends=second)  # chained
    for grown, rows in ((second, 6), (third, 9)):
        direct = closed_form_edit(erased[:rows], targets[:rows], preserve, 1.0, 0.1)
        assert grown.right is not None and direct.right is not None
        assert (grown.right - direct.right).norm() / direct.right.norm() < 1e-10
        assert torch.equal(grown.left, direct.left)
    with pytest.raises(ValueError, match="proper prefix"):
        closed_form_edit(erased[:3], targets[:3], preserve, 1.0, 0.1, extends=second)


def test_weight_gram_is_reused_until_a_weight_changes() -> None:
    from erase_diffusion.methods.rece import cached_weight_gram, weight_gram

    weights, *_ = _problem(n=2)
    first = cached_weight_gram(weights)
    assert cached_weight_gram(weights) is first  # same tensors, untouched: reused
    assert torch.equal(first, weight_gram(weights))
    copies = [w.clone() for w in weights]
    assert cached_weight_gram(copies) is not first  # other tensors: computed anew
    with torch.no_grad():
        weights[0][0, 0] += 1.0  # an in-place edit bumps the version counter
    changed = cached_weight_gram(weights)
    assert changed is not first and torch.equal(changed, weight_gram(weights))
