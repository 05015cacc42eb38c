"""FIDEvaluation: val/fid during fit, the protocol line in test, failures, errors, the cache, and DDP."""

import json
import logging
import math
import re
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml
from torch import nn

from ganbench import GAN
from ganbench.callbacks import FIDEvaluation
from ganbench.cli import GanbenchCLI
from ganbench.data import MNISTSampleDataModule
from ganbench.errors import ConfigError
from ganbench.metrics import frechet_distance
from tests.conftest import METRICS_RECORDER, REPO, RandomImages, run_ganbench, tiny_gan, tiny_trainer

LINE = re.compile(
    r"^(val|test)/fid = (\S+) \[torchmetrics [\d.]+ FrechetInceptionDistance, float64 statistics \| "
    r"features: (.+?) \| real: (\S+) (\w+), n_real=(\d+) \| n_fake=(\d+) \| resize: (.+?) \|",
    re.M,
)


class LinearFeatures(nn.Module):
    """A fixed random projection of the flattened pixels: ``(B, C, H, W) -> (B, num_features)``."""

    def __init__(self, pixels: int = 16, num_features: int = 4) -> None:
        super().__init__()
        self.num_features = num_features
        self.projection = nn.Linear(pixels, num_features, bias=False)
        with torch.no_grad():
            self.projection.weight.copy_(torch.randn(num_features, pixels, generator=torch.Generator().manual_seed(0)))

    def forward(self, images):
        return self.projection(images.flatten(1))

    def features_and_logits(self, images):
        features = self(images)
        return features, features[:, :3]


def small(tmp_path: Path, **arguments) -> FIDEvaluation:
    options = dict(feature_extractor=LinearFeatures(), num_fake=50, cache_dir=str(tmp_path / "cache"))
    return FIDEvaluation(**{**options, **arguments})


def fit(tmp_path, callback, gan=None, datamodule=None, **trainer_arguments):
    gan = gan if gan is not None else tiny_gan()
    datamodule = datamodule if datamodule is not None else RandomImages()
    options = {"max_epochs": 1, "limit_val_batches": None, "callbacks": [callback], **trainer_arguments}
    trainer = tiny_trainer(tmp_path, **options)
    trainer.fit(gan, datamodule=datamodule)
    return trainer, gan, datamodule


def direct_fid(gan, datamodule, num_fake=50, seed=0):
    fake = gan.sample(num_fake, generator=torch.Generator().manual_seed(seed))
    return frechet_distance(datamodule.split_images("test"), fake, feature_extractor=LinearFeatures()).fid


def test_fit_logs_val_fid_equal_to_the_direct_computation(tmp_path):
    callback = small(tmp_path)
    trainer, gan, datamodule = fit(tmp_path, callback)
    value = trainer.callback_metrics["val/fid"].item()
    assert math.isfinite(value) and value > 0
    assert value == pytest.approx(direct_fid(gan, datamodule), rel=1e-12)
    assert not any(key.startswith("test/") for key in trainer.callback_metrics)
    protocol = callback.results[0].protocol
    assert (protocol.num_real, protocol.num_fake, protocol.real_data) == (64, 50, "RandomImages test")


def test_test_logs_test_fid_and_prints_one_line_with_its_protocol(tmp_path, capsys):
    trainer, gan, datamodule = fit(tmp_path, small(tmp_path))
    capsys.readouterr()
    trainer.test(gan, datamodule=datamodule, verbose=False)
    lines = LINE.findall(capsys.readouterr().out)
    assert len(lines) == 1, lines
    stage, value, features, data, split, num_real, num_fake, resize = lines[0]
    assert (stage, features, data, split, num_real, num_fake, resize) == (
        "test",
        "LinearFeatures(4 features)",
        "RandomImages",
        "test",
        "64",
        "50",
        "none",
    )
    assert float(value) == round(trainer.callback_metrics["test/fid"].item(), 4)


