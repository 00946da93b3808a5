"""SevenNet's interaction blocks as a batched module on equispec's own neighbour lists.

The ``sevenn`` package runs its potentials through an ASE calculator: one structure per call, always
differentiating for forces, on the device chosen at construction. :class:`SevenNetBlocks` wraps the same
``AtomGraphSequential`` (built by sevenn's own ``util.load_checkpoint(name).build_model()``) so that many
structures go through in one call, as a disjoint union of graphs with a batch vector:

- :meth:`SevenNetBlocks.features` runs only the interaction blocks (no readout, no forces) and returns the
  ``0e`` scalars after each block's gate, the features equispec's models read;
- :meth:`SevenNetBlocks.energy_forces` runs the whole potential, forces by autograd, for phonopy.

Feature graphs (:class:`SevenNetGraph`) come from :func:`equispec.nn.neighbors.periodic_neighbors` at the
potential's cutoff; force graphs from sevenn's own builder (:func:`calculator_graph`, see
:func:`supercell_forces` for why). sevenn's edge convention is the reverse of equispec's: its ``edge_index[0]`` is the
centre i and ``edge_index[1]`` the neighbour j, with ``edge_vec = r_j + shift @ cell - r_i``, which is
equispec's ``keys.EDGE_VECTORS`` of the edge j -> i.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError, ModelError

__all__ = ["SEVENN_TESTED", "BlockInputs", "SevenNetBlocks", "SevenNetGraph", "TrainableSevenNetBlocks",
           "calculator_graph", "float32_default", "inversion_permutation", "load_sevennet", "sevennet_graph",
           "sevennet_record", "supercell_forces", "trainable_block_count"]

#: sevenn versions whose checkpoints and module layout this file was tested against (pyproject pins the same)
SEVENN_TESTED = (">=0.13", "<0.14")

# sevenn's data keys (``sevenn._keys``), written out so that building a batch does not import sevenn
_X, _Z, _EDGE_INDEX, _EDGE_VEC = "x", "atomic_numbers", "edge_index", "edge_vec"
_BATCH, _NUM_ATOMS, _CELL_VOLUME = "batch", "num_atoms", "cell_volume"
_ENERGY, _FORCE = "inferred_total_energy", "inferred_force"
_MODAL_TYPE = "modal_type"  # (num_graphs,) int64: a multi-fidelity potential's fidelity index per graph


@contextlib.contextmanager
def float32_default():
    """SevenNet is built and run in float32, whatever the caller's default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.set_default_dtype(previous)


@dataclass
class SevenNetGraph:
    """Periodic neighbour graph of one structure at a potential's cutoff, in numpy (cheap to batch).

    Attributes:
        atomic_numbers: (num_atoms,) int64.
        edge_index: (2, num_edges) int64, equispec's direction: [0] = neighbour j, [1] = centre i.
        edge_vectors: (num_edges, 3) float64 Å, ``r_j + shift @ cell - r_i``.
        volume_ang3: cell volume in Å^3 (sevenn's stress output divides by it).
        inversion: for a centrosymmetric structure, the atom each atom goes to under the inversion
            (``-r_i + t = r_inversion[i]`` modulo the lattice); None otherwise (or not looked for).
    """

    atomic_numbers: np.ndarray
    edge_index: np.ndarray
    edge_vectors: np.ndarray
    volume_ang3: float
    inversion: np.ndarray | None = None

    @property
    def num_atoms(self) -> int:
        return len(self.atomic_numbers)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]


def inversion_permutation(structure, tolerance_ang: float = 1e-6, max_atoms: int = 400) -> np.ndarray | None:
    """The permutation an inversion centre makes of the atoms, if the structure has one.

    Finds a translation t with ``-r_i + t = r_p[i]`` (modulo the lattice, same element, within
    ``tolerance_ang`` Å) for every atom i. Then the mirror image (every position negated) is the structure
    itself, translated and permuted, and its features need no second pass. The tolerance is tight because
    the features change with positions: a structure that is centrosymmetric only to 1e-4 Å goes through the
    network twice.

    Returns:
        (num_atoms,) int64 ``p``, or None (no inversion centre, or more than ``max_atoms`` atoms).
    """
    n = len(structure)
    if n > max_atoms:
        return None
    frac = np.asarray(structure.frac_coords, dtype=np.float64)
    numbers = np.asarray(structure.atomic_numbers)
    lattice = structure.lattice.matrix
    same = numbers[:, None] == numbers[None, :]
    for j in np.flatnonzero(numbers == numbers[0]):
        difference = (frac[0] + frac[j] - frac)[:, None, :] - frac[None, :, :]  # -r_i + t - r_k
        difference -= np.round(difference)
        distance = np.linalg.norm(difference @ lattice, axis=-1)
        match = (distance < tolerance_ang) & same
        if (match.sum(axis=1) == 1).all():
            permutation = match.argmax(axis=1)
            if len(np.unique(permutation)) == n:
                return permutation.astype(np.int64)
    return None


def sevennet_graph(structure, cutoff_ang: float, find_inversion: bool = True) -> SevenNetGraph:
    """The graph SevenNet reads for a pymatgen ``Structure`` or an ASE ``Atoms`` (periodic in 3D).

    Atoms without a neighbour inside the cutoff are allowed (their features come from the self-connection
    only), as in sevenn's own graph builder. ``find_inversion``: look for an inversion centre
    (:func:`inversion_permutation`).
    """
    from .neighbors import periodic_neighbors

    if type(structure).__name__ == "Atoms":
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(structure)
    sources, centres, images = periodic_neighbors(structure, cutoff_ang)
    cart = structure.cart_coords
    vectors = cart[sources] + images @ structure.lattice.matrix - cart[centres]
    return SevenNetGraph(np.asarray(structure.atomic_numbers, dtype=np.int64),
                         np.stack([sources, centres]).astype(np.int64), vectors, float(structure.volume),
                         inversion_permutation(structure) if find_inversion else None)


