#!/usr/bin/env bash
# A real Slurm run of scripts/slurm-sweep.sh: start a one-node cluster on this machine, sweep a
# config in N shards through it, wait for the report job, and check that the merged results
# equal those of a local `reproduce` of the same config.
#
#   scripts/slurm-test.sh [CONFIG [N]]      default: configs/sweep-slurm.yaml in 2 shards
#
# Needs root and a Debian/Ubuntu machine (it installs slurm-wlm and munge with apt when they are
# missing); CI runs it after `cargo test --release --workspace` has built target/release. The
# daemons (munged, slurmctld, slurmd) run in the foreground of this script, with their config,
# keys, state, spool and logs in a temporary folder: nothing under /etc is configured and no
# service is started, and the trap stops them however the script ends.
#
# Environment: SPIKING_UNET_BIN (the binaries' folder, default target/release of this checkout),
# SLURM_TEST_TIMEOUT (seconds to wait for the jobs, default 300), SLURM_TEST_KEEP=1 (keep the
# temporary folder).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
config=$(realpath "${1:-$repo/configs/sweep-slurm.yaml}")
shards=${2:-2}
bin=$(cd "${SPIKING_UNET_BIN:-$repo/target/release}" && pwd)
job_timeout=${SLURM_TEST_TIMEOUT:-300}
[[ -x "$bin/reproduce" && -x "$bin/report" ]] ||
    { echo "no reproduce/report in $bin: build first (cargo build --release --bins)"; exit 1; }

# Timings of each part, printed at the end.
timings=()
part_start=$SECONDS
part_done() {
    timings+=("$(printf '%-16s %4d s' "$1" $((SECONDS - part_start)))")
    part_start=$SECONDS
}

# --- 1. Packages -------------------------------------------------------------------------------
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null ||
    ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
    # The packages' maintainer scripts would start munge (and try the Slurm services) through
    # invoke-rc.d; a policy-rc.d that answers 101 forbids that, as Docker images do. This test
    # starts its own daemons below.
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=true
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge > /dev/null
    if $own_policy; then rm -f "$policy"; fi
fi
echo "slurm-wlm $(dpkg-query --show --showformat='${Version}' slurm-wlm 2> /dev/null || echo '(not from apt)')"
part_done "apt install"

# --- 2. A one-node cluster ---------------------------------------------------------------------
work=$(mktemp -d /tmp/slurm-test.XXXXXX)
chmod 755 "$work"                       # munged refuses a socket folder others can write to
mkdir -p "$work"/{munge,state,spool,slurm,local}
export SLURM_CONF=$work/slurm.conf      # for sbatch, squeue, sinfo, scontrol, scancel
pids=()
cluster_up=false
ok=false

