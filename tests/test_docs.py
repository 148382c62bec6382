"""README.md is the manual's front page and docs/ holds the pages: what must hold without MkDocs installed.

`.ci/run` builds the site with `mkdocs build --strict` (broken links and anchors, pages missing from nav);
these tests keep the same promises in the fast suite, so a page added without a nav entry, or a README
link to a page that moved, fails here first.
"""

import re

import pytest
import yaml

from conftest import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


class _MkdocsLoader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (`!!python/name:`); the nav needs none of them."""


_MkdocsLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def _mkdocs() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_MkdocsLoader)


def test_readme_is_a_front_page_under_12_kb():
    assert len(README.read_bytes()) < 12 * 1024


def test_readme_keeps_the_two_commands_and_the_quick_start():
    readme = README.read_text()
    assert "python3 tasks.py render dev" in readme and "python3 tasks.py test" in readme
    quick_start = readme.split("## Quick start against a cluster", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d)\. \*\*(.+?)\*\*", quick_start, re.M)
    assert [n for n, _ in steps] == ["1", "2", "3", "4", "5"]
    assert [title for _, title in steps] == ["Log in", "Select the stack", "Set the secrets", "Preview", "Apply"]
    assert "```mermaid" in readme


def test_every_readme_link_into_the_project_exists():
    targets = [t for t in LINK.findall(README.read_text()) if not re.match(r"[a-z]+:", t)]
    assert targets, "the README links to the manual's pages"
    missing = [t for t in targets if not (ROOT / t.split("#", 1)[0]).exists()]
    assert missing == []


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    config = _mkdocs()
    assert config["docs_dir"] == "docs" and config["strict"] is True
    nav = _nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages
    assert len(nav) == len(set(nav)), "a page appears twice in nav"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_pages_resolve(page):
    text = (DOCS / page).read_text()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        assert (DOCS / path).is_file(), f"{page} links to {target}, which is not a page under docs/"


def test_the_front_page_and_the_manual_show_the_same_picture():
    def diagram(text: str) -> str:
        return re.search(r"```mermaid\n.*?```", text, re.S).group(0)

    assert diagram(README.read_text()) == diagram((DOCS / "index.md").read_text())


def test_the_site_is_built_strictly_in_ci_and_not_committed():
    run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"mkdocs\" build --strict", run)
    assert re.search(r"^MKDOCS_VERSION=\d+\.\d+\.\d+$", run, re.M)
    assert re.search(r"^MKDOCS_MATERIAL_VERSION=\d+\.\d+\.\d+$", run, re.M)
    assert "/site/" in (ROOT / ".gitignore").read_text().splitlines()
