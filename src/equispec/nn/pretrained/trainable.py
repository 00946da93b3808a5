"""Fine-tuning the last interaction blocks of a SevenNet on cached inputs of the frozen ones."""

from __future__ import annotations

import torch

from ... import keys
from ...errors import ModelError
from .blocks import SevenNetBlocks
from .graph import _BATCH, _EDGE_INDEX, _EDGE_VEC, _X, _Z

__all__ = ["TrainableSevenNetBlocks", "trainable_block_count"]


def trainable_block_count(value, num_blocks: int) -> int:
    """``model.pretrained_trainable`` -> how many of the last interaction blocks are trained.

    Accepts ``"none"`` (or None), ``"all"`` and ``{"last_k": K}`` with ``1 <= K <= num_blocks``.
    """
    if value is None or value == "none":
        return 0
    if value == "all":
        return num_blocks
    if isinstance(value, dict) and set(value) == {"last_k"} and isinstance(value["last_k"], int) \
            and not isinstance(value["last_k"], bool) and 1 <= value["last_k"] <= num_blocks:
        return value["last_k"]
    raise ModelError("model.pretrained_trainable", f"expected none, all or {{last_k: K}} with 1 <= K <= "
                                                  f"{num_blocks}, got {value!r}")


class TrainableSevenNetBlocks(torch.nn.Module):
    """The last ``num_trainable`` interaction blocks of a SevenNet as trainable copies, run on cached inputs.

    The blocks below stay frozen and are run once per structure (:meth:`SevenNetBlocks.block_inputs`);
    this module reads their cached output, the equivariant features entering its first block, for the
    structure and its mirror image, and returns its blocks' gate scalars averaged over the two (as
    :meth:`SevenNetBlocks.features` does), so that the result stays O(3) invariant whatever the weights.

    Reads ``keys.SEVENNET_NODE_INPUT, SEVENNET_MIRROR_INPUT, SEVENNET_EDGE_INDEX, SEVENNET_EDGE_VECTORS,
    SEVENNET_INVERSION_INDEX, SEVENNET_CENTROSYMMETRIC, ATOMIC_NUMBERS`` (and ``BATCH``).

    Args:
        blocks: the frozen potential whose weights start the copies (weights are then loaded from the
            model's own safetensors: only the architecture comes from sevenn).
        num_trainable: how many of the last blocks to train, 1..``blocks.num_blocks``.
    """

    def __init__(self, blocks: SevenNetBlocks, num_trainable: int):
        super().__init__()
        import copy

        from e3nn import o3

        if not 1 <= num_trainable <= blocks.num_blocks:
            raise ModelError(blocks.checkpoint, f"cannot train {num_trainable} of {blocks.num_blocks} blocks")
        self.first_block = blocks.num_blocks - num_trainable
        self.channels = blocks.channels
        modules = blocks.model._modules
        self.edge_embedding = copy.deepcopy(modules["edge_embedding"]).requires_grad_(False)
        self.onehot = copy.deepcopy(modules["onehot_idx_to_onehot"])
        names = [n for n in modules if n.split("_")[0].isdigit() and int(n.split("_")[0]) >= self.first_block]
        self.layers = torch.nn.ModuleDict({n: copy.deepcopy(modules[n]) for n in names}).train()
        self.layers.requires_grad_(True)
        self.gates = [n for n in names if n.endswith("_equivariant_gate")]
        self.irreps_in = o3.Irreps(blocks.irreps_block_input(self.first_block))
        self.irreps_out = o3.Irreps(f"{num_trainable * self.channels}x0e")
        self.register_buffer("z_to_index", blocks.z_to_index.clone(), persistent=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__} (blocks {self.first_block}.. : {self.irreps_in} -> {self.irreps_out})"

    def forward(self, data) -> torch.Tensor:
        """Returns (num_nodes, irreps_out.dim) gate scalars of the trainable blocks, mirror-averaged."""
        numbers = data[keys.ATOMIC_NUMBERS]
        n = len(numbers)
        dtype = self.edge_embedding.basis_function.coeffs.dtype
        batch = data[keys.BATCH] if keys.BATCH in data and data[keys.BATCH] is not None \
            else torch.zeros(n, dtype=torch.long, device=numbers.device)
        mirrored = ~data[keys.SEVENNET_CENTROSYMMETRIC].bool().reshape(-1)[batch]  # nodes with a mirror pass
        mirror_nodes = torch.nonzero(mirrored).flatten()
        new_index = torch.full((n,), -1, dtype=torch.long, device=numbers.device)
        new_index[mirror_nodes] = n + torch.arange(len(mirror_nodes), device=numbers.device)
        edges = data[keys.SEVENNET_EDGE_INDEX]  # [0] = neighbour, [1] = centre
        vectors = data[keys.SEVENNET_EDGE_VECTORS].to(dtype)
        keep = mirrored[edges[1]]
        all_edges = torch.cat([edges, new_index[edges[:, keep]]], dim=1)
        all_numbers = torch.cat([numbers, numbers[mirror_nodes]])
        sevenn_data = {
            _Z: all_numbers,
            _X: self.z_to_index[all_numbers],
            _EDGE_INDEX: all_edges.flip(0),  # sevenn: [0] = centre, [1] = neighbour
            _EDGE_VEC: torch.cat([vectors, -vectors[keep]]),
            _BATCH: torch.cat([batch, batch[mirror_nodes]]),
        }
        sevenn_data = self.onehot(self.edge_embedding(sevenn_data))
        sevenn_data[_X] = torch.cat([data[keys.SEVENNET_NODE_INPUT],
                                     data[keys.SEVENNET_MIRROR_INPUT][mirror_nodes]]).to(dtype)
        scalars = []
        for name, module in self.layers.items():
            sevenn_data = module(sevenn_data)
            if name in self.gates:
                scalars.append(sevenn_data[_X][:, : self.channels])
            if name == self.gates[-1]:
                break
        scalars = torch.cat(scalars, dim=1)
        own = scalars[:n]
        partner = own[data[keys.SEVENNET_INVERSION_INDEX]].index_put((mirror_nodes,), scalars[n:])
        return 0.5 * (own + partner)
