"""Graphs built once, kept on disk, read back by many processes at once.

A store is a folder of plain ``.npy`` arrays: for every graph field, the fields of all graphs
concatenated along their first axis (``EDGE_INDEX`` along its second) plus an offsets array, and an
``index.json`` with the ids, the field list and a key describing how the graphs were made. Arrays are
opened memory-mapped (``np.load(mmap_mode="r", allow_pickle=False)``), so DataLoader workers and DDP
ranks share the operating system's page cache instead of copying or rebuilding neighbour lists.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data

from .. import keys

__all__ = ["GraphStore", "cache_key", "cached_graphs"]

FORMAT_VERSION = 1


#: (2, num_edges) fields, stored edge-major so that graphs concatenate along their edges
_INDEX_FIELDS = (keys.EDGE_INDEX, keys.SEVENNET_EDGE_INDEX)


def cache_key(**recipe) -> str:
    """A short hash of everything that decides a graph's contents (data file hashes, cutoff, ...)."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16]


class GraphStore(Dataset):
    """Memory-mapped graphs: ``store[i]`` is a ``Data`` equal to the one written."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.index = json.loads((self.folder / "index.json").read_text())
        self.ids: list[str] = self.index["ids"]
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def _open(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        # opened lazily, so that each worker process maps the files itself after fork/spawn
        if self._arrays is None:
            self._arrays = {
                name: (np.load(self.folder / f"{name}.npy", mmap_mode="r", allow_pickle=False),
                       np.load(self.folder / f"{name}.offsets.npy", allow_pickle=False))
                for name in self.index["fields"]}
        return self._arrays

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Data:
        graph = Data()
        for name, (values, offsets) in self._open().items():
            start, stop = int(offsets[i]), int(offsets[i + 1])
            chunk = torch.from_numpy(np.array(values[start:stop]))
            graph[name] = chunk.T.contiguous() if name in _INDEX_FIELDS else chunk
        graph.num_nodes = int(self.index["num_nodes"][i])
        graph[keys.STRUCTURE_ID] = self.ids[i]
        return graph

    def __getstate__(self):  # DataLoader workers re-open the maps instead of pickling them
        return {**self.__dict__, "_arrays": None}

    @property
    def key(self) -> str:
        return self.index["key"]

    @classmethod
    def write(cls, graphs: list, ids: list[str], folder: str | os.PathLike, key: str) -> "GraphStore":
        """Write ``graphs`` to ``folder`` atomically (a half-written store is never visible)."""
        folder = Path(folder)
        fields = sorted(k for k in graphs[0].keys() if isinstance(graphs[0][k], torch.Tensor))
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for name in fields:
                parts = [g[name].T if name in _INDEX_FIELDS else g[name] for g in graphs]
                lengths = [len(p) for p in parts]
                np.save(staging / f"{name}.npy", torch.cat(parts).numpy(), allow_pickle=False)
                np.save(staging / f"{name}.offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
            index = {"format_version": FORMAT_VERSION, "key": key, "ids": list(ids), "fields": fields,
                     "num_nodes": [int(g.num_nodes) for g in graphs]}
            (staging / "index.json").write_text(json.dumps(index))
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(folder)


def cached_graphs(folder: str | os.PathLike | None, key: str, build) -> list | GraphStore:
    """Graphs from the store at ``folder`` if it was made with ``key``; else ``build()`` them and store.

    Without a folder the graphs are built in memory every time. ``build`` returns ``(graphs, ids)``.
    """
    if folder is None:
        return build()[0]
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # one builder at a time: DDP ranks started together wait for the first and then read its store
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "index.json").is_file():
            store = GraphStore(folder)
            if store.key == key and store.index.get("format_version") == FORMAT_VERSION:
                return store
        graphs, ids = build()
        return GraphStore.write(graphs, ids, folder, key)
