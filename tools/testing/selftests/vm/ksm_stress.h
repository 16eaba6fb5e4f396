/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the KSM stress and fault programs (ksm_stress_*.c, the "stress"
 * suite of the lab): options, the seed, the deadline and the summary.
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
 * Include after ksm_selftest.h.
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

static struct ksm_stress_stats *ksm_stats;
static unsigned long long ksm_seed;
static unsigned int ksm_secs;
static long long ksm_deadline_ms;
static const char *ksm_prog;

/* splitmix64: a small, good generator; each process seeds its own state. */
static inline unsigned long long ksm_rand(unsigned long long *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return ksm_mix64(*state);
}

/* A uniform value in [0, n), n > 0. */
static inline unsigned long long ksm_rand_below(unsigned long long *state,
						unsigned long long n)
{
	return ksm_rand(state) % n;
}

/* The state of stream @stream (a child number, say) of this run's seed. */
static inline unsigned long long ksm_rand_stream(unsigned long long stream)
{
	return ksm_mix64(ksm_seed ^ ksm_mix64(stream + 1));
}

static inline void ksm_stress_usage(void)
{
	fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED]\n", ksm_prog);
	exit(KSFT_FAIL);
}

/*
 * Parse -t and -s, set the deadline, map the shared counters and print the
 * seed.  Call before ksm_selftest_init(), whose watchdog should be given
 * ksm_stress_watchdog().
 */
static inline void ksm_stress_init(int argc, char **argv,
				   unsigned int default_secs)
{
	const char *env = getenv("KSM_SEED");
	char *end;
	int opt;

	ksm_prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	ksm_secs = default_secs;
	if (env && *env)
		ksm_seed = strtoull(env, NULL, 0);
	else
		ksm_seed = ksm_mix64((unsigned long long)time(NULL) << 20 ^ getpid());
	while ((opt = getopt(argc, argv, "t:s:")) != -1) {
		switch (opt) {
		case 't':
			ksm_secs = strtoul(optarg, &end, 0);
			if (*end || !ksm_secs)
				ksm_stress_usage();
			break;
		case 's':
			ksm_seed = strtoull(optarg, &end, 0);
			if (*end)
				ksm_stress_usage();
			break;
		default:
			ksm_stress_usage();
		}
	}
	ksm_stats = mmap(NULL, sizeof(*ksm_stats), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ksm_stats == MAP_FAILED)
		ksft_exit_fail_msg("mmap of the shared counters: %s\n", strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_msg("seed %llu, %u s (repeat: %s -s %llu -t %u)\n", ksm_seed,
		       ksm_secs, ksm_prog, ksm_seed, ksm_secs);
	ksm_deadline_ms = ksm_now_ms() + ksm_secs * 1000LL;
}

/* The watchdog for ksm_selftest_init(): the run plus time to wind down. */
static inline unsigned int ksm_stress_watchdog(void)
{
	return ksm_secs + 300;
}

static inline bool ksm_stress_running(void)
{
	return ksm_now_ms() < ksm_deadline_ms;
}

static inline void ksm_stress_ops(unsigned long long n)
{
	__atomic_fetch_add(&ksm_stats->ops, n, __ATOMIC_RELAXED);
}

/*
 * Count @npages verified pages, @bad of which held the wrong contents.
 * Returns @bad, so that callers can write "if (ksm_stress_verified(...))".
 */
static inline unsigned long long ksm_stress_verified(unsigned long long npages,
						     unsigned long long bad)
{
	__atomic_fetch_add(&ksm_stats->verified, npages, __ATOMIC_RELAXED);
	if (bad)
		__atomic_fetch_add(&ksm_stats->mismatches, bad, __ATOMIC_RELAXED);
	return bad;
}

/* Print the summary line the lab adds up; true if no mismatch was seen. */
static inline bool ksm_stress_summary(void)
{
	struct ksm_stress_stats s = {
		.ops = __atomic_load_n(&ksm_stats->ops, __ATOMIC_SEQ_CST),
		.verified = __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST),
		.mismatches = __atomic_load_n(&ksm_stats->mismatches, __ATOMIC_SEQ_CST),
	};

	printf("# summary: %s seed=%llu secs=%u ops=%llu verified=%llu mismatches=%llu\n",
	       ksm_prog, ksm_seed, ksm_secs, s.ops, s.verified, s.mismatches);
	return s.mismatches == 0;
}

/*
 * KSM's slab objects: the active_objs column of /proc/slabinfo for its
 * three caches, which stay caches of their own when the kernel runs with
 * slab_nomerge (the lab's guests do).  When every registered process has
 * gone and run=2 has unmerged the rest, all three must come back to 0.
 */
#define KSM_NR_SLABS	3

static const char * const ksm_slab_names[KSM_NR_SLABS] = {
	"ksm_rmap_item", "ksm_stable_node", "ksm_mm_slot",
};

/* Fill @objs; false if /proc/slabinfo lacks one of the caches. */
static inline bool ksm_slab_objs(long objs[KSM_NR_SLABS])
{
	char line[512], name[64];
	int i, found = 0;
	long active;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", name, &active) != 2)
			continue;
		for (i = 0; i < KSM_NR_SLABS; i++) {
			if (!strcmp(name, ksm_slab_names[i])) {
				objs[i] = active;
				found |= 1 << i;
			}
		}
	}
	fclose(f);
	return found == (1 << KSM_NR_SLABS) - 1;
}

/*
 * SLUB counts the free objects of per-cpu slabs as active: have it flush
 * them and discard empty slabs (/sys/kernel/slab/NAME/shrink), if it can.
 */
static inline void ksm_slab_shrink(void)
{
	char path[128];
	int i, fd;

	for (i = 0; i < KSM_NR_SLABS; i++) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 ksm_slab_names[i]);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;
		if (write(fd, "1", 1) != 1)
			ksft_print_msg("write %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

static inline void ksm_slab_print(const char *what, const long objs[KSM_NR_SLABS])
{
	ksft_print_msg("%s: ksm_rmap_item %ld ksm_stable_node %ld ksm_mm_slot %ld\n",
		       what, objs[0], objs[1], objs[2]);
}

/*
 * Wait (at most @timeout_ms: frees may be deferred, by RCU say) until every
 * KSM slab object is freed.  1 when they are, 0 on timeout (printed), -1
 * when they cannot be counted (no /proc/slabinfo or merged caches).
 */
static inline int ksm_slab_wait_zero(long timeout_ms)
{
	long long deadline = ksm_now_ms() + timeout_ms;
	long objs[KSM_NR_SLABS];

	for (;;) {
		if (!ksm_slab_objs(objs))
			return -1;
		if (!objs[0] && !objs[1] && !objs[2])
			return 1;
		if (ksm_now_ms() > deadline) {
			ksm_slab_print("KSM slab objects still active", objs);
			return 0;
		}
		ksm_slab_shrink();
		usleep(100000);
	}
}

#define KSM_STRESS_ZERO_MS	30000	/* counters back to 0 */
#define KSM_STRESS_SLAB_MS	20000	/* slab objects freed (RCU, per-cpu) */

/*
 * The end of a run once every registered process has gone (@gone false if
 * some could not be reaped), as three results: every counter back to 0
 * with ksmd running, again after run=2, and KSM's slab objects all freed
 * (a skip when @have_slabs is false: they cannot be counted).
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
