"""mkdocs hook: fill the benchmarks page from the results store at build time.

The store is ``$UNLEARN_RESULTS`` if set, else ``runs/results.sqlite``. Plots are
embedded as data URIs, so the page needs no generated files in the docs folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MARKER = "<!-- results-store -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from unlearn_bench.report import render_report
    from unlearn_bench.store import ResultsStore

    store = Path(os.environ.get("UNLEARN_RESULTS", "runs/results.sqlite"))
    reports = ResultsStore(store).reports()
    rendered = render_report(reports, "md", embed_images=True, heading_level=2, style=True)
    source = f"*Generated from `{store}` when this site was built.*\n\n"
    return markdown.replace(MARKER, source + rendered)
