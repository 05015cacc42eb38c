"""A Griffe extension for the API reference: Sphinx roles in ganbench's docstrings become links.

The docstrings are Google style, and name other objects with Sphinx roles (``:class:`ConfigError```,
``:func:`~ganbench.metrics.parzen.parzen_log_likelihood```), which read well in ``help()`` and an editor.
mkdocstrings would show the role itself as text; this extension rewrites each into an *optional*
mkdocs-autorefs cross-reference: a link where the name resolves to an object shown in the API reference,
plain code where it does not (so a name that is not rendered never fails the strict build).
``~`` shows only the last part of the name, as in Sphinx. Loaded by ``mkdocs.yml``
(``plugins: mkdocstrings: handlers: python: options: extensions``).
"""

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([\w.]+)`")


def qualified(obj: griffe.Object, name: str) -> str:
    """``name`` as written in ``obj``'s docstring, resolved in ``obj``'s scope when it can be."""
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except Exception:  # a name Griffe cannot resolve (a builtin, a module not imported there)
        return name
    return f"{resolved}.{rest}" if rest else resolved


def linked(obj: griffe.Object, text: str) -> str:
    """Every role in ``text`` rewritten as an optional cross-reference."""

    def replace(match: re.Match) -> str:
        short, name = match.group(1), match.group(2)
        title = name.rsplit(".", 1)[-1] if short else name
        identifier = html.escape(qualified(obj, name), quote=True)
        return f'<autoref identifier="{identifier}" optional><code>{html.escape(title)}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles once the whole package is loaded, so that names resolve in their full scope."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = linked(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)
