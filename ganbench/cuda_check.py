"""torch's "is CUDA available?" answered from the CUDA runtime's cache while a run trains, not asked of NVML per step.

Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, so that ``torch.cuda.is_available()`` asks
NVML instead of initialising CUDA in a process that may fork later (DDP's fork launchers, DataLoader
workers). torch's Adam and AdamW call ``torch.cuda.is_available()`` in every ``step()`` (their CUDA-graph
capture check), and the NVML answer is not cached: each call loads and queries the NVML library again.
Measured here (``bench/overhead.py``, no GPU driver), that is about 0.4 ms per optimiser step, two per
GAN step: more than ganbench's whole per-step cost.

Once training starts the processes exist (a DDP launcher forked before the first hook) and the answer
cannot change, so :class:`CudaCheckOncePerRun` sets the variable to ``0`` for the training loop (the
CUDA runtime caches its device count: a call then costs about a microsecond) and puts the previous
value back when training ends.
"""

import os

import lightning.pytorch as pl

VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


class CudaCheckOncePerRun(pl.Callback):
    """Switches torch to its cached CUDA-availability answer from the first training step to the last.

    :class:`ganbench.GAN` adds it to the trainer itself (``configure_callbacks``).
    """

    def __init__(self) -> None:
        self._saved: str | None = None
        self._switched = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if os.environ.get(VARIABLE) == "1":
            self._saved, self._switched = os.environ[VARIABLE], True
            os.environ[VARIABLE] = "0"

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._switched:
            os.environ[VARIABLE] = self._saved
            self._switched = False
