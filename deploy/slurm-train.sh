#!/bin/bash
# Data-parallel training on a Slurm cluster: one rank per node, every core of the node for
# oneDNN's threads. Submit with `sbatch deploy/slurm-train.sh`; DATA, RUN and RECIPE come from
# the environment. NOT RUN ON A CLUSTER: written from the sbatch/srun manuals and tested only as
# far as `mpirun` on one machine goes (docs/deploy.md).
#
# --batch-size is the global batch: the same command trains the same model on any number of
# nodes (docs/training.md, "Training on several machines"). The run folder must be on a file
# system every node sees (rank 0 writes it; --continue reads it on every rank); the data must be
# the same files on every node (the ranks compare names and sizes before the first step).
#SBATCH --job-name=gantry-train
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=32
#SBATCH --time=48:00:00
#SBATCH --output=gantry-train-%j.log
# SIGTERM to every task 10 minutes before the time limit: the ranks finish the iteration, rank 0
# saves a resumable state, and the job can be requeued to carry on with --continue.
#SBATCH --signal=TERM@600
#SBATCH --requeue
set -euo pipefail
RECIPE=${RECIPE:-cyclegan}
DATA=${DATA:?set DATA to the dataset folder (the same path on every node)}
RUN=${RUN:?set RUN to the run folder on the shared file system}
BATCH=${BATCH:-$SLURM_NTASKS}
continue=()
[ -f "$RUN/state.json" ] && continue=(--continue)
# srun starts the ranks through PMIx; gantry sees SLURM_PROCID/SLURM_NTASKS (or PMIX_RANK) and
# loads Debian's libmpi. With a Slurm built without PMIx, use `mpirun` inside the allocation
# instead (it launches through srun).
exec srun --mpi=pmix --kill-on-bad-exit=1 \
  gantry train "$RECIPE" --data "$DATA" --run "$RUN" --batch-size "$BATCH" --threads "$SLURM_CPUS_PER_TASK" "${continue[@]}"
