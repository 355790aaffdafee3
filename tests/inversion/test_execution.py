"""The engine's fast paths (channels-last, bf16, torch.compile) against the default path.

Tolerances: channels-last and compiled passes reorder float32 sums (relative 1e-4 on the energy,
1e-3 absolute on the images after a few steps); bf16 keeps ~3 significant digits in the network
(relative 5e-2 on the energy).
"""

from __future__ import annotations

import copy
import gc

import pytest
import torch
from torch._dynamo.utils import counters

from deeprestore.inversion import Execution, invert
from deeprestore.inversion.execution import _ISOLATED_RECOMPILES, NetworkPass, NetworkPassCache, network_pass
from deeprestore.nets import load_network, network_from_module
from deeprestore.nets.batchnorm_folding import conv_batchnorm_pairs, fold_batchnorm
from deeprestore.studies.inversion.study import DEFAULT_LAYERS


def _images(n: int = 2, size: int = 48) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(3))


def _run(execution: Execution | None, layer: str = "block1", images: torch.Tensor | None = None, net=None):
    net = net or load_network("efficientnet_lite0", "pretrained")
    images = _images() if images is None else images
    return invert(net, images, [layer], "mv2016", iterations_scale=0.02, progress=False, execution=execution)


@pytest.fixture(scope="module")
def default_result():
    return _run(Execution(channels_last=False, compile=False))


def test_channels_last_equals_default(default_result):
    fast = _run(Execution(channels_last=True, compile=False))
    torch.testing.assert_close(fast.energy, default_result.energy, rtol=1e-4, atol=0)
    torch.testing.assert_close(fast.images, default_result.images, rtol=0, atol=1e-3)


def test_bf16_close_to_default(default_result):
    fast = _run(Execution(channels_last=False, precision="bf16", compile=False))
    assert fast.energy.dtype == torch.float32
    torch.testing.assert_close(fast.energy, default_result.energy, rtol=5e-2, atol=0)


def test_channels_last_auto_follows_the_network():
    conv = load_network("efficientnet_lite0", "random")
    assert Execution().uses_channels_last(conv)
    assert not Execution().uses_channels_last(torch.nn.Linear(3, 3))
    assert not Execution(channels_last=False).uses_channels_last(conv)


def test_compile_auto_stays_eager_on_cpu():
    net = load_network("efficientnet_lite0", "random")
    before = counters["stats"]["unique_graphs"]
    fn = network_pass(net, ["stem"], Execution(compile="auto"))
    assert type(fn) is NetworkPass
    fn(_images())
    assert counters["stats"]["unique_graphs"] == before


def test_compiled_pass_equals_eager_and_compiles_once():
    net = load_network("efficientnet_lite0", "pretrained")
    eager = _run(Execution(compile=False), layer="stem", net=net)
    before = counters["stats"]["unique_graphs"]
    compiled = _run(Execution(compile=True), layer="stem", net=net)
    after_first = counters["stats"]["unique_graphs"]
    assert after_first > before  # it did compile
    torch.testing.assert_close(compiled.energy, eager.energy, rtol=1e-4, atol=0)
    torch.testing.assert_close(compiled.images, eager.images, rtol=0, atol=1e-3)
    _run(Execution(compile=True), layer="stem", net=net, images=_images() * 0.5 + 0.25)  # another batch, same shapes
    assert counters["stats"]["unique_graphs"] == after_first


def test_compile_refuses_the_batchnorm_hooks():
    net = load_network("efficientnet_lite0", "random")
    with pytest.raises(ValueError, match="batch-norm statistics prior"):
        invert(net, _images(1, 32), ["stem"], "mv2016+bn", iterations_scale=0.01, progress=False, execution=Execution(compile=True))


def test_bad_execution_values():
    with pytest.raises(ValueError, match="precision must be 'auto', '32' or 'bf16'"):
        Execution(precision="fp16")
    with pytest.raises(ValueError, match="compile"):
        Execution(compile="sometimes")


def test_folded_batchnorm_equals_default(default_result):
    fast = _run(Execution(fold_batchnorm=True, channels_last=False, compile=False))
    torch.testing.assert_close(fast.energy, default_result.energy, rtol=1e-4, atol=0)
    torch.testing.assert_close(fast.images, default_result.images, rtol=0, atol=1e-3)


