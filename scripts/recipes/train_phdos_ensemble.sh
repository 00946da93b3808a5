#!/usr/bin/env bash
# Reproduce checkpoints/phdos: train seeds of the two member recipes, two runs at a time with one thread
# each (as on a 2-core machine), then merge them into one ensemble scored on the valid split.
#   bash scripts/recipes/train_phdos_ensemble.sh [OUT_DIR]
# Members: READOUT_SEEDS seeds of configs/phdos.yaml and GATED_SEEDS seeds of configs/phdos_gated.yaml.
set -euo pipefail
out=${1:-checkpoints/phdos}
readout_seeds=${READOUT_SEEDS:-3}
gated_seeds=${GATED_SEEDS:-2}
jobs=${JOBS:-2}
data=../shared/data/phdos
mkdir -p runs
members=()
launch() {  # config, seed, run name
  OMP_NUM_THREADS=1 equispec train "$1" --set trainer.seed="$2" --set trainer.progress_bar=false \
    --output-dir "runs/$3" > "runs/$3.log" 2>&1 &
  members+=("runs/$3/model")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
}
# featurize once (SevenNet-0, cached in runs/sevennet-0-features.npz) before runs share the cache
python -c "
from equispec.data.datasets import pretrained_features, read_phdos_csv
t = read_phdos_csv('$data/phdos_trainval.csv')
pretrained_features(t.structures, 'sevennet-0', t.ids, 'runs/sevennet-0-features.npz')"
for seed in $(seq 0 $((gated_seeds - 1))); do launch configs/phdos_gated.yaml "$seed" "phdos-gated-seed$seed"; done
for seed in $(seq 0 $((readout_seeds - 1))); do launch configs/phdos.yaml "$seed" "phdos-readout-seed$seed"; done
wait
equispec ensemble "${members[@]}" -o "$out" --data "$data/phdos_trainval.csv" --ids "$data/splits/valid_mp_ids.txt"
