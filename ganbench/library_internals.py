"""The private names of other libraries that ganbench still reads, each behind one function.

Everything else ganbench does through public APIs. What is here has no public equivalent yet; a
release that renames one of these breaks it, so each is checked by ``tests/test_library_internals.py``,
which names the library, the attribute and the function here when it fails.
"""

from argparse import Action
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.strategies import Strategy
from torch import Tensor, nn

# (library, owner, attribute) of every private name read below, for the tests.
PRIVATE_NAMES = (
    ("lightning", "lightning.pytorch.strategies.DDPStrategy", "_ddp_kwargs"),
    ("lightning", "lightning.pytorch.callbacks.ModelCheckpoint", "_every_n_train_steps"),
    ("torchmetrics", "torchmetrics.image.fid.NoTrainInceptionV3", "_torch_fidelity_forward"),
    ("jsonargparse", "jsonargparse.DefaultHelpFormatter", "_get_help_string"),
)


def find_unused_parameters(strategy: Strategy) -> None:
    """Lets a DDP strategy built outside ganbench's CLI tolerate parameters that get no gradient.

    The ``ganbench`` command picks the registered ``ddp_find_unused_parameters_true`` strategy for
    ``--trainer.strategy=ddp`` instead; this covers a ``Trainer(strategy="ddp")`` built in Python.
    Reads ``DDPStrategy._ddp_kwargs`` (Lightning has no public setter).
    """
    ddp_kwargs = getattr(strategy, "_ddp_kwargs", None)
    if isinstance(ddp_kwargs, dict):
        ddp_kwargs.setdefault("find_unused_parameters", True)


def checkpoint_interval(callback: ModelCheckpoint) -> int:
    """A checkpoint callback's ``every_n_train_steps`` (0 when it saves on another schedule).

    Reads ``ModelCheckpoint._every_n_train_steps`` (the constructor argument is not kept publicly).
    """
    return int(getattr(callback, "_every_n_train_steps", 0) or 0)


def inception_features_and_logits(network: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """torchmetrics' Inception network's pool3 features and logits from one forward pass.

    Reads ``NoTrainInceptionV3._torch_fidelity_forward``: the public ``forward`` returns the first
    requested feature only, and a second pass for the logits would double the cost of FID + IS.
    """
    outputs: Any = network._torch_fidelity_forward(images)
    return outputs[0], outputs[1]


class OptionHelpFormatter(DefaultHelpFormatter):
    """jsonargparse's help formatter with two public hooks: :meth:`lists_option` and :meth:`option_help`.

    argparse has no public hook for either. ``add_argument`` is where argparse's formatter takes each
    option into the help, and ``_get_help_string`` is where jsonargparse appends the type, the default
    and the "known subclasses" to the docstring's text.
    """

    def lists_option(self, action: Action) -> bool:
        """Whether ``--help`` lists ``action`` (every option, unless overridden)."""
        return True

    def option_help(self, action: Action, text: str) -> str:
        """The help of ``action``: ``text`` is jsonargparse's (``%(type)s`` and ``%(default)s`` not yet filled in)."""
        return text

    def add_argument(self, action: Action) -> None:
        if self.lists_option(action):
            super().add_argument(action)

    def _get_help_string(self, action: Action) -> str:
        return self.option_help(action, super()._get_help_string(action))
