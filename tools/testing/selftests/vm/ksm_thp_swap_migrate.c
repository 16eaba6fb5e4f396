// SPDX-License-Identifier: GPL-2.0
/*
 * KSM pages and THP, swap, migration, mprotect and mremap.
 *
 *  - THP: a 2 MiB aligned MADV_HUGEPAGE area of 512 identical pages, backed
 *    by a huge page, merges after KSM splits it; with the default
 *    max_page_sharing 256 that is a chain of 2 KSM pages: pages_shared 2,
 *    pages_sharing 510, stable_node_chains 1, stable_node_dups 2; no
 *    AnonHugePages left, contents intact.
 *  - Swap, one mapping: a KSM page whose other sharer wrote its copy is
 *    pushed out by MADV_PAGEOUT (pagemap shows it swapped) and reads back
 *    intact.  (Linux 6.1's MADV_PAGEOUT leaves pages mapped more than once
 *    alone, hence the single mapping.)
 *  - Swap, 16 mappings: in a memory cgroup, memory.reclaim pushes a KSM page
 *    mapped 16 times to swap (all 16 PTEs swapped); it reads back intact.
 *    SKIP when cgroup2/memory.reclaim is unavailable.
 *  - Migration: move_pages(MPOL_MF_MOVE_ALL) moves a KSM page mapped 16
 *    times to the other node: all 16 mappings then map one page on the
 *    target node, it is still merged (pages_shared 1, pages_sharing 15),
 *    contents intact.  SKIP with one node.
 *  - mprotect(PROT_READ) of a merged range keeps it merged and intact, and
 *    so does going back to PROT_READ|PROT_WRITE.
 *  - mremap() of a merged range to a new address: contents intact there,
 *    and it is merged again (pages_shared 1, pages_sharing 15).
 * Every case needs swap (zram) or THP only where said; SKIP otherwise.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define HPAGE		(2UL << 20)
#define N		16
#define KEY		31

static size_t hpage_pages;

/* AnonHugePages (kB) of the mapping that contains @addr, -1 if unknown. */
static long anon_huge_kb(void *addr)
{
	return ksm_smaps_kb(addr, "AnonHugePages");
}

static bool thp_mode_ok(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strstr(buf, "[never]");
}

static void test_thp(void)
{
	long mps = ksm_read("max_page_sharing");
	long ndups = (hpage_pages + mps - 1) / mps;
	struct ksm_counters want = {
		ndups, hpage_pages - ndups, 0, 0, ndups > 1, ndups > 1 ? ndups : 0
	};
	unsigned long long *keys;
	char *raw, *area;
	long kb;
	size_t i;
	bool ok;

	if (!thp_mode_ok()) {
		ksft_test_result_skip("THP: transparent_hugepage disabled\n");
		ksft_test_result_skip("THP: transparent_hugepage disabled\n");
		return;
	}
	raw = ksm_mmap(2 * hpage_pages);
	area = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(area, HPAGE, MADV_HUGEPAGE))
		ksft_exit_fail_msg("MADV_HUGEPAGE: %s\n", strerror(errno));
	keys = calloc(hpage_pages, sizeof(*keys));
	if (!keys)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < hpage_pages; i++)
		keys[i] = KEY;
	ksm_fill_pages(area, keys, hpage_pages);
	kb = anon_huge_kb(area);
	ksft_print_msg("AnonHugePages before merging: %ld kB\n", kb);
	if (kb < (long)(HPAGE >> 10)) {
		ksft_test_result_skip("THP: no huge page allocated (AnonHugePages %ld kB)\n",
				      kb);
	} else {
		ksft_test_result_pass("THP: area is backed by a huge page\n");
	}
	ksm_madvise(area, hpage_pages, MADV_MERGEABLE);
	ksm_set("run", 1);
	/* 512 pages, max_page_sharing 256: a chain of 2 KSM pages */
	ok = ksm_wait_counters(&want);
	kb = anon_huge_kb(area);
	ksft_print_msg("AnonHugePages after merging: %ld kB\n", kb);
	ok = ok && kb == 0;
	ok = !ksm_check_pages(area, keys, hpage_pages, "THP") && ok;
	ksft_test_result(ok,
			 "THP: split and merged: pages_shared %ld pages_sharing %ld chains %ld dups %ld, intact\n",
			 want.shared, want.sharing, want.chains, want.dups);
	munmap(raw, 2 * HPAGE);
	free(keys);
	ksm_must_unmerge_all();
}

