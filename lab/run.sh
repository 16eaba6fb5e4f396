#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh KERNEL FLAVOUR: `make run`, the demo: build, boot and show KSM
# merging live, then the verdict on the demo and the kernel log.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test}
"$LAB/setup.sh"
"$LAB/kernel.sh" "$kernel" "$flavour"
"$LAB/initramfs.sh"
LAB_SHOW=. "$LAB/boot.sh" "$kernel" "$flavour" demo "run-$kernel"
tr -d '\r' <"$REPORTS/run-$kernel.tap" | sed -n 's/^    \(ksm_demo: .*\)/\1/p' | tail -n 1
"$LAB/verdict.sh" "run-$kernel" "$(ksm_impl "$kernel")" >/dev/null ||
	die "the demo failed: see $REPORTS/run-$kernel.summary"
