# SPDX-License-Identifier: GPL-2.0
# Shared by the lab's scripts: paths, progress and error reporting.
# shellcheck shell=bash

set -euo pipefail

LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$LAB")
BUILD=${LAB_BUILD:-$ROOT/build}
SRC=$BUILD/src
VANILLA=$SRC/vanilla
OURS_SRC=$SRC/ours
REPORTS=$BUILD/reports
JOBS=${JOBS:-$(nproc)}

# The project's own kernel files: laid over the base tree for `ours`.
PROJECT_PATHS="mm include Documentation tools/testing/selftests/vm"

LAB_T0=${LAB_T0:-$(date +%s)}
export LAB_T0

say() { printf '[lab %4ss] %s\n' "$(($(date +%s) - LAB_T0))" "$*"; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

# step LOG DESCRIPTION CMD...: run CMD with its output in LOG; on failure show
# where the log is and its last lines, and return 1 (which ends a caller
# running under set -e).
step() {
	local log=$1 what=$2 t0 rc=0
	shift 2
	mkdir -p "$(dirname "$log")"
	t0=$(date +%s)
	say "$what ..."
	"$@" >"$log" 2>&1 &
	local pid=$! i=0
	# A heartbeat with the log's last line while a long step runs.
	while kill -0 $pid 2>/dev/null; do
		sleep 1
		i=$((i + 1))
		[ $((i % 30)) -eq 0 ] &&
			say "  ... $(($(date +%s) - t0))s: $(tail -n 1 "$log" | cut -c1-70)"
	done
	wait $pid || rc=$?
	if [ $rc -ne 0 ]; then
		printf '[lab] error: %s failed (exit %d) after %ss; log: %s\n' \
			"$what" $rc "$(($(date +%s) - t0))" "$log" >&2
		printf '[lab] last lines of the log:\n' >&2
		tail -n 25 "$log" | sed 's/^/    /' >&2
		return 1
	fi
	say "$what: done in $(($(date +%s) - t0))s"
}

# base_version: the 6.1.y of the extracted base tree, e.g. 6.1.192.
base_version() {
	[ -f "$VANILLA/Makefile" ] || die "base tree missing: run 'make setup' first"
	awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3} /^SUBLEVEL =/{s=$3}
	     END{printf "%s.%s.%s\n", v, p, s}' "$VANILLA/Makefile"
}

# project_files: the project's kernel files, relative to ROOT, one per line.
project_files() {
	local p
	for p in $PROJECT_PATHS; do
		[ -e "$ROOT/$p" ] || continue
		(cd "$ROOT" && find "$p" -type f ! -name '*.orig' ! -name '*~' \
			! -name '.*.swp' ! -name '*.o')
	done | LC_ALL=C sort
}

# ksm_impl KERNEL: "ours" when the project ships its own KSM sources and
# KERNEL is ours, else "upstream".
ksm_impl() {
	if [ "$1" = ours ] && { [ -e "$ROOT/mm/ksm" ] || [ -e "$ROOT/mm/ksm.c" ]; }; then
		echo ours
	else
		echo upstream
	fi
}
