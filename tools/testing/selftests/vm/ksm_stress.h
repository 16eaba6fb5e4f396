/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the KSM stress and fault programs (ksm_stress_*.c, the "stress"
 * suite of the lab): options, the seed, the deadline and the summary.  The
 * bodies are in ksm_util.c.
 *
 * Every stress program:
 *  - takes -t SECONDS (how long to run; each program has a short default
 *    for make check) and -s SEED (default: $KSM_SEED, else from the clock);
 *  - prints its seed first, so that any run can be repeated;
 *  - counts its operations, the pages it verified and the mismatches it
 *    found in counters shared with its children (fork keeps them);
 *  - ends with one "# summary: ..." line, which the lab adds up, and fails
 *    on any mismatch.
 *
 * Include after ksm_util.h.
 */
#ifndef __KSM_STRESS_H
#define __KSM_STRESS_H

#include <getopt.h>

/* Lives in a MAP_SHARED page: children add to the same counters. */
struct ksm_stress_stats {
	unsigned long long ops;
	unsigned long long verified;
	unsigned long long mismatches;
};

extern struct ksm_stress_stats *ksm_stats;
extern unsigned long long ksm_seed;
extern unsigned int ksm_secs;
extern long long ksm_deadline_ms;
extern const char *ksm_prog;

unsigned long long ksm_rand(unsigned long long *state);
unsigned long long ksm_rand_below(unsigned long long *state,
				  unsigned long long n);
unsigned long long ksm_rand_stream(unsigned long long stream);
void ksm_stress_init(int argc, char **argv, unsigned int default_secs);

/* The watchdog for ksm_selftest_init(): the run plus time to wind down. */
static inline unsigned int ksm_stress_watchdog(void)
{
	return ksm_secs + 300;
}

static inline bool ksm_stress_running(void)
{
	return ksm_now_ms() < ksm_deadline_ms;
}

void ksm_stress_ops(unsigned long long n);
unsigned long long ksm_stress_verified(unsigned long long npages,
				       unsigned long long bad);
bool ksm_stress_summary(void);

/*
 * KSM's slab objects: the active_objs column of /proc/slabinfo for its
 * three caches, which stay caches of their own when the kernel runs with
 * slab_nomerge (the lab's guests do).  When every registered process has
 * gone and run=2 has unmerged the rest, all three must come back to 0.
 */
#define KSM_NR_SLABS	3

/* Fill @objs; false if /proc/slabinfo lacks one of the caches. */
bool ksm_slab_objs(long objs[KSM_NR_SLABS]);
/* Have SLUB flush per-cpu slabs and discard empty ones, if it can. */
void ksm_slab_shrink(void);
void ksm_slab_print(const char *what, const long objs[KSM_NR_SLABS]);
/*
 * Wait up to @timeout_ms for every KSM slab object to be freed: 1 once
 * they are, 0 on timeout (printed), -1 if they cannot be counted.
 */
int ksm_slab_wait_zero(long timeout_ms);

/*
 * The counters that pages held still imply, once writes pause: the pages
 * of contents with two copies or more are all merged, the others are
 * unshared.  @zero -1: ksm_zero_pages is not checked.
 */
struct ksm_share {
	long sum;		/* pages_shared + pages_sharing */
	long unshared;
	long zero;		/* ksm_zero_pages */
};

/*
 * Wait up to @timeout_ms for the counters to be as @w says (volatile 0),
 * and for them to stay so over two more full scans; print them if not.
 */
bool ksm_wait_share(const struct ksm_share *w, long timeout_ms);

#define KSM_STRESS_ZERO_MS	30000	/* counters back to 0 */
#define KSM_STRESS_SLAB_MS	20000	/* slab objects freed (RCU, per-cpu) */

/*
 * The end of a run once every registered process has gone (@gone false if
 * some could not be reaped), as three results: every counter back to 0
 * with ksmd running, again after run=2, and KSM's slab objects all freed
 * (a skip when @have_slabs is false: they cannot be counted).  Inline, so
 * that the results count with the program's own (kselftest.h's counts are
 * static, one copy in each file).
 */
static inline void ksm_stress_check_all_gone(bool gone, bool have_slabs)
{
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };
	int slab;

	gone = gone && ksm_wait_counters_scans(&zero, KSM_STRESS_ZERO_MS, NULL);
	ksft_test_result(gone, "every process gone: every counter back to 0 with ksmd running\n");
	ksft_test_result(ksm_unmerge_all(), "run=2: every counter 0\n");
	slab = have_slabs ? ksm_slab_wait_zero(KSM_STRESS_SLAB_MS) : -1;
	if (slab < 0)
		ksft_test_result_skip("KSM slab objects: not countable (no slab_nomerge?)\n");
	else
		ksft_test_result(slab > 0,
				 "KSM slab objects (rmap items, stable nodes, mm slots) all freed\n");
}

#endif /* __KSM_STRESS_H */
