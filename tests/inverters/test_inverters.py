"""Inverting networks: operations, module shapes, every mode trains, stacked assembly, resume."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from deeprestore.inverters import IMAGE, InverterChain, InvertingNetwork, network_operations
from deeprestore.nets import load_network


def trainer(tmp_path, **kwargs) -> L.Trainer:
    defaults = dict(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        accelerator="cpu",
        devices=1,
    )
    return L.Trainer(**(defaults | kwargs))


def test_alexnet_operations_merge_conv_and_relu():
    ops = network_operations(load_network("alexnet", weights="random"), "fc8", 224)
    assert [op.name for op in ops] == "relu1 pool1 relu2 pool2 relu3 relu4 relu5 pool5 relu6 relu7 fc8".split()
    assert ops[0].stages == ("conv1", "relu1") and ops[0].input_layer == IMAGE and ops[0].scale == 4
    assert ops[-1].stages == ("fc8",) and ops[-1].input_layer == "relu7"
    pre_relu = network_operations(load_network("alexnet", weights="random"), "conv2", 224)
    assert [op.stages for op in pre_relu] == [("conv1", "relu1"), ("pool1",), ("conv2",)]


@pytest.mark.parametrize("net_name, layer, size", [("alexnet", "fc8", 96), ("vgg16", "relu6", 64), ("efficientnet_lite0", "fc", 96)])
@pytest.mark.parametrize("module_type", ["upsample", "transposed"])
def test_chain_reconstructs_every_level_at_its_shape(net_name, layer, size, module_type):
    net = load_network(net_name, weights="random")
    ops = network_operations(net, layer, 224)
    chain = InverterChain(ops, module_type, "bilinear", width=0.25)
    x = torch.rand(2, 3, size, size)
    feats = net.features(x, [op.name for op in ops])
    sizes = {k: tuple(v.shape[-2:]) for k, v in feats.items() if v.ndim == 4} | {IMAGE: (size, size)}
    out = chain(feats[layer], sizes)
    assert set(out) == {op.input_layer for op in ops}
    assert out[IMAGE].shape == x.shape
    for name, rec in out.items():
        if name != IMAGE:
            assert rec.shape == feats[name].shape


def fixed_loss(model: InvertingNetwork, batch: torch.Tensor) -> float:
    with torch.no_grad():
        levels, sizes = model.true_levels(batch)
        return float(sum(model.level_losses(levels, sizes).values()))


@pytest.mark.parametrize("mode", ["parallel", "joint", "end_to_end"])
def test_each_mode_fits_and_its_loss_falls(mode, photo_crops, tmp_path):
    torch.manual_seed(0)
    model = InvertingNetwork(net="efficientnet_lite0", layer="block2", mode=mode, lr=1e-3, grid_images=0)
    batch = photo_crops[:8]
    before = fixed_loss(model, batch)
    trainer(tmp_path, max_steps=40, limit_val_batches=0).fit(model, DataLoader(photo_crops, batch_size=8, shuffle=True))
    after = fixed_loss(model, batch)
    assert after < 0.8 * before, (mode, before, after)


def test_stacked_model_is_assembled_from_parallel_checkpoints(photo_crops, tmp_path):
    parallel = InvertingNetwork(layer="block2", mode="parallel", grid_images=0)
    t = trainer(tmp_path, max_steps=3, limit_val_batches=0)
    t.fit(parallel, DataLoader(photo_crops, batch_size=8))
    t.save_checkpoint(tmp_path / "parallel.ckpt")
    assert not any(k.startswith("net.") for k in torch.load(tmp_path / "parallel.ckpt", weights_only=False)["state_dict"])

    stacked = InvertingNetwork(layer="block2", mode="stacked", parallel_checkpoints=[str(tmp_path / "parallel.ckpt")], grid_images=2)
    for key, value in parallel.chain.state_dict().items():
        torch.testing.assert_close(stacked.chain.state_dict()[key], value)
    # stacked = the parallel modules chained: its image is the chain applied to the true target features
    levels, sizes = parallel.true_levels(photo_crops[:4])
    expected = parallel.to_image(parallel.chain(levels["block2"], sizes)[IMAGE]).clamp(0, 1)
    torch.testing.assert_close(stacked(levels["block2"], (64, 64)), expected)
    results = trainer(tmp_path).test(stacked, DataLoader(photo_crops[:8], batch_size=4))
    assert 0 <= results[0]["test/ssim"] <= 1 and (tmp_path / "grids" / "test_epoch000.png").is_file()
    with pytest.raises(RuntimeError, match="not trained"):
        stacked.level_losses(levels, sizes)


def test_stacked_assembly_rejects_wrong_checkpoints(photo_crops, tmp_path):
    joint = InvertingNetwork(layer="block2", mode="joint", grid_images=0)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(joint, DataLoader(photo_crops, batch_size=8))
    t.save_checkpoint(tmp_path / "joint.ckpt")
    with pytest.raises(ValueError, match="assembled from 'parallel'"):
        InvertingNetwork(layer="block2", mode="stacked", parallel_checkpoints=[str(tmp_path / "joint.ckpt")])
    shallow = InvertingNetwork(layer="block1", mode="parallel", grid_images=0)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(shallow, DataLoader(photo_crops, batch_size=8))
    t.save_checkpoint(tmp_path / "shallow.ckpt")
    with pytest.raises(ValueError, match=r"modules for \['block2'\]"):
        InvertingNetwork(layer="block2", mode="stacked", parallel_checkpoints=[str(tmp_path / "shallow.ckpt")])
    with pytest.raises(ValueError, match="give parallel_checkpoints"):
        InvertingNetwork(layer="block2", mode="stacked")


class FirstStep(L.Callback):
    """Records the global step at the first training batch of a fit."""

    def __init__(self) -> None:
        self.first = None

    def on_train_batch_start(self, trainer, *args) -> None:
        if self.first is None:
            self.first = trainer.global_step


def test_resume_from_checkpoint_continues_at_the_right_step(photo_crops, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    data = DataLoader(photo_crops, batch_size=8)  # 4 steps per epoch
    model = InvertingNetwork(layer="block1", mode="joint", grid_images=0)
    t = trainer(
        tmp_path,
        max_epochs=2,
        limit_val_batches=0,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)],
    )
    t.fit(model, data)
    weights = {k: v.clone() for k, v in model.chain.state_dict().items()}

    resumed = InvertingNetwork(layer="block1", mode="joint", grid_images=0)
    probe = FirstStep()
    t2 = trainer(tmp_path, max_epochs=3, limit_val_batches=0, callbacks=[probe])
    t2.fit(resumed, data, ckpt_path=str(tmp_path / "last.ckpt"))
    assert probe.first == 8 and t2.global_step == 12 and t2.current_epoch == 3
    assert any(not torch.equal(weights[k], v) for k, v in resumed.chain.state_dict().items())
    assert t2.optimizers[0].state_dict()["state"], "Adam state restored and used"


def test_unknown_mode_and_layer_are_clear_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        InvertingNetwork(mode="sideways")
    with pytest.raises(ValueError, match="valid layers: stem, block1"):
        InvertingNetwork(layer="conv1")


def test_local_response_normalisation_gets_its_own_inverse_module():
    """torchvision's AlexNet has no LRN; a network that has one (e.g. Caffe's AlexNet) gets a module for it."""
    from collections import OrderedDict

    from torch import nn

    from deeprestore.nets.layered_network import LayeredNetwork

    stages = OrderedDict(
        conv1=nn.Conv2d(3, 8, 5, stride=2, padding=2), relu1=nn.ReLU(), norm1=nn.LocalResponseNorm(5), pool1=nn.MaxPool2d(2)
    )
    net = LayeredNetwork(
        "caffe_like", stages, {"conv1": "conv", "relu1": "relu", "norm1": "lrn", "pool1": "pool"}, (0.5,) * 3, (0.25,) * 3, "random"
    )
    ops = network_operations(net, "pool1", 32)
    assert [(op.name, op.kind) for op in ops] == [("relu1", "conv"), ("norm1", "lrn"), ("pool1", "pool")]
    chain = InverterChain(ops)
    x = torch.rand(2, 3, 32, 32)
    feats = net.features(x, ["relu1", "norm1", "pool1"])
    out = chain(feats["pool1"], {"relu1": (16, 16), "norm1": (16, 16), "pool1": (8, 8), IMAGE: (32, 32)})
    assert out["norm1"].shape == feats["norm1"].shape and out[IMAGE].shape == x.shape
