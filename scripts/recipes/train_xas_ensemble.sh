#!/usr/bin/env bash
# Reproduce checkpoints/xas-cu-k: train SEEDS seeds of configs/xas_cu_k.yaml, two at a time with one thread
# each (as on a 2-core machine), then merge them into one ensemble scored on the OmniXAS val split.
#   bash scripts/recipes/train_xas_ensemble.sh [OUT_DIR]
set -euo pipefail
out=${1:-checkpoints/xas-cu-k}
seeds=${SEEDS:-3}
jobs=${JOBS:-2}
data=../shared/data/xas/omnixas_cu_feff
mkdir -p runs
# featurize once (SevenNet-0, cached in runs/sevennet-0-xas-features.npz) before runs share the cache
python -c "
from equispec.data.xas import read_xas_dataset
from equispec.data.datasets import pretrained_features
d = read_xas_dataset('$data')
d = d.select((d.split == 'train') | (d.split == 'val'))
ids = d.materials()
pretrained_features([d.structure(i) for i in ids], 'sevennet-0', ids, 'runs/sevennet-0-xas-features.npz')"
members=()
for seed in $(seq 0 $((seeds - 1))); do
  OMP_NUM_THREADS=1 equispec train configs/xas_cu_k.yaml --set trainer.seed="$seed" --set trainer.progress_bar=false \
    --output-dir "runs/xas-cu-k-seed$seed" > "runs/xas-cu-k-seed$seed.log" 2>&1 &
  members+=("runs/xas-cu-k-seed$seed/model")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
done
wait
equispec ensemble "${members[@]}" -o "$out" --data "$data" --split val
