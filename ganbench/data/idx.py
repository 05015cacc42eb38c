"""Reading the IDX files of MNIST and Fashion-MNIST (LeCun's format), gzipped or not.

A damaged file (truncated download, wrong file under the right name, corrupt gzip stream) is
refused with one :class:`ganbench.errors.DataFileError` line naming the file, never a ``zlib``,
``gzip`` or ``numpy`` traceback.
"""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ganbench.errors import DataFileError, DataNotFoundError

# IDX type codes (third header byte) -> numpy dtype; the data is big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_REDOWNLOAD = "Delete it and download it again."


def read_idx(path: str | Path) -> np.ndarray:
    """Reads one IDX file (``.gz`` or raw) into an array of its stored shape.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        ``(N, 28, 28)`` uint8 for image files, ``(N,)`` uint8 for label files.

    Raises:
        DataFileError: the file cannot be read, is not IDX, or is truncated or corrupt.
    """
    path = Path(path)
    content = _read_bytes(path)
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        magic = f"0x{content[:4].hex()}" if content else "none, the file is empty"
        raise DataFileError(f"{path} is not an IDX file (bad magic number: {magic}). {_REDOWNLOAD}")
    dtype, ndim = np.dtype(_IDX_DTYPES[content[2]]), content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataFileError(
            f"{path} is truncated or corrupt: {len(content)} bytes, shorter than its {header_size}-byte header. "
            f"{_REDOWNLOAD}"
        )
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=ndim, offset=4))
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(content) != expected:
        raise DataFileError(
            f"{path} is truncated or corrupt: {len(content)} bytes, its header promises {expected}. {_REDOWNLOAD}"
        )
    return np.frombuffer(content, dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_image_and_label_files(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads an images file and its labels file and checks that they belong together.

    Args:
        images_path: IDX file of ``N`` images, ``(N, H, W)``.
        labels_path: IDX file of their ``N`` labels, ``(N,)``.

    Returns:
        The images ``(N, H, W)`` and labels ``(N,)`` as stored.

    Raises:
        DataFileError: either file is damaged, has the wrong number of dimensions, or the counts differ.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check_dimensions(images_path, images, 3, "(N, height, width) images")
    _check_dimensions(labels_path, labels, 1, "(N,) labels")
    if len(images) != len(labels):
        raise DataFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; one of them "
            "is truncated or from another data set. Delete both and download them again."
        )
    return images, labels


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


def _check_dimensions(path: Path, array: np.ndarray, ndim: int, expected: str) -> None:
    """Refuses a file whose array does not have ``ndim`` dimensions (another file under this name).

    Args:
        path: the file, named in the message.
        array: what it holds.
        ndim: how many dimensions it should have.
        expected: what it should hold, for the message, e.g. ``"(N,) labels"``.
    """
    if array.ndim != ndim:
        raise DataFileError(
            f"{path} holds an array of shape {array.shape}, not {expected}; it is another file under this name. "
            f"{_REDOWNLOAD}"
        )


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when its name ends in ``.gz``.

    Args:
        path: the IDX file.
    """
    try:
        if path.suffix != ".gz":
            return path.read_bytes()
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        reason = str(error).strip() or type(error).__name__
        raise DataFileError(
            f"{path} is not a valid gzip file ({reason}); it is truncated or corrupt. {_REDOWNLOAD}"
        ) from None
    except OSError as error:
        raise DataFileError(
            f"Cannot read IDX file {path} ({error.strerror or error}); check that it is a readable file."
        ) from None
