"""The repository stands alone: no tracked file cites notes that live outside it (nor a path of the
machine it was written on), every page link lands inside the clone, and every
``docs/`` page the README links to exists.

A clone is all a plugin author or an operator gets, so a citation of a file beside the repository
(the project's working notes) is a dead end for them; platform facts are cited from ``docs/``, and
architecture sections as "docs/architecture.md §N", never as a bare "DESIGN §N".
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Spelt in pieces so this file does not itself match what it looks for.
OUTSIDE = tuple(f"{a}/{b}" for a, b in (("shared", "platforms"), ("shared", "DESIGN"), ("shared", "STYLE"),
                                          ("..", "shared"), ("", "work/")))
#: A section of the design notes cited by their old name, e.g. "DESIGN §5" or "see DESIGN.md".
BARE_DESIGN_CITATION = re.compile(r"\bDESIGN(?:\s*§|\.md)")
ARCHITECTURE_PAGE = ROOT / "docs" / "architecture.md"


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_cites_notes_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    offenders = []
    for path in _tracked_files():
        if path.resolve() == this_file or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for needle in OUTSIDE:
            if needle in text:
                line = text[: text.index(needle)].count("\n") + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {needle}")
    assert not offenders, "cite docs/ (or the public source) instead:\n" + "\n".join(offenders)


def test_architecture_sections_are_cited_from_docs_not_from_design_notes() -> None:
    this_file = Path(__file__).resolve()
    offenders = []
    for path in _tracked_files():
        if path.resolve() in (this_file, ARCHITECTURE_PAGE) or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for match in BARE_DESIGN_CITATION.finditer(text):
            line = text[: match.start()].count("\n") + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group()}")
    assert not offenders, 'cite "docs/architecture.md §N" instead:\n' + "\n".join(offenders)


def test_architecture_page_keeps_the_cited_sections() -> None:
    headings = re.findall(r"^## (\d+)\. ", ARCHITECTURE_PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert headings == [str(n) for n in range(1, 11)], headings
    cited = set()
    for path in _tracked_files():
        if path.suffix in (".py", ".md") and path.is_file():
            cited |= set(re.findall(r"docs/architecture\.md §(\d+)", path.read_text(encoding="utf-8", errors="ignore")))
    missing = sorted(cited - set(headings), key=int)
    assert not missing, f"docs/architecture.md has no section(s) {missing}, yet code cites them"


def test_docs_pages_linked_from_the_readme_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+)", readme)
    assert links, "README.md links to no docs/ page"
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"README.md links to missing pages: {missing}"


def test_relative_links_between_docs_pages_resolve() -> None:
    broken = []
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "\n".join(broken)


def test_every_relative_link_in_a_tracked_page_stays_in_the_repository() -> None:
    """README.md, docs/, the plugins' and bench's READMEs: a link a reader follows from a clone
    lands on a file of the clone, never beside it (``../../notes``) nor nowhere."""
    root = ROOT.resolve()
    broken = []
    for page in _tracked_files():
        if page.suffix != ".md" or not page.is_file():
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.is_relative_to(root) or not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "\n".join(broken)
