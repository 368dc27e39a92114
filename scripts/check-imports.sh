#!/usr/bin/env bash
# Imports are one declaration per line, in groups separated by a blank line, each group
# sorted by path (docs/CONVENTIONS.md). gofmt sorts the lines of an import ( ... ) block
# but not separate declarations, so this check keeps the groups in order.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
blocks=$(grep -rl --include='*.go' '^import ($' "$@" || true)
if [ -n "$blocks" ]; then
	echo "one import per line (docs/CONVENTIONS.md), not a block: $blocks"
	status=1
fi
unsorted=$(LC_ALL=C find "$@" -name '*.go' -print0 | LC_ALL=C xargs -0 awk '
	FNR == 1 { prev = "" }
	/^import / {
		path = $0; sub(/^[^"]*"/, "", path); sub(/".*/, "", path)
		if (prev != "" && path < prev) { print FILENAME ":" FNR; nextfile }
		prev = path; next
	}
	{ prev = "" }')
if [ -n "$unsorted" ]; then
	echo "import group out of order (sort it by path): $unsorted"
	status=1
fi
exit $status
