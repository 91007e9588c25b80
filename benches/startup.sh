#!/bin/sh
# Startup time of `kubectl-vmmigrate --version` next to `kubectl version --client` (issue 7: under 10 ms).
#
#   benches/startup.sh [BINARY] [RUNS]
#
# BINARY defaults to the dist build (target/dist), else release, else debug. Uses hyperfine when installed
# (apt-get install hyperfine), else a loop timed with date +%s%N. Exits 1 when the mean is 10 ms or more.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-}
runs=${2:-200}
if [ -z "$bin" ]; then
  for candidate in "${CARGO_TARGET_DIR:-target}/dist/kubectl-vmmigrate" target/distbuild/dist/kubectl-vmmigrate \
    "${CARGO_TARGET_DIR:-target}/release/kubectl-vmmigrate" "${CARGO_TARGET_DIR:-target}/debug/kubectl-vmmigrate"; do
    if [ -x "$candidate" ]; then bin=$candidate; break; fi
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "startup.sh: no kubectl-vmmigrate binary; build one or pass its path" >&2; exit 1; }
kubectl=$(command -v kubectl || true)
echo "binary: $bin ($(wc -c < "$bin" | tr -d ' ') bytes)"

# mean_ms COMMAND...: mean wall time of one run in milliseconds (3 decimals)
mean_ms() {
  if command -v hyperfine > /dev/null; then
    csv=$(mktemp)
    hyperfine --shell=none --warmup 10 --runs "$runs" --style none --export-csv "$csv" "$*" > /dev/null
    awk -F, 'NR == 2 { printf "%.3f", $2 * 1000 }' "$csv"
    rm -f "$csv"
  else
    i=0
    start=$(date +%s%N)
    while [ $i -lt "$runs" ]; do "$@" > /dev/null; i=$((i + 1)); done
    end=$(date +%s%N)
    awk -v ns=$((end - start)) -v n="$runs" 'BEGIN { printf "%.3f", ns / n / 1e6 }'
  fi
}

plugin_ms=$(mean_ms "$bin" --version)
printf '%-40s %8s ms\n' "kubectl-vmmigrate --version" "$plugin_ms"
if [ -n "$kubectl" ]; then
  kubectl_ms=$(mean_ms "$kubectl" version --client)
  printf '%-40s %8s ms\n' "kubectl version --client" "$kubectl_ms"
fi
if awk -v m="$plugin_ms" 'BEGIN { exit !(m < 10) }'; then
  echo "OK: under 10 ms ($runs runs, $(command -v hyperfine > /dev/null && echo hyperfine || echo 'date loop'))"
else
  echo "TOO SLOW: kubectl-vmmigrate --version takes ${plugin_ms} ms (budget 10 ms)"
  exit 1
fi
