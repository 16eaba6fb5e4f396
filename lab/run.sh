#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh KERNEL FLAVOUR: `make run`, the demo: build, boot and show KSM
# merging live, then the verdict on the demo and the kernel log.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test}
rc=0
LAB_SHOW=. LAB_QUIET_VERDICT=1 lab_run "$kernel" "$flavour" demo "run-$kernel" || rc=$?
tr -d '\r' <"$REPORTS/run-$kernel.tap" | sed -n 's/^    \(ksm_demo: .*\)/\1/p' | tail -n 1
[ $rc -eq 0 ] || die "the demo failed: see $REPORTS/run-$kernel.summary"
