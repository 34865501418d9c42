#!/bin/bash
# Runs every benchmark against one kube-apiserver binary, each server and
# etcd started fresh on loopback ports, and keeps each report in OUT_DIR.
#
#   bench/suite.sh path/to/kube-apiserver OUT_DIR
#
# Needs target/release/bench (cargo build --release -p bench), /usr/bin/etcd
# and curl. Ports 26450-26451 and 23790/23800 must be free. Everything it
# starts is stopped on exit, and its scratch directories are removed.
set -euo pipefail

SERVER=$(realpath "$1")
OUT=$(realpath -m "$2")
BENCH=$(realpath "$(dirname "$0")/../target/release/bench")
SCRATCH=$(mktemp -d /tmp/bench-suite.XXXXXX)
PIDS=()
mkdir -p "$OUT"

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

# start_server NAME PORT [FLAGS...]: a fresh server, returned once /readyz answers.
start_server() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$SCRATCH/$name"
    "$SERVER" --data-dir "$SCRATCH/$name/data" --secure-port "$port" "$@" \
        > "$SCRATCH/$name/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        curl -sk -o /dev/null "https://127.0.0.1:$port/readyz" && break
        sleep 0.1
    done
    sleep 1
    KUBECONFIG_FILE=$SCRATCH/$name/data/admin.kubeconfig
}

# run NAME ARGS...: one bench report, with the command and the load around it.
run() {
    local name=$1
    shift
    {
        echo "\$ bench $*"
        echo "load before: $(cat /proc/loadavg)"
        "$BENCH" "$@" || echo "bench exited with $?"
        echo "load after: $(cat /proc/loadavg)"
    } > "$OUT/$name.txt" 2>&1
    echo "$OUT/$name.txt"
}

start_server embedded 26450
run crud-embedded crud --kubeconfig "$KUBECONFIG_FILE" --server-pid "$SERVER_PID"
run watch-default watch --kubeconfig "$KUBECONFIG_FILE" --server-pid "$SERVER_PID"
run watch-100-watchers watch --kubeconfig "$KUBECONFIG_FILE" --server-pid "$SERVER_PID" --watchers 100
run watch-rate-50 watch --kubeconfig "$KUBECONFIG_FILE" --server-pid "$SERVER_PID" --rate 50
kill "$SERVER_PID"

run startup startup --runs 10 -- "$SERVER" --data-dir '{data_dir}' --secure-port '{port}'

/usr/bin/etcd --data-dir "$SCRATCH/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster default=http://127.0.0.1:23800 > "$SCRATCH/etcd.log" 2>&1 &
PIDS+=("$!")
sleep 2
start_server etcd-backed 26451 --etcd-servers=http://127.0.0.1:23790
run crud-etcd crud --kubeconfig "$KUBECONFIG_FILE" --server-pid "$SERVER_PID" \
    --etcd-baseline http://127.0.0.1:23790
