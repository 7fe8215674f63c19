"""The benchmark contract: what a benchmark declares, and the typed spec it receives.

A package registers benchmarks and registries through entry points::

    [project.entry-points."unlearn.benchmarks"]
    llm-facts-quick = "unlearn_llm.benchmarks.facts:LLM_FACTS_QUICK"

    [project.entry-points."unlearn.methods"]
    unlearn-llm = "unlearn_llm.methods:METHODS"

A `Benchmark` declares the types of its world, model and run parameters, the
registry its ``methods:`` are looked up in, the request kinds and metric names it
knows, and how many seeds it takes. `Benchmark.parse` checks a
`BenchmarkSpec` against that declaration once, rejecting every field the
benchmark does not read (naming the field path and the accepted values), and returns
a `ParsedSpec` of typed objects; the recipe's ``run`` receives that and parses
nothing itself. A field a spec leaves out takes the value of the benchmark's default
spec of the same size.

Listing reads the registries, whose modules import nothing heavy; a benchmark module
must also keep torch and diffusers imports inside its ``run`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, MethodParams, Size
from unlearn_schema.errors import SpecError, validate_at
from unlearn_schema.registry import MethodSpec, Registry
from unlearn_schema.requests import ForgetRequest
from unlearn_schema.results import BenchmarkResult

BENCHMARKS_GROUP = "unlearn.benchmarks"
METHODS_GROUP = "unlearn.methods"
ATTACKS_GROUP = "unlearn.attacks"
METRICS_GROUP = "unlearn.metrics"
ENTRY_POINT_GROUPS: dict[str, str] = {
    "benchmarks": BENCHMARKS_GROUP,
    "methods": METHODS_GROUP,
    "attacks": ATTACKS_GROUP,
    "metrics": METRICS_GROUP,
}

BenchmarkKind = Literal["quality", "speed"]
"""``quality``: a recipe that scores methods; ``speed``: timings against a named baseline."""

WorldT = TypeVar("WorldT", bound=BaseModel)
ModelT = TypeVar("ModelT", bound=BaseModel)
RunT = TypeVar("RunT", bound=BaseModel)


class NoParams(StrictModel):
    """The parameter type of a part that takes no parameters (any field is an error)."""


class Progress(Protocol):
    """Progress reporting handed to a benchmark; the CLI draws it as a progress bar."""

    def start(self, total: int, description: str) -> None:
        """Announce ``total`` units of work (replaces any previous total)."""

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        """Mark ``steps`` units done, with an optional short status."""


class NullProgress:
    """A `Progress` that reports nothing (library use, tests)."""

    def start(self, total: int, description: str) -> None:
        del total, description

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        del steps, status


@dataclass(frozen=True)
class ParsedMethod:
    """One entry of a spec's ``methods:``: the config as written, its record, typed params."""

    config: MethodConfig
    spec: MethodSpec
    params: MethodParams

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class ParsedSpec(Generic[WorldT, ModelT, RunT]):
    """A spec checked against its benchmark's declaration: typed parts, nothing to parse.

    ``world`` / ``model`` are the typed params of the chosen world and model (``None``
    where the benchmark declares none); ``world_name`` / ``model_name`` the chosen
    names; ``checkpoint`` a local model folder where the benchmark accepts one;
    ``metrics`` the selected metric names (``None``: report all).
    """

    spec: BenchmarkSpec
    world_name: str | None
    world: WorldT
    model_name: str | None
    model: ModelT
    checkpoint: str | None
    params: RunT
    methods: tuple[ParsedMethod, ...]
    requests: tuple[ForgetRequest, ...]
    metrics: frozenset[str] | None

    @property
    def benchmark(self) -> str:
        return self.spec.benchmark

    @property
    def size(self) -> Size:
        return self.spec.size

    @property
    def seeds(self) -> list[int]:
        return list(self.spec.seeds)


