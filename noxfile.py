"""Sessions: one test session per package (each alone in its own environment), lint,
typecheck, docs, the nightly benchmark, and ``ci`` (what .ci/run runs).

Every environment is built by ``uv sync --frozen`` from the one ``uv.lock``, so the
versions tested are the locked ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["ci"]

PYTHON = "3.11"
ROOT = Path(__file__).parent

# distribution -> folder; each gets a tests-<distribution> session.
PACKAGES: dict[str, str] = {
    "unlearn-schema": "shared",
    "unlearn-bench": "apps/bench",
    "graph-algos": "packages/graph-algos",
    "unlearn-graph": "packages/unlearn-graph",
    "unlearn-llm": "packages/unlearn-llm",
    "erase-diffusion": "packages/erase-diffusion",
    "train-infra": "packages/train-infra",
}
STRICT_TYPED = ["unlearn_schema", "unlearn_bench"]


def _sync(session: nox.Session, *args: str) -> None:
    """Install into the session's environment exactly what the lock says for ``args``."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", *paths, *session.posargs)


def _package_session(dist: str, folder: str) -> None:
    @nox.session(name=f"tests-{dist}", python=PYTHON, tags=["tests"])
    def tests(session: nox.Session) -> None:
        # Only this package, its dependencies and pytest: proves it installs (as a built
        # wheel, not editable) and passes alone.
        _sync(session, "--package", dist, "--group", "test", "--no-editable")
        _pytest(session, f"{folder}/tests")

    tests.__doc__ = f"Tests of {dist} in an environment holding only {dist}."


for _dist, _folder in PACKAGES.items():
    _package_session(_dist, _folder)


@nox.session(name="tests-cross", python=PYTHON, tags=["tests"])
def tests_cross(session: nox.Session) -> None:
    """Cross-package tests (top-level tests/) in the full workspace."""
    _sync(session, "--all-packages")
    _pytest(session, "tests")


