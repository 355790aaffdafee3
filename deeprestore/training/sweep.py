"""``python train.py sweep``: train the same model at every layer of a list, one run per layer.

    python train.py sweep                                                    # the layers of `python evaluate.py` (block1 block4 block8)
    python train.py sweep --evaluate_config configs/evaluate/full.yaml       # the layers of the full study (8)
    python train.py sweep --layers block1 block4 block8                      # layers by name
    python train.py sweep --layers layer1 layer2 layer3 layer4 --config configs/inverters/generic_resnet50.yaml
    python train.py sweep --layers block1 block4 block8 --index $SLURM_ARRAY_TASK_ID   # one layer per array task
    python train.py sweep --layers block1 block4 block8 --print_commands     # one train.py command per layer

Without ``--layers`` the layers are those an ``evaluate.py`` config lists (``--evaluate_config``,
by default ``configs/evaluate/default.yaml``, the embedded default's study), so one command gives
every layer the report compares its inverting network. Every other option is ``python train.py``'s own (``--config``, ``--trainer.max_epochs`` …); the
sweep adds ``--model.init_args.layer <layer>`` to them for each layer, so each run writes its own
experiment folder (``checkpoints/<net>_<layer>_<mode>/`` by default), which ``evaluate.py``'s
inversion study finds: the report then has the inverting network's row at every layer.

On a laptop the runs go one after the other in this process. On a cluster, give each layer its own
job: ``--index i`` runs only the ``i``-th layer (a SLURM array, ``--array=0-<n-1>``), or
``--print_commands`` prints the commands for any other launcher. A layer whose folder already
holds ``results.json`` (fitted and tested) is skipped, one with only a ``last.ckpt`` resumes from
it (``--rerun`` trains every layer from scratch).
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

import yaml

from deeprestore.training.cli import RESULTS_FILE, ROOT, build_cli, fit_and_test

__all__ = ["layers_of_study", "run_sweep", "sweep_parser"]

#: the options the sweep sets itself for each run
LAYER_OPTIONS = ("--model.init_args.layer", "--model.layer")
#: the study whose layers a sweep without ``--layers`` trains at: ``python evaluate.py``'s default
DEFAULT_EVALUATE_CONFIG = ROOT / "configs" / "evaluate" / "default.yaml"


def sweep_parser() -> argparse.ArgumentParser:
    """The sweep's own options (all others go to every run)."""
    parser = argparse.ArgumentParser(prog="train.py sweep", description=__doc__.split("\n")[0], exit_on_error=False, allow_abbrev=False)
    parser.add_argument("--layers", nargs="+", default=None, help="the layers, one run each (default: those of --evaluate_config)")
    parser.add_argument(
        "--evaluate_config",
        type=Path,
        default=DEFAULT_EVALUATE_CONFIG,
        help="an evaluate.py config whose `network.layers` the sweep trains at when --layers is not given (default: %(default)s)",
    )
    parser.add_argument("--index", type=int, default=None, help="run only the layer at this position (0-based; e.g. $SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--print_commands", action="store_true", help="print one train.py command per layer and exit")
    parser.add_argument("--rerun", action="store_true", help="train layers that already have results, from scratch")
    return parser


def layers_of_study(config: Path) -> list[str]:
    """The ``network.layers`` list of an ``evaluate.py`` config file (or its former flat ``layers``).

    Raises:
        ValueError: the file is missing, not YAML, or lists no layers.
    """
    if not config.is_file():
        raise ValueError(f"--evaluate_config {config}: no such file (an evaluate.py config such as configs/evaluate/full.yaml)")
    try:
        values = yaml.safe_load(config.read_text()) or {}
        network = values.get("network")
        layers = network.get("layers") if isinstance(network, dict) else values.get("layers")
    except (yaml.YAMLError, AttributeError) as error:
        raise ValueError(f"--evaluate_config {config}: not a YAML mapping ({error})") from None
    if not layers or not isinstance(layers, list):
        raise ValueError(f"--evaluate_config {config} lists no `network.layers`; give the layers with --layers")
    return [str(layer) for layer in layers]


def _layer_args(rest: Sequence[str], layer: str) -> list[str]:
    return [*rest, "--model.init_args.layer", layer]


def run_sweep(argv: Sequence[str]) -> dict[str, float]:
    """Run (or print) one ``train.py`` run per layer; print a summary table.

    Returns:
        ``<layer>/<metric>`` → value for every run (trained or found finished).

    Raises:
        argparse.ArgumentError / ValueError: a bad sweep option, ``--index`` out of range, or a
            layer option among the run options.
    """
    options, rest = sweep_parser().parse_known_args(list(argv))
    for arg in rest:
        if arg.split("=", 1)[0] in LAYER_OPTIONS:
            raise ValueError(f"{arg.split('=', 1)[0]} is set by the sweep for each layer; give the layers with --layers")
    layers = list(dict.fromkeys(options.layers or layers_of_study(options.evaluate_config)))
    if not options.layers:
        print(f"sweep: the layers of {options.evaluate_config}: {' '.join(layers)}")
    if options.index is not None:
        if not 0 <= options.index < len(layers):
            raise ValueError(
                f"--index {options.index} is out of range: {len(layers)} layers ({', '.join(layers)}), valid 0–{len(layers) - 1}"
            )
        layers = [layers[options.index]]
    if options.print_commands:
        for layer in layers:
            print(shlex.join(["python", "train.py", *_layer_args(rest, layer)]))
        return {}
    metrics: dict[str, float] = {}
    summary: list[tuple[str, str, str, dict[str, float]]] = []
    for i, layer in enumerate(layers, start=1):
        print(f"\nsweep: layer {i}/{len(layers)}: {layer}")
        args = _layer_args(rest, layer)
        cli = build_cli(args)
        folder = Path(cli.trainer.default_root_dir)
        results, last = folder / RESULTS_FILE, folder / "last.ckpt"
        if results.is_file() and not options.rerun:
            found = json.loads(results.read_text())["test"]
            status = "finished before (skipped)"
        else:
            if last.is_file() and not options.rerun:
                cli = build_cli([*args, "--ckpt_path", str(last)])
                status = "resumed"
            else:
                status = "trained"
            found = fit_and_test(cli)
        summary.append((layer, folder.name, status, found))
        metrics.update({f"{layer}/{k}": v for k, v in found.items()})
    print(
        "\nsweep summary:\n"
        + "\n".join(
            f"  {layer:<12} {name:<40} {status:<26} SSIM {m.get('test/ssim', float('nan')):.4f}  PSNR {m.get('test/psnr', float('nan')):.2f} dB"
            for layer, name, status, m in summary
        )
    )
    return metrics
