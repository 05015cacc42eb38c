"""``ganbench fit|validate|test|predict``: LightningCLI with ganbench's parts importable by short name.

Every part is a constructor argument, so a config swaps it with ``class_path``/``init_args``
(``--model.loss=Minimax``, ``--model.generator=mylab.nets.MyGenerator``) and jsonargparse
rejects an unknown key or a wrong type before anything runs.
"""

import sys
import warnings

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

# Imported so that their classes can be named by their short names in configs.
import ganbench.callbacks  # noqa: F401
import ganbench.data  # noqa: F401
import ganbench.losses  # noqa: F401
import ganbench.nets  # noqa: F401
import ganbench.optim  # noqa: F401
import ganbench.priors  # noqa: F401
from ganbench.checkpoints import LIGHTNING_CHECKPOINT_NAMES, check_checkpoint_file
from ganbench.errors import GanbenchError
from ganbench.module import GAN

# A step's checkpoint holds the weights after that step's updates, which is what ganbench wants.
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")


class GanbenchCLI(LightningCLI):
    """LightningCLI for :class:`ganbench.GAN` and any LightningDataModule."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("model_class", GAN)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(*args, **kwargs)

    def parse_arguments(self, parser, args) -> None:
        """Parses, then refuses a bad ``--ckpt_path`` before LightningCLI reads its hyperparameters."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path is not None and str(path) not in LIGHTNING_CHECKPOINT_NAMES:
            check_checkpoint_file(path)


def main(args: list[str] | None = None) -> None:
    """Console entry point ``ganbench``."""
    run_cli(GanbenchCLI, "ganbench", args)


def run_cli(cli_class: type[LightningCLI], program: str, args: list[str] | None = None) -> None:
    """Runs a LightningCLI so that a user's mistake ends in one ``<program>: error: ...`` line.

    Args:
        cli_class: the LightningCLI subclass to run.
        program: the command's name, starting the error line.
        args: command-line arguments (``sys.argv`` when ``None``).
    """
    try:
        cli_class(args=args)
    except Exception as error:
        user_error = _find_user_error(error)
        if user_error is None:
            raise
        print(f"{program}: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None


def _find_user_error(error: BaseException | None) -> GanbenchError | None:
    """The GanbenchError behind ``error``: jsonargparse wraps errors raised in constructors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, GanbenchError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


if __name__ == "__main__":
    main()
