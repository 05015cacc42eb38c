"""Each private name of another library that ganbench reads still exists (ganbench/library_internals.py).

When one of these fails after an upgrade, the message names the library, the attribute and the
function of ganbench.library_internals to rewrite.
"""

import importlib
import re
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.strategies import DDPStrategy

from ganbench import library_internals
from ganbench.library_internals import PRIVATE_NAMES, checkpoint_interval, find_unused_parameters

PACKAGE = Path(library_internals.__file__).parent


@pytest.mark.parametrize(("library", "owner", "attribute"), PRIVATE_NAMES)
def test_private_name_still_exists(library, owner, attribute):
    module_name, _, class_name = owner.rpartition(".")
    try:
        owner_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError as error:  # torchmetrics' Inception class needs the optional torch-fidelity
        pytest.skip(f"{owner} cannot be imported here ({error})")
    if attribute.startswith("_ddp") or attribute.startswith("_every"):
        instance = owner_class(every_n_train_steps=3) if class_name == "ModelCheckpoint" else owner_class()
        present = hasattr(instance, attribute)
    else:
        present = hasattr(owner_class, attribute)
    assert present, (
        f"{library} {importlib.import_module(library).__version__} has no {owner}.{attribute}, which "
        f"ganbench/library_internals.py reads: rewrite the function there that uses it."
    )


def test_the_functions_read_what_they_say():
    strategy = DDPStrategy()
    find_unused_parameters(strategy)
    assert strategy._ddp_kwargs["find_unused_parameters"] is True
    assert checkpoint_interval(ModelCheckpoint(every_n_train_steps=7)) == 7
    assert checkpoint_interval(ModelCheckpoint(every_n_epochs=1)) == 0


def test_no_other_module_reads_a_private_name_of_these_libraries():
    """Private attributes of Lightning, torchmetrics and torch objects are read here only."""
    names = "|".join(re.escape(attribute) for _, _, attribute in PRIVATE_NAMES)
    private = re.compile(rf"\.({names}|_given_hyperparameters|_parse_ckpt_path|_last_lr|_to_sync|_version)\b")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "library_internals.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if private.search(line)
    ]
    assert offenders == []


def test_the_command_picks_lightnings_registered_ddp_strategies_for_a_gan():
    from lightning.pytorch.strategies import StrategyRegistry

    from ganbench.cli import ddp_strategy_for_gans

    assert ddp_strategy_for_gans("ddp") == "ddp_find_unused_parameters_true"
    assert ddp_strategy_for_gans("ddp_spawn") == "ddp_spawn_find_unused_parameters_true"
    assert {ddp_strategy_for_gans("ddp"), ddp_strategy_for_gans("ddp_spawn")} <= set(StrategyRegistry)
    assert ddp_strategy_for_gans("auto") == "auto" and ddp_strategy_for_gans(None) is None


def test_the_help_formatter_hooks_see_every_option_and_its_known_subclasses():
    """``OptionHelpFormatter`` gets each option (``add_argument``) and jsonargparse's text (``_get_help_string``)."""
    import jsonargparse
    import torch

    from ganbench.library_internals import OptionHelpFormatter

    texts = {}

    class Recording(OptionHelpFormatter):
        def lists_option(self, action):
            return action.dest != "hidden"

        def option_help(self, action, text):
            texts[action.dest] = text
            return text.replace("the optimiser", "THE OPTIMISER")

    parser = jsonargparse.ArgumentParser(formatter_class=Recording)
    parser.add_argument("--optimizer", type=torch.optim.Optimizer, help="the optimiser")
    parser.add_argument("--hidden", type=int, help="not listed")
    help_text = parser.format_help()
    failure = (
        f"jsonargparse {jsonargparse.__version__} no longer passes an option's text with its known subclasses "
        "through DefaultHelpFormatter._get_help_string, or argparse each option through add_argument: rewrite "
        "OptionHelpFormatter in ganbench/library_internals.py."
    )
    assert texts["optimizer"].startswith("the optimiser"), failure
    assert "known subclasses: " in texts["optimizer"] and "torch.optim.Adam" in texts["optimizer"], failure
    assert "THE OPTIMISER" in help_text and "not listed" not in help_text, failure