@nox.session(name="tests-extras", python=PYTHON, tags=["tests"])
def tests_extras(session: nox.Session) -> None:
    """The tests gated on an optional extra (``@pytest.mark.requires(...)``: plotly,
    ladybug, igraph, ...), with every extra installed; elsewhere they skip."""
    _sync(session, "--all-packages", "--all-extras")
    session.run(
        "pytest", "-m", "requires and not slow", *PACKAGES.values(), "tests", *session.posargs
    )


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """Tests marked slow (nightly sizes), across the whole workspace."""
    _sync(session, "--all-packages")
    session.run(
        "pytest", "-m", "slow", *PACKAGES.values(), "tests", *session.posargs, success_codes=[0, 5]
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _sync(session, "--only-group", "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy: strict on the schema and the app, standard on the packages."""
    _sync(session, "--all-packages")
    strict = [arg for name in STRICT_TYPED for arg in ("-p", name)]
    session.run("mypy", "--strict", *strict)
    others = [dist.replace("-", "_") for dist in PACKAGES]
    rest = [arg for name in others if name not in STRICT_TYPED for arg in ("-p", name)]
    session.run("mypy", *rest)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the docs site with --strict (the benchmarks page comes from a fresh run),
    then check the built pages in headless chromium."""
    _sync(session, "--all-packages")
    out = ROOT / "runs" / "docs"
    store = out / "results.sqlite"
    store.unlink(missing_ok=True)
    session.run("unlearn-bench", "run", "planted-quickstart", "--out", str(out), "--quiet")
    site = ROOT / "site"
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(site),
        env={"UNLEARN_RESULTS": str(store), "NO_MKDOCS_2_WARNING": "1"},
    )
    # The built pages in headless chromium (Debian's; .ci/run installs it): maths
    # rendered, images loaded, no console errors.
    session.run(
        "pytest", "-m", "browser", "tests/browser", "--site", str(site), "-p", "no:cacheprovider"
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Nightly: every registered quality benchmark at its full size, then every speed
    benchmark (the bench-<package> sessions); JSON under runs/nightly/. Every extra is
    installed, so that graph-db-tutorial times the database (graph-algos[db]) and
    igraph's Louvain/Leiden (graph-algos[igraph]) instead of leaving them out."""
    _sync(session, "--all-packages", "--all-extras")
    listing = session.run("unlearn-bench", "list", "--json", silent=True)
    names = [
        b["name"]
        for part in json.loads(str(listing))
        for b in part["benchmarks"]
        if b["kind"] != "speed"
    ]
    out = os.environ.get("UNLEARN_NIGHTLY_OUT", "runs/nightly")
    for name in names:
        session.run("unlearn-bench", "run", name, "--size", "full", "--out", out)
    session.run("unlearn-bench", "report", "--store", f"{out}/results.sqlite", "--format", "html")
    for name in SPEED_SESSIONS:
        session.notify(name)


def _speed_session(dist: str) -> None:
    @nox.session(name=f"bench-{dist}", python=PYTHON, tags=["bench"])
    def speed(session: nox.Session) -> None:
        # A package's speed/memory targets are its registered ``<dist>-speed`` benchmark
        # (benchmarks/speed.py): it measures against a named baseline in the same run
        # and reports ratios and met flags as metrics. Extras carry the optional
        # baselines (igraph for graph-algos).
        # Then the package's other speed benchmarks (such as unlearn-graph's
        # tfg-detection-speed), each at full size too.
        _sync(session, "--all-packages", "--all-extras")
        out = os.environ.get("UNLEARN_NIGHTLY_OUT", "runs/nightly")
        session.run("unlearn-bench", "run", f"{dist}-speed", "--size", "full", "--out", out)
        listing = session.run("unlearn-bench", "list", "--json", silent=True)
        others = [
            b["name"]
            for part in json.loads(str(listing))
            if part["package"] == dist
            for b in part["benchmarks"]
            if b["kind"] == "speed" and b["name"] != f"{dist}-speed"
        ]
        for name in others:
            session.run("unlearn-bench", "run", name, "--size", "full", "--out", out)

    speed.__doc__ = (
        f"Speed/memory benchmarks of {dist} ({dist}-speed first) at full size "
        "(JSON under runs/nightly/)."
    )


SPEED_SESSIONS = [
    f"bench-{dist}"
    for dist, folder in PACKAGES.items()
    if Path(folder, "src", dist.replace("-", "_"), "benchmarks", "speed.py").exists()
]
for _name in SPEED_SESSIONS:
    _speed_session(_name.removeprefix("bench-"))


@nox.session(name="sweep-nightly", python=PYTHON, tags=["bench"])
def sweep_nightly(session: nox.Session) -> None:
    """Nightly: the shipped llm-lr-steps sweep on a local Ray instance (resumes what a
    killed night left), its report with the Pareto plot, then the sweep-speed benchmark
    (Ray vs serial, per-cell overhead); JSON under runs/nightly/."""
    _sync(session, "--all-packages", "--extra", "ray")
    out = os.environ.get("UNLEARN_NIGHTLY_OUT", "runs/nightly")
    store = f"{out}/results.sqlite"
    # exit 1 means a cell failed (recorded in the store): report it, fail at the end
    session.run("unlearn-bench", "sweep", "llm-lr-steps", "--out", out, success_codes=[0, 1])
    session.run("unlearn-bench", "report", "--store", store, "--format", "html")
    session.run("unlearn-bench", "run", "sweep-speed", "--size", "full", "--out", out)


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Crash consistency: SIGKILL benchmark runs at random (20 in CI, 120 with
    ``-- full``) and fail unless the store and output folder mend with no violation;
    then ``snapshot-chaos`` (100 kills inside persist in CI, 1 000 with ``-- full``)
    must report no failure."""
    _sync(session, "--all-packages")
    size = "full" if "full" in session.posargs else "quick"
    out = ROOT / "runs" / "chaos"
    session.run("unlearn-bench", "run", "store-chaos", "--size", size, "--out", str(out), "--quiet")
    latest = max((out / "store-chaos").glob("*.json"), key=lambda p: p.stat().st_mtime)
    metrics = json.loads(latest.read_text())["result"]["metrics"]
    counts = {m["name"]: m["value"] for m in metrics}
    session.log(f"store-chaos: {counts}")
    if counts["violations"] or counts["integrity_failures"]:
        session.error(f"store-chaos found violations: {latest}")
    # Snapshots: kills inside persist (100 in CI, 1 000 with -- full), every bit of a
    # snapshot's metadata, lost fragments, wrong restores; every failure count must be 0.
    session.run(
        "unlearn-bench", "run", "snapshot-chaos", "--size", size, "--out", str(out), "--quiet"
    )
    latest = max((out / "snapshot-chaos").glob("*.json"), key=lambda p: p.stat().st_mtime)
    metrics = json.loads(latest.read_text())["result"]["metrics"]
    failures = {m["name"]: m["value"] for m in metrics if not m.get("labels")}["failures"]
    session.log(f"snapshot-chaos: {failures:.0f} failures")
    if failures:
        session.error(f"snapshot-chaos found failures: {latest}")


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """What CI runs: lint, typecheck, every package alone, cross tests, chaos, docs."""
    for name in [
        "lint",
        "typecheck",
        *(f"tests-{d}" for d in PACKAGES),
        "tests-cross",
        "tests-extras",
        "chaos",
        "docs",
    ]:
        session.notify(name)
