#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh [full|quick]: `make bench`.  Build the bench flavour (no debug
# options) of stock 6.1 (stock), stock 6.12 (stock612, Debian's
# linux-source-6.12) and ours, boot them in turn -- stock, stock612, ours,
# stock, ... -- in the same QEMU setup, each boot running every workload of
# lab/guest/ksm_bench.c once, then print the medians with ours/6.1 and
# ours/6.12 and the targets, and write them with every run's value to
# build/reports/bench.json.  quick: smaller sizes and one boot of each
# kernel.  BENCH_KERNELS="stock ours" leaves 6.12 out; BENCH_WORKLOADS=
# "latency shapes" runs only those workloads (lab/guest/ksm_bench.c), for
# more boots of a few.
source "$(dirname "$0")/common.sh"

mode=${1:-full}
case $mode in
full) suite=bench repeats=${BENCH_REPEATS:-3} ;;
quick) suite=bench-quick repeats=${BENCH_REPEATS:-1} ;;
*) die "BENCH must be full or quick, not '$mode'" ;;
esac
# Debian's python3, which has python3-matplotlib for the picture.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
command -v $py >/dev/null || die "python3 missing: run 'make setup'"

kernels=${BENCH_KERNELS:-stock stock612 ours}
workloads=${BENCH_WORKLOADS:-}
if [ -n "$workloads" ]; then
	# One suite per workload (lab/initramfs.sh), in the order given.
	sel=
	for w in $workloads; do
		grep -q "echo \"$w|" "$LAB/initramfs.sh" ||
			die "BENCH_WORKLOADS: no workload '$w' (see lab/initramfs.sh)"
		sel="$sel,$suite-$w"
	done
	suite=${sel#,}
fi
say "make bench ($mode): $kernels, bench flavour, $repeats boot(s) of each${workloads:+, workloads: $workloads}"
for k in $kernels; do
	lab_build "$k" bench
	grep -q '^CONFIG_SLUB_DEBUG=y' "$BUILD/obj/$k-bench/.config" ||
		die "the $k bench kernel lacks CONFIG_SLUB_DEBUG (no /proc/slabinfo)"
done

mkdir -p "$REPORTS"
rm -f "$REPORTS"/bench-*-[0-9]*.* "$REPORTS/bench.json" "$REPORTS/bench.txt"
t0=$(date +%s)
total=$(($(wc -w <<<"$kernels") * repeats)) i=0 runs=
for r in $(seq 1 "$repeats"); do
	for k in $kernels; do
		i=$((i + 1))
		rep=bench-$k-$r
		runs="$runs $k:$r:$rep"
		say "bench: boot $i of $total: $k (run $r of $repeats), $(($(date +%s) - t0))s into the benchmark"
		# slab_nomerge: KSM's caches must not be merged with others of the
		# same size, or /proc/slabinfo cannot tell their objects apart.
		# The guest's clock: the host's TSC (lab/boot.sh), checked below.
		LAB_CMDLINE="slab_nomerge ${LAB_CMDLINE:-}" \
			LAB_LIMIT=${LAB_LIMIT:-5400} \
			LAB_SHOW='^(ok |not ok |# running|    bench: (progress|FAIL|result))' \
			LAB_QUIET_VERDICT=1 lab_run "$k" bench "$suite" "$rep" ||
			say "bench: $k run $r: problems, see $REPORTS/$rep.summary"
		grep -q 'Switched to clocksource tsc' "$REPORTS/$rep.log" ||
			say "bench: warning: $k run $r: the guest's clocksource is not tsc ($REPORTS/$rep.log)"
	done
done
wall=$(($(date +%s) - t0))
say "bench: $total boots in ${wall}s"

# Gather: medians, ratios, targets; the table to the terminal and
# bench.txt, everything to bench.json (lab/bench-report.py).  Exit 1 when
# any run failed.
versions=
for k in $kernels; do
	case $k in
	stock612) versions="$versions $k=$(tree_version "$STOCK612_SRC")" ;;
	*) versions="$versions $k=$(base_version)" ;;
	esac
done
BENCH_WORKLOADS=$workloads \
	$py "$LAB/bench-report.py" "$REPORTS" "$mode" "$repeats" "$wall" "${versions# }" $runs
