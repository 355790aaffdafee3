"""The sampling study through ``evaluate.py sample`` on tiny (untrained) priors: rows, traces, resume,
the skip of a missing checkpoint, bad configurations in one line, and a PPGN configuration whose chain
moves in an inverting network's code."""

from __future__ import annotations

import json

import pytest
import torch

from deeprestore.nets import load_network
from deeprestore.priors import load_dae_prior
from deeprestore.sampling import class_term, dae_residual_score
from deeprestore.studies.cli import main
from deeprestore.studies.option_groups import CanvasOptions, InverterOptions
from deeprestore.studies.sampling.study import PriorOptions, SamplingConfiguration, SamplingStudy
from deeprestore.studies.study_folder import file_stem
from tests.study_runs import QUIET, csv_rows, out_args

TINY = ["--steps", "4", "--record_every", "2", "--chains", "2", "--canvas.size", "16", "--verifiers.names", "[efficientnet_lite1]", *QUIET]


def test_the_study_samples_every_configuration_and_resumes(checkpoints, tmp_path):
    out = tmp_path / "s"
    mala = {"name": "ica block1 mala", "priors": [{"checkpoint": checkpoints["ica"]}], "metropolis": True}
    dae = {"name": "dae + class", "priors": [{"checkpoint": checkpoints["dae"]}], "class_index": 1, "class_weight": 0.5}
    rows = main(["sample", "--configurations", json.dumps([mala, dae]), *TINY, *out_args(out)])
    header, saved = csv_rows(out / "samples.csv")
    assert header[:8] == ["configuration", "chain", "metropolis", "acceptance", "top1", "probability", "energy", "diversity"]
    assert "efficientnet_lite1_agrees" in header and len(saved) == len(rows) == 4
    by = {(r["configuration"], r["chain"]): r for r in rows}
    assert 0 <= by["ica block1 mala", 0]["acceptance"] <= 1 and by["dae + class", 0]["acceptance"] is None
    _, trace = csv_rows(out / f"trace_{file_stem('ica block1 mala')}.csv")
    assert {(r["step"], r["term"]) for r in trace} == {(s, "ica-block1") for s in ("2", "4")}
    _, trace = csv_rows(out / f"trace_{file_stem('dae + class')}.csv")
    assert {r["term"] for r in trace} == {"class 1"}  # the DAE has no energy to trace
    assert (
        (out / "plots" / "samples.png").is_file()
        and (out / "plots" / "chains.png").is_file()
        and "| dae + class |" in (out / "report.md").read_text()
    )

    missing = {"name": "missing", "priors": [{"checkpoint": str(tmp_path / "none.ckpt")}]}
    again = main(["sample", "--configurations", json.dumps([mala, dae, missing]), *TINY, *out_args(out)])
    assert again == rows  # kept, not sampled again; the missing one skipped
    assert len(list((out / "samples").glob("*.pt"))) == 2  # the figures of a resumed run still show every configuration
    assert "configuration 'missing' skipped" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"name": "x", "priors": [{"checkpoint": "DAE"}], "metropolis": True}, "Metropolis adjustment needs an energy"),
        ({"name": "x"}, "neither priors nor a class"),
        ({"name": "x", "class_index": 1000}, "ImageNet class 0–999"),
    ],
)
def test_bad_configurations_are_one_clear_error(configuration, message, checkpoints, tmp_path):
    if configuration.get("priors"):
        configuration["priors"][0]["checkpoint"] = checkpoints["dae"]
    with pytest.raises(ValueError, match=message):
        main(["sample", "--configurations", json.dumps([configuration]), *TINY, *out_args(tmp_path / "bad")])


def test_a_generator_configuration_moves_in_the_inverters_code(checkpoints, tmp_path):
    """PPGN: the chain moves in the inverter's standardised block2 maps ``z``. A DAE at block2 reads the
    code's maps (its score on ``z`` is ``σ ⊙`` its score on ``h``), the class term reads the decoded
    image in [0, 1], and with vanishing steps the samples are the inverter's reconstructions of the start images."""
    ppgn = {
        "name": "ppgn",
        "priors": [{"checkpoint": checkpoints["dae_block2"], "weight": 2.0}],
        "class_index": 1,
        "class_weight": 0.5,
        "inverter": {"checkpoint": checkpoints["inverter"]},
        "step_sizes": {"first": 1e-12, "last": 1e-12},
    }
    out = tmp_path / "ppgn"
    rows = main(["sample", "--configurations", json.dumps([ppgn]), *TINY, "--canvas.size", "32", *out_args(out)])
    assert [r["configuration"] for r in rows] == ["ppgn", "ppgn"]
    _, trace = csv_rows(out / f"trace_{file_stem('ppgn')}.csv")
    assert {r["term"] for r in trace} == {"class 1"}

    configuration = SamplingConfiguration(
        **{**ppgn, "priors": [PriorOptions(**ppgn["priors"][0])], "step_sizes": None, "inverter": InverterOptions(checkpoints["inverter"])}
    )
    study = SamplingStudy(configurations=[configuration], chains=2, canvas=CanvasOptions(size=32))
    net = load_network("efficientnet_lite0")
    code = study.code(configuration, net)
    dae, cls = study.terms(configuration, net, code)
    start = study.start(torch.Generator().manual_seed(study.seed_everything))
    z = code.encode(start)
    module = load_dae_prior(checkpoints["dae_block2"])
    own = dae_residual_score(module.dae, float(module.noise_scale))(code.maps(z))
    std = code.generator.stages[0].linear.std
    torch.testing.assert_close(dae.score(z), 2.0 * std * own, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        decoded = code.decode(z).clamp(0, 1)
        torch.testing.assert_close(cls.energy(z), class_term(net, 1, 0.5).energy(decoded))
    final = torch.load(out / "samples" / f"{file_stem('ppgn')}.pt", weights_only=True)["final"]
    torch.testing.assert_close(final, decoded, atol=1e-3, rtol=0)


def test_a_configuration_with_annealed_daes_anneals_through_its_daes_largest_first(tmp_path):
    """The DAEs are ordered by their σ, whatever order they are given in; each runs ``steps / levels``
    steps; a checkpoint that is not a DAE is refused in one line."""
    from tests.tiny_checkpoints import dae_prior, patch_prior

    small, large = (dae_prior(tmp_path / f"dae{s}" / "last.ckpt", residual=True, sigma=s) for s in (0.05, 0.2))
    annealed = {"name": "annealed", "annealed_daes": [small, large], "step_sizes": {"first": 1e-4, "last": 1e-4}}
    configuration = SamplingConfiguration(**annealed)
    study = SamplingStudy(configurations=[configuration], steps=4)
    levels = study.noise_levels(configuration)
    assert [path for _, path in levels] == [large, small] and [round(sigma, 6) for sigma, _ in levels] == [0.2, 0.05]
    out = tmp_path / "a"
    rows = main(["sample", "--configurations", json.dumps([annealed]), *TINY, *out_args(out)])
    assert len(rows) == 2 and all(r["energy"] is None for r in rows)
    with pytest.raises(ValueError, match="is not a DAEPriorModule checkpoint"):
        study.noise_levels(SamplingConfiguration("x", annealed_daes=[patch_prior(tmp_path / "foe.ckpt", grey=True)]))
    with pytest.raises(ValueError, match="--steps 1 is fewer than its 2 noise levels"):
        main(["sample", "--configurations", json.dumps([annealed]), *TINY, "--steps", "1", *out_args(tmp_path / "b")])
