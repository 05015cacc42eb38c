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


def main(args: list[str] | None = None) -> None:
    """Console entry point: user mistakes end in one ``ganbench: error: ...`` line."""
    try:
        GanbenchCLI(args=args)
    except GanbenchError as error:
        print(f"ganbench: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
