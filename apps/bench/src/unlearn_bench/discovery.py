"""Find what installed packages register through entry points."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from unlearn_schema import BENCHMARKS_GROUP, ENTRY_POINT_GROUPS, Benchmark


class UnknownBenchmarkError(LookupError):
    """A benchmark name that no installed package registers."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        listing = ", ".join(known) if known else "none (install a package such as graph-algos)"
        super().__init__(f"unknown benchmark {name!r}; installed benchmarks: {listing}")


@dataclass
class PackageParts:
    """The names one distribution registers in each group."""

    package: str
    version: str
    benchmarks: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def installed_parts() -> list[PackageParts]:
    """Every distribution that registers something, with its parts, sorted by name.

    Only entry-point names are read, so listing imports no package code.
    """
    parts: dict[str, PackageParts] = {}
    for kind, group in ENTRY_POINT_GROUPS.items():
        for ep in _entry_points(group):
            dist = ep.dist
            name = dist.name if dist is not None else "(unknown)"
            version = dist.version if dist is not None else "?"
            entry = parts.setdefault(name, PackageParts(package=name, version=version))
            getattr(entry, kind).append(ep.name)
    return [parts[name] for name in sorted(parts)]


def benchmark_names() -> list[str]:
    """Names of every installed benchmark."""
    return [ep.name for ep in _entry_points(BENCHMARKS_GROUP)]


def load_benchmark(name: str) -> tuple[Benchmark, str]:
    """The registered benchmark ``name`` and the distribution that provides it."""
    matches = [ep for ep in _entry_points(BENCHMARKS_GROUP) if ep.name == name]
    if not matches:
        raise UnknownBenchmarkError(name, benchmark_names())
    if len(matches) > 1:
        owners = sorted(ep.dist.name if ep.dist else "?" for ep in matches)
        raise LookupError(f"benchmark {name!r} is registered by several packages: {owners}")
    ep = matches[0]
    benchmark = ep.load()
    if not isinstance(benchmark, Benchmark):
        raise TypeError(
            f"entry point {ep.value!r} for benchmark {name!r} is a {type(benchmark).__name__}, "
            "not an unlearn_schema.Benchmark"
        )
    return benchmark, ep.dist.name if ep.dist is not None else "(unknown)"
