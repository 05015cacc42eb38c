"""Every kind of bad input ends in one line that says what is wrong and what to do.

Damaged MNIST files, a conditional network on unlabelled data, an output folder that cannot be
written, and networks whose shape or range does not fit the data.
"""

import gzip
import math
import os
import shutil
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ganbench.data import MNISTDataModule
from ganbench.data.idx import read_idx
from ganbench.errors import DataFileError, OutputFolderError, ShapeMismatchError
from ganbench.nets import MaxoutDiscriminator, MLPGenerator
from ganbench.priors import Normal
from ganbench.runs.writable import check_output_folders_writable
from ganbench.validation import check_networks_fit_data
from tests.conftest import REPO, RandomImages, run_ganbench, write_idx

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
REDOWNLOAD = "Delete it and download it again."


@pytest.fixture
def mnist_dir(tmp_path, small_mnist_dir) -> Path:
    """A private copy of the four small MNIST files, for a test to damage."""
    return Path(shutil.copytree(small_mnist_dir, tmp_path / "mnist"))


def load_mnist(data_dir: Path) -> None:
    MNISTDataModule(data_dir=str(data_dir), train_size=200).setup()


# ------------------------------------------------------------------ 1. damaged MNIST files


def wrong_magic(content: bytes) -> bytes:
    return gzip.compress(b"\x08\x08" + gzip.decompress(content)[2:])


def cut_gzip_stream(content: bytes) -> bytes:
    return content[: len(content) // 2]


def corrupt_gzip_stream(content: bytes) -> bytes:
    """Sets the first deflate block's type to 3, which does not exist (no file name: a 10-byte header)."""
    content = gzip.compress(gzip.decompress(content))
    return content[:10] + b"\xff" + content[11:]


def cut_content(content: bytes) -> bytes:
    return gzip.compress(gzip.decompress(content)[:-100])


def cut_header(content: bytes) -> bytes:
    return gzip.compress(gzip.decompress(content)[:9])


@pytest.mark.parametrize(
    "damage, expected",
    [
        (wrong_magic, "is not an IDX file (bad magic number: 0x08080803)."),
        (cut_gzip_stream, "is not a valid gzip file (Compressed file ended before the end-of-stream marker"),
        (corrupt_gzip_stream, "is not a valid gzip file (Error -3 while decompressing data"),
        (cut_content, "is truncated or corrupt: 235116 bytes, its header promises 235216."),
        (cut_header, "is truncated or corrupt: 9 bytes, shorter than its 16-byte header."),
    ],
)
def test_damaged_gzipped_idx_file_is_one_line_naming_it(mnist_dir, damage, expected):
    path = mnist_dir / TRAIN_IMAGES
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataFileError) as raised:
        load_mnist(mnist_dir)
    message = str(raised.value)
    assert message.startswith(f"{path} {expected}")
    assert message.endswith(REDOWNLOAD)
    assert "\n" not in message


def test_truncated_raw_idx_file_is_one_line_naming_it(mnist_dir):
    gzipped = mnist_dir / TRAIN_IMAGES
    raw = gzipped.with_suffix("")
    raw.write_bytes(gzip.decompress(gzipped.read_bytes())[:-100])
    gzipped.unlink()
    with pytest.raises(DataFileError) as raised:
        load_mnist(mnist_dir)
    assert str(raised.value) == f"{raw} is truncated or corrupt: 235116 bytes, its header promises 235216. {REDOWNLOAD}"


def test_images_and_labels_files_of_different_lengths_are_refused_naming_both(mnist_dir):
    labels = gzip.decompress((mnist_dir / TRAIN_LABELS).read_bytes())[8:]
    write_idx(mnist_dir / TRAIN_LABELS, np.frombuffer(labels, np.uint8)[:250])
    with pytest.raises(DataFileError) as raised:
        load_mnist(mnist_dir)
    assert str(raised.value) == (
        f"{mnist_dir / TRAIN_IMAGES} holds 300 images but {mnist_dir / TRAIN_LABELS} holds 250 labels; one of them "
        "is truncated or from another data set. Delete both and download them again."
    )


def test_labels_file_under_the_images_name_is_refused(mnist_dir):
    shutil.copy(mnist_dir / TRAIN_LABELS, mnist_dir / TRAIN_IMAGES)
    with pytest.raises(DataFileError) as raised:
        load_mnist(mnist_dir)
    assert str(raised.value).startswith(
        f"{mnist_dir / TRAIN_IMAGES} holds an array of shape (300,), not (N, height, width) images;"
    )


