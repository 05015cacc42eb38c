"""The core does not block multi-GPU: DDP on two CPU processes (gloo), as ``--trainer.strategy=ddp``."""

import json

from tests.conftest import REPO, run_ganbench

RECORDER = '''
import json

import torch
from lightning.pytorch import Callback


class RecordRanks(Callback):
    """At the end, gathers every rank's next noise draw and a checksum of its weights."""

    def __init__(self, path: str):
        self.path = path

    def on_train_end(self, trainer, pl_module):
        noise = pl_module.all_gather(pl_module.draw_noise(4))
        weights = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        checksums = pl_module.all_gather(weights.double().sum().unsqueeze(0))
        if trainer.is_global_zero:
            with open(self.path, "w") as handle:
                json.dump(
                    {"noise": noise.tolist(), "checksums": checksums.flatten().tolist(),
                     "world_size": trainer.world_size, "global_step": trainer.global_step},
                    handle,
                )
'''


def test_ddp_on_two_cpu_processes_fits_with_different_noise_per_rank(tmp_path):
    (tmp_path / "ddpcheck.py").write_text(RECORDER)
    record = tmp_path / "record.json"
    callback = {"class_path": "ddpcheck.RecordRanks", "init_args": {"path": str(record)}}
    result = run_ganbench(
        "fit",
        f"--config={REPO / 'configs/quickstart.yaml'}",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--trainer.max_steps=3",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.callbacks+={json.dumps(callback)}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = json.loads(record.read_text())
    assert recorded["world_size"] == 2
    (run_folder,) = (tmp_path / "quickstart").iterdir()  # both ranks in one run folder
    assert run_folder.name == "version_0" and (run_folder / "checkpoints/last.ckpt").is_file()
    assert recorded["global_step"] == 3
    rank0_noise, rank1_noise = recorded["noise"]
    assert rank0_noise != rank1_noise, "every rank drew the same noise"
    first, second = recorded["checksums"]
    assert abs(first - second) <= 1e-9 * max(1.0, abs(first)), "ranks' weights diverged: gradients not averaged"
