#!/usr/bin/env bash
# One command on a machine with a GPU (under 5 minutes): timed training steps on the GPU in float32 and
# bf16, then the real `equispec train` path (Lightning, bf16-mixed) for two short epochs.
# Run from the project root with the data folder beside it:  bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python scripts/gpu_check.py --steps "${STEPS:-300}" --batch-size "${BATCH:-16}"
out=$(mktemp -d)
start=$(date +%s)
equispec train configs/phdos_scratch.yaml --output-dir "$out/run" --set trainer.accelerator=gpu \
  --set trainer.precision=bf16-mixed --set optim.max_epochs=2 --set data.limit_valid=64 \
  --set trainer.progress_bar=false --set data.graph_cache="$out/graphs"
echo "lightning bf16-mixed, 2 epochs: $(( $(date +%s) - start )) s (graphs included); valid metrics:"
cat "$out/run/valid_metrics.json"
