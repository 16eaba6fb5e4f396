#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# profile.sh KERNEL WORKLOAD[,WORKLOAD...]: `make profile`.  Build KERNEL (ours|stock) in
# the bench flavour plus the tick profiler (build/obj/KERNEL-bench-prof),
# boot it with profile=2, run one bench workload (quick sizes: merge, scan,
# cow, unmerge, steady, vm, ...) under ksm_prof, and print where the kernel spent
# its samples (lab/profile-report.py): the top functions, and the share of
# KSM's own.  The table goes to build/reports/profile-KERNEL-WORKLOAD.txt.
#
# PROFILER=perf: the same with perf instead (build/obj/KERNEL-bench-perf, with
# high-resolution timers): the host's perf binary and its libraries are
# copied into a guest of their own (build/guest-perf), each workload runs
# under `perf record -a` (lab/guest/perf-run), and the report gives the
# samples by task and ksmd's by function, in
# build/reports/profile-perf-KERNEL-WORKLOAD.txt.  It sees what the tick
# profiler cannot: ksmd's short bursts between two ticks (steady, idle).
# The scan loop (ours' mm/ksm/scan.c, stock's mm/ksm.c) is built with
# -fno-inline-functions-called-once, so that the steps of a scan keep
# their own names instead of all counting as ksmd's thread function.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} workloads=${2:-merge}
suites=
for w in ${workloads//,/ }; do
	case $w in
	merge | scan | cow | unmerge | steady | latency | idle | vm | scale | sparse | phases | shapes)
		suites=${suites:+$suites,}profile-$w ;;
	*) die "WORKLOAD must be a bench workload (merge, scan, cow, unmerge, steady, latency, idle, vm, scale, sparse, phases, shapes; or a comma-separated list), not '$w'" ;;
	esac
done
case ${PROFILER:-tick} in
tick | perf) ;;
*) die "PROFILER must be tick or perf, not '$PROFILER'" ;;
esac
if [ "${PROFILER:-tick}" = perf ]; then
	perf=$(command -v perf) ||
		die "PROFILER=perf needs perf on the host (it runs in the guest): apt-get install linux-perf"
	report=profile-perf-$kernel-${workloads//,/-}
	export LAB_EXTRA_CONFIG=$LAB/config/perf.config LAB_OBJ_SUFFIX=-perf
	export LAB_MAKE_ARGS="${LAB_MAKE_ARGS:-} CFLAGS_scan.o=-fno-inline-functions-called-once CFLAGS_ksm.o=-fno-inline-functions-called-once"
	lab_build "$kernel" bench
	guest=$BUILD/guest-perf
	rm -rf "$guest"
	mkdir -p "$guest"
	cp -a "$BUILD/guest/root" "$guest/root"
	mkdir -p "$guest/root/usr/lib"
	cp "$perf" "$guest/root/bin/perf"
	cp "$LAB/guest/perf-run" "$guest/root/lab/"
	ldd "$perf" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
		while read -r lib; do cp -L "$lib" "$guest/root/usr/lib/"; done
	loader=$(ldd "$perf" | awk '$1 ~ /^\/.*ld-linux/ { print $1 }')
	[ -n "$loader" ] || die "no dynamic loader in 'ldd $perf'"
	mkdir -p "$guest/root$(dirname "$loader")"
	cp -L "$loader" "$guest/root$loader"
	# The tick profiler's cases (lab/initramfs.sh), with perf-run for ksm_prof.
	for w in ${workloads//,/ }; do
		sed -i 's#^\([^|]*|[^|]*|\)ksm_prof #\1LD_LIBRARY_PATH=/usr/lib /lab/perf-run #' \
			"$guest/root/lab/profile-$w.cases"
	done
	(cd "$guest/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
		gzip -1 >"$guest/initramfs.cpio.gz"
	LAB_GUEST=$guest LAB_SHOW='^(ok |not ok |# running|    bench: (FAIL|result))' \
		LAB_QUIET_VERDICT=1 lab_boot "$kernel" bench "$suites" "$report" ||
		die "the profiled run failed: see $REPORTS/$report.summary"
	say "profile (build/reports/$report.txt):"
	grep -a -e '^# running' -e '^    perf: ' "$REPORTS/$report.tap" |
		sed -e 's/^    perf: //' | tee "$REPORTS/$report.txt"
	exit 0
fi

report=profile-$kernel-${workloads//,/-}
obj=$BUILD/obj/$kernel-bench-prof
export LAB_EXTRA_CONFIG=$LAB/config/profile.config LAB_OBJ_SUFFIX=-prof
lab_build "$kernel" bench
LAB_CMDLINE="profile=2 ${LAB_CMDLINE:-}" \
	LAB_SHOW='^(ok |not ok |# running|    bench: (FAIL|result))' LAB_QUIET_VERDICT=1 \
	lab_run "$kernel" bench "$suites" "$report" ||
	die "the profiled run failed: see $REPORTS/$report.summary"
say "profile (build/reports/$report.txt):"
"$LAB/profile-report.py" "$obj/System.map" "$REPORTS/$report.tap" | tee "$REPORTS/$report.txt"
