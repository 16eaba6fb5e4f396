// SPDX-License-Identifier: GPL-2.0
/*
 * KSM merging: within one process, across processes, across fork().
 *
 * Within one process: 3 contents x 10 pages + 5 unique pages must end as
 * pages_shared 3, pages_sharing 27, pages_unshared 5, pages_volatile 0,
 * with every page of one content mapping one PFN, contents intact,
 * /proc/self/ksm_merging_pages 30 and ksm_stat's ksm_rmap_items 35.
 *
 * Across processes: two processes with 16 pages of one content each:
 * pages_shared 1, pages_sharing 31, ksm_merging_pages 16 in each.
 *
 * Across fork: the child inherits the MADV_MERGEABLE area (and the mm
 * registration) without calling madvise itself; its pages merge alone,
 * then with the parent's.
 *
 * A page that comes to equal its neighbour: 16 pages of unique contents
 * are in the unstable table after three full scans; then, while ksmd
 * scans them flat out, each even page takes the content of the page after
 * it, whose entry ksmd may find while it still holds that page for its own
 * visit, later in the same batch.  All 8 pairs must merge: pages_shared 8,
 * pages_sharing 8, pages_unshared 0.
 * (Before scan.c let go of such a page before merging it, the merge took
 * the batch's reference for a pin, and about half the pairs never merged.)
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NCONTENTS	3
#define PER_CONTENT	10
#define NUNIQUE		5
#define NWITHIN		(NCONTENTS * PER_CONTENT + NUNIQUE)
#define NPROC_PAGES	16

static void test_within_process(void)
{
	unsigned long long keys[NWITHIN], pfn[NWITHIN];
	struct ksm_counters want = {
		NCONTENTS, NCONTENTS * (PER_CONTENT - 1), NUNIQUE, 0, 0, 0
	};
	bool ok, pfn_ok = true;
	long merging, rmap;
	size_t i, j;
	char *area;

	area = ksm_mmap(NWITHIN);
	/* Interleave the contents so that merges are not just neighbours. */
	for (i = 0; i < NCONTENTS * PER_CONTENT; i++)
		keys[i] = 1 + i % NCONTENTS;
	for (; i < NWITHIN; i++)
		keys[i] = 1000 + i;
	ksm_fill_pages(area, keys, NWITHIN);
	ksm_madvise(area, NWITHIN, MADV_MERGEABLE);
	ksm_set("run", 1);

	ok = ksm_wait_counters(&want);
	ksft_test_result(ok,
			 "within process: pages_shared %d pages_sharing %d pages_unshared %d pages_volatile 0\n",
			 NCONTENTS, NCONTENTS * (PER_CONTENT - 1), NUNIQUE);

	for (i = 0; i < NWITHIN; i++) {
		unsigned long long ent = ksm_pagemap(ksm_page_addr(area, i));

		if (!(ent & KSM_PM_PRESENT) || !(ent & KSM_PM_PFN_MASK)) {
			ksft_print_msg("page %zu: no PFN in pagemap (%llx)\n", i, ent);
			pfn_ok = false;
		}
		pfn[i] = ent & KSM_PM_PFN_MASK;
	}
	for (i = 0; pfn_ok && i < NWITHIN; i++) {
		for (j = 0; j < i; j++) {
			bool same_key = keys[i] == keys[j];

			bool same_pfn = pfn[i] == pfn[j];

			if (same_key != same_pfn) {
				ksft_print_msg("pages %zu, %zu: keys %llu/%llu PFNs %llx/%llx\n",
					       j, i, keys[j], keys[i], pfn[j], pfn[i]);
				pfn_ok = false;
				break;
			}
		}
	}
	ksft_test_result(ok && pfn_ok,
			 "within process: identical pages map one PFN per content, unique pages their own\n");

	ksft_test_result(!ksm_check_pages(area, keys, NWITHIN, "within"),
			 "within process: contents intact after merge\n");

	merging = ksm_proc_merging_pages(0);
	rmap = ksm_proc_rmap_items(0);
	ksft_print_msg("ksm_merging_pages %ld ksm_rmap_items %ld\n", merging, rmap);
	ksft_test_result(merging == NCONTENTS * PER_CONTENT && rmap == NWITHIN,
			 "within process: /proc/self/ksm_merging_pages %d, ksm_stat ksm_rmap_items %d\n",
			 NCONTENTS * PER_CONTENT, NWITHIN);

	munmap(area, NWITHIN * ksm_page_size);
}

/* Child body: fill, madvise if asked, report, wait, verify. */
static void child_area(int ready_fd, int go_fd, bool do_madvise, char *area,
		       unsigned long long key)
{
	unsigned long long keys[NPROC_PAGES];
	size_t i;

	if (!area) {
		area = mmap(NULL, NPROC_PAGES * ksm_page_size,
			    PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED)
			_exit(2);
	}
	for (i = 0; i < NPROC_PAGES; i++)
		keys[i] = key;
	ksm_fill_pages(area, keys, NPROC_PAGES);
	if (do_madvise && madvise(area, NPROC_PAGES * ksm_page_size,
				  MADV_MERGEABLE))
		_exit(3);
	if (!ksm_pipe_send(ready_fd, 'r'))
		_exit(4);
	if (ksm_pipe_recv(go_fd, KSM_TIMEOUT_MS * 3) != 'v')
		_exit(5);
	_exit(ksm_check_pages(area, keys, NPROC_PAGES, "child") ? 1 : 0);
}

struct kid {
	pid_t pid;
	int ready;	/* read end */
	int go;		/* write end */
};

