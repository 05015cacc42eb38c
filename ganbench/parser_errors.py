"""jsonargparse's config errors, rewritten as one line that names the key, the problem and the fix.

jsonargparse reports a wrong key or type precisely but over several indented lines (a usage block,
then every alternative it tried). :func:`explain` keeps the key, the value and the reason, and adds
a "did you mean" where a close key exists.
"""

import difflib
import importlib
import inspect
import re
from collections.abc import Iterable

import torch

_PARSER_KEY = re.compile(r'Parser key "([^"]+)"')
_CLASS_PATH_PROBLEM = re.compile(r"Problem with given class_path '([^']+)':\s*\n\s*(.+)")
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_EXPECTED = re.compile(r"Expected an? (.+?)\. Got value: (.+)")
_MISSING_FILE = re.compile(r"File does not exist: '([^']+)'")
_PART_MODULES = ("ganbench.losses", "ganbench.nets", "ganbench.priors", "ganbench.optim", "ganbench.data")


def explain(message: str, known_keys: Iterable[str] = (), help_command: str = "ganbench fit --help") -> str:
    """One line for a jsonargparse error ``message``.

    Args:
        message: the text of jsonargparse's ``ArgumentError``.
        known_keys: the parser's keys (``model.schedule``, ...), for "did you mean" suggestions.
        help_command: the command that lists the accepted options.
    """
    text = message.strip()
    key = ".".join(_PARSER_KEY.findall(text))
    see_help = f"run `{help_command}` for the accepted options"
    if text.startswith("unrecognized arguments:"):
        option = text.split(":", 1)[1].strip().split("=")[0].split()[0]
        return f"unknown option {option}{_suggest(option.lstrip('-'), known_keys, '--')}; {see_help}."
    if unknown := re.search(r"does not accept option '([^']+)'", text):
        name = unknown.group(1)
        return f"unknown key '{name}' in the config{_suggest(name, known_keys)}; {see_help}."
    if problem := _CLASS_PATH_PROBLEM.search(text):
        class_path, reason = problem.group(1), problem.group(2).strip()
        if rejected := _NOT_ACCEPTED.search(reason):
            argument = rejected.group(1)
            hint = _suggest(argument, _argument_names(class_path))
            return f"{key}: {class_path} has no argument '{argument}'{hint}; see its docstring for its arguments."
        if reason.startswith(("No module named", "module ")) or "has no attribute" in reason:
            return (
                f"{key}: cannot import '{class_path}' ({reason}); check the spelling, and that its package is "
                "installed or on PYTHONPATH."
            )
    if expected := _EXPECTED.search(text):
        wanted = re.sub(r"<class '([^']+)'>", r"\1", expected.group(1))
        wanted = re.sub(r"^typing\.Literal\[(.+)\]$", r"one of \1", wanted)
        return f"{key}: expected {wanted}, got {expected.group(2).strip()}; {see_help}."
    if missing := _MISSING_FILE.search(text):
        return f"config file {missing.group(1)} does not exist; check the path given to --config."
    if "either not accessible or invalid" in text and key:
        given = re.search(r"Expected a path but (\S+) either not accessible", text)
        value = given.group(1) if given else "the value"
        network = _network_not_subclassing_the_base(value, key)
        if network:
            return f"{key}: {network}"
        hint = _suggest(value.rpartition(".")[2], _ganbench_class_names())
        return f"{key}: {value} is neither an importable class_path nor a valid value{hint}; {see_help}."
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _network_not_subclassing_the_base(class_path: str, key: str) -> str:
    """Says so when ``class_path`` is an ``nn.Module`` given as a generator or discriminator that is not one."""
    base_name = {"model.generator": "Generator", "model.discriminator": "Discriminator"}.get(key)
    module_name, _, class_name = class_path.rpartition(".")
    if base_name is None or not module_name:
        return ""
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        return ""
    if not isinstance(found, type) or not issubclass(found, torch.nn.Module):
        return ""
    return (
        f"{class_path} is an nn.Module but not a ganbench.nets.{base_name}; subclass it "
        f"(from ganbench.nets import {base_name}; class {class_name}({base_name}): ...), which adds nothing "
        "but the contract (docs: ganbench/nets/base.py)."
    )


def _suggest(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    candidates = list(candidates)
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    if not matches:  # a misspelt last part: compare the last parts under the same parent
        parent, _, last = name.rpartition(".")
        siblings = {c.rpartition(".")[2]: c for c in candidates if c.rpartition(".")[0] == parent}
        close = difflib.get_close_matches(last, list(siblings), n=1, cutoff=0.7)
        matches = [siblings[close[0]]] if close else []
    return f" (did you mean {prefix}{matches[0]}?)" if matches else ""


def _argument_names(class_path: str) -> list[str]:
    """The constructor's argument names of ``class_path``, or ``[]`` if it cannot be imported."""
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        return [name for name in inspect.signature(cls).parameters if name not in ("self", "args", "kwargs")]
    except (ImportError, AttributeError, TypeError, ValueError):
        return []


def _ganbench_class_names() -> list[str]:
    """The public classes of ganbench's part modules, which configs may name by their short names."""
    names = []
    for module_name in _PART_MODULES:
        module = importlib.import_module(module_name)
        names += [name for name, value in vars(module).items() if inspect.isclass(value) and not name.startswith("_")]
    return sorted(set(names))


def parser_keys(parser: object) -> list[str]:
    """Every option key of a jsonargparse parser and of its subcommands' parsers."""
    keys: list[str] = []
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in getattr(current, "_actions", []):
            if getattr(action, "dest", None) and action.dest not in ("help", "config"):
                keys.append(action.dest)
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                parsers.extend(choice for choice in choices.values() if hasattr(choice, "_actions"))
    return keys
