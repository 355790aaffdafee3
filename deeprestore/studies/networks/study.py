"""Does the network matter? (``python evaluate.py networks``): the same images inverted from
several networks at matched depths.

For each network the inversion study (:class:`~deeprestore.studies.inversion.study.InversionStudy`)
runs in a sub-folder ``<folder>/<network>/`` (resumable on its own) at the layers of its
:data:`~deeprestore.studies.inversion.study.DEFAULT_LAYERS` list at ``positions``: those lists are
matched across EfficientNet-Lite0/1/2 (the same stage, its first or last block, so the same
stride), and a network without one uses :func:`~.spread_layers`. Every method the inversion study
knows runs there: the presets and the inverting networks found under ``checkpoints`` (one per
``train.py sweep`` folder).

Writes ``networks.csv`` (every row of every network, with its ``position``), ``plots/<metric>.png``
(x = position, one line per network and method) and ``report.md`` (per position, a table of mean
SSIM and feature error by network and method).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

from matplotlib.figure import Figure

from deeprestore.metrics import markdown_table, mean_std, save_figure
from deeprestore.nets import load_network
from deeprestore.studies.inversion.scoring import COLUMNS, Row, perceptual_columns, verifier_columns
from deeprestore.studies.inversion.study import DEFAULT_LAYERS, InversionOptions, InversionStudy, spread_layers
from deeprestore.studies.option_groups import NetworkOptions
from deeprestore.studies.study_folder import StudyFolder, file_stem

__all__ = ["NETWORK_COLUMNS", "NetworksStudy"]

NETWORK_COLUMNS = ("position", *COLUMNS)
PLOTTED = {"ssim": "SSIM", "feature_error": "feature error"}


@dataclass
class NetworksStudy(InversionOptions):
    """The same images inverted from several networks at matched depths, by every method.

    Every option of the inversion study but its network applies to each network (``--images.…``,
    ``--optimisation.…``, ``--checkpoints``, ``--trainer.…`` …).

    Args:
        networks: the networks, each a ``{name, weights, layers}`` mapping (names of
            :func:`~deeprestore.nets.load_network`; ``layers``: its matched layer list, default
            ``DEFAULT_LAYERS``, else eight spread from the first to the last).
        positions: indices into each network's matched layer list (0 = stem, 7 = the last block).
    """

    networks: list[NetworkOptions] = field(
        default_factory=lambda: [NetworkOptions(name) for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")]
    )
    positions: list[int] = field(default_factory=lambda: [1, 3, 5, 7])

    @property
    def names(self) -> list[str]:
        return [network.name for network in self.networks]

    def matched_layers(self, network: NetworkOptions) -> list[str]:
        """``network``'s layers at :attr:`positions`.

        Raises:
            ValueError: a position outside the network's list.
        """
        layers = network.layers or DEFAULT_LAYERS.get(network.name) or spread_layers(load_network(network.name, network.weights))
        bad = [p for p in self.positions if not 0 <= p < len(layers)]
        if bad:
            raise ValueError(f"--positions {bad} outside {network.name}'s matched layers (0–{len(layers) - 1}: {', '.join(layers)})")
        return [layers[p] for p in self.positions]

    def inversion_study(self, network: NetworkOptions, layers: list[str], folder: StudyFolder) -> InversionStudy:
        """The inversion study of one network, in its sub-folder of ``folder``: this study's
        options but the network's own."""
        shared = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(InversionOptions)}
        shared.update(experiment=file_stem(network.name), report_root=str(folder.path))
        return InversionStudy(**shared, network=replace(network, layers=layers))

    def run(self, command: str | None = None) -> list[Row]:
        """Run (or resume) one inversion study per network, then write the comparison."""
        if not self.networks:
            raise ValueError("--networks is empty: give at least one network")
        if len(set(self.names)) < len(self.names):
            raise ValueError(f"--networks names a network twice: {self.names}")
        self.perceptual.check()  # a missing backbone: one line before any folder is written
        layers = {network.name: self.matched_layers(network) for network in self.networks}
        folder = StudyFolder("networks", self, {"layers": layers}, command=command).open()
        rows: list[Row] = []
        for network in self.networks:
            study = self.inversion_study(network, layers[network.name], folder)
            position = {layer: p for p, layer in zip(self.positions, layers[network.name])}
            rows += [{**r, "position": position[r["layer"]]} for r in study.run(command).rows if r["layer"] in position]
        if folder.writer:
            columns = (*NETWORK_COLUMNS, *verifier_columns(self.verifiers.names), *perceptual_columns(self.perceptual.names))
            folder.write_table("networks", columns, rows, json_too=True)
            for metric, label in PLOTTED.items():
                save_figure(position_plot(rows, metric, label, self.names, self.positions), folder.path / "plots" / f"{metric}.png")
            folder.publish(
                f"Does the network matter? {', '.join(self.names)}",
                report_sections(rows, self.names, self.positions, layers),
                ("networks", columns, rows),
                figures=[folder.path / "plots" / f"{m}.png" for m in PLOTTED],
                summary="mean SSIM by position:\n" + summary_table(rows, self.names, self.positions, layers, "ssim"),
            )
        return rows


