// SPDX-License-Identifier: GPL-2.0
/*
 * KSM's pages on the LRU: aged as 6.1 ages them.
 *
 * - A page that becomes a KSM page is marked accessed (PG_referenced, or a
 *   reference of the multi-gen LRU): it now stands for every page merged
 *   into it, and reclaim should not take it at the first look.
 * - A write to a KSM page faults and maps a copy; with the multi-gen LRU
 *   on, a page a fault maps goes to the youngest generation, where reclaim
 *   comes last.  Unmerging (MADV_UNMERGEABLE, run = 2) maps the same
 *   copies, which 6.1 made by such a fault: they too must be the youngest.
 *   A host that unmerges a guest's memory, often because memory ran short,
 *   would otherwise see that guest's pages swapped out first.
 *
 * With the LRU as the kernel booted (the classic one, unless
 * CONFIG_LRU_GEN_ENABLED), N fresh pages of one content, none referenced
 * (/proc/kpageflags), are merged: the KSM page reads referenced.
 * Then, in a memory cgroup of its own, with /sys/kernel/mm/lru_gen/enabled
 * on (else SKIP: a kernel without CONFIG_LRU_GEN), N pages are written
 * (each fault's page in the youngest generation), and:
 *  - merged (pages_shared 1, pages_sharing N - 1; the KSM page referenced)
 *    and MADV_UNMERGEABLE: no KSM page left, contents intact, and the
 *    cgroup's anonymous pages outside the youngest generation of their
 *    node (debugfs lru_gen) no more than before merging;
 *  - merged again and run = 2: the same.
 * No reclaim runs meanwhile (no cgroup limit, memory to spare), so no
 * generation is added, no page ages and no referenced bit is cleared.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define N		512
#define KEY		0x6c7ULL
#define KPF_REFERENCED	(1ULL << 2)
#define LRU_GEN_ON	"/sys/kernel/mm/lru_gen/enabled"
#define LRU_GEN_DEBUG	"/sys/kernel/debug/lru_gen"

static char cg_dir[512];
static char lru_gen_was[32];

static void restore(void)
{
	if (getpid() != ksm_owner_pid)
		return;
	if (cg_dir[0])
		ksm_cg_leave(cg_dir);
	if (lru_gen_was[0])
		ksm_write_path(LRU_GEN_ON, lru_gen_was);
}

/* Is @path (a cgroup's, from its root) the cgroup whose directory is @name? */
static bool is_cgroup(const char *path, const char *name)
{
	const char *last = strrchr(path, '/');

	return !strcmp(last ? last + 1 : path, name);
}

/*
 * The anonymous pages of the cgroup @name that are not in the youngest
 * generation of their node, or -1 if the cgroup is not listed.  lru_gen
 * lists each cgroup ("memcg ID PATH"), then each node (" node NID"), then
 * one line per generation of that node, oldest first: "SEQ AGE_MS ANON
 * FILE".
 */
static long old_anon(const char *name)
{
	unsigned long seq, age, anon, file, older = 0, last = 0;
	char line[512], path[256];
	bool ours = false, seen = false;
	long total = 0;
	FILE *f = fopen(LRU_GEN_DEBUG, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		bool memcg = !strncmp(line, "memcg", 5);

		if (memcg || !strncmp(line, " node", 5)) {
			/* The node before is done: all but its last generation. */
			if (ours)
				total += older;
			older = 0;
			last = 0;
		}
		if (memcg) {
			/* The root's path may read empty. */
			if (sscanf(line, "memcg %*u %255s", path) != 1)
				path[0] = '\0';
			ours = is_cgroup(path, name);
			seen |= ours;
		} else if (sscanf(line, "%lu %lu %lu %lu", &seq, &age, &anon,
				  &file) == 4) {
			older += last;
			last = anon;
		}
	}
	if (ours)
		total += older;
	fclose(f);
	return seen ? total : -1;
}

/* How many pages of @area read referenced in /proc/kpageflags; -1: unknown. */
static long referenced(char *area, size_t npages)
{
	unsigned long long ent;
	long long flags;
	long n = 0;
	size_t i;

	for (i = 0; i < npages; i++) {
		ent = ksm_pagemap(ksm_page_addr(area, i));
		if (!(ent & KSM_PM_PRESENT) || !(ent & KSM_PM_PFN_MASK))
			return -1;
		flags = ksm_kpage("/proc/kpageflags", ent & KSM_PM_PFN_MASK);
		if (flags < 0)
			return -1;
		n += !!(flags & KPF_REFERENCED);
	}
	return n;
}

/*
 * Merge the N pages of @area, none of them referenced: false (with a
 * message) if they do not merge into one KSM page, intact and referenced.
 */
