"""The example user package ``examples/mylab``: its networks keep the contract, and its documented commands train them.

``mylab`` is a package of its own that ganbench does not know; these tests import it from
``examples/mylab/src`` (in-process through ``sys.path``, in the ``ganbench`` command through ``PYTHONPATH``),
as a user would after ``pip install -e examples/mylab``.
"""

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ganbench import GAN
from ganbench.contract import discriminate, generate
from ganbench.errors import ConfigError
from ganbench.nets import Discriminator, Generator
from tests.conftest import REPO
from tests.test_contract import fit
from tests.test_doc_commands import fenced_blocks as markdown_blocks

MYLAB = REPO / "examples" / "mylab"
SOURCE = MYLAB / "src"
PAGE = REPO / "docs" / "own_architecture.md"
EXAMPLE_README = MYLAB / "README.md"

#: The commands that docs/own_architecture.md and examples/mylab/README.md show in their blocks marked
#: ``<!-- run by tests/test_examples.py -->``; the test below runs each of them for a few steps.
DOCUMENTED_COMMANDS = [
    "ganbench fit --config examples/mylab/configs/mylab.yaml",
    "ganbench fit --config configs/quickstart.yaml --model.generator=mylab.nets.MyGenerator",
]
#: What makes a documented command short and keeps its run out of the repository.
SHORT_RUN = ["--trainer.max_steps=5", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false"]

RUN_MARKER = "<!-- run by tests/test_examples.py -->"
NOT_RUN_MARKER = re.compile(r"<!--\s*not run by tests:\s*\S.*-->")


def tiny_networks(nets, num_classes: int | None = None) -> tuple[Generator, Discriminator]:
    """mylab's two networks, small, for ``RandomImages``' (1, 4, 4) images."""
    generator = nets.MyGenerator(latent_dim=3, width=8, blocks=1, image_shape=(1, 4, 4), num_classes=num_classes)
    discriminator = nets.MyDiscriminator(image_shape=(1, 4, 4), width=8, num_classes=num_classes)
    return generator, discriminator


def parameters_of(network: torch.nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in network.parameters()]


@pytest.fixture
def mylab_nets(monkeypatch):
    """``mylab.nets`` imported from examples/mylab/src; any other ``mylab`` in ``sys.modules`` is put back after."""
    monkeypatch.syspath_prepend(str(SOURCE))
    for name in [name for name in sys.modules if name == "mylab" or name.startswith("mylab.")]:
        monkeypatch.delitem(sys.modules, name)
    yield importlib.import_module("mylab.nets")
    for name in [name for name in sys.modules if name == "mylab" or name.startswith("mylab.")]:
        del sys.modules[name]


def test_the_example_is_imported_from_its_own_source_folder(mylab_nets):
    assert Path(mylab_nets.__file__).resolve() == SOURCE / "mylab" / "nets.py"
    assert issubclass(mylab_nets.MyGenerator, Generator) and issubclass(mylab_nets.MyDiscriminator, Discriminator)


@pytest.mark.parametrize("num_classes", [None, 10])
def test_default_networks_make_and_judge_mnist_shaped_images(mylab_nets, num_classes):
    generator = mylab_nets.MyGenerator(num_classes=num_classes).eval()
    discriminator = mylab_nets.MyDiscriminator(num_classes=num_classes).eval()
    assert generator.latent_dim == 100 and generator.num_classes == discriminator.num_classes == num_classes
    labels = torch.tensor([0, 3, 9]) if num_classes else None
    with torch.no_grad():
        images = generate(generator, torch.randn(3, 100), labels)
        logits = discriminate(discriminator, images, labels)
    assert images.shape == (3, 1, 28, 28)
    assert images.min() >= generator.output_range[0] and images.max() <= generator.output_range[1]
    assert logits.shape == (3,)


@pytest.mark.parametrize("num_classes", [None, 10])
@pytest.mark.parametrize("schedule", ["alternating", "simultaneous"])
def test_the_networks_train_through_both_schedules_and_the_evaluation(tmp_path, mylab_nets, schedule, num_classes):
    generator, discriminator = tiny_networks(mylab_nets, num_classes)
    gan = GAN(generator, discriminator, schedule=schedule)
    before = {network: parameters_of(network) for network in (generator, discriminator)}
    trainer = fit(tmp_path, gan)
    assert trainer.global_step == 3
    assert trainer.callback_metrics["val/d_real"] >= 0  # the evaluation path ran
    for network, parameters in before.items():
        after = parameters_of(network)
        assert all(torch.isfinite(parameter).all() for parameter in after)
        assert not all(torch.equal(old, new) for old, new in zip(parameters, after)), type(network).__name__
    assert gan.sample(4).shape == (4, 1, 4, 4)


def test_the_contract_s_two_errors(mylab_nets):
    conditional, _ = tiny_networks(mylab_nets, num_classes=10)
    unconditional, discriminator = tiny_networks(mylab_nets)
    with pytest.raises(ConfigError, match=r"MyGenerator is conditional \(num_classes=10\) but was given no labels"):
        generate(conditional, torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="MyGenerator is not conditional"):
        generate(unconditional, torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match="MyDiscriminator is not conditional"):
        discriminate(discriminator, torch.zeros(2, 1, 4, 4), labels=torch.zeros(2, dtype=torch.long))


def test_a_conditional_network_s_output_changes_with_the_label_alone(mylab_nets):
    torch.manual_seed(0)
    generator, discriminator = (network.eval() for network in tiny_networks(mylab_nets, num_classes=4))
    noise, images = torch.randn(3, 3), torch.rand(3, 1, 4, 4)
    with torch.no_grad():
        for network, batch in ((generator, noise), (discriminator, images)):
            first = network(batch, torch.tensor([0, 1, 2]))
            other = network(batch, torch.tensor([3, 1, 2]))  # only the first example's label changes
            assert not torch.allclose(first[0], other[0])
            torch.testing.assert_close(first[1:], other[1:])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda nets: nets.MyGenerator(blocks=-1), r"^MyGenerator: blocks must be >= 0, got -1\.$"),
        (lambda nets: nets.MyGenerator(num_classes=1), r"^MyGenerator: num_classes must be >= 2 or null, got 1\.$"),
        (lambda nets: nets.MyDiscriminator(width=0), r"^MyDiscriminator: width must be >= 1, got 0\.$"),
        (lambda nets: nets.MyDiscriminator(dropout=1.0), r"^MyDiscriminator: dropout must be in \[0, 1\), got 1\.0\.$"),
        (lambda nets: nets.MyDiscriminator(image_shape=(1, 28)), r"image_shape must be \[channels, height, width\]"),
    ],
)
def test_arguments_that_cannot_work_are_one_config_error(mylab_nets, build, message):
    with pytest.raises(ConfigError, match=message):
        build(mylab_nets)


