"""The folder a study writes, and the options every study shares.

:class:`StudyOptions` holds the options that mean the same in every study (and in ``train.py``):
the run name, the root of the report folders, the seed, the W&B mode and project, progress bars.
:class:`StudyFolder` owns what a study writes into ``<report_root>/<experiment>/``, every file
atomically (temporary file + :func:`os.replace`):

* ``config.yaml`` — the resolved settings and the command; a rerun whose settings would change the
  numbers (the study's *resume keys*) is refused rather than mixed into the same results;
* ``.lock`` — while a run writes the folder (:class:`~deeprestore.studies.folder_lock.FolderLock`):
  a second run on the same folder refuses in one line instead of losing the first one's rows;
* tables — ``<name>.csv`` and ``<name>.json`` of the study's rows (NaN/inf as ``null`` in JSON);
* ``report.md`` — a title, the command, the config, then the study's sections;
* W&B — one run in ``<folder>/wandb`` (offline by default), open while the study runs, so each
  finished job is logged at once; a W&B failure is a warning, never fatal.

Only the process of global rank 0 writes (``writer=False`` elsewhere): under DDP every rank runs
the study, rank 0 merges the rows and writes them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from deeprestore.atomic_io import atomic_write, remove_orphans
from deeprestore.cli_options import run_folder, writable_folder
from deeprestore.studies.folder_lock import FolderLock
from deeprestore.studies.renamed_options import renamed_config

__all__ = ["StudyFolder", "StudyOptions", "WandbMode", "figure_links", "file_stem"]

WandbMode = Literal["offline", "online", "disabled"]


@dataclass
class StudyOptions:
    """Options shared by every study.

    Args:
        experiment: run name: the report folder ``<report_root>/<experiment>`` and the W&B run name
            (default: ``<study>-<timestamp>``). Rerunning with the same name resumes the study.
        report_root: folder holding one sub-folder per study run.
        seed_everything: seed of every random choice of the study (initial noise, jitter,
            measurement noise, random networks).
        wandb: Weights & Biases mode; the run is written to ``<report folder>/wandb``.
        wandb_project: W&B project name.
        progress: show progress bars.
        trust_checkpoints: unpickle the checkpoint files named in the options (``--generator``,
            ``--learned_priors``, ``--priors``) even when they hold more than tensors and plain
            values — which runs code from the file: only for files you made or trust. Checkpoints a
            study finds by itself (``--checkpoints``) are never trusted.
    """

    experiment: str | None = None
    report_root: str = "reports"
    seed_everything: int = 0
    wandb: WandbMode = "offline"
    wandb_project: str = "deeprestore"
    progress: bool = True
    trust_checkpoints: bool = False

    def settings(self) -> dict[str, Any]:
        """All of the study's options as a dict (for ``config.yaml``)."""
        return asdict(self)


