// SPDX-License-Identifier: GPL-2.0
/*
 * Unmerging KSM pages.
 *
 * An area of 32 pages (2 contents x 16, interleaved) merges into
 * pages_shared 2, pages_sharing 30.  run=0 stops ksmd and keeps it merged.
 * It is then unmerged (ksmd still stopped, then running again):
 *  - by madvise(MADV_UNMERGEABLE): when the call returns every page has its
 *    own PFN, the contents are intact, and pages_shared, pages_sharing and
 *    /proc/self/ksm_merging_pages are already 0 ("at once": the target; see
 *    below) - and they are 0 at the latest after ksmd's next scans;
 *  - by run=2: every counter (pages_shared, pages_sharing, pages_unshared,
 *    pages_volatile, stable_node_chains, stable_node_dups, full_scans,
 *    ksm_merging_pages, ksm_rmap_items) is 0 when the write returns, pages
 *    are unshared with contents intact, and run=1 merges the still
 *    registered area again;
 *  - by munmap() of half the area, then of the rest;
 *  - by the exit of a process that shared the KSM page with us;
 *  - by madvise(MADV_UNMERGEABLE) of pages that never merged: their rmap
 *    items and pages_unshared go; with ksmd stopped (run 0), at once, as
 *    no scan of ksmd would come to free them;
 *  - by mremap() moving a merged area: when the call returns no page at the
 *    new address is a KSM page, the contents are intact, pages_shared and
 *    pages_sharing are 0 at once (the target, as for MADV_UNMERGEABLE), and
 *    the area, still registered, merges again.
 * For munmap, exit and pages that never merged the counters may drop at
 * once or after ksmd's next scan: the test prints which.
 *
 * The "at once" check after MADV_UNMERGEABLE is reported on its own line;
 * Linux 6.1 drops those counters only when ksmd next scans the mm.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NPAGES	32
#define HALF	(NPAGES / 2)

static unsigned long long keys[NPAGES];

/* Pages of one content (every other page) all on one PFN? */
static bool pfns_merged(char *area)
{
	unsigned long long a, b;
	size_t i;

	for (i = 2; i < NPAGES; i++) {
		a = ksm_pagemap(ksm_page_addr(area, i - 2)) & KSM_PM_PFN_MASK;
		b = ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_PFN_MASK;
		if (a != b) {
			ksft_print_msg("pages %zu and %zu: PFNs %llx and %llx\n",
				       i - 2, i, a, b);
			return false;
		}
	}
	return true;
}

static bool pfns_distinct(char *area, size_t n)
{
	unsigned long long pfn[NPAGES];
	size_t i, j;

	for (i = 0; i < n; i++) {
		unsigned long long ent = ksm_pagemap(ksm_page_addr(area, i));

		pfn[i] = ent & KSM_PM_PFN_MASK;
		if (!(ent & KSM_PM_PRESENT)) {
			ksft_print_msg("page %zu not present\n", i);
			return false;
		}
		for (j = 0; j < i; j++) {
			if (pfn[i] == pfn[j]) {
				ksft_print_msg("pages %zu and %zu still share PFN %llx\n",
					       j, i, pfn[i]);
				return false;
			}
		}
	}
	return true;
}

/*
 * Wait for @want and say whether it held at once or took scans.  Counts
 * as a pass either way.
 */
static bool wait_report(const struct ksm_counters *want, const char *what)
{
	struct ksm_counters c;
	unsigned long scans;

	ksm_read_counters(&c);
	if (ksm_counters_match(&c, want)) {
		ksft_print_msg("%s: counters dropped at once\n", what);
		return ksm_wait_counters(want);
	}
	if (!ksm_wait_counters_scans(want, KSM_TIMEOUT_MS, &scans))
		return false;
	ksft_print_msg("%s: counters dropped after %lu more full scan(s) of ksmd\n",
		       what, scans);
	return true;
}

static bool merge_area(void)
{
	struct ksm_counters want = { 2, NPAGES - 2, 0, 0, 0, 0 };

	ksm_set("run", 1);
	return ksm_wait_counters(&want) &&
	       ksm_proc_merging_pages(0) == NPAGES;
}

