// SPDX-License-Identifier: GPL-2.0
/*
 * max_page_sharing and stable node chains.
 *
 * 1024 identical pages with max_page_sharing 256 become 4 KSM pages of 256
 * mappings each: pages_shared 4, pages_sharing 1020, stable_node_chains 1,
 * stable_node_dups 4, pages_unshared 0, pages_volatile 0; every page maps
 * one of 4 PFNs, 256 pages each; ksm_merging_pages and ksm_rmap_items 1024.
 *
 * While KSM pages exist, writing another max_page_sharing fails with EBUSY
 * (the value is unchanged) and writing the current one succeeds; 0, 1 and
 * -1 fail with EINVAL.  After run=2 it can be changed: with
 * max_page_sharing 2, 5 identical pages give pages_shared 2,
 * pages_sharing 2, pages_unshared 1 (the odd page has no partner left),
 * stable_node_chains 1, stable_node_dups 2.
 *
 * Then, with max_page_sharing 5, 640 identical pages: ksmd finds most of
 * them equal to a KSM page in the same batch of pages, where it makes
 * such merges together; each KSM page still takes no more than 5
 * mappings, and none takes fewer while another has room: pages_shared
 * 128, pages_sharing 512, stable_node_dups 128, each PFN mapped 5 times.
 *
 * And with max_page_sharing 2, COST_SMALL and then COST_LARGE identical
 * pages make chains of COST_SMALL / 2 and COST_LARGE / 2 dups: ksmd's CPU
 * time per page until all are merged must not grow with the chain (at most
 * COST_GROWTH times as much per page for four times the pages; a look at
 * every dup of the chain for every page costs four times as much); the
 * same again with stable_node_chains_prune_millisecs 0, where every
 * lookup prunes the chain.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NPAGES		1024
#define MAX_SHARING	256
#define NDUPS		(NPAGES / MAX_SHARING)
#define NSMALL		5
#define NFILL		640
#define FILL_SHARING	5
#define FILL_DUPS	(NFILL / FILL_SHARING)
#define COST_SMALL	4096
#define COST_LARGE	16384
#define COST_GROWTH	2.0

/* Do @npages pages of @area map @ndups PFNs, @each pages each? */
static bool pfn_groups(char *area, int npages, int ndups, int each)
{
	unsigned long long *pfn, p;
	unsigned int *count;
	int i, j, used = 0;
	bool ok = false;

	pfn = calloc(ndups, sizeof(*pfn));
	count = calloc(ndups, sizeof(*count));
	if (!pfn || !count)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < npages; i++) {
		p = ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_PFN_MASK;
		for (j = 0; j < used; j++)
			if (pfn[j] == p)
				break;
		if (j == used) {
			if (used == ndups) {
				ksft_print_msg("page %d: more than %d distinct PFNs\n",
					       i, ndups);
				goto out;
			}
			pfn[used++] = p;
		}
		count[j]++;
	}
	for (j = 0; j < used; j++) {
		if (count[j] != each) {
			ksft_print_msg("PFN %llx mapped by %u pages, wanted %d\n",
				       pfn[j], count[j], each);
			goto out;
		}
	}
	ok = used == ndups;
out:
	free(pfn);
	free(count);
	return ok;
}

static bool einval(const char *val)
{
	int err = ksm_write_str("max_page_sharing", val);
	unsigned long now = ksm_read("max_page_sharing");

	if (err != -EINVAL || now != MAX_SHARING) {
		ksft_print_msg("max_page_sharing=\"%s\": %s, reads %lu\n", val,
			       err ? strerror(-err) : "accepted", now);
		return false;
	}
	return true;
}

/*
 * ksmd's CPU ticks per page for @n identical pages, max_page_sharing 2,
 * from run=1 until they are merged; negative if they were not, or the
 * contents changed.
 */
static double chain_cost(int n, unsigned long prune_ms)
{
	struct ksm_counters want = { n / 2, n / 2, 0, 0, 1, n / 2 };
	unsigned long long *keys = calloc(n, sizeof(*keys));
	long long t0, t1;
	char *area;
	bool ok;
	int i;

	if (!keys)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < n; i++)
		keys[i] = 43;
	ok = ksm_unmerge_all() && !ksm_write_str("max_page_sharing", "2");
	ksm_set("stable_node_chains_prune_millisecs", prune_ms);
	area = ksm_mmap_mergeable(keys, n);
	t0 = ksm_ksmd_ticks();
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want) && ok;
	t1 = ksm_ksmd_ticks();
	ok = !ksm_check_pages(area, keys, n, "long chain") && ok;
	ksft_print_msg("%d pages, max_page_sharing 2, prune %lu ms: %lld ticks of ksmd until merged\n",
		       n, prune_ms, t1 - t0);
	munmap(area, (size_t)n * ksm_page_size);
	free(keys);
	return ok && t0 >= 0 && t1 >= t0 ? (double)(t1 - t0 + 1) / n : -1;
}

