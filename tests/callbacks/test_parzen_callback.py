"""ParzenEvaluation: the Table 1 protocol as a callback, in fit, in test, from the CLI and under DDP."""

import json
import math
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch.testing import assert_close

from ganbench import GAN
from ganbench.callbacks import ParzenEvaluation
from ganbench.callbacks.evaluation import dataset_name
from ganbench.data import MNISTDataModule, MNISTSampleDataModule
from ganbench.errors import ConfigError
from ganbench.metrics import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_summary, select_sigma
from tests.conftest import METRICS_RECORDER, REPO, RandomImages, run_ganbench, tiny_gan, tiny_trainer

LINE = re.compile(
    r"Parzen log-likelihood on (\S+) (validation|test) \((\d+) images\): (-?\d+\.\d\d) \+- (\d+\.\d\d) nats "
    r"\(sigma (\d\.\d{4}) chosen on (\d+) validation images, n = (\d+) samples\)"
)
SMALL = dict(num_samples=40, num_validation=20)


class PerturbedTest(RandomImages):
    """RandomImages whose test split is replaced by other images; train and validation are unchanged."""

    def load_splits(self):
        splits = super().load_splits()
        images, labels = splits["test"]
        splits["test"] = (255 - images, labels)
        return splits


def evaluate_with_trainer(tmp_path, callback, datamodule=None, epochs=1, gan=None):
    gan = gan if gan is not None else tiny_gan()
    datamodule = datamodule if datamodule is not None else RandomImages()
    trainer = tiny_trainer(tmp_path, max_epochs=epochs, limit_val_batches=None, callbacks=[callback])
    trainer.fit(gan, datamodule=datamodule)
    return trainer, gan, datamodule


def direct_protocol(gan, datamodule, split, num_samples, num_validation, seed=0):
    """The protocol written out with the metric functions: the reference for the callback."""
    samples = gan.sample(num_samples, generator=torch.Generator().manual_seed(seed))
    sigma, _ = select_sigma(datamodule.split_images("val", num_validation), samples, DEFAULT_SIGMAS)
    mean, standard_error = parzen_summary(parzen_log_likelihood(datamodule.split_images(split), samples, sigma))
    return mean, standard_error, sigma


def test_fit_logs_validation_keys_equal_to_the_direct_computation(tmp_path):
    callback = ParzenEvaluation(**SMALL)
    trainer, gan, datamodule = evaluate_with_trainer(tmp_path, callback)
    metrics = trainer.callback_metrics
    assert {"val/parzen_ll", "val/parzen_se", "val/parzen_sigma"} <= set(metrics)
    assert not any(key.startswith("test/parzen") for key in metrics), "the test split was used during fit"
    assert min(abs(metrics["val/parzen_sigma"].item() - sigma) for sigma in DEFAULT_SIGMAS) < 1e-12
    mean, standard_error, sigma = direct_protocol(gan, datamodule, "val", **SMALL)
    assert metrics["val/parzen_sigma"].item() == sigma
    assert_close(metrics["val/parzen_ll"].item(), mean, rtol=1e-12, atol=0)
    assert_close(metrics["val/parzen_se"].item(), standard_error, rtol=1e-12, atol=0)
    assert len(callback.results) == 1 and callback.results[0].num_scored == 64


def test_evaluation_leaves_the_training_random_streams_alone(tmp_path):
    gan, datamodule = tiny_gan(), RandomImages()
    tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=datamodule)
    torch.manual_seed(123)
    global_before, noise_before = torch.get_rng_state(), gan._noise_generator.get_state()
    ParzenEvaluation(**SMALL).evaluate(gan, datamodule, "val")
    assert torch.equal(torch.get_rng_state(), global_before)
    assert torch.equal(gan._noise_generator.get_state(), noise_before)


@pytest.mark.parametrize(("every_n_epochs", "evaluated_epochs"), [(2, [1, 3]), (0, [])])
def test_every_n_epochs_counts_validation_epochs_and_skips_the_sanity_check(tmp_path, every_n_epochs, evaluated_epochs):
    class RecordEpochs(pl.Callback):
        """Notes the epochs after which the Parzen callback (which runs first) added a result."""

        def __init__(self, parzen):
            self.parzen, self.epochs = parzen, []

        def on_validation_epoch_end(self, trainer, pl_module):
            if len(self.parzen.results) > len(self.epochs):
                self.epochs.append(trainer.current_epoch)

    callback = ParzenEvaluation(**SMALL, every_n_epochs=every_n_epochs)
    recorder = RecordEpochs(callback)
    trainer = tiny_trainer(
        tmp_path, max_epochs=4, limit_val_batches=None, num_sanity_val_steps=1, callbacks=[callback, recorder]
    )
    trainer.fit(tiny_gan(), datamodule=RandomImages())
    assert recorder.epochs == evaluated_epochs
    assert len(callback.results) == len(evaluated_epochs)


