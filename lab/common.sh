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
# The KSM selftests of upstream 6.12 (Debian's linux-source-6.12), the
# conformance suite of newer KSM: only their files are extracted.
UP612=$SRC/upstream-6.12
# The whole of Debian's linux-source-6.12, for the stock612 kernel that
# make bench compares with (extracted by `setup.sh stock612`, when needed).
STOCK612_SRC=$SRC/stock-6.12
REPORTS=$BUILD/reports
JOBS=${JOBS:-$(nproc)}

# The project's own kernel files: laid over the base tree for `ours`.
PROJECT_PATHS="mm include Documentation tools/testing/selftests/vm tools/vm/ksmstat.c"

LAB_T0=${LAB_T0:-$(date +%s)}
export LAB_T0

# What a kernel log must not contain (verdict.sh; boot.sh with
# LAB_STOP_AT_FAIL): warnings, BUGs, oopses and crash headers, lockdep,
# KASAN, KFENCE and UBSAN reports, stalls, lockups and hung tasks, list and
# page state corruption, swap entry errors.
KERNEL_BAD='WARNING:|BUG:|Oops|kernel BUG at|general protection fault|Kernel panic|'
KERNEL_BAD+='invalid opcode:|divide error:|stack segment:|double fault:|\[#[0-9]+\]|'
KERNEL_BAD+='BUG [A-Za-z0-9_:.()-]+ \(|Bad swap file entry|Unused swap offset entry|Bad swap offset entry|'
KERNEL_BAD+='possible recursive locking|possible circular locking|inconsistent lock state|'
KERNEL_BAD+='INFO: trying to register non-static key|DEBUG_LOCKS_WARN_ON|'
KERNEL_BAD+='KASAN:|KFENCE:|UBSAN:|rcu_.* detected stalls|rcu: INFO:|self-detected stall|kthread starved|'
KERNEL_BAD+='soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|'
KERNEL_BAD+='list_add corruption|list_del corruption|Bad page (state|map)|page dumped because'

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

# tree_version DIR: the version of the kernel tree in DIR, e.g. 6.12.57.
tree_version() {
	awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3} /^SUBLEVEL =/{s=$3}
	     END{printf "%s.%s.%s\n", v, p, s}' "$1/Makefile"
}

# base_version: the 6.1.y of the extracted base tree, e.g. 6.1.192.
base_version() {
	[ -f "$VANILLA/Makefile" ] || die "base tree missing: run 'make setup' first"
	tree_version "$VANILLA"
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
# KERNEL is ours (or a mutant of it), else "upstream".
ksm_impl() {
	if { [ "$1" = ours ] || [ "$1" = mutant ]; } && { [ -e "$ROOT/mm/ksm" ] || [ -e "$ROOT/mm/ksm.c" ]; }; then
		echo ours
	else
		echo upstream
	fi
}

# The functions below return their failures explicitly: a caller may run
# them in a condition (`lab_run ... || ...`), where set -e does not apply.

# lab_build KERNEL FLAVOUR: bring up to date the base tree, the kernel
# build/obj/KERNEL-FLAVOUR$LAB_OBJ_SUFFIX (with $LAB_EXTRA_CONFIG) and the
# initramfs.  Each is looked at once per make invocation (LAB_BUILT).
lab_build() {
	local what
	for what in setup "kernel:$1-$2${LAB_OBJ_SUFFIX:-}" initramfs; do
		case " ${LAB_BUILT:-} " in *" $what "*) continue ;; esac
		case $what in
		setup) "$LAB/setup.sh" || return ;;
		kernel:*) "$LAB/kernel.sh" "$1" "$2" || return ;;
		initramfs) "$LAB/initramfs.sh" || return ;;
		esac
		LAB_BUILT="${LAB_BUILT:-} $what"
	done
	export LAB_BUILT
}

# lab_boot KERNEL FLAVOUR SUITES REPORT [HOST_TAP...]: boot the built kernel,
# run SUITES in the guest (lab/boot.sh) and give the verdict on them and on
# the host's own results HOST_TAP (lab/verdict.sh), which also goes to
# build/reports/REPORT.summary (LAB_QUIET_VERDICT=1: only there).  Returns
# the verdict's status.
lab_boot() {
	local kernel=$1 flavour=$2 suites=$3 report=$4
	shift 4
	"$LAB/boot.sh" "$kernel" "$flavour" "$suites" "$report" || return
	if [ -n "${LAB_QUIET_VERDICT:-}" ]; then
		"$LAB/verdict.sh" "$report" "$(ksm_impl "$kernel")" "$@" >/dev/null
	else
		say "verdict (build/reports/$report.summary):"
		"$LAB/verdict.sh" "$report" "$(ksm_impl "$kernel")" "$@"
	fi
}

# lab_run KERNEL FLAVOUR SUITES REPORT [HOST_TAP...]: build what is stale,
# boot, run, verdict: lab_build, then lab_boot.  Every entry point of the
# lab (make run, check, stress, bench, profile) goes through here.
lab_run() {
	lab_build "$1" "$2" || return
	lab_boot "$@"
}

# host_tsc_khz: the host's TSC frequency, by ksm_bench on the host (built
# with the initramfs), for the guest's tsc_early_khz= (under TCG the guest's
# TSC is the host's, and its calibration against the PIT fails on a loaded
# host; then CLOCK_MONOTONIC ticks in jiffies).
host_tsc_khz() {
	"$BUILD/guest/bin/ksm_bench-host" tsc_khz ||
		die "ksm_bench-host could not measure the TSC (lab/initramfs.sh builds it)"
}
