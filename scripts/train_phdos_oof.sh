#!/usr/bin/env bash
# Out-of-fold network predictions on the training materials, for fitting the learned hybrid
# (scripts/learned_hybrid.py fit): the training materials that have a physics DOS (PHYSICS, caches joined by +)
# are split into FOLDS held-out folds; per fold SEEDS seeds of configs/phdos.yaml train on every other training
# material (best epoch chosen on the valid split, as for the shipped members, never on the held-out fold), then
# predict that fold's held-out materials only.
#   PHYSICS=runs/a.npz+runs/b.npz bash scripts/train_phdos_oof.sh [OUT_DIR]      (OUT_DIR/oof_predictions.npz)
set -euo pipefail
out=${1:-runs/oof}
folds=${FOLDS:-2}
physics=${PHYSICS:?set PHYSICS to the physics caches of training materials}
seeds=${SEEDS:-2}
epochs=${EPOCHS:-60}
jobs=${JOBS:-1}
data=../shared/data/phdos
mkdir -p "$out"
python scripts/learned_hybrid.py split "$data/splits/train_mp_ids.txt" --folds "$folds" --physics "$physics" -o "$out"
for fold in $(seq 0 $((folds - 1))); do
  for seed in $(seq 0 $((seeds - 1))); do
    OMP_NUM_THREADS=1 equispec train configs/phdos.yaml --set trainer.seed="$seed" --set trainer.progress_bar=false \
      --set optim.max_epochs="$epochs" --set data.train_ids="$out/fold$fold-train.txt" --output-dir "$out/fold$fold-seed$seed" \
      > "$out/fold$fold-seed$seed.log" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
  done
done
wait
python scripts/learned_hybrid.py predict-oof "$out" --folds "$folds" --seeds "$seeds" --csv "$data/phdos_trainval.csv" \
  --feature-cache runs/sevennet-0-features.npz
