#!/usr/bin/env bash
# One prepared command for a machine with one GPU (issue 24; under 8 minutes on an H100):
#   1. fast inference over 1000 structures from CIF files, `equispec predict --device cuda` (SevenNet-0
#      features and the shipped ensemble on the GPU), cold and end to end;
#   2. physics mode on the GPU: one valid material with the shipped hybrid's potential (SevenNet-l3i5 forces
#      of every displaced supercell on the GPU), with the CPU run of the same structure beside it;
#   3. one DDP training epoch on 1 GPU through `equispec train` (Lightning, strategy ddp, bf16-mixed);
# then the timings of scripts/bench/gpu_check.py (featurization, training steps) unless SKIP_STEPS=1.
# Run from the project root with the data folder beside it:  bash scripts/bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python -c "import torch; assert torch.cuda.is_available(), 'no GPU visible to torch'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
work=$(mktemp -d)
python - "$work/cifs" <<'PY'
import os
import sys
from pymatgen.io.cif import CifWriter
from equispec.workflows import read_phdos_csv
table = read_phdos_csv("../shared/data/phdos/phdos_trainval.csv")
os.makedirs(sys.argv[1])
for mp_id, structure in list(zip(table.ids, table.structures))[:1000]:
    CifWriter(structure).write_file(f"{sys.argv[1]}/{mp_id}.cif")
print(len(os.listdir(sys.argv[1])), "CIF files")
PY
seconds() { python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(date +%s.%N)"; }

start=$(date +%s.%N)
equispec predict "$work/cifs" --device cuda -o "$work/out.jsonl" > /dev/null
echo "1. fast inference, 1000 CIF files, --device cuda: $(seconds "$start") s (cold: imports and loading included)"

start=$(date +%s.%N)
equispec predict data/examples/Al.cif --mode physics --potential 7net-l3i5 --no-cache --device cuda \
  -o "$work/al_gpu.csv" > /dev/null
echo "2. physics mode, Al, 7net-l3i5, --device cuda: $(seconds "$start") s (cold)"
start=$(date +%s.%N)
equispec predict data/examples/Al.cif --mode physics --potential 7net-l3i5 --no-cache --device cpu \
  -o "$work/al_cpu.csv" > /dev/null
echo "   the same on the CPU: $(seconds "$start") s; largest DOS difference GPU - CPU:"
python - "$work/al_gpu.csv" "$work/al_cpu.csv" <<'PY'
import sys
import numpy as np
gpu, cpu = (np.loadtxt(path, delimiter=",", comments="#", skiprows=2) for path in sys.argv[1:])
print(f"   {np.abs(gpu[:, 1] - cpu[:, 1]).max():.2e} (51-bin, max-normalised)")
PY

start=$(date +%s.%N)
equispec train configs/phdos_scratch.yaml --output-dir "$work/run" --set trainer.accelerator=gpu \
  --set trainer.devices=1 --set trainer.strategy=ddp --set trainer.precision=bf16-mixed \
  --set optim.max_epochs=1 --set trainer.progress_bar=false --set data.graph_cache="$work/graphs"
echo "3. DDP, 1 GPU, one epoch (graphs included): $(seconds "$start") s; valid metrics:"
cat "$work/run/valid_metrics.json"

if [ "${SKIP_STEPS:-0}" != 1 ]; then
  python scripts/bench/gpu_check.py --steps "${STEPS:-300}" --batch-size "${BATCH:-16}"
fi
