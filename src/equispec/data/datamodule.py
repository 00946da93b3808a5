"""Lightning data module: labelled graphs built once (in memory or a ``GraphStore``), batched by PyG."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DistributedSampler
from torch_geometric.loader import DataLoader

__all__ = ["GraphDataModule"]


class GraphDataModule(L.LightningDataModule):
    """Train/valid graphs (a list or a ``GraphStore``) -> loaders.

    Training always draws through a ``DistributedSampler`` (one replica without DDP), seeded by the
    run's seed and reshuffled each epoch (Lightning calls ``set_epoch``). Rank r of W then reads the
    slice ``perm[r::W]`` of the same permutation that one process reads whole, so W processes with
    batch B see, step by step, the very batches of one process with batch W*B: DDP and single-process
    training at the same effective batch size take the same steps. Validation is not split: every
    rank scores the full set, so the monitored valid loss is the same number everywhere.
    """

    def __init__(self, train_graphs, valid_graphs, batch_size: int, num_workers: int = 0, seed: int = 0):
        super().__init__()
        self.train_graphs = train_graphs
        self.valid_graphs = valid_graphs
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_dataloader(self):
        world_size, rank = self._world()
        sampler = DistributedSampler(self.train_graphs, num_replicas=world_size, rank=rank, shuffle=True,
                                     seed=self.seed, drop_last=False)
        return DataLoader(self.train_graphs, batch_size=self.batch_size, sampler=sampler, drop_last=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        return DataLoader(self.valid_graphs, batch_size=max(self.batch_size, 64), shuffle=False,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
