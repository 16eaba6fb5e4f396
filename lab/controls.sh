#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# controls.sh: the negative controls of `make check`.  Each boots a guest
# that must fail, and checks that the verdict says so, for the right
# reason; the results go to build/reports/host-controls.tap.
#  1. the kernel built with CONFIG_KSM=n (lab/lint.sh builds it) runs the
#     KUnit suites and the selftests: every one of them must fail (a skip
#     is a failure);
#  2. the controls suite: a program that fails, one that fails a subtest
#     and exits 0, and one that hangs its runner, which the host must stop
#     (lab/boot.sh's watchdog).
source "$(dirname "$0")/common.sh"

out=$REPORTS/host-controls.tap
: >"$out"
n=0
res() { # res ok|"not ok" TEXT
	n=$((n + 1))
	echo "$1 $n control: $2" >>"$out"
	say "$1 $n control: $2"
}

say "negative controls: a kernel without KSM, failing programs and a hanging one"
[ -f "$BUILD/obj/ours-test-noksm/arch/x86/boot/bzImage" ] ||
	die "no CONFIG_KSM=n kernel: lab/lint.sh builds it"
LAB_OBJ_SUFFIX=-noksm LAB_SHOW='^$' LAB_QUIET_VERDICT=1 \
	lab_boot ours test kunit,selftests control-noksm || true
sum=$(cat "$REPORTS/control-noksm.summary")
total=$(grep -vc '^#' "$REPORTS/control-noksm.expect")
failed=$(grep -cE '^FAIL  [0-9]+ (kunit|selftests): ' <<<"$sum" || true)
if tail -n 1 <<<"$sum" | grep -qE '^0 passed, ' && [ "$failed" -eq "$total" ]; then
	res ok "CONFIG_KSM=n: all $total KUnit suites and selftests fail"
else
	res "not ok" "CONFIG_KSM=n: $failed of $total KUnit suites and selftests fail ($REPORTS/control-noksm.summary)"
fi

LAB_GRACE=10 LAB_SHOW='^$' LAB_QUIET_VERDICT=1 lab_boot ours test controls control-runner || true
sum=$(cat "$REPORTS/control-runner.summary")
if grep -qE '^FAIL  1 controls: fails' <<<"$sum"; then
	res ok "a failing program fails the verdict"
else
	res "not ok" "a failing program did not fail the verdict ($REPORTS/control-runner.summary)"
fi
if grep -qE '^FAIL  controls: fails a subtest and exits 0: exit 0 after a failure: not ok 2' <<<"$sum"; then
	res ok "a program that fails a subtest and exits 0 fails the verdict"
else
	res "not ok" "a program that failed a subtest and exited 0 did not fail the verdict ($REPORTS/control-runner.summary)"
fi
if grep -q 'guest failed: watchdog: controls: hangs its runner' <<<"$sum" &&
	grep -q 'results missing' <<<"$sum"; then
	res ok "a program that hangs its runner is stopped by the host and fails the verdict"
else
	res "not ok" "a hanging program did not fail the verdict as such ($REPORTS/control-runner.summary)"
fi
