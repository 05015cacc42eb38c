"""Reads back what W&B wrote offline: the records of ``run-<id>.wandb`` files, for tests.

W&B 0.19+ no longer ships a Python reader for its transaction log, so this is a small one: the file
is a LevelDB-style log (a 7-byte header ``:W&B`` + magic + version, then 32 KiB blocks of records,
each with a 7-byte header: CRC-32, length, type) whose payloads are ``wandb_internal_pb2.Record``s.
"""

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

_BLOCK = 32 * 1024
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: Path):
    """Yields the ``Record`` protobufs of one ``.wandb`` file, in order."""
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    position, pieces = _HEADER, b""
    while position + _HEADER <= len(data):
        left_in_block = _BLOCK - position % _BLOCK
        if left_in_block < _HEADER:
            position += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + _HEADER])
        body = data[position + _HEADER : position + _HEADER + length]
        position += _HEADER + length
        if kind == 0:
            continue
        pieces += body
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b""
            yield record


def offline_runs(run_folder: Path) -> list[Path]:
    """The ``offline-run-*`` folders W&B made in a ganbench run folder, oldest first."""
    return sorted((Path(run_folder) / "wandb").glob("offline-run-*"))


def read_offline_run(offline_run: Path) -> dict:
    """The run's id, name, group, tags, config and history rows (``{key: value}``) of one offline run."""
    (log,) = Path(offline_run).glob("run-*.wandb")
    found = {"history": [], "config": {}, "files": []}
    for record in records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            found.update(id=run.run_id, name=run.display_name, group=run.run_group, tags=list(run.tags))
        elif kind == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            found["history"].append(row)
        elif kind == "config":
            for item in record.config.update:
                found["config"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "files":
            found["files"] += [file.path for file in record.files.files]
    return found