int main(void)
{
	struct ksm_counters want = {
		NDUPS, NPAGES - NDUPS, 0, 0, 1, NDUPS
	};
	struct ksm_counters small = { 2, 2, 1, 0, 1, 2 };
	struct ksm_counters fill = {
		FILL_DUPS, NFILL - FILL_DUPS, 0, 0, 1, FILL_DUPS
	};
	unsigned long long *keys;
	double small_cost, large_cost;
	unsigned long prune_ms;
	char *area;
	long merging, rmap;
	bool ok;
	int err, i;

	ksft_print_header();
	ksft_set_plan(10);
	ksm_selftest_init(2 * NPAGES + 100, 0, 270);

	ksm_set("max_page_sharing", MAX_SHARING);
	keys = calloc(NPAGES, sizeof(*keys));
	if (!keys)
		ksft_exit_fail_msg("calloc\n");
	for (i = 0; i < NPAGES; i++)
		keys[i] = 42;
	area = ksm_mmap_mergeable(keys, NPAGES);
	ksm_set("run", 1);

	ok = ksm_wait_counters(&want) &&
	     pfn_groups(area, NPAGES, NDUPS, MAX_SHARING);
	ksft_test_result(ok,
			 "%d pages, max_page_sharing %d: pages_shared %d pages_sharing %d stable_node_chains 1 stable_node_dups %d, %d PFNs\n",
			 NPAGES, MAX_SHARING, NDUPS, NPAGES - NDUPS, NDUPS, NDUPS);

	merging = ksm_proc_merging_pages(0);
	rmap = ksm_proc_rmap_items(0);
	ksft_print_msg("ksm_merging_pages %ld ksm_rmap_items %ld\n", merging, rmap);
	ok = merging == NPAGES && rmap == NPAGES;
	ok = !ksm_check_pages(area, keys, NPAGES, "chain") && ok;
	ksft_test_result(ok, "contents intact, ksm_merging_pages %d ksm_rmap_items %d\n",
			 NPAGES, NPAGES);

	err = ksm_write_str("max_page_sharing", "512");
	ksft_print_msg("max_page_sharing=512 with KSM pages: %s, reads %lu\n",
		       err ? strerror(-err) : "accepted", ksm_read("max_page_sharing"));
	ksft_test_result(err == -EBUSY && ksm_read("max_page_sharing") == MAX_SHARING,
			 "max_page_sharing=512 while KSM pages exist: EBUSY, still %d\n",
			 MAX_SHARING);

	err = ksm_write_str("max_page_sharing", "256");
	ksft_test_result(!err && ksm_read("max_page_sharing") == MAX_SHARING &&
			 ksm_counters_now(&want),
			 "max_page_sharing=256 (unchanged) while KSM pages exist: accepted, nothing unmerged\n");

	ok = einval("1");
	ok = einval("0") && ok;
	ok = einval("-1") && ok;
	ksft_test_result(ok, "max_page_sharing 1, 0, -1: EINVAL, unchanged\n");

	munmap(area, NPAGES * ksm_page_size);
	ok = ksm_unmerge_all();
	err = ksm_write_str("max_page_sharing", "2");
	ok = ok && !err && ksm_read("max_page_sharing") == 2;
	area = ksm_mmap_mergeable(keys, NSMALL);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&small) && ok;
	ok = !ksm_check_pages(area, keys, NSMALL, "small chain") && ok;
	ksft_test_result(ok,
			 "after run=2, max_page_sharing=2: %d pages give pages_shared 2 pages_sharing 2 pages_unshared 1 chains 1 dups 2\n",
			 NSMALL);
	munmap(area, NSMALL * ksm_page_size);

	ok = ksm_unmerge_all();
	err = ksm_write_str("max_page_sharing", "5");
	ok = ok && !err && ksm_read("max_page_sharing") == FILL_SHARING;
	area = ksm_mmap_mergeable(keys, NFILL);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&fill) && ok;
	ok = ok && pfn_groups(area, NFILL, FILL_DUPS, FILL_SHARING);
	ok = !ksm_check_pages(area, keys, NFILL, "full dups") && ok;
	ksft_test_result(ok,
			 "max_page_sharing %d: %d pages give pages_shared %d pages_sharing %d chains 1 dups %d, each PFN mapped %d times\n",
			 FILL_SHARING, NFILL, FILL_DUPS, NFILL - FILL_DUPS,
			 FILL_DUPS, FILL_SHARING);
	munmap(area, NFILL * ksm_page_size);
	free(keys);

	for (i = 0; i < 2; i++) {
		prune_ms = i ? 0 : ksm_saved_knob("stable_node_chains_prune_millisecs");
		small_cost = chain_cost(COST_SMALL, prune_ms);
		large_cost = chain_cost(COST_LARGE, prune_ms);
		ksft_test_result(small_cost > 0 && large_cost > 0 &&
				 large_cost <= COST_GROWTH * small_cost,
				 "max_page_sharing 2, prune %lu ms: per page, %d pages cost %.2f times what %d do (at most %.1f)\n",
				 prune_ms, COST_LARGE,
				 small_cost > 0 ? large_cost / small_cost : -1.0,
				 COST_SMALL, COST_GROWTH);
	}

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
