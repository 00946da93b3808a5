#!/usr/bin/env bash
# Out-of-fold network predictions on the training materials, for fitting the learned hybrid
# (scripts/fit_learned_hybrid.py): FOLDS folds of the training ids; per fold SEEDS seeds of configs/phdos.yaml
# trained on the other folds (best epoch chosen on the valid split, as for the shipped members, never on the
# held-out fold), then each fold's held-out materials predicted by its own models only.
#   bash scripts/train_phdos_oof.sh [OUT_DIR]      (OUT_DIR/oof_predictions.npz)
set -euo pipefail
out=${1:-runs/oof}
folds=${FOLDS:-5}
seeds=${SEEDS:-2}
jobs=${JOBS:-1}
data=../shared/data/phdos
mkdir -p "$out"
python scripts/learned_hybrid.py split "$data/splits/train_mp_ids.txt" --folds "$folds" -o "$out"
for fold in $(seq 0 $((folds - 1))); do
  for seed in $(seq 0 $((seeds - 1))); do
    OMP_NUM_THREADS=1 equispec train configs/phdos.yaml --set trainer.seed="$seed" --set trainer.progress_bar=false \
      --set data.train_ids="$out/fold$fold-train.txt" --output-dir "$out/fold$fold-seed$seed" \
      > "$out/fold$fold-seed$seed.log" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
  done
done
wait
python scripts/learned_hybrid.py predict-oof "$out" --folds "$folds" --seeds "$seeds" --csv "$data/phdos_trainval.csv" \
  --feature-cache runs/sevennet-0-features.npz
