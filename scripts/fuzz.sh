#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each (FUZZTIME, default
# 20s). Targets are found, not listed, so a new Fuzz* function is fuzzed in CI as soon
# as it exists. Fails on the first crash; the failing input is left under testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}

mapfile -t targets < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' cmd internal |
	while read -r file; do
		dir=$(dirname "$file")
		grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | sed "s|^|./$dir |"
	done | sort -u)

[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets found" >&2; exit 1; }
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $pkg $name for $FUZZTIME"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
done
echo "fuzz: ${#targets[@]} target(s) passed"