static void test_madvise(char *area)
{
	struct ksm_counters merged = { 2, NPAGES - 2, 0, 0, 0, 0 };
	struct ksm_counters zero = { 0, 0, KSM_ANY, KSM_ANY, KSM_ANY, KSM_ANY };
	struct ksm_counters c;
	long merging;
	bool ok;

	ksm_madvise(area, NPAGES, MADV_MERGEABLE);
	ok = merge_area();
	ksft_test_result(ok, "setup: pages_shared 2 pages_sharing %d ksm_merging_pages %d\n",
			 NPAGES - 2, NPAGES);
	if (!ok)
		ksft_exit_fail_msg("cannot test unmerging without merged pages\n");

	/*
	 * Stop ksmd (run=0 keeps merged pages), so that what is seen right
	 * after the call is what the call itself did.
	 */
	ksm_set("run", 0);
	usleep(100000);
	ok = ksm_counters_now(&merged) && ksm_proc_merging_pages(0) == NPAGES &&
	     pfns_merged(area);
	ksft_test_result(ok, "run=0: ksmd stops, merged pages stay merged\n");

	ksm_madvise(area, NPAGES, MADV_UNMERGEABLE);
	ksm_read_counters(&c);
	merging = ksm_proc_merging_pages(0);

	ok = pfns_distinct(area, NPAGES);
	ok = !ksm_check_pages(area, keys, NPAGES, "MADV_UNMERGEABLE") && ok;
	ksft_test_result(ok, "MADV_UNMERGEABLE: every page private at once, contents intact\n");

	ksft_print_msg("after MADV_UNMERGEABLE: shared %ld sharing %ld ksm_merging_pages %ld\n",
		       c.shared, c.sharing, merging);
	ksft_test_result(c.shared == 0 && c.sharing == 0 && merging == 0,
			 "MADV_UNMERGEABLE: pages_shared, pages_sharing, ksm_merging_pages 0 immediately after the call\n");

	ksm_set("run", 1);
	ok = wait_report(&zero, "MADV_UNMERGEABLE");
	ok = ok && ksm_proc_merging_pages(0) == 0;
	ok = !ksm_check_pages(area, keys, NPAGES, "MADV_UNMERGEABLE") && ok;
	ksft_test_result(ok,
			 "MADV_UNMERGEABLE: pages_shared, pages_sharing, ksm_merging_pages 0 after ksmd's scans\n");
}

static void test_run2(char *area)
{
	bool ok;

	ksm_unmerge_all();
	ksm_madvise(area, NPAGES, MADV_MERGEABLE);
	ok = merge_area();
	if (!ok) {
		ksft_test_result_fail("run=2: could not merge the area first\n");
		ksft_test_result_skip("run=1 after run=2: no merged area\n");
		return;
	}
	ksm_set("run", 2);
	ok = ksm_all_counters_zero();
	if (ksm_full_scans()) {
		ksft_print_msg("full_scans %lu after run=2\n", ksm_full_scans());
		ok = false;
	}
	if (ksm_proc_merging_pages(0) || ksm_proc_rmap_items(0)) {
		ksft_print_msg("after run=2: ksm_merging_pages %ld ksm_rmap_items %ld\n",
			       ksm_proc_merging_pages(0), ksm_proc_rmap_items(0));
		ok = false;
	}
	ok = pfns_distinct(area, NPAGES) && ok;
	ok = !ksm_check_pages(area, keys, NPAGES, "run=2") && ok;
	ksft_test_result(ok,
			 "run=2: all counters, full_scans, ksm_merging_pages, ksm_rmap_items 0 at once; contents intact\n");

	ok = merge_area();
	ok = !ksm_check_pages(area, keys, NPAGES, "run=1") && ok;
	ksft_test_result(ok, "run=1 after run=2: the still registered area merges again\n");
}

