#!/usr/bin/env bash
# Starts the scale-out setup of docs/SCALING.md on 127.0.0.1 and runs SIPp
# calls through it: three cmd/mediaserver instances (ms1, ms2, ms3) behind
# Kamailio's dispatcher, the webhook application of package deploy, one
# instance drained while calls run. It prints every command it runs, the
# calls per instance, and "no failed call" (exit 0) or what failed (exit 1).
#
#   deploy/run-cluster.sh                                  # 60 calls, 10/s, 10 s each, drain ms3
#   deploy/run-cluster.sh -calls 300 -rate 20 -hold 30s -drain ""
#   deploy/run-cluster.sh -keep                            # then call sip:ivr@127.0.0.1:37200; Ctrl-C stops
#   deploy/run-cluster.sh -h                               # every flag
#
# Needs Go, kamailio (Debian package kamailio) and sipp (sip-tester). Logs
# and data go to -dir (default: a new temporary directory, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v kamailio >/dev/null 2>&1 || missing+=(kamailio)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
if [ ${#missing[@]} -gt 0 ]; then
  echo "run-cluster.sh: install ${missing[*]} first: apt-get install -y ${missing[*]}" >&2
  exit 2
fi
bin="$(mktemp -d "${TMPDIR:-/tmp}/mediaserver-cluster-bin.XXXXXX")"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/cluster" ./deploy/cluster
"$bin/cluster" "$@"
