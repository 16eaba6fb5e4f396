#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# verdict.sh REPORT KSM_IMPL [HOST_TAP...]: read build/reports/REPORT.tap
# and .log (plus the host's own TAP files), write REPORT.summary, print it
# and end with "N passed, N failed"; exit 1 on any failure.
# A kernel WARNING, BUG, Oops, lockdep report, KASAN report, RCU stall or
# soft lockup anywhere in the console log is a failure of its own.
source "$(dirname "$0")/common.sh"

report=$1 impl=$2
shift 2
log=$REPORTS/$report.log tap=$REPORTS/$report.tap sum=$REPORTS/$report.summary

# Stock 6.1's ksm_tests -U races with ksmd's scan: the counters it reads one
# full scan after the writes can still hold the old stable node.  Against
# upstream KSM code its failures are reported but not counted.
flaky='ksm_tests -U'

KERNEL_BAD='WARNING:|BUG:|Oops|kernel BUG at|general protection fault|Kernel panic|'
KERNEL_BAD+='possible recursive locking|possible circular locking|inconsistent lock state|'
KERNEL_BAD+='INFO: trying to register non-static key|DEBUG_LOCKS_WARN_ON|'
KERNEL_BAD+='KASAN:|KFENCE:|UBSAN:|rcu_.* detected stalls|rcu: INFO:|self-detected stall|'
KERNEL_BAD+='soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|'
KERNEL_BAD+='list_add corruption|list_del corruption|Bad page (state|map)|page dumped because'

{
	echo "$report: Linux $(base_version), $impl KSM code"
	pass=0 fail=0 skip=0 flake=0 flake_runs=0
	results=$(cat "$tap" "$@" 2>/dev/null | tr -d '\r' | grep -E '^(ok|not ok) [0-9]+ ' || true)
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		case $l in
		ok*'# SKIP'*) skip=$((skip + 1)); echo "SKIP  ${l#ok }" ;;
		ok*) pass=$((pass + 1)) ;;
		*)
			if [ "$impl" = upstream ] && [[ $l == *"$flaky"* ]]; then
				flake=$((flake + 1))
				echo "FLAKY ${l#not ok } (known upstream race, not counted)"
			else
				fail=$((fail + 1))
				echo "FAIL  ${l#not ok }"
			fi
			;;
		esac
		[[ $l == *"$flaky"* ]] && flake_runs=$((flake_runs + 1))
	done <<<"$results"
	if grep -q '^lab: guest failed' "$tap"; then
		fail=$((fail + 1))
		echo "FAIL  $(grep -m1 '^lab: guest failed' "$tap")"
	elif ! grep -q '^lab: done' "$tap"; then
		fail=$((fail + 1))
		echo "FAIL  the guest did not report completion"
	fi
	kbad=$(tr -d '\r' <"$log" | grep -E "$KERNEL_BAD" || true)
	if [ -n "$kbad" ]; then
		nk=$(wc -l <<<"$kbad")
		fail=$((fail + 1))
		echo "FAIL  kernel log: $nk line(s) reporting kernel problems, first ones:"
		head -n 10 <<<"$kbad" | sed 's/^/        /'
	else
		echo "kernel log: no WARNING, BUG, Oops, lockdep, KASAN, RCU stall or lockup reports"
	fi
	[ $flake -gt 0 ] && echo "known flaky: '$flaky' failed $flake of $flake_runs runs (upstream KSM code)"
	[ $skip -gt 0 ] && echo "$skip skipped (not counted as passed)"
	echo "reports: $log $tap"
	echo "$pass passed, $fail failed"
} | tee "$sum"
tail -n 1 "$sum" | grep -q ', 0 failed$'
