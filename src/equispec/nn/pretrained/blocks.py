"""SevenNet's interaction blocks as a batched module on equispec's own graphs.

The ``sevenn`` package runs its potentials through an ASE calculator: one structure per call, always
differentiating for forces, on the device chosen at construction. :class:`SevenNetBlocks` wraps the same
``AtomGraphSequential`` (built by sevenn's own ``util.load_checkpoint(name).build_model()``) so that many
structures go through in one call, as a disjoint union of graphs with a batch vector:

- :meth:`SevenNetBlocks.features` runs only the interaction blocks (no readout, no forces) and returns the
  ``0e`` scalars after each block's gate, the features equispec's models read;
- :meth:`SevenNetBlocks.energy_forces` runs the whole potential, forces by autograd, for phonopy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .. import _e3nn  # noqa: F401  (first: e3nn without torch._dynamo, before sevenn imports it)
from ...errors import InputError, ModelError
from .graph import (_EDGE_VEC, _ENERGY, _FORCE, _MODAL_TYPE, _NUM_ATOMS, _X, _Z, SevenNetGraph, _batch, _chunks,
                    float32_default, sevennet_graph)

__all__ = ["SEVENN_TESTED", "BlockInputs", "SevenNetBlocks", "load_sevennet", "sevennet_record"]

#: sevenn versions whose checkpoints and module layout this file was tested against (pyproject pins the same)
SEVENN_TESTED = (">=0.13", "<0.14")


class SevenNetBlocks(torch.nn.Module):
    """A frozen SevenNet potential that reads batches of :class:`SevenNetGraph`.

    Args:
        model: sevenn's ``AtomGraphSequential`` (see :func:`load_sevennet`).
        record: :func:`sevennet_record` of the checkpoint ``model`` was built from.
        modality: for a multi-fidelity potential (SevenNet-MF-0), the fidelity every graph is run at (a key
            of its ``modal_map``, e.g. ``R2SCAN``); such a potential gives forces only, no features.

    Attributes:
        cutoff_ang: the potential's cutoff radius (Å); graphs must be built with it.
        num_blocks: interaction blocks; ``channels``: ``0e`` scalars per block.
        irreps_out: ``Irreps(f"{num_blocks * channels}x0e")`` per atom, what :meth:`features` returns.
        record: sevenn's name of the potential, the sevenn version and the sha256 of the checkpoint file.
    """

    def __init__(self, model: torch.nn.Module, record: dict, modality: str | None = None):
        super().__init__()
        from e3nn import o3

        self.model = model.eval().requires_grad_(False)
        self.model.set_is_batch_data(True)
        self.record = dict(record)
        self.checkpoint = record["checkpoint"]
        self.sevenn_version = record["sevenn_version"]
        self.cutoff_ang = float(model.cutoff)
        self.gates = [name for name in model._modules if name.endswith("_equivariant_gate")]
        if not self.gates:
            raise ModelError(self.checkpoint, "not a SevenNet of gated interaction blocks")
        modal_map = dict(model.modal_map or {})
        if bool(modal_map) != (modality is not None) or (modality is not None and modality not in modal_map):
            raise ModelError(self.checkpoint, f"modality {modality!r} does not fit its fidelities "
                                              f"({', '.join(modal_map) or 'none'})")
        self.modality = modality
        self.modal_index = modal_map.get(modality)
        self.num_blocks = len(self.gates)
        # the gate's output irreps begin with its scalars: "128x0e+64x1e+..." -> 128
        self.channels = int(model._modules[self.gates[0]].gate.irreps_out[0].mul)
        self.irreps_out = o3.Irreps(f"{self.num_blocks * self.channels}x0e")
        self.known_z = set(int(z) for z in model.type_map)
        self.register_buffer("z_to_index", model.z_to_onehot_tensor.clone(), persistent=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__} ({self.checkpoint}, sevenn {self.sevenn_version} -> {self.irreps_out})"

    @property
    def device(self) -> torch.device:
        return self.z_to_index.device

    def graph(self, structure, name: str = "structure") -> SevenNetGraph:
        """:func:`sevennet_graph` at this potential's cutoff, after checking that it knows every element."""
        graph = sevennet_graph(structure, self.cutoff_ang)
        unknown = sorted(set(graph.atomic_numbers.tolist()) - self.known_z)
        if unknown:
            from pymatgen.core import Element

            raise InputError(name, f"element {Element.from_Z(unknown[0]).symbol} is not known to {self.checkpoint}")
        return graph

    def _inputs(self, data: dict) -> dict:
        data[_X] = self.z_to_index[data[_Z]]  # what sevenn's _preprocess does: Z -> one-hot index
        if self.modal_index is not None:  # ... and, for a multi-fidelity potential, modality -> index per graph
            data[_MODAL_TYPE] = torch.full((len(data[_NUM_ATOMS]),), self.modal_index, dtype=torch.long,
                                           device=self.device)
        return data

    def default_max_edges(self, forces: bool) -> int:
        """Edges per pass: on a CPU small batches (the big ones spill the caches and run slower per edge),
        on a GPU big ones. Measured on 2 idle cores: SevenNet-0 features of the 141 valid structures (28 560
        edges) took 1.4-1.6 s in passes of 800-1500 edges against 1.9-2.0 s at 5000 and 2.4 s at 20 000;
        SevenNet-l3i5 forces of two 128-atom supercells (3328 edges each) 1.51 s per cell one at a time
        against 1.81 s together. A supercell larger than the bound goes alone."""
        if self.device.type == "cpu":
            return 2_000 if forces else 1_500
        return 100_000 if forces else 400_000

    def _scalars(self, data: dict, capture_block: int | None = None) -> torch.Tensor:
        """Run the blocks up to the last gate; (num_nodes, irreps_out.dim) gate scalars of every block.
        With ``capture_block`` the node features entering that block are left in ``data["block_input"]``."""
        blocks = []
        last = self.gates[-1]
        for name, module in self.model._modules.items():
            if capture_block is not None and name == f"{capture_block}_self_connection_intro":
                data["block_input"] = data[_X]
            data = module(data)
            if name in self.gates:
                blocks.append(data[_X][:, : self.channels])
            if name == last:
                break
        return torch.cat(blocks, dim=1)

    def features(self, graphs: list[SevenNetGraph], mirror: bool = True, max_edges: int | None = None
                 ) -> list[np.ndarray]:
        """Gate scalars of every block for each graph, forward only, under ``torch.inference_mode``.

        Args:
            graphs: from :meth:`graph`.
            mirror: average each structure with its mirror image (positions negated). SevenNet's scalars are
                rotation invariant but not parity-resolved; the average is O(3) invariant, so that
                enantiomorphs get the same spectrum. The mirror image goes in the same batch; for a
                centrosymmetric structure (``graph.inversion``) it is the structure itself, permuted, and
                takes no pass of its own.
            max_edges: edges per pass (mirror images included); bounds memory, not results. Default:
                :meth:`default_max_edges`.

        Returns:
            per graph, a (num_atoms, irreps_out.dim) float32 array.
        """
        max_edges = max_edges or self.default_max_edges(forces=False)
        # one item per pass over a graph: (graph index, negated?)
        items = [(k, False) for k in range(len(graphs))]
        if mirror:
            items += [(k, True) for k, g in enumerate(graphs) if g.inversion is None]
            items.sort()
        out: list = [None] * len(graphs)
        for part in _chunks([graphs[k] for k, _ in items], max_edges):
            chunk = items[part]
            with float32_default(), torch.inference_mode():
                data = self._inputs(_batch([graphs[k] for k, _ in chunk], [n for _, n in chunk], self.device))
                features = self._scalars(data).cpu().numpy()
            sizes = [graphs[k].num_atoms for k, _ in chunk]
            for (k, negated), value in zip(chunk, np.split(features, np.cumsum(sizes)[:-1])):
                if not mirror:
                    out[k] = value
                elif negated:
                    out[k] = 0.5 * (out[k] + value)  # the original comes first (items are sorted)
                elif graphs[k].inversion is not None:
                    out[k] = 0.5 * (value + value[graphs[k].inversion])
                else:
                    out[k] = value
        return [np.asarray(f, dtype=np.float32) for f in out]

    def irreps_block_input(self, block: int):
        """Irreps of the node features entering interaction block ``block`` (0-based)."""
        if block == 0:
            return self.model._modules["onehot_to_feature_x"].linear.irreps_out
        return self.model._modules[self.gates[block - 1]].gate.irreps_out

    def block_inputs(self, graphs: list[SevenNetGraph], first_block: int, max_edges: int | None = None
                     ) -> list["BlockInputs"]:
        """What fine-tuning blocks ``first_block..num_blocks-1`` needs, computed once by the frozen blocks below.

        Returns, per graph, :meth:`features` (all blocks, mirror-averaged, identical to ``features``) and the
        equivariant node features entering ``first_block`` for the structure and for its mirror image (the
        mirror pass is skipped for a centrosymmetric structure, whose mirror image is itself, permuted).
        """
        if not 0 <= first_block < self.num_blocks:
            raise ModelError(self.checkpoint, f"no interaction block {first_block} (it has {self.num_blocks})")
        max_edges = max_edges or self.default_max_edges(forces=False)
        items = sorted([(k, False) for k in range(len(graphs))]
                       + [(k, True) for k, g in enumerate(graphs) if g.inversion is None])
        scalars: list = [None] * len(graphs)
        inputs: list = [None] * len(graphs)
        mirror_inputs: list = [None] * len(graphs)
        for part in _chunks([graphs[k] for k, _ in items], max_edges):
            chunk = items[part]
            with float32_default(), torch.inference_mode():
                data = self._inputs(_batch([graphs[k] for k, _ in chunk], [n for _, n in chunk], self.device))
                features = self._scalars(data, capture_block=first_block).cpu().numpy()
                entering = data["block_input"].cpu().numpy()
            bounds = np.cumsum([graphs[k].num_atoms for k, _ in chunk])[:-1]
            for (k, negated), value, x in zip(chunk, np.split(features, bounds), np.split(entering, bounds)):
                if negated:
                    scalars[k] = 0.5 * (scalars[k] + value)
                    mirror_inputs[k] = x
                elif graphs[k].inversion is not None:
                    scalars[k] = 0.5 * (value + value[graphs[k].inversion])
                    inputs[k] = x
                else:
                    scalars[k], inputs[k] = value, x
        return [BlockInputs(np.asarray(scalars[k], dtype=np.float32), np.asarray(inputs[k], dtype=np.float32),
                            None if mirror_inputs[k] is None else np.asarray(mirror_inputs[k], dtype=np.float32),
                            graphs[k]) for k in range(len(graphs))]

    def energy_forces(self, graphs: list[SevenNetGraph], max_edges: int | None = None
                      ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Potential energy (eV) per graph and forces (eV/Å) per atom, forces by autograd as in sevenn's
        ``ForceStressOutputFromEdge``, several graphs per pass.

        Returns:
            (num_graphs,) energies and, per graph, a (num_atoms, 3) float64 array.
        """
        energies, forces = [], []
        for part in _chunks(graphs, max_edges or self.default_max_edges(forces=True)):
            chunk = graphs[part]
            with float32_default(), torch.enable_grad():
                data = self._inputs(_batch(chunk, [False] * len(chunk), self.device))
                data[_EDGE_VEC].requires_grad_(True)
                for module in self.model._modules.values():
                    data = module(data)
                energies.append(data[_ENERGY].detach().cpu().numpy().astype(float))
                chunk_forces = data[_FORCE].detach().cpu().numpy().astype(float)
            sizes = [g.num_atoms for g in chunk]
            forces.extend(np.split(chunk_forces, np.cumsum(sizes)[:-1]))
        return np.concatenate(energies), forces


@dataclass
class BlockInputs:
    """One structure's cached inputs for fine-tuning the last blocks of a SevenNet (see
    :meth:`SevenNetBlocks.block_inputs`).

    Attributes:
        scalars: (num_atoms, num_blocks * channels) mirror-averaged gate scalars of the frozen potential.
        node_input: (num_atoms, irreps_block_input.dim) features entering the first trainable block.
        mirror_input: the same for the mirror image; None for a centrosymmetric structure.
        graph: the SevenNet graph (edges at the potential's cutoff, inversion permutation).
    """

    scalars: np.ndarray
    node_input: np.ndarray
    mirror_input: np.ndarray | None
    graph: SevenNetGraph


def _sevenn():
    try:
        import sevenn
        import sevenn.util
    except ImportError:
        raise ModelError("sevenn", "needs the sevenn package: pip install sevenn") from None
    return sevenn


@functools.lru_cache(maxsize=None)
def sevennet_record(checkpoint: str) -> dict:
    """What decides a sevenn potential's outputs, without building it: its name, the sevenn version and the
    sha256 of the checkpoint file its weights come from (shipped in the sevenn wheel for ``7net-0`` and
    ``7net-l3i5``; :func:`~equispec.io.files.cached_sha256`). Goes into ``model.json`` and into every
    feature-cache key."""
    sevenn = _sevenn()
    try:
        path = sevenn.util.pretrained_name_to_path(checkpoint)
    except (ValueError, OSError) as exc:
        raise ModelError(checkpoint, f"not a sevenn checkpoint that ships with sevenn {sevenn.__version__} "
                                     f"({str(exc).splitlines()[0]})") from None
    from ...io.files import cached_sha256

    # hashed once, then remembered while the file stays as it was (size, times, inode): issue 24
    return {"checkpoint": checkpoint, "sevenn_version": sevenn.__version__, "weights_sha256": cached_sha256(path)}


@functools.lru_cache(maxsize=None)
def _load(checkpoint: str, device: str, modality: str | None) -> SevenNetBlocks:
    from ..lean_build import lean_e3nn_build

    record = sevennet_record(checkpoint)
    with float32_default(), lean_e3nn_build():  # the same model, without recomputing known constants
        model = _sevenn().util.load_checkpoint(checkpoint).build_model()
        return SevenNetBlocks(model, record, modality).to(device)


def load_sevennet(checkpoint: str, device: str | torch.device = "cpu",
                  modality: str | None = None) -> SevenNetBlocks:
    """One :class:`SevenNetBlocks` per (checkpoint, device, modality) and process: the weights are read once."""
    return _load(checkpoint, str(torch.device(device)), modality)