def file_stem(text: str) -> str:
    """``text`` as a file name: unchanged when it is made of ``[A-Za-z0-9._-]`` only; else each other
    character replaced by ``_`` and a stable hash of ``text`` appended (``猫`` → ``_-3f2a9c1e``), so
    two names that differ only in those characters never share a file."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    if slug == text:
        return text
    return f"{slug}-{hashlib.blake2b(text.encode(), digest_size=4).hexdigest()}"


def figure_links(figures: Sequence[Path]) -> str:
    """Markdown image links to ``figures`` (files in the folder's ``plots/``), one per line."""
    return "\n".join(f"![{p.stem}](plots/{p.name})" for p in figures)


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    """``config["a"]["b"]`` for the key ``a.b`` (``None`` where a part is missing)."""
    value: Any = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _present(config: Mapping[str, Any], key: str) -> bool:
    """Whether ``config`` has the key ``a.b`` (every part of it)."""
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    return True


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else value


class StudyFolder:
    """The output folder of one study run.

    Args:
        study: the study's name (``inversion``, ``denoise`` …): the default run name's prefix.
        options: the study's options (its dataclass): the folder, W&B, and the start of ``config.yaml``.
        config: resolved settings added to the options in ``config.yaml`` (layers chosen, image names …).
        resume_keys: keys of ``config`` whose change makes the old results incomparable.
        writer: whether this process writes (global rank 0).
        command: the command line that ran the study (saved in the config and the report).

    Raises:
        ValueError: the folder is a file or not writable.
    """

    def __init__(
        self,
        study: str,
        options: StudyOptions,
        config: Mapping[str, Any] | None = None,
        *,
        resume_keys: Sequence[str] = (),
        writer: bool = True,
        command: str | None = None,
    ) -> None:
        name = options.experiment or f"{study}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.path = writable_folder(run_folder(options.report_root, name), "--report_root/--experiment", create=False)
        self.study = study
        self.name = name
        self.options = options
        self.config = {"study": study, **options.settings(), **dict(config or {}), "command": command}
        self.resume_keys = tuple(resume_keys)
        self.writer = writer
        self.command = command
        self._wandb_run: Any = None
        self.warnings: list[str] = []
        self.lock = FolderLock(self.path)

    # -- config -------------------------------------------------------------------------------
    def previous_config(self) -> dict[str, Any]:
        """The ``config.yaml`` already in the folder (empty if none), its options under their
        current names (a folder written before a rename resumes)."""
        path = self.path / "config.yaml"
        old = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
        return renamed_config(self.study, old, quiet=True) if old else {}

    def check_resumable(self) -> None:
        """Refuse a folder whose earlier run used settings that give other numbers (a resume key
        ``group.option`` names an option of a group). A key the earlier run's ``config.yaml`` lacks
        is an option added since: that run had the option's default (no verifiers, no perceptual
        metrics …), so only a run asking for something else is refused."""
        old = self.previous_config()
        if not old:
            return
        defaults = self._default_settings()
        pairs = {k: (_lookup(old if _present(old, k) else defaults, k), _lookup(self.config, k)) for k in self.resume_keys}
        changed = {k: (a, b) for k, (a, b) in pairs.items() if a != b}
        if changed:
            details = "; ".join(f"{k}: {a!r} before, {b!r} now" for k, (a, b) in changed.items())
            raise ValueError(f"{self.path} holds a {self.study} study with other settings ({details}); use another --experiment")

    def _default_settings(self) -> dict[str, Any]:
        """The settings of the study's options at their defaults (empty if they need arguments)."""
        try:
            return type(self.options)().settings()
        except TypeError:
            return {}

    def open(self) -> StudyFolder:
        """Check the folder can be resumed, take its lock (one run at a time: :class:`FolderLock`),
        and write ``config.yaml`` (writer only)."""
        self.check_resumable()
        if self.writer:
            self.lock.acquire()
            self.check_resumable()  # as the lock found it
            remove_orphans(self.path)  # what a killed run left half-written
            self.write_text("config.yaml", yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True))
        return self

    # -- files --------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """``<folder>/<name>`` holding ``text`` (writer only; returns the path either way)."""
        path = self.path / name
        if self.writer:
            atomic_write(path, lambda f: f.write(text.encode()))
        return path

    def write_table(self, name: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, json_too: bool = False) -> Path:
        """``<name>.csv`` (floats written exactly, ``None`` as an empty cell) and, if asked,
        ``<name>.json``; returns the CSV's path."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_value(row.get(c)) for c in columns})
        path = self.write_text(f"{name}.csv", text.getvalue())
        if json_too:
            data = [{c: _json_value(r.get(c)) for c in columns} for r in rows]
            self.write_text(f"{name}.json", json.dumps(data, indent=1, allow_nan=False))
        return path

    def read_table(self, name: str) -> list[dict[str, Any]]:
        """The rows of ``<name>.json`` an earlier run wrote (:meth:`write_table` with ``json_too``), or
        none: what a resumed study keeps."""
        path = self.path / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else []

    def write_report(self, title: str, sections: Sequence[str], *, intro: str = "") -> Path:
        """``report.md``: the title, the command, links to the config and data, the resolved
        config (folded), ``intro``, then each section."""
        lines = [f"# {title}", ""]
        if self.command:
            lines += ["Command:", "", "```", self.command, "```", ""]
        lines += [
            "<details><summary>resolved config (config.yaml)</summary>",
            "",
            "```yaml",
            yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True).rstrip(),
            "```",
            "",
            "</details>",
            "",
        ]
        if intro:
            lines += [intro, ""]
        text = "\n".join(lines) + "\n" + "\n\n".join(s.rstrip() for s in sections if s) + "\n"
        return self.write_text("report.md", text)

    # -- Weights & Biases ---------------------------------------------------------------------
    def log_wandb(self, make_payload: Callable[[Any], Mapping[str, Any]]) -> None:
        """Log ``make_payload(wandb)`` to the study's W&B run (started on first use; writer only).

        A W&B failure is recorded in :attr:`warnings` and printed once; the files on disk are
        the report.
        """
        if not self.writer or self.options.wandb == "disabled" or self._wandb_run is False:
            return
        try:
            import wandb

            if self._wandb_run is None:
                self.path.mkdir(parents=True, exist_ok=True)
                self._wandb_run = wandb.init(
                    project=self.options.wandb_project,
                    name=self.name,
                    dir=str(self.path),
                    mode=self.options.wandb,
                    config=self.config,
                    job_type="evaluate",
                    reinit="create_new",
                    settings=wandb.Settings(silent=True),
                )
            self._wandb_run.log(dict(make_payload(wandb)))
        except Exception as error:  # W&B is optional: never lose the study to it
            self._wandb_run = False
            self.warn(f"W&B logging failed ({type(error).__name__}: {error}); the report on disk is complete")

    def log_table(self, key: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], figures: Sequence[Path] = ()) -> None:
        """Log the rows as a ``wandb.Table`` under ``key`` and each figure as ``plots/<stem>``."""

        def payload(wandb: Any) -> dict[str, Any]:
            logged = {key: wandb.Table(columns=list(columns), data=[[r.get(c) for c in columns] for r in rows])}
            logged.update({f"plots/{Path(p).stem}": wandb.Image(str(p)) for p in figures})
            return logged

        self.log_wandb(payload)

    def finish(self) -> None:
        """Close the W&B run (flushes the offline files) and give the folder back."""
        run, self._wandb_run = self._wandb_run, None
        if run:
            try:
                run.finish()
            except Exception as error:  # the study is done; say so and go on
                self.warn(f"W&B could not finish the run ({type(error).__name__}: {error})")
        self.lock.release()

    def publish(
        self,
        title: str,
        sections: Sequence[str],
        table: tuple[str, Sequence[str], Sequence[Mapping[str, Any]]],
        *,
        figures: Sequence[Path] = (),
        intro: str = "",
        summary: str = "",
    ) -> None:
        """The end of a study run: ``report.md`` (:meth:`write_report`), the ``(key, columns,
        rows)`` table and the figures to W&B (:meth:`log_table`), the W&B run closed and the folder
        given back (:meth:`finish`), and where the report is with ``summary`` (:meth:`print_done`)."""
        self.write_report(title, sections, intro=intro)
        self.log_table(*table, figures)
        self.finish()
        self.print_done(summary)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"warning: {message}", file=sys.stderr)

    def print_done(self, summary: str = "") -> None:
        """Where the report is, and a summary table (writer only)."""
        if self.writer:
            print(f"\nreport: {self.path / 'report.md'}" + (f"\n\n{summary}" if summary else ""))
