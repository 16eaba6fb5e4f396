#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh KERNEL FLAVOUR [SUITES]: everything `make check` does for one
# kernel: build what is stale, write and check the patch series, boot, run
# the suites, and give the verdict.
source "$(dirname "$0")/common.sh"

kernel=${1:-ours} flavour=${2:-test}
# KASAN slows the guest: its run keeps the project's programs and the stress
# suite's short runs, and leaves the repeated upstream conformance to test.
case $flavour in
kasan) suites=${3:-kunit,selftests,stress} ;;
*) suites=${3:-kunit,selftests,conformance,race,stress} ;;
esac
report=check-$kernel-$flavour
impl=$(ksm_impl "$kernel")
say "make check: $kernel kernel ($impl KSM code), $flavour flavour"
lab_build "$kernel" "$flavour"
rm -f "$REPORTS"/host-*.tap
if [ "$kernel" = ours ]; then
	"$LAB/patch.sh" --checkpatch
	"$LAB/lint.sh"
	# The harness must see failures: a kernel without KSM, a failing and
	# a hanging program (host-controls.tap).
	[ "$flavour" = test ] && "$LAB/controls.sh"
	# KSM's real client: two QEMU guests inside the guest, booting this
	# kernel (make run DEMO=vms, on the test flavour; host-vms.tap).
	[ "$flavour" = test ] && "$LAB/vms.sh" --check
fi
lab_run "$kernel" "$flavour" "$suites" "$report" "$REPORTS"/host-*.tap
