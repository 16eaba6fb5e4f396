#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# boot.sh KERNEL FLAVOUR SUITES REPORT: boot the built kernel with the
# initramfs under QEMU, run SUITES (comma-separated, or "shell") and keep the
# console in build/reports/REPORT.log and the TAP results in REPORT.tap.
# A watchdog ends a guest that stops making progress; with LAB_STOP_AT_FAIL
# set, the first failed result or kernel problem (KERNEL_BAD) ends it too.
source "$(dirname "$0")/common.sh"

kernel=$1 flavour=$2 suites=$3 report=$4
img=$BUILD/obj/$kernel-$flavour${LAB_OBJ_SUFFIX:-}/arch/x86/boot/bzImage
guest=${LAB_GUEST:-$BUILD/guest}
initrd=$guest/initramfs.cpio.gz
[ -f "$img" ] || die "no kernel at $img: build it first"
[ -f "$initrd" ] || die "no initramfs at $initrd: build it first"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"

MEM=${LAB_MEM:-2G}
SMP=${LAB_SMP:-2}
IDLE=${LAB_IDLE:-300}      # seconds without any output before the guest counts as hung
LIMIT=${LAB_LIMIT:-5400}   # seconds for the whole boot
GRACE=${LAB_GRACE:-60}     # seconds past a program's own limit before the host stops it
# One socket per CPU: SeaBIOS's MP table (this kernel has no ACPI) lists sockets.
accel="-accel tcg,thread=multi"
if [ -n "${LAB_KVM:-}" ]; then
	[ -w /dev/kvm ] || die "LAB_KVM set but /dev/kvm is not usable"
	accel="-accel kvm"
fi
mkdir -p "$REPORTS"
log=$REPORTS/$report.log tap=$REPORTS/$report.tap
: >"$log"
: >"$tap"
# slab_nomerge: KSM's slab caches stay apart, so tests can count their objects.
cmdline="console=ttyS0 numa=fake=2 panic=-1 slab_nomerge lab.suites=$suites"
[ -n "${SEED:-}" ] && cmdline="$cmdline lab.seed=$SEED"
# The test flavour's eyes on memory corruption: SLUB's consistency checks,
# red zones and poisoning on every cache (KFENCE is in its config).
if [ "$flavour" = test ]; then
	cmdline="$cmdline slub_debug=FZPU"
fi
# A ZONE_MOVABLE of 512 MiB, where user pages go first: ksm_hotremove
# offlines one of its blocks with KSM pages in it.
if [ "$flavour" != bench ]; then
	cmdline="$cmdline movablecore=512M"
fi
# Under TCG the guest's TSC is the host's, but its calibration against the
# PIT fails on a loaded host: the kernel then marks it unstable and keeps
# time in jiffies, a 4 ms sched_clock and CLOCK_MONOTONIC, and a thread
# woken by the tick that runs less than one is charged no CPU time at all.
# ksmd's CPU time (the advisor's cap, the tests and the bench that measure
# it) and every timed test need better: give the guest the host's TSC
# frequency, and tell it that the TSC is good.
if [ -z "${LAB_KVM:-}" ]; then
	cmdline="$cmdline tsc=reliable tsc_early_khz=$(host_tsc_khz)"
fi
cmdline="$cmdline ${LAB_CMDLINE:-}"
qemu=(qemu-system-x86_64 $accel -cpu max -smp "$SMP,sockets=$SMP" -m "$MEM" -nodefaults -no-reboot
      -display none -kernel "$img" -initrd "$initrd" -append "$cmdline")

if [ "$suites" = shell ]; then
	say "booting $kernel-$flavour with a shell; 'exit' or Ctrl-A X leaves"
	exec "${qemu[@]}" -serial mon:stdio -serial null
fi

# What the verdict must find: one result per case of each suite, in order
# (lab/guest/run-suites numbers them the same way).
{
	echo "# flavour $flavour"
	n=0
	for suite in ${suites//,/ }; do
		cases=$guest/root/lab/$suite.cases
		[ -f "$cases" ] || die "no suite '$suite' ($cases)"
		while IFS='|' read -r name _; do
			case $name in '#'* | '') continue ;; esac
			n=$((n + 1))
			echo "$n $suite: $name"
		done <"$cases"
	done
} >"$REPORTS/$report.expect"

say "booting $kernel-$flavour under QEMU ($accel, $SMP CPUs, $MEM, 2 NUMA nodes) for suites: $suites"
"${qemu[@]}" -serial "file:$log" -serial "file:$tap" </dev/null >"$REPORTS/$report.qemu" 2>&1 &
qpid=$!
t0=$(date +%s) last=0 seen=0 why=
while kill -0 $qpid 2>/dev/null; do
	sleep 2
	# Show each result as it arrives.
	n=$(wc -l <"$tap")
	if [ "$n" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${n}p" "$tap" | grep -E "${LAB_SHOW:-^(ok|not ok|# running|# \.\.\.)}" |
			sed "s/^/[lab $(($(date +%s) - LAB_T0))s]   /" || true
		seen=$n
	fi
	size=$(($(stat -c %s "$log") + $(stat -c %s "$tap")))
	now=$(date +%s)
	if [ "$size" != "$last" ]; then
		last=$size idle_since=$now
	fi
	# The guest kills a program at its limit, but not one stuck in the
	# kernel, nor a runner stuck behind it (its heartbeat goes on).
	cur=$(tr -d '\r' <"$tap" | grep -E '^(# running |ok |not ok )' | tail -n 1 || true)
	if [[ $cur == "# running "* ]]; then
		[ "$cur" = "${cur_line:-}" ] || cur_line=$cur cur_since=$now
		lim=$(sed -n 's/.*(limit \([0-9]*\)s)$/\1/p' <<<"$cur")
	else
		cur_line='' lim=''
	fi
	if [ -n "$lim" ] && [ $((now - cur_since)) -ge $((lim + GRACE)) ]; then
		why="watchdog: ${cur#\# running } has run for $((now - cur_since))s, past its limit (host's grace ${GRACE}s)"
	elif [ $((now - ${idle_since:-$now})) -ge "$IDLE" ]; then
		why="watchdog: no output from the guest for ${IDLE}s (hung?)"
	elif [ $((now - t0)) -ge "$LIMIT" ]; then
		why="watchdog: guest still running after ${LIMIT}s"
	elif grep -q 'Kernel panic - not syncing' "$log"; then
		sleep 5
		why="kernel panic: $(grep -m1 'Kernel panic' "$log" | tr -d '\r')"
	elif [ -n "${LAB_STOP_AT_FAIL:-}" ] &&
		{ grep -q '^not ok' "$tap" || tr -d '\r' <"$log" | grep -qE "$KERNEL_BAD"; }; then
		sleep 2
		why="stopped at the first failure (LAB_STOP_AT_FAIL)"
	fi
	if [ -n "$why" ]; then
		kill $qpid 2>/dev/null || true
		sleep 1
		kill -9 $qpid 2>/dev/null || true
		break
	fi
done
wait $qpid 2>/dev/null || true
if ! grep -q '^lab: done' "$tap"; then
	[ -n "$why" ] || why="guest stopped before finishing; qemu said: $(tail -n 3 "$REPORTS/$report.qemu" | tr '\n' ' ')"
	grep -q 'Out of memory' "$log" && why="$why; the guest ran out of memory (LAB_MEM=$MEM)"
	echo "lab: guest failed: $why" >>"$tap"
	say "guest failed: $why"
	say "last console lines ($log):"
	tail -n 15 "$log" | tr -d '\r' | sed 's/^/    /'
fi
say "guest finished in $(($(date +%s) - t0))s"
