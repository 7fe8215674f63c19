from __future__ import annotations

import re

from unlearn_schema.testing import heavy_modules_after, requirement_names


def test_import_is_light() -> None:
    # Importing the package must not import torch: discovery and config validation
    # stay fast, and heavy imports live inside the functions that need them.
    assert heavy_modules_after("import unlearn_llm") == []


def test_dependencies_stay_within_the_package() -> None:
    names = requirement_names("unlearn-llm")
    assert "unlearn-schema" in names and names.isdisjoint(
        {"diffusers", "torch-geometric", "deepspeed"}
    )


def test_registries_and_benchmark_modules_import_no_torch() -> None:
    code = (
        "import unlearn_llm.methods, unlearn_llm.attacks, unlearn_llm.metrics\n"
        "import unlearn_llm.benchmarks.facts, unlearn_llm.benchmarks.speed"
    )
    heavy = ("torch", "transformers", "numpy", "scipy", "sklearn", "peft")
    assert heavy_modules_after(code, heavy) == []


def test_every_registered_name_has_a_summary_a_paper_and_resolves() -> None:
    from unlearn_llm.attacks import ATTACKS
    from unlearn_llm.methods import METHODS
    from unlearn_llm.metrics import METRICS

    # Our own baseline, not from a paper:
    own = {"validity-gate"}
    for registry in (METHODS, ATTACKS, METRICS):
        for name, record in registry.items():
            assert record.summary.strip(), name
            assert (record.paper is None) == (name in own), name
            if record.paper is not None:
                assert re.fullmatch(r"arXiv:\d{4}\.\d{4,5}", record.paper), record.paper
            assert callable(record.function), name
            assert record.params_type().model_dump() is not None, name
    assert set(METHODS) == {
        "gradient-ascent",
        "gradient-difference",
        "npo",
        "simnpo",
        "idk-po",
        "rmu",
        "task-vector",
        "sani",
        "test-time-steering",
        "neds",
        "kif",
        "kif-runtime",
        "fit",
    }
    # The projection is an attachment of the gradient methods, not a method.
    assert "geometric-projection" not in set(METHODS)
    membership = {"loss", "zlib", "min-k", "min-k++", "reference"}
    recovery = {"relearning", "relearning-related", "quantization", "trace-detection"}
    recovery |= {"multihop", "paraphrase", "probes"}
    assert set(ATTACKS) == membership | recovery
    assert METHODS["npo"].paper == "arXiv:2404.05868"
    assert METRICS["forget-quality"].paper == "arXiv:2401.06121"
    assert METRICS["privleak"].paper == "arXiv:2407.06460"
    assert METRICS["dusk-retain-deviation"].paper == "arXiv:2505.15209"
    assert METRICS["dusk-retain-deviation"].function(0.3, 0.6) == 50.0  # 100 |0.3-0.6| / 0.6
    assert ATTACKS["min-k"].paper == "arXiv:2310.16789"


def test_unknown_names_are_errors_in_every_registry() -> None:
    import pytest
    from unlearn_llm.attacks import ATTACKS
    from unlearn_llm.methods import METHODS
    from unlearn_llm.metrics import METRICS
    from unlearn_schema import UnknownNameError

    for registry, close in ((METHODS, "npo"), (ATTACKS, "zlib"), (METRICS, "privleak")):
        with pytest.raises(UnknownNameError, match=f"did you mean '{close}'"):
            registry[close + "x"]
        with pytest.raises(UnknownNameError, match="methods\\[0\\]: unknown"):
            registry.lookup("no-such-name", "methods[0]")


def test_entry_points_name_the_registries_and_benchmarks() -> None:
    from importlib.metadata import entry_points

    from unlearn_llm.attacks import ATTACKS
    from unlearn_llm.methods import METHODS
    from unlearn_llm.metrics import METRICS

    for group, registry in (
        ("unlearn.methods", METHODS),
        ("unlearn.attacks", ATTACKS),
        ("unlearn.metrics", METRICS),
    ):
        (ep,) = [ep for ep in entry_points(group=group) if ep.name == "unlearn-llm"]
        assert ep.load() is registry
    benchmarks = {
        ep.name: ep.load()
        for ep in entry_points(group="unlearn.benchmarks")
        if ep.value.startswith("unlearn_llm.")
    }
    assert set(benchmarks) == {
        "llm-facts-quick",
        "llm-facts-full",
        "unlearn-llm-speed",
        "unlearn-llm-steering-speed",
        "llm-attack-power",
        "llm-restor",
        "llm-dusk",
        "llm-erase-and-check",
        "llm-copy-suppression",
        "llm-s3t",
        "llm-retain-sampling",
        "llm-gone",
        "llm-continual-stream",
    }
    assert all(b.name == name for name, b in benchmarks.items())
    assert benchmarks["unlearn-llm-speed"].kind == "speed"
    assert benchmarks["llm-attack-power"].kind == "quality"


def test_attack_functions_match_the_combined_membership_scores() -> None:
    import numpy as np
    from unlearn_llm.attacks import ATTACKS
    from unlearn_llm.attacks.membership import MinKParams, TokenStatistics, membership_scores

    rng = np.random.default_rng(0)
    stats = TokenStatistics(
        log_probs=[rng.normal(size=n) for n in (3, 5, 8)],
        normalised=[rng.normal(size=n) for n in (3, 5, 8)],
    )
    reference = TokenStatistics(
        log_probs=[rng.normal(size=n) for n in (3, 5, 8)],
        normalised=[rng.normal(size=n) for n in (3, 5, 8)],
    )
    texts = ["a b", "c d e f", "some longer text here"]
    combined = membership_scores(stats, texts, k=0.4, reference=reference)
    params = MinKParams(k=0.4)
    assert np.array_equal(ATTACKS["loss"].function(stats, texts), combined["loss"])
    assert np.array_equal(ATTACKS["zlib"].function(stats, texts), combined["zlib"])
    assert np.array_equal(ATTACKS["min-k"].function(stats, texts, params), combined["min_k"])
    assert np.array_equal(
        ATTACKS["min-k++"].function(stats, texts, params), combined["min_k_plus_plus"]
    )
    assert np.array_equal(
        ATTACKS["reference"].function(stats, texts, reference=reference), combined["reference"]
    )
    assert not np.array_equal(combined["min_k"], combined["loss"])


def test_no_import_cycles_and_no_rest_roles_in_the_package() -> None:
    import ast
    from pathlib import Path

    import unlearn_llm

    root = Path(unlearn_llm.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
        text = path.read_text()
        for role in (":math:", ":func:", ":class:", ":mod:", ":meth:", ".. math::"):
            assert role not in text, f"{path}: reST {role}"
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, {name})]
    assert not cycles, cycles
