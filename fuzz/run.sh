#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS per target, default 60] [TARGET...]
# (SERIN_FUZZ_PROFILE=dev for a quick unoptimised build, see below).
#
# Installs cargo-fuzz into ~/.cache/serin-cargo-bin if missing, builds with
# nightly (or stable with RUSTC_BOOTSTRAP=1 when no nightly toolchain is
# installed, which is said), in its own target directory
# (SERIN_FUZZ_TARGET_DIR, default ~/.cache/serin-fuzz-target). Crashing
# inputs land in fuzz/artifacts/<target>/; new corpus entries in a scratch
# copy of fuzz/corpus/<target>, so the committed seeds stay small.
#
# Builds use --sanitizer none: serin is safe Rust, so AddressSanitizer finds
# nothing libFuzzer's own checks miss (panics, timeouts, memory limit), and the
# ASan build of serin's dependency tree is several times slower to compile and run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

seconds=${1:-60}
shift || true
targets=("$@")
(( ${#targets[@]} )) || targets=(template_render prometheus_response webhook_response)

bin_root=${SERIN_CARGO_BIN:-$HOME/.cache/serin-cargo-bin}
export PATH="$bin_root/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "::: installing cargo-fuzz into $bin_root"
  cargo install cargo-fuzz --locked --root "$bin_root"
fi

toolchain=()
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  echo "::: no nightly toolchain: building on stable with RUSTC_BOOTSTRAP=1 (nightly flags on a stable compiler)"
  export RUSTC_BOOTSTRAP=1
fi

export CARGO_TARGET_DIR=${SERIN_FUZZ_TARGET_DIR:-$HOME/.cache/serin-fuzz-target}
flags=(--sanitizer none --debug-assertions)
# SERIN_FUZZ_PROFILE=dev (CI): unoptimised, about half the cold build time and a
# quarter of the rebuild after a change to serin, for 8-20x fewer executions a
# second; right for a short smoke run, not for finding new bugs.
if [[ ${SERIN_FUZZ_PROFILE:-release} == dev ]]; then
  flags+=(--dev)
fi

t0=$(date +%s)
# Without a target name, builds every target at once.
cargo "${toolchain[@]}" fuzz build "${flags[@]}"
echo "::: fuzz build: $(( $(date +%s) - t0 ))s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  cp corpus/"$target"/* "$scratch/$target/"
  start=$(date +%s)
  log="$scratch/$target.log"
  # -rss_limit_mb / -timeout: a leak or a hang is a finding, like a panic.
  if cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$target" "$scratch/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
      -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
    # The panic, the crashing input's path and how to reproduce it.
    grep -m1 -A6 'panicked at' "$log" || true
    grep -E 'artifact_prefix|Test unit written|cargo fuzz run' "$log" || tail -n 20 "$log"
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  echo "::: $target: $result, $(( $(date +%s) - start ))s, $runs executions"
done
exit $status
