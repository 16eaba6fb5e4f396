// SPDX-License-Identifier: GPL-2.0
/*
 * merge_across_nodes.
 *
 * 16 pages bound to node 0 and 16 bound to node 1, all of one content:
 *  - merge_across_nodes=1: one KSM page, pages_shared 1, pages_sharing 31;
 *  - merge_across_nodes=0: one KSM page per node, pages_shared 2,
 *    pages_sharing 30, each on the node of the pages it replaced;
 *  - writing the other value while KSM pages exist fails with EBUSY and
 *    leaves the value unchanged; writing the current value succeeds;
 *    after run=2 the value can be changed.
 * Contents are checked after every step.  Needs two NUMA nodes: with one,
 * every check is reported as SKIP.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define PER_NODE	16
#define NPAGES		(2 * PER_NODE)
#define KEY		21
#define NTESTS		8

static unsigned long long keys[NPAGES];

/* Page i is on node i / PER_NODE; print the first exceptions. */
static bool placed(char *area)
{
	int i, node, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		node = ksm_node_of(ksm_page_addr(area, i));
		if (node == i / PER_NODE)
			continue;
		if (bad++ < 4)
			ksft_print_msg("page %d on node %d, wanted %d\n", i, node,
				       i / PER_NODE);
	}
	return !bad;
}

static bool set_fails_busy(const char *val, unsigned long old)
{
	int err = ksm_write_str("merge_across_nodes", val);
	unsigned long now = ksm_read("merge_across_nodes");

	ksft_print_msg("merge_across_nodes=%s with KSM pages: %s, reads %lu\n", val,
		       err ? strerror(-err) : "accepted", now);
	return err == -EBUSY && now == old;
}

static bool merged_pfns(char *area, int nksm)
{
	unsigned long long pfn[2];
	int i, n;

	for (i = 0; i < NPAGES; i++) {
		unsigned long long p = ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_PFN_MASK;

		n = nksm == 1 ? 0 : i / PER_NODE;
		if (i == n * PER_NODE)
			pfn[n] = p;
		if (p != pfn[n]) {
			ksft_print_msg("page %d PFN %llx, KSM page %llx\n", i, p, pfn[n]);
			return false;
		}
	}
	if (nksm == 2 && pfn[0] == pfn[1]) {
		ksft_print_msg("both nodes map PFN %llx\n", pfn[0]);
		return false;
	}
	return true;
}

int main(void)
{
	char *area;
	bool ok;
	int i;

	ksft_print_header();
	ksft_set_plan(NTESTS);
	ksm_selftest_init(2 * NPAGES + 100, 0, 150);

	if (!ksm_file_exists("merge_across_nodes")) {
		for (i = 0; i < NTESTS; i++)
			ksft_test_result_skip("no merge_across_nodes (!CONFIG_NUMA)\n");
		ksft_print_cnts();
		exit(KSFT_SKIP);
	}
	if (!ksm_two_nodes()) {
		for (i = 0; i < NTESTS; i++)
			ksft_test_result_skip("needs NUMA nodes 0 and 1 with memory\n");
		ksft_print_cnts();
		exit(KSFT_SKIP);
	}

	area = ksm_mmap(NPAGES);
	for (i = 0; i < 2; i++)
		ksm_bind_node(ksm_page_addr(area, i * PER_NODE), PER_NODE, i);
	for (i = 0; i < NPAGES; i++)
		keys[i] = KEY;
	ksm_fill_pages(area, keys, NPAGES);
	if (!placed(area))
		ksft_exit_fail_msg("pages not on the nodes they are bound to\n");
	ksm_madvise(area, NPAGES, MADV_MERGEABLE);

	/* merge_across_nodes=1 (set by ksm_selftest_init) */
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, NPAGES - 1) && merged_pfns(area, 1);
	ok = !ksm_check_pages(area, keys, NPAGES, "merge_across_nodes=1") && ok;
	ksft_test_result(ok,
			 "merge_across_nodes=1: pages of both nodes merge into 1 KSM page (1/%d)\n",
			 NPAGES - 1);

	ksft_test_result(set_fails_busy("0", 1),
			 "merge_across_nodes=0 while KSM pages exist: EBUSY, still 1\n");
	ksft_test_result(ksm_write_str("merge_across_nodes", "1") == 0 &&
			 ksm_read("merge_across_nodes") == 1,
			 "merge_across_nodes=1 (unchanged) while KSM pages exist: accepted\n");

	ok = ksm_unmerge_all();
	ok = ksm_write_str("merge_across_nodes", "0") == 0 && ok;
	ok = ok && ksm_read("merge_across_nodes") == 0;
	ksft_test_result(ok, "after run=2: merge_across_nodes can be set to 0\n");

	ok = placed(area);
	ksm_set("run", 1);
	ok = ksm_wait_merged(2, NPAGES - 2) && ok;
	ok = ok && merged_pfns(area, 2) && placed(area);
	ok = !ksm_check_pages(area, keys, NPAGES, "merge_across_nodes=0") && ok;
	ksft_test_result(ok,
			 "merge_across_nodes=0: one KSM page per node, each on its node (2/%d)\n",
			 NPAGES - 2);

	ksft_test_result(set_fails_busy("1", 0),
			 "merge_across_nodes=1 while KSM pages exist: EBUSY, still 0\n");

	ok = ksm_unmerge_all();
	ok = ksm_write_str("merge_across_nodes", "1") == 0 && ok;
	ok = ok && ksm_read("merge_across_nodes") == 1;
	ok = !ksm_check_pages(area, keys, NPAGES, "run=2") && ok;
	ksft_test_result(ok, "after run=2: merge_across_nodes back to 1, contents intact\n");

	munmap(area, NPAGES * ksm_page_size);
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