static void test_munmap(char *area)
{
	struct ksm_counters half = { 2, HALF - 2, 0, 0, 0, 0 };
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };
	bool ok;

	if (ksm_read("pages_shared") != 2 || ksm_read("pages_sharing") != NPAGES - 2) {
		ksft_test_result_fail("munmap: area not merged to begin with\n");
		ksft_test_result_skip("munmap of the rest: area not merged\n");
		return;
	}
	if (munmap(area, HALF * ksm_page_size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	ok = wait_report(&half, "munmap of half");
	ok = ok && ksm_proc_merging_pages(0) == HALF;
	ok = !ksm_check_pages(ksm_page_addr(area, HALF), keys + HALF, HALF,
			      "munmap half") && ok;
	ksft_test_result(ok, "munmap of half: pages_shared 2 pages_sharing %d, rest intact\n",
			 HALF - 2);

	if (munmap(ksm_page_addr(area, HALF), HALF * ksm_page_size))
		ksft_exit_fail_msg("munmap: %s\n", strerror(errno));
	ok = wait_report(&zero, "munmap of the rest");
	ok = ok && ksm_proc_merging_pages(0) == 0 && ksm_proc_rmap_items(0) == 0;
	ksft_test_result(ok,
			 "munmap of the rest: every counter 0, ksm_merging_pages and ksm_rmap_items 0\n");
}

static void test_exit(void)
{
	struct ksm_counters both = { 1, 2 * HALF - 1, 0, 0, 0, 0 };
	struct ksm_counters mine = { 1, HALF - 1, 0, 0, 0, 0 };
	unsigned long long k[HALF];
	int ready[2], go[2];
	char *area;
	pid_t pid;
	size_t i;
	bool ok;

	ksm_unmerge_all();
	for (i = 0; i < HALF; i++)
		k[i] = 11;
	if (pipe(ready) || pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		char *c = mmap(NULL, HALF * ksm_page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (c == MAP_FAILED)
			_exit(2);
		ksm_fill_pages(c, k, HALF);
		if (madvise(c, HALF * ksm_page_size, MADV_MERGEABLE))
			_exit(3);
		ksm_pipe_send(ready[1], 'r');
		if (ksm_pipe_recv(go[0], 3 * KSM_TIMEOUT_MS) != 'x')
			_exit(4);
		_exit(ksm_check_pages(c, k, HALF, "child") ? 1 : 0);
	}
	if (ksm_pipe_recv(ready[0], KSM_TIMEOUT_MS) != 'r')
		ksft_exit_fail_msg("child not ready\n");
	/* Only after fork(), so that the child has no copy of it. */
	area = ksm_mmap_mergeable(k, HALF);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&both);
	ok = ok && ksm_proc_merging_pages(pid) == HALF &&
	     ksm_proc_merging_pages(0) == HALF;
	if (!ok) {
		ksft_test_result_fail("exit: parent and child did not merge (1/%d)\n",
				      2 * HALF - 1);
		kill(pid, SIGKILL);
		ksm_wait_child(pid, "child");
		munmap(area, HALF * ksm_page_size);
		return;
	}
	ksm_pipe_send(go[1], 'x');
	ok = ksm_wait_child(pid, "child");
	ok = wait_report(&mine, "exit of the other process") && ok;
	ok = ok && ksm_proc_merging_pages(0) == HALF;
	ok = !ksm_check_pages(area, k, HALF, "parent") && ok;
	ksft_test_result(ok,
			 "exit: the other process's sharers go (pages_sharing %d -> %d), ours intact\n",
			 2 * HALF - 1, HALF - 1);
	munmap(area, HALF * ksm_page_size);
}

/*
 * MADV_UNMERGEABLE of pages that never merged: their rmap items go, and
 * pages_unshared with them, at once or at ksmd's next scans (when ksmd
 * holds its lock, ours leaves them to its scan rather than wait), but
 * never linger; the pages keep their contents.
 */
static void test_never_merged(void)
{
	struct ksm_counters unshared = { 0, 0, NPAGES, 0, 0, 0 };
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };
	unsigned long long k[NPAGES];
	char *area;
	size_t i;
	bool ok;

	ksm_unmerge_all();
	for (i = 0; i < NPAGES; i++)
		k[i] = 100 + i;
	area = ksm_mmap_mergeable(k, NPAGES);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&unshared) && ksm_proc_rmap_items(0) == NPAGES;
	if (!ok) {
		ksft_test_result_fail("never merged: %d unique pages not all in the unstable table\n",
				      NPAGES);
		ksft_test_result_fail("never merged, ksmd stopped: not tried\n");
		munmap(area, NPAGES * ksm_page_size);
		return;
	}
	ksm_madvise(area, NPAGES, MADV_UNMERGEABLE);
	ok = wait_report(&zero, "MADV_UNMERGEABLE of pages never merged");
	ok = ok && ksm_proc_rmap_items(0) == 0 && ksm_proc_merging_pages(0) == 0;
	ok = !ksm_check_pages(area, k, NPAGES, "never merged") && ok;
	ksft_test_result(ok,
			 "MADV_UNMERGEABLE of pages never merged: pages_unshared %d -> 0, ksm_rmap_items %d -> 0, contents intact\n",
			 NPAGES, NPAGES);

	/* Again, with ksmd stopped before the madvise. */
	ksm_madvise(area, NPAGES, MADV_MERGEABLE);
	ok = ksm_wait_counters(&unshared) && ksm_proc_rmap_items(0) == NPAGES;
	ksm_set("run", 0);
	ksm_madvise(area, NPAGES, MADV_UNMERGEABLE);
	ksft_print_msg("run 0, MADV_UNMERGEABLE: pages_unshared %lu, ksm_rmap_items %ld\n",
		       ksm_read("pages_unshared"), ksm_proc_rmap_items(0));
	ok = ok && ksm_read("pages_unshared") == 0 &&
	     ksm_proc_rmap_items(0) == 0;
	ksft_test_result(ok,
			 "MADV_UNMERGEABLE of pages never merged, ksmd stopped: their %d items go at once\n",
			 NPAGES);
	ksm_set("run", 1);
	munmap(area, NPAGES * ksm_page_size);
}

