"""The optional speed-ups keep results honest: bf16 autocast (the Trainer's ``precision``) and torch.compile.

Under ``precision="bf16-mixed"`` the networks compute in bfloat16, but every loss, logged value, sample and
checkpointed weight stays float32, and a resumed run still equals an uninterrupted one. ``compile_networks``
compiles G, D and E in place: parameter names and checkpoints are those of an uncompiled run, either way round.
The in-process compile tests use a recording backend (dynamo's graph capture, no code generation) to stay fast;
the slow tests run the default inductor backend, in process and from the ``ganbench`` command.
"""

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from ganbench import GAN
from ganbench.callbacks import Checkpoint, SampleWriter
from ganbench.contract import at_least_float32
from ganbench.errors import ConfigError
from ganbench.losses import R1, NonSaturating
from ganbench.nets import MLPDiscriminator, MLPEncoder, MLPGenerator
from ganbench.optim import ClassicMomentumSGD
from tests.conftest import REPO, RandomImages, run_ganbench, tiny_gan, tiny_trainer
from tests.test_resume import assert_same_weights


class RecordingLoss(NonSaturating):
    """The paper's loss, recording the dtypes of the logits it is given and of the losses it returns."""

    def __init__(self) -> None:
        self.dtypes: set[torch.dtype] = set()

    def discriminator_loss(self, real_logits, fake_logits):
        loss = super().discriminator_loss(real_logits, fake_logits)
        self.dtypes |= {real_logits.dtype, fake_logits.dtype, loss.dtype}
        return loss

    def generator_loss(self, fake_logits, real_logits=None):
        loss = super().generator_loss(fake_logits)
        self.dtypes |= {fake_logits.dtype, loss.dtype}
        return loss


def record_output_dtypes(network: torch.nn.Module) -> set[torch.dtype]:
    """The dtypes of ``network``'s outputs from now on, as it made them (before the contract's cast)."""
    dtypes: set[torch.dtype] = set()
    network.register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
    return dtypes


class RecordLogged(pl.Callback):
    """Keeps every logged value of every training step (``log_every_n_steps=1``), and whether autocast is on
    where sample grids and evaluations (Parzen, FID) draw their samples."""

    def __init__(self) -> None:
        self.values: list[torch.Tensor] = []
        self.autocast_in_callbacks: set[bool] = set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.values += [value for key, value in trainer.callback_metrics.items() if key.startswith("train/")]
        self.autocast_in_callbacks.add(torch.is_autocast_enabled("cpu"))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self.autocast_in_callbacks.add(torch.is_autocast_enabled("cpu"))


@pytest.mark.parametrize("schedule", ["alternating", "simultaneous"])
def test_bf16_mixed_computes_networks_in_bfloat16_and_keeps_losses_samples_and_weights_float32(tmp_path, schedule):
    loss, logged = RecordingLoss(), RecordLogged()
    gan = tiny_gan(loss=loss, schedule=schedule)
    generator_dtypes, discriminator_dtypes = (
        record_output_dtypes(gan.generator),
        record_output_dtypes(gan.discriminator),
    )
    trainer = tiny_trainer(
        tmp_path, precision="bf16-mixed", max_steps=4, log_every_n_steps=1, callbacks=[logged], limit_val_batches=1
    )
    trainer.fit(gan, datamodule=RandomImages())
    trainer.validate(gan, datamodule=RandomImages())
    assert torch.bfloat16 in generator_dtypes and torch.bfloat16 in discriminator_dtypes  # autocast was on
    assert logged.autocast_in_callbacks == {False}  # grids and metrics: float32 arithmetic on the float32 weights
    assert loss.dtypes == {torch.float32}
    assert logged.values and all(value.dtype == torch.float32 and value.isfinite() for value in logged.values)
    assert {parameter.dtype for parameter in gan.parameters()} == {torch.float32}
    with trainer.precision_plugin.forward_context():  # as in predict_step: autocast on
        assert gan.sample(5).dtype == torch.float32
    writer = SampleWriter(num_samples=4, batch_size=4, output_dir=str(tmp_path / "predicted"))
    (predicted,) = tiny_trainer(tmp_path, precision="bf16-mixed", callbacks=[writer]).predict(gan, RandomImages())
    assert predicted["images"].dtype == torch.float32


def test_the_contract_widens_half_precision_only():
    assert at_least_float32(torch.zeros(2, dtype=torch.bfloat16)).dtype == torch.float32
    assert at_least_float32(torch.zeros(2, dtype=torch.float16)).dtype == torch.float32
    assert at_least_float32(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64  # precision="64-true"


def paper_gan(with_encoder: bool = False, **kwargs) -> GAN:
    """Dropout in D, the paper's momentum SGD (and a joint encoder): what exact resume has to reproduce."""
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=(1, 4, 4))
    discriminator = MLPDiscriminator(image_shape=(1, 4, 4), hidden_dims=(6,), dropout=0.3)
    encoder = MLPEncoder(image_shape=(1, 4, 4), latent_dim=3, hidden_dims=(8,)) if with_encoder else None
    sgd = partial(ClassicMomentumSGD, lr=0.1, momentum=0.5)
    return GAN(
        generator, discriminator, generator_optimizer=sgd, discriminator_optimizer=sgd, encoder=encoder, **kwargs
    )


