#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# verdict.sh REPORT KSM_IMPL [HOST_TAP...]: read build/reports/REPORT.tap
# and .log (plus the host's own TAP files), write REPORT.summary, print it
# and end with "N passed, N failed"; exit 1 on any failure.
# A kernel WARNING, BUG, Oops, lockdep report, KASAN report, RCU stall or
# soft lockup anywhere in the console log is a failure of its own; so are
# a missing result, a skip (unless lab/skips-allowed.txt allows it in the
# flavour), a program that exited 0 after a failed subtest, a runner that
# did not exit 0, and a tainted kernel.
source "$(dirname "$0")/common.sh"

report=$1 impl=$2
shift 2
log=$REPORTS/$report.log tap=$REPORTS/$report.tap sum=$REPORTS/$report.summary

# Known failures of upstream KSM code: reported, not counted (see the file).
known=$LAB/upstream-known.txt
# known_why RESULT-LINE: the reasons, if upstream may fail it: every failed
# subtest of the program (from $guest) matches an entry for it.
known_why() {
	local name=${1#not ok } pat sub why whys= failed f ok
	name=${name#* } name=${name%% # *}
	failed=$(awk -v p="# running $name (limit" '
		index($0, p) == 1 { on = 1; next }
		on && /^(ok|not ok) [0-9]+ / { exit }
		on && /^    not ok [0-9]+ / { sub(/^    not ok [0-9]+ /, ""); print }' <<<"$guest")
	while IFS='|' read -r pat sub why; do
		case $pat in '#'* | '') continue ;; esac
		[[ $name == "$pat"* ]] || continue
		if [ "$sub" = '*' ]; then
			echo "$why"
			return 0
		fi
	done <"$known"
	[ -n "$failed" ] || return 1
	while IFS= read -r f; do
		ok=
		while IFS='|' read -r pat sub why; do
			case $pat in '#'* | '') continue ;; esac
			if [[ $name == "$pat"* ]] && [[ $f == "$sub"* ]]; then
				ok=1
				case $whys in *"$why"*) ;; *) whys=${whys:+$whys; }$why ;; esac
				break
			fi
		done <"$known"
		[ -n "$ok" ] || return 1
	done <<<"$failed"
	echo "$whys"
}

# Allowed skips: FLAVOUR|NAME-PREFIX|WHY lines (FLAVOUR * for any).  Any
# other skip is a failure: the lab controls the guest.
allowed=$LAB/skips-allowed.txt
skip_why() { # skip_why NAME: the reason NAME may skip in this flavour, if any
	local fl pat why
	while IFS='|' read -r fl pat why; do
		case $fl in '#'* | '') continue ;; esac
		[ "$fl" = "$flavour" ] || [ "$fl" = '*' ] || continue
		[[ $1 == "$pat"* ]] && { echo "$why"; return 0; }
	done <"$allowed"
	return 1
}

expect=$REPORTS/$report.expect
[ -f "$expect" ] || die "no $expect: boot the guest with lab/boot.sh first"
flavour=$(sed -n 's/^# flavour //p' "$expect")
nexpect=$(grep -vc '^#' "$expect" || true)
guest=$(tr -d '\r' <"$tap")