def test_kid_and_inception_score_are_logged_when_asked_for(tmp_path):
    callback = small(
        tmp_path, kid=True, kid_subsets=3, kid_subset_size=20, inception_score=True, inception_score_splits=2
    )
    trainer, _, _ = fit(tmp_path, callback)
    for key in ("val/fid", "val/kid_mean", "val/kid_std", "val/inception_score"):
        assert math.isfinite(trainer.callback_metrics[key].item()), key


def test_second_run_reads_the_cached_statistics_and_logs_their_key(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        fit(tmp_path, small(tmp_path))
        fit(tmp_path, small(tmp_path))
    statuses = re.findall(r"FID real statistics (\w+): (RandomImages-test-n64-LinearFeatures-\w+)", caplog.text)
    assert [status for status, _ in statuses] == ["computed", "cache"]
    assert statuses[0][1] == statuses[1][1]
    assert (tmp_path / "cache" / f"{statuses[0][1]}.pt").is_file()


def test_every_n_epochs_counts_validation_epochs_and_skips_the_sanity_check(tmp_path):
    callback = small(tmp_path, every_n_epochs=2)
    fit(tmp_path, callback, max_epochs=3, num_sanity_val_steps=1)
    assert len(callback.results) == 1


def test_a_diverged_generator_is_a_warning_and_nan_not_a_crash(tmp_path):
    gan = tiny_gan()
    with torch.no_grad():
        for parameter in gan.generator.parameters():
            parameter.fill_(float("nan"))
    trainer = tiny_trainer(tmp_path, limit_val_batches=None, callbacks=[small(tmp_path)])
    with pytest.warns(RuntimeWarning, match="FIDEvaluation failed .* NaN or infinite"):
        trainer.validate(gan, datamodule=RandomImages(), verbose=False)
    assert math.isnan(trainer.callback_metrics["val/fid"].item())


def test_evaluation_leaves_the_training_random_streams_alone(tmp_path):
    gan, datamodule = tiny_gan(), RandomImages()
    tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=datamodule)
    callback = small(tmp_path)
    torch.manual_seed(123)
    global_before, noise_before = torch.get_rng_state(), gan._noise_generator.get_state()
    callback.evaluate(gan, datamodule)
    assert torch.equal(torch.get_rng_state(), global_before)
    assert torch.equal(gan._noise_generator.get_state(), noise_before)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(num_real=65), "num_real=65 but the test split has 64 images"),
        (dict(num_fake=4), "needs more than 4 generated images, got 4"),
        (dict(num_real=3), "needs more than 4 real images, got 3"),
        (dict(kid=True, kid_subset_size=100), "kid_subset_size \\(100\\) exceeds the 64 real images"),
    ],
)
def test_too_few_images_are_refused_when_the_run_starts(tmp_path, arguments, message):
    trainer = tiny_trainer(tmp_path, max_steps=1, callbacks=[small(tmp_path, **arguments)])
    with pytest.raises(ConfigError, match=message):
        trainer.fit(tiny_gan(), datamodule=RandomImages())


def test_generated_images_of_the_wrong_shape_are_one_clear_error(tmp_path):
    datamodule = RandomImages(image_shape=(1, 4, 5))
    callback = small(tmp_path, feature_extractor=LinearFeatures(pixels=20))
    callback.evaluator.extractor.input_size = (4, 5)
    with pytest.raises(Exception, match=r"generated images are \(4, 4\) pixels but LinearFeatures takes \(4, 5\)"):
        callback.evaluate(tiny_gan(), datamodule)


def test_bad_arguments_and_modules_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="every_n_epochs must be >= 0"):
        small(tmp_path, every_n_epochs=-1)
    with pytest.raises(ConfigError, match="num_fake must be >= 2"):
        small(tmp_path, num_fake=1)

    class Plain(pl.LightningDataModule):
        def train_dataloader(self):
            return RandomImages().train_dataloader()

    trainer = tiny_trainer(tmp_path, max_steps=1, callbacks=[small(tmp_path)])
    with pytest.raises(ConfigError, match=r"split_images\(split, limit\).*got Plain"):
        trainer.fit(tiny_gan(), datamodule=Plain())


