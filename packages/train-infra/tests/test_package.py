from __future__ import annotations

import ast
import re
from importlib.metadata import entry_points
from pathlib import Path

import train_infra
from unlearn_schema.testing import heavy_modules_after, requirement_names

SOURCE = Path(train_infra.__file__).parent


def test_import_is_light() -> None:
    # Listing and validating specs must not import torch: the registries, the
    # benchmark declarations and every params module stay torch-free.
    code = (
        "import train_infra, train_infra.snapshot, train_infra.snapshot.manager, "
        "train_infra.rope_bounds, train_infra.outofcore, train_infra.methods, "
        "train_infra.methods.params, train_infra.metrics, train_infra.metrics.rope, "
        "train_infra.models, train_infra.worlds.disk_graph, train_infra.worlds.gossip, "
        "train_infra.benchmarks.snapshot_recovery, train_infra.benchmarks.rope_feasibility, "
        "train_infra.benchmarks.diskgnn_features, train_infra.benchmarks.p2p_disruption, "
        "train_infra.benchmarks.speed, train_infra.benchmarks.snapshot_chaos"
    )
    assert heavy_modules_after(code) == []


def test_dependencies_stay_within_the_package() -> None:
    names = requirement_names("train-infra")
    assert "unlearn-schema" in names
    assert names.isdisjoint({"diffusers", "transformers", "torch-geometric"})


def test_entry_points_name_the_registries_and_benchmarks() -> None:
    mine = {
        (ep.group, ep.name): ep.value
        for group in ("unlearn.methods", "unlearn.metrics", "unlearn.benchmarks")
        for ep in entry_points(group=group)
        if ep.dist is not None and ep.dist.name == "train-infra"
    }
    assert mine[("unlearn.methods", "train-infra")] == "train_infra.methods:METHODS"
    assert mine[("unlearn.metrics", "train-infra")] == "train_infra.metrics:METRICS"
    benchmarks = {name for group, name in mine if group == "unlearn.benchmarks"}
    assert benchmarks == {
        "snapshot-recovery",
        "snapshot-chaos",
        "rope-feasibility",
        "diskgnn-features",
        "p2p-disruption",
        "train-infra-speed",
    }


def _module_imports(path: Path) -> set[str]:
    """Modules imported at module level (``if TYPE_CHECKING:`` blocks included)."""
    module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    statements = list(ast.parse(path.read_text()).body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If):
            statements += node.body + node.orelse
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("train_infra")}


def test_imports_are_one_way() -> None:
    modules = {
        ".".join(p.relative_to(SOURCE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in SOURCE.rglob("*.py")
    }
    graph = {name: _module_imports(path) & set(modules) - {name} for name, path in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for target in graph[node]:
                if target == start:
                    return [*trail, start]
                if target not in trail:
                    stack.append((target, [*trail, target]))
        return None

    cycles = [cycle for name in graph if (cycle := cycle_from(name))]
    assert not cycles, cycles[0]


def test_no_rest_roles_in_docstrings() -> None:
    roles = re.compile(r":(math|func|class|meth|mod|attr):`|\.\. math::")
    offenders = [str(p) for p in SOURCE.rglob("*.py") if roles.search(p.read_text())]
    assert not offenders