def test_test_stage_scores_the_test_split_with_sigma_from_validation_and_prints_the_line(tmp_path, capsys):
    callback = ParzenEvaluation(**SMALL)
    trainer, gan, datamodule = evaluate_with_trainer(tmp_path, callback)
    capsys.readouterr()
    trainer.test(gan, datamodule=datamodule, verbose=False)
    metrics = trainer.callback_metrics
    mean, standard_error, sigma = direct_protocol(gan, datamodule, "test", **SMALL)
    assert metrics["test/parzen_sigma"].item() == sigma
    assert_close(metrics["test/parzen_ll"].item(), mean, rtol=1e-12, atol=0)
    assert_close(metrics["test/parzen_se"].item(), standard_error, rtol=1e-12, atol=0)
    match = LINE.search(capsys.readouterr().out)
    assert match, "no Table-1 line printed"
    assert match.group(1, 2, 3, 7, 8) == ("RandomImages", "test", "64", "20", "40")
    assert float(match.group(4)) == round(mean, 2) and float(match.group(6)) == round(sigma, 4)


def test_sigma_is_chosen_on_validation_images_only():
    gan, plain, perturbed = tiny_gan(), RandomImages(), PerturbedTest()
    callback = ParzenEvaluation(**SMALL, sigmas=(0.05, 0.2, 0.5))
    original, changed = callback.evaluate(gan, plain, "test"), callback.evaluate(gan, perturbed, "test")
    assert changed.sigma == original.sigma
    assert changed.validation_means == original.validation_means
    assert changed.mean != original.mean, "the perturbation did not reach the test split"
    # and the scored split really is the one asked for
    assert callback.evaluate(gan, perturbed, "val").mean == callback.evaluate(gan, plain, "val").mean


def test_num_validation_and_num_test_take_the_first_images():
    gan, datamodule = tiny_gan(), RandomImages()
    result = ParzenEvaluation(num_samples=30, num_validation=10, num_test=25, seed=3).evaluate(gan, datamodule)
    samples = gan.sample(30, generator=torch.Generator().manual_seed(3))
    sigma, _ = select_sigma(datamodule.split_images("val")[:10], samples)
    expected = parzen_summary(parzen_log_likelihood(datamodule.split_images("test")[:25], samples, sigma))
    assert (result.num_samples, result.num_validation, result.num_scored) == (30, 10, 25)
    assert (result.sigma, result.mean, result.standard_error) == (sigma, *expected)


class FixedSampler:
    """Stands in for a GAN: ``sample`` returns fixed images mapped into ``pixel_range``."""

    device = torch.device("cpu")

    def __init__(self, images, pixel_range):
        low, high = pixel_range
        self.images = images * (high - low) + low

    def sample(self, num_samples, generator=None):
        return self.images[:num_samples]


def test_figures_are_on_the_unit_pixel_scale_whatever_the_data_range():
    images = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    results = []
    for pixel_range in ((0.0, 1.0), (-1.0, 1.0)):
        datamodule = RandomImages()
        datamodule.pixel_range = pixel_range
        results.append(ParzenEvaluation(**SMALL).evaluate(FixedSampler(images, pixel_range), datamodule))
    unit, symmetric = results
    assert symmetric.sigma == unit.sigma
    assert_close(symmetric.mean, unit.mean, rtol=1e-6, atol=0)  # float32 rounding of the range maps


def test_non_finite_samples_are_a_reported_failure_not_a_crash(tmp_path, capsys):
    gan, datamodule = tiny_gan(), RandomImages()
    with torch.no_grad():
        for parameter in gan.generator.parameters():
            parameter.fill_(float("nan"))
    trainer = tiny_trainer(tmp_path, callbacks=[ParzenEvaluation(**SMALL)])
    with pytest.warns(
        RuntimeWarning, match="ParzenEvaluation failed at epoch 0, step 0: .*NaN or infinite.*NaN logged"
    ):
        trainer.test(gan, datamodule=datamodule, verbose=False)
    for key in ("test/parzen_ll", "test/parzen_se", "test/parzen_sigma"):
        assert math.isnan(trainer.callback_metrics[key].item())
    assert "FAILED (the generator's samples contain NaN or infinite values" in capsys.readouterr().out


def test_an_error_during_the_evaluation_is_raised_not_swallowed(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("broken on purpose")

    callback = ParzenEvaluation(**SMALL)
    monkeypatch.setattr(callback, "evaluate", broken)
    with pytest.raises(ValueError, match="broken on purpose"):
        tiny_trainer(tmp_path, callbacks=[callback]).test(tiny_gan(), datamodule=RandomImages(), verbose=False)


def test_a_data_module_without_whole_splits_is_one_clear_error(tmp_path):
    class Plain(pl.LightningDataModule):
        def train_dataloader(self):
            return RandomImages().train_dataloader()

    trainer = tiny_trainer(tmp_path, max_steps=1, callbacks=[ParzenEvaluation()])
    with pytest.raises(ConfigError, match=r"split_images\(split, limit\).*got Plain"):
        trainer.fit(tiny_gan(), datamodule=Plain())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(num_samples=0), "num_samples must be >= 1"),
        (dict(num_validation=0), "num_validation must be >= 1 or None"),
        (dict(num_test=0), "num_test must be >= 1 or None"),
        (dict(every_n_epochs=-1), "every_n_epochs must be >= 0"),
        (dict(sigmas=()), "sigmas must be finite positive"),
        (dict(sigmas=(0.1, -0.2)), "sigmas must be finite positive"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ConfigError, match=message):
        ParzenEvaluation(**arguments)


