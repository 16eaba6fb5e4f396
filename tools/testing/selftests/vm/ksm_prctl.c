// SPDX-License-Identifier: GPL-2.0
/*
 * Whole-process merging: prctl(PR_SET_MEMORY_MERGE) and PR_GET_MEMORY_MERGE,
 * as upstream Linux has them since 6.4.
 *
 *  - PR_GET_MEMORY_MERGE reads 0 at first; non-zero unused arguments of
 *    either call are EINVAL, and change nothing.
 *  - After PR_SET_MEMORY_MERGE 1 it reads 1; a private anonymous area
 *    mapped before the call, never madvised, is mergeable ("mg" in smaps)
 *    and its pages merge; so is an area mapped after it; a shared area is
 *    not.
 *  - The heap, grown page by page with brk(), stays one mergeable area, as
 *    it would without KSM; an area mapped next to one that MADV_UNMERGEABLE
 *    left unmergeable does not extend it (which would make it mergeable
 *    again), and is mergeable itself.
 *  - A child of fork() reads 1, and its new areas are mergeable; a program
 *    it executes reads 1 too, with its stack and new areas mergeable.
 *  - PR_SET_MEMORY_MERGE 0 reads 0 again, and when it returns, no page of
 *    the process is merged any more and no area is mergeable.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include "ksm_util.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define NPAGES		16
#define KEY		0x11aa11ULL

/* Is the area holding @addr mergeable: "mg" among its smaps VmFlags? */
static int mergeable_at(const void *addr)
{
	return ksm_smaps_flag(addr, "mg");
}

/* The VmFlags "mg" of the [stack] area. */
static int stack_mergeable(void)
{
	int local;

	return mergeable_at(&local);
}

static long get_merge(void)
{
	return prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
}

/* A fresh private anonymous area of NPAGES pages, all holding KEY. */
static char *filled_area(void)
{
	unsigned long long keys[NPAGES];
	char *area = ksm_mmap(NPAGES);
	int i;

	for (i = 0; i < NPAGES; i++)
		keys[i] = KEY;
	ksm_fill_pages(area, keys, NPAGES);
	return area;
}

