"""The study folder's helpers: file names from any label, and which earlier runs resume."""

from __future__ import annotations

from deeprestore.studies.study_folder import file_stem


def test_names_that_differ_only_in_other_characters_get_files_of_their_own():
    """猫.png and 犬.png once shared plots/layers__.png: one figure was lost."""
    assert file_stem("block1") == "block1" and file_stem("mv2016-calibrated") == "mv2016-calibrated"  # plain names unchanged
    stems = {file_stem(name) for name in ("猫", "犬", "_", "my photo", "my_photo", "my:photo")}
    assert len(stems) == 6 and all(stem.isascii() for stem in stems)
    assert file_stem("猫") == file_stem("猫")  # stable across runs: a resumed study finds its files


def test_an_option_added_since_a_folder_was_written_resumes_at_its_default_only(tmp_path):
    """A folder written before ``--verifiers.names`` existed had no verifiers: the default resumes,
    asking for a verifier (columns its rows lack) is refused."""
    import pytest
    import yaml

    from deeprestore.studies.inversion.study import InversionOptions
    from deeprestore.studies.option_groups import VerifierOptions
    from deeprestore.studies.study_folder import StudyFolder

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.yaml").write_text(yaml.safe_dump({"study": "inversion", "seed_everything": 0}))
    keys = ("seed_everything", "verifiers.names")
    same = InversionOptions(report_root=str(tmp_path), experiment="old")
    StudyFolder("inversion", same, resume_keys=keys).check_resumable()
    asking = InversionOptions(report_root=str(tmp_path), experiment="old", verifiers=VerifierOptions(names=["efficientnet_lite1"]))
    with pytest.raises(ValueError, match=r"verifiers.names: \[\] before, \['efficientnet_lite1'\] now"):
        StudyFolder("inversion", asking, resume_keys=keys).check_resumable()
    reseeded = InversionOptions(report_root=str(tmp_path), experiment="old", seed_everything=1)
    with pytest.raises(ValueError, match="seed_everything: 0 before, 1 now"):
        StudyFolder("inversion", reseeded, resume_keys=keys).check_resumable()
