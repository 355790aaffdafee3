"""Tests of the data layer: file reading, skips, transforms, the data modules.

Bad and odd image files are made in ``tmp_path`` with Pillow and numpy; nothing is
downloaded. The whole file runs in well under a minute on 2 CPU cores.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image, ImageFile
from torch.utils.data import DataLoader

from datamodules import BadImageError, ImageFolder, ImageNet, SamplePhotos, sample_photo_splits
from datamodules.crop_datasets import FixedCropDataset, RandomCropDataset
from datamodules.image_files import load_rgb, probe_image, scan_folder, to_rgb
from datamodules.sampling import EpochSampler
from datamodules.skips import SkipReason, SkipTracker
from datamodules.transforms import EvalTransform, ImageTooSmallError, TrainTransform

SKIP_LOGGER = "datamodules.skips"
CROP = 8  # crop size of the folder tests: small files keep them fast


# ---------------------------------------------------------------------------------------
# Making files
# ---------------------------------------------------------------------------------------


def solid_png(path: Path, colour: tuple[int, int, int], size: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)
    return path


def noisy_jpeg_bytes(size: int = 64, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def composite(colour: float, alpha: int) -> float:
    """Expected value of a channel composited onto white."""
    return colour * alpha / 255 + 255 * (1 - alpha / 255)


def cmyk_to_rgb(c: int, m: int, y: int, k: int) -> tuple[float, float, float]:
    return tuple((255 - k) * (255 - v) / 255 for v in (c, m, y))  # type: ignore[return-value]


# Odd but readable files: name -> (writer, expected RGB of every pixel, tolerance)
def write_odd_files(folder: Path) -> dict[str, tuple[tuple[float, float, float], float]]:
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[tuple[float, float, float], float]] = {}

    Image.new("L", (12, 12), 100).save(folder / "grey.png")
    expected["grey.png"] = ((100, 100, 100), 0)

    Image.new("LA", (12, 12), (60, 64)).save(folder / "grey_alpha.png")
    expected["grey_alpha.png"] = ((composite(60, 64),) * 3, 1)  # type: ignore[assignment]

    Image.new("RGBA", (12, 12), (200, 40, 20, 128)).save(folder / "rgba.png")
    expected["rgba.png"] = (tuple(composite(v, 128) for v in (200, 40, 20)), 1)  # type: ignore[assignment]

    Image.new("CMYK", (12, 12), (10, 200, 30, 40)).save(folder / "cmyk.jpg", quality=95)
    expected["cmyk.jpg"] = (cmyk_to_rgb(10, 200, 30, 40), 3)  # JPEG is lossy

    palette = Image.new("P", (12, 12), 1)
    palette.putpalette([255, 0, 0, 30, 90, 150] + [0] * 762)
    palette.save(folder / "palette.png")
    expected["palette.png"] = ((30, 90, 150), 0)

    transparent = Image.new("P", (12, 12), 1)
    transparent.putpalette([255, 0, 0, 30, 90, 150] + [0] * 762)
    transparent.save(folder / "palette_transparent.PNG", transparency=1)
    expected["palette_transparent.PNG"] = ((255, 255, 255), 0)  # fully transparent: white

    # 16-bit grey: 19789 = 77 * 257 -> 77 (Pillow's own convert("L") would clip it to 255)
    Image.fromarray(np.full((12, 12), 77 * 257, dtype=np.uint16)).save(folder / "sixteen.png")
    expected["sixteen.png"] = ((77, 77, 77), 0)

    Image.new("1", (12, 12), 1).save(folder / "one_bit.bmp")
    expected["one_bit.bmp"] = ((255, 255, 255), 0)

    keyed = Image.new("RGB", (12, 12), (9, 9, 9))
    keyed.save(folder / "colour_key.png", transparency=(9, 9, 9))  # PNG tRNS colour key
    expected["colour_key.png"] = ((255, 255, 255), 0)

    solid_png(folder / "plain.tiff", (5, 6, 7))
    expected["plain.tiff"] = ((5, 6, 7), 0)
    return expected


def write_bad_files(folder: Path) -> dict[str, SkipReason]:
    """Files with image extensions that must be skipped: name -> reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.jpg").write_bytes(bytes(range(256)) * 4)
    (folder / "notes.png").write_text("this is a text file, not a PNG\n")
    (folder / "empty.JPEG").write_bytes(b"")
    jpeg = noisy_jpeg_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    solid_png(folder / "small.png", (1, 2, 3), size=CROP - 2)  # smaller than the crop
    return {
        "corrupt.jpg": SkipReason.UNREADABLE,
        "notes.png": SkipReason.UNREADABLE,
        "empty.JPEG": SkipReason.UNREADABLE,
        "truncated.jpg": SkipReason.UNREADABLE,
        "small.png": SkipReason.TOO_SMALL,
    }


