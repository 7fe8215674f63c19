"""Find what installed packages register through entry points."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from unlearn_schema import (
    ATTACKS_GROUP,
    BENCHMARKS_GROUP,
    METHODS_GROUP,
    METRICS_GROUP,
    Benchmark,
    Registry,
)


class UnknownBenchmarkError(LookupError):
    """A benchmark name that no installed package registers."""

    def __init__(self, name: str, known: list[str]) -> None:
        import difflib

        self.name = name
        self.known = known
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(known) if known else "none (install a package such as graph-algos)"
        super().__init__(f"unknown benchmark {name!r}{hint}; installed benchmarks: {listing}")


@dataclass
class PackageParts:
    """What one distribution registers: benchmarks and its method/attack/metric records."""

    package: str
    version: str
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    methods: list[dict[str, Any]] = field(default_factory=list)
    attacks: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _dist_of(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    return (dist.name, dist.version) if dist is not None else ("(unknown)", "?")


def load_registry(ep: EntryPoint) -> Registry:
    """The registry an ``unlearn.methods``/``attacks``/``metrics`` entry point names."""
    registry = ep.load()
    if not isinstance(registry, Registry):
        raise TypeError(
            f"entry point {ep.value!r} ({ep.group}) is a {type(registry).__name__}, "
            "not an unlearn_schema.Registry"
        )
    return registry


def installed_parts() -> list[PackageParts]:
    """Every distribution that registers something, with its parts, sorted by name.

    Loads benchmark declarations and registries, whose modules import no torch.
    """
    parts: dict[str, PackageParts] = {}

    def entry(ep: EntryPoint) -> PackageParts:
        name, version = _dist_of(ep)
        return parts.setdefault(name, PackageParts(package=name, version=version))

    for ep in _entry_points(BENCHMARKS_GROUP):
        benchmark = _load_benchmark_entry(ep)
        entry(ep).benchmarks.append(benchmark.describe())
    for kind, group in (
        ("methods", METHODS_GROUP),
        ("attacks", ATTACKS_GROUP),
        ("metrics", METRICS_GROUP),
    ):
        for ep in _entry_points(group):
            getattr(entry(ep), kind).extend(load_registry(ep).describe())
    return [parts[name] for name in sorted(parts)]


def benchmark_names() -> list[str]:
    """Names of every installed benchmark."""
    return [ep.name for ep in _entry_points(BENCHMARKS_GROUP)]


def _load_benchmark_entry(ep: EntryPoint) -> Benchmark[Any, Any, Any]:
    benchmark = ep.load()
    if not isinstance(benchmark, Benchmark):
        raise TypeError(
            f"entry point {ep.value!r} for benchmark {ep.name!r} is a "
            f"{type(benchmark).__name__}, not an unlearn_schema.Benchmark"
        )
    if benchmark.name != ep.name:
        raise TypeError(
            f"entry point {ep.name!r} names a benchmark called {benchmark.name!r}; "
            "the two must agree"
        )
    return benchmark


def load_benchmark(name: str) -> tuple[Benchmark[Any, Any, Any], str]:
    """The registered benchmark ``name`` and the distribution that provides it."""
    matches = [ep for ep in _entry_points(BENCHMARKS_GROUP) if ep.name == name]
    if not matches:
        raise UnknownBenchmarkError(name, benchmark_names())
    if len(matches) > 1:
        owners = sorted(_dist_of(ep)[0] for ep in matches)
        raise LookupError(f"benchmark {name!r} is registered by several packages: {owners}")
    ep = matches[0]
    return _load_benchmark_entry(ep), _dist_of(ep)[0]