static void test_pageout(void)
{
	unsigned long long keys[2] = { KEY, KEY };
	struct ksm_counters one = { 1, 0, 1, 0, 0, 0 };
	unsigned long long ent = 0;
	char *area;
	bool ok;
	int i;

	if (!ksm_have_swap()) {
		ksft_test_result_skip("MADV_PAGEOUT: no swap\n");
		ksft_test_result_skip("MADV_PAGEOUT: no swap\n");
		return;
	}
	area = ksm_mmap_mergeable(keys, 2);
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, 1);
	/* The second sharer writes: the KSM page keeps one mapping. */
	keys[1] = KEY + 1;
	ksm_fill_page(ksm_page_addr(area, 1), keys[1]);
	ok = ok && ksm_wait_counters(&one);
	if (!ok) {
		ksft_test_result_fail("MADV_PAGEOUT: could not set up a KSM page mapped once\n");
		ksft_test_result_skip("MADV_PAGEOUT: no KSM page\n");
		munmap(area, 2 * ksm_page_size);
		return;
	}
	ksm_set("run", 0);	/* nobody touches it until we read it */
	for (i = 0; i < 5; i++) {
		if (madvise(area, ksm_page_size, MADV_PAGEOUT))
			ksft_exit_fail_msg("MADV_PAGEOUT: %s\n", strerror(errno));
		ent = ksm_pagemap(area);
		if (ent & KSM_PM_SWAP)
			break;
		usleep(100000);
	}
	ksft_print_msg("pagemap after MADV_PAGEOUT: %llx\n", ent);
	ksft_test_result((ent & KSM_PM_SWAP) && !(ent & KSM_PM_PRESENT),
			 "MADV_PAGEOUT: KSM page mapped once is swapped out\n");

	ok = !ksm_check_pages(area, keys, 2, "swapped in");
	ksft_test_result(ok && (ksm_pagemap(area) & KSM_PM_PRESENT),
			 "MADV_PAGEOUT: KSM page reads back from swap intact\n");
	munmap(area, 2 * ksm_page_size);
	ksm_must_unmerge_all();
}

static char cg_dir[256];

static void test_reclaim(void)
{
	unsigned long long keys[N];
	size_t i, swapped = 0;
	char why[300];
	int try;
	char *area;
	bool ok;

	if (!ksm_have_swap()) {
		ksft_test_result_skip("memory.reclaim: no swap\n");
		return;
	}
	if (!ksm_cg_enter("ksm_thp_swap_migrate", "memory.reclaim", cg_dir,
			  sizeof(cg_dir), why, sizeof(why))) {
		ksft_test_result_skip("memory.reclaim: %s\n", why);
		ksm_cg_leave(cg_dir);
		return;
	}
	for (i = 0; i < N; i++)
		keys[i] = KEY;
	area = ksm_mmap_mergeable(keys, N);
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, N - 1);
	ksm_set("run", 0);
	for (try = 0; ok && try < 5; try++) {
		ksm_cg_write(cg_dir, "memory.reclaim", "256M");
		for (swapped = 0, i = 0; i < N; i++)
			if (ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_SWAP)
				swapped++;
		if (swapped == N)
			break;
	}
	ksft_print_msg("%zu of %d mappings of the KSM page swapped out\n", swapped, N);
	ok = ok && swapped == N;
	ok = !ksm_check_pages(area, keys, N, "reclaimed") && ok;
	ksm_cg_leave(cg_dir);
	ksft_test_result(ok,
			 "memory.reclaim: KSM page mapped %d times swapped out, reads back intact\n",
			 N);
	munmap(area, N * ksm_page_size);
	ksm_must_unmerge_all();
}

static char *merged_area(unsigned long long *keys, int node)
{
	char *area = ksm_mmap(N);
	size_t i;

	if (node >= 0)
		ksm_bind_node(area, N, node);
	for (i = 0; i < N; i++)
		keys[i] = KEY;
	ksm_fill_pages(area, keys, N);
	ksm_madvise(area, N, MADV_MERGEABLE);
	ksm_set("run", 1);
	if (!ksm_wait_merged(1, N - 1))
		ksft_exit_fail_msg("could not merge %d pages\n", N);
	return area;
}