def skip_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SKIP_LOGGER]


def uniform_colour(crop: torch.Tensor) -> tuple[float, float, float]:
    """The colour (0..255) of a crop that must be one colour."""
    flat = crop.reshape(3, -1)
    assert (flat.max(dim=1).values - flat.min(dim=1).values).max() < 1e-6, "crop not uniform"
    return tuple(float(v) * 255 for v in flat[:, 0])  # type: ignore[return-value]


def matches(colour: tuple[float, ...], expected: tuple[float, ...], tolerance: float) -> bool:
    return all(abs(a - b) <= tolerance + 0.5 for a, b in zip(colour, expected, strict=True))


# ---------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------


def test_pillow_truncated_images_flag_is_left_false() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_odd_modes_convert_to_correct_rgb(tmp_path: Path) -> None:
    expected = write_odd_files(tmp_path)
    for name, (colour, tolerance) in expected.items():
        image = load_rgb(tmp_path / name)
        assert image.mode == "RGB", name
        pixels = np.asarray(image).reshape(-1, 3)
        assert (pixels == pixels[0]).all(), name
        assert matches(tuple(pixels[0]), colour, tolerance), (name, pixels[0], colour)


def test_sixteen_bit_scaling_uses_the_full_16_bit_range(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 25700, 32896, 65535]], dtype=np.uint16)
    expected = np.rint(values / 257).astype(np.uint8)  # [0, 4, 100, 128, 255]
    Image.fromarray(values).save(tmp_path / "little.png")
    big = Image.frombytes("I;16B", (5, 1), values.astype(">u2").tobytes())
    for image in (Image.open(tmp_path / "little.png"), big):
        rgb = np.asarray(to_rgb(image))
        assert (rgb == expected[..., None]).all(), (image.mode, rgb[..., 0])
    # mode I holding 16-bit data, e.g. from Pillow's convert("I")
    as_i = Image.fromarray(values.astype(np.int32))
    assert as_i.mode == "I"
    assert (np.asarray(to_rgb(as_i))[..., 0] == expected).all()


