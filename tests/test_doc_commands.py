"""Every command block in the docs is run by a test, or says why not.

A *command block* is a fenced code block in ``README.md``, ``CONTRIBUTING.md`` or ``docs/**/*.md`` whose
language is ``bash``, ``sh``, ``shell`` or ``console``, or that has no language and starts with a command
(``ganbench ...``, ``python ...``, optionally after ``$`` or ``VAR=value``). Each one must be either

- run by a test: listed in :data:`RUN_BY_TESTS` with the test that runs it, whose file must contain the
  entry's evidence (the command itself, or the arguments the test gives the same entry point), so that the
  list cannot silently go stale; or
- marked, within the two lines above its opening fence, with an HTML comment (invisible on GitHub and in
  the docs site) that says why no test runs it::

      <!-- not run by tests: needs the full MNIST download -->

Blocks that show a program's output, not commands to type, take a language that is not a shell
(```` ```text ````), and are left alone.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
#: The first word of a command, after an optional ``$ `` prompt and ``VAR=value`` assignments.
COMMANDS = re.compile(r"^(?:\$\s+)?(?:\w+=\S*\s+)*(?:\S*/)?(?:ganbench(?:-\w+)?|python3?|pip|mkdocs)(?:\s|$)")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"<!--\s*not run by tests:\s*(\S.*?)\s*-->")


@dataclass(frozen=True)
class RunBy:
    """A test that runs a command block: ``test`` (``path::name``) and ``evidence``, text its file contains."""

    test: str
    evidence: str


#: Command blocks that a test runs, by their text (whitespace collapsed: see :func:`normalised`).
RUN_BY_TESTS: dict[str, RunBy] = {
    # CI (.ci/run) runs the README's test command verbatim; tests/test_readme.py checks that it does.
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]" && .venv/bin/python -m pytest -q -p '
    "no:cacheprovider -n auto": RunBy(
        "tests/test_readme.py::test_ci_runs_the_readme_test_command", '(REPO / ".ci" / "run").read_text()'
    ),
    # The same grid and seeds through the same entry point (ganbench.sweep.main), on a tiny config.
    "ganbench sweep --config configs/quickstart.yaml --grid model.loss=Minimax,NonSaturating --seeds 0,1,2 "
    "--dry-run": RunBy(
        "tests/test_sweep.py::test_dry_run_prints_every_command_in_order_and_runs_nothing",
        '"--grid", "model.loss=Minimax,NonSaturating", "--seeds", "0,1,2", "--dry-run"',
    ),
    # docs/own_architecture.md: both documented commands, read from the page, run for 5 steps.
    "ganbench fit --config examples/mylab/configs/mylab.yaml ganbench fit --config configs/quickstart.yaml "
    "--model.generator=mylab.nets.MyGenerator": RunBy(
        "tests/test_examples.py::test_documented_command_trains_mylab_s_networks_and_writes_a_checkpoint_that_loads",
        '"ganbench fit --config examples/mylab/configs/mylab.yaml",',
    ),
    # The test draws the diagram with the script's own function and compares it with the committed SVG.
    "python docs/images/make_concepts_diagram.py": RunBy(
        "tests/test_docs_site.py::test_the_concepts_diagram_is_its_scripts_output", "make_concepts_diagram.py"
    ),
    # The docs site's own build.
    "mkdocs build --strict # the site in build/site; fails on any warning, as tests/test_docs_site.py does": RunBy(
        "tests/test_docs_site.py::test_the_docs_site_builds_without_warnings", '"build", "--strict"'
    ),
}


@dataclass(frozen=True)
class Block:
    file: str  # relative to the repository
    line: int  # of the opening fence, from 1
    language: str
    text: str
    preceding: tuple[str, ...]  # the two lines above the opening fence


def normalised(text: str) -> str:
    """A block's text with every run of blank space made one space: the key of :data:`RUN_BY_TESTS`."""
    return " ".join(text.split())


def documentation_files() -> list[Path]:
    return [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").rglob("*.md"))]


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file (fences may be indented, as inside a list item)."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, language = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence[0] * len(fence)):
            end += 1
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[index + 1 : end]]
        blocks.append(
            Block(
                file=str(path.relative_to(REPO)),
                line=index + 1,
                language=language.lower(),
                text="\n".join(body),
                preceding=tuple(lines[max(0, index - 2) : index]),
            )
        )
        index = end + 1
    return blocks


