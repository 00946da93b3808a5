"""Lightning data module: labelled graphs built once, batched by PyG."""

from __future__ import annotations

import lightning as L
from torch_geometric.loader import DataLoader

__all__ = ["GraphDataModule"]


class GraphDataModule(L.LightningDataModule):
    """Holds pre-built train/valid graph lists (graph construction happens once, not every epoch)."""

    def __init__(self, train_graphs: list, valid_graphs: list, batch_size: int, num_workers: int = 0):
        super().__init__()
        self.train_graphs = train_graphs
        self.valid_graphs = valid_graphs
        self.batch_size = batch_size
        self.num_workers = num_workers

    def train_dataloader(self):
        return DataLoader(self.train_graphs, batch_size=self.batch_size, shuffle=True, drop_last=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        return DataLoader(self.valid_graphs, batch_size=max(self.batch_size, 64), shuffle=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
