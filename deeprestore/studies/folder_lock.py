"""One run at a time in a study folder: a lock file holding the run's host, process and start.

Two runs writing one folder would each read ``metrics.csv`` once and rewrite it after every job,
and one run's rows would be lost. :class:`FolderLock` makes the second run refuse in one line, before
it writes anything, naming the run that holds the folder. A lock left by a run that died (``kill
-9``, a lost node) is stale: on the same host its process no longer exists, and the next run takes
the folder over (saying so); a lock of another host cannot be checked from here, so the message
says which file to delete once that run is known to be gone.

The lock file is created atomically (``O_CREAT | O_EXCL``) and removed when the run finishes or its
process exits. The process that holds a lock may take it again (a study run twice in one process).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

__all__ = ["LOCK_FILE", "FolderLock"]

LOCK_FILE = ".lock"

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


class FolderLock:
    """The lock of one folder (``<folder>/.lock``).

    Args:
        folder: the study folder (created by :meth:`acquire` if missing).
        option: how the refusal names the choice of folder (``--experiment``).
    """

    def __init__(self, folder: Path, option: str = "--experiment") -> None:
        self.path = Path(folder) / LOCK_FILE
        self.option = option
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        """What the lock file says (host, pid, since), ``{}`` if unreadable, ``None`` if there is none."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        """Take the folder, or refuse in one line if a live run holds it.

        Raises:
            ValueError: another run holds the folder (the message names it and says what to do).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._take_over_if_stale(me):
                    continue
                return
            with os.fdopen(descriptor, "w") as f:
                json.dump(me, f)
            self._hold()
            return
        raise ValueError(f"{self.path.parent}: could not take the folder's lock {self.path}")

    def _take_over_if_stale(self, me: dict[str, Any]) -> bool:
        """``True`` if this process now holds the lock; ``False`` to try creating it again (it was
        stale and is gone); raises if a live run holds it."""
        holder = self.holder()
        if holder is None:  # released meanwhile
            return False
        if holder.get("host") == me["host"] and holder.get("pid") == me["pid"]:
            self._hold()  # this process holds it already
            return True
        if not holder:  # unreadable: a run killed while writing it, or not a lock of ours
            age = time.time() - self.path.stat().st_mtime
            if age < 60:
                raise ValueError(f"{self.path.parent} is being opened by another run (lock {self.path}); use another {self.option}")
        elif holder.get("host") != me["host"] or _alive(int(holder.get("pid", -1))):
            where = "this host" if holder.get("host") == me["host"] else f"host {holder.get('host')}"
            raise ValueError(
                f"{self.path.parent} is in use by the run of process {holder.get('pid')} on {where} since "
                f"{holder.get('since')}; wait for it, use another {self.option}, or delete {self.path} if that run is gone"
            )
        log.warning("taking over %s from a run that is gone (%s)", self.path.parent, holder or "unreadable lock")
        self.path.unlink(missing_ok=True)
        return False

    def _hold(self) -> None:
        if not self.held:
            self.held = True
            atexit.register(self.release)

    def release(self) -> None:
        """Give the folder back (removes the lock file if this process holds it)."""
        if not self.held:
            return
        self.held = False
        holder = self.holder()
        if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)