def test_data_that_are_not_pixels_are_refused():
    datamodule = RandomImages()
    datamodule.pixel_range = None
    with pytest.raises(ConfigError, match="pixel_range None"):
        ParzenEvaluation(**SMALL).evaluate(tiny_gan(), datamodule)


def test_num_validation_none_uses_the_whole_validation_split():
    result = ParzenEvaluation(num_samples=30, num_validation=None).evaluate(tiny_gan(), RandomImages(count=50))
    assert result.num_validation == 50


def test_dataset_name_comes_from_the_data_module_class():
    assert dataset_name(MNISTSampleDataModule()) == "MNIST"
    assert dataset_name(MNISTDataModule()) == "MNIST"
    assert dataset_name(RandomImages()) == "RandomImages"


# ---------------------------------------------------------------------- the command line, one and two processes

# A small instance that evaluates after every epoch, next to the config's own.
SMALL_CLI = {
    "class_path": "ParzenEvaluation",
    "init_args": {"num_samples": 200, "num_validation": 100, "num_test": 500, "name": "parzen_small", "seed": 5},
}


def ganbench_with_recorder(folder: Path, *arguments: str):
    """Runs ``ganbench ARGUMENTS`` on the quickstart config with the small instance and the recorder added."""
    (folder / "parzenrecord.py").write_text(METRICS_RECORDER)
    recorder = {"class_path": "parzenrecord.RecordMetrics", "init_args": {"folder": str(folder), "contains": "/parzen"}}
    return run_ganbench(
        *arguments,
        f"--config={REPO / 'configs/quickstart.yaml'}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={folder}",
        f"--trainer.callbacks+={json.dumps(SMALL_CLI)}",
        f"--trainer.callbacks+={json.dumps(recorder)}",
        cwd=folder,
    )


@pytest.fixture(scope="module")
def ddp_fit(tmp_path_factory) -> Path:
    """A 3-step ``ganbench fit`` of the quickstart config on two CPU processes (gloo); validates once."""
    folder = tmp_path_factory.mktemp("ddp_fit")
    result = ganbench_with_recorder(
        folder,
        "fit",
        "--trainer.max_steps=3",
        "--trainer.limit_train_batches=3",
        "--trainer.max_epochs=1",
        "--trainer.accelerator=cpu",
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sync_dist=True" not in result.stderr
    return folder


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_ddp_fit_logs_the_single_process_value_for_the_checkpoint_on_every_rank(ddp_fit):
    # The quickstart generator has BatchNorm: after training, the ranks' running statistics differ by their
    # last batches, so this fails if each rank evaluates its own generator.
    ranks = [read_json(ddp_fit / f"val_rank{rank}.json") for rank in (0, 1)]
    assert [values["world_size"] for values in ranks] == [2, 2]
    assert ranks[0] == ranks[1]
    gan = GAN.load_from_checkpoint(sorted(ddp_fit.rglob("last.ckpt"))[-1])
    single = ParzenEvaluation(**SMALL_CLI["init_args"]).evaluate(gan, MNISTSampleDataModule(), "val")
    assert ranks[0]["val/parzen_small_sigma"] == single.sigma
    assert_close(ranks[0]["val/parzen_small_ll"], single.mean, rtol=1e-9, atol=0)
    assert_close(ranks[0]["val/parzen_small_se"], single.standard_error, rtol=1e-9, atol=0)


def test_ganbench_test_on_a_quickstart_checkpoint_prints_the_table_line(ddp_fit, tmp_path):
    checkpoint = sorted(ddp_fit.rglob("last.ckpt"))[-1]
    result = ganbench_with_recorder(tmp_path, "test", f"--ckpt_path={checkpoint}")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {match.group(8): match for match in LINE.finditer(result.stdout)}
    assert set(lines) == {"2000", "200"}, f"expected the config's and the small instance's lines:\n{result.stdout}"
    assert lines["2000"].group(1, 2, 3, 7) == ("MNIST", "test", "10000", "500")
    assert lines["200"].group(1, 2, 3, 7) == ("MNIST", "test", "500", "100")
    recorded = read_json(tmp_path / "test_rank0.json")
    assert float(lines["2000"].group(4)) == round(recorded["test/parzen_ll"], 2)
    assert float(lines["2000"].group(6)) == round(recorded["test/parzen_sigma"], 4)
    gan = GAN.load_from_checkpoint(checkpoint)
    single = ParzenEvaluation(**SMALL_CLI["init_args"]).evaluate(gan, MNISTSampleDataModule(), "test")
    assert_close(recorded["test/parzen_small_ll"], single.mean, rtol=1e-9, atol=0)