def _methods(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(r["method"] for r in rows))


def _cell(rows: Sequence[Row], metric: str) -> str:
    values = [float(r[metric]) for r in rows]
    if not values:
        return "–"
    mean, std, _ = mean_std(values)
    return f"{mean:.3f} ± {std:.3f}"


def summary_table(rows: Sequence[Row], nets: Sequence[str], positions: Sequence[int], layers: dict[str, list[str]], metric: str) -> str:
    """Rows = positions (with each network's layer), columns = network × method, cells = mean ± std."""
    methods = _methods(rows)
    header = ["position", *(f"{net} {method}" for net in nets for method in methods)]
    body = []
    for i, p in enumerate(positions):
        cells = [
            _cell([r for r in rows if r["net"] == net and r["method"] == m and r["position"] == p], metric) for net in nets for m in methods
        ]
        body.append([f"{p} ({' / '.join(layers[net][i] for net in nets)})", *cells])
    return markdown_table(header, body)


def report_sections(rows: Sequence[Row], nets: Sequence[str], positions: Sequence[int], layers: dict[str, list[str]]) -> list[str]:
    """The sections of ``report.md``."""
    images = len({r["image"] for r in rows})
    sections = [f"{images} images; each network's own inversion report is in its sub-folder. Data: [networks.csv](networks.csv)."]
    for metric, label in PLOTTED.items():
        sections.append(
            f"## Mean {label}\n\n" + summary_table(rows, nets, positions, layers, metric) + f"\n\n![{label}](plots/{metric}.png)"
        )
    return sections


def position_plot(rows: Sequence[Row], metric: str, label: str, nets: Sequence[str], positions: Sequence[int]) -> Figure:
    """x = matched position, y = mean ``metric`` ± std, one line per network and method."""
    figure = Figure(figsize=(6.4, 4.0))
    ax = figure.subplots()
    for n, net in enumerate(nets):
        for k, method in enumerate(_methods(rows)):
            stats = [
                mean_std([float(r[metric]) for r in rows if r["net"] == net and r["method"] == method and r["position"] == p])
                for p in positions
            ]
            kept = [(p, s) for p, s in zip(positions, stats) if s[0] == s[0]]
            if kept:
                ax.errorbar(
                    [p for p, _ in kept],
                    [s[0] for _, s in kept],
                    yerr=[s[1] for _, s in kept],
                    marker="o",
                    capsize=3,
                    color=f"C{n}",
                    linestyle=("-", "--", ":", "-.")[k % 4],
                    label=f"{net} {method}",
                )
    ax.set_xlabel("matched position (DEFAULT_LAYERS index)")
    ax.set_ylabel(label)
    ax.set_xticks(list(positions))
    ax.legend(fontsize="small")
    figure.tight_layout()
    return figure
