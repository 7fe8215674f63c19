"""Every recipe runs as written: the fenced code blocks of docs/ are executed.

Per page, in a fresh temporary folder:

- ``python`` blocks run in page order as one script (later blocks see earlier names),
  in a subprocess of this environment's Python;
- ``yaml`` blocks that hold a spec (a ``benchmark:`` key) must pass
  ``unlearn-bench validate``; a block preceded by ``<!-- docs-test: file NAME -->`` or
  whose first line is a comment ``# NAME.yaml`` is written to ``NAME`` first, so that
  the page's commands can use it;
- ``bash`` blocks: every ``unlearn-bench`` command is run (``run`` as ``run --dry-run``
  and ``report``, which reads what the runs wrote, not at all, unless the page is
  marked slow, so that the default suite stays fast); other
  commands (``uv sync``, ``nox``, ``mkdocs``) set up or test the project itself and
  are not run here;
- a ``text`` block preceded by ``<!-- docs-test: output -->`` must appear in what the
  page's python printed (whitespace-insensitive), so quoted numbers are the numbers a
  seeded run prints.

``<!-- docs-test: slow -->`` anywhere on a page moves it to the ``slow`` suite (the nox
``slow`` session); ``<!-- docs-test: requires MODULE -->`` marks the page
``requires(MODULE)``: it runs where that optional module imports (the nox
``tests-extras`` session) and is skipped, with the reason, elsewhere;
``<!-- docs-test: not-run REASON -->`` before a block leaves that one block out, with
its reason in the page.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"(?:<!--\s*docs-test:\s*(?P<mark>[^>]*?)\s*-->\s*\n)?^```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class Page:
    path: Path
    slow: bool
    requires: list[str] = field(default_factory=list)
    python: list[str] = field(default_factory=list)
    bash: list[str] = field(default_factory=list)
    specs: list[tuple[str | None, str]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _pages() -> list[Page]:
    pages = []
    for path in sorted(DOCS.rglob("*.md")):
        if "reference" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        page = Page(path=path, slow="<!-- docs-test: slow -->" in text)
        page.requires = REQUIRES.findall(text)
        for match in FENCE.finditer(text):
            mark = (match.group("mark") or "").strip()
            lang, body = match.group("lang"), match.group("body")
            if mark.startswith("not-run"):
                assert mark.removeprefix("not-run").strip(), f"{path}: not-run needs a reason"
                continue
            if lang == "python":
                page.python.append(body)
            elif lang in ("bash", "sh", "console"):
                page.bash.append(body)
            elif lang == "yaml":
                name = mark.removeprefix("file").strip() if mark.startswith("file") else None
                first = body.splitlines()[0].strip() if body.strip() else ""
                if name is None and re.fullmatch(r"#\s*[\w.-]+\.ya?ml", first):
                    name = first.lstrip("#").strip()  # "# my-spec.yaml" names the file
                page.specs.append((name, body))
            elif lang == "text" and mark == "output":
                page.outputs.append(body)
        if page.python or page.bash or page.specs:
            pages.append(page)
    return pages


REQUIRES = re.compile(r"<!--\s*docs-test:\s*requires\s+([\w.]+)\s*-->")
PAGES = _pages()


def _bench() -> str:
    return str(Path(sys.executable).with_name("unlearn-bench"))


def _commands(block: str, slow: bool) -> list[list[str]]:
    """The ``unlearn-bench`` commands of a bash block, ready to run."""
    commands = []
    joined = re.sub(r"\\\n\s*", " ", block)
    pieces = [piece for line in joined.splitlines() for piece in re.split(r"&&|;", line)]
    for line in pieces:
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#") or "unlearn-bench" not in line:
            continue
        words = shlex.split(line)
        if words[:2] == ["uv", "run"]:
            words = words[2:]
        if not words or words[0] != "unlearn-bench":
            continue
        # A shell redirect (`> spec.yaml`) keeps its meaning: the output goes to a file.
        redirect = words.index(">") if ">" in words else None
        target = words[redirect + 1] if redirect is not None else None
        words = words[:redirect] if redirect is not None else words
        if words[1:2] == ["run"] and not slow and "--dry-run" not in words:
            words.append("--dry-run")
        if words[1:2] == ["report"] and not slow:
            continue  # reads what the page's runs wrote; dry runs write nothing
        commands.append([_bench(), *words[1:], *([">", target] if target else [])])
    return commands


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _run_page(page: Page, tmp_path: Path) -> None:
    for name, body in page.specs:
        data = yaml.safe_load(body)
        if name:
            (tmp_path / name).write_text(body)
        if isinstance(data, dict) and "benchmark" in data:
            spec = tmp_path / (name or "spec-from-docs.yaml")
            spec.write_text(body)
            done = subprocess.run(
                [_bench(), "validate", str(spec)], capture_output=True, text=True, cwd=tmp_path
            )
            assert done.returncode == 0, f"{page.path}: a spec does not validate:\n{done.stderr}"
    printed = ""
    if page.python:
        script = tmp_path / "page.py"
        script.write_text("\n\n".join(page.python))
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 0, f"{page.path}: python blocks fail:\n{done.stderr[-3000:]}"
        printed = done.stdout
    for block in page.bash:
        for command in _commands(block, page.slow):
            target = None
            if ">" in command:
                index = command.index(">")
                command, target = command[:index], command[index + 1]
            done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
            assert done.returncode == 0, (
                f"{page.path}: `{' '.join(command[1:])}` exits {done.returncode}:\n"
                f"{done.stderr[-2000:]}"
            )
            if target is not None:
                (tmp_path / target).write_text(done.stdout)
    for expected in page.outputs:
        assert _normalise(expected) in _normalise(printed), (
            f"{page.path}: the quoted output is not what the page prints now:\n"
            f"quoted:\n{expected}\nprinted:\n{printed[-3000:]}"
        )


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            p,
            id=str(p.path.relative_to(DOCS)),
            marks=([pytest.mark.slow] if p.slow else [])
            + ([pytest.mark.requires(*p.requires)] if p.requires else []),
        )
        for p in PAGES
    ],
)
def test_page_runs_as_written(page: Page, tmp_path: Path) -> None:
    _run_page(page, tmp_path)


def test_the_collector_sees_the_recipes() -> None:
    names = {str(p.path.relative_to(DOCS)) for p in PAGES}
    assert "recipes/own-benchmark.md" in names and "getting-started.md" in names
    assert sum(len(p.python) for p in PAGES) >= 15
