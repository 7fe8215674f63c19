"""mkdocs hook: render every formula to HTML with KaTeX at build time, and refuse pages
that still show raw maths or reST roles.

``pymdownx.arithmatex`` (generic mode) wraps ``$...$`` and ``$$...$$`` in
``<span|div class="arithmatex">``; this hook hands those formulas to KaTeX under Node.js
and writes the rendered HTML into the page, so the site shows maths without any
script and works offline. KaTeX comes from the npm registry (pinned below) into
``.cache/docs-node/`` on first build; its stylesheet and fonts are copied into the
site. A formula KaTeX cannot parse, a raw ``\\(`` left in a page, or a reST role such
as ``:func:`` (which the site would print literally) fails the build, naming every page at once.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

KATEX_VERSION = "0.16.22"
ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = Path(os.environ.get("UNLEARN_DOCS_NODE", ROOT / ".cache" / "docs-node"))
KATEX = NODE_PREFIX / "node_modules" / "katex"

_SPAN = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<body>.*?)</(?P=tag)>', re.DOTALL)
_ROLE = re.compile(r":(?:func|math|class|meth|mod|attr|obj|ref|data|exc|py:\w+):(?:`|<code)")
_RAW = re.compile(r"\\\(|\\\[")
_RENDER_JS = r"""
const katex = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([tex, display]) => {
    try {
      return { html: katex.renderToString(tex, { displayMode: display, throwOnError: true }) };
    } catch (error) {
      return { error: String(error.message || error) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def _ensure_katex() -> Path:
    if (KATEX / "package.json").exists():
        version = json.loads((KATEX / "package.json").read_text())["version"]
        if version == KATEX_VERSION:
            return KATEX
    npm = shutil.which("npm")
    if npm is None:
        raise PluginError(
            "the docs render maths with KaTeX under Node.js: install node and npm "
            "(Debian: apt-get install nodejs npm), then build again"
        )
    NODE_PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(NODE_PREFIX),
            "--no-audit",
            "--no-fund",
            f"katex@{KATEX_VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not (KATEX / "package.json").exists():
        raise PluginError(f"npm could not install katex@{KATEX_VERSION}: {done.stderr[-400:]}")
    return KATEX


def _strip_delimiters(body: str) -> tuple[str, bool]:
    text = html.unescape(body).strip()
    for left, right, display in (("\\(", "\\)", False), ("\\[", "\\]", True)):
        if text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)], display
    if text.startswith("$$") and text.endswith("$$"):
        return text[2:-2], True
    if text.startswith("$") and text.endswith("$"):
        return text[1:-1], False
    return text, False


_PROBLEMS: list[str] = []


def _render(formulas: list[tuple[str, bool]], where: str) -> list[str | None]:
    node = shutil.which("node")
    if node is None:
        raise PluginError("the docs render maths with KaTeX under Node.js: node is not on PATH")
    done = subprocess.run(
        [node, "-e", _RENDER_JS, str(_ensure_katex())],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PluginError(f"KaTeX failed on {where}: {done.stderr[-400:]}")
    results = json.loads(done.stdout)
    for (tex, _), result in zip(formulas, results, strict=True):
        if "error" in result:
            _PROBLEMS.append(f"{where}: KaTeX cannot render {tex[:120]!r}: {result['error']}")
    return [result.get("html") for result in results]


def on_config(config: Any) -> Any:
    _PROBLEMS.clear()
    _ensure_katex()
    css = "assets/katex/katex.min.css"
    if css not in config["extra_css"]:
        config["extra_css"].append(css)
    return config


def on_post_page(output: str, page: Any, config: Any) -> str:
    where = page.file.src_uri
    matches = list(_SPAN.finditer(output))
    if matches:
        formulas = [_strip_delimiters(m.group("body")) for m in matches]
        rendered = _render(formulas, where)
        pieces: list[str] = []
        last = 0
        for match, markup in zip(matches, rendered, strict=True):
            if markup is None:
                continue  # reported; the raw formula stays, so the raw check names it too
            pieces.append(output[last : match.start()])
            tag = match.group("tag")
            pieces.append(f'<{tag} class="arithmatex rendered">{markup}</{tag}>')
            last = match.end()
        pieces.append(output[last:])
        output = "".join(pieces)
    text = re.sub(r"<(script|style|code|pre)\b.*?</\1>", "", output, flags=re.DOTALL)
    text = re.sub(r'<span class="katex">.*?</annotation>', "", text, flags=re.DOTALL)
    # Roles render as ":class:<code>Name</code>", so look before code spans are dropped.
    prose = re.sub(r"<(script|style|pre)\b.*?</\1>", "", output, flags=re.DOTALL)
    roles = sorted(set(_ROLE.findall(prose)))
    if roles:
        _PROBLEMS.append(f"{where} shows reST roles the site prints literally: {roles}")
    plain = re.sub(r"<[^>]+>", "", text)
    raw = _RAW.search(plain)
    if raw is not None:
        context = plain[max(raw.start() - 40, 0) : raw.end() + 40].replace("\n", " ")
        _PROBLEMS.append(f"{where} still shows raw maths: ...{context}...")
    return output


def on_post_build(config: Any) -> None:
    if _PROBLEMS:
        raise PluginError("the docs show maths or roles unrendered:\n  " + "\n  ".join(_PROBLEMS))
    target = Path(config["site_dir"]) / "assets" / "katex"
    target.mkdir(parents=True, exist_ok=True)
    dist = _ensure_katex() / "dist"
    shutil.copy2(dist / "katex.min.css", target / "katex.min.css")
    shutil.copytree(dist / "fonts", target / "fonts", dirs_exist_ok=True)
