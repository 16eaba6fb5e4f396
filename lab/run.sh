#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh KERNEL FLAVOUR [DEMO]: `make run`, the demo: build, boot and show
# KSM merging live, then the verdict on the demo and the kernel log.
# DEMO=merge (the default): processes with duplicated data; DEMO=domains:
# the same split between two tenants' memory cgroups, merge_domain memcg;
# DEMO=vms: two QEMU guests in the lab guest (lab/vms.sh), which boots the
# bench flavour whatever FLAVOUR says: nested TCG is too slow with lockdep.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test} demo=${3:-merge}
case $demo in
merge) suite=demo ;;
domains) suite=demo-domains ;;
vms)
	flavour=bench
	lab_build "$kernel" bench || exit 1
	lab_build stock bench || exit 1
	"$LAB/vms.sh" || exit 1
	rc=0
	LAB_GUEST=$BUILD/guest-vms LAB_MEM=${LAB_MEM:-3G} LAB_SHOW=. LAB_QUIET_VERDICT=1 \
		lab_boot "$kernel" bench vms "run-$kernel-vms" || rc=$?
	tr -d '\r' <"$REPORTS/run-$kernel-vms.tap" | sed -n 's/^    # \(vms: .*\)/\1/p' | tail -n 1
	[ $rc -eq 0 ] || die "the VM demo failed: see $REPORTS/run-$kernel-vms.summary"
	exit 0
	;;
*) die "DEMO must be merge, domains or vms, not '$demo'" ;;
esac
rc=0
LAB_SHOW=. LAB_QUIET_VERDICT=1 lab_run "$kernel" "$flavour" "$suite" "run-$kernel" || rc=$?
tr -d '\r' <"$REPORTS/run-$kernel.tap" | sed -n 's/^    \(ksm_demo: .*\)/\1/p' | tail -n 1
[ $rc -eq 0 ] || die "the demo failed: see $REPORTS/run-$kernel.summary"
