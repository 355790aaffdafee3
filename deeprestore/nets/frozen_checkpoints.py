"""Keep a LightningModule's frozen zoo network out of its checkpoints."""

from __future__ import annotations

from typing import Any

__all__ = ["FrozenNetCheckpoints"]


class FrozenNetCheckpoints:
    """Mixin for a LightningModule whose frozen network lives in ``self.net`` (or is ``None``).

    The network is rebuilt from the module's hyper-parameters (``net``, ``weights``) when the
    checkpoint is loaded, so its weights are dropped on save and put back from the rebuilt
    network on load: checkpoints hold only what was trained.
    """

    net: Any

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("net.")}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self.net is not None:
            checkpoint["state_dict"].update({f"net.{k}": v for k, v in self.net.state_dict().items()})
