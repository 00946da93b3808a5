#!/usr/bin/env bash
# Reproduce checkpoints/phdos: train N seeds of configs/phdos.yaml (two at a time, one thread each, as on
# a 2-core machine), then merge them into one ensemble scored on the valid split.
#   bash scripts/train_phdos_ensemble.sh [N_SEEDS] [OUT_DIR]
set -euo pipefail
n=${1:-4}
out=${2:-checkpoints/phdos}
data=../shared/data/phdos
jobs=${JOBS:-2}
mkdir -p runs
for seed in $(seq 0 $((n - 1))); do
  OMP_NUM_THREADS=1 equispec train configs/phdos.yaml --set trainer.seed="$seed" --set trainer.progress_bar=false \
    --output-dir "runs/phdos-seed$seed" > "runs/phdos-seed$seed.log" 2>&1 &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
done
wait
members=$(for seed in $(seq 0 $((n - 1))); do echo "runs/phdos-seed$seed/model"; done)
# shellcheck disable=SC2086
equispec ensemble $members -o "$out" --data "$data/phdos_trainval.csv" --ids "$data/splits/valid_mp_ids.txt"
