"""The one registry of graph fields that flow through equispec models.

Every field of a PyG ``Data``/``Batch`` and of the dictionaries passed between modules is named by a
constant here; code reads ``data[keys.EDGE_VECTORS]``, never a bare string. Lengths are in Å.

Edge direction: ``EDGE_INDEX[0]`` is the *source* (the neighbour j that sends a message) and
``EDGE_INDEX[1]`` the *destination* (the centre i that receives it), as in e3nn and MACE.
"""

# --- node fields -------------------------------------------------------------------------------
POSITIONS = "pos"  # (num_nodes, 3) | float | Å | Cartesian positions
ATOMIC_NUMBERS = "atomic_numbers"  # (num_nodes,) | long | Z
BATCH = "batch"  # (num_nodes,) | long | graph index of each node (added by PyG batching)
NODE_PRETRAINED = "node_pretrained"  # (num_nodes, d) | float | frozen invariant features of a pretrained potential
NODE_FEATURES = "node_features"  # (num_nodes, irreps.dim) | float | hidden equivariant features
NODE_OUTPUT = "node_output"  # (num_nodes, n_out) | float | per-atom head output (e.g. partial DOS)
ABSORBER_MASK = "absorber_mask"  # (num_nodes,) | bool | sites whose X-ray absorption spectrum is read out
SITE_WEIGHT = "site_weight"  # (num_nodes,) | float | weight of each absorber in the site average (multiplicity)
NODE_TARGET = "node_y"  # (num_nodes, n_out) | float | per-site training target (NaN where unlabelled)
# fine-tuning the last SevenNet blocks (nn.pretrained.trainable.TrainableSevenNetBlocks): inputs cached from the frozen blocks
SEVENNET_NODE_INPUT = "sevennet_node_input"  # (num_nodes, irreps_in.dim) | float32 | features entering the first trainable block
SEVENNET_MIRROR_INPUT = "sevennet_mirror_input"  # (num_nodes, irreps_in.dim) | float32 | the same for the mirror image (0 if centrosymmetric)
SEVENNET_INVERSION_INDEX = "sevennet_inversion_index"  # (num_nodes,) | long | atom each atom goes to under inversion (itself if none)

# --- absorbing-site fields (one row per absorber, in node order) ---------------------------------
SITE_NODE = "site_node"  # (num_sites,) | long | node index of each absorber in the batch
SITE_OUTPUT = "site_output"  # (num_sites, n_out) | float | predicted spectrum of each absorber
SITE_OUTPUT_STD = "site_output_std"  # (num_sites, n_out) | float | spread of ensemble members' site spectra

# --- edge fields -------------------------------------------------------------------------------
EDGE_INDEX = "edge_index"  # (2, num_edges) | long | [0] = source j (neighbour), [1] = destination i (centre)
EDGE_CELL_SHIFT = "edge_cell_shift"  # (num_edges, 3) | float | lattice image of the source, in cell vectors
EDGE_VECTORS = "edge_vectors"  # (num_edges, 3) | float | Å | r_src + shift @ cell - r_dst
EDGE_LENGTHS = "edge_lengths"  # (num_edges,) | float | Å | |EDGE_VECTORS|
EDGE_SH = "edge_sh"  # (num_edges, irreps_sh.dim) | float | spherical harmonics of EDGE_VECTORS
EDGE_RADIAL = "edge_radial"  # (num_edges, num_basis) | float | radial basis of EDGE_LENGTHS, 0 at cutoff
# SevenNet's own edges, at the potential's cutoff (another edge set than EDGE_INDEX's)
SEVENNET_EDGE_INDEX = "sevennet_edge_index"  # (2, num_sevennet_edges) | long | [0] = neighbour j, [1] = centre i
SEVENNET_EDGE_VECTORS = "sevennet_edge_vectors"  # (num_sevennet_edges, 3) | float32 | Å | r_j + shift @ cell - r_i

# --- graph fields ------------------------------------------------------------------------------
CELL = "cell"  # (num_graphs, 3, 3) | float | Å | lattice vectors as rows
NUM_NODES = "num_nodes"  # int | atoms in the graph (PyG's own bookkeeping)
TARGET = "y"  # (num_graphs, n_out) | float | training target (max-normalised DOS, ...)
GRAPH_OUTPUT = "graph_output"  # (num_graphs, n_out) | float | model prediction per graph
GRAPH_OUTPUT_STD = "graph_output_std"  # (num_graphs, n_out) | float | spread of ensemble members' predictions
ABSORPTION_EDGE = "absorption_edge"  # (num_graphs,) | long | index into data.xas.XAS_EDGES (K, L1, ...)
SEVENNET_CENTROSYMMETRIC = "sevennet_centrosymmetric"  # (num_graphs,) | bool | mirror image = structure permuted
STRUCTURE_ID = "structure_id"  # list[str] | identifier of each graph (mp-id or file name)

NODE_FIELDS = (POSITIONS, ATOMIC_NUMBERS, NODE_PRETRAINED, ABSORBER_MASK, SITE_WEIGHT, NODE_TARGET)
EDGE_FIELDS = (EDGE_INDEX, EDGE_CELL_SHIFT)
GRAPH_FIELDS = (CELL, TARGET, ABSORPTION_EDGE)
