#!/usr/bin/env bash
# One command on a machine with a GPU (under 5 minutes): SevenNet-0 featurization and the shipped ensemble on
# the GPU, timed training steps in float32 and bf16, `equispec predict --device cuda`, then the real
# `equispec train` path (Lightning, bf16-mixed) for two short epochs.
# Run from the project root with the data folder beside it:  bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python scripts/gpu_check.py --steps "${STEPS:-300}" --batch-size "${BATCH:-16}"
# `equispec predict` on the GPU: 141 valid structures from CIF files (features on the GPU), and one CIF cold
cifs=$(mktemp -d)
python - "$cifs" <<'PY'
import sys
from pymatgen.io.cif import CifWriter
from equispec.data.datasets import read_ids, read_phdos_csv
table = read_phdos_csv("../shared/data/phdos/phdos_trainval.csv")
table = table.subset(read_ids("../shared/data/phdos/splits/valid_mp_ids.txt"), "valid")
for mp_id, structure in zip(table.ids, table.structures):
    CifWriter(structure).write_file(f"{sys.argv[1]}/{mp_id}.cif")
PY
start=$(date +%s.%N)
equispec predict "$cifs" --device cuda -o "$cifs/out.jsonl" > /dev/null
echo "equispec predict, 141 CIF files, --device cuda: $(echo "$(date +%s.%N) - $start" | bc) s (cold, imports included)"
start=$(date +%s.%N)
equispec predict data/examples/Si.cif --device cuda -o "$cifs/si.csv" > /dev/null
echo "equispec predict one CIF, cold, --device cuda: $(echo "$(date +%s.%N) - $start" | bc) s"
out=$(mktemp -d)
start=$(date +%s)
equispec train configs/phdos_scratch.yaml --output-dir "$out/run" --set trainer.accelerator=gpu \
  --set trainer.precision=bf16-mixed --set optim.max_epochs=2 --set data.limit_valid=64 \
  --set trainer.progress_bar=false --set data.graph_cache="$out/graphs"
echo "lightning bf16-mixed, 2 epochs: $(( $(date +%s) - start )) s (graphs included); valid metrics:"
cat "$out/run/valid_metrics.json"
