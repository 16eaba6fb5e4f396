// SPDX-License-Identifier: GPL-2.0
/*
 * merge_across_nodes=0 and a KSM page that migration moved to another node.
 *
 * 16 pages of one content bound to node 0 merge into one KSM page on node
 * 0; move_pages (MPOL_MF_MOVE_ALL) then moves that page to node 1.  From
 * then on it belongs with node 1's pages:
 *  - 16 new pages of the same content on node 0 do not merge into it (a
 *    page of node 0 mapping node 1's memory is what merge_across_nodes=0
 *    forbids): they get a KSM page of their own, on node 0;
 *  - 16 new pages of the same content on node 1 merge into it.
 * So pages_shared 2, pages_sharing 46, every page on its own node, the
 * contents intact.
 *
 * Then a KSM page whose mappings include a forked child's, which has no
 * rmap item of its own yet (ksmd is stopped before the fork): migration
 * must find the child's mapping through its parent's item, or the page
 * cannot move (the child's pte still maps it).  The page moves to node 1,
 * and the child maps the new page.
 *
 * Needs two NUMA nodes: with one, the test is a SKIP.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define PER_AREA	16
#define KEY		77
#define KEY2		78

/* Every page of @area on @node, all mapping one page; its PFN in *@pfn. */
static bool merged_on(char *area, int node, unsigned long long *pfn)
{
	unsigned long long p0 = 0, p;
	int i, bad = 0, n;

	for (i = 0; i < PER_AREA; i++) {
		n = ksm_node_of(ksm_page_addr(area, i));
		p = ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_PFN_MASK;
		if (!i)
			p0 = p;
		if (n == node && p == p0)
			continue;
		if (bad++ < 4)
			ksft_print_msg("page %d: node %d pfn %llx, wanted node %d pfn %llx\n",
				       i, n, p, node, p0);
	}
	*pfn = p0;
	return !bad && ksm_count_ksm_pages(area, PER_AREA) == PER_AREA;
}

static char *area_on(int node)
{
	char *p = ksm_mmap(PER_AREA);
	int i;

	ksm_bind_node(p, PER_AREA, node);
	for (i = 0; i < PER_AREA; i++)
		ksm_fill_page(ksm_page_addr(p, i), KEY);
	ksm_madvise(p, PER_AREA, MADV_MERGEABLE);
	return p;
}

static bool intact_key(char *area, unsigned long long key)
{
	unsigned long long keys[PER_AREA];
	int i;

	for (i = 0; i < PER_AREA; i++)
		keys[i] = key;
	return !ksm_check_pages(area, keys, PER_AREA, "contents");
}

static bool intact(char *area)
{
	return intact_key(area, KEY);
}

/*
 * A KSM page of node 0 with PER_AREA mappings here and PER_AREA in a child
 * forked while ksmd was stopped: move it to node 1 and check both sides.
 */
static bool fork_moves(void)
{
	int node1 = 1, status = -1, to_child[2], from_child[2];
	unsigned long long pfn, before;
	char *d = ksm_mmap(PER_AREA);
	struct ksm_counters c;
	void *addr = d;
	bool ok = true;
	pid_t pid;
	long ret;
	int i;

	ksm_bind_node(d, PER_AREA, 0);
	for (i = 0; i < PER_AREA; i++)
		ksm_fill_page(ksm_page_addr(d, i), KEY2);
	ksm_madvise(d, PER_AREA, MADV_MERGEABLE);
	if (!ksm_wait_merged(3, 4 * PER_AREA - 3) || !merged_on(d, 0, &before))
		return false;
	ksm_set("run", 0);
	ksm_read_counters(&c);
	if (pipe(to_child) || pipe(from_child))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		/* The child: wait for the move, then check its own view. */
		if (ksm_pipe_recv(to_child[0], KSM_TIMEOUT_MS) != 'm')
			_exit(KSFT_FAIL);
		ok = merged_on(d, 1, &pfn) && pfn != before && intact_key(d, KEY2);
		ksm_pipe_send(from_child[1], ok ? 'y' : 'n');
		_exit(ok ? KSFT_PASS : KSFT_FAIL);
	}

	ret = ksm_move_pages(1, &addr, &node1, &status, MPOL_MF_MOVE_ALL);
	if (ret) {
		ksft_print_msg("move_pages: %s\n",
			       ret < 0 ? strerror(errno) : "the page could not be moved");
		ok = false;
	}
	if (status != node1) {
		ksft_print_msg("the KSM page mapped by a fork did not move: status %d\n",
			       status);
		ok = false;
	}
	ok = merged_on(d, 1, &pfn) && pfn != before && intact_key(d, KEY2) && ok;
	ok = ksm_counters_now(&c) && ok;
	ksm_pipe_send(to_child[1], 'm');
	if (ksm_pipe_recv(from_child[0], KSM_TIMEOUT_MS) != 'y') {
		ksft_print_msg("the child does not map the moved page\n");
		ok = false;
	}
	ok = ksm_wait_child(pid, "fork") && ok;
	ksm_set("run", 1);
	munmap(d, PER_AREA * ksm_page_size);
	return ok;
}

int main(void)
{
	unsigned long long pa, pb, pc;
	char *a, *b, *c;
	int node1 = 1, status = -1;
	void *addr;
	bool ok;

	ksft_print_header();
	ksft_set_plan(4);
	ksm_selftest_init(1000, 0, 170);
	if (!ksm_file_exists("merge_across_nodes") || !ksm_two_nodes())
		ksft_exit_skip("needs merge_across_nodes and NUMA nodes 0 and 1\n");
	ksm_set("merge_across_nodes", 0);

	a = area_on(0);
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, PER_AREA - 1) && merged_on(a, 0, &pa);
	addr = a;
	if (ok && ksm_move_pages(1, &addr, &node1, &status, MPOL_MF_MOVE_ALL)) {
		ksft_print_msg("move_pages: %s\n", strerror(errno));
		ok = false;
	}
	ok = ok && merged_on(a, 1, &pa) && intact(a);
	ksft_test_result(ok, "a KSM page of node 0 moved to node 1 with its %d mappings (status %d)\n",
			 PER_AREA, status);

	b = area_on(0);
	ok = ksm_wait_merged(2, 2 * PER_AREA - 2) && merged_on(b, 0, &pb) &&
	     pb != pa && intact(b);
	ksft_test_result(ok, "new pages of node 0 get a KSM page of their own on node 0\n");

	c = area_on(1);
	ok = ksm_wait_merged(2, 3 * PER_AREA - 2) && merged_on(c, 1, &pc) &&
	     pc == pa && merged_on(a, 1, &pa) && intact(c) && intact(a);
	ksft_test_result(ok, "new pages of node 1 merge into the page that moved there\n");

	ksft_test_result(fork_moves(),
			 "a KSM page also mapped by a fork without items of its own moves, for both\n");

	munmap(a, PER_AREA * ksm_page_size);
	munmap(b, PER_AREA * ksm_page_size);
	munmap(c, PER_AREA * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("run=2 left counters behind\n");
	ksft_finished();
}
