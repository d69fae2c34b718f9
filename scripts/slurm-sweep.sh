#!/usr/bin/env bash
# Spread a sweep over a Slurm job array, then merge the shards with `report`.
#
#   scripts/slurm-sweep.sh CONFIG N      submit N array tasks and a report job that waits for them
#
# Each array task runs `reproduce --shard i/N CONFIG` (a deterministic, contiguous block of the
# sweep's points); the report job runs `report CONFIG` once all of them succeeded. Artifacts and
# results go under runs/ and the config's report.dir, which must be on a file system every node
# sees. Build first on a login node: cargo build --release --bins
#SBATCH --job-name=spiking-unet-sweep
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=08:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail

config=${1:?usage: scripts/slurm-sweep.sh CONFIG N}
shards=${2:?usage: scripts/slurm-sweep.sh CONFIG N}
bin=${SPIKING_UNET_BIN:-target/release}

if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    # On the login node: check the config and show the plan, then submit.
    "$bin/reproduce" --dry-run "$config" > /dev/null
    array=$(sbatch --parsable --array="1-$shards" "$0" "$config" "$shards")
    sbatch --dependency="afterok:$array" --job-name=spiking-unet-report \
        --cpus-per-task=2 --time=00:30:00 --wrap "$bin/report $config"
    echo "submitted array job $array ($shards shards) and its report"
    exit 0
fi

"$bin/reproduce" --shard "$SLURM_ARRAY_TASK_ID/$shards" "$config"
