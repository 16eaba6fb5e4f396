#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's initramfs: static busybox, the init, the project's
# selftests, upstream 6.1's ksm_tests (the conformance suite), the demo and
# the benchmark.
source "$(dirname "$0")/common.sh"

[ -f "$VANILLA/.lab-tarball" ] || die "base tree missing: run 'make setup' first"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" 2>/dev/null | grep -q dynamic && BUSYBOX=
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -n "$BUSYBOX" ] || die "busybox (static) missing: apt-get install busybox-static"

U_REPEAT=${U_REPEAT:-20}
root=$BUILD/guest/root
bin=$BUILD/guest/bin
logs=$BUILD/logs
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lab,tests} "$bin" "$logs"
cp "$BUSYBOX" "$root/bin/busybox"
cp "$LAB/guest/init" "$root/init"
cp "$LAB/guest/run-suites" "$LAB/guest/kunit-results" "$root/lab/"

CFLAGS="-O2 -g0 -Wall -Wextra -Wno-unused-parameter"
own=$ROOT/tools/testing/selftests/vm
lib=$own/ksm_util.c
# compile OUT SRC [extra args]: build SRC, statically, into $bin and copy it
# to OUT; rebuilt only when SRC, a file it is built with or the command
# changes.  "-util" as the first extra arg links the selftests' helpers
# (ksm_util.c).
compile() {
	local out=$1 src=$2 cmd deps exe
	shift 2
	deps=$src
	if [ "${1:-}" = -util ]; then
		shift
		set -- -I"$own" "$@" "$lib"
		deps="$deps $lib $own/ksm_util.h $own/ksm_stress.h"
	fi
	exe=$bin/$(basename "$out")
	cmd="gcc ${LAB_STATIC--static} $CFLAGS -I$VANILLA/tools/testing/selftests -I$VANILLA $* -o $exe $src -lnuma -lpthread -lm"
	if [ ! -x "$exe" ] || [ "$(cat "$exe.cmd" 2>/dev/null)" != "$cmd" ] ||
		[ -n "$(find $deps -newer "$exe" 2>/dev/null)" ]; then
		rm -f "$exe" "$exe.cmd"
		$cmd >>"$logs/tests-build.log" 2>&1 ||
			{ tail -n 20 "$logs/tests-build.log" >&2; die "could not build $src (log $logs/tests-build.log)"; }
		echo "$cmd" >"$exe.cmd"
	fi
	[ "$out" = "$exe" ] || cp "$exe" "$out"
}
: >"$logs/tests-build.log"

# Conformance: upstream 6.1's ksm_tests, built from the base tarball, with the
# cases of 6.1's run_vmtests.sh plus -P and -H.
vm=$VANILLA/tools/testing/selftests/vm
compile "$root/tests/ksm_tests" "$vm/ksm_tests.c" -I"$vm" -Wno-sign-compare -Wno-missing-field-initializers
{
	echo "# upstream 6.1 tools/testing/selftests/vm/ksm_tests.c"
	echo "ksm_tests -M -p 10|300|ksm_tests -M -p 10"
	i=1
	while [ $i -le "$U_REPEAT" ]; do
		echo "ksm_tests -U (run $i of $U_REPEAT)|300|ksm_tests -U"
		i=$((i + 1))
	done
	echo "ksm_tests -Z -p 10 -z 0|300|ksm_tests -Z -p 10 -z 0"
	echo "ksm_tests -Z -p 10 -z 1|300|ksm_tests -Z -p 10 -z 1"
	echo "ksm_tests -N -m 1|300|ksm_tests -N -m 1"
	echo "ksm_tests -N -m 0|300|ksm_tests -N -m 0"
	echo "ksm_tests -P -s 32 -p 16384|300|ksm_tests -P -s 32 -p 16384"
	echo "ksm_tests -H -s 32 -p 16384|300|ksm_tests -H -s 32 -p 16384"
} >"$root/lab/conformance.cases"

# The project's own selftests: every tools/testing/selftests/vm/*.c here is
# one program, linked with ksm_util.c (the helpers of ksm_util.h and
# ksm_stress.h), which is not a program itself; an optional "limit: N" comment
# sets its time limit.  A program marked "suite: stress" goes to the stress
# suite instead (its short run, for make check) and to stress-long (make
# stress), run with "-t N" from its "long: N" comment.
# They are built as kselftest builds them, by the series' own
# tools/testing/selftests/vm/Makefile (lab/patches/0004), statically, into
# build/guest/kselftest-vm: make rebuilds only the programs that changed.
LAB_OBJ_SUFFIX= "$LAB/tree.sh" >/dev/null
hdr=$BUILD/obj/uapi-headers
if [ ! -f "$hdr/usr/include/linux/mman.h" ]; then
	step "$logs/uapi-headers.log" "installing the kernel's uAPI headers for the selftests (once)" \
		make -C "$OURS_SRC" O="$hdr" ARCH=x86_64 headers
