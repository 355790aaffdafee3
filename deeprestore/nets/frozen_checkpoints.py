"""Keep a LightningModule's frozen zoo networks out of its checkpoints."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["FrozenNetCheckpoints"]


class FrozenNetCheckpoints:
    """Mixin for a LightningModule whose frozen networks live in the attributes ``frozen_networks``
    (``("net",)`` by default; an attribute may be ``None``).

    Each network is rebuilt from the module's hyper-parameters (``net``, ``weights`` …) when the
    checkpoint is loaded, so its weights are dropped on save and put back from the rebuilt
    network on load: checkpoints hold only what was trained.
    """

    frozen_networks: ClassVar[tuple[str, ...]] = ("net",)

    def frozen_key(self, key: str) -> bool:
        """Whether a state-dict key belongs to one of the frozen networks."""
        return any(key.startswith(f"{name}.") for name in self.frozen_networks)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not self.frozen_key(k)}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        for name in self.frozen_networks:
            network: Any = getattr(self, name, None)
            if network is not None:
                checkpoint["state_dict"].update({f"{name}.{k}": v for k, v in network.state_dict().items()})
