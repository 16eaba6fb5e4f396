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
rc=0
lab_run "$kernel" "$flavour" "$suites" "$report" "$REPORTS"/host-*.tap || rc=$?
# Memory errors that DEBUG_VM, and KFENCE's sampling, may not see: the
# project's selftests once more on the kasan flavour (about 6 minutes of
# runs, plus the kernel's build; LAB_KASAN=0 leaves them out).
if [ "$kernel" = ours ] && [ "$flavour" = test ] && [ "${LAB_KASAN:-1}" != 0 ]; then
	say "make check: the selftests again, on the kasan flavour"
	lab_run ours kasan selftests check-ours-kasan || rc=$?
fi
exit $rc