def test_images_of_another_size_are_refused(mnist_dir):
    write_idx(mnist_dir / TRAIN_IMAGES, np.zeros((300, 32, 32), np.uint8))
    with pytest.raises(DataFileError) as raised:
        load_mnist(mnist_dir)
    assert str(raised.value).startswith(
        f"{mnist_dir / TRAIN_IMAGES} holds images of size (32, 32), not MNIST's (28, 28);"
    )


def test_damaged_file_through_the_cli_is_one_error_line(mnist_dir, tmp_path):
    path = mnist_dir / TRAIN_IMAGES
    path.write_bytes(corrupt_gzip_stream(path.read_bytes()))
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs/mnist/paper.yaml'}",
        f"--data.init_args.data_dir={mnist_dir}",
        "--trainer.max_steps=1",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"ganbench: error: {path} is not a valid gzip file")


def test_header_promising_more_than_memory_is_refused_without_allocating(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBB3I", 0, 0, 0x08, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1))
    with pytest.raises(DataFileError, match=f"16 bytes, its header promises {16 + (2**32 - 1) ** 3}"):
        read_idx(path)


# ------------------------------------------------------------------ 2. conditional network, unlabelled data


class ConditionalGenerator(nn.Module):
    """A tiny conditional generator: noise plus a label embedding through one linear layer.

    Args:
        num_classes: number of classes of its labels.
        latent_dim: size of the noise vector.
        image_shape: ``(C, H, W)`` of its images.
        labels_required: refuse to run without labels (as many conditional generators do).
    """

    def __init__(self, num_classes: int = 10, latent_dim: int = 3, image_shape=(1, 4, 4), labels_required=True):
        super().__init__()
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.labels_required = labels_required
        self.embedding = nn.Embedding(num_classes, latent_dim)
        self.linear = nn.Linear(latent_dim, math.prod(image_shape))

    def forward(self, noise: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None and self.labels_required:
            raise TypeError("forward() missing 1 required positional argument: 'labels'")
        conditioned = noise if labels is None else noise + self.embedding(labels)
        return torch.sigmoid(self.linear(conditioned)).view(-1, *self.image_shape)


def fake_gan(generator: nn.Module, discriminator: nn.Module | None = None) -> SimpleNamespace:
    """What check_networks_fit_data needs: a generator, a discriminator, a prior."""
    discriminator = discriminator or MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=(6,), pieces=2)
    return SimpleNamespace(generator=generator, discriminator=discriminator, prior=Normal())


def random_images(labelled: bool) -> RandomImages:
    datamodule = RandomImages(labelled=labelled)
    datamodule.setup()
    return datamodule


def test_conditional_generator_on_unlabelled_data_is_refused_before_it_runs():
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(fake_gan(ConditionalGenerator()), random_images(labelled=False))
    assert str(raised.value) == (
        "ConditionalGenerator is conditional (num_classes=10) but RandomImages's training images have no labels "
        "(label -1); use labelled data or an unconditional network."
    )


def test_conditional_discriminator_on_partly_labelled_data_is_refused():
    datamodule = random_images(labelled=True)
    datamodule.datasets["train"].labels[:3] = -1
    discriminator = MaxoutDiscriminator(image_shape=(1, 4, 4), hidden_units=(6,), pieces=2)
    discriminator.num_classes = 10
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4), output_bias_from_data=False)
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(fake_gan(generator, discriminator), datamodule)
    assert str(raised.value).startswith(
        "MaxoutDiscriminator is conditional (num_classes=10) but 3 of the 64 training images of RandomImages have "
        "no labels (label -1);"
    )


def test_conditional_generator_with_too_few_classes_is_refused():
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(fake_gan(ConditionalGenerator(num_classes=5)), random_images(labelled=True))
    assert str(raised.value) == (
        "ConditionalGenerator is conditional with num_classes=5 but RandomImages's training labels go up to 9; "
        "set num_classes to 10 or more."
    )


def test_conditional_generator_on_labelled_data_passes():
    generator = ConditionalGenerator(labels_required=False)
    check_networks_fit_data(fake_gan(generator), random_images(labelled=True))


def test_label_check_waits_for_setup():
    generator = ConditionalGenerator(labels_required=False)
    check_networks_fit_data(fake_gan(generator), RandomImages(labelled=False))


# ------------------------------------------------------------------ 3. output folder that cannot be written


