#!/usr/bin/env bash
# Seeded mutation sweep over every fixture through every tool (see scripts/attack.py): no panic,
# no signal death, no hang, no input changed, no temporary left, RSS bounded. About a minute on
# 2 cores with the debug binaries `cargo test` builds.
#   ATTACK_SEED=N ATTACK_ROUNDS=N bash scripts/attack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 >/dev/null
fi
cargo build -q -p callrec-examples --examples
python3 scripts/attack.py --bin target/debug/examples \
    --seed "${ATTACK_SEED:-14}" --rounds "${ATTACK_ROUNDS:-90}"
