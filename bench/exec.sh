#!/usr/bin/env bash
# Exec recording cost: `cat` of a 64 MB file through a pty inside a recorded session vs the same
# unrecorded (ratio of throughputs, bytes lost), and a syscall-heavy process outside any session
# with the recorder loaded vs not (ratio of run times), with no session on the node (syscall
# hooks detached) and while one is open (attached). Writes bench/results/exec.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
tool=$BUILD/e2e/execrec_bench
[ "$(id -u)" -eq 0 ] || { echo "bench/exec.sh: needs root" >&2; exit 1; }
[ -x "$tool" ] || { echo "bench/exec.sh: $tool not built (make test-build)" >&2; exit 1; }
file=$(mktemp /tmp/bulwark-bench-exec-XXXXXX)
trap 'rm -f "$file"' EXIT
# Printable lines, like a log file being paged.
head -c 48000000 /dev/urandom | base64 -w 99 >"$file"
out=$("$tool" "$file" "${SYSCALL_PAIRS:-1000000}" "${ROUNDS:-3}" "${RING_MIB:-0}")
mkdir -p bench/results
printf '%s\n' "$out" | jq --arg kernel "$(uname -r)" --arg date "$(date -u +%FT%TZ)" \
	'. + {kernel: $kernel, date: $date}' >bench/results/exec.json
jq -r '"cat through a pty: \(.cat_mb_s_baseline) MB/s without the recorder, \(.cat_mb_s_unrecorded_loaded) MB/s unrecorded with it loaded, \(.cat_mb_s_recorded) MB/s recorded: ratio \(.cat_recorded_ratio)",
       "syscall-heavy process outside any session: \(.syscall_s_baseline) s without, \(.syscall_s_loaded) s with the recorder loaded and no session: ratio \(.syscall_outside_session_ratio)",
       "  the same while a session is open elsewhere on the node: \(.syscall_s_session_live) s: ratio \(.syscall_session_live_ratio)",
       "lost: \(.lost_events) events, \(.lost_bytes) bytes over \(.sessions) sessions"' bench/results/exec.json
