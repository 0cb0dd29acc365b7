#!/usr/bin/env bash
# Proves tests/check_scripts.sh can fail: it plants early-exit readers behind pipes in scratch
# scripts and expects each one refused with its file:line, and the safe spellings accepted.
# TAP output, one case per planted script. The pipe is spelled $P here so that this file does
# not itself hold what the check refuses.
set -euo pipefail

check=$(cd "$(dirname "$0")" && pwd)/check_scripts.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P='|'
n=0 failed=0

# TAP descriptions are one line: a planted script's line breaks are shown as "\n".
ok() {
	n=$((n + 1))
	echo "ok $n - ${1//$'\n'/\\n }"
}
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - ${1//$'\n'/\\n }"
	sed -e 's/^/# /' "$tmp/out"
}

# plant NAME TEXT: a script NAME under a fresh folder, holding TEXT after the usual header.
plant() {
	rm -rf "$tmp/s"
	mkdir -p "$tmp/s"
	printf '#!/usr/bin/env bash\nset -euo pipefail\n%s\n' "$2" >"$tmp/s/$1"
}

# refused LINE NAME TEXT: the check must fail and name NAME:LINE (LINE counts the header).
refused() {
	local line=$1 name=$2 rc=0
	plant "$name" "$3"
	"$check" "$tmp/s" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" -eq 1 ] && grep -F "$tmp/s/$name:$line: " "$tmp/out" >/dev/null; then
		ok "refused: $3"
	else
		echo "# exit status $rc, wanted 1 and $name:$line" >>"$tmp/out"
		not_ok "refused: $3"
	fi
}

# accepted NAME TEXT: the check must pass.
accepted() {
	local rc=0
	plant "$1" "$2"
	"$check" "$tmp/s" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "accepted: $2"
	else
		not_ok "accepted: $2"
	fi
}

refused 3 a.sh "curl -s http://127.0.0.1:1/metrics $P grep -q ok"
refused 3 a.sh "producer $P grep -qE '^x [1-9]'"
refused 3 a.sh "producer $P grep -qx line"
refused 3 a.sh "producer $P grep -c x $P grep -qx 2"
refused 3 a.sh "producer $P grep -E -q x"
refused 3 a.sh "producer $P grep -A 2 -q x"
refused 3 a.sh "producer $P grep --quiet x"
refused 3 a.sh "producer $P grep -m1 x"
refused 3 a.sh "producer $P grep -l x"
refused 3 a.sh "producer $P egrep -q x"
refused 3 a.sh "producer ${P}& grep -q x"
refused 3 a.sh "! ip netns list $P grep -q '^ns'"
refused 3 a.sh "wait_for 10 bash -c \"curl -s x $P grep -q served\" || exit 1"
refused 4 a.sh "echo first
producer $P head -n1"
refused 4 a.sh "echo first
producer $P
	grep -q x"
refused 6 a.sh "echo first
producer \\
	--flag \\
	$P grep -q x"
# Found in a folder by its #! line, without the .sh name.
refused 3 run "producer $P grep -q x"

accepted a.sh "out=\$(producer); grep -q x <<<\"\$out\""
accepted a.sh "producer $P grep x >/dev/null"
accepted a.sh "producer $P grep -c x"
accepted a.sh "producer $P grep -e -q >/dev/null"
accepted a.sh "producer $P sed -n 1p"
accepted a.sh "jq -r '.a $P .b' file $P grep x >/dev/null"
accepted a.sh "true || grep -q x file"
accepted a.sh "grep -q x file"
accepted a.sh "# a comment may say: producer $P grep -q x"
# A file that is not a shell script (no .sh, no shell #!) is not read; a folder with no script
# at all is an error of its own (exit 2), never a pass.
rm -rf "$tmp/s"
mkdir -p "$tmp/s"
printf 'producer %s grep -q x\n' "$P" >"$tmp/s/notes.txt"
rc=0
"$check" "$tmp/s" >"$tmp/out" 2>&1 || rc=$?
if [ "$rc" -eq 2 ]; then
	ok "a folder without shell scripts: exit 2"
else
	not_ok "a folder without shell scripts: exit $rc, wanted 2"
fi

echo "1..$n"
((failed == 0))