def is_command_block(block: Block) -> bool:
    if block.language in SHELL_LANGUAGES:
        return True
    if block.language:
        return False
    first = next((line.strip() for line in block.text.splitlines() if line.strip()), "")
    return bool(COMMANDS.match(first))


def command_blocks() -> list[Block]:
    return [block for path in documentation_files() for block in fenced_blocks(path) if is_command_block(block)]


def reason_not_run(block: Block) -> str | None:
    """The reason in a ``<!-- not run by tests: ... -->`` marker within the two lines above the block."""
    for line in block.preceding:
        match = MARKER.search(line)
        if match:
            return match.group(1)
    return None


def test_the_collector_finds_the_command_blocks():
    blocks = command_blocks()
    files = {block.file for block in blocks}
    assert {"README.md", "CONTRIBUTING.md", "docs/table1.md", "docs/parzen.md"} <= files, files
    sample = fenced_blocks(REPO / "docs" / "compare.md")
    assert any(block.text.startswith("ganbench sweep") and "--dry-run" in block.text for block in sample), (
        "an indented block inside a list item was not found"
    )


def test_every_command_block_is_run_by_a_test_or_says_why_not():
    unexplained = [
        f"{block.file}:{block.line}: {block.text.splitlines()[0] if block.text else '(empty)'}"
        for block in command_blocks()
        if normalised(block.text) not in RUN_BY_TESTS and reason_not_run(block) is None
    ]
    assert not unexplained, (
        "command blocks that no test runs and that do not say why (add `<!-- not run by tests: REASON -->` "
        "on one of the two lines above the fence, or the block to RUN_BY_TESTS in tests/test_doc_commands.py "
        "with the test that runs it):\n" + "\n".join(unexplained)
    )


def test_every_block_said_to_be_run_by_a_test_exists_and_is_run_by_it():
    documented = {normalised(block.text) for block in command_blocks()}
    problems = []
    for text, run_by in RUN_BY_TESTS.items():
        if text not in documented:
            problems.append(f"no command block reads {text!r} any more: update or remove its entry")
        path, _, name = run_by.test.partition("::")
        source = (REPO / path).read_text() if (REPO / path).is_file() else ""
        if not re.search(rf"^\s*def {re.escape(name)}\(", source, flags=re.MULTILINE):
            problems.append(f"{run_by.test} does not exist")
        if run_by.evidence not in source:
            problems.append(f"{path} does not contain {run_by.evidence!r}")
    assert not problems, "\n".join(problems)


def test_a_block_marked_not_run_is_not_also_said_to_be_run():
    both = [
        f"{block.file}:{block.line}"
        for block in command_blocks()
        if normalised(block.text) in RUN_BY_TESTS and reason_not_run(block) is not None
    ]
    assert not both, "blocks both marked as not run and listed in RUN_BY_TESTS: " + ", ".join(both)


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("bash", "anything", True),
        ("console", "$ ganbench fit", True),
        ("", "$ python bench/parzen.py\noutput", True),
        ("", "OMP_NUM_THREADS=1 python bench/x.py", True),
        ("", ".venv/bin/ganbench fit", True),
        ("", "log p(x) = ...", False),
        ("", "ganbench: error: data/tfd/TFD_48x48.mat not found.", False),
        ("text", "ganbench fit", False),
        ("python", "import ganbench", False),
    ],
)
def test_what_counts_as_a_command_block(language, text, expected):
    assert is_command_block(Block("x.md", 1, language, text, ())) is expected


def test_markers_are_read_from_the_two_lines_above_only():
    marked = Block("x.md", 3, "bash", "ganbench fit", ("<!-- not run by tests: needs TFD -->", ""))
    too_far = Block("x.md", 4, "bash", "ganbench fit", ("", ""))
    assert reason_not_run(marked) == "needs TFD"
    assert reason_not_run(too_far) is None
    assert reason_not_run(Block("x.md", 3, "bash", "x", ("<!-- not run by tests: -->",))) is None
