"""The private names of other libraries that ganbench still reads, each behind one function.

Everything else ganbench does through public APIs. What is here has no public equivalent yet; a
release that renames one of these breaks it, so each is checked by ``tests/test_library_internals.py``,
which names the library, the attribute and the function here when it fails.
"""

from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.strategies import Strategy
from torch import Tensor, nn

# (library, owner, attribute) of every private name read below, for the tests.
PRIVATE_NAMES = (
    ("lightning", "lightning.pytorch.strategies.DDPStrategy", "_ddp_kwargs"),
    ("lightning", "lightning.pytorch.callbacks.ModelCheckpoint", "_every_n_train_steps"),
    ("torchmetrics", "torchmetrics.image.fid.NoTrainInceptionV3", "_torch_fidelity_forward"),
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
