"""The studies' images."""

from __future__ import annotations

from datamodules.evaluation_images import held_out_images


def test_the_held_out_set_is_22_labelled_photos():
    data = held_out_images(64)
    assert len(data) == 22 and len(set(data.names)) == 22 and data.names[:2] == ["chelsea", "coffee"]
    assert data.labels[:3] == [281, 967, 243] and all(isinstance(label, int) and 0 <= label < 1000 for label in data.labels)
    item = data[5]
    assert item["index"] == 5 and item["image"].shape == (3, 64, 64) and 0 <= item["image"].min() and item["image"].max() <= 1