def _batch(graphs: list[SevenNetGraph], negate: list[bool], device: torch.device) -> dict:
    """sevenn's input dictionary for the disjoint union of ``graphs``; where ``negate`` is true, the graph's
    edge vectors are negated (its mirror image: the structure with every position negated)."""
    sizes = np.array([g.num_atoms for g in graphs])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    numbers = np.concatenate([g.atomic_numbers for g in graphs])
    edges = np.concatenate([g.edge_index + o for g, o in zip(graphs, offsets)], axis=1)
    vectors = np.concatenate([-g.edge_vectors if n else g.edge_vectors for g, n in zip(graphs, negate)])
    batch = np.repeat(np.arange(len(graphs)), sizes)
    volumes = np.array([g.volume_ang3 for g in graphs])
    return {
        _Z: torch.from_numpy(numbers).to(device),
        _EDGE_INDEX: torch.from_numpy(edges[::-1].copy()).to(device),  # sevenn: [0] = centre, [1] = neighbour
        _EDGE_VEC: torch.from_numpy(vectors).to(device=device, dtype=torch.float32),
        _BATCH: torch.from_numpy(batch).to(device),
        _NUM_ATOMS: torch.from_numpy(sizes).to(device),
        _CELL_VOLUME: torch.from_numpy(volumes).to(device=device, dtype=torch.float32),
    }


def _chunks(graphs: list[SevenNetGraph], max_edges: int) -> list[slice]:
    """Consecutive slices of ``graphs`` with at most ``max_edges`` edges each (a bigger graph goes alone)."""
    slices, start, edges = [], 0, 0
    for i, graph in enumerate(graphs):
        if i > start and edges + graph.num_edges > max_edges:
            slices.append(slice(start, i))
            start, edges = i, 0
        edges += graph.num_edges
    if start < len(graphs):
        slices.append(slice(start, len(graphs)))
    return slices


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
        from .. import keys

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


def _sevenn():
    try:
        import sevenn
        import sevenn.util
    except ImportError:
        raise ModelError("sevenn", "needs the sevenn package: pip install sevenn") from None
    return sevenn


@functools.lru_cache(maxsize=None)
def sevennet_record(checkpoint: str = "7net-0") -> dict:
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
    from ..io.files import cached_sha256

    # hashed once, then remembered while the file stays as it was (size, times, inode): issue 24
    return {"checkpoint": checkpoint, "sevenn_version": sevenn.__version__, "weights_sha256": cached_sha256(path)}


@functools.lru_cache(maxsize=None)
def _load(checkpoint: str, device: str, modality: str | None) -> SevenNetBlocks:
    from .lean_build import lean_e3nn_build

    record = sevennet_record(checkpoint)
    with float32_default(), lean_e3nn_build():  # the same model, without recomputing known constants
        model = _sevenn().util.load_checkpoint(checkpoint).build_model()
        return SevenNetBlocks(model, record, modality).to(device)


def load_sevennet(checkpoint: str = "7net-0", device: str | torch.device = "cpu",
                  modality: str | None = None) -> SevenNetBlocks:
    """One :class:`SevenNetBlocks` per (checkpoint, device, modality) and process: the weights are read once."""
    return _load(checkpoint, str(torch.device(device)), modality)


def calculator_graph(atoms, cutoff_ang: float) -> SevenNetGraph:
    """The graph sevenn's ASE calculator builds (``sevenn.train.dataload.unlabeled_atoms_to_graph``: matscipy's
    or ASE's neighbour list, in their edge order)."""
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    data = unlabeled_atoms_to_graph(atoms, cutoff_ang)
    return SevenNetGraph(np.asarray(data[_Z], dtype=np.int64), np.asarray(data[_EDGE_INDEX])[::-1].astype(np.int64),
                         np.asarray(data[_EDGE_VEC], dtype=np.float64), float(atoms.get_volume()))


def supercell_forces(supercells: list, checkpoint: str = "7net-0", device: str | torch.device = "cpu",
                     max_edges: int | None = None, modality: str | None = None) -> np.ndarray:
    """Forces on every atom of several cells (e.g. phonopy's displaced supercells), in batched passes.

    The graphs are sevenn's own (:func:`calculator_graph`), so that the forces equal the ASE calculator's to
    the last bit: force constants are differences of forces over 0.01 Å, and float32 sums taken in another
    edge order (the project's neighbour list) move them by up to 1e-4 eV/Å^2.

    Args:
        supercells: ASE ``Atoms`` (periodic).
        checkpoint: a sevenn potential (``7net-0``, ``7net-l3i5``, ``7net-mf-0``).
        device: where the potential runs.
        modality: the fidelity of a multi-fidelity potential (``R2SCAN`` or ``PBE`` for ``7net-mf-0``).
        max_edges: edges per pass; bounds memory (autograd keeps every block's activations). Default:
            :meth:`SevenNetBlocks.default_max_edges`.

    Returns:
        (num_cells, num_atoms, 3) float64 forces in eV/Å (all cells must have as many atoms).
    """
    blocks = load_sevennet(checkpoint, device, modality)
    graphs = []
    for k, atoms in enumerate(supercells):
        unknown = sorted(set(atoms.get_atomic_numbers().tolist()) - blocks.known_z)
        if unknown:
            from ase.data import chemical_symbols

            raise InputError(f"supercell {k}", f"element {chemical_symbols[unknown[0]]} is not known to {checkpoint}")
        graphs.append(calculator_graph(atoms, blocks.cutoff_ang))
    _, forces = blocks.energy_forces(graphs, max_edges)
    return np.stack(forces)
