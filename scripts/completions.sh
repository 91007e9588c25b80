#!/bin/sh
# Regenerates the committed completion scripts in completions/ (tests/completions.rs fails when they are stale).
set -eu
cd "$(dirname "$0")/.."
cargo build -q -p kubectl-vmmigrate --bin kubectl-vmmigrate
bin=target/debug/kubectl-vmmigrate
"$bin" completion bash > completions/kubectl-vmmigrate.bash
"$bin" completion zsh > completions/_kubectl-vmmigrate
"$bin" completion fish > completions/kubectl-vmmigrate.fish
"$bin" completion powershell > completions/kubectl-vmmigrate.ps1
"$bin" completion install-kubectl --dir completions --force
