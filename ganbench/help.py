"""``ganbench fit --help`` that fits a terminal: ganbench's own options in full, Lightning's and torch's abridged.

Two things made the help 650 lines at 80 columns: the Trainer's options with their whole docstrings, and
"known subclasses" lists naming every torch optimiser, scheduler and Lightning callback, once per option that
takes one. :class:`ShortHelpFormatter` keeps a Trainer option's first sentence (and its ``Default: ...``), and
lists the known subclasses of ganbench and of the user's own code but only counts those of the libraries.
The ``--KEY.help CLASS`` options are said once, in the epilog (:data:`EPILOG`), which also says where the rest is.
"""

import inspect
import re
from argparse import SUPPRESS, Action

from lightning.pytorch import Trainer

from ganbench.library_internals import OptionHelpFormatter

__all__ = ["EPILOG", "ShortHelpFormatter", "abridge", "is_class_help", "summarise_subclasses"]

# Packages whose classes are counted, not listed, in "known subclasses".
LIBRARIES = ("lightning", "lightning_fabric", "pytorch_lightning", "torch", "torchmetrics", "torchvision")

# The options Lightning documents: the Trainer's (``trainer.*``) and those of the Trainer's fit/validate/test/predict.
TRAINER_METHOD_OPTIONS = frozenset(
    name
    for method in (Trainer.fit, Trainer.validate, Trainer.test, Trainer.predict)
    for name in inspect.signature(method).parameters
)

EPILOG = (
    "An option that takes a class has --KEY.help CLASS to show that class's options "
    "(--model.generator.help DCGANGenerator, --trainer.callbacks.help SampleGrid). Any importable class path "
    "works, not only the known subclasses, which name ganbench's and your own classes and count torch's and "
    "Lightning's. Trainer options show the first sentence of Lightning's documentation; the rest is at "
    "https://lightning.ai/docs/pytorch/stable/common/trainer.html."
)

_KNOWN_SUBCLASSES = re.compile(r", known subclasses: ([^()]*)\)$")
# A sentence ends at . ! or ? followed by a space and a capital, a backquote or a quote; not after "e.g." or "i.e.".
_SENTENCE_END = re.compile(r"(?<![.\s][a-z]\.)(?<=[.!?])\s+(?=[A-Z`\"'])")


class ShortHelpFormatter(OptionHelpFormatter):
    """jsonargparse's help formatter, with Trainer options abridged and library classes counted (module docstring).

    The ``--KEY.help CLASS`` options, one per option that takes a class, are not listed: :data:`EPILOG` says
    they exist once instead of once per option that takes a class.
    """

    def lists_option(self, action: Action) -> bool:
        return not is_class_help(action)

    def option_help(self, action: Action, text: str) -> str:
        text = summarise_subclasses(text)
        description = action.help
        if isinstance(description, str) and _lightnings(action.dest) and text.startswith(description):
            text = abridge(description) + text[len(description) :]
        return text


def is_class_help(action: Action) -> bool:
    """Whether ``action`` is jsonargparse's ``--KEY.help CLASS``, which shows a class's options and exits."""
    named_help = any(option.endswith(".help") for option in action.option_strings)
    return named_help and isinstance(action.default, str) and action.default == SUPPRESS


def _lightnings(dest: str) -> bool:
    """Whether the option of this ``dest`` is documented by Lightning (a Trainer option or a Trainer method's)."""
    return dest.startswith("trainer.") or dest in TRAINER_METHOD_OPTIONS


def abridge(description: str) -> str:
    """The first sentence of ``description``, and its ``Default: ...`` sentence if it has one."""
    sentences = [sentence.strip() for sentence in _SENTENCE_END.split(description.strip())]
    defaults = [sentence for sentence in sentences if sentence.startswith(("Default:", "Defaults to"))]
    others = [sentence for sentence in sentences if sentence not in defaults]
    return " ".join(others[:1] + defaults[:1])


def summarise_subclasses(text: str) -> str:
    """``text`` whose ", known subclasses: ..." names ganbench's and the user's classes and counts the libraries'.

    ``..., known subclasses: torch.optim.Adam, torch.optim.SGD, ganbench.optim.ClassicMomentumSGD)`` becomes
    ``..., known subclasses: ganbench.optim.ClassicMomentumSGD, 2 classes in torch.optim)``.
    """
    match = _KNOWN_SUBCLASSES.search(text)
    if match is None:
        return text
    class_paths = [path.strip() for path in match.group(1).split(",") if path.strip()]
    listed = [path for path in class_paths if path.split(".")[0] not in LIBRARIES]
    counted: dict[str, list[str]] = {}
    for path in class_paths:
        if path not in listed:
            counted.setdefault(path.split(".")[0], []).append(path.rpartition(".")[0])
    if not counted:
        return text
    counts = [f"{len(modules)} {_classes(len(modules))} in {_common_module(modules)}" for modules in counted.values()]
    return text[: match.start()] + f", known subclasses: {', '.join(listed + counts)})"


def _classes(count: int) -> str:
    return "class" if count == 1 else "classes"


def _common_module(modules: list[str]) -> str:
    """The longest dotted prefix of all ``modules``: ``torch.optim`` for ``torch.optim``, ``torch.optim.swa_utils``."""
    common = modules[0].split(".")
    for module in modules[1:]:
        parts = module.split(".")
        while common != parts[: len(common)]:
            common.pop()
    return ".".join(common)
