"""The built docs site in headless Chromium: maths rendered, images loaded, no console errors.

Run by the nox ``docs`` session after ``mkdocs build`` (``pytest -m browser
tests/browser --site site``). It drives Debian's ``chromium`` through Playwright; no
browser is downloaded. The site is served from a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

PAGES = [
    ("index.html", False),
    ("recipes/erase-diffusion-equations/index.html", True),
    ("benchmarks/index.html", False),
]


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest) -> Path:
    folder = request.config.getoption("--site")
    if not folder:
        pytest.fail("pass --site DIR (the built docs; the nox docs session does this)")
    path = Path(folder)
    assert (path / "index.html").is_file(), f"{path} holds no built site"
    return path


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            del args

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Debian's chromium is not installed (.ci/run installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.mark.parametrize(("page_path", "has_maths"), PAGES)
def test_page_renders_maths_and_images_without_console_errors(
    browser: Any, base_url: str, page_path: str, has_maths: bool
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    failed: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Only requests to our own server count; the theme may try fonts elsewhere.
    page.on(
        "requestfailed",
        lambda req: failed.append(req.url) if req.url.startswith(base_url) else None,
    )
    page.goto(base_url + page_path, wait_until="networkidle")
    state = page.evaluate(
        """() => ({
            katex: document.querySelectorAll('.katex').length,
            katexErrors: document.querySelectorAll('.katex-error').length,
            raw: document.body.innerText.includes('\\\\('),
            images: [...document.images].map(
                i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
            mathFont: [...document.fonts].some(
                f => f.family.includes('KaTeX') && f.status === 'loaded'),
        })"""
    )
    page.close()
    local_errors = [e for e in errors if "127.0.0.1" in e or "Failed" not in e]
    assert not local_errors, f"console errors on {page_path}: {local_errors}"
    assert not failed, f"requests that failed on {page_path}: {failed}"
    assert state["katexErrors"] == 0 and not state["raw"]
    broken = [image["src"][:80] for image in state["images"] if not image["ok"]]
    assert not broken, f"images that did not load on {page_path}: {broken}"
    if has_maths:
        assert state["katex"] >= 10, f"{page_path}: only {state['katex']} rendered formulas"
        assert state["mathFont"], "KaTeX fonts did not load"
    if page_path.startswith("benchmarks"):
        assert state["images"], "the benchmarks page shows no plots"
