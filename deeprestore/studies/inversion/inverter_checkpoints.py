"""Find the trained inverting networks a study evaluates: one per experiment folder of ``train.py``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from deeprestore.checkpoint_files import read_checkpoint
from deeprestore.studies.inversion.methods import InverterMethod

__all__ = ["checkpoint_in", "find_inverter_checkpoints"]


def checkpoint_in(folder: Path) -> Path | None:
    """The checkpoint to evaluate in an experiment folder: the newest ``best-*.ckpt``, else
    ``stacked.ckpt``, else ``last.ckpt``, else ``None``."""
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))
    if best:
        return best[-1]
    for name in ("stacked.ckpt", "last.ckpt"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_inverter_checkpoints(root: str | Path, net: str, weights: str = "pretrained") -> tuple[list[InverterMethod], list[str]]:
    """The inverting networks for ``net`` under ``root``: one per experiment folder.

    ``root`` holds one folder per experiment (``checkpoints/<experiment>/``, as train.py writes
    them); a folder that itself holds checkpoints is taken as a single experiment.

    Args:
        root: the checkpoints root.
        net: network name the inverters must have been trained for.
        weights: the network weights they must have been trained with.

    Returns:
        ``(methods sorted by name, notes)``; notes say why a folder was left out.
    """
    root = Path(root)
    if not root.is_dir():
        return [], [f"no checkpoints folder {root}: no inverting networks evaluated"]
    folders = [root] if any(root.glob("*.ckpt")) else sorted(p for p in root.iterdir() if p.is_dir())
    found, notes = [], []
    for folder in folders:
        path = checkpoint_in(folder)
        if path is None:
            continue
        try:  # as data, never trusted: a file the study found by itself
            hp = dict(read_checkpoint(path, "inverter checkpoint").get("hyper_parameters", {}))
        except ValueError as error:  # corrupt, truncated or foreign: a note, never a stop
            notes.append(f"{error}; skipped")
            continue
        if not {"net", "layer", "mode"} <= set(hp):
            notes.append(f"{path}: not an inverting-network checkpoint (no net/layer/mode hyper-parameters)")
        elif hp["net"] != net:
            notes.append(f"{path}: trained for {hp['net']}, not {net}")
        elif hp.get("weights", "pretrained") != weights:
            notes.append(f"{path}: trained with weights {hp.get('weights')!r}, the study uses {weights!r}")
        else:
            found.append((folder.name, path, str(hp["mode"]), str(hp["layer"]), str(hp.get("weights", "pretrained"))))
    return _name_inverters(found), notes


def _name_inverters(found: Iterable[tuple[str, Path, str, str, str]]) -> list[InverterMethod]:
    """``inverter-<mode>``, plus ``-<experiment>`` where two experiments share mode and layer."""
    found = list(found)
    count: dict[tuple[str, str], int] = {}
    for _, _, mode, layer, _ in found:
        count[(mode, layer)] = count.get((mode, layer), 0) + 1
    methods = []
    for experiment, path, mode, layer, weights in found:
        name = f"inverter-{mode}" if count[(mode, layer)] == 1 else f"inverter-{mode}-{experiment}"
        methods.append(InverterMethod(name, path, experiment, mode, layer, weights))
    return sorted(methods, key=lambda m: (m.name, m.layer))
