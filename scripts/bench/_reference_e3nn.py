"""The published phonon-DOS model, rebuilt as a baseline for ``scripts/bench/bench.py``; not part of equispec.

Z. Chen, N. Andrejevic et al., "Direct prediction of phonon density of states with Euclidean neural
networks", Adv. Sci. 8, 2004214 (2021), as set up in their MIT-licensed tutorial
(github.com/ninarina12/phononDoS_tutorial). The layers are e3nn's own ``gate_points_2101.Network``
(e3nn 0.6.0); only its ``forward`` is replaced, because the parent builds a non-periodic ``cdist`` radius
graph. The tutorial's choices reproduced here:

- node input ``x``: one-hot of the element (118 entries) scaled by its atomic mass (ASE masses); node
  attribute ``z``: the plain one-hot. Both pass through the SAME ``Linear(118, 64)`` and a ReLU.
- graph: ASE ``neighbor_list("ijS", cutoff=4 Å, self_interaction=True)``, so each atom is also its own
  neighbour at distance 0; ``edge_index = [i, j]`` (messages flow from ``i`` to ``j``) and the edge vector
  ``r_j - r_i + S @ cell`` is stored with the graph, not recomputed.
- hidden irreps ``32x0o + 32x0e + 32x1o + 32x1e`` (mul 32, lmax 1), edge attributes the spherical harmonics
  up to l = 1 times e3nn's smooth cutoff, 10 Gaussian radial basis functions, one radial hidden layer of
  100, 2 gated layers plus the output convolution to ``51x0e``, ``num_neighbors`` the mean neighbour count
  of a training atom (self included).
- output: ReLU per atom, mean over atoms, divided by the structure's maximum.
- training: float64, batch size 1 (shuffled), MSE loss, AdamW lr 0.005 weight decay 0.05, ExponentialLR
  gamma 0.96 stepped once per epoch; the tutorial runs 100 epochs.

Differences, on purpose: the division by the maximum is guarded against an all-zero output (the tutorial
would give NaN there); valid loss is computed after every epoch (the tutorial evaluates valid AND train
loss on a log-spaced epoch schedule), and train loss is the running mean over the epoch's batches.

Run as a script it trains this model with a wall-time budget and writes one JSON line per epoch; see
``main``. ``bench.py`` starts it in its own process, one thread, beside equispec's training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch, Data

NUM_SPECIES = 118  # one-hot over Z = 1..118, as the tutorial
TUTORIAL = {"embed_dim": 64, "layers": 2, "mul": 32, "lmax": 1, "max_radius": 4.0, "number_of_basis": 10,
            "radial_layers": 1, "radial_neurons": 100, "lr": 0.005, "weight_decay": 0.05, "gamma": 0.96,
            "batch_size": 1, "max_epochs": 100}


def _species_tables(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    from ase.data import atomic_masses

    onehot = torch.eye(NUM_SPECIES, dtype=dtype)
    masses = torch.as_tensor(atomic_masses[1:NUM_SPECIES + 1], dtype=dtype)
    return onehot, onehot * masses[:, None]


def reference_graph(atoms, max_radius: float = TUTORIAL["max_radius"], target: np.ndarray | None = None,
                    dtype: torch.dtype = torch.float64) -> Data:
    """The tutorial's periodic graph of an ASE ``Atoms``: see the module docstring for its fields."""
    from ase.neighborlist import neighbor_list

    onehot, mass_onehot = _species_tables(dtype)
    centre, neighbour, shift = neighbor_list("ijS", a=atoms, cutoff=max_radius, self_interaction=True)
    positions = torch.as_tensor(atoms.positions, dtype=dtype)
    cell = torch.as_tensor(np.asarray(atoms.cell), dtype=dtype)
    centre, neighbour = torch.as_tensor(centre, dtype=torch.long), torch.as_tensor(neighbour, dtype=torch.long)
    edge_vec = positions[neighbour] - positions[centre] + torch.as_tensor(shift, dtype=dtype) @ cell
    species = torch.as_tensor(atoms.numbers, dtype=torch.long) - 1
    graph = Data(pos=positions, x=mass_onehot[species], z=onehot[species],
                 edge_index=torch.stack([centre, neighbour]), edge_vec=edge_vec)
    if target is not None:
        graph.phdos = torch.as_tensor(target, dtype=dtype).reshape(1, -1)
    return graph


