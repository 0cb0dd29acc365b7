#!/usr/bin/env bash
# Refuses pipelines whose last reader can stop before its producer is done, which under
# `set -o pipefail` fail at random: `grep -q`/`-m` exits at its first match and `head` after
# its lines, the producer's next write then gets SIGPIPE (or EPIPE: curl exits 23, python
# raises), and the whole pipeline reports failure although the match was found. Run by the
# format tier of tests/run.sh; prints file:line of every offender and exits 1.
#
#   tests/check_scripts.sh              every shell script in the repository
#   tests/check_scripts.sh PATH...      these files, or the shell scripts under these folders
#
# A shell script is a *.sh file or a file whose first line is a shell's #!. Lines continued
# with a trailing backslash or pipe are read as one; full-line comments are skipped. Text
# inside quotes is scanned too, so `bash -c "... | grep -q ..."` is refused like any other.
# grep's options are read up to its first other word (write them before the pattern).
#
# What to write instead, with the same behaviour:
#   out=$(producer); grep -q PATTERN <<<"$out"     match on captured output
#   producer | grep PATTERN >/dev/null              grep reads everything, then says 0 or 1
#   producer | sed -n 1p                            the first line, every line read
set -euo pipefail

cd "$(dirname "$0")/.."

is_shell_script() {
	case $1 in
	*.sh) return 0 ;;
	esac
	local first
	IFS= read -r first <"$1" 2>/dev/null || return 1
	[[ $first =~ ^\#!.*[/\ ](ba|da|k|z)?sh([[:space:]]|$) ]]
}

files=()
add_candidates() {
	local f
	while IFS= read -r -d '' f; do
		if is_shell_script "$f"; then
			files+=("$f")
		fi
	done
}
if (($#)); then
	for p in "$@"; do
		if [ -d "$p" ]; then
			add_candidates < <(find "$p" -type f -print0)
		elif [ -f "$p" ]; then
			files+=("$p")
		else
			echo "check_scripts: $p: no such file or folder" >&2
			exit 2
		fi
	done
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	add_candidates < <(git ls-files -z --cached --others --exclude-standard)
else
	add_candidates < <(find . -path ./build -prune -o -path ./.git -prune -o -type f -print0)
fi
((${#files[@]})) || {
	echo "check_scripts: no shell scripts found" >&2
	exit 2
}

awk '
# Options of grep that take the next word as their argument when it is not attached.
BEGIN {
	split("regexp file after-context before-context context label devices directories " \
	      "binary-files include exclude exclude-from exclude-dir", l, " ")
	for (i in l) long_arg["--" l[i]] = 1
	bad = 0
}

function offend(pos, what,   k, line) {
	line = seg_line[1]
	for (k = 1; k <= nseg; k++)
		if (seg_start[k] <= pos) line = seg_line[k]
	printf "%s:%d: %s\n", FILENAME, line, what
	bad = 1
}

# grep_stops_early(rest): rest is what follows "grep"; 1 if its options make it stop
# reading at a match (-q, --quiet, --silent, -m N, --max-count, -l, -L and their long names).
function grep_stops_early(rest,   n, w, i, j, c, skip) {
	n = split(rest, w, /[ \t]+/)
	skip = 0
	for (i = 1; i <= n; i++) {
		if (w[i] == "") continue
		if (skip) { skip = 0; continue }
		if (w[i] !~ /^-/ || w[i] == "--" || w[i] == "-") return 0
		if (w[i] ~ /^--/) {
			if (w[i] ~ /^--(quiet|silent|max-count|files-with)/) return 1
			if (w[i] in long_arg) skip = 1
			continue
		}
		for (j = 2; j <= length(w[i]); j++) {
			c = substr(w[i], j, 1)
			if (index("qmlL", c)) return 1
			if (index("efABCdD", c)) {
				if (j == length(w[i])) skip = 1
				break
			}
		}
	}
	return 0
}

function scan(s,   i, n, c, rest, cmd) {
	n = length(s)
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (c != "|") continue
		if (substr(s, i + 1, 1) == "|") { i++; continue }
		rest = substr(s, i + 1)
		sub(/^&/, "", rest)
		sub(/^[ \t]+/, "", rest)
		if (!match(rest, /^(head|[ef]?grep)([ \t;|&)"\047]|$)/)) continue
		cmd = substr(rest, 1, RLENGTH)
		sub(/[^a-z]$/, "", cmd)
		if (cmd == "head")
			offend(i, "head behind a pipe stops reading after its lines; under pipefail the producer can die of SIGPIPE: use sed -n 1p (reads everything), or capture the output first")
		else if (grep_stops_early(substr(rest, length(cmd) + 1)))
			offend(i, cmd " -q (or -m, -l) behind a pipe exits at the first match; under pipefail the producer can die of SIGPIPE: grep -q ... <<<\"$out\" on captured output, or grep ... >/dev/null behind the pipe")
	}
}

function flush() {
	if (nseg) scan(logical)
	logical = ""
	nseg = 0
}

FNR == 1 { flush() }

{
	line = $0
	if (line ~ /^[ \t]*#/) next
	nseg++
	seg_start[nseg] = length(logical) + 1
	seg_line[nseg] = FNR
	cont = 0
	sub(/[ \t]+$/, "", line)
	if (line ~ /\\$/) { line = substr(line, 1, length(line) - 1); cont = 1 }
	else if (line ~ /\|$/) cont = 1
	logical = logical line " "
	if (!cont) flush()
}

END {
	flush()
	exit bad
}
' "${files[@]}" || {
	echo "check_scripts: refused (see above); tests/check_scripts.sh explains what to write instead" >&2
	exit 1
}
echo "check_scripts: ${#files[@]} scripts, no early-exit reader behind a pipe"
