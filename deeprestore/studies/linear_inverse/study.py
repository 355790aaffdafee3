"""The linear-inverse study (``python evaluate.py linear-inverse``): is a convolution enough to invert
a convolution? (Harder 2017, §1.1.1.)

For every case (:class:`~deeprestore.studies.linear_inverse.layer_cases.LayerCase`: Lite0's stem, a
depthwise and a pointwise layer with their real weights, random convolutions of chosen stride,
channels, boundary and nonlinearity, AlexNet/VGG16 conv1 from the user's weights) the layer's input
is cut into ``size×size`` patches — from crops of the training sample photos to fit, from the
held-out photos (flower, chelsea, coffee) to score — and every inverse of
:mod:`~deeprestore.studies.linear_inverse.measurements` is built as an explicit matrix and measured.
Writes ``linear_inverse.csv`` / ``.json`` (:data:`LINEAR_INVERSE_COLUMNS`, rewritten after every case;
a rerun with the same ``--experiment`` keeps the cases done), ``plots/<case>.png``
(:func:`~deeprestore.studies.linear_inverse.figures.inverse_columns_figure`) and ``report.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from deeprestore.metrics import markdown_table, save_figure
from deeprestore.stats.images import RandomCrops, sample_photo_sources
from deeprestore.studies.linear_inverse.figures import inverse_columns_figure
from deeprestore.studies.linear_inverse.layer_cases import LayerCase, LinearLayer, build_layer, random_patches
from deeprestore.studies.linear_inverse.measurements import MEASUREMENT_COLUMNS, layer_inverses, measure_inverses
from deeprestore.studies.linear_inverse.trained_inverter import trained_reconstruction
from deeprestore.studies.study_folder import StudyFolder, StudyOptions, figure_links, file_stem

__all__ = ["DEFAULT_CASES", "LINEAR_INVERSE_COLUMNS", "LinearInverseStudy"]

CASE_COLUMNS = ("case", "network", "stride", "kernel", "channels_in", "channels_out", "size", "boundary", "nonlinearity")
LINEAR_INVERSE_COLUMNS = (*CASE_COLUMNS, *MEASUREMENT_COLUMNS)


def _default_cases() -> list[LayerCase]:
    lite0 = "efficientnet_lite0"
    return [
        LayerCase(kernel=3, stride=1, channels=12),
        LayerCase(kernel=3, stride=1, channels=12, boundary="circular"),
        LayerCase(kernel=3, stride=2, channels=12),
        LayerCase(kernel=3, stride=2, channels=12, boundary="circular"),
        LayerCase(kernel=3, stride=2, channels=3),
        LayerCase(kernel=3, stride=2, channels=48),
        LayerCase(kernel=5, stride=2, channels=12),
        LayerCase(kernel=3, stride=1, channels=12, nonlinearity="relu"),
        LayerCase(network=lite0, modules=["stages.stem.0", "stages.stem.1"]),
        LayerCase(network=lite0, modules=["stages.stem.0", "stages.stem.1"], nonlinearity="relu6"),
        LayerCase(network=lite0, modules=["stages.block1.depthwise_conv", "stages.block1.bn1"], size=6),
        LayerCase(network=lite0, modules=["stages.block2.expand_conv", "stages.block2.bn0"], size=6),
    ]


DEFAULT_CASES = _default_cases()


@dataclass
class LinearInverseStudy(StudyOptions):
    """Measure how far the optimal linear inverses of convolution layers are from convolutions, and
    what restricting the inverse to a convolution costs.

    Args:
        cases: the layers (see :class:`~deeprestore.studies.linear_inverse.layer_cases.LayerCase`);
            default: eight random convolutions (stride, channels, kernel, boundary, ReLU) and four of
            Lite0's with their real weights.
        relative_noise: relative feature noise ``η`` (``1/λ = η ×`` mean feature variance): the prior's
            weight in eq. 2.
        radii: kernel radii ``r`` of the fitted convolutional inverses (kernels ``(2r+1)²``).
        border: feature positions left out at each edge for the interior measures.
        train_patches: patches the moments are measured on.
        test_patches: held-out patches the errors are measured on.
        photo_crop: side of the photo crops the layer's input is computed on (patches come from those maps).
        photo_size: the photos' shorter side before cropping (224: the networks' scale).
        max_dimension: refuse a case whose image or feature vector is longer (the matrices are dense).
    """

    cases: list[LayerCase] = field(default_factory=_default_cases)
    relative_noise: list[float] = field(default_factory=lambda: [1e-4, 1e-2])
    radii: list[int] = field(default_factory=lambda: [1, 3])
    border: int = 2
    train_patches: int = 6000
    test_patches: int = 1000
    photo_crop: int = 64
    photo_size: int = 224
    max_dimension: int = 6144

    def check(self) -> None:
        """One line for settings that cannot run."""
        if not self.cases:
            raise ValueError("--cases is empty: name at least one layer")
        if not self.relative_noise or min(self.relative_noise) <= 0:
            raise ValueError(f"--relative_noise must be positive numbers, got {self.relative_noise}")
        if not self.radii or min(self.radii) < 0:
            raise ValueError(f"--radii must be non-negative kernel radii, got {self.radii}")
        if self.border < 0:
            raise ValueError(f"--border must be 0 or more, got {self.border}")
        if self.train_patches < 2 or self.test_patches < 1:
            raise ValueError(
                f"--train_patches must be at least 2 and --test_patches positive, got {self.train_patches} and {self.test_patches}"
            )
        if self.photo_size < self.photo_crop or self.photo_crop < 1:
            raise ValueError(f"--photo_crop must be positive and at most --photo_size, got {self.photo_crop} and {self.photo_size}")
        labels = [case.name() for case in self.cases]
        if len(set(labels)) != len(labels):
            raise ValueError(f"two cases have the same label: {labels}; give them a label")
        for case in self.cases:
            case.check()

    def photos(self, splits: Sequence[str], count: int) -> Tensor:
        """``count`` crops ``photo_crop²`` in [0, 1] of the sample photos of ``splits``."""
        crops = RandomCrops(sample_photo_sources(splits), count, self.photo_crop, self.photo_size, self.seed_everything)
        return torch.stack(list(crops))

    def patches(self, layer: LinearLayer, photos: Tensor, count: int, seed: int) -> Tensor:
        """``count`` random ``C×size×size`` patches of the layer's input on ``photos``."""
        maps = torch.cat([layer.inputs(batch) for batch in photos.split(16)])
        return random_patches(maps, layer.grid.image[1], count, torch.Generator().manual_seed(seed))

    def layer(self, case: LayerCase) -> LinearLayer:
        """The case's layer, refused in one line if its matrices would be too large."""
        layer = build_layer(case, self.seed_everything)
        grid = layer.grid
        if max(grid.image_size, grid.feature_size) > self.max_dimension:
            raise ValueError(
                f"case {case.name()}: the image vector has {grid.image_size} entries and the features {grid.feature_size}; "
                f"explicit matrices need both ≤ --max_dimension {self.max_dimension}: lower the case's size"
            )
        return layer

    def measure(
        self, case: LayerCase, layer: LinearLayer, train_photos: Tensor, test_photos: Tensor, figures: Path | None, *, inverter: bool = True
    ) -> list[dict]:
        """The rows of one case (and its figure, if ``figures`` is a folder); ``inverter=False`` leaves
        out the case's trained module."""
        grid = layer.grid
        train = self.patches(layer, train_photos, self.train_patches, self.seed_everything)
        test = self.patches(layer, test_photos, self.test_patches, self.seed_everything + 1)
        border = self.border if grid.features[1] > 2 * self.border and grid.features[2] > 2 * self.border else 0
        _, features, per_noise = layer_inverses(layer, train, self.relative_noise, self.radii, border)
        generator = torch.Generator().manual_seed(self.seed_everything + 2)
        use = inverter and case.inverter.checkpoint is not None
        trained = {"trained module": trained_reconstruction(case, layer, trusted=self.trust_checkpoints)} if use else {}
        described = {
            "case": case.name(),
            "network": case.network,
            "stride": grid.stride,
            "kernel": layer.kernel,
            "channels_in": grid.image[0],
            "channels_out": grid.features[0],
            "size": case.size,
            "boundary": case.boundary,
            "nonlinearity": case.nonlinearity,
        }
        rows = [
            {**described, **row}
            for found in per_noise
            for row in measure_inverses(layer, train, features, test, found, border, max(self.radii), generator, trained)
        ]
        if figures is not None:
            shown = {k: v for k, v in per_noise[0].inverses.items() if k in ("mmse", "eq2-stationary", "pinv", f"conv r={max(self.radii)}")}
            title = f"{case.name()}: feature channel 0's image (η = {per_noise[0].noise:g})"
            save_figure(inverse_columns_figure(shown, grid, title), figures / f"{file_stem(case.name())}.png")
        return rows

    def run(self, command: str | None = None) -> list[dict]:
        self.check()
        layers = [self.layer(case) for case in self.cases]  # every case checked before anything runs
        config = {"case_labels": [case.name() for case in self.cases]}
        keys = ("relative_noise", "radii", "border", "train_patches", "test_patches", "photo_crop", "photo_size", "seed_everything")
        folder = StudyFolder("linear-inverse", self, config, resume_keys=keys, command=command).open()
        figures = folder.path / "plots"
        figures.mkdir(exist_ok=True)
        done = folder.read_table("linear_inverse")
        labels = {case.name() for case in self.cases}
        rows = [row for row in done if row["case"] in labels]
        finished = {row["case"] for row in rows}
        train_photos = self.photos(["train"], max(8, self.train_patches // 50))
        test_photos = self.photos(["val", "test"], max(3, self.test_patches // 50))
        for case, layer in tqdm(list(zip(self.cases, layers)), desc="linear-inverse study", unit="case", disable=not self.progress):
            if case.name() in finished:
                continue
            missing = case.inverter.checkpoint is not None and not Path(case.inverter.checkpoint).is_file()
            if missing:
                folder.warn(
                    f"case {case.name()}: no trained module ({case.inverter.checkpoint} not found; `python train.py --model.init_args.mode "
                    "parallel --model.init_args.layer <layer>` trains one)"
                )
            rows += self.measure(case, layer, train_photos, test_photos, figures, inverter=not missing)
            folder.write_table("linear_inverse", LINEAR_INVERSE_COLUMNS, rows, json_too=True)
        table = linear_inverse_table(rows)
        paths = [figures / f"{file_stem(case.name())}.png" for case in self.cases]
        intro = (
            f"{self.train_patches} training patches of each layer's input (crops of the training sample photos at "
            f"{self.photo_size} px), {self.test_patches} held-out patches (flower, chelsea, coffee). Distances: "
            "‖M − P(M)‖/‖M‖ from the nearest transposed convolution of the layer's stride (any kernel; interior: "
            f"{self.border} feature positions off each edge; kernel: the largest fitted kernel). Errors: ‖x − x̂‖²/‖x − μ‖² "
            "on held-out patches with noisy features. Data: [linear_inverse.csv](linear_inverse.csv)."
        )
        notes = "\n".join(f"- {warning}" for warning in folder.warnings)
        folder.publish(
            "Linear-inverse study",
            [notes, table, figure_links(paths)],
            ("linear_inverse", LINEAR_INVERSE_COLUMNS, rows),
            figures=paths,
            intro=intro,
            summary=table,
        )
        return rows


def _number(value: object, form: str = ".3f") -> str:
    return "–" if value in (None, "") else format(float(value), form)  # type: ignore[arg-type]


def linear_inverse_table(rows: Sequence[dict]) -> str:
    """One line per (case, η, inverse): the distances and errors."""
    header = ["case", "η", "inverse", "distance", "interior", "kernel", "error", "interior error"]
    body = [
        [
            str(r["case"]),
            f"{float(r['noise']):g}",
            str(r["inverse"]),
            *(_number(r[k]) for k in ("distance", "interior_distance", "kernel_distance")),
            *(_number(r[k], ".3g") for k in ("error", "interior_error")),
        ]
        for r in rows
    ]
    return markdown_table(header, body)
