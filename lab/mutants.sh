#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mutants.sh [NAME...]: `make mutants`, how good the tests are by the
# faults they catch.  Each lab/mutants/NN-name.patch is one small
# deliberate fault in mm/ksm/, a fault a real change could bring: its
# "Mutant:" line says what, its "Suites:" line which of make check's
# suites should catch it (they run first).  For each mutant (all, or those
# whose names start with a NAME given): apply it to a copy of the ours
# tree, build that kernel (test flavour, build/obj/mutant-test), boot it
# with make check's suites and stop at the first failure
# (LAB_STOP_AT_FAIL): a mutant is caught if the verdict fails.  The report,
# build/reports/mutants.txt, says for each which test caught it, and ends
# with "mutants: N of M caught"; the exit status is 0 only if all were.
source "$(dirname "$0")/common.sh"

CHECK_SUITES="kunit selftests conformance race stress"
mut_src=$SRC/mutant
out=$REPORTS/mutants.txt

muts=()
for p in "$LAB"/mutants/*.patch; do
	[ -e "$p" ] || continue
	name=$(basename "$p" .patch)
	if [ $# -gt 0 ]; then
		keep=
		for want in "$@"; do [[ $name == "$want"* ]] && keep=1; done
		[ -n "$keep" ] || continue
	fi
	muts+=("$p")
done
[ ${#muts[@]} -gt 0 ] || die "no mutant in lab/mutants/ matches: $*"

say "make mutants: ${#muts[@]} mutants of mm/ksm/, each against make check's suites"
lab_build ours test

# The mutants' tree: the ours tree, hard-linked.  A file a mutant changes
# is replaced by a copy of its own (a new inode, a new mtime: rebuilt) and
# by a fresh copy again after the run.
rm -rf "$mut_src"
cp -al "$OURS_SRC" "$mut_src"
touched() { sed -n 's|^+++ b/||p' "$1"; }
restore() { # restore PATCH: the files PATCH changes, as in the ours tree
	local f
	for f in $(touched "$1"); do
		rm -f "$mut_src/$f"
		cp "$OURS_SRC/$f" "$mut_src/$f"
	done
}
for p in "${muts[@]}"; do restore "$p"; done

mkdir -p "$REPORTS"
: >"$out"
caught=0 total=0
for p in "${muts[@]}"; do
	name=$(basename "$p" .patch)
	what=$(sed -n 's/^Mutant: //p' "$p" | head -n 1)
	first=$(sed -n 's/^Suites: //p' "$p" | head -n 1 | tr ',' ' ')
	total=$((total + 1))
	say "mutant $total of ${#muts[@]}: $name: $what"
	# Its own suites first, then the rest of make check's.
	suites=
	for s in $first $CHECK_SUITES; do
		case ",$suites," in *",$s,"*) ;; *) suites=${suites:+$suites,}$s ;; esac
	done
	if ! patch -p1 -s -f --no-backup-if-mismatch -d "$mut_src" <"$p" >/dev/null; then
		echo "BROKEN   $name: $what -- the patch does not apply" >>"$out"
		restore "$p"
		continue
	fi
	if ! "$LAB/kernel.sh" mutant test; then
		echo "BROKEN   $name: $what -- it does not build" >>"$out"
		restore "$p"
		continue
	fi
	rc=0
	LAB_STOP_AT_FAIL=1 LAB_QUIET_VERDICT=1 LAB_SHOW='^not ok' \
		lab_boot mutant test "$suites" "mutant-$name" || rc=$?
	restore "$p"
	if [ $rc -ne 0 ]; then
		caught=$((caught + 1))
		by=$(grep -E '^FAIL  ' "$REPORTS/mutant-$name.summary" |
		     grep -vE 'results missing|guest failed|the guest.s runner' | head -n 2 |
		     sed 's/^FAIL  //' | cut -c1-150 | paste -sd ';' -)
		echo "caught   $name: $what -- by: ${by:-the verdict (see $REPORTS/mutant-$name.summary)}" >>"$out"
		say "  caught: ${by:-see $REPORTS/mutant-$name.summary}"
	else
		echo "MISSED   $name: $what -- every test passed ($REPORTS/mutant-$name.summary)" >>"$out"
		say "  MISSED: every test passed"
	fi
done
echo "mutants: $caught of $total caught" >>"$out"
say "mutants (build/reports/mutants.txt):"
cat "$out"
[ "$caught" -eq "$total" ]
