"""Every repo-relative link and file reference resolves inside the repository.

A user who clones ganbench has only the repository, so the docs, configs, docstrings and tests may
point only at files that are in it: Markdown links (with their ``#anchor``), images, and mentions of
``docs/<page>.md`` or ``configs/<name>.yaml`` anywhere in the code. Each test collects every broken
reference first and then fails once, listing them all.
"""

import re
import subprocess
from functools import cache
from pathlib import Path

from tests.conftest import REPO

#: Text that must appear nowhere: files that live outside the repository. Built from pieces so that
#: this file does not mention them itself.
FORBIDDEN = ("PAPER" + ".md", ".." + "/shared", "/work/" + "shared")

#: Folders (and top-level files) whose ``.py``, ``.yaml`` and ``.md`` files are searched for mentions
#: of ``docs/<page>.md`` and ``configs/<name>.yaml``.
MENTION_ROOTS = ("ganbench/", "configs/", "bench/", "docs/", "tests/", "README.md", "CONTRIBUTING.md")
MENTION_SUFFIXES = (".py", ".yaml", ".md")

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
#: ``[text](target)`` or ``![alt](target "title")``; the text may hold one level of brackets.
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
MENTION = re.compile(r"(?<![\w./-])((?:docs|configs)/[\w./-]*?\.(?:md|yaml))(#[\w-]+)?(?![\w-])")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@cache
def repo_files() -> tuple[str, ...]:
    """Tracked files plus untracked ones that git does not ignore, that exist in the work tree."""
    listed: set[str] = set()
    for extra in ([], ["--others", "--exclude-standard"]):
        output = subprocess.run(
            ["git", "ls-files", "-z", *extra], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout
        listed.update(name for name in output.split("\0") if name)
    return tuple(sorted(name for name in listed if (REPO / name).is_file()))


@cache
def text_of(name: str) -> str | None:
    """A file's text, or ``None`` for a binary file."""
    data = (REPO / name).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def exists_in_repo(path: str) -> bool:
    """Whether ``path`` (repo-relative, normalised) is a listed file or a folder holding one."""
    files = repo_files()
    return path in files or any(name.startswith(path.rstrip("/") + "/") for name in files)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` outside fenced code blocks, with inline code spans blanked."""
    lines, in_fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, INLINE_CODE.sub("", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link syntax and code marks dropped, lowercase, punctuation
    other than ``-`` and ``_`` removed, each space a ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(name: str) -> frozenset[str]:
    """Every heading anchor of a Markdown file, with GitHub's ``-1``, ``-2`` suffixes for repeats."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(text_of(name) or ""):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def normalise(path: Path) -> str | None:
    """``path`` relative to the repository root, or ``None`` when it leaves the repository."""
    parts: list[str] = []
    for part in path.parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def check_target(path: str, anchor: str) -> str | None:
    """Why a repo-relative ``path`` (with ``anchor``, possibly empty) does not resolve, or ``None``."""
    if not exists_in_repo(path):
        return "no such file in the repository"
    if anchor and path.endswith(".md") and anchor not in anchors(path):
        return f"no heading with anchor #{anchor} in {path}"
    return None


def markdown_files() -> list[str]:
    return [
        name
        for name in repo_files()
        if name.endswith(".md") and (name in ("README.md", "CONTRIBUTING.md") or name.startswith("docs/"))
    ]


def test_markdown_files_are_found():
    names = markdown_files()
    assert {"README.md", "CONTRIBUTING.md", "docs/concepts.md", "docs/paper.md"} <= set(names), names


def test_every_markdown_link_resolves():
    broken = []
    for name in markdown_files():
        folder = Path(name).parent
        for number, line in prose_lines(text_of(name) or ""):
            for match in MARKDOWN_LINK.finditer(line):
                target = match.group(1)
                if not target or SCHEME.match(target) or target.startswith("//"):
                    continue
                path_part, _, anchor = target.partition("#")
                path = name if not path_part else normalise(folder / path_part)
                problem = "leaves the repository" if path is None else check_target(path, anchor)
                if problem:
                    broken.append(f"{name}:{number}: ({target}): {problem}")
    assert not broken, "broken Markdown links:\n" + "\n".join(broken)


def test_every_mentioned_doc_and_config_exists():
    broken = []
    for name in repo_files():
        if not (name.startswith(MENTION_ROOTS) and name.endswith(MENTION_SUFFIXES)):
            continue
        for number, line in enumerate((text_of(name) or "").splitlines(), start=1):
            for match in MENTION.finditer(line):
                path, anchor = match.group(1), (match.group(2) or "#")[1:]
                problem = check_target(path, anchor)
                if problem:
                    broken.append(f"{name}:{number}: {match.group(0)}: {problem}")
    assert not broken, "mentions of files that are not in the repository:\n" + "\n".join(broken)


def test_no_file_mentions_files_outside_the_repository():
    found = [
        f"{name}:{number}: {text!r}"
        for name in repo_files()
        for number, line in enumerate((text_of(name) or "").splitlines(), start=1)
        for text in FORBIDDEN
        if text in line
    ]
    assert not found, "mentions of files outside the repository:\n" + "\n".join(found)


def test_the_checker_finds_what_it_should():
    """The checks themselves: a slug, a link in code (ignored) and a mention with an anchor."""
    assert slug("Objective, loss and `k` (§3, Algorithm 1)") == "objective-loss-and-k-3-algorithm-1"
    assert slug("Table 1: 225 +- 2") == "table-1-225---2"
    lines = prose_lines("[a](x.md)\n```\n[b](y.md)\n```\n`[c](z.md)`")
    assert [MARKDOWN_LINK.findall(line) for _, line in lines] == [["x.md"], []]
    page = "docs" + "/paper.md"  # written in pieces so that the mention check does not read them here
    assert MENTION.findall(f"see {page}#the-loss, not {page}.") == [(page, "#the-loss"), (page, "")]
    assert check_target("docs" + "/missing-page.md", "") == "no such file in the repository"
    assert check_target("docs/concepts.md", "no-such-heading") is not None
    assert check_target("docs/concepts.md", "the-parts") is None
