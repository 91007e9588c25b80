#!/usr/bin/env bash
# The newcomer's demo: `check`, then `run` a live migration with the progress bar, against the built-in
# `haos` simulated cluster (vmmigrate-sim). No Kubernetes cluster is needed.
#
#   ./scripts/demo.sh             # at real speed (the seed's migration takes ~10 s)
#   SPEED=5 ./scripts/demo.sh     # simulated time 5x faster
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --workspace --bins
bin=target/debug
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/vmmigrate-sim" serve --scenario haos --speed "${SPEED:-1}" --kubeconfig-out "$work/kubeconfig" >"$work/ready" &
sim_pid=$!
for _ in $(seq 100); do grep -q '^ready ' "$work/ready" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready ' "$work/ready" || { echo "demo: vmmigrate-sim did not start" >&2; exit 1; }
echo "# simulated cluster: $(cat "$work/ready")"

export KUBECONFIG="$work/kubeconfig"
echo "\$ kubectl vmmigrate check vm-instance-haos -n tenant-root -o wide"
"$bin/kubectl-vmmigrate" check vm-instance-haos -n tenant-root -o wide || true
echo
echo "\$ kubectl vmmigrate run vm-instance-haos -n tenant-root"
"$bin/kubectl-vmmigrate" run vm-instance-haos -n tenant-root