dump_logs() {
    for log in "$work"/munge/munged.out "$work"/slurmctld.log "$work"/slurmd.log \
        "$work"/slurm/slurm-*.out; do
        [[ -f $log ]] || continue
        echo "----- $log (last 40 lines)"
        tail -n 40 "$log"
    done
}
cleanup() {
    # Cancel what is left of our jobs (after a failure), then stop the daemons we started, by
    # their process ids, and wait for them to exit.
    if [[ ${#pids[@]} -gt 0 ]]; then
        if $cluster_up; then
            scancel --quiet --user="$(id -un)" 2> /dev/null || true   # the private cluster's jobs
            sleep 1
        fi
        for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
        for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    fi
    if $ok && [[ -z ${SLURM_TEST_KEEP:-} ]]; then
        rm -rf "$work"
    else
        echo "slurm test: files kept in $work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM                    # so that the EXIT trap runs when CI cancels the job
fail() {
    echo "slurm test FAILED: $*" >&2
    dump_logs >&2
    exit 1
}

# munge authenticates the daemons and the client commands to each other: a fresh key and a
# private socket, so a munged the system may run is neither needed nor disturbed.
socket=$work/munge/munge.socket.2
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --foreground --force --socket="$socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" \
    > "$work/munge/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S $socket ]] && break; sleep 0.1; done
munge --socket="$socket" --no-input | unmunge --socket="$socket" > /dev/null ||
    fail "munged does not answer on $socket"

# The node as slurmd sees it (CPUs, sockets, cores, threads, memory), named by the short host
# name and reached on the loopback address, so no DNS is needed.
host=$(hostname -s)
node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/")
# Ports besides Slurm's defaults (6817/6818), in case the machine runs a cluster already.
cat > "$SLURM_CONF" << EOF
ClusterName=slurmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
# No cgroups: they are not available in every container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
# Cores are the consumable: the array tasks, asking one CPU each, share the node and run at
# the same time, as shards on a real cluster do (they share the sweep's ANN, whose training
# the harness serialises with a lock file in runs/).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Finished jobs stay visible to scontrol for an hour (there is no accounting database).
MinJobAge=3600
MailProg=/bin/true
ReturnToService=2
$node State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -f "$SLURM_CONF" > "$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" > "$work/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 60); do
    state=$(sinfo --noheader --nodes="$host" --format=%t 2> /dev/null || true)
    [[ $state == idle ]] && break
    sleep 1
done
[[ $state == idle ]] || fail "the node did not come up idle within 60 s (state: '${state:-none}')"
cluster_up=true
sinfo
part_done "cluster start"

# --- 3. The sweep through Slurm ----------------------------------------------------------------
# Both runs read the config from the same path, so that the README's "regenerate with" line
# agrees, and write runs/ and the results folder relative to their own folder: the config's
# runs_dir and report.dir must be relative. (`--set report.dir=...` would do as well, but for
# now any --set sorts the sweep's axes by name, which reorders the points.) --threads 1 (the
# one CPU each task asks for) goes through slurm-sweep.sh's ARGS to reproduce and report.
args=(--threads 1)
results=$(cd "$work/local" && "$bin/reproduce" --dry-run "$config" 2> /dev/null |
    awk '$1 == "report" { print $NF }')
[[ -n $results && $results != /* ]] ||
    fail "the config's report.dir must be relative (the dry run says '$results')"
submitted=$(cd "$work/slurm" &&
    SPIKING_UNET_BIN=$bin \
        SPIKING_UNET_SBATCH="--cpus-per-task=1 --mem=1G --time=00:20:00" \
        SPIKING_UNET_SBATCH_REPORT="--cpus-per-task=1" \
        "$repo/scripts/slurm-sweep.sh" "$config" "$shards" "${args[@]}") ||
    fail "slurm-sweep.sh could not submit"
echo "$submitted"
array=$(sed -n 's/.*array job \([0-9]*\).*/\1/p' <<< "$submitted")
report=$(sed -n 's/.*report job \([0-9]*\).*/\1/p' <<< "$submitted")
[[ -n $array && -n $report ]] || fail "no job ids in slurm-sweep.sh's output"

# Without slurmdbd there is no sacct: scontrol still knows finished jobs (MinJobAge). The report
# job ends COMPLETED or FAILED, or, when an array task failed, stays PENDING with the reason
# DependencyNeverSatisfied.
deadline=$((SECONDS + job_timeout))
while :; do
    report_job=$(scontrol --oneliner show job "$report")
    report_state=$(sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p' <<< "$report_job")
    case $report_state in
        PENDING | CONFIGURING | RUNNING | COMPLETING) ;;
        *) break ;;
    esac
    if [[ $report_job == *Reason=DependencyNeverSatisfied* ]]; then
        report_state="never started (an array task failed)"
        break
    fi
    ((SECONDS < deadline)) || { squeue; fail "the jobs did not finish within $job_timeout s"; }
    sleep 2
done
# Every array task must have ended COMPLETED with exit code 0, and so must the report job.
tasks=$(scontrol --oneliner show job "$array")
echo "$tasks" | sed -n 's/.* ArrayTaskId=\([0-9]*\) .* JobState=\([A-Z_]*\) .* ExitCode=\([0-9:]*\) .*/  task \1: \2 (exit \3)/p'
echo "  report: $report_state"
[[ $(grep -c 'JobState=COMPLETED .* ExitCode=0:0' <<< "$tasks") -eq $shards ]] ||
    fail "not every array task completed"
[[ $report_state == COMPLETED ]] || fail "the report job ended $report_state"
for i in $(seq "$shards"); do
    grep -q . "$work/slurm/slurm-${array}_$i.out" || fail "task $i left no log"
done
part_done "slurm sweep"

# --- 4. The same config locally ----------------------------------------------------------------
# From scratch: nothing of the Slurm run may be reused (an absolute runs_dir would share it).
if (cd "$work/local" && "$bin/reproduce" --dry-run "$config" 2> /dev/null) | grep -qw reuse; then
    fail "the local run would reuse artifacts: the config's runs_dir must be relative"
fi
(cd "$work/local" && "$bin/reproduce" "${args[@]}" "$config" > reproduce.log 2>&1) ||
    { tail -n 40 "$work/local/reproduce.log"; fail "the local reproduce failed"; }
part_done "local reproduce"

# --- 5. Compare --------------------------------------------------------------------------------
merged=$work/slurm/$results
single=$work/local/$results
# Everything report writes must be byte for byte the same: tables (Markdown, LaTeX, CSV), the
# merged store (results.csv, results.parquet, SHA256SUMS), figures, images and README, except
# manifest.json and store/: they record each shard (one store folder and provenance per shard,
# with start and finish times), so they differ by design; checked separately below.
diff -r -x manifest.json -x store "$merged" "$single" ||
    fail "the Slurm-merged results differ from the local ones (above)"
[[ -f $merged/tables/quality_vs_t.csv && -f $merged/results.csv ]] || fail "report wrote no tables"
# The store: one folder per shard, whose rows together are the local run's rows.
for i in $(seq "$shards"); do
    [[ -f $merged/store/shard-$i-of-$shards/results.csv ]] || fail "no store for shard $i"
    grep -q "\"shard\": \"$i/$shards\"" "$merged/manifest.json" || fail "manifest lacks shard $i"
done
cmp -s <(tail -q -n +2 "$merged"/store/shard-*-of-"$shards"/results.csv | sort) \
    <(tail -n +2 "$single"/store/shard-1-of-1/results.csv | sort) ||
    fail "the shards' rows are not the local run's rows"
tables=("$merged"/tables/*)
echo "slurm test: ${#tables[@]} tables, results.csv ($(($(wc -l < "$merged/results.csv") - 1)) rows)," \
    "results.parquet, README, figures and images equal the local run's"
part_done "compare"

ok=true
printf '  %s\n' "${timings[@]}"