# ---------------------------------------------------------------------- the command line, one and two processes


@pytest.mark.parametrize("snippet", sorted(path.name for path in (REPO / "configs/fid").glob("*.yaml")))
def test_shipped_fid_snippets_add_to_a_gan_config(snippet, capsys):
    arguments = [
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        f"--trainer.callbacks+={REPO / 'configs/fid' / snippet}",
    ]
    with pytest.raises(SystemExit) as exited:
        GanbenchCLI(args=[*arguments, "--print_config"])
    assert exited.value.code == 0
    (fid,) = [
        c for c in yaml.safe_load(capsys.readouterr().out)["trainer"]["callbacks"] if "FIDEvaluation" in c["class_path"]
    ]
    assert fid["init_args"]["num_fake"] in (10_000, 50_000)


def test_missing_inception_weights_stop_the_run_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        f"--trainer.callbacks+={REPO / 'configs/fid/inception.yaml'}",
        f"--trainer.default_root_dir={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ganbench: error: The FID Inception weights are not in ")
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in last and "weights-inception-2015-12-05-6726825d" in last
    assert "Traceback" not in result.stderr


USER_PACKAGE = '''
import torch
from torch import nn


class TinyFeatures(nn.Module):
    """784 pixels -> 8 fixed random features."""

    num_features = 8

    def __init__(self):
        super().__init__()
        weight = torch.randn(8, 784, generator=torch.Generator().manual_seed(0))
        self.register_buffer("weight", weight)

    def forward(self, images):
        return images.flatten(1) @ self.weight.T
'''

CLI_FID = {"feature_extractor": {"class_path": "fidpackage.TinyFeatures"}, "num_fake": 300, "num_real": 500}


def ganbench_with_fid(folder: Path, *arguments: str):
    (folder / "fidpackage.py").write_text(USER_PACKAGE + METRICS_RECORDER)
    callback = {"class_path": "FIDEvaluation", "init_args": {**CLI_FID, "cache_dir": str(folder / "cache")}}
    recorder = {"class_path": "fidpackage.RecordMetrics", "init_args": {"folder": str(folder), "contains": "/fid"}}
    return run_ganbench(
        *arguments,
        f"--config={REPO / 'configs/quickstart.yaml'}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={folder}",
        f"--trainer.callbacks+={json.dumps(callback)}",
        f"--trainer.callbacks+={json.dumps(recorder)}",
        cwd=folder,
    )


def test_ddp_fit_logs_the_single_process_value_of_the_checkpoint_on_every_rank(tmp_path, monkeypatch):
    # The quickstart generator has BatchNorm, whose running statistics differ between ranks after training:
    # this fails if each rank evaluates its own generator, and hangs if a collective is called on one rank only.
    arguments = ["--trainer.max_steps=3", "--trainer.limit_train_batches=3", "--trainer.max_epochs=1"]
    ddp = ["--trainer.accelerator=cpu", "--trainer.strategy=ddp", "--trainer.devices=2"]
    result = ganbench_with_fid(tmp_path, "fit", *arguments, *ddp)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sync_dist=True" not in result.stderr
    assert "FID real statistics computed: MNIST-test-n500-TinyFeatures-" in result.stderr
    ranks = [json.loads((tmp_path / f"val_rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [values["world_size"] for values in ranks] == [2, 2]
    assert ranks[0] == ranks[1]
    monkeypatch.syspath_prepend(str(tmp_path))
    from fidpackage import TinyFeatures

    gan = GAN.load_from_checkpoint(sorted(tmp_path.rglob("last.ckpt"))[-1])
    options = {key: value for key, value in CLI_FID.items() if key != "feature_extractor"}
    single = FIDEvaluation(TinyFeatures(), **options, use_cache=False).evaluate(gan, MNISTSampleDataModule())
    assert ranks[0]["val/fid"] == pytest.approx(single.fid, rel=1e-9)
