"""The usage guide in ``docs/``: every command has a section, every page is reachable, no link is dead.

Pure file reading (plus ``manage.py --help`` in-process): no database, no server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.projects import REPO_ROOT
from support.running import main_exit

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [README, *PAGES]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a ``# comment`` in a shell block is no heading)."""
    return FENCE.sub("", text)


def _headings(path: Path) -> list[tuple[int, str]]:
    return [(len(m.group(1)), m.group(2)) for m in HEADING.finditer(_prose(path.read_text()))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces become hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for _, heading in _headings(path):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    prose = INLINE_CODE.sub("", _prose(path.read_text()))
    return [target for target in LINK.findall(prose) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def _commands_in_help(capsys: pytest.CaptureFixture[str]) -> list[str]:
    result = main_exit(capsys, "--project-dir", str(REPO_ROOT), "--help")
    assert result.code == 0, result
    commands = result.out.split("\nCommands:\n", 1)[1]
    return re.findall(r"^  ([a-z][a-z0-9_-]*)(?:\s|$)", commands, re.M)


def test_the_guide_has_pages_and_an_index() -> None:
    assert DOCS / "README.md" in PAGES
    assert len(PAGES) > 2


def test_every_command_in_help_has_a_section_in_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands_in_help(capsys)
    assert "migrate" in commands and "makemigrations" in commands, commands
    sections: dict[str, list[str]] = {}
    for page in PAGES:
        for level, heading in _headings(page):
            if level in (2, 3):
                sections.setdefault(heading.strip("`"), []).append(page.name)
    missing = [name for name in commands if name not in sections]
    assert not missing, f"commands with no '## name' section in any docs/*.md page: {missing}"
    twice = {name: sections[name] for name in commands if len(sections[name]) > 1}
    assert not twice, f"commands with a section on more than one page: {twice}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.split("#", 1)[0]).resolve() for target in _relative_links(README)}
    unlinked = [page.name for page in PAGES if page.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link to: {unlinked}"


def test_the_usage_guide_stays_out_of_the_readme() -> None:
    commands = [heading for level, heading in _headings(README) if level == 3 and heading in
                {"components", "makemigrations", "migrate", "showmigrations", "rollback", "doctor"}]
    assert not commands, f"command sections belong in docs/, not the README: {commands}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_to_existing_files_and_headings(path: Path) -> None:
    dead: list[str] = []
    for target in _relative_links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            dead.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
            dead.append(f"{target}: no heading with that anchor in {destination.name}")
    assert not dead, f"dead links in {path.relative_to(REPO_ROOT)}: {dead}"


def test_the_link_checker_sees_links_and_skips_code() -> None:
    """The checker's own parsing, so a regex change cannot make every link vanish."""
    assert any(target.endswith("revisions.png") for target in _relative_links(DOCS / "inspecting.md"))
    assert _slug("The scratch database (check, makemigrations)") == "the-scratch-database-check-makemigrations"
    assert _slug("The plain `alembic` command") == "the-plain-alembic-command"
    assert FENCE.sub("", "a\n```sh\n[x](nowhere.md)\n```\nb") == "a\n\nb"