fi
kst=$BUILD/guest/kselftest-vm
mkdir -p "$kst"
progs=
for src in "$own"/*.c; do
	if [ -e "$src" ] && [ "$src" != "$lib" ]; then
		progs="$progs $kst/$(basename "$src" .c)"
	fi
done
make -C "$OURS_SRC/tools/testing/selftests/vm" OUTPUT="$kst" \
	KHDR_INCLUDES="-isystem $hdr/usr/include" LDFLAGS=-static \
	EXTRA_CFLAGS="-O2 -g0 -Wextra -Wno-unused-parameter" -j"$JOBS" $progs \
	>>"$logs/tests-build.log" 2>&1 ||
	{ tail -n 20 "$logs/tests-build.log" >&2; die "could not build the selftests (log $logs/tests-build.log)"; }
echo "# the project's tools/testing/selftests/vm" >"$root/lab/selftests.cases"
echo "# the stress and fault programs, short runs (make check)" >"$root/lab/stress.cases"
echo "# the stress and fault programs, long runs (make stress)" >"$root/lab/stress-long.cases"
tag() { sed -n "s/.*[^a-z]$1: *\([0-9a-z-][0-9a-z-]*\).*/\1/p" "$2" | head -n 1; }
for src in "$own"/*.c; do
	[ -e "$src" ] || continue
	[ "$src" = "$lib" ] && continue
	name=$(basename "$src" .c)
	cp "$kst/$name" "$root/tests/$name"
	limit=$(tag limit "$src") limit=${limit%s}
	case $(tag suite "$src") in
	stress)
		long=$(tag long "$src") long=${long%s}
		[ -n "$long" ] || die "$src: a stress program needs a 'long: Ns' comment"
		echo "$name|${limit:-600}|$name" >>"$root/lab/stress.cases"
		echo "$name -t $long|$((long + 300))|$name -t $long" >>"$root/lab/stress-long.cases"
		;;
	*) echo "$name|${limit:-600}|$name" >>"$root/lab/selftests.cases" ;;
	esac
done

# KUnit: the suites of mm/ksm/*-test.h, which ran at boot (test flavour).
{
	echo "# KUnit suites of mm/ksm/*-test.h, read from debugfs"
	for t in "$ROOT"/mm/ksm/*-test.h; do
		[ -e "$t" ] || continue
		sed -n 's/^[[:space:]]*\.name = "\(ksm_[a-z_]*\)",$/\1/p' "$t" |
			while read -r s; do echo "$s|60|/lab/kunit-results $s"; done
	done
} >"$root/lab/kunit.cases"

# The race behind ksm_tests -U, repeated: the race suite of make check.
compile "$root/tests/ksm_cow_race" "$LAB/guest/ksm_cow_race.c" -util
echo "ksm_cow_race|600|ksm_cow_race" >"$root/lab/race.cases"

# The negative controls of make check (lab/controls.sh): a program that
# fails, and one that leaves its runner hung (a child keeps its output
# open), must both reach the verdict as failures.
{
	echo "# negative controls: each must fail the verdict (lab/controls.sh)"
	echo "fails|60|echo 'this control fails on purpose'; exit 1"
	echo "hangs its runner|5|sleep 100000 & echo 'a child keeps the output open'"
} >"$root/lab/controls.cases"

# The demo of `make run`.
compile "$root/tests/ksm_demo" "$LAB/guest/ksm_demo.c" -util
echo "ksm_demo|900|ksm_demo" >"$root/lab/demo.cases"

# The benchmark of `make bench` (lab/bench.sh): the workloads of the full
# run and of BENCH=quick (smaller sizes).
compile "$root/tests/ksm_bench" "$LAB/guest/ksm_bench.c" -util
# ... and on the host, for its TSC frequency (ksm_bench tsc_khz).
LAB_STATIC= compile "$bin/ksm_bench-host" "$LAB/guest/ksm_bench.c" -util
{
	echo "# make bench: ksm_bench WORKLOAD [sizes]"
	echo "merge|900|ksm_bench merge -m 256 -n 4 -d 64 -u 25"
	echo "scan|900|ksm_bench scan -m 512 -s 5"
	echo "cow|600|ksm_bench cow -p 4096 -d 64"
	echo "unmerge|900|ksm_bench unmerge -m 256 -d 512"
	echo "steady|600|ksm_bench steady -m 64 -t 60 -d 64 -u 10"
	echo "latency|900|ksm_bench latency -m 128 -s 8"
} >"$root/lab/bench.cases"
{
	echo "# make bench BENCH=quick: the same workloads, smaller"
	echo "merge|600|ksm_bench merge -m 64 -n 4 -d 64 -u 25"
	echo "scan|600|ksm_bench scan -m 128 -s 2"
	echo "cow|600|ksm_bench cow -p 1024 -d 64"
	echo "unmerge|600|ksm_bench unmerge -m 64 -d 512"
	echo "steady|600|ksm_bench steady -m 64 -t 30 -d 64 -u 10"
	echo "latency|600|ksm_bench latency -m 32 -s 4"
} >"$root/lab/bench-quick.cases"

# lab/profile.sh: each bench workload (quick sizes) under the tick profiler,
# one suite per workload: profile-merge, profile-scan, ...
compile "$root/tests/ksm_prof" "$LAB/guest/ksm_prof.c"
while IFS='|' read -r name limit cmd; do
	case $name in '#'* | '') continue ;; esac
	# steady: leave out the set-up and the first merge.
	delay=0
	[ "$name" = steady ] && delay=10
	echo "$name|$limit|ksm_prof -d $delay $cmd" >"$root/lab/profile-$name.cases"
done <"$root/lab/bench-quick.cases"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$BUILD/guest/initramfs.cpio.gz"
say "initramfs: $BUILD/guest/initramfs.cpio.gz ($(du -h "$BUILD/guest/initramfs.cpio.gz" | cut -f1), $(ls "$root/tests" | wc -l) programs)"
