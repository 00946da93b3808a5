#!/usr/bin/env bash
# Rebuild the learned hybrid of checkpoints/phdos (equispec.models.hybrid) from physics-DOS caches
# (scripts/recipes/physics_dos_batch.py --potential 7net-l3i5) of training materials (PHYSICS) and of valid materials
# (VALID_PHYSICS, with VALID_IDS):
#  1. the training materials that have a physics DOS are split into FOLDS held-out folds; per fold SEEDS seeds
#     of configs/phdos.yaml (EPOCHS epochs) train on every other training material (best epoch chosen on the
#     valid split, never on the held-out fold) and predict that fold's held-out materials only
#     (OUT_DIR/oof_predictions.npz);
#  2. scripts/recipes/learned_hybrid.py fit: fitted on those out-of-fold predictions, scored on valid, and the variant
#     VARIANT written into the model's hybrid record.
#   PHYSICS=runs/a.npz+runs/b.npz VALID_PHYSICS=runs/c.npz VALID_IDS=runs/valid50_ids.txt \
#     bash scripts/recipes/train_learned_hybrid.sh [OUT_DIR]
set -euo pipefail
data=../shared/data/phdos
data_default_valid=$data/splits/valid_mp_ids.txt
out=${1:-runs/oof}
folds=${FOLDS:-2}
physics=${PHYSICS:?set PHYSICS to the physics caches of training materials}
valid_physics=${VALID_PHYSICS:?set VALID_PHYSICS to the physics caches of valid materials}
valid_ids=${VALID_IDS:-$data_default_valid}
variant=${VARIANT:-learned, all features}
seeds=${SEEDS:-2}
epochs=${EPOCHS:-30}
jobs=${JOBS:-1}
mkdir -p "$out"
python scripts/recipes/learned_hybrid.py split "$data/splits/train_mp_ids.txt" --folds "$folds" --physics "$physics" -o "$out"
for fold in $(seq 0 $((folds - 1))); do
  for seed in $(seq 0 $((seeds - 1))); do
    OMP_NUM_THREADS=1 equispec train configs/phdos.yaml --set trainer.seed="$seed" --set trainer.progress_bar=false \
      --set optim.max_epochs="$epochs" --set data.train_ids="$out/fold$fold-train.txt" --output-dir "$out/fold$fold-seed$seed" \
      > "$out/fold$fold-seed$seed.log" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
  done
done
wait
python scripts/recipes/learned_hybrid.py predict-oof "$out" --folds "$folds" --seeds "$seeds" --csv "$data/phdos_trainval.csv" \
  --feature-cache runs/sevennet-0-features.npz
python scripts/recipes/learned_hybrid.py fit --oof "$out/oof_predictions.npz" --fit-physics "$physics" \
  --valid-physics "$valid_physics" --valid-ids "$valid_ids" --write "$variant" -o "$out/learned_hybrid.json"
