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
# With NAMEs, only those are run again: the report keeps the other
# mutants' earlier results.
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

# The mutants' tree: a copy of the ours tree (not hard links: tree.sh
# updates the ours tree in place, and a build of ours meanwhile must not
# reach the mutants).  Each file a mutant changes gets a fresh copy (a new
# mtime: rebuilt) before and after its run.  The guest too is a copy: the
# initramfs and its cases as they are now (LAB_GUEST).
rm -rf "$mut_src"
cp -a "$OURS_SRC" "$mut_src"
export LAB_GUEST=$BUILD/guest-mutants
rm -rf "$LAB_GUEST"
mkdir -p "$LAB_GUEST/root"
cp "$BUILD/guest/initramfs.cpio.gz" "$LAB_GUEST/"
cp -a "$BUILD/guest/root/lab" "$LAB_GUEST/root/"
touched() { sed -n 's|^+++ b/||p' "$1"; }
restore() { # restore PATCH: the files PATCH changes, as in the ours tree
	local f
	for f in $(touched "$1"); do
		rm -f "$mut_src/$f"
		cp "$OURS_SRC/$f" "$mut_src/$f"
	done
}
# Every mutant's files, run now or not: the last build may hold one.
for p in "$LAB"/mutants/*.patch; do restore "$p"; done

mkdir -p "$REPORTS"
new=$(mktemp)
trap 'rm -f "$new"' EXIT
total=0
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
		echo "BROKEN   $name: $what -- the patch does not apply" >>"$new"
		restore "$p"
		continue
	fi
	if ! "$LAB/kernel.sh" mutant test; then
		echo "BROKEN   $name: $what -- it does not build" >>"$new"
		restore "$p"
		continue
	fi
	rc=0
	LAB_STOP_AT_FAIL=1 LAB_QUIET_VERDICT=1 LAB_SHOW='^not ok' \
		lab_boot mutant test "$suites" "mutant-$name" || rc=$?
	restore "$p"
	if [ $rc -ne 0 ]; then
		# What failed: the tests first, then the kernel log's first
		# problem; the plan, the runner and the taint follow from those.
		by=$({ grep -E '^FAIL  [0-9]+ [a-z-]+: ' "$REPORTS/mutant-$name.summary" |
			sed 's/^FAIL  //'
		       grep -A1 -E '^FAIL  kernel log:' "$REPORTS/mutant-$name.summary" |
			tail -n 1 | sed 's/^ *\[ *[0-9.]*\] */kernel: /'
		       grep -E '^FAIL  ' "$REPORTS/mutant-$name.summary" |
			grep -vE '^FAIL  ([0-9]+ |kernel log)|results missing|guest failed|the guest.s runner' |
			sed 's/^FAIL  //'; } | head -n 2 | cut -c1-150 | paste -sd ';' -) ||
			true	# head stops reading early: SIGPIPE upstream
		echo "caught   $name: $what -- by: ${by:-the verdict (see $REPORTS/mutant-$name.summary)}" >>"$new"
		say "  caught: ${by:-see $REPORTS/mutant-$name.summary}"
	else
		echo "MISSED   $name: $what -- every test passed ($REPORTS/mutant-$name.summary)" >>"$new"
		say "  MISSED: every test passed"
	fi
done
# The earlier results of the mutants not run now, if they still exist.
if [ $# -gt 0 ] && [ -f "$out" ]; then
	while read -r verdict name rest; do
		name=${name%:}
		[ -e "$LAB/mutants/$name.patch" ] || continue
		grep -q "^[A-Za-z]* *$name: " "$new" || echo "$verdict   $name: $rest" >>"$new"
	done < <(grep -E '^(caught|MISSED|BROKEN) ' "$out")
fi
sort -k2,2 "$new" >"$out"
caught=$(grep -c '^caught ' "$out" || true)
total=$(wc -l <"$out")
echo "mutants: $caught of $total caught" >>"$out"
say "mutants (build/reports/mutants.txt):"
cat "$out"
[ "$caught" -eq "$total" ]