def test_folding_removes_every_batchnorm_of_lite0_and_leaves_the_network_alone():
    net = load_network("efficientnet_lite0", "pretrained")
    probe = _images(2, 64)
    folded = fold_batchnorm(net, probe, ["block16"])
    assert folded is not net
    kept = [
        n for n, m in folded.named_modules() if isinstance(m, torch.nn.BatchNorm2d) and net.index(n.split(".")[1]) <= net.index("block16")
    ]
    assert kept == []
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) > 40  # the original is untouched
    torch.testing.assert_close(
        folded.features(probe, "block16")["block16"], net.features(probe, "block16")["block16"], rtol=1e-4, atol=1e-4
    )


def test_a_batchnorm_whose_input_is_not_a_convolution_stays():
    class Net(torch.nn.Module):  # BN after a ReLU: not foldable
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(torch.relu(self.conv(x)))

    from deeprestore.nets import network_from_module

    net = network_from_module(Net().eval(), "bn_after_relu")
    layer = net.layer_names[-1]
    assert conv_batchnorm_pairs(net, _images(2, 16), [layer]) == []
    assert fold_batchnorm(net, _images(2, 16), [layer]) is net


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_passes_at_eight_layers_share_one_folded_copy_of_the_network():
    """The network-pass cache is derived state: a folded copy does not carry the copies made for
    earlier layers (with it copied, eight layers of Lite0 made 255 copies and 5.8 GB)."""
    net = load_network("efficientnet_lite0", "random")
    kind, before = type(net), _alive(type(net))
    passes = [network_pass(net, [layer], Execution()) for layer in DEFAULT_LAYERS["efficientnet_lite0"]]
    assert len({id(p.net) for p in passes}) == 1 and passes[0].folded
    assert _alive(kind) == before + 1
    copied = copy.deepcopy(net)
    assert NetworkPassCache.of(copied).passes == {} and NetworkPassCache.of(copied).folded is None
    rebuild, arguments = NetworkPassCache.of(net).__reduce__()  # what a pickle of the network (ddp_spawn) stores
    assert rebuild(*arguments).passes == {} and NetworkPassCache.of(net).passes


def test_a_network_moved_to_another_dtype_gets_passes_of_its_own():
    net = load_network("efficientnet_lite0", "random")
    first = network_pass(net, ["stem"])
    assert first.net.mean.dtype == torch.float32
    net.double()
    second = network_pass(net, ["stem"])
    assert second is not first and second.net.mean.dtype == torch.float64  # the folded copy follows the network
    assert second(_images(1, 32).double())["stem"].dtype == torch.float32


def test_float32_pass_turns_off_a_callers_bf16_autocast():
    net = load_network("efficientnet_lite0", "random")
    images = _images(1, 32)
    plain = network_pass(net, ["block1"], Execution(precision="32"))(images)["block1"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = network_pass(net, ["block1"], Execution(precision="32"))(images)["block1"]
        auto = network_pass(net, ["block1"], Execution())(images)["block1"]  # "auto" outside a Trainer: float32
    torch.testing.assert_close(inside, plain, rtol=0, atol=0)
    torch.testing.assert_close(auto, plain, rtol=0, atol=0)


def test_auto_precision_follows_the_trainer():
    assert Execution().for_trainer_precision("bf16-mixed").precision == "bf16"
    assert Execution().for_trainer_precision("32-true").precision == "32"
    assert Execution(precision="32").for_trainer_precision("bf16-mixed").precision == "32"


@pytest.mark.skipif(not _ISOLATED_RECOMPILES, reason="torch.compile without isolate_recompiles")
def test_each_compiled_pass_has_its_own_recompile_limit():
    """With dynamo's limit at 1, a second compiled pass of the same network (the same code
    object) still compiles instead of falling back to eager."""
    net = network_from_module(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3)).eval(), "tiny")
    graphs = [counters["stats"]["unique_graphs"]]
    with torch._dynamo.config.patch(recompile_limit=1):
        for layer in net.layer_names[:2]:
            network_pass(net, [layer], Execution(compile=True, channels_last=False))(_images(1, 16))
            graphs.append(counters["stats"]["unique_graphs"])
    first, second = graphs[1] - graphs[0], graphs[2] - graphs[1]
    assert first > 0 and second == first  # shared, the second pass would hit the limit and compile nothing
