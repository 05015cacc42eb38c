"""The docs site builds with ``mkdocs build --strict``: no broken link or anchor, no page left out of the nav,
no API reference that fails to render. Also the pieces the build relies on: the link rewriting of
``tools/docs_hooks.py`` and the concepts diagram, which must be its script's output."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SOURCE = "https://example.org/ganbench/blob/main"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_docs_site_builds_without_warnings(tmp_path):
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(package, reason=f"{package} is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    environment = dict(os.environ, NO_MKDOCS_2_WARNING="1", GANBENCH_REPO_URL="https://example.org/ganbench")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-5000:]}"
    assert (site / "index.html").is_file()
    # The API reference rendered the docstrings.
    api = (site / "api" / "losses" / "index.html").read_text()
    assert 'id="ganbench.losses.GANLoss"' in api and "discriminator_loss" in api
    # A link to a repository file outside docs/ points at the repository's source.
    table1 = (site / "table1" / "index.html").read_text()
    assert f'href="{SOURCE}/configs/mnist/paper.yaml"' in table1
    # CONTRIBUTING.md is a page of the site.
    assert "Adding a part" in (site / "contributing" / "index.html").read_text()


@pytest.fixture(scope="module")
def hooks():
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    return load(REPO / "tools" / "docs_hooks.py")


@pytest.mark.parametrize(
    ("url", "page", "expected"),
    [
        ("../configs/quickstart.yaml", "table1.md", f"{SOURCE}/configs/quickstart.yaml"),
        ("../../bench/parzen.py#L3", "datasets/tfd.md", f"{SOURCE}/bench/parzen.py#L3"),
        ("../bench/", "results.md", f"{SOURCE.replace('/blob/', '/tree/')}/bench"),
        ("../README.md", "index.md", f"{SOURCE}/README.md"),
        ("datasets/", "performance.md", "datasets/index.md"),
        ("../datasets/", "datasets/mnist.md", "index.md"),
        ("concepts.md#the-parts", "paper.md", "concepts.md#the-parts"),
        ("../images/quickstart_samples.png", "datasets/mnist.md", "../images/quickstart_samples.png"),
        ("../configs/no_such.yaml", "table1.md", "../configs/no_such.yaml"),  # left for the strict check
        ("https://example.com/x", "index.md", "https://example.com/x"),
        ("#anchor", "index.md", "#anchor"),
    ],
)
def test_links_outside_docs_point_at_the_source_and_others_are_left_to_mkdocs(hooks, url, page, expected):
    assert hooks.rewrite(url, page, f"docs/{page}", SOURCE) == expected


def test_contributing_is_a_page_whose_links_resolve_from_the_repository_root(hooks):
    assert hooks.repository_path("contributing.md") == "CONTRIBUTING.md"
    assert hooks.rewrite("docs/compare.md", "contributing.md", "CONTRIBUTING.md", SOURCE) == "compare.md"
    assert hooks.rewrite("docs/datasets/", "contributing.md", "CONTRIBUTING.md", SOURCE) == "datasets/index.md"
    assert hooks.rewrite("README.md", "contributing.md", "CONTRIBUTING.md", SOURCE) == f"{SOURCE}/README.md"
    assert hooks.rewrite("../../CONTRIBUTING.md#a-data-set", "datasets/index.md", "docs/datasets/index.md", SOURCE) == (
        "../contributing.md#a-data-set"
    )


def test_the_concepts_diagram_is_its_scripts_output():
    script = load(REPO / "docs" / "images" / "make_concepts_diagram.py")
    committed = (REPO / "docs" / "images" / "concepts.svg").read_text()
    assert committed == script.diagram(), (
        "docs/images/concepts.svg is stale: python docs/images/make_concepts_diagram.py"
    )


def test_the_results_page_shows_every_picture_in_docs_images():
    results = (REPO / "docs" / "results.md").read_text()
    pictures = sorted(
        str(path.relative_to(REPO / "docs"))
        for path in (REPO / "docs" / "images").rglob("*")
        if path.suffix.lower() in {".png", ".svg", ".jpg", ".jpeg", ".gif"}
    )
    missing = [picture for picture in pictures if f"]({picture})" not in results]
    assert pictures and not missing, f"docs/results.md does not show: {missing}"