def _names(names: Mapping[str, Any] | frozenset[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(names)) or "none"


@dataclass(frozen=True)
class Benchmark(Generic[WorldT, ModelT, RunT]):
    """A registered benchmark recipe and the declaration its specs are checked against.

    - ``worlds`` / ``models``: accepted names -> params type; empty means the benchmark
      takes no world / model and a spec that gives one is an error.
    - ``params_type``: the type of the spec's ``params`` (run knobs).
    - ``methods``: the registry ``methods:`` names are looked up in; ``None`` means the
      benchmark takes no methods. ``method_names`` narrows it to the names this recipe
      can run (``None``: every name in the registry).
    - ``metric_names``: every metric name the benchmark reports; a spec's ``metrics:``
      selects among them.
    - ``request_kinds``: the ``kind`` of forget requests it accepts.
    - ``max_seeds``: how many seeds it takes (``None``: any number).
    - ``accepts_checkpoint``: whether ``model.checkpoint`` (a local folder) is read;
      ``checkpoint_hint`` says where to go instead when it is not.
    - ``default_spec(size)``: the spec a plain ``unlearn-bench run NAME`` uses.
    - ``check(parsed)``: cross-field checks the types cannot express (raise
      ``SpecError``/``ValueError`` naming the field).
    - ``run(parsed, progress, out_dir)``: the recipe; ``out_dir`` is where it may
      write artifacts, which the result names by path.
    """

    name: str
    summary: str
    default_spec: Callable[[Size], BenchmarkSpec]
    run: Callable[[ParsedSpec[WorldT, ModelT, RunT], Progress, str], BenchmarkResult]
    params_type: type[RunT] = NoParams  # type: ignore[assignment]
    worlds: Mapping[str, type[WorldT]] = field(default_factory=dict)
    models: Mapping[str, type[ModelT]] = field(default_factory=dict)
    methods: Registry | None = None
    method_names: tuple[str, ...] | None = None
    metric_names: frozenset[str] = frozenset()
    request_kinds: frozenset[str] = frozenset()
    max_seeds: int | None = None
    accepts_checkpoint: bool = False
    # Said when a spec gives model.checkpoint to a benchmark that reads none: where to
    # go instead (e.g. the function that unlearns a user's own checkpoint).
    checkpoint_hint: str | None = None
    check: Callable[[ParsedSpec[WorldT, ModelT, RunT]], None] | None = None
    kind: BenchmarkKind = "quality"
    # Wall seconds a quick run should take on 2 idle cores; slower runs get a note.
    quick_budget_s: float | None = None

    def describe(self) -> dict[str, Any]:
        """Name, kind and summary, as ``unlearn-bench list --json`` prints them."""
        return {"name": self.name, "kind": self.kind, "summary": self.summary}

    def accepted_methods(self) -> tuple[str, ...]:
        """The method names a spec of this benchmark may give."""
        if self.methods is None:
            return ()
        return self.method_names if self.method_names is not None else tuple(self.methods)

    def parse(self, spec: BenchmarkSpec) -> ParsedSpec[WorldT, ModelT, RunT]:
        """Check ``spec`` against the declaration; every problem is one line of a SpecError.

        Parts the spec leaves out come from ``default_spec(spec.size)``.
        """
        if spec.benchmark != self.name:
            raise SpecError([f"benchmark: {spec.benchmark!r} is not {self.name!r}"])
        given = spec.model_fields_set
        default: BenchmarkSpec | None = None

        def fallback() -> BenchmarkSpec:
            nonlocal default
            if default is None:
                default = self.default_spec(spec.size)
            return default

        problems: list[str] = []

        def collect(action: Callable[[], Any]) -> Any:
            try:
                return action()
            except SpecError as error:
                problems.extend(error.problems)
            except ValueError as error:
                problems.append(str(error))
            return None

        if self.max_seeds is not None and len(spec.seeds) > self.max_seeds:
            problems.append(
                f"seeds: {self.name} takes at most {self.max_seeds} seed(s), got {spec.seeds} "
                "(run one spec per seed)"
            )

        world_spec = spec.world if "world" in given else fallback().world
        world_name: str | None = None
        world: Any = None
        if not self.worlds:
            if world_spec is not None:
                problems.append(f"world: {self.name} takes no world, got {world_spec.name!r}")
        elif world_spec is None:
            problems.append(f"world: required; accepted names: {_names(self.worlds)}")
        elif world_spec.name not in self.worlds:
            problems.append(
                f"world.name: unknown world {world_spec.name!r}; accepted: {_names(self.worlds)}"
            )
        else:
            world_name = world_spec.name
            world_type, world_raw = self.worlds[world_name], world_spec.params
            world = collect(lambda: validate_at(world_type, world_raw, "world.params"))

        model_spec = spec.model if "model" in given else fallback().model
        model_name: str | None = None
        model: Any = None
        checkpoint: str | None = None
        if not self.models:
            if model_spec is not None:
                problems.append(f"model: {self.name} takes no model, got {model_spec.name!r}")
        elif model_spec is None:
            problems.append(f"model: required; accepted names: {_names(self.models)}")
        elif model_spec.name not in self.models:
            problems.append(
                f"model.name: unknown model {model_spec.name!r}; accepted: {_names(self.models)}"
            )
        else:
            model_name = model_spec.name
            checkpoint = model_spec.checkpoint
            if checkpoint is not None and not self.accepts_checkpoint:
                hint = f"; {self.checkpoint_hint}" if self.checkpoint_hint else ""
                problems.append(
                    f"model.checkpoint: {self.name} trains its own model and reads no "
                    f"checkpoint, got {checkpoint!r}{hint}"
                )
            model_type, model_raw = self.models[model_name], model_spec.params
            model = collect(lambda: validate_at(model_type, model_raw, "model.params"))

        raw_params = spec.params if "params" in given else fallback().params
        params = collect(lambda: validate_at(self.params_type, raw_params, "params"))

        method_configs = spec.methods if "methods" in given else fallback().methods
        methods: list[ParsedMethod] = []
        if self.methods is None:
            if method_configs:
                problems.append(
                    f"methods: {self.name} takes no methods, got {[m.name for m in method_configs]}"
                )
        else:
            accepted = self.accepted_methods()
            registry = self.methods
            for index, config in enumerate(method_configs):
                path = f"methods[{index}]"
                if config.name not in accepted:
                    problems.append(
                        f"{path}.name: unknown method {config.name!r} for {self.name}; "
                        f"accepted: {', '.join(accepted) or 'none'}"
                    )
                    continue
                record = registry[config.name]
                try:
                    typed = record.validate_params(config.params, f"{path}.params")
                except SpecError as error:
                    problems.extend(error.problems)
                else:
                    methods.append(ParsedMethod(config=config, spec=record, params=typed))

        for index, request in enumerate(spec.requests):
            if request.kind not in self.request_kinds:
                problems.append(
                    f"requests[{index}].kind: {request.kind!r} is not read by {self.name}; "
                    f"accepted: {_names(self.request_kinds)}"
                )

        selected: frozenset[str] | None = None
        if spec.metrics:
            unknown = [name for name in spec.metrics if name not in self.metric_names]
            for name in unknown:
                problems.append(
                    f"metrics: unknown metric {name!r} for {self.name}; "
                    f"accepted: {_names(self.metric_names)}"
                )
            selected = frozenset(spec.metrics)

        if problems:
            raise SpecError(problems)
        parsed: ParsedSpec[WorldT, ModelT, RunT] = ParsedSpec(
            spec=spec,
            world_name=world_name,
            world=world,
            model_name=model_name,
            model=model,
            checkpoint=checkpoint,
            params=params,
            methods=tuple(methods),
            requests=tuple(spec.requests),
            metrics=selected,
        )
        if self.check is not None:
            try:
                self.check(parsed)
            except SpecError:
                raise
            except ValueError as error:
                raise SpecError([str(error)]) from None
        return parsed

    def select_metrics(
        self, parsed: ParsedSpec[WorldT, ModelT, RunT], result: BenchmarkResult
    ) -> BenchmarkResult:
        """``result`` with only the metrics the spec selected (all when it selected none)."""
        if parsed.metrics is None:
            return result
        kept = [metric for metric in result.metrics if metric.name in parsed.metrics]
        return result.model_copy(update={"metrics": kept})
