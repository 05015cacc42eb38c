"""During training torch answers "is CUDA available?" from its cache; before and after, as Lightning set it."""

import os

import lightning.pytorch as pl
import pytest

from ganbench.cuda_check import VARIABLE
from tests.conftest import RandomImages, tiny_gan, tiny_trainer


class SeeVariable(pl.Callback):
    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def on_train_batch_start(self, *args) -> None:
        self.seen.append(os.environ.get(VARIABLE))


def test_the_nvml_check_is_off_while_training_and_restored_after(tmp_path):
    assert os.environ.get(VARIABLE) == "1"  # importing Lightning sets it
    watcher = SeeVariable()
    tiny_trainer(tmp_path, max_steps=3, callbacks=[watcher]).fit(tiny_gan(), RandomImages(count=16, batch_size=4))
    assert watcher.seen == ["0", "0", "0"]
    assert os.environ.get(VARIABLE) == "1"


def test_it_is_restored_when_training_fails(tmp_path):
    class Fail(pl.Callback):
        def on_train_batch_start(self, *args) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        tiny_trainer(tmp_path, max_steps=3, callbacks=[Fail()]).fit(tiny_gan(), RandomImages(count=16, batch_size=4))
    assert os.environ.get(VARIABLE) == "1"