static bool merge(char *area, const unsigned long long *keys)
{
	struct ksm_counters want = { .shared = 1, .sharing = N - 1 };
	bool ok;

	if (referenced(area, N) != 0) {
		ksft_print_msg("before merging: %ld of %d pages referenced\n",
			       referenced(area, N), N);
		return false;
	}
	ksm_madvise(area, N, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want);
	ksm_set("run", 0);
	if (!ok)
		ksm_print_counters("not merged");
	if (!ok || ksm_count_ksm_pages(area, N) != N ||
	    ksm_check_pages(area, keys, N, "merged"))
		return false;
	if (referenced(area, 1) != 1) {
		ksft_print_msg("merged: the KSM page is not referenced\n");
		return false;
	}
	return true;
}

/* After an unmerge: no KSM page, intact, no copy in an older generation. */
static void check_unmerged(char *area, const unsigned long long *keys,
			   const char *name, long before, bool ok,
			   const char *how)
{
	long after = ok ? old_anon(name) : -1;

	ok = ok && ksm_count_ksm_pages(area, N) == 0 &&
	     !ksm_check_pages(area, keys, N, how);
	if (ok)
		ksft_print_msg("%s: anon pages outside the youngest generation: %ld before merging, %ld after\n",
			       how, before, after);
	ksft_test_result(ok && after >= 0 && after <= before,
			 "multi-gen LRU: merged, referenced, %s: %d pages unshared, intact, none outside the youngest generation\n",
			 how, N);
}

/* Report the multi-gen LRU's tests skipped, for @why, and end. */
static void skip_mglru(const char *why)
{
	int i;

	for (i = 0; i < 2; i++)
		ksft_test_result_skip("multi-gen LRU: %s\n", why);
	ksft_finished();
}

int main(void)
{
	static unsigned long long keys[N];
	char why[256], *area, *name;
	long before;
	bool ok;
	int fd, i;

	ksft_print_header();
	ksft_set_plan(3);
	ksm_selftest_init(N, 20, 0);
	ksm_set("use_zero_pages", 0);
	ksm_set("max_page_sharing", 2 * N);
	for (i = 0; i < N; i++)
		keys[i] = KEY;

	/* The LRU the kernel booted with. */
	area = ksm_mmap(N);
	ksm_fill_pages(area, keys, N);
	ok = merge(area, keys) &&
	     !madvise(area, N * ksm_page_size, MADV_UNMERGEABLE) &&
	     ksm_count_ksm_pages(area, N) == 0;
	ksft_test_result(ok, "LRU as booted: %d fresh pages merged into 1 KSM page, referenced; unmerged\n",
			 N);
	munmap(area, N * ksm_page_size);

	fd = open(LRU_GEN_ON, O_RDONLY);
	if (fd < 0)
		skip_mglru("no " LRU_GEN_ON " (a kernel without CONFIG_LRU_GEN)");
	i = read(fd, lru_gen_was, sizeof(lru_gen_was) - 1);
	close(fd);
	if (i <= 0)
		ksft_exit_fail_msg("cannot read %s\n", LRU_GEN_ON);
	lru_gen_was[i] = '\0';
	atexit(restore);
	if (access(LRU_GEN_DEBUG, R_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(LRU_GEN_DEBUG, R_OK))
		skip_mglru("no " LRU_GEN_DEBUG " (debugfs)");
	if (!ksm_write_path(LRU_GEN_ON, "y"))
		ksft_exit_fail_msg("cannot turn the multi-gen LRU on: %s\n",
				   strerror(errno));
	if (!ksm_cg_enter("ksm_lru", NULL, cg_dir, sizeof(cg_dir), why,
			  sizeof(why)))
		skip_mglru(why);
	name = strrchr(cg_dir, '/') + 1;

	area = ksm_mmap(N);
	ksm_fill_pages(area, keys, N);
	before = old_anon(name);
	ksft_print_msg("multi-gen LRU: %d pages written, %ld of the cgroup's anon pages outside the youngest generation\n",
		       N, before);
	if (before < 0)
		ksft_exit_fail_msg("cgroup %s not in %s\n", name, LRU_GEN_DEBUG);

	ok = merge(area, keys) &&
	     !madvise(area, N * ksm_page_size, MADV_UNMERGEABLE);
	check_unmerged(area, keys, name, before, ok, "MADV_UNMERGEABLE");

	ok = merge(area, keys) && ksm_unmerge_all();
	check_unmerged(area, keys, name, before, ok, "run = 2");

	munmap(area, N * ksm_page_size);
	ksft_finished();
}
