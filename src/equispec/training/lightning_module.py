"""One LightningModule for every spectrum task: the model is built from the registry, batches are
PyG graphs read through ``keys``, and every stage logs ``{stage}/{metric}``."""

from __future__ import annotations

import math

import lightning as L
import torch

from .. import keys
from ..models.build import build_model

__all__ = ["SpectrumTask"]


class SpectrumTask(L.LightningModule):
    def __init__(self, architecture: str, hyperparameters: dict, optim: dict):
        super().__init__()
        self.save_hyperparameters()  # plain dicts only, so checkpoints load with weights_only=True
        self.model = build_model(architecture, hyperparameters)
        self.optim = optim

    def forward(self, batch) -> dict:
        return self.model(batch)

    def _step(self, batch, stage: str) -> torch.Tensor:
        out = self.model(batch)
        if self.model.task == "xas":  # one spectrum per absorber, compared on the model's O(1) scale
            prediction = out[keys.SITE_OUTPUT]
            target = batch[keys.NODE_TARGET][out[keys.SITE_NODE]]
            error = (prediction - target) / self.hparams["hyperparameters"].get("output_scale", 1.0)
        else:
            prediction = out[keys.GRAPH_OUTPUT]
            target = batch[keys.TARGET]
            error = prediction - target
        mse = error.pow(2).mean()
        mae = error.abs().mean()
        loss = mse if self.optim["loss"] == "mse" else mae
        n = int(target.shape[0])
        self.log(f"{stage}/loss", loss, batch_size=n, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log(f"{stage}/mse", mse, batch_size=n, on_step=False, on_epoch=True, sync_dist=True)
        self.log(f"{stage}/mae", mae, batch_size=n, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "valid")

    def configure_optimizers(self):
        o = self.optim
        # Fine-tuned pretrained blocks get their own, smaller lr and no weight decay (which would pull their
        # weights towards 0, not towards the pretrained ones).
        pretrained = [p for n, p in self.model.named_parameters() if ".pretrained_blocks." in f".{n}" and p.requires_grad]
        chosen = {id(p) for p in pretrained}
        groups = [{"params": [p for p in self.model.parameters() if id(p) not in chosen and p.requires_grad]}]
        if pretrained:
            groups.append({"params": pretrained, "lr": o.get("pretrained_lr", o["lr"]), "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups, lr=o["lr"], weight_decay=o["weight_decay"])
        warmup = max(int(o["warmup_epochs"]), 0)
        epochs = max(int(o["max_epochs"]), 1)
        if o["scheduler"] == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=10)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "monitor": "valid/loss", "interval": "epoch"}}

        def factor(epoch: int) -> float:
            if epoch < warmup:
                return (epoch + 1) / (warmup + 1)
            if o["scheduler"] == "cosine":
                return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / max(epochs - warmup, 1)))
            if o["scheduler"] == "exponential":
                return o["gamma"] ** (epoch - warmup)
            return 1.0

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