def fit(folder: Path, max_steps: int, ckpt_path=None, every: int | None = None, precision="32-true", **kwargs) -> GAN:
    pl.seed_everything(0)
    callbacks = [Checkpoint(dirpath=folder, every_n_train_steps=every)] if every else []
    trainer = tiny_trainer(
        folder, max_steps=max_steps, precision=precision, callbacks=callbacks, enable_checkpointing=bool(every)
    )
    gan = paper_gan(**kwargs)
    trainer.fit(gan, RandomImages(count=40, batch_size=4), ckpt_path=ckpt_path)
    return gan


def test_bf16_mixed_resumed_run_equals_uninterrupted_run_bit_for_bit_with_float32_checkpoints(tmp_path):
    straight = fit(tmp_path / "straight", 8, precision="bf16-mixed")
    fit(tmp_path / "resumed", 4, every=1000, precision="bf16-mixed")
    checkpoint = tmp_path / "resumed" / "last.ckpt"
    saved = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert {value.dtype for value in saved.values() if value.is_floating_point()} == {torch.float32}
    resumed = fit(tmp_path / "resumed", 8, ckpt_path=checkpoint, precision="bf16-mixed")
    assert_same_weights(straight, resumed)
    # and the run differs from a float32 one: autocast really changed the arithmetic
    float32 = fit(tmp_path / "float32", 8)
    assert not torch.equal(float32.generator.output.weight, straight.generator.output.weight)


COMPILED_CALLS = [0]
RECORDING_BACKEND = "ganbench_test_recording"  # by name: a backend object in hparams would be pickled


def record_graph(graph_module, example_inputs):
    """A torch.compile backend that runs the graphs dynamo captures as they are, counting the calls."""

    def run(*inputs):
        COMPILED_CALLS[0] += 1
        return graph_module.forward(*inputs)

    return run


if RECORDING_BACKEND not in torch.compiler.list_backends(exclude_tags=()):
    torch._dynamo.register_backend(record_graph, name=RECORDING_BACKEND)


def test_compiled_networks_train_and_their_checkpoints_load_uncompiled_and_back(tmp_path):
    COMPILED_CALLS[0] = 0
    compiled = fit(tmp_path / "compiled", 3, every=1000, compile_networks={"backend": RECORDING_BACKEND})
    assert COMPILED_CALLS[0] >= 3 * 4  # G and D, each twice a step (3 steps), ran compiled
    assert compiled.state_dict().keys() == paper_gan().state_dict().keys()  # no `_orig_mod.` prefixes
    uncompiled = paper_gan()
    uncompiled.load_state_dict(torch.load(tmp_path / "compiled" / "last.ckpt", weights_only=True)["state_dict"])
    assert_same_weights(compiled, uncompiled)
    # an uncompiled run resumes from the compiled run's checkpoint, and a compiled run from an uncompiled one
    resumed = fit(tmp_path / "uncompiled", 5, ckpt_path=tmp_path / "compiled" / "last.ckpt", every=1000)
    assert resumed.trainer.global_step == 5
    COMPILED_CALLS[0] = 0
    again = {"backend": RECORDING_BACKEND}
    resumed = fit(tmp_path / "again", 7, ckpt_path=tmp_path / "uncompiled" / "last.ckpt", compile_networks=again)
    assert resumed.trainer.global_step == 7 and COMPILED_CALLS[0] >= 2 * 4


def test_compiling_with_a_penalty_loss_is_refused_in_one_line(tmp_path):
    gan = tiny_gan(loss=R1(gamma=1.0), compile_networks=True)
    with pytest.raises(ConfigError, match=r"^model\.compile_networks: R1\(gamma=1\.0.*cannot\..*false\)\.$"):
        tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=RandomImages())


def test_an_unknown_compile_mode_is_one_line(tmp_path):
    gan = tiny_gan(compile_networks={"mode": "fastest"})
    with pytest.raises(ConfigError, match=r"^model\.compile_networks: Unrecognized mode=fastest"):
        tiny_trainer(tmp_path, max_steps=1).fit(gan, datamodule=RandomImages())


@pytest.mark.slow  # inductor generates and compiles C++: about a minute on 2 CPU cores
def test_inductor_compiled_bf16_run_resumes_bit_for_bit_validates_and_samples_in_float32(tmp_path):
    """Inductor draws dropout masks its own way, so a compiled run is not the eager run; but it is reproducible."""
    options = dict(with_encoder=True, compile_networks=True, precision="bf16-mixed")
    straight = fit(tmp_path / "straight", 6, **options)
    fit(tmp_path / "resumed", 3, every=1000, **options)
    resumed = fit(tmp_path / "resumed", 6, ckpt_path=tmp_path / "resumed" / "last.ckpt", **options)
    assert_same_weights(straight, resumed)
    validator = tiny_trainer(tmp_path, precision="bf16-mixed", limit_val_batches=2)
    (validated,) = validator.validate(resumed, RandomImages(count=40, batch_size=4))  # configure_model: no recompile
    assert all(torch.tensor(value).isfinite() for value in validated.values()) and "val/latent_error" in validated
    samples = resumed.sample(5)
    assert samples.dtype == torch.float32 and samples.shape == (5, 1, 4, 4)


def test_compile_networks_from_the_command_line(tmp_path):
    """The option's wiring from the command line, with torch.compile's options as a dict (the ``eager`` backend:
    dynamo's capture without code generation, so CI does not pay inductor twice; the test above runs inductor)."""
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        '--model.compile_networks={"backend": "eager"}',
        "--trainer.max_steps=3",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = next(tmp_path.rglob("config.yaml")).parent
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["compile_networks"] == {"backend": "eager"}
    checkpoint = next(run_dir.rglob("*.ckpt"))
    assert GAN.load_from_checkpoint(checkpoint).sample(2).shape == (2, 1, 28, 28)