/* How many areas of /proc/self/maps are named @name. */
static int areas_named(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		ksft_exit_fail_msg("/proc/self/maps: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			n++;
	fclose(f);
	return n;
}

/* brk() grows the heap as one area, mergeable. */
static void test_brk(void)
{
	int i, areas, mg;
	char *top;

	for (i = 0; i < 64; i++) {
		top = sbrk(ksm_page_size);
		if (top == (void *)-1)
			ksft_exit_fail_msg("sbrk: %s\n", strerror(errno));
		*top = 1;
	}
	areas = areas_named("[heap]");
	mg = mergeable_at(top);
	ksft_test_result(areas == 1 && mg == 1,
			 "brk: 64 pages later the heap is one area (%d), mergeable (%d)\n",
			 areas, mg);
	if (sbrk(-64 * (long)ksm_page_size) == (void *)-1)
		ksft_exit_fail_msg("sbrk: %s\n", strerror(errno));
}

/* A new area next to an unmerged one leaves that one as it is. */
static void test_next_to_unmerged(void)
{
	char *area = ksm_mmap(3), *next;
	int mg_area, mg_next;

	if (munmap(area + 2 * ksm_page_size, ksm_page_size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	ksm_madvise(area, 2, MADV_UNMERGEABLE);
	next = mmap(area + 2 * ksm_page_size, ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (next == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	mg_area = mergeable_at(area);
	mg_next = mergeable_at(next);
	ksft_test_result(mg_area == 0 && mg_next == 1,
			 "an area mapped next to an unmerged one: that one stays unmergeable (%d), the new one is mergeable (%d)\n",
			 mg_area, mg_next);
	munmap(area, 3 * ksm_page_size);
}

/* Within the time limit, every page of @a and @b maps one KSM page. */
static bool merged_into_one(char *a, char *b)
{
	long long deadline = ksm_now_ms() + KSM_TIMEOUT_MS;
	unsigned long long pfn;
	bool same;
	int i;

	do {
		pfn = ksm_pagemap(a) & KSM_PM_PFN_MASK;
		same = ksm_count_ksm_pages(a, NPAGES) == NPAGES &&
		       ksm_count_ksm_pages(b, NPAGES) == NPAGES;
		for (i = 0; same && i < NPAGES; i++)
			same = (ksm_pagemap(ksm_page_addr(a, i)) & KSM_PM_PFN_MASK) == pfn &&
			       (ksm_pagemap(ksm_page_addr(b, i)) & KSM_PM_PFN_MASK) == pfn;
		if (same)
			return true;
		usleep(10000);
	} while (ksm_now_ms() < deadline);
	ksft_print_msg("not merged: %ld and %ld KSM pages\n", ksm_count_ksm_pages(a, NPAGES),
		       ksm_count_ksm_pages(b, NPAGES));
	return false;
}

/* The program run by execve() from a child: exit 0 if it merges all. */
static int exec_child(void)
{
	char *area;

	ksm_page_size = sysconf(_SC_PAGESIZE);
	if (get_merge() != 1) {
		printf("# exec: PR_GET_MEMORY_MERGE reads %ld\n", get_merge());
		return 1;
	}
	area = filled_area();
	if (mergeable_at(area) != 1 || stack_mergeable() != 1) {
		printf("# exec: new area mergeable %d, stack %d\n", mergeable_at(area),
		       stack_mergeable());
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *before, *after, *shared;
	int status, mg_before, mg_after, mg_shared;
	bool ok;
	pid_t pid;

	if (argc == 2 && !strcmp(argv[1], "exec-child"))
		return exec_child();

	ksft_print_header();
	ksft_set_plan(11);
	ksm_selftest_init(1000, 0, 150);

	ksft_test_result(get_merge() == 0, "PR_GET_MEMORY_MERGE reads 0 at first\n");
	errno = 0;
	ok = prctl(PR_SET_MEMORY_MERGE, 1, 1, 0, 0) == -1 && errno == EINVAL;
	errno = 0;
	ok = ok && prctl(PR_GET_MEMORY_MERGE, 1, 0, 0, 0) == -1 && errno == EINVAL;
	ok = ok && get_merge() == 0;
	ksft_test_result(ok, "non-zero unused arguments: EINVAL, nothing changed\n");

	before = filled_area();
	shared = mmap(NULL, ksm_page_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		ksft_exit_fail_msg("PR_SET_MEMORY_MERGE 1: %s\n", strerror(errno));
	after = filled_area();
	mg_before = mergeable_at(before);
	mg_after = mergeable_at(after);
	mg_shared = mergeable_at(shared);
	ksft_test_result(get_merge() == 1 && mg_before == 1 && mg_after == 1 && mg_shared == 0,
			 "PR_SET_MEMORY_MERGE 1: reads 1; areas mapped before and after mergeable (%d %d), a shared one not (%d)\n",
			 mg_before, mg_after, mg_shared);

	/*
	 * Other pages of the process (its stack, its heap) may merge too:
	 * look at the two areas' own pages.
	 */
	ksm_set("run", 1);
	ok = merged_into_one(before, after) && ksm_proc_merging_pages(0) >= 2 * NPAGES;
	ksft_test_result(ok, "the pages of both areas, never madvised, merge into one KSM page\n");

	test_brk();
	test_next_to_unmerged();

	/* fork: the child keeps it, and so does what it executes. */
	pid = ksm_fork();
	if (!pid) {
		char *mine = filled_area();

		_exit(get_merge() == 1 && mergeable_at(mine) == 1 ? 0 : 1);
	}
	ksft_test_result(ksm_wait_child(pid, "child"),
			 "fork: the child reads 1, and its new area is mergeable\n");
	fflush(stdout);
	pid = ksm_fork();
	if (!pid) {
		execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
		_exit(3);
	}
	ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status);
	ksft_test_result(ok, "execve: the program reads 1, its stack and a new area are mergeable\n");

	/* 0: unmerged when the call returns, nothing mergeable. */
	ksm_set("run", 0);
	if (prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0))
		ksft_exit_fail_msg("PR_SET_MEMORY_MERGE 0: %s\n", strerror(errno));
	ok = get_merge() == 0 && ksm_count_ksm_pages(before, NPAGES) == 0 &&
	     ksm_count_ksm_pages(after, NPAGES) == 0;
	ok = ok && !ksm_read("pages_shared") && !ksm_read("pages_sharing");
	ksft_test_result(ok, "PR_SET_MEMORY_MERGE 0: reads 0, no page merged when the call returns\n");
	mg_before = mergeable_at(before);
	mg_after = mergeable_at(after);
	ksft_test_result(mg_before == 0 && mg_after == 0 && stack_mergeable() == 0,
			 "PR_SET_MEMORY_MERGE 0: no area mergeable (%d %d)\n", mg_before, mg_after);
	ksm_set("run", 1);
	ok = ksm_wait_full_scans(2, KSM_TIMEOUT_MS) && !ksm_read("pages_shared");
	ok = ksm_check_page(before, KEY) < 0 && ok;
	ksft_test_result(ok, "and ksmd leaves the process alone\n");
	ksft_finished();
}