def test_32_bit_and_float_modes(tmp_path: Path) -> None:
    # mode I beyond 16 bits: the unsigned 32-bit range maps to 0..255
    wide = Image.fromarray(np.array([[0, 70_000, 2**24, 2**31 - 1]], dtype=np.int32))
    assert np.asarray(to_rgb(wide))[0, :, 0].tolist() == [0, 0, 1, 127]
    floats = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    Image.fromarray(floats).save(tmp_path / "float.tif")
    assert np.asarray(load_rgb(tmp_path / "float.tif"))[0, :, 1].tolist() == [0, 128, 255]
    Image.fromarray(np.array([[0.0, 2.0]], dtype=np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(BadImageError, match="expected \\[0, 1\\]"):
        load_rgb(tmp_path / "hdr.tif")
    with pytest.raises(ValueError, match="negative"):
        to_rgb(Image.fromarray(np.array([[-5, 3]], dtype=np.int32)))


def test_bad_files_raise_bad_image_error_with_path(tmp_path: Path) -> None:
    write_bad_files(tmp_path)
    for name in ("corrupt.jpg", "notes.png", "empty.JPEG", "truncated.jpg"):
        with pytest.raises(BadImageError) as info:
            load_rgb(tmp_path / name)
        assert info.value.path == str(tmp_path / name)
        assert name in str(info.value) and info.value.reason
    assert "truncated" in str(pytest.raises(BadImageError, load_rgb, tmp_path / "truncated.jpg").value)
    assert probe_image(tmp_path / "truncated.jpg") == (64, 64)  # the header alone is fine
    with pytest.raises(BadImageError):
        probe_image(tmp_path / "notes.png")


def test_scan_folder_lists_image_files_recursively_case_insensitively_by_name(tmp_path: Path) -> None:
    for relative in ("b/z.JPEG", "a/y.png", "x.Jpg", "c/d/w.webp", "v.ppm", "u.TIF", "t.bmp"):
        solid_png(tmp_path / relative, (0, 0, 0))
    (tmp_path / "c" / "d" / "loop").symlink_to(tmp_path / "c")  # listed once, no recursion
    (tmp_path / "readme.txt").write_text("not listed")
    (tmp_path / "a" / "labels.csv").write_text("not listed")
    names = [p.name for p in scan_folder(tmp_path).files]
    assert names == ["t.bmp", "u.TIF", "v.ppm", "w.webp", "x.Jpg", "y.png", "z.JPEG"]
    with pytest.raises(FileNotFoundError):
        scan_folder(tmp_path / "missing")


# ---------------------------------------------------------------------------------------
# Transforms and skips
# ---------------------------------------------------------------------------------------


def test_transforms_shapes_range_and_too_small() -> None:
    image = torch.randint(0, 256, (3, 40, 60), dtype=torch.uint8)
    crop = TrainTransform(16, resize=32)(image, torch.Generator().manual_seed(0))
    assert crop.shape == (3, 16, 16) and crop.dtype == torch.float32
    assert 0 <= crop.min() and crop.max() <= 1
    five = EvalTransform(16, crops="five")
    crops = torch.stack([five(image, k) for k in range(five.num_crops)])
    assert crops.shape == (5, 3, 16, 16)
    assert torch.allclose(crops[0], image[:, :16, :16].float() / 255, atol=1e-6)  # top-left
    assert torch.equal(crops[4], EvalTransform(16)(image))  # centre
    with pytest.raises(ImageTooSmallError):
        TrainTransform(64)(image, torch.Generator())
    with pytest.raises(ImageTooSmallError):
        EvalTransform(41)(image)
    with pytest.raises(ValueError, match="at least crop_size"):
        TrainTransform(64, resize=32)


def test_skip_tracker_counts_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    tracker = SkipTracker()
    ids = tracker.register(["a.jpg", "b.jpg", "c.jpg"])
    with caplog.at_level(logging.WARNING, logger=SKIP_LOGGER):
        assert tracker.record(ids[1], SkipReason.UNREADABLE, "corrupt")
        assert not tracker.record(ids[1], SkipReason.UNREADABLE, "corrupt")
        assert tracker.record(ids[2], SkipReason.TOO_SMALL, "4x4")
    assert tracker.count == 2
    assert [(s.name, s.reason) for s in tracker.skipped()] == [
        ("b.jpg", SkipReason.UNREADABLE),
        ("c.jpg", SkipReason.TOO_SMALL),
    ]
    messages = [r.getMessage() for r in skip_records(caplog)]
    assert len(messages) == 2 and "b.jpg" in messages[0] and "corrupt" in messages[0]
    assert "2 of 3 images skipped" in tracker.summary()


class _FailingSource:
    """Images 1 and 3 of 6 are bad; decodes are counted per process."""

    names = [f"img{i}.png" for i in range(6)]

    def __len__(self) -> int:
        return 6

    def __getitem__(self, index: int) -> torch.Tensor:
        if index in (1, 3):
            raise BadImageError(self.names[index], "broken on purpose")
        return torch.full((3, 10, 10), index * 10, dtype=torch.uint8)


def test_skips_found_in_worker_processes_reach_the_main_process() -> None:
    dataset = FixedCropDataset(_FailingSource(), EvalTransform(CROP))
    loader = DataLoader(dataset, batch_size=2, num_workers=2)
    values = sorted(round(float(x[0, 0, 0]) * 255) for batch in loader for x in batch)
    # bad images are replaced by the next good one: 1 -> 2, 3 -> 4
    assert values == [0, 20, 20, 40, 40, 50]
    assert dataset.skips.count == 2
    assert {s.name for s in dataset.skips.skipped()} == {"img1.png", "img3.png"}


def test_random_crop_dataset_is_reproducible_and_epoch_dependent() -> None:
    images = [torch.randint(0, 256, (3, 30, 30), dtype=torch.uint8) for _ in range(3)]
    dataset = RandomCropDataset(images, TrainTransform(CROP), samples_per_epoch=6, seed=3)
    assert torch.equal(dataset[(0, 4)], dataset[(0, 4)])
    assert not torch.equal(dataset[(0, 4)], dataset[(1, 4)])
    # fewer samples than images: consecutive epochs go on through all the images
    flat = [torch.full((3, CROP, CROP), v, dtype=torch.uint8) for v in range(5)]
    few = RandomCropDataset(flat, TrainTransform(CROP), samples_per_epoch=2, seed=0)
    used = [int(few[(e, i)][0, 0, 0] * 255 + 0.5) for e in range(5) for i in range(2)]
    assert sorted(used) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    sampler = EpochSampler(6, seed=3)
    first, second = list(sampler), list(sampler)  # epochs 0 and 1
    assert sorted(i for _, i in first) == list(range(6)) and first != second
    sampler.set_epoch(0)
    assert list(sampler) == first


# ---------------------------------------------------------------------------------------
# ImageFolder with bad and odd files
# ---------------------------------------------------------------------------------------


@pytest.fixture()
def messy_folder(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A folder (with subfolders) of odd-but-good files, plain files and bad files."""
    root = tmp_path / "photos"
    odd = write_odd_files(root / "odd")
    bad = write_bad_files(root / "bad")
    for i, colour in enumerate([(250, 10, 10), (10, 250, 10), (10, 10, 250)]):
        solid_png(root / f"plain{i}.png", colour)
        odd[f"plain{i}.png"] = (colour, 0)
    return root, odd, bad


def test_image_folder_skips_bad_files_converts_odd_ones(messy_folder: tuple[Path, dict, dict], caplog: pytest.LogCaptureFixture) -> None:
    root, good, bad = messy_folder
    data = ImageFolder(val=str(root), crop_size=CROP, resize=None, batch_size=4, num_workers=0)
    with caplog.at_level(logging.WARNING, logger=SKIP_LOGGER):
        data.setup("validate")
        # found by the header scan at setup: all but the truncated file
        assert data.skip_count == len(bad) - 1
        seen = []
        for _ in range(2):  # two passes: nothing is logged twice
            for batch in data.val_dataloader():
                assert batch.shape[1:] == (3, CROP, CROP) and batch.dtype == torch.float32
                seen += [uniform_colour(crop) for crop in batch]
    assert data.skip_count == len(bad)
    assert {Path(s.name).name: s.reason for s in data.skipped()} == bad
    records = skip_records(caplog)
    for name in bad:
        assert sum(name in r.getMessage() for r in records) == 1, name
    assert len(records) == len(bad)
    # every crop is one of the good images, and every good image was seen
    assert all(any(matches(c, e, t) for e, t in good.values()) for c in seen)
    for name, (colour, tolerance) in good.items():
        assert any(matches(c, colour, tolerance) for c in seen), name
    # the truncated file's slot is filled by the next good file: one extra crop per pass
    assert len(seen) == 2 * (len(good) + 1)


def test_image_folder_training_over_bad_files_with_workers(
    messy_folder: tuple[Path, dict, dict],
) -> None:
    root, good, bad = messy_folder
    data = ImageFolder(train=str(root), crop_size=CROP, resize=None, batch_size=5, num_workers=2)
    data.setup("fit")  # no val/test folder: fit sets up train only
    assert data.split_size("train") == len(good) + 1  # the truncated file passes the scan
    loader = data.train_dataloader()
    batches = [b for _ in range(2) for b in loader]
    assert sum(len(b) for b in batches) == 2 * (len(good) + 1)
    assert all(b.shape[1:] == (3, CROP, CROP) and 0 <= b.min() and b.max() <= 1 for b in batches)
    assert data.skip_count == len(bad)  # the truncated file was found inside a worker
    with pytest.raises(ValueError, match="limit_val_batches=0"):
        data.val_dataloader()


def test_image_folder_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected a folder of train images"):
        ImageFolder(train=str(tmp_path / "nowhere")).setup("fit")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="expected a folder of test images .*no image files"):
        ImageFolder(test=str(tmp_path / "empty")).setup("test")
    with pytest.raises(ValueError, match="at least one folder"):
        ImageFolder()


def test_folder_of_only_bad_files_is_a_clear_error(tmp_path: Path) -> None:
    write_bad_files(tmp_path / "bad")
    (tmp_path / "bad" / "truncated.jpg").unlink()
    with pytest.raises(ValueError, match="none of the 4 image files"):
        ImageFolder(test=str(tmp_path / "bad"), crop_size=CROP, resize=None).setup("test")


# ---------------------------------------------------------------------------------------
# ImageNet
# ---------------------------------------------------------------------------------------


def make_imagenet_val(root: Path, count: int = 12) -> list[str]:
    """ILSVRC2012-style val files spread over class folders out of name order."""
    names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, count + 1)]
    classes = ["n03000000", "n01000000", "n02000000"]
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        folder = root / "val" / classes[int(rng.integers(3))]
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (12, 12), (i * 20, 0, 0)).save(folder / name, format="PNG")
    return names


def file_names(data: ImageNet, split: str) -> list[str]:
    return [Path(f).name for f in data.dataset(split).images.files]  # type: ignore[attr-defined]


def test_imagenet_thesis_split_by_sorted_file_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    names = make_imagenet_val(tmp_path)
    data = ImageNet(str(tmp_path), thesis_train_images=9, crop_size=CROP, resize=None, num_workers=0)
    with caplog.at_level(logging.WARNING):
        data.setup()
    assert file_names(data, "train") == names[:9]
    assert file_names(data, "test") == names[9:]
    assert file_names(data, "val") == names[9:]  # no separate validation set
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "12 images" in warning and "50000" in warning  # unexpected count: warned, not fatal
    batch = next(iter(data.test_dataloader()))
    assert batch.shape == (3, 3, CROP, CROP)
    assert [round(float(x[0, 0, 0]) * 255) for x in batch] == [180, 200, 220]  # files 10..12

    carved = ImageNet(
        str(tmp_path),
        thesis_train_images=9,
        thesis_expected_images=12,
        val_from_train=2,
        crop_size=CROP,
        resize=None,
        num_workers=0,
    )
    carved.setup()
    assert file_names(carved, "train") == names[:7]
    assert file_names(carved, "val") == names[7:9]
    assert file_names(carved, "test") == names[9:]


def test_imagenet_thesis_too_few_images(tmp_path: Path) -> None:
    make_imagenet_val(tmp_path, count=5)
    with pytest.raises(ValueError, match="too few for the thesis split.*expected ImageNet under"):
        ImageNet(str(tmp_path), thesis_train_images=5, crop_size=CROP, resize=None).setup("fit")


def test_imagenet_standard_split(tmp_path: Path) -> None:
    make_imagenet_val(tmp_path, count=4)
    for i in range(3):
        solid_png(tmp_path / "train" / "n01000000" / f"train_{i}.JPEG", (0, 0, i))
    data = ImageNet(str(tmp_path), split="standard", crop_size=CROP, resize=None, num_workers=0)
    data.setup()
    assert data.split_size("train") == 3
    assert data.split_size("val") == data.split_size("test") == 4


def test_imagenet_missing_and_empty_root_say_what_was_expected(tmp_path: Path) -> None:
    expected = "expected ImageNet under .*val with the 50,000 ILSVRC2012 validation images"
    with pytest.raises(FileNotFoundError, match=expected + ".*does not exist"):
        ImageNet(str(tmp_path / "missing")).setup("fit")
    with pytest.raises(FileNotFoundError, match=expected):
        ImageNet(str(tmp_path)).setup("test")  # root exists, no val folder
    (tmp_path / "val").mkdir()
    with pytest.raises(ValueError, match=expected + ".*holds no image files"):
        ImageNet(str(tmp_path)).setup("test")
    with pytest.raises(FileNotFoundError, match="train with the ILSVRC2012 training images"):
        ImageNet(str(tmp_path), split="standard").setup("fit")


def test_imagenet_defaults() -> None:
    data = ImageNet("/nowhere")  # nothing is read before setup
    assert (data.crop_size, data.resize, data.batch_size, data.num_workers) == (224, 256, 64, 8)
    assert data.thesis_train_images == 48_000 and data.val_from_train == 0


# ---------------------------------------------------------------------------------------
# SamplePhotos
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_photos() -> SamplePhotos:
    data = SamplePhotos()
    data.setup()
    return data


def test_sample_photos_splits_are_fixed_and_disjoint(sample_photos: SamplePhotos) -> None:
    pairs = sample_photo_splits()
    names = [n for n, _ in pairs]
    assert len(names) == len(set(names)) == 11  # no photo in two splits
    split_of = dict(pairs)
    assert SamplePhotos.split_names("test") == ["chelsea", "coffee"]
    assert SamplePhotos.split_names("val") == ["flower"]
    assert len(SamplePhotos.split_names("train")) == 8
    assert split_of["motorcycle_left"] == split_of["motorcycle_right"] == "train"
    assert {"astronaut", "china", "retina", "hubble_deep_field"} <= set(SamplePhotos.split_names("train"))
    assert [sample_photos.split_size(s) for s in ("train", "val", "test")] == [8, 1, 2]
    assert sample_photos.skip_count == 0
    # the same photo content never appears in two splits
    split_images = {s: sample_photos.dataset(s).images for s in ("train", "val", "test")}
    for a in split_images:
        for b in split_images:
            if a < b:
                for x in split_images[a]:
                    for y in split_images[b]:
                        assert x.shape != y.shape or not torch.equal(x, y)


def test_sample_photos_batches(sample_photos: SamplePhotos) -> None:
    train = next(iter(sample_photos.train_dataloader()))
    assert train.shape == (8, 3, 128, 128) and train.dtype == torch.float32
    assert 0 <= train.min() and train.max() <= 1
    assert len(sample_photos.train_dataloader().dataset) == 256
    val = list(sample_photos.val_dataloader())
    test = list(sample_photos.test_dataloader())
    assert [b.shape[0] for b in val] == [5]  # flower, five crops
    assert sum(b.shape[0] for b in test) == 10  # chelsea and coffee, five crops each
    for batch in val + test:
        assert batch.shape[1:] == (3, 128, 128) and 0 <= batch.min() and batch.max() <= 1


def test_sample_photos_eval_crops_are_deterministic(sample_photos: SamplePhotos) -> None:
    first = torch.cat(list(sample_photos.test_dataloader()))
    second = torch.cat(list(sample_photos.test_dataloader()))
    assert torch.equal(first, second)
    assert len({tuple(c.flatten()[:64].tolist()) for c in first}) == 10  # five distinct crops each
    centre = SamplePhotos(eval_crops="center")
    centre.setup("test")
    centre_crops = torch.cat(list(centre.test_dataloader()))
    assert centre_crops.shape[0] == 2
    assert torch.equal(centre_crops[0], first[4]) and torch.equal(centre_crops[1], first[9])


def test_sample_photos_train_crops_random_but_reproducible(sample_photos: SamplePhotos) -> None:
    loader = sample_photos.train_dataloader()
    epoch0 = next(iter(loader))
    epoch1 = next(iter(loader))  # a new pass is the next epoch: new crops
    assert not torch.equal(epoch0, epoch1)
    flat = epoch0.flatten(1)
    assert all(not torch.equal(flat[i], flat[j]) for i in range(8) for j in range(i))
    again = SamplePhotos(seed=0)
    again.setup("fit")
    assert torch.equal(next(iter(again.train_dataloader())), epoch0)
    other = SamplePhotos(seed=1)
    other.setup("fit")
    assert not torch.equal(next(iter(other.train_dataloader())), epoch0)
    loader.sampler.set_epoch(0)  # what Lightning does at the start of each epoch
    assert torch.equal(next(iter(loader)), epoch0)


def test_sample_photos_argument_checks() -> None:
    with pytest.raises(ValueError, match="at least crop_size"):
        SamplePhotos(crop_size=300, resize=256)
    with pytest.raises(ValueError, match="center"):
        SamplePhotos(eval_crops="seven")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="setup"):
        SamplePhotos().train_dataloader()


def test_sample_photos_under_a_lightning_trainer() -> None:
    import lightning as L

    first_pixels: list[tuple[int, float]] = []

    class Probe(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(()))

        def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
            assert batch.shape == (4, 3, 32, 32)
            first_pixels.append((self.current_epoch, float(batch.sum())))
            return (self.weight - batch.mean()) ** 2

        def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
            assert batch.shape[1:] == (3, 32, 32)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def fit() -> list[tuple[int, float]]:
        first_pixels.clear()
        data = SamplePhotos(crop_size=32, resize=64, batch_size=4, train_samples_per_epoch=8)
        trainer = L.Trainer(
            max_epochs=2,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(Probe(), data)
        return list(first_pixels)

    run = fit()
    assert [epoch for epoch, _ in run] == [0, 0, 1, 1]
    assert run[0][1] != run[2][1]  # Lightning's set_epoch gives new crops each epoch
    assert fit() == run  # and the same crops again in a new run


def test_hue_jitter_rotates_colours_reproducibly_and_leaves_grey_alone() -> None:
    from datamodules.transforms import TrainTransform

    colourful = torch.zeros(3, 32, 32, dtype=torch.uint8)
    colourful[0] = 200  # pure red
    plain = TrainTransform(16, hue_jitter=0.0)(colourful, torch.Generator().manual_seed(1))
    jittered = TrainTransform(16, hue_jitter=0.5)
    a = jittered(colourful, torch.Generator().manual_seed(1))
    b = jittered(colourful, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.allclose(a, plain, atol=0.05)  # the hue moved away from red
    assert a.max().item() == pytest.approx(200 / 255, abs=0.02)  # value (brightness) kept
    grey = torch.full((3, 32, 32), 90, dtype=torch.uint8)
    out = jittered(grey, torch.Generator().manual_seed(3))
    assert torch.allclose(out, torch.full_like(out, 90 / 255), atol=1 / 255)
    with pytest.raises(ValueError, match="hue_jitter"):
        TrainTransform(16, hue_jitter=0.7)


# ---------------------------------------------------------------------------------------
# The one image rule: never enlarged, every skip counted, one total line
# ---------------------------------------------------------------------------------------


def test_resize_only_shrinks_and_tiny_files_are_skipped_not_upsampled(tmp_path: Path) -> None:
    """A 1×1 or 10×10 file used to be upsampled 100× to the 256-pixel scale and scored; now it is
    too small for the crop, skipped and counted (train and evaluation splits alike)."""
    from datamodules.transforms import resize_shorter_side, resized_size

    big = torch.zeros(3, 300, 400, dtype=torch.uint8)
    assert resize_shorter_side(big, 256).shape[-2:] == (256, 341) and resized_size(300, 400, 256) == (256, 341)
    small = torch.zeros(3, 120, 90, dtype=torch.uint8)
    assert resize_shorter_side(small, 256) is small and resized_size(120, 90, 256) == (120, 90)
    for i, colour in enumerate([(250, 10, 10), (10, 250, 10)]):
        solid_png(tmp_path / "photos" / f"good{i}.png", colour, size=40)
    solid_png(tmp_path / "photos" / "one_pixel.png", (0, 0, 0), size=1)
    solid_png(tmp_path / "photos" / "ten_pixels.png", (0, 0, 0), size=10)
    data = ImageFolder(train=str(tmp_path / "photos"), test=str(tmp_path / "photos"), crop_size=16, resize=32, batch_size=8, num_workers=0)
    data.setup("fit")
    data.setup("test")
    assert data.split_size("train") == data.split_size("test") == 2
    assert {Path(s.name).name: s.reason for s in data.skipped()} == {
        "one_pixel.png": SkipReason.TOO_SMALL,
        "ten_pixels.png": SkipReason.TOO_SMALL,
    }
    batch = next(iter(data.test_dataloader()))
    assert sorted(round(uniform_colour(c)[0]) for c in batch) == [10, 250]  # only the two good photos
    assert data.skip_report() == "images: skipped 2 of 4 image files (2 too small); see the warnings above"


def test_gif_files_are_images_and_other_files_are_counted(tmp_path: Path) -> None:
    frame = Image.new("P", (20, 20), 1)
    frame.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    frame.save(tmp_path / "animated.GIF", save_all=True, append_images=[Image.new("P", (20, 20), 0)])
    solid_png(tmp_path / "still.png", (1, 2, 3), size=20)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "labels.csv").write_text("x")
    (tmp_path / "more.txt").write_text("x")
    data = ImageFolder(test=str(tmp_path), crop_size=CROP, resize=None, batch_size=4, num_workers=0)
    data.setup("test")
    assert data.split_size("test") == 2 and data.skip_count == 0
    crops = next(iter(data.test_dataloader()))
    assert matches(uniform_colour(crops[0]), (200, 100, 50), 0)  # the GIF's first frame
    assert data.skip_report() == "images: used all 2 image files, none skipped; 3 other files ignored (.txt ×2, .csv)"


def test_unreadable_subfolders_are_counted_not_dropped(tmp_path: Path) -> None:
    """A sub-folder that cannot be listed is a logged, counted skip. Root reads every folder, so
    where the tests run as root the listing runs in a child process whose bounding set lacks
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root then obeys the folder's permissions)."""
    import ctypes
    import json
    import os
    import subprocess
    import sys

    def without_dac_override() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    root = tmp_path / "photos"
    solid_png(root / "ok.png", (0, 0, 0))
    solid_png(root / "locked" / "hidden.png", (0, 0, 0))
    os.chmod(root / "locked", 0)
    script = (
        "import json, sys; from datamodules.image_files import scan_folder; "
        "l = scan_folder(sys.argv[1]); "
        "print(json.dumps([[p.name for p in l.files], [f for f, _ in l.unreadable_folders]]))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(root)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
            preexec_fn=without_dac_override if os.geteuid() == 0 else None,
        )
    except subprocess.SubprocessError as error:
        pytest.skip(f"cannot drop root's file-permission override here: {error}")
    finally:
        os.chmod(root / "locked", 0o755)
    assert done.returncode == 0, done.stderr[-2000:]
    files, unreadable = json.loads(done.stdout)
    assert files == ["ok.png"] and unreadable == [str(root / "locked")]
    assert "skipped folder" in done.stderr and "locked" in done.stderr
    tracker = SkipTracker()
    tracker.register(["ok.png"])
    from datamodules.image_files import FolderListing

    tracker.note_listing(FolderListing(root, [root / "ok.png"], [(str(root / "locked"), "Permission denied")]))
    tracker.note_listing(FolderListing(root, [root / "ok.png"], [(str(root / "locked"), "Permission denied")]))  # listed twice
    assert tracker.report() == "images: used all 1 image files, none skipped; 1 unreadable folder skipped; see the warnings above"


@pytest.mark.parametrize("scan", ["decode", "header"])
def test_an_exif_rotated_jpeg_gives_the_crop_of_the_upright_photo(tmp_path, scan):
    """A phone photo stored sideways with an orientation tag is read upright (size and pixels)."""
    from datamodules.evaluation_images import images_from_paths

    photo = skimage.data.astronaut()[100:196, 180:244]  # 64 wide, 96 high: a portrait
    Image.fromarray(photo).save(tmp_path / "upright.jpg", quality=100)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": stored turned a quarter counter-clockwise
    Image.fromarray(photo).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.jpg", quality=100, exif=exif)
    assert probe_image(tmp_path / "sideways.jpg") == (64, 96) and load_rgb(tmp_path / "sideways.jpg").size == (64, 96)
    skips = SkipTracker()
    upright, sideways = (images_from_paths([tmp_path / f"{name}.jpg"], 48, skips, scan)[0]["image"] for name in ("upright", "sideways"))
    assert (upright - sideways).abs().mean() < 2 / 255  # the same crop, up to JPEG's re-encoding of the turned blocks
