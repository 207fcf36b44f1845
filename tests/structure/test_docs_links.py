"""Every relative link in the docs and READMEs resolves inside a fresh clone.

The design map once lived outside the repository (`../shared/DESIGN.md`), so a clone had docs
pointing at nothing. This walks every Markdown link in `docs/` and every `README*.md`, and
fails on a target that is missing, that leaves the repository, or that names `../shared`; a
`#fragment` must name a heading of the target (GitHub's anchor rules).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from repo_tree import ROOT, repo_files

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, …


def markdown_files() -> list[Path]:
    """The docs and every README of the repository."""
    return [
        ROOT / rel
        for rel in repo_files("*.md")
        if rel.startswith("docs/") or Path(rel).name.upper().startswith("README")
    ]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with inline code removed (links there are examples)."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, INLINE_CODE.sub("", line)))
    return out


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        found += [(number, m.group(1)) for m in INLINE_LINK.finditer(line)]
        ref = REF_DEF.match(line)
        if ref:
            found.append((number, ref.group(1)))
    return found


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """One line per bad link in `path`: where it is and what is wrong."""
    found = []
    for number, target in links(path):
        where = f"{path.relative_to(root)}:{number}: {target}"
        if "../shared" in target or "DESIGN.md" in target:
            found.append(f"{where}: points at the design outside the repository")
            continue
        if EXTERNAL.match(target):
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.is_relative_to(root):
            found.append(f"{where}: leaves the repository")
        elif not dest.exists():
            found.append(f"{where}: no such file")
        elif fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            found.append(f"{where}: no heading #{fragment} in {dest.relative_to(root)}")
    return found


def test_the_files_checked_include_the_docs_and_every_service_readme() -> None:
    names = {str(p.relative_to(ROOT)) for p in markdown_files()}
    assert {"README.md", "docs/design.md", "docs/architecture.md", "docs/conventions.md"} <= names
    services = [d.name for d in (ROOT / "services").iterdir() if (d / "pyproject.toml").exists()]
    assert services and all(f"services/{s}/README.md" in names for s in services)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path: Path) -> None:
    assert problems(path) == []


def test_no_doc_sends_the_reader_to_the_design_outside_the_repository() -> None:
    """Also in code spans: `../shared/DESIGN.md` was written as code, not as a link."""
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in markdown_files()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "../shared/" in line or "shared/DESIGN.md" in line
    ]
    assert offenders == []


def test_the_checker_catches_a_broken_link_a_missing_anchor_and_an_escape(tmp_path: Path) -> None:
    """The rules above must fail on the mistakes they exist for (a checker that passes all)."""
    assert "wheel-maths" in anchors(ROOT / "docs" / "design.md")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# Design\n\n## Wheel maths\n", encoding="utf-8")
    probe = tmp_path / "docs" / "probe.md"
    probe.write_text(
        "[a](missing.md) [b](design.md#no-such-heading) [c](../../outside.md) "
        "[d](../shared/DESIGN.md) [e](design.md#wheel-maths) [f](https://example.com) "
        "`[g](ignored.md)`\n",
        encoding="utf-8",
    )
    found = problems(probe, root=tmp_path)
    assert [f.split(": ", 1)[1] for f in found] == [
        "missing.md: no such file",
        "design.md#no-such-heading: no heading #no-such-heading in docs/design.md",
        "../../outside.md: leaves the repository",
        "../shared/DESIGN.md: points at the design outside the repository",
    ]
