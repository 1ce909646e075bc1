"""The playground's page (GET /playground on the router): static HTML, CSS and JavaScript, no build
step and nothing fetched from outside; it uses only the public HTTP API. The page is filled in
with where it is served and the leaf apps' route prefixes."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

PLAYGROUND_DIR = Path(__file__).parent
# Where a task shows its run: progress, status, output, the model that answered, an error
RESULTS = Template("""<progress id="$task-progress" max="1" value="0" hidden></progress>
      <p id="$task-status" class="status" aria-live="polite"></p>
      <output id="$task-output" for="$task-text"></output>
      <p id="$task-model" class="model"></p>
      <p id="$task-error" class="error" role="alert" hidden></p>""")


def render_page(root_path: str, translate_prefix: str | None, summarize_prefix: str | None) -> str:
    """index.html with its links under `root_path` (the router's route prefix) and the leaf apps'
    prefixes ("" for an app that is not deployed: the page says so when it is used)."""
    page = Template((PLAYGROUND_DIR / "index.html").read_text())
    return page.substitute(
        root=html.escape(root_path.rstrip("/")),
        translate=html.escape(translate_prefix or ""),
        summarize=html.escape(summarize_prefix or ""),
        translate_results=RESULTS.substitute(task="translate"),
        summarize_results=RESULTS.substitute(task="summarize"),
    )
