"""The section 7 configs through the ``ganbench`` command: conditional MNIST, the three encoder add-ons, class accuracy.

Each fits a few steps in-process with the networks shrunk, and its checkpoint is reloaded and used the way the
docs say (``GAN.load_from_checkpoint(path).sample(n, labels=...)``).
"""

import json

import pytest
import torch

from ganbench import GAN
from ganbench.cli import main
from tests.conftest import REPO

QUICK = [
    "--trainer.max_steps=3",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.accelerator=cpu",
]
SMALL_QUICKSTART = [
    "--model.generator.init_args.width=4",
    "--model.discriminator.init_args.width=4",
    "--trainer.callbacks.num_samples=50",  # the quickstart's Parzen evaluation: no more than the test needs
]
SMALL_MLP = [  # configs/mnist/mlp.yaml, the fully connected recipe
    "--model.generator.init_args.hidden_dims=[16,16]",
    "--model.discriminator.init_args.hidden_dims=[16]",
    "--trainer.callbacks.num_samples=50",
]
SMALL_ENCODER = ["--model.encoder.init_args.hidden_dims=[16]"]


def fit(tmp_path, *arguments):
    main(["fit", *arguments, *QUICK, f"--trainer.default_root_dir={tmp_path}"])
    checkpoints = sorted(tmp_path.rglob("last.ckpt"))
    assert checkpoints, f"no checkpoint under {tmp_path}"
    return checkpoints[-1]


def quickstart(*extra):
    return [f"--config={REPO / 'configs/quickstart.yaml'}", *extra]


def mlp(*extra):
    return [f"--config={REPO / 'configs/mnist/mlp.yaml'}", *extra]


def test_conditional_mnist_config_fits_and_samples_the_digits_asked(tmp_path):
    checkpoint = fit(
        tmp_path,
        f"--config={REPO / 'configs/mnist/cgan.yaml'}",
        "--model.generator.init_args.hidden_dims=[16,16]",
        "--model.discriminator.init_args.hidden_units=[8,8]",
        "--trainer.callbacks.num_samples=50",
    )
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    assert gan.num_classes == 10 and gan.class_frequencies is not None
    images = gan.sample(3, labels=torch.tensor([0, 5, 9]), noise=torch.zeros(3, 100))
    assert images.shape == (3, 1, 28, 28)
    assert not torch.allclose(images[0], images[1])
    grids = sorted(tmp_path.rglob("samples/*.png"))
    assert grids, "no sample grid written"


def test_conditional_dcgan_mnist_config_fits_28x28_digits_in_minus_one_to_one(tmp_path):
    checkpoint = fit(
        tmp_path,
        f"--config={REPO / 'configs/mnist/cgan_dcgan.yaml'}",
        "--model.generator.init_args.width=4",
        "--model.discriminator.init_args.width=4",
        "--trainer.callbacks.num_samples=50",
    )
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    images = gan.sample(2, labels=torch.tensor([1, 8]), noise=torch.zeros(2, 100))
    assert images.shape == (2, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert not torch.allclose(images[0], images[1])


def test_joint_encoder_config_fits_and_logs_its_errors(tmp_path):
    checkpoint = fit(
        tmp_path,
        *quickstart(f"--config={REPO / 'configs/encoder/joint.yaml'}", *SMALL_QUICKSTART, *SMALL_ENCODER),
        "--trainer.val_check_interval=3",
    )
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    assert gan.encoder_mode == "joint" and gan.encoder is not None
    metrics = next(tmp_path.rglob("metrics.csv")).read_text()
    assert "val/latent_error" in metrics and "val/reconstruction_error" in metrics
    assert (tmp_path / "encoder" / "joint").is_dir()  # the add-on names the experiment


def test_bigan_config_fits_with_a_discriminator_of_pairs(tmp_path):
    # a fully connected D judges pairs; the quickstart's convolutional one does not (bigan.yaml's header)
    checkpoint = fit(tmp_path, *mlp(f"--config={REPO / 'configs/encoder/bigan.yaml'}", *SMALL_MLP, *SMALL_ENCODER))
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    assert gan.encoder_mode == "bigan" and gan.discriminator.latent_dim == 100


def test_posthoc_encoder_config_trains_e_for_a_frozen_trained_generator(tmp_path):
    trained = fit(tmp_path / "gan", *quickstart(*SMALL_QUICKSTART))
    checkpoint = fit(
        tmp_path / "encoder",
        *quickstart(f"--config={REPO / 'configs/encoder/posthoc.yaml'}", *SMALL_QUICKSTART, *SMALL_ENCODER),
        f"--model.generator_checkpoint={trained}",
    )
    before = torch.load(trained, map_location="cpu", weights_only=True)["state_dict"]
    after = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    generator_keys = [key for key in before if key.startswith("generator.")]
    assert generator_keys
    for key in generator_keys:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert any(key.startswith("encoder.") for key in after)


def test_posthoc_without_a_generator_checkpoint_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "fit",
                *quickstart(f"--config={REPO / 'configs/encoder/posthoc.yaml'}"),
                *QUICK,
                f"--trainer.default_root_dir={tmp_path}",
            ]
        )
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "generator_checkpoint" in error[0]