static void spawn(struct kid *k, bool do_madvise, char *area,
		  unsigned long long key)
{
	int r[2], g[2];

	if (pipe(r) || pipe(g))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	k->pid = ksm_fork();
	if (!k->pid) {
		close(r[0]);
		close(g[1]);
		child_area(r[1], g[0], do_madvise, area, key);
	}
	close(r[1]);
	close(g[0]);
	k->ready = r[0];
	k->go = g[1];
	if (ksm_pipe_recv(k->ready, KSM_TIMEOUT_MS) != 'r')
		ksft_exit_fail_msg("child %d did not get ready\n", k->pid);
}

static bool finish(struct kid *k, const char *what)
{
	bool ok;

	ok = ksm_pipe_send(k->go, 'v');
	ok = ksm_wait_child(k->pid, what) && ok;
	close(k->go);
	close(k->ready);
	return ok;
}

static void test_across_processes(void)
{
	struct kid a, b;
	long ma, mb;
	bool ok;

	ksm_must_unmerge_all();
	spawn(&a, true, NULL, 7);
	spawn(&b, true, NULL, 7);
	ksm_set("run", 1);

	{
		struct ksm_counters want = { 1, 2 * NPROC_PAGES - 1, 0, 0, 0, 0 };

		ok = ksm_wait_counters(&want);
	}
	ksft_test_result(ok,
			 "across processes: pages_shared 1 pages_sharing %d pages_unshared 0 pages_volatile 0\n",
			 2 * NPROC_PAGES - 1);

	ma = ksm_proc_merging_pages(a.pid);
	mb = ksm_proc_merging_pages(b.pid);
	ksft_print_msg("ksm_merging_pages: %ld and %ld\n", ma, mb);
	ksft_test_result(ma == NPROC_PAGES && mb == NPROC_PAGES,
			 "across processes: /proc/PID/ksm_merging_pages %d in each\n",
			 NPROC_PAGES);

	ok = finish(&a, "process A");
	ok = finish(&b, "process B") && ok;
	ksft_test_result(ok, "across processes: contents intact in both\n");
}

static void test_across_fork(void)
{
	unsigned long long keys[NPROC_PAGES];
	long mc, mp;
	struct kid k;
	char *area;
	size_t i;
	bool ok;

	ksm_must_unmerge_all();
	area = ksm_mmap(NPROC_PAGES);
	ksm_madvise(area, NPROC_PAGES, MADV_MERGEABLE);
	/* The parent leaves its copy untouched: only the child has pages. */
	spawn(&k, false, area, 9);
	ksm_set("run", 1);

	ok = ksm_wait_merged(1, NPROC_PAGES - 1);
	mc = ksm_proc_merging_pages(k.pid);
	mp = ksm_proc_merging_pages(0);
	ksft_print_msg("ksm_merging_pages: child %ld parent %ld\n", mc, mp);
	ksft_test_result(ok && mc == NPROC_PAGES && mp == 0,
			 "across fork: child's inherited area merges without madvise (1/%d, child ksm_merging_pages %d)\n",
			 NPROC_PAGES - 1, NPROC_PAGES);

	for (i = 0; i < NPROC_PAGES; i++)
		keys[i] = 9;
	ksm_fill_pages(area, keys, NPROC_PAGES);
	ok = ksm_wait_merged(1, 2 * NPROC_PAGES - 1);
	mc = ksm_proc_merging_pages(k.pid);
	mp = ksm_proc_merging_pages(0);
	ksft_print_msg("ksm_merging_pages: child %ld parent %ld\n", mc, mp);
	ok = ok && mc == NPROC_PAGES && mp == NPROC_PAGES;
	ok = !ksm_check_pages(area, keys, NPROC_PAGES, "parent") && ok;
	ok = finish(&k, "fork child") && ok;
	ksft_test_result(ok,
			 "across fork: parent and child merge together (1/%d), contents intact\n",
			 2 * NPROC_PAGES - 1);
	munmap(area, NPROC_PAGES * ksm_page_size);
}

#define NPAIRS		8

static void test_neighbour(void)
{
	struct ksm_counters want = { NPAIRS, NPAIRS, 0, 0, 0, 0 };
	unsigned long long keys[2 * NPAIRS];
	char *area = ksm_mmap(2 * NPAIRS);
	bool ok;
	size_t i;

	/*
	 * The area is the only one registered, and ksmd runs flat out
	 * (sleep_millisecs 0) over it: four passes a wake-up, each walking
	 * the area as one batch from its first page.  The writes below race
	 * with the passes, so that some of the even pages search while their
	 * twin, entered earlier, is still held by the batch.
	 */
	ksm_set("pages_to_scan", 8 * NPAIRS);
	madvise(area, 2 * NPAIRS * ksm_page_size, MADV_NOHUGEPAGE);
	for (i = 0; i < 2 * NPAIRS; i++)
		keys[i] = 5000 + i;
	ksm_fill_pages(area, keys, 2 * NPAIRS);
	ksm_madvise(area, 2 * NPAIRS, MADV_MERGEABLE);
	ok = ksm_wait_full_scans(3, 30000);
	ksm_print_counters("unique contents");
	for (i = 0; i < 2 * NPAIRS; i += 2) {
		keys[i] = keys[i + 1];
		ksm_fill_page(ksm_page_addr(area, i), keys[i]);
	}
	ok = ok && ksm_wait_counters(&want);
	ok = ok && !ksm_check_pages(area, keys, 2 * NPAIRS, "neighbours");
	ksft_test_result(ok, "a page that comes to equal the page after it merges with it: pages_shared %d pages_sharing %d\n",
			 NPAIRS, NPAIRS);
	munmap(area, 2 * NPAIRS * ksm_page_size);
	ksm_set("pages_to_scan", 2 * NWITHIN + 100);
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(11);
	ksm_selftest_init(2 * NWITHIN + 100, 0, 150);

	test_within_process();
	test_across_processes();
	test_across_fork();
	test_neighbour();

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
