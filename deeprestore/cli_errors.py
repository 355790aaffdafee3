"""User errors at the command line: one line on stderr and exit status 2; tracebacks are for bugs.

``train.py``, ``evaluate.py`` and ``python -m deeprestore.stats`` run their ``main`` through
:func:`run_command`. An exception of a *user-error* type (:data:`USER_ERRORS`: a bad option value
or config, a missing or unreadable file, a folder that cannot be written, an image that cannot be
decoded, a Lightning misconfiguration) is printed as one line::

    train.py: error: --trainer.max_epochs: Expected a int. Got value: abc

and the command exits with status 2, as argparse does for its own errors. Anything else is a bug
and keeps its traceback. ``DEEPRESTORE_TRACEBACK=1`` shows the traceback of user errors too.

jsonargparse wraps an error raised inside a class's ``__init__`` (``mode must be one of …``) in
union-type reports many lines long; :func:`one_line` follows the exception chain down to the
innermost message and prefixes the option or class it came from.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable
from typing import Any

from lightning.fabric.utilities.exceptions import MisconfigurationException

__all__ = ["EXPECTED_WARNINGS", "USER_ERRORS", "lightning_info_to_stdout", "one_line", "run_command"]

#: Exception types that are the user's: printed as one line, exit status 2.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, argparse.ArgumentError, MisconfigurationException)

#: Set to ``1`` to see the traceback of a user error as well.
TRACEBACK_ENV = "DEEPRESTORE_TRACEBACK"

_PARSER_KEY = re.compile(r'Parser key "([^"]+)"')
_CLASS_PATH = re.compile(r"class_path='([^']+)'")
_WRAPPERS = ("Does not validate against any of the Union subtypes", "Problem with given class_path", "Expected a path but")


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from (``__cause__``, else ``__context__``), outermost first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _is_wrapper(text: str) -> bool:
    stripped = text.strip().lstrip("-").strip()
    return not stripped or stripped.startswith(_WRAPPERS) or stripped.startswith("Parser key")


def one_line(error: BaseException) -> str:
    """A single line for a user error: ``[option or class: ]innermost message``, whitespace collapsed."""
    chain = _chain(error)
    texts = [str(e) for e in chain]
    key = next((m.group(1) for t in texts if (m := _PARSER_KEY.search(t))), None)
    classes = [m.group(1) for t in texts for m in _CLASS_PATH.finditer(t)]
    # go down the chain only through jsonargparse's wrappers: our own messages say more than their causes
    inner = next((t for t in texts if not _is_wrapper(t)), texts[-1])
    if inner.startswith(("'", '"')) and inner.endswith(("'", '"')):  # a KeyError's repr
        inner = inner.strip("'\"")
    message = " ".join(re.sub(r"<class '([^']+)'>", r"\1", inner).split())
    message = re.sub(r"Expected an? typing\.Literal\[(.*)\]\. Got value: (.*)$", r"expected one of \1, got \2", message)
    message = re.sub(r"Expected an? ([\w.]+)\. Got value: (.*)$", r"expected \1, got \2", message)
    if key:
        where = f"--{key}" + (f" ({classes[0]})" if classes else "")
        return message if message.startswith(f"--{key}") else f"{where}: {message}"
    if classes and classes[0] not in message:
        return f"{classes[0]}: {message}"
    return message


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


def lightning_info_to_stdout() -> None:
    """Lightning's information lines ("GPU available: …", "Seed set to 0", its tips, the DDP
    banner) go to stdout, its warnings and errors to stderr: stderr then holds what went wrong, and
    a user error is the one line there."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                logger.removeHandler(handler)
        info = logging.StreamHandler(sys.stdout)
        info.addFilter(_Below(logging.WARNING))
        problems = logging.StreamHandler(sys.stderr)
        problems.setLevel(logging.WARNING)
        logger.handlers += [info, problems]
        logger.propagate = False


#: Warnings every run of this project would print, none of them a problem (message patterns):
#: Lightning 2.6's own use of a pytree API that torch 2.14 deprecates; the run folder, which
#: already holds the run's config.yaml and CSV log when the checkpoint callback looks at it; the
#: frozen network, which stays in eval mode by design while the inverter trains; the model
#: summary's size estimate under bf16-mixed.
EXPECTED_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"Checkpoint directory .* exists and is not empty",
    r"Found \d+ module\(s\) in eval mode at the start of training",
    r"Precision bf16-mixed is not supported by the model summary",
)


def run_command(main: Callable[[], Any], prog: str) -> int:
    """Run ``main()``; a user error becomes ``<prog>: error: <one line>`` on stderr and status 2.

    Returns:
        0 after a normal return, 2 after a user error (bugs propagate with their traceback).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    lightning_info_to_stdout()
    for pattern in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    try:
        main()
    except USER_ERRORS as error:
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            raise
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return 2
    return 0