static void test_migrate(void)
{
	unsigned long long keys[N], pfn0, pfn;
	int from, to, status = -1;
	void *page;
	char *area;
	size_t i;
	bool ok = true;

	if (!ksm_two_nodes()) {
		ksft_test_result_skip("migration: needs NUMA nodes 0 and 1\n");
		return;
	}
	area = merged_area(keys, 0);
	page = area;
	from = ksm_node_of(page);
	to = !from;
	pfn0 = ksm_pagemap(page) & KSM_PM_PFN_MASK;
	if (ksm_move_pages(1, &page, &to, &status, MPOL_MF_MOVE_ALL)) {
		ksft_print_msg("move_pages: %s\n", strerror(errno));
		ok = false;
	}
	ksft_print_msg("move_pages node %d -> %d: status %d\n", from, to, status);
	ok = ok && status == to;
	pfn = ksm_pagemap(page) & KSM_PM_PFN_MASK;
	if (pfn == pfn0) {
		ksft_print_msg("still on PFN %llx\n", pfn);
		ok = false;
	}
	for (i = 0; i < N; i++) {
		void *p = ksm_page_addr(area, i);

		if ((ksm_pagemap(p) & KSM_PM_PFN_MASK) != pfn || ksm_node_of(p) != to) {
			ksft_print_msg("page %zu: PFN %llx node %d, want %llx node %d\n", i,
				       ksm_pagemap(p) & KSM_PM_PFN_MASK, ksm_node_of(p), pfn, to);
			ok = false;
		}
	}
	ok = ksm_wait_merged(1, N - 1) && ok;
	ok = !ksm_check_pages(area, keys, N, "migrated") && ok;
	ksft_test_result(ok,
			 "migration: KSM page moved to node %d, all %d mappings follow, still merged, intact\n",
			 to, N);
	munmap(area, N * ksm_page_size);
	ksm_must_unmerge_all();
}

static void test_mprotect_mremap(void)
{
	unsigned long long keys[N];
	char *area, *hole, *moved;
	bool ok;

	area = merged_area(keys, -1);
	if (mprotect(area, N * ksm_page_size, PROT_READ))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	ok = !ksm_check_pages(area, keys, N, "PROT_READ");
	ok = ksm_wait_full_scans(2, KSM_TIMEOUT_MS) && ksm_wait_merged(1, N - 1) && ok;
	if (mprotect(area, N * ksm_page_size, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	ok = ksm_wait_full_scans(2, KSM_TIMEOUT_MS) && ksm_wait_merged(1, N - 1) && ok;
	ok = !ksm_check_pages(area, keys, N, "PROT_READ|PROT_WRITE") && ok;
	ksft_test_result(ok,
			 "mprotect: merged range stays merged and intact, read-only and back\n");

	/* Move it to a free range away from the old one. */
	hole = ksm_mmap(3 * N);
	munmap(hole, 3 * N * ksm_page_size);
	moved = mremap(area, N * ksm_page_size, N * ksm_page_size,
		       MREMAP_MAYMOVE | MREMAP_FIXED, hole + N * ksm_page_size);
	if (moved == MAP_FAILED)
		ksft_exit_fail_msg("mremap: %s\n", strerror(errno));
	ok = !ksm_check_pages(moved, keys, N, "mremap");
	ok = ksm_wait_merged(1, N - 1) && ok;
	ok = ok && ksm_proc_merging_pages(0) == N;
	ok = !ksm_check_pages(moved, keys, N, "mremap") && ok;
	ksft_test_result(ok, "mremap: contents intact at the new address, merged again (1/%d)\n",
			 N - 1);
	munmap(moved, N * ksm_page_size);
	ksm_must_unmerge_all();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(9);
	ksm_selftest_init(2 * (HPAGE >> 12) + 100, 0, 270);
	hpage_pages = HPAGE / ksm_page_size;

	test_thp();
	test_pageout();
	test_reclaim();
	test_migrate();
	test_mprotect_mremap();

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
