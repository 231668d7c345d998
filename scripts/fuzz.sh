#!/usr/bin/env bash
# Runs every fuzz target of the module for a while: scripts/fuzz.sh [DURATION]
# (default 5s, as CI does; use 10m for a real session). Each target runs
# alone (go test -fuzz takes one target per run). Findings land in the
# package's testdata/fuzz directory and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
d="${1:-5s}"
fail=0
while read -r file target; do
  pkg="./$(dirname "$file")"
  echo "== $pkg $target ($d)"
  if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$d" -fuzzminimizetime 5s >/tmp/fuzz-$$.log 2>&1; then
    cat /tmp/fuzz-$$.log; fail=1
  else
    tail -1 /tmp/fuzz-$$.log
  fi
done < <(grep -rn --include='*_test.go' '^func Fuzz' . | sed -E 's#^\./([^:]+):[0-9]+:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort)
rm -f /tmp/fuzz-$$.log
exit $fail
