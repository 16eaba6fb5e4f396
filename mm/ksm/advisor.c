// SPDX-License-Identifier: GPL-2.0
/*
 * KSM: the advisor.  With advisor_mode "scan-time", ksmd's scan rate
 * (pages_to_scan) is not the administrator's but the advisor's: at the end
 * of each full scan it sets the rate that makes a full scan take
 * advisor_target_scan_time seconds, within ksmd's CPU share
 * advisor_max_cpu, and between advisor_min_pages_to_scan and
 * advisor_max_pages_to_scan (at the maximum, while the two cross: it is
 * the administrator's bound on ksmd's work).
 *
 * The time a pass takes goes as the inverse of the rate, and ksmd's CPU
 * share as the rate: from the last pass's wall time and ksmd's CPU time,
 * the rate that would have met the target is found by proportion, and the
 * new rate goes halfway from the old one towards it, so that one unusual
 * pass does not swing it, and a workload that grows or shrinks is followed
 * within a few passes.  The CPU cap applies to the rate that comes out:
 * ksmd's CPU share at that rate, projected from the last pass's, stays
 * within advisor_max_cpu.  It does so whether or not the last pass was
 * over the cap: a rate let past it after a pass under it would be cut
 * back after the next, and the rate would swing around the cap for ever.
 * Only ksmd calls in here, but for the change of mode (sysfs).
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/sched.h>

#include <trace/events/ksm.h>

#include "ksm.h"

/* The pass being timed: when it started, and ksmd's CPU time then. */
static ktime_t ksm_adv_start;
static u64 ksm_adv_cpu;
static bool ksm_adv_timing;

/**
 * ksm_advisor_rate() - the advisor's rate after one pass
 * @rate: pages_to_scan during the pass
 * @wall_ns: how long the pass took
 * @cpu_ns: ksmd's CPU time over the pass
 * @cpu_pct: set to ksmd's CPU share over the pass, in percent
 *
 * Pure arithmetic on the settings (core.c), for ksmd and for KUnit.
 *
 * Return: the new pages_to_scan.
 */
unsigned long ksm_advisor_rate(unsigned long rate, u64 wall_ns, u64 cpu_ns,
			       unsigned int *cpu_pct)
{
	u64 target = (u64)READ_ONCE(ksm_advisor_target_s) * NSEC_PER_SEC;
	unsigned long lo = READ_ONCE(ksm_advisor_min_pages);
	unsigned long hi = READ_ONCE(ksm_advisor_max_pages);
	unsigned int max_cpu = READ_ONCE(ksm_advisor_max_cpu);
	u64 want, cap;

	wall_ns = max_t(u64, wall_ns, 1);
	target = max_t(u64, target, NSEC_PER_SEC);
	*cpu_pct = min_t(u64, div64_u64(cpu_ns * 100, wall_ns), 100);

	/* The rate that would have made this pass last the target time. */
	want = div64_u64(mul_u64_u64_div_u64(rate, wall_ns, target) + rate, 2);
	/* ksmd's CPU share grows with its rate: keep it under the cap. */
	if (cpu_ns) {
		cap = mul_u64_u64_div_u64((u64)rate * max_cpu, wall_ns,
					  cpu_ns * 100);
		want = min(want, cap);
	}
	return clamp_t(u64, want, min(lo, hi), hi);
}

/**
 * ksm_advisor_start_pass() - a full scan begins
 *
 * Context: ksmd.
 */
void ksm_advisor_start_pass(void)
{
	ksm_adv_start = ktime_get();
	ksm_adv_cpu = current->se.sum_exec_runtime;
	ksm_adv_timing = true;
}

/**
 * ksm_advisor_end_pass() - a full scan ended: set the rate for the next
 *
 * A pass whose start was not seen (run = 2 started the scan over) sets
 * nothing.
 *
 * Context: ksmd, holding no KSM lock (it tries ksm_ctl_mutex).
 */
void ksm_advisor_end_pass(void)
{
	u64 wall, cpu;
	unsigned long rate;
	unsigned int pct;
	bool applied;

	if (!ksm_adv_timing)
		return;
	ksm_adv_timing = false;
	if (READ_ONCE(ksm_advisor_mode) != KSM_ADVISOR_SCAN_TIME)
		return;
	wall = ktime_to_ns(ktime_sub(ktime_get(), ksm_adv_start));
	cpu = current->se.sum_exec_runtime - ksm_adv_cpu;
	rate = ksm_advisor_rate(READ_ONCE(ksm_pages_to_scan), wall, cpu, &pct);
	/* A change of mode meanwhile wins: it holds ksm_ctl_mutex. */
	if (!mutex_trylock(&ksm_ctl_mutex))
		return;
	applied = ksm_advisor_mode == KSM_ADVISOR_SCAN_TIME;
	if (applied)
		WRITE_ONCE(ksm_pages_to_scan, rate);
	mutex_unlock(&ksm_ctl_mutex);
	/*
	 * As upstream reports them: the pass time in whole seconds, and the
	 * CPU share, each at least 1.
	 */
	if (applied)
		trace_ksm_advisor(max_t(u64, div_u64(wall, NSEC_PER_SEC), 1),
				  rate, max(pct, 1U));
}

/**
 * ksm_advisor_set_mode() - switch the advisor on or off
 * @mode: KSM_ADVISOR_NONE or KSM_ADVISOR_SCAN_TIME
 *
 * Switching it on starts from advisor_min_pages_to_scan (or the maximum,
 * if below), at the next full scan; switching it off gives pages_to_scan
 * its default back.
 *
 * Context: ksm_ctl_mutex held.
 */
void ksm_advisor_set_mode(unsigned int mode)
{
	lockdep_assert_held(&ksm_ctl_mutex);
	if (mode == ksm_advisor_mode)
		return;
	WRITE_ONCE(ksm_advisor_mode, mode);
	WRITE_ONCE(ksm_pages_to_scan, mode == KSM_ADVISOR_SCAN_TIME ?
		   min(READ_ONCE(ksm_advisor_min_pages),
		       READ_ONCE(ksm_advisor_max_pages)) :
		   KSM_PAGES_TO_SCAN_DEFAULT);
}

#include "advisor-test.h"