static void test_mremap(void)
{
	struct ksm_counters want = { 2, NPAGES - 2, 0, 0, 0, 0 };
	char *area, *dst, *moved;
	long ksm_left;
	bool ok;

	ksm_must_unmerge_all();
	area = ksm_mmap_mergeable(keys, NPAGES);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want);
	ksm_set("run", 0);
	/* A hole to move it to, away from where it was. */
	dst = ksm_mmap(NPAGES);
	moved = mremap(area, NPAGES * ksm_page_size, NPAGES * ksm_page_size,
		       MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (moved == MAP_FAILED)
		ksft_exit_fail_msg("mremap: %s\n", strerror(errno));
	ksm_left = ksm_count_ksm_pages(moved, NPAGES);
	ok = ok && ksm_left == 0;
	ok = !ksm_check_pages(moved, keys, NPAGES, "mremap") && ok;
	ksft_test_result(ok, "mremap: no KSM page at the new address when the call returns (%ld), contents intact\n",
			 ksm_left);
	ksft_print_msg("after mremap: shared %lu sharing %lu\n", ksm_read("pages_shared"),
		       ksm_read("pages_sharing"));
	ksft_test_result(!ksm_read("pages_shared") && !ksm_read("pages_sharing"),
			 "mremap: pages_shared, pages_sharing 0 immediately after the call\n");
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want) && !ksm_check_pages(moved, keys, NPAGES, "remerged");
	ksft_test_result(ok, "mremap: the moved area, still registered, merges again\n");
	munmap(moved, NPAGES * ksm_page_size);
}

int main(void)
{
	char *area;
	size_t i;

	ksft_print_header();
	ksft_set_plan(16);
	ksm_selftest_init(2 * NPAGES + 100, 0, 270);

	for (i = 0; i < NPAGES; i++)
		keys[i] = 1 + i % 2;
	area = ksm_mmap(NPAGES);
	ksm_fill_pages(area, keys, NPAGES);

	test_madvise(area);
	test_run2(area);
	test_munmap(area);
	test_exit();
	test_never_merged();
	test_mremap();

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
