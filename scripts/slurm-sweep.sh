#!/usr/bin/env bash
# Spread a sweep over a Slurm job array, then merge the shards with `report`.
#
#   scripts/slurm-sweep.sh CONFIG N [ARGS...]
#
# submits N array tasks and a report job that waits for them. Each array task runs
# `reproduce --shard i/N ARGS... CONFIG` (a deterministic, contiguous block of the sweep's
# points); the report job runs `report ARGS... CONFIG` once all of them succeeded. ARGS are
# options both binaries take (`--set KEY=VALUE`, `--threads N`, `--backend NAME`). Artifacts
# and results go under runs/ and the config's report.dir (relative paths: relative to the
# directory you submit from, which is where the jobs run), which must be on a file system every
# node sees. Build first on a login node: cargo build --release --bins
#
# Environment, read when submitting (the jobs inherit it, as sbatch passes it on by default):
#   SPIKING_UNET_BIN            the binaries' folder (default: target/release of this checkout)
#   SPIKING_UNET_SBATCH         extra sbatch options for every job, after the defaults below, so
#                               they override them: "--partition=cpu --account=proj --time=2:00:00"
#   SPIKING_UNET_SBATCH_REPORT  extra sbatch options for the report job only
#   SPIKING_UNET_LOGS           folder of the job logs (default: the current directory); task i
#                               logs to slurm-ARRAYID_i.out, the report job to slurm-ARRAYID_report.out
#SBATCH --job-name=spiking-unet-sweep
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=08:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail

usage="usage: scripts/slurm-sweep.sh CONFIG N [ARGS...]"
config=${1:?$usage}
shards=${2:?$usage}
shift 2

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    # An array task. Slurm runs a copy of this script from its spool folder, so the binaries'
    # folder comes from the environment the login node resolved (below).
    bin=${SPIKING_UNET_BIN:-target/release}
    # As many worker threads as CPUs the task asked for, also where Slurm does not bind tasks
    # to their CPUs (rayon reads RAYON_NUM_THREADS; a --threads in ARGS still wins).
    export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-0}}
    exec "$bin/reproduce" --shard "$SLURM_ARRAY_TASK_ID/$shards" "$@" "$config"
fi

# On the login node: resolve the binaries' folder to an absolute path for the jobs, check the
# config and its plan, then submit.
bin=${SPIKING_UNET_BIN:-$(dirname "$0")/../target/release}
bin=$(cd "$bin" && pwd)
export SPIKING_UNET_BIN=$bin
logs=${SPIKING_UNET_LOGS:-.}
mkdir -p "$logs"                      # sbatch does not create the folder of --output
read -r -a extra <<< "${SPIKING_UNET_SBATCH:-}"
read -r -a extra_report <<< "${SPIKING_UNET_SBATCH_REPORT:-}"

"$bin/reproduce" --dry-run "$@" "$config" > /dev/null

array=$(sbatch --parsable --array="1-$shards" --output="$logs/slurm-%A_%a.out" \
    "${extra[@]}" "$0" "$config" "$shards" "$@")
array=${array%%;*}                    # --parsable prints ID or ID;CLUSTER
printf -v command '%q ' "$bin/report" "$@" "$config"
report=$(sbatch --parsable --dependency="afterok:$array" --job-name=spiking-unet-report \
    --cpus-per-task=2 --time=00:30:00 --output="$logs/slurm-${array}_report.out" \
    "${extra[@]}" "${extra_report[@]}" --wrap "$command")
report=${report%%;*}
echo "submitted array job $array ($shards shards) and report job $report;" \
    "logs: $logs/slurm-${array}_*.out"
