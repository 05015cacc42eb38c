"""One folder per run, whatever the logger: where a run writes, what it is called, and its record.

Every run that the ``ganbench`` command starts writes into its own folder::

    <trainer.default_root_dir>/<experiment>/version_<N>/
        config.yaml       the resolved config (``config-resumed-<k>.yaml``, ``config-test-<k>.yaml`` later)
        environment.yaml  seed and library versions
        run.yaml          experiment, name, group, tags, seed, version, W&B run id
        metrics.csv       every logged scalar (a CSVLogger is always added)
        results.json      ``ganbench test``'s metrics with their protocols
        checkpoints/  samples/  events.out.tfevents.*  wandb/

:mod:`ganbench.runs.folders` chooses the folder, :mod:`ganbench.runs.names` names the run from the
config and the command line, :mod:`ganbench.runs.loggers` points every logger at the folder,
:mod:`ganbench.runs.plan` settles all that before the trainer is built, :mod:`ganbench.runs.writable`
checks that the run can write where it will, and :mod:`ganbench.runs.saving` saves the config and the
environment and keeps a resumed run's ``metrics.csv``.
"""

from ganbench.runs.folders import RunRecord, find_run_folder, read_run_record
from ganbench.runs.loggers import point_run_at_folder
from ganbench.runs.names import RunOptions, command_line_overrides, experiment_name

__all__ = [
    "RunOptions",
    "RunRecord",
    "command_line_overrides",
    "experiment_name",
    "find_run_folder",
    "point_run_at_folder",
    "read_run_record",
]
