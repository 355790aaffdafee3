"""The study folder's helpers: file names from any label."""

from __future__ import annotations

from deeprestore.studies.study_folder import file_stem


def test_names_that_differ_only_in_other_characters_get_files_of_their_own():
    """猫.png and 犬.png once shared plots/layers__.png: one figure was lost."""
    assert file_stem("block1") == "block1" and file_stem("mv2016-calibrated") == "mv2016-calibrated"  # plain names unchanged
    stems = {file_stem(name) for name in ("猫", "犬", "_", "my photo", "my_photo", "my:photo")}
    assert len(stems) == 6 and all(stem.isascii() for stem in stems)
    assert file_stem("猫") == file_stem("猫")  # stable across runs: a resumed study finds its files
