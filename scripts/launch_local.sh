#!/usr/bin/env bash
# Runs a multi-process (multi-host) JAX program on this machine: N processes with D CPU
# devices each, for trying and testing multi-host training without a cluster.
#
#   scripts/launch_local.sh N D -- COMMAND [ARGS...]
#   scripts/launch_local.sh 2 2 -- python -m tcenet_jax.train --config configs/demo.py \
#       --workdir runs/demo-2x2
#
# Every process gets JAX_PLATFORMS=cpu, XLA_FLAGS=--xla_force_host_platform_device_count=D,
# JAX_COORDINATOR_ADDRESS=127.0.0.1:<a free port>, JAX_NUM_PROCESSES=N and its
# JAX_PROCESS_ID. Output: each line prefixed with "[process I] " on stdout, or, with
# LAUNCH_LOG_DIR=DIR, in DIR/process_I.log. SIGTERM and SIGINT are passed on to every
# process. Every non-zero exit is reported on stderr; when a process fails, the others get
# SIGTERM, and SIGKILL LAUNCH_KILL_AFTER_S seconds later (default 60) if still running.
# Waits for all; the exit status is the first non-zero one (in time), else 0.

set -u

usage() {
    echo "usage: $0 N D -- COMMAND [ARGS...]  (N processes x D CPU devices each)" >&2
    exit 1
}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

[[ $# -ge 4 && $3 == "--" ]] || usage
if ! is_count "$1"; then
    echo "error: N=$1: expected a number of processes >= 1" >&2
    exit 1
fi
if ! is_count "$2"; then
    echo "error: D=$2: expected a number of CPU devices per process >= 1" >&2
    exit 1
fi
num_processes=$1
devices=$2
shift 3
kill_after=${LAUNCH_KILL_AFTER_S:-60}
log_dir=${LAUNCH_LOG_DIR:-}
if [[ -n $log_dir ]]; then
    mkdir -p "$log_dir" || exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || exit 1

# Reads a process's output and prefixes its lines; ignores the signals meant for the
# processes, so that it outlives them and loses no output.
prefix_lines() {
    trap '' TERM INT
    exec sed -u "s/^/[process $1] /"
}

declare -A process_of_pid=()
for ((i = 0; i < num_processes; i++)); do
    if [[ -n $log_dir ]]; then
        output=$log_dir/process_$i.log
    else
        output=/dev/stdout
    fi
    (
        export JAX_PLATFORMS=cpu
        export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_force_host_platform_device_count=$devices"
        export JAX_COORDINATOR_ADDRESS=127.0.0.1:$port
        export JAX_NUM_PROCESSES=$num_processes
        export JAX_PROCESS_ID=$i
        if [[ -n $log_dir ]]; then
            exec "$@" >"$output" 2>&1
        else
            exec "$@" > >(prefix_lines "$i") 2>&1
        fi
    ) &
    process_of_pid[$!]=$i
done

signal_all() {
    local pid
    for pid in "${!process_of_pid[@]}"; do
        kill -s "$1" "$pid" 2>/dev/null
    done
}
signalled=0 # 1 once a signal was passed on: the processes' exits are then no failure
trap 'signalled=1; signal_all TERM' TERM
trap 'signalled=1; signal_all INT' INT

status=0
killer="" # a sleep that, when it ends, means: SIGKILL whoever is left

# Records process $1's exit status $2; the first failure stops the others.
process_ended() {
    local index=${process_of_pid[$1]}
    unset "process_of_pid[$1]"
    if (($2 != 0)); then
        echo "launch_local: process $index exited with status $2" >&2
    fi
    if (($2 != 0 && status == 0)); then
        status=$2
        if ((signalled == 0 && ${#process_of_pid[@]} > 0)); then
            echo "launch_local: stopping the other processes (SIGTERM; SIGKILL in ${kill_after} s)" >&2
            signal_all TERM
            sleep "$kill_after" &
            killer=$!
        fi
    fi
}

while ((${#process_of_pid[@]} > 0)); do
    unset finished
    wait -n -p finished "${!process_of_pid[@]}" $killer 2>/dev/null
    rc=$?
    if [[ -z ${finished:-} ]]; then
        # Woken by a signal (already passed on), or bash dropped ended jobs from its job
        # table (it does when a new job starts): collect those with a plain wait.
        for pid in "${!process_of_pid[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid"
                process_ended "$pid" $?
            fi
        done
        continue
    fi
    if [[ $finished == "$killer" ]]; then
        echo "launch_local: SIGKILL to the processes still running" >&2
        signal_all KILL
        killer=""
        continue
    fi
    process_ended "$finished" "$rc"
done
if [[ -n $killer ]]; then
    kill "$killer" 2>/dev/null
    wait "$killer" 2>/dev/null
fi
exit "$status"
