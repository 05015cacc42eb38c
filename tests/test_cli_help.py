"""``ganbench fit|validate|test|predict --help`` fits a terminal and still names ganbench's parts (ganbench/help.py)."""

import pytest

from ganbench.cli import main
from ganbench.help import EPILOG, abridge, summarise_subclasses

# argparse wraps to $COLUMNS, and uses 80 when it is unset and the output is not a terminal.
COLUMNS = "80"


def help_lines(capsys, monkeypatch, *args: str) -> list[str]:
    monkeypatch.setenv("COLUMNS", COLUMNS)
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    assert stop.value.code == 0
    return capsys.readouterr().out.splitlines()


def test_fit_help_lists_ganbench_parts_in_under_400_lines_at_80_columns(capsys, monkeypatch):
    """The types list ganbench's networks, losses, priors, optimisers and callbacks; torch's are counted."""
    lines = help_lines(capsys, monkeypatch, "fit", "--help")
    assert len(lines) < 400
    assert lines[0].startswith("usage: ganbench") and lines[1] == ""  # one line, not one per option
    text = " ".join(line.strip() for line in lines)
    for part in (
        "ganbench.nets.MLPGenerator",
        "ganbench.nets.DCGANGenerator",
        "ganbench.nets.MaxoutDiscriminator",
        "ganbench.nets.DCGANDiscriminator",
        "ganbench.nets.MLPEncoder",
        "ganbench.losses.Minimax",
        "ganbench.losses.Hinge",
        "ganbench.priors.Normal",
        "ganbench.optim.ClassicMomentumSGD",
        "ganbench.optim.ExponentialDecay",
        "ganbench.callbacks.SampleGrid",
        "ganbench.data.MNISTDataModule",
    ):
        assert part in text
    assert "torch.nn.modules.linear.Linear" not in text
    # torch's optimisers and Lightning's callbacks are counted, not listed
    assert "torch.optim.Adagrad" not in text and "lightning.pytorch.callbacks.EarlyStopping" not in text
    assert "classes in torch.optim" in text and "classes in lightning" in text
    # Lightning's Trainer options keep their first sentence (and their Default:), ganbench's keep all of theirs
    assert "How often to check the validation set. Default: ``1.0``. (type:" in text
    assert "When time-based" not in text
    assert "Each DDP rank offsets it by its rank" in text  # --model.noise_seed's second sentence
    # the --KEY.help CLASS options are said once, in the epilog
    assert not any(line.strip().startswith("--model.generator.help") for line in lines)
    assert " ".join(EPILOG.split()) in text


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_the_other_subcommands_help_is_under_400_lines_at_80_columns(capsys, monkeypatch, subcommand):
    lines = help_lines(capsys, monkeypatch, subcommand, "--help")
    assert len(lines) < 400
    assert "ganbench.nets.DCGANGenerator" in " ".join(lines)


def test_a_class_help_still_shows_that_class_in_full(capsys, monkeypatch):
    lines = help_lines(capsys, monkeypatch, "fit", "--trainer.callbacks.help", "ganbench.callbacks.SampleGrid")
    text = "\n".join(lines)
    assert "Help for --trainer.callbacks.help=ganbench.callbacks.SampleGrid" in text
    assert "--trainer.callbacks.every_n_steps" in text
    lines = help_lines(capsys, monkeypatch, "fit", "--model.generator.help", "DCGANGenerator")
    assert "--model.generator.latent_dim" in "\n".join(lines)


def test_abridge_keeps_the_first_sentence_and_the_default():
    assert abridge("Stop after n steps. Disabled by default (-1). Default: ``-1``.") == (
        "Stop after n steps. Default: ``-1``."
    )
    assert abridge("Defaults to ``None``. If ``True``, loads weights only. More.") == (
        "If ``True``, loads weights only. Defaults to ``None``."
    )
    assert abridge("Runs n batches (e.g. Two of them) (i.e. Not all). Then more.") == (
        "Runs n batches (e.g. Two of them) (i.e. Not all)."
    )
    assert abridge("One sentence only") == "One sentence only"


def test_summarise_subclasses_lists_ganbench_and_user_classes_and_counts_the_libraries():
    text = (
        "builds G's optimiser. (type: %(type)s, default: %(default)s, known subclasses: torch.optim.Optimizer, "
        "torch.optim.Adam, torch.optim.lr_scheduler.StepLR, ganbench.optim.ClassicMomentumSGD, "
        "lightning.pytorch.cli.ReduceLROnPlateau, mylab.optim.Lion)"
    )
    summary = summarise_subclasses(text)
    assert summary == (
        "builds G's optimiser. (type: %(type)s, default: %(default)s, known subclasses: "
        "ganbench.optim.ClassicMomentumSGD, mylab.optim.Lion, 3 classes in torch.optim, "
        "1 class in lightning.pytorch.cli)"
    )
    assert summarise_subclasses(summary) == summary  # applied twice, as jsonargparse may
    only_ours = "(type: %(type)s, known subclasses: ganbench.priors.Uniform, ganbench.priors.Normal)"
    assert summarise_subclasses(only_ours) == only_ours
    assert summarise_subclasses("a plain option (type: int)") == "a plain option (type: int)"
