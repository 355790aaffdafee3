"""Atomic file writing: never leave a half-written file behind.

The payload is written to memory, then to a uniquely named temporary file in the destination
directory (same file system), flushed and fsync'ed, then moved over the target with
:func:`os.replace`, which is atomic on POSIX and Windows. Readers therefore see either the old file
or the complete new one. On any error the temporary file is removed; a full disk or a read-only
folder is an ``OSError`` whose message says which file could not be written and why, in one line
(writing from memory makes the operating system report it, rather than whatever the serialiser
makes of a short write). A run killed between the two steps leaves a temporary file, which
:func:`remove_orphans` deletes when the next run takes the folder.
"""

from __future__ import annotations

import errno
import io
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "remove_orphans"]

#: the temporary files of :func:`atomic_write`: ``.<name>.<32 hex digits>.tmp``
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fileobj)`` on an in-memory file and atomically move its bytes to ``path``.

    Missing parent directories are created. The file gets the usual permissions
    (``0o666`` minus the umask), not the ``0o600`` of :mod:`tempfile`.

    Args:
        path: destination file.
        write: callback writing the complete content to the binary file object.

    Returns:
        The destination as a :class:`pathlib.Path`.

    Raises:
        OSError: the file cannot be written (no space left, read-only, permission), one line.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write a file to {path}: it is a directory")
    buffer = io.BytesIO()
    write(buffer)
    data = buffer.getbuffer()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as error:
        reason = "no space left on the device" if error.errno in (errno.ENOSPC, errno.EDQUOT) else (error.strerror or str(error))
        raise OSError(f"cannot write {path} ({len(data):,} bytes): {reason}") from error
    return path


def remove_orphans(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed :func:`atomic_write` left under ``folder`` (call it
    only while no other process writes there); returns them."""
    found = [p for p in Path(folder).rglob(".*.tmp") if _TEMPORARY.match(p.name) and p.is_file()]
    for p in found:
        p.unlink(missing_ok=True)
    return found
