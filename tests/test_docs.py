"""The documents: a short README that points to the rest, and every relative link in any of them
resolving to a file (and, with an #anchor, to a heading of that file)."""

import re
from pathlib import Path

import pytest

from bench import doc_figures

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted(
    [REPO_ROOT / name for name in ("README.md", "CONTRIBUTING.md", "SECURITY.md")]
    + list((REPO_ROOT / "docs").glob("*.md"))
    + [REPO_ROOT / "bench" / "README.md", REPO_ROOT / "deploy" / "README.md"]
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def test_the_readme_is_short_and_shows_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "make run" in readme and "make test" in readme


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(document):
    assert document.is_file()
    for target in LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check here
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        assert linked.exists(), f"{document.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{document.name}: {target} names no heading"


def test_every_figures_region_is_rendered_from_its_committed_file():
    for document in doc_figures.documents():
        text = document.read_text(encoding="utf-8")
        assert doc_figures.render_document(text) == text, f"{document}: run python -m bench.doc_figures"


def test_measured_figures_and_settings_in_the_docs_come_from_files():
    regions = {
        (str(d.relative_to(REPO_ROOT)), kind)
        for d in doc_figures.documents()
        for kind, _ in doc_figures.regions(d.read_text(encoding="utf-8"))
    }
    assert {
        ("bench/README.md", "bench-table"),
        ("bench/README.md", "bench-targets"),
        ("bench/README.md", "long-document-table"),
        ("bench/README.md", "mixed-load-table"),
        ("docs/reliability.md", "translator-killed"),
        ("docs/reliability.md", "summarizer-killed"),
        ("docs/reliability.md", "gcs-killed"),
        ("docs/reliability.md", "backpressure"),
        ("docs/configuration.md", "autoscaling"),
        ("docs/configuration.md", "settings"),
    } <= regions


def test_a_stale_region_is_rendered_again():
    region = "<!-- figures: settings apps.router.config:RouterSettings -->\n| old |\n<!-- /figures -->\n"
    stale = f"before\n{region}after\n"
    rendered = doc_figures.render_document(stale)
    assert (
        rendered != stale
        and rendered.startswith("before\n")
        and rendered.endswith("<!-- /figures -->\nafter\n")
    )
    assert "| `leaf_timeout_s` | `25.0` |" in rendered
    assert doc_figures.render_document(rendered) == rendered