def test_output_folder_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    with pytest.raises(OutputFolderError) as raised:
        check_output_folders_writable([tmp_path / "ok", blocker / "mnist"])
    assert str(raised.value) == (
        f"Cannot write to output folder {blocker / 'mnist'} (Not a directory); choose a writable folder with "
        "--trainer.default_root_dir (or the logger's save_dir)."
    )
    assert blocker.read_text() == "not a folder"


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    with pytest.raises(OutputFolderError, match=r"output folder .*runs \(it is a file, not a folder\); choose"):
        check_output_folders_writable([str(blocker)])
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_output_folder_is_refused(tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputFolderError) as raised:
            check_output_folders_writable([folder])
    finally:
        folder.chmod(0o700)
    assert str(raised.value).startswith(f"Cannot write to output folder {folder} (Permission denied); choose")
    assert list(folder.iterdir()) == []


def test_writable_output_folders_are_made_and_left_as_they_were(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("kept")
    missing = tmp_path / "new" / "nested"
    check_output_folders_writable([existing, str(missing)])
    assert [path.name for path in existing.iterdir()] == ["keep.txt"]
    assert (existing / "keep.txt").read_text() == "kept"
    assert missing.is_dir() and list(missing.iterdir()) == []


# ------------------------------------------------------------------ 4. network shape or range that does not fit


def mlp_gan(output_activation: str = "sigmoid", image_shape=(1, 4, 4), discriminator_shape=(1, 4, 4)):
    generator = MLPGenerator(
        latent_dim=3,
        hidden_dims=(8,),
        image_shape=image_shape,
        output_activation=output_activation,
        output_bias_from_data=False,
    )
    return fake_gan(generator, MaxoutDiscriminator(image_shape=discriminator_shape, hidden_units=(6,), pieces=2))


def test_generator_range_that_does_not_fit_the_pixels_is_refused():
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(mlp_gan(output_activation="tanh"), RandomImages())
    assert str(raised.value) == (
        "MLPGenerator outputs values in (-1.0, 1.0) but the data's pixels are in (0.0, 1.0); change the "
        "generator's output_activation or the data's pixel_range."
    )


def test_generator_shape_that_does_not_fit_the_data_is_refused():
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(mlp_gan(image_shape=(1, 5, 5)), RandomImages())
    assert str(raised.value) == (
        "MLPGenerator makes images of shape (1, 5, 5) but the data has shape (1, 4, 4); set the generator's "
        "image_shape (or size) to [1, 4, 4]."
    )


def test_discriminator_shape_that_does_not_fit_the_images_is_refused():
    with pytest.raises(ShapeMismatchError) as raised:
        check_networks_fit_data(mlp_gan(discriminator_shape=(1, 5, 5)), RandomImages())
    message = str(raised.value)
    assert message.startswith("MaxoutDiscriminator failed on images of shape (1, 4, 4): ")
    assert message.endswith("; set its image_shape to the data's.")


def test_fitting_networks_pass():
    check_networks_fit_data(mlp_gan(), RandomImages())


# ------------------------------------------------------------------ through the ganbench command


def quickstart(tmp_path: Path, *options: str):
    return run_ganbench(
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        "--trainer.max_steps=2",
        "--trainer.enable_progress_bar=false",
        *options,
        cwd=tmp_path,
    )


def error_line(result) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_command_refuses_an_output_folder_under_a_file(tmp_path):
    (tmp_path / "runs").write_text("a file where the run folder should go")
    result = quickstart(tmp_path, f"--trainer.default_root_dir={tmp_path / 'runs/mine'}")
    assert error_line(result).startswith(f"ganbench: error: Cannot write to output folder {tmp_path / 'runs/mine'}")
    assert (tmp_path / "runs").read_text() == "a file where the run folder should go"


def test_command_refuses_a_checkpoint_of_other_networks(tmp_path):
    assert quickstart(tmp_path, f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false").returncode == 0
    (checkpoint,) = tmp_path.glob("quickstart/version_0/checkpoints/last.ckpt")  # a run folder even without logger
    result = quickstart(
        checkpoint.parent,
        "--model.generator.init_args.width=16",
        f"--ckpt_path={checkpoint}",
        "--trainer.logger=false",
        f"--trainer.default_root_dir={tmp_path / 'other'}",
    )
    line = error_line(result)
    assert line.startswith(f"ganbench: error: Checkpoint {checkpoint}")
    assert "generator" in line and "(100, 64, 7, 7)" in line and "(100, 32, 7, 7)" in line