# The pages.


def fenced_blocks(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each fenced block of a Markdown file: ``(language, text, the two lines above its opening fence)``."""
    return [(block.language, block.text, block.preceding) for block in markdown_blocks(path)]


def documented_commands(path: Path) -> list[str]:
    """The commands of ``path``'s bash blocks marked as run by this file, one per line."""
    return [
        line.strip()
        for language, text, above in fenced_blocks(path)
        if language == "bash" and any(RUN_MARKER in line for line in above)
        for line in text.splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize("path", [PAGE, EXAMPLE_README], ids=["page", "example-readme"])
def test_every_bash_block_says_whether_a_test_runs_it(path):
    bash_blocks = [(text, above) for language, text, above in fenced_blocks(path) if language == "bash"]
    assert bash_blocks
    unmarked = [
        text
        for text, above in bash_blocks
        if not any(RUN_MARKER in line or NOT_RUN_MARKER.search(line) for line in above)
    ]
    assert not unmarked, f"bash blocks of {path.name} with neither marker on the two lines above them: {unmarked}"


@pytest.mark.parametrize("path", [PAGE, EXAMPLE_README], ids=["page", "example-readme"])
def test_the_commands_marked_as_run_here_are_the_ones_run_here(path):
    assert documented_commands(path) == DOCUMENTED_COMMANDS


def test_the_page_s_code_is_copied_verbatim_from_the_example():
    sources = {
        "python": (SOURCE / "mylab" / "nets.py").read_text(),
        "yaml": (MYLAB / "configs" / "mylab.yaml").read_text(),
    }
    blocks = [(language, text) for language, text, _ in fenced_blocks(PAGE) if language in sources]
    assert {language for language, _ in blocks} == set(sources)
    stale = [text.splitlines()[0] for language, text in blocks if text + "\n" not in sources[language]]
    assert not stale, f"blocks of {PAGE.name} that are not in the example's files (copy them again): {stale}"


# The documented commands, as a user runs them (slow: each starts the ganbench command).


def ganbench_process(command: str, root_dir: Path) -> subprocess.Popen:
    """Starts a documented ``ganbench ...`` command from the repository's root, short and writing under ``root_dir``."""
    words = shlex.split(command)
    assert words[0] == "ganbench", command
    environment = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(SOURCE), str(REPO)]),
        PYTHONWARNINGS="ignore",
        OMP_NUM_THREADS="1",
    )
    arguments = [*words[1:], *SHORT_RUN, f"--trainer.default_root_dir={root_dir}"]
    return subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", *arguments],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: A documented command with a bad argument for a mylab network, run beside the others.
BAD_ARGUMENT = f"{DOCUMENTED_COMMANDS[0]} --model.generator.init_args.blocks=-1"


@pytest.fixture(scope="module")
def command_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each documented command (and :data:`BAD_ARGUMENT`) run for 5 steps, the processes side by side."""
    running = {}
    for command in [*DOCUMENTED_COMMANDS, BAD_ARGUMENT]:
        folder = tmp_path_factory.mktemp("run")
        running[command] = (ganbench_process(command, folder), folder)
    runs = {}
    for command, (process, folder) in running.items():
        stdout, stderr = process.communicate(timeout=600)
        runs[command] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), folder)
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("command", DOCUMENTED_COMMANDS)
def test_documented_command_trains_mylab_s_networks_and_writes_a_checkpoint_that_loads(
    command, command_runs, mylab_nets
):
    result, folder = command_runs[command]
    assert result.returncode == 0, result.stderr[-3000:]
    saved = yaml.safe_load(next(folder.rglob("config.yaml")).read_text())
    assert saved["model"]["generator"]["class_path"] == "mylab.nets.MyGenerator"
    if "mylab.yaml" in command:
        assert saved["model"]["discriminator"]["class_path"] == "mylab.nets.MyDiscriminator"
    checkpoint = next(folder.rglob("checkpoints/last.ckpt"))
    gan = GAN.load_from_checkpoint(checkpoint, map_location="cpu")
    assert isinstance(gan.generator, mylab_nets.MyGenerator)
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"] == 5
    assert gan.sample(2).shape == (2, 1, 28, 28)


@pytest.mark.slow
def test_a_bad_argument_of_a_mylab_network_is_one_error_line(command_runs):
    result, _ = command_runs[BAD_ARGUMENT]
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "ganbench: error: MyGenerator: blocks must be >= 0, got -1."
