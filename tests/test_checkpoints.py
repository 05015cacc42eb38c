"""A truncated or corrupt checkpoint is refused with one line, and the file is left as it was."""

import pytest
import torch

from ganbench.checkpoints import CheckpointError, check_checkpoint_file
from tests.conftest import REPO, run_ganbench


@pytest.fixture
def good_checkpoint(tmp_path):
    path = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"weight": torch.randn(100, 100)}, "global_step": 3}, path)
    return path


def test_a_good_checkpoint_passes(good_checkpoint):
    check_checkpoint_file(good_checkpoint)


def test_truncated_checkpoint_is_refused(good_checkpoint, tmp_path):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good_checkpoint.read_bytes()[:20000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        check_checkpoint_file(truncated)


def test_checkpoint_with_flipped_bytes_is_refused(good_checkpoint, tmp_path):
    content = bytearray(good_checkpoint.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.ckpt"
    damaged.write_bytes(bytes(content))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        check_checkpoint_file(damaged)


def test_missing_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        check_checkpoint_file(tmp_path / "absent.ckpt")


def test_cli_refuses_corrupt_checkpoint_in_one_line_and_keeps_the_file(tmp_path):
    corrupt = tmp_path / "last.ckpt"
    corrupt.write_bytes(b"PK\x03\x04 not really a checkpoint")
    before = corrupt.read_bytes()
    result = run_ganbench(
        "test", f"--config={REPO / 'configs/quickstart.yaml'}", f"--ckpt_path={corrupt}", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"ganbench: error: Checkpoint {corrupt} is truncated")
    assert corrupt.read_bytes() == before
