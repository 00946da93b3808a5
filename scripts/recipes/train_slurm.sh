#!/bin/bash
# Example SLURM job: equispec training on 2 nodes x 4 GPUs with DDP, bf16 mixed precision, graphs cached
# on shared disk, and automatic requeue + resume on preemption. Submit from the project root:
#   sbatch scripts/recipes/train_slurm.sh configs/phdos.yaml
# Adapt partition/account lines to your cluster; keep ntasks-per-node equal to the GPUs per node.
#SBATCH --job-name=equispec-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --signal=SIGUSR1@180
#SBATCH --output=runs/slurm-%j.out
# SIGUSR1 three minutes before the time limit (or on preemption with a grace time): Lightning saves
# runs/<job>/hpc_ckpt_N.ckpt and calls `scontrol requeue`; the requeued job (same job id, so the same
# output directory) sees SLURM_RESTART_COUNT > 0 and resumes from the newest checkpoint by itself.
set -euo pipefail
config=${1:-configs/phdos.yaml}
source .venv/bin/activate
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}

# srun starts one process per GPU; Lightning reads ranks, world size and the master node from SLURM.
# The first rank to get there builds the graphs (and pretrained features) into data.graph_cache under
# a file lock; the others, on any node, memory-map the same files.
srun equispec train "$config" --output-dir "runs/${SLURM_JOB_NAME}-${SLURM_JOB_ID}" \
  --set trainer.accelerator=gpu \
  --set trainer.devices="${SLURM_NTASKS_PER_NODE}" \
  --set trainer.num_nodes="${SLURM_NNODES}" \
  --set trainer.strategy=ddp \
  --set trainer.precision=bf16-mixed \
  --set trainer.checkpoint_every_n_steps=500 \
  --set trainer.progress_bar=false \
  --set data.graph_cache=runs/graph-cache
# optim.batch_size is per GPU: the effective batch is batch_size x GPUs x trainer.accumulate_grad_batches.
