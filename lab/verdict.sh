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

# Known failures of upstream KSM code: reported, not counted (see the file).
known=$LAB/upstream-known.txt
known_why() { # known_why RESULT-LINE: the reason, if upstream may fail it
	local name=${1#not ok } pat why
	name=${name#* }
	while IFS='|' read -r pat why; do
		case $pat in '#'* | '') continue ;; esac
		[[ $name == "$pat"* ]] && { echo "$why"; return 0; }
	done <"$known"
	return 1
}

KERNEL_BAD='WARNING:|BUG:|Oops|kernel BUG at|general protection fault|Kernel panic|'
KERNEL_BAD+='possible recursive locking|possible circular locking|inconsistent lock state|'
KERNEL_BAD+='INFO: trying to register non-static key|DEBUG_LOCKS_WARN_ON|'
KERNEL_BAD+='KASAN:|KFENCE:|UBSAN:|rcu_.* detected stalls|rcu: INFO:|self-detected stall|kthread starved|'
KERNEL_BAD+='soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|'
KERNEL_BAD+='list_add corruption|list_del corruption|Bad page (state|map)|page dumped because'

{
	echo "$report: Linux $(base_version), $impl KSM code"
	pass=0 fail=0 skip=0 known_fail=0
	results=$(cat "$tap" "$@" 2>/dev/null | tr -d '\r' | grep -E '^(ok|not ok) [0-9]+ ' || true)
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		case $l in
		ok*'# SKIP'*) skip=$((skip + 1)); echo "SKIP  ${l#ok }" ;;
		ok*) pass=$((pass + 1)) ;;
		*)
			if [ "$impl" = upstream ] && why=$(known_why "$l"); then
				known_fail=$((known_fail + 1))
				echo "KNOWN ${l#not ok } (not counted: $why)"
			else
				fail=$((fail + 1))
				echo "FAIL  ${l#not ok }"
			fi
			;;
		esac
	done <<<"$results"
	if grep -q '^lab: guest failed' "$tap"; then
		fail=$((fail + 1))
		echo "FAIL  $(grep -m1 '^lab: guest failed' "$tap")"
	elif ! grep -q '^lab: done' "$tap"; then
		fail=$((fail + 1))
		echo "FAIL  the guest did not report completion"
	fi
	nk=0
	kbad=$(tr -d '\r' <"$log" | grep -E "$KERNEL_BAD" || true)
	if [ -n "$kbad" ]; then
		nk=$(wc -l <<<"$kbad")
		fail=$((fail + 1))
		echo "FAIL  kernel log: $nk line(s) reporting kernel problems, first ones:"
		head -n 10 <<<"$kbad" | sed 's/^/        /'
	else
		echo "kernel log: no WARNING, BUG, Oops, lockdep, KASAN, RCU stall or lockup reports"
	fi
	# The stress programs' summaries, added up (lab/guest: ksm_stress.h).
	sums=$(tr -d '\r' <"$tap" | sed -n 's/^ *# summary: //p')
	if [ -n "$sums" ]; then
		echo "stress summary (repeat a program with its seed: NAME -s SEED -t SECS, or SEED=N make ...):"
		sed 's/^/    /' <<<"$sums"
		awk -v kw="${nk:-0}" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } n++ }
			END { printf "    total: %d programs, %d ops, %d pages verified, %d mismatches, %d kernel warnings\n",
				n, t["ops"], t["verified"], t["mismatches"], kw }' <<<"$sums"
	fi
	[ $known_fail -gt 0 ] && echo "$known_fail known failures of upstream KSM code, not counted ($known)"
	[ $skip -gt 0 ] && echo "$skip skipped (not counted as passed)"
	echo "reports: $log $tap"
	echo "$pass passed, $fail failed"
} | tee "$sum"
tail -n 1 "$sum" | grep -q ', 0 failed$'
