#!/usr/bin/env bash
# kubectl-bulwark on real recordings: records sessions with the kernel test, then checks that
# `verify` passes and locates a flipped byte, that `replay` and `export` reproduce the output,
# that Debian's asciinema plays the exported file, and that `replay --web` serves a page on
# which headless Chromium shows the session's text (in its DOM, and in a screenshot read back
# by OCR).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLI=$BUILD/bin/kubectl-bulwark
REC=$BUILD/tests/kernel/test_execrec_sessions

if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root"; exit 77; fi
for f in "$CLI" "$REC"; do
	[ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }
done

work=$(mktemp -d /tmp/bulwark-execrec-cli-XXXXXX)
web_pid=
cleanup() {
	[ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null
	[ -n "${dir:-}" ] && rm -rf "$dir"
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

KEEP_RECORDINGS=1 "$REC" >"$work/rec.log" 2>&1 || { cat "$work/rec.log"; fail "recording sessions"; }
dir=$(sed -n 's/^# recordings kept in //p' "$work/rec.log")
[ -d "$dir" ] || fail "no recordings directory in the kernel test's output"
id=$(grep -l 'hello-42' "$dir"/*.cast | sed -n 1p | xargs -r basename | sed 's/\.cast$//')
[ -n "$id" ] || fail "no recording of the tty session"
echo "# session $id"

"$CLI" sessions --recordings-dir "$dir" >"$work/sessions" || fail "sessions"
grep -q "$id .*test/pod-under-test .*ctr .*sh -i" "$work/sessions" || { cat "$work/sessions"; fail "sessions table"; }

"$CLI" verify --recordings-dir "$dir" "$id" >"$work/verify" || { cat "$work/verify"; fail "verify of an intact recording"; }
grep -q '^OK ' "$work/verify" || fail "verify output: $(cat "$work/verify")"

"$CLI" replay --recordings-dir "$dir" "$id" --speed 1000 --idle-limit 0.01 >"$work/replay" || fail "replay"
grep -q 'hello-42' "$work/replay" || fail "replay lacks the session's output"

"$CLI" export --recordings-dir "$dir" "$id" -o "$work/export.cast" || fail "export"
cmp -s "$work/export.cast" "$dir/$id.cast" || fail "export differs from the recording"
[ "$(stat -c %a "$work/export.cast")" = 600 ] || fail "export is not mode 0600"
if "$CLI" export --recordings-dir "$dir" "$id" -o "$work/export.cast" 2>/dev/null; then
	fail "export overwrote an existing file"
fi

# Tamper with a copy: flip one byte inside cast record 5.
mkdir "$work/tampered"
cp "$dir/$id".* "$work/tampered/"
off=$(head -n 5 "$work/tampered/$id.cast" | wc -c)
printf 'Z' | dd of="$work/tampered/$id.cast" bs=1 seek=$((off + 3)) conv=notrunc status=none
digest=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$dir/$id.chain")
rc=0
"$CLI" verify --recordings-dir "$work/tampered" "$id" --digest "$digest" >"$work/verify2" || rc=$?
[ "$rc" = 1 ] || fail "verify of a tampered recording exited $rc: $(cat "$work/verify2")"
grep -q "cast record 5 (event index 4), bytes $off\.\." "$work/verify2" ||
	fail "verify did not locate the change: $(cat "$work/verify2")"
echo "# $(cat "$work/verify2")"

if command -v asciinema >/dev/null && command -v script >/dev/null; then
	# asciinema cat wants a terminal; script(1) gives it one.
	script -qec "asciinema cat $work/export.cast" /dev/null </dev/null >"$work/asciinema.out" 2>&1 ||
		fail "asciinema cat failed: $(tail -n 3 "$work/asciinema.out")"
	grep -q 'hello-42' "$work/asciinema.out" || fail "asciinema cat lacks the output"
	echo "# asciinema cat: ok"
else
	echo "# asciinema not installed: skipped playing the export with it"
fi

player=$BUILD/share/asciinema-player/asciinema-player.min.js
if command -v chromium >/dev/null && [ -f "$player" ]; then
	"$CLI" replay --web --recordings-dir "$dir" "$id" --serve-seconds 120 --speed 50 \
		>"$work/web.out" 2>&1 &
	web_pid=$!
	url=
	for _ in $(seq 50); do
		url=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$work/web.out")
		[ -n "$url" ] && break
		sleep 0.1
	done
	[ -n "$url" ] || fail "replay --web did not start: $(cat "$work/web.out")"
	case $url in http://127.0.0.1:*) ;; *) fail "replay --web serves on $url, not loopback" ;; esac
	# A loaded machine can starve the player before its virtual-time budget runs out; the
	# page is loaded afresh up to three times before the check fails.
	for attempt in 1 2 3; do
		prof=$(mktemp -d)
		timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
			--no-first-run --user-data-dir="$prof" --virtual-time-budget=30000 --dump-dom "$url" \
			>"$work/dom.html" 2>/dev/null
		rm -rf "$prof"
		grep -q 'hello-42' "$work/dom.html" && grep -q 'from-a-child-process' "$work/dom.html" && break
		echo "# attempt $attempt: the page did not show the whole session yet"
	done
	grep -q 'hello-42' "$work/dom.html" || fail "the web player does not show the session's text"
	grep -q 'from-a-child-process' "$work/dom.html" || fail "the web player lacks later output"
	echo "# replay --web: the page's DOM holds the session"
	# What a person would see: a screenshot of the page, its text read back by OCR.
	if command -v tesseract >/dev/null; then
		for attempt in 1 2 3; do
			prof=$(mktemp -d)
			rm -f "$work/shot.png"
			timeout 90 chromium --headless --no-sandbox --disable-gpu \
				--disable-background-networking --no-first-run --user-data-dir="$prof" \
				--virtual-time-budget=30000 --window-size=1024,768 \
				--screenshot="$work/shot.png" "$url" >/dev/null 2>&1
			rm -rf "$prof"
			tesseract "$work/shot.png" - 2>/dev/null >"$work/shot.txt"
			grep -q 'hello-42' "$work/shot.txt" && grep -q 'from-a-child-process' "$work/shot.txt" &&
				break
			echo "# attempt $attempt: the screenshot did not show the whole session yet"
		done
		grep -q 'hello-42' "$work/shot.txt" ||
			fail "the screenshot of the web player does not show the session's text: $(head -c 300 "$work/shot.txt")"
		grep -q 'from-a-child-process' "$work/shot.txt" ||
			fail "the screenshot of the web player lacks later output"
		echo "# replay --web: a screenshot shows the session (read back by OCR)"
	else
		echo "# tesseract not installed: skipped the screenshot check"
	fi
else
	echo "# chromium or the built web player missing: skipped replay --web"
fi
echo "PASS"
