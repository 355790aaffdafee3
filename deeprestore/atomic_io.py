"""Atomic file writing: never leave a half-written figure behind.

The payload is written to a uniquely named temporary file in the destination
directory (same file system), flushed and fsync'ed, then moved over the target
with :func:`os.replace`, which is atomic on POSIX and Windows. Readers therefore
see either the old file or the complete new one. On any error the temporary
file is removed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file and atomically move it to ``path``.

    Missing parent directories are created. The file gets the usual permissions
    (``0o666`` minus the umask), not the ``0o600`` of :mod:`tempfile`.

    Args:
        path: destination file.
        write: callback writing the complete content to the binary file object.

    Returns:
        The destination as a :class:`pathlib.Path`.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write a file to {path}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