def mean_neighbors(graphs: list[Data]) -> float:
    """Mean number of edges per atom (self-edge included): the tutorial's ``num_neighbors``."""
    return float(sum(g.edge_index.shape[1] for g in graphs) / sum(g.num_nodes for g in graphs))


def build_reference_network(num_neighbors: float, n_out: int = 51, **settings):
    """An e3nn ``gate_points_2101.Network`` subclass with the tutorial's settings (override any by keyword).

    Build it with ``torch.float64`` as the default dtype, as the tutorial does.
    """
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace
    from e3nn.nn.models.gate_points_2101 import Network, smooth_cutoff

    s = {**TUTORIAL, **settings}

    class TutorialPhononDosNetwork(Network):
        def __init__(self):
            hidden = o3.Irreps([(s["mul"], (l, p)) for l in range(s["lmax"] + 1) for p in (-1, 1)])
            super().__init__(irreps_in=f"{s['embed_dim']}x0e", irreps_hidden=hidden, irreps_out=f"{n_out}x0e",
                             irreps_node_attr=f"{s['embed_dim']}x0e",
                             irreps_edge_attr=o3.Irreps.spherical_harmonics(s["lmax"]), layers=s["layers"],
                             max_radius=s["max_radius"], number_of_basis=s["number_of_basis"],
                             radial_layers=s["radial_layers"], radial_neurons=s["radial_neurons"],
                             num_neighbors=num_neighbors, num_nodes=1.0, reduce_output=False)
            self.embedding = torch.nn.Linear(NUM_SPECIES, s["embed_dim"])

        def forward(self, data) -> torch.Tensor:
            """(num_graphs, n_out) max-normalised DOS of a PyG batch built by ``reference_graph``."""
            src, dst = data.edge_index
            length = data.edge_vec.norm(dim=1)
            sh = o3.spherical_harmonics(self.irreps_edge_attr, data.edge_vec, True, normalization="component")
            edge_attr = smooth_cutoff(length / self.max_radius)[:, None] * sh
            radial = soft_one_hot_linspace(length, 0.0, self.max_radius, self.number_of_basis, basis="gaussian",
                                           cutoff=False).mul(self.number_of_basis ** 0.5)
            x = torch.relu(self.embedding(data.x))
            z = torch.relu(self.embedding(data.z))
            for layer in self.layers:
                x = layer(x, z, src, dst, edge_attr, radial)
            per_atom = torch.relu(x)
            batch = data.batch if getattr(data, "batch", None) is not None else \
                per_atom.new_zeros(len(per_atom), dtype=torch.long)
            n_graphs = int(batch.max()) + 1
            summed = per_atom.new_zeros(n_graphs, per_atom.shape[1]).index_add_(0, batch, per_atom)
            mean = summed / torch.bincount(batch, minlength=n_graphs).to(per_atom.dtype)[:, None]
            return mean / mean.max(dim=1, keepdim=True).values.clamp_min(1e-12)

    return TutorialPhononDosNetwork()


@torch.no_grad()
def predict(model, graphs: list[Data], batch_size: int) -> np.ndarray:
    """(n, n_out) predictions over pre-built graphs, in order."""
    model.eval()
    out = [model(Batch.from_data_list(graphs[i:i + batch_size])) for i in range(0, len(graphs), batch_size)]
    return torch.cat(out).numpy()


