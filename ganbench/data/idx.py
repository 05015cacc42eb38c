"""Reading the IDX files of MNIST and Fashion-MNIST (LeCun's format), gzipped or not."""

import gzip
from pathlib import Path

import numpy as np

from ganbench.errors import DataNotFoundError, GanbenchError

# IDX type codes (third header byte) -> numpy dtype; the data is big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Reads one IDX file (``.gz`` or raw) into an array of its stored shape.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        ``(N, 28, 28)`` uint8 for image files, ``(N,)`` uint8 for label files.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise GanbenchError(f"Cannot read IDX file {path}: {error}. Download it again.") from None
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        raise GanbenchError(f"{path} is not an IDX file (bad magic number). Download it again.")
    dtype, ndim = np.dtype(_IDX_DTYPES[content[2]]), content[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=ndim, offset=4))
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise GanbenchError(
            f"{path} is truncated or corrupt: {len(content)} bytes, its header promises {expected}. Download it again."
        )
    return np.frombuffer(content, dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_file(name: str, folders: list[Path], hint: str) -> Path:
    """Finds ``name`` or ``name.gz`` in the first of ``folders`` that holds it.

    Args:
        name: the file's base name without ``.gz``, e.g. ``t10k-images-idx3-ubyte``.
        folders: where to look, in order.
        hint: what the user should do when it is nowhere; ends the error message.
    """
    for folder in folders:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    searched = ", ".join(str(folder) for folder in folders)
    raise DataNotFoundError(f"{name}[.gz] not found in {searched}. {hint}")
