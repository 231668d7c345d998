#!/usr/bin/env bash
# Runs every fuzz target of the module for a while: scripts/fuzz.sh [BUDGET]
# BUDGET is a -fuzztime value: a count of executions (default 30000x, as CI
# does) or a duration (10m for a real session). Each target runs alone
# (go test -fuzz takes one target per run). Findings land in the package's
# testdata/fuzz directory and fail the run.
#
# CI uses a count, not a duration: Go 1.26's fuzz coordinator can report a
# bare "context deadline exceeded" failure when a duration -fuzztime ends
# while a worker is mid-execution on a loaded machine (golang/go#75804, fixed
# in Go 1.27). A count has no deadline to race. A long duration run can
# still hit it; a failure that wrote no input to testdata/fuzz is that bug.
set -euo pipefail
cd "$(dirname "$0")/.."
d="${1:-30000x}"
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
