"""DeePSiM inverters through the real Trainer: both networks learn, the guard pauses the
discriminator, a run resumed from ``last.ckpt`` is the uninterrupted one bit for bit, the frozen
networks stay out of the checkpoint, and two gloo processes train it under DDP."""

from __future__ import annotations

import os
import subprocess
import sys

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from deeprestore.inverters import DeepSimInverter, InvertingNetwork, load_inverting_network
from tests.study_runs import ROOT, tiny_photo_data

SMALL = dict(layer="block1", comparator_layer="block2", width=0.5, discriminator_width=0.25, grid_images=0, lr=1e-3, discriminator_lr=1e-3)


def deepsim(**kwargs) -> DeepSimInverter:
    torch.manual_seed(0)
    return DeepSimInverter(**(SMALL | kwargs))


def fit(model, data, tmp_path, ckpt_path=None, **kwargs) -> L.Trainer:
    options = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir=str(tmp_path), accelerator="cpu", devices=1, limit_val_batches=0)  # fmt: skip
    trainer = L.Trainer(**(options | kwargs))
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return trainer


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_an_adversarial_step_updates_the_inverter_and_the_discriminator_only(photo_crops, tmp_path):
    model = deepsim()
    chain, discriminator, net = weights(model.chain), weights(model.discriminator), weights(model.net)
    trainer = fit(model, DataLoader(photo_crops[:16], batch_size=8), tmp_path, max_steps=3)
    assert changed(chain, model.chain) and changed(discriminator, model.discriminator)
    assert not changed(net, model.net), "the inverted network (and comparator) stays frozen"
    assert trainer.global_step == 3, "global_step counts the inverter's steps"
    assert all(p.requires_grad for p in model.discriminator.parameters()), "toggled back after the inverter's step"


def test_the_guard_pauses_the_discriminator(photo_crops, tmp_path):
    model = deepsim(discriminator_pause=1e9)  # L_discr is never 1e9 × L_adv
    discriminator = weights(model.discriminator)
    fit(model, DataLoader(photo_crops[:16], batch_size=8), tmp_path, max_steps=2)
    assert not changed(discriminator, model.discriminator)
    assert float(model.trainer.callback_metrics["train/discriminator_trained"]) == 0.0


def test_a_resumed_run_repeats_the_uninterrupted_one_bit_for_bit(photo_crops, tmp_path):
    data = DataLoader(photo_crops[:16], batch_size=8)  # 2 steps per epoch
    straight = deepsim()
    fit(straight, data, tmp_path / "straight", max_epochs=2)

    first = deepsim()
    last = ModelCheckpoint(dirpath=tmp_path / "cut", save_last=True)
    fit(first, data, tmp_path / "cut", max_epochs=1, enable_checkpointing=True, callbacks=[last])
    resumed = deepsim(seed=0)
    trainer = fit(resumed, data, tmp_path / "cut", ckpt_path=str(tmp_path / "cut" / "last.ckpt"), max_epochs=2)

    assert trainer.global_step == 4
    for part in ("chain", "discriminator"):
        for key, value in getattr(straight, part).state_dict().items():
            assert torch.equal(getattr(resumed, part).state_dict()[key], value), (part, key)
    for mine, theirs in zip(trainer.optimizers, straight.trainer.optimizers):
        for state, other in zip(mine.state_dict()["state"].values(), theirs.state_dict()["state"].values()):
            assert all(torch.equal(state[k], other[k]) for k in state)


def test_the_checkpoint_holds_what_was_trained_and_loads_as_deepsim(photo_crops, tmp_path):
    model = deepsim(comparator="efficientnet_lite0", comparator_weights="random")  # a comparator of its own
    assert model.comparator is not None
    trainer = fit(model, DataLoader(photo_crops[:8], batch_size=8), tmp_path, max_steps=1)
    trainer.save_checkpoint(tmp_path / "deepsim.ckpt")
    stored = torch.load(tmp_path / "deepsim.ckpt", weights_only=True)["state_dict"]
    assert not any(k.startswith(("net.", "comparator.")) for k in stored)
    assert any(k.startswith("discriminator.") for k in stored) and any(k.startswith("chain.") for k in stored)

    loaded = load_inverting_network(tmp_path / "deepsim.ckpt")
    assert type(loaded) is DeepSimInverter and loaded.hparams.mode == "deepsim"
    features = model.net.features(photo_crops[:2], "block1")["block1"]
    torch.testing.assert_close(loaded(features, (64, 64)), model.eval()(features, (64, 64)))


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="class_path deeprestore.inverters.DeepSimInverter"):
        InvertingNetwork(mode="deepsim")
    with pytest.raises(ValueError, match="feature_weight must be ≥ 0"):
        DeepSimInverter(layer="block1", feature_weight=-1.0)
    with pytest.raises(ValueError, match="valid layers"):
        DeepSimInverter(layer="block1", comparator_layer="conv5")


@pytest.mark.slow
def test_two_gloo_processes_train_it_under_ddp(tmp_path):
    """The cluster path on a CPU: train.py with 2 gloo ranks, bf16-mixed, find_unused_parameters."""
    cmd = [sys.executable, "train.py", "--config", "configs/inverters/efficientnet_lite0_deepsim.yaml",
           *tiny_photo_data(samples_per_epoch=32), "--model.init_args.layer", "block1", "--model.init_args.comparator_layer", "block2",
           "--model.init_args.grid_images", "0", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
           "--trainer.strategy", "ddp_find_unused_parameters_true", "--trainer.devices", "2", "--trainer.accelerator", "cpu",
           "--trainer.precision", "bf16-mixed", "--checkpoint_root", str(tmp_path), "--experiment", "ddp", "--wandb", "disabled"]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stderr + result.stdout
    assert result.stdout.count("held-out SSIM:") == 1
    # 32 crops shared by 2 ranks × batch 8: 2 inverter steps
    assert torch.load(tmp_path / "ddp" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert load_inverting_network(tmp_path / "ddp" / "last.ckpt").hparams.mode == "deepsim"
