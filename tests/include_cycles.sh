#!/usr/bin/env bash
# Fails when the project's own modules include each other in a circle, and names the circle.
#
# A module is a file without its extension: x.c and x.h are one node, because a circle of
# modules (a.c includes b.h while b.c includes a.h) is the knot that matters, even though no
# header includes itself. Includes are resolved the way the compiler's -I. -Iinclude -Ilib
# would, against files of the tree; system and generated headers are not nodes. tsort(1)
# finds the circle.
#
#   tests/include_cycles.sh [ROOT]     (default: the repository this script is in)
#   tests/include_cycles.sh --self-test  plants a circle in a scratch tree: must fail, naming it
set -euo pipefail

if [ "${1:-}" = --self-test ]; then
	tree=$(mktemp -d)
	trap 'rm -rf "$tree"' EXIT
	mkdir -p "$tree/lib/x" "$tree/y"
	printf '#include "x/b.h"\n' >"$tree/lib/x/a.c"
	for h in lib/x/a.h lib/x/b.h y/c.h; do printf '#pragma once\n' >"$tree/$h"; done
	printf '#include "x/a.h"\n#include "y/c.h"\n' >"$tree/lib/x/b.c"
	if out=$("$0" "$tree" 2>&1); then
		echo "include_cycles: a planted circle passed: $out" >&2
		exit 1
	fi
	if [[ $out != *"lib/x/a -> lib/x/b"* && $out != *"lib/x/b -> lib/x/a"* ]]; then
		echo "include_cycles: the planted circle was not named: $out" >&2
		exit 1
	fi
	echo "include_cycles: a planted circle fails, named"
	exit 0
fi

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

module() { # path → module name
	local p=${1#./}
	p=${p%.bpf.c}
	p=${p%.[ch]}
	printf '%s\n' "$p"
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

while IFS= read -r -d '' file; do
	from=$(module "$file")
	# A node of its own, so a module that includes nothing still counts.
	printf '%s %s\n' "$from" "$from" >>"$edges"
	dir=$(dirname "$file")
	while IFS= read -r inc; do
		for cand in "$dir/$inc" "$inc" "include/$inc" "lib/$inc"; do
			if [ -f "$cand" ]; then
				to=$(module "$(realpath --relative-to=. "$cand")")
				[ "$to" = "$from" ] || printf '%s %s\n' "$to" "$from" >>"$edges"
				break
			fi
		done
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find . -path ./build -prune -o -path ./.git -prune -o -path ./e2e/cluster -prune -o \
	\( -name '*.c' -o -name '*.h' \) -type f -print0)

if ! out=$(tsort "$edges" 2>&1 >/dev/null); then
	echo "include_cycles: modules include each other in a circle:" >&2
	# tsort prints "input contains a loop:" and then the loop's members, one a line.
	awk '/input contains a loop/ { if (l) print "  " l; l = ""; next }
	     { sub(/^tsort: /, ""); l = l ? l " -> " $0 : $0 }
	     END { if (l) print "  " l }' <<<"$out" >&2
	exit 1
fi
echo "include_cycles: $(cut -d' ' -f2 "$edges" | sort -u | wc -l) modules, no circle"
