"""What a ganbench checkpoint holds beyond Lightning's own state, and the checks made on loading one.

Lightning saves the weights, both optimisers, the schedulers, the loops' step counters and (with a
``StatefulDataLoader``) the data order. It does not save random number generators, so a resumed
run would draw different dropout masks and noise than an uninterrupted one. :func:`rng_states`
captures every generator a step uses, on every rank, and :func:`restore_rng_states` puts them
back. :func:`provenance` records the seed and the library versions a run used.
"""

import platform
import random
import warnings
from importlib import metadata
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ganbench.checkpoints import check_checkpoint_file
from ganbench.errors import GanbenchError

_RESUME_WITH_THE_RUN_CONFIG = "Resume with the config the run was started with (config.yaml in its run folder)."

# Packages whose versions change numbers: they are saved with every checkpoint and run folder.
VERSIONED_PACKAGES = ("ganbench", "torch", "torchvision", "lightning", "torchmetrics", "torchdata", "numpy", "scipy")


class IncompatibleCheckpointError(GanbenchError):
    """A checkpoint was written by a run whose networks or optimisers differ from this config's."""


def rng_states(noise_generator: torch.Generator | None) -> dict[str, Any]:
    """This process's RNG states: torch (CPU and CUDA), numpy, Python, and the training noise stream.

    Stored as tensors, lists and numbers only, so the checkpoint loads with ``weights_only=True``.
    """
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if noise_generator is not None:
        states["noise"] = noise_generator.get_state()
    return states


def world_size() -> int:
    """How many processes train together: the process group's size, 1 outside distributed training."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_from_ranks(states: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's ``states``, in rank order (a collective under DDP: call it on all ranks)."""
    if world_size() == 1:
        return [states]
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, states)
    return gathered


def restore_rng_states(saved: list[dict[str, Any]], rank: int, noise_generator: torch.Generator) -> bool:
    """Puts back this rank's saved generators; returns False (and warns) when they cannot match.

    Args:
        saved: one state dict per rank, as written by the run that saved the checkpoint.
        rank: this process's global rank.
        noise_generator: the training noise stream, set in place.
    """
    if len(saved) != world_size():
        warnings.warn(
            f"The checkpoint was written by {len(saved)} process(es) and this run has a different number: "
            "random streams restart from the seed, so the run continues but not bit for bit.",
            stacklevel=2,
        )
        return False
    states = saved[rank]
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    random.setstate(_as_tuples(states["python"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "noise" in states:
        noise_generator.set_state(states["noise"])
    return True


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` needs tuples; a checkpoint round trip may turn them into lists."""
    return tuple(_as_tuples(item) for item in value) if isinstance(value, (list, tuple)) else value


def provenance() -> dict[str, Any]:
    """The seed torch was seeded with and the versions of Python and the packages that shape results."""
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["torch"] = str(torch.__version__)  # with its build, e.g. 2.14.1+cu130
    versions["cuda"] = torch.version.cuda
    return {"seed": torch.initial_seed(), "versions": versions}


def check_state_dict_matches(expected: dict[str, Any], saved: dict[str, Any], path: str | None) -> None:
    """Refuses a checkpoint whose weights do not fit the module's with one sentence naming the differences.

    Args:
        expected: the freshly built module's ``state_dict()`` (or the part of it being loaded).
        saved: the checkpoint's ``state_dict`` entry (or the same part of it).
        path: the file, for the message.
    """
    missing = [key for key in expected if key not in saved]
    unexpected = [key for key in saved if key not in expected]
    resized = [
        f"{key} {tuple(saved[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in saved and hasattr(saved[key], "shape") and tuple(saved[key].shape) != tuple(value.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weight(s) missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if resized:
        problems.append(f"{len(resized)} of another shape (e.g. {resized[0]})")
    if problems:
        raise IncompatibleCheckpointError(
            f"Checkpoint {path or ''} was written for other networks than this config's: {'; '.join(problems)}. "
            + _RESUME_WITH_THE_RUN_CONFIG
        )


def check_optimizers_match(saved_names: list[str] | None, built_names: list[str], path: str | None) -> None:
    """Refuses a checkpoint whose optimisers are of other classes than this config's."""
    if saved_names is not None and list(saved_names) != list(built_names):
        raise IncompatibleCheckpointError(
            f"Checkpoint {path or ''} holds optimisers {list(saved_names)} but this config builds {built_names}. "
            + _RESUME_WITH_THE_RUN_CONFIG
        )


def load_generator_weights(module: torch.nn.Module, path: str | None) -> torch.Tensor | None:
    """Loads G's and D's weights from a trained GAN's checkpoint into ``module`` (post hoc encoder training).

    Only the ``generator.`` and ``discriminator.`` weights are taken; they must fit this config's networks
    exactly (one sentence otherwise). The checkpoint is one ganbench wrote, so it is read with
    ``weights_only=True``.

    Args:
        module: the :class:`ganbench.GAN` being set up.
        path: the trained run's ``.ckpt``.

    Returns:
        The class frequencies saved with the checkpoint (a conditional model's), or ``None``.
    """
    if not path:
        raise IncompatibleCheckpointError("model.generator_checkpoint is not set; point it at a trained GAN's .ckpt.")
    check_checkpoint_file(path, option="--model.generator_checkpoint")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    parts = ("generator.", "discriminator.")
    saved = {key: value for key, value in checkpoint.get("state_dict", {}).items() if key.startswith(parts)}
    expected = {key: value for key, value in module.state_dict().items() if key.startswith(parts)}
    check_state_dict_matches(expected, saved, path)
    module.load_state_dict(saved, strict=False)
    return checkpoint.get("ganbench", {}).get("class_frequencies")
