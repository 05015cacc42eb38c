"""The README's two commands stay true: CI runs the second one verbatim."""

from tests.conftest import REPO


def readme_commands() -> list[str]:
    lines = (REPO / "README.md").read_text().splitlines()
    fenced = [index for index, line in enumerate(lines) if line.startswith("```")]
    blocks = ["\n".join(lines[start + 1 : end]) for start, end in zip(fenced[::2], fenced[1::2])]
    return blocks[:2]


def test_readme_starts_with_the_two_commands():
    setup_and_quickstart, setup_and_tests = readme_commands()
    assert "ganbench fit --config configs/quickstart.yaml" in setup_and_quickstart
    assert "pip install" in setup_and_tests and "pytest" in setup_and_tests


def test_ci_runs_the_readme_test_command():
    _, setup_and_tests = readme_commands()
    assert setup_and_tests.strip() in (REPO / ".ci" / "run").read_text()