def test_class_accuracy_callback_config_scores_a_conditional_model(tmp_path, classifier_checkpoint):
    callback = (REPO / "configs/eval/mnist_class_accuracy.yaml").read_text()
    local = tmp_path / "class_accuracy.yaml"
    local.write_text(
        callback.replace("runs/classifier/mnist.ckpt", str(classifier_checkpoint))
        .replace("num_samples: 10000", "num_samples: 200")
        .replace("every_n_epochs: 10", "every_n_epochs: 1")
    )
    fit(
        tmp_path,
        *quickstart(
            *SMALL_QUICKSTART,
            "--model.generator.init_args.num_classes=10",
            "--model.discriminator.init_args.num_classes=10",
            f"--trainer.callbacks+={local}",
            "--trainer.check_val_every_n_epoch=1",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=3",
        ),
    )
    metrics = next(tmp_path.rglob("metrics.csv")).read_text()
    assert "val/class_accuracy" in metrics and "val/class_accuracy_9" in metrics


def test_class_accuracy_callback_config_gives_an_unconditional_model_its_class_statistics(
    tmp_path, classifier_checkpoint
):
    callback = (REPO / "configs/eval/mnist_class_accuracy.yaml").read_text()
    local = tmp_path / "class_accuracy.yaml"
    local.write_text(
        callback.replace("runs/classifier/mnist.ckpt", str(classifier_checkpoint)).replace(
            "num_samples: 10000", "num_samples: 200"
        )
    )
    checkpoint = fit(tmp_path / "fit", *quickstart(*SMALL_QUICKSTART))
    main(
        [
            "test",
            *quickstart(*SMALL_QUICKSTART, f"--trainer.callbacks+={local}"),
            f"--ckpt_path={checkpoint}",
            *QUICK,
            f"--trainer.default_root_dir={tmp_path / 'fit'}",
        ]
    )
    results = json.loads(next((tmp_path / "fit").rglob("results.json")).read_text())["metrics"]
    assert 1.0 <= results["test/classifier_score"]["value"] <= 10.0
    assert results["test/classifier_score"]["protocol"]["num_samples"] == 200
    fractions = [results[f"test/class_fraction_{c}"]["value"] for c in range(10)]
    assert sum(fractions) == pytest.approx(1.0)
    assert "test/classifier_confidence" in results and "test/class_accuracy" not in results


def test_posthoc_with_a_missing_generator_checkpoint_names_that_option(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "fit",
                *quickstart(f"--config={REPO / 'configs/encoder/posthoc.yaml'}", *SMALL_QUICKSTART),
                f"--model.generator_checkpoint={tmp_path / 'absent.ckpt'}",
                *QUICK,
                f"--trainer.default_root_dir={tmp_path}",
            ]
        )
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1] == (
        f"ganbench: error: Checkpoint {tmp_path / 'absent.ckpt'} does not exist; check --model.generator_checkpoint."
    )