{
	echo "$report: Linux $(base_version), $impl KSM code, $flavour flavour"
	pass=0 fail=0 skip=0 known_fail=0
	results=$( (grep -E '^(ok|not ok) [0-9]+ ' <<<"$guest"; cat "$@" 2>/dev/null | tr -d '\r' |
		grep -E '^(ok|not ok) [0-9]+ ') || true)
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		name=${l#not ok } name=${name#ok } name=${name#* } name=${name%% # *}
		case $l in
		ok*'# SKIP'*)
			if why=$(skip_why "$name"); then
				skip=$((skip + 1))
				echo "SKIP  ${l#ok } (allowed in $flavour: $why)"
			elif [ "$impl" = upstream ] && why=$(known_why "not ok 0 $name"); then
				known_fail=$((known_fail + 1))
				echo "KNOWN ${l#ok } (not counted: $why)"
			else
				fail=$((fail + 1))
				echo "FAIL  ${l#ok } (a skip is a failure here: $allowed)"
			fi
			;;
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
	# A subtest skipped inside a program that passed (kselftest counts it
	# as passed) fails too, unless allowed.
	while IFS=$'\t' read -r prog sub; do
		[ -n "$prog" ] || continue
		skip_why "$prog" >/dev/null && continue
		if [ "$impl" = upstream ] && why=$(known_why "not ok 0 $prog"); then
			known_fail=$((known_fail + 1))
			echo "KNOWN $prog: a subtest skipped (not counted: $why)"
			continue
		fi
		fail=$((fail + 1))
		echo "FAIL  $prog: a subtest skipped: ${sub#"${sub%%[! ]*}"}"
	done < <(awk '/^# running / { p = $0; sub(/^# running /, "", p); sub(/ \(limit [0-9]+s\)$/, "", p) }
		/^ +(ok|not ok) [0-9]+ .*# SKIP/ { print p "\t" $0 }' <<<"$guest")
	# A program that reported a failed subtest (or bailed out) and still
	# exited 0: kselftest's ksft_finished() looks at the plan, not at the
	# failures.  Its own result says ok; the verdict does not.  (One that
	# exited with a skip fails as a skip, above, unless allowed.)
	while IFS=$'\t' read -r prog sub; do
		[ -n "$prog" ] || continue
		if [ "$impl" = upstream ] && why=$(known_why "not ok 0 $prog"); then
			known_fail=$((known_fail + 1))
			echo "KNOWN $prog: a subtest failed (not counted: $why)"
			continue
		fi
		fail=$((fail + 1))
		echo "FAIL  $prog: exit 0 after a failure: ${sub#"${sub%%[! ]*}"}"
	done < <(awk '/^# running / { p = $0; sub(/^# running /, "", p); sub(/ \(limit [0-9]+s\)$/, "", p); bad = "" }
		/^ +not ok [0-9]+( |$)/ || /^ *Bail out!/ { if (bad == "") bad = $0 }
		/^ok [0-9]+ / && !/# SKIP/ { n = $0; sub(/^ok [0-9]+ /, "", n); sub(/ # .*$/, "", n)
			if (n == p && bad != "") print p "\t" bad; bad = "" }
		/^not ok [0-9]+ / { bad = "" }' <<<"$guest")
	# Every case of every suite, once, and the plan.
	got=$(grep -E '^(ok|not ok) [0-9]+ ' <<<"$guest" | sed -E 's/^(not )?ok //; s/ # .*//' || true)
	missing=$(grep -v '^#' "$expect" | grep -vxF -f <(printf '%s\n' "$got") || true)
	if [ -n "$missing" ]; then
		fail=$((fail + 1))
		echo "FAIL  $(wc -l <<<"$missing") of $nexpect results missing, the first ones:"
		head -n 5 <<<"$missing" | sed 's/^/        /'
	fi
	extra=$(grep -vxF -f <(grep -v '^#' "$expect") <<<"$got" || true)
	if [ -n "$extra" ]; then
		fail=$((fail + 1))
		echo "FAIL  results no suite has: $(head -n 3 <<<"$extra" | tr '\n' ';')"
	fi
	if ! grep -qx "1\.\.$nexpect" <<<"$guest"; then
		fail=$((fail + 1))
		echo "FAIL  no plan line 1..$nexpect from the guest"
	fi
	if grep -q '^lab: guest failed' <<<"$guest"; then
		fail=$((fail + 1))
		echo "FAIL  $(grep -m1 '^lab: guest failed' <<<"$guest")"
	elif ! grep -q '^lab: done' <<<"$guest"; then
		fail=$((fail + 1))
		echo "FAIL  the guest did not report completion"
	elif ! grep -qx 'lab: run-suites exit 0' <<<"$guest"; then
		fail=$((fail + 1))
		echo "FAIL  the guest's runner: $(grep -m1 '^lab: run-suites' <<<"$guest" || echo 'no exit status')"
	fi
	# KUnit taints with TAINT_TEST (bit 18, "N") whenever tests ran: the
	# one bit allowed.  Any other is a failure.
	tainted=$(sed -n 's/^lab: tainted //p' <<<"$guest")
	if ! [[ $tainted =~ ^[0-9]+$ ]] || (((tainted & ~(1 << 18)) != 0)); then
		fail=$((fail + 1))
		echo "FAIL  the kernel is tainted at the end of the run: ${tainted:-not reported} (see Documentation/admin-guide/tainted-kernels.rst)"
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
	[ $skip -gt 0 ] && echo "$skip skipped, allowed in this flavour (not counted as passed)"
	echo "reports: $log $tap"
	echo "$pass passed, $fail failed"
} | tee "$sum"
tail -n 1 "$sum" | grep -q ', 0 failed$'
