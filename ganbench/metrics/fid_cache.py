"""On-disk cache of real-data feature statistics for FID/KID, keyed by everything they depend on.

An entry is computed once per (data set, split, the images' content, preprocessing, feature extractor and its
weights, n_real) and stored as ``<cache_dir>/<data>-<split>-n<n_real>-<extractor>-<digest>.pt``. The digest is the
SHA-256 of the key's fields, so changing any of them names another file: a stale entry is never read (old files
are left in place, delete the folder to reclaim the space). The key's fields are also stored inside the file and
compared on load, so a renamed or colliding file is recomputed rather than trusted.

Default folder: ``$GANBENCH_CACHE_DIR/fid``, else ``$XDG_CACHE_HOME/ganbench/fid``, else ``~/.cache/ganbench/fid``.
Entry contents (``torch.save`` of a dict of tensors): ``mean`` ``(d,)`` and ``cov`` ``(d, d)`` float64 (unbiased,
``n - 1``), ``n``, torchmetrics' exact accumulators ``features_sum`` and ``features_outer_sum``, ``key`` (JSON)
and, when KID was asked for, the ``features`` ``(n, d)`` themselves.
"""

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$GANBENCH_CACHE_DIR/fid``, else ``$XDG_CACHE_HOME/ganbench/fid``, else ``~/.cache/ganbench/fid``."""
    if os.environ.get("GANBENCH_CACHE_DIR"):
        return Path(os.environ["GANBENCH_CACHE_DIR"]).expanduser() / "fid"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ganbench" / "fid"


@dataclass(frozen=True)
class StatisticsKey:
    """What real statistics depend on; ``name`` is the cache file's name, ``digest`` identifies the fields."""

    fields: dict[str, Any]

    @property
    def text(self) -> str:
        return json.dumps(self.fields, sort_keys=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        parts = [self.fields["data"], self.fields["split"], f"n{self.fields['num_real']}", self.fields["extractor"]]
        readable = "-".join(_slug(str(part)) for part in parts)
        return f"{readable}-{self.digest}"


@dataclass
class RealStatisticsInfo:
    """Where the real statistics came from: ``status`` is ``cache``, ``computed`` or ``memory``."""

    key: StatisticsKey
    path: Path | None
    status: str
    data: str = ""
    num_real: int = 0
    extra: dict = field(default_factory=dict)


def images_digest(levels: Tensor) -> str:
    """SHA-256 (16 hex digits) of uint8 image levels: part of the key, so changed data is never matched."""
    return hashlib.sha256(levels.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def load_entry(path: Path, key: StatisticsKey, need_features: bool) -> dict[str, Any] | None:
    """The entry at ``path`` if it exists, reads, matches ``key`` and has features when needed; else ``None``."""
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: recompute
        log.warning("FID statistics cache: cannot read %s (%s); recomputing.", path, error)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key.text or entry.get("format") != CACHE_FORMAT:
        log.warning("FID statistics cache: %s does not match its key; recomputing.", path)
        return None
    if need_features and entry.get("features") is None:
        return None
    return entry


def save_entry(path: Path, key: StatisticsKey, entry: dict[str, Any]) -> None:
    """Writes atomically (temporary file + rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**entry, "key": key.text, "format": CACHE_FORMAT}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "x"