def split_atoms(table, ids_path: str, limit: int | None):
    """(ASE atoms, (n, bins) DOS) of the first ``limit`` ids of a split of a table read by equispec's
    ``read_phdos_csv``, so that both models see the same materials and labels."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from equispec.workflows import read_ids

    part = table.subset(read_ids(ids_path)[:limit], ids_path)
    return [AseAtomsAdaptor.get_atoms(s) for s in part.structures], part.dos


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Train the tutorial's e3nn phonon-DOS model with a wall-time budget.")
    p.add_argument("--data-csv", required=True)
    p.add_argument("--train-ids", required=True)
    p.add_argument("--valid-ids", required=True)
    p.add_argument("--limit-train", type=int)
    p.add_argument("--limit-valid", type=int)
    p.add_argument("--minutes", type=float, default=30.0,
                   help="wall-time budget from the start of data preparation; no epoch starts that would end "
                        "after it (judged by the previous epoch's length)")
    p.add_argument("--max-epochs", type=int, default=TUTORIAL["max_epochs"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True, help="writes epochs.jsonl, best.pt and summary.json here")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(args.seed)
    from equispec.workflows import read_phdos_csv, spectrum_metrics

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    budget_s = 60.0 * args.minutes

    table = read_phdos_csv(args.data_csv)
    freq = table.freq_cm1
    train_atoms, train_dos = split_atoms(table, args.train_ids, args.limit_train)
    valid_atoms, valid_dos = split_atoms(table, args.valid_ids, args.limit_valid)
    read_s = time.perf_counter() - started
    t0 = time.perf_counter()
    train_graphs = [reference_graph(a, target=d) for a, d in zip(train_atoms, train_dos)]
    valid_graphs = [reference_graph(a) for a in valid_atoms]
    graphs_s = time.perf_counter() - t0
    num_neighbors = mean_neighbors(train_graphs)

    model = build_reference_network(num_neighbors, n_out=train_dos.shape[1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=TUTORIAL["lr"], weight_decay=TUTORIAL["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=TUTORIAL["gamma"])
    generator = torch.Generator().manual_seed(args.seed)
    summary = {"model": "e3nn gate_points_2101.Network, phonon-DOS tutorial settings", "settings": TUTORIAL,
               "num_neighbors": num_neighbors, "n_out": int(train_dos.shape[1]),
               "n_parameters": sum(p.numel() for p in model.parameters()), "threads": args.threads,
               "n_train": len(train_graphs), "n_valid": len(valid_graphs), "read_s": read_s, "graphs_s": graphs_s,
               "budget_s": budget_s, "max_epochs": args.max_epochs}
    print(f"reference: {len(train_graphs)} train / {len(valid_graphs)} valid graphs in {graphs_s:.1f} s, "
          f"{summary['n_parameters']} parameters, num_neighbors {num_neighbors:.2f}", flush=True)

    best_mse, stop, last_epoch_s = float("inf"), "max_epochs", 0.0
    epochs_file = (out / "epochs.jsonl").open("w")
    for epoch in range(1, args.max_epochs + 1):
        if time.perf_counter() - started + last_epoch_s > budget_s:
            stop = "budget"
            break
        epoch_start = time.perf_counter()
        model.train()
        losses = []
        order = torch.randperm(len(train_graphs), generator=generator)
        for i in order.tolist():  # batch size 1, shuffled every epoch
            batch = Batch.from_data_list([train_graphs[i]])
            loss = torch.nn.functional.mse_loss(model(batch), batch.phdos)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_s = time.perf_counter() - epoch_start
        lr = optimizer.param_groups[0]["lr"]
        predictions = predict(model, valid_graphs, TUTORIAL["batch_size"])
        valid_s = time.perf_counter() - epoch_start - train_s
        scheduler.step()
        metrics = spectrum_metrics(freq, valid_dos, predictions)
        last_epoch_s = time.perf_counter() - epoch_start
        record = {"epoch": epoch, "elapsed_s": time.perf_counter() - started, "train_s": train_s, "valid_s": valid_s,
                  "epoch_s": last_epoch_s, "train_loss": float(np.mean(losses)), "lr": lr, "valid": metrics}
        if metrics["mse"] < best_mse:
            best_mse = metrics["mse"]
            torch.save(model.state_dict(), out / "best.pt")
        epochs_file.write(json.dumps(record) + "\n")
        epochs_file.flush()
    epochs_file.close()
    summary.update(stop=stop, total_s=time.perf_counter() - started)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
