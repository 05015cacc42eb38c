"""MkDocs hooks for ganbench's docs site (``hooks:`` in ``mkdocs.yml``).

The Markdown pages are written to be read in the repository too (on GitHub, in an editor), so they link
to any file of the repository: ``../configs/quickstart.yaml``, ``../bench/``, ``../README.md``. A built
site holds only ``docs/``, and ``mkdocs build --strict`` rightly fails on a link it cannot resolve. Rather
than loosen that check (``validation: links: not_found: info`` would hide broken links inside ``docs/`` as
well), these hooks resolve every relative link against the page's place in the repository, before MkDocs
validates the links:

- a link to a file or folder that exists in the repository outside ``docs/`` becomes a link to it in the
  repository's source on ``repo_url`` (``blob/`` for a file, ``tree/`` for a folder, on the branch
  ``extra.source_branch``); a link to a path that does not exist is left alone, so the strict build
  still fails on it;
- a link to a folder inside ``docs/`` becomes a link to that folder's ``index.md``;
- a link to a file that is also a page of the site (``CONTRIBUTING.md``, below) becomes a link to that page;
- every other link (a page, an image, an anchor inside ``docs/``) is left to MkDocs, which checks it.

``CONTRIBUTING.md`` (at the repository's root, where GitHub shows it) is also added to the site as the
page ``contributing.md``, its links resolved from the root as in the repository.
"""

import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.etree import ElementTree

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO = Path(__file__).resolve().parents[1]

#: Pages that are files of the repository outside ``docs/``: site path -> path in the repository.
EXTRA_PAGES = {"contributing.md": "CONTRIBUTING.md"}

#: The page being rendered, as a path in the repository (set by ``on_page_markdown``).
_current = {"page": "", "repo_path": "", "source": ""}


def repository_path(site_path: str) -> str:
    """Where a page of the site lives in the repository: ``concepts.md`` -> ``docs/concepts.md``."""
    return EXTRA_PAGES.get(site_path, f"docs/{site_path}")


def rewrite(url: str, page: str, page_repo_path: str, source: str) -> str:
    """The link ``url`` of the site page ``page`` (``page_repo_path`` in the repository), as the site needs it.

    Args:
        url: an ``href`` or ``src`` as written in the Markdown.
        page: the page's path in the site (``datasets/mnist.md``).
        page_repo_path: the page's path in the repository (``docs/datasets/mnist.md``, ``CONTRIBUTING.md``).
        source: the repository's source URL for files, ``<repo_url>/blob/<branch>`` (``blob`` becomes
            ``tree`` for a folder).
    """
    scheme, netloc, path, query, anchor = urlsplit(url)
    if scheme or netloc or not path or path.startswith("/"):
        return url
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), unquote(path)))
    if target == ".." or target.startswith("../") or not (REPO / target).exists():
        return url  # outside the repository, or missing: MkDocs reports it
    site_pages = {repo_path: site_path for site_path, repo_path in EXTRA_PAGES.items()}
    if target in site_pages:
        relative = posixpath.relpath(site_pages[target], posixpath.dirname(page) or ".")
        return urlunsplit(("", "", relative, query, anchor))
    if target == "docs" or target.startswith("docs/"):
        inside = posixpath.relpath(target, "docs")
        if (REPO / target).is_dir():
            if not (REPO / target / "index.md").is_file():
                return _source_url(source, target, query, anchor, folder=True)
            inside = posixpath.normpath(posixpath.join(inside, "index.md"))
        relative = posixpath.relpath(inside, posixpath.dirname(page) or ".")
        return urlunsplit(("", "", relative, query, anchor))
    return _source_url(source, target, query, anchor, folder=(REPO / target).is_dir())


def _source_url(source: str, target: str, query: str, anchor: str, folder: bool) -> str:
    base = source.replace("/blob/", "/tree/", 1) if folder else source
    return urlunsplit(("", "", f"{base}/{target}", query, anchor))


class _RepositoryLinks(Treeprocessor):
    """Rewrites ``<a href>`` and ``<img src>`` of the page being rendered; runs before MkDocs' own link check."""

    def run(self, root: ElementTree.Element) -> None:
        for element in root.iter():
            key = {"a": "href", "img": "src"}.get(element.tag)
            if key and element.get(key):
                element.set(key, rewrite(element.get(key), _current["page"], _current["repo_path"], _current["source"]))


class RepositoryLinksExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Python-Markdown's name)
        # MkDocs registers its link check ("relpath") at priority 0; higher priorities run first.
        md.treeprocessors.register(_RepositoryLinks(md), "ganbench_repository_links", 1)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    if not config.repo_url:
        raise ValueError("mkdocs.yml needs repo_url: links to repository files outside docs/ point there")
    config.markdown_extensions.append(RepositoryLinksExtension())
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for site_path, repo_path in EXTRA_PAGES.items():
        files.append(File.generated(config, site_path, abs_src_path=str(REPO / repo_path)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    branch = config.extra.get("source_branch", "main")
    _current["page"] = page.file.src_uri
    _current["repo_path"] = repository_path(page.file.src_uri)
    _current["source"] = f"{str(config.repo_url).rstrip('/')}/blob/{branch}"
    return markdown
