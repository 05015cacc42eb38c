"""Every module of ganbench imports on its own, first, in a fresh interpreter: no import cycle hides anywhere.

A cycle shows as an ``ImportError`` naming a partially initialised module, but only when the modules of the cycle
are imported in a particular order; importing each module first, with no ganbench module loaded, tries every
entry point. Two interpreters, side by side, do half each: before each import every ``ganbench`` module is
dropped from ``sys.modules`` (the third-party libraries stay loaded, which keeps it fast).
"""

import json
import pkgutil
import subprocess
import sys

import ganbench
from ganbench.errors import ConfigError, first_line
from tests.conftest import REPO

IMPORT_EACH_FIRST = """
import importlib, json, sys, traceback

failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [module for module in sys.modules if module == "ganbench" or module.startswith("ganbench.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def ganbench_modules() -> list[str]:
    """Every module and package under ``ganbench/``, by its dotted name."""
    found = pkgutil.walk_packages(ganbench.__path__, prefix="ganbench.")
    return ["ganbench", *sorted(module.name for module in found)]


def import_each_first(names: list[str], interpreters: int = 2) -> dict[str, str]:
    """Imports each of ``names`` first, alone, in fresh interpreters running side by side; the failures' tracebacks."""
    shares = [names[index::interpreters] for index in range(interpreters)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORT_EACH_FIRST, json.dumps(share)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for share in shares
    ]
    failures: dict[str, str] = {}
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        failures.update(json.loads(stdout.strip().splitlines()[-1]))
    return failures


def test_the_walk_finds_the_modules_of_every_package():
    names = ganbench_modules()
    for expected in ("ganbench.cli", "ganbench.cli_errors", "ganbench.classifier", "ganbench.nets.classifier"):
        assert expected in names
    assert "ganbench.runs.writable" in names and "ganbench.metrics.parzen_protocol" in names


def test_every_module_imports_first_in_a_fresh_interpreter():
    failures = import_each_first(ganbench_modules())
    assert not failures, "\n\n".join(f"{name}:\n{trace}" for name, trace in failures.items())


def test_the_classifier_command_imports_first_without_the_gan_command():
    script = (
        "import sys; import ganbench.classifier; "
        "print(','.join(sorted(name for name in sys.modules if name in ('ganbench.cli', 'ganbench.runs'))))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", "ganbench.classifier should not import the ganbench command's modules"


def test_first_line_is_the_first_non_empty_line_of_the_message():
    assert first_line(ValueError("\n  bad value\nmore detail\n")) == "bad value"
    assert first_line(ConfigError("one line")) == "one line"
    assert first_line(OSError(2, "No such file or directory")) == "[Errno 2] No such file or directory"


def test_first_line_of_an_empty_message_is_the_class_name():
    assert first_line(RuntimeError()) == "RuntimeError"
    assert first_line(KeyError("")) == "''"  # KeyError quotes its key: the message is not empty
    assert first_line(ValueError("  \n \n")) == "ValueError"
