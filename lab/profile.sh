#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# profile.sh KERNEL WORKLOAD[,WORKLOAD...]: `make profile`.  Build KERNEL (ours|stock) in
# the bench flavour plus the tick profiler (build/obj/KERNEL-bench-prof),
# boot it with profile=2, run one bench workload (quick sizes: merge, scan,
# cow, unmerge, steady, vm, ...) under ksm_prof, and print where the kernel spent
# its samples (lab/profile-report.py): the top functions, and the share of
# KSM's own.  The table goes to build/reports/profile-KERNEL-WORKLOAD.txt.
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
