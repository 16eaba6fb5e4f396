// SPDX-License-Identifier: GPL-2.0
/*
 * Pages shared by a fork, merged by the child alone.
 *
 * Parent P fills pages and forks child C; only C registers them
 * (MADV_MERGEABLE), so P's mappings are of an area ksmd never scans.
 *
 * Scenario 1 (cases 1-7): P's area A holds two pages of one content, so
 * both of C's pages are still P's too, and SIBS other children of P's,
 * which only wait, map them too.  ksmd merges C's two mappings: one
 * of the pages becomes the KSM page, and P keeps mapping it.  Every rmap
 * walk of that KSM page must still find P's pte, which no rmap item of
 * C's names: else migration (and reclaim) of the page fails for as long
 * as P does not write it.  move_pages() of P's two pages to the other
 * node must succeed, and both processes keep their contents.  Then C
 * unmerges its area (case 4): C's rmap items go, and with them every item
 * of the KSM page, which P still maps; and P registers its area, which
 * ksmd (stopped) has not scanned: migration of P's pages must still find
 * P's mapping (case 5).  Then run = 2 (case 6): it must unshare P's
 * mapping too, leaving no KSM page, so that merge_across_nodes can change;
 * each sibling then finds its two pages ordinary ones, contents kept (case
 * 7).
 *
 * Scenario 2 (cases 8-9): C's page of A (still P's too) has a twin in an
 * area of C's own, B, below A, so that ksmd meets B's page first.  The
 * page to become the KSM page is B's, the one only C maps: P's page stays
 * an ordinary page of P's, and C maps one KSM page at both addresses.
 *
 * SKIP with fewer than two NUMA nodes.
 *
 * The lab's time limit for this program - limit: 120s
 */
#define _GNU_SOURCE
#include <limits.h>
#include "ksm_util.h"

#define KEY	0x5f0dULL
#define KEY2	0x5f0eULL
#define TRIES	50
#define SIBS	20	/* more than a batch of run = 2's (16) */

struct kid {
	pid_t pid;
	int cmd, res;
};

/*
 * The child: register @npages at @base (filling those of @fill first, if
 * any, its own area), then answer each command byte: 'c' - how many of
 * its @npages pages map a KSM page and hold @key (one byte: that count,
 * or 0xff if a content is wrong); 'u' - unmerge them (MADV_UNMERGEABLE),
 * then answer as to 'c'; 'q' - exit.
 */
static void kid_main(char *base, size_t npages, char *fill, size_t nfill,
		     unsigned long long key, int cmd, int res)
{
	unsigned char c, n;
	size_t i;

	if (fill)
		for (i = 0; i < nfill; i++)
			ksm_fill_page(ksm_page_addr(fill, i), key);
	ksm_madvise(base, npages, MADV_MERGEABLE);
	c = 'r';
	if (write(res, &c, 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1 && (c == 'c' || c == 'u')) {
		if (c == 'u')
			ksm_madvise(base, npages, MADV_UNMERGEABLE);
		n = ksm_count_ksm_pages(base, npages);
		for (i = 0; i < npages; i++)
			if (ksm_check_page(ksm_page_addr(base, i), key) >= 0)
				n = 0xff;
		if (write(res, &n, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static void kid_start(struct kid *k, char *base, size_t npages, char *fill,
		      size_t nfill, unsigned long long key)
{
	int to[2], from[2];
	char c;

	if (pipe(to) || pipe(from))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	k->pid = ksm_fork();
	if (!k->pid) {
		close(to[1]);
		close(from[0]);
		kid_main(base, npages, fill, nfill, key, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	k->cmd = to[1];
	k->res = from[0];
	if (read(k->res, &c, 1) != 1 || c != 'r')
		ksft_exit_fail_msg("child did not start\n");
}

/* The child's answer to command @c, or -1. */
static int kid_ask(struct kid *k, const char *c)
{
	unsigned char n;

	if (write(k->cmd, c, 1) != 1 || read(k->res, &n, 1) != 1)
		return -1;
	return n;
}

/* How many of its pages map a KSM page, see kid_main(). */
static int kid_ksm_pages(struct kid *k)
{
	return kid_ask(k, "c");
}

static void kid_stop(struct kid *k)
{
	if (write(k->cmd, "q", 1) != 1)
		kill(k->pid, SIGKILL);
	close(k->cmd);
	close(k->res);
	ksm_wait_child(k->pid, "child");
}

/* Move @npages of @base to @node: true once every one is there. */
static bool move_all(char *base, size_t npages, int node)
{
	void *pages[2];
	int nodes[2], status[2];
	size_t i;
	long ret = 0;
	int t;

	for (i = 0; i < npages; i++) {
		pages[i] = ksm_page_addr(base, i);
		nodes[i] = node;
	}
	for (t = 0; t < TRIES; t++) {
		for (i = 0; i < npages; i++)
			status[i] = INT_MIN;
		ret = ksm_move_pages(npages, pages, nodes, status,
				     MPOL_MF_MOVE_ALL);
		if (!ret && status[0] == node && status[npages - 1] == node)
			break;
		usleep(20000);
	}
	ksft_print_msg("move_pages to node %d: %ld (%s), status %d %d, %d tries\n",
		       node, ret, ret < 0 ? strerror(errno) : ret ? "not moved" : "ok", status[0],
		       status[npages - 1], t);
	return t < TRIES;
}

int main(void)
{
	struct ksm_counters merged = { 1, 1, 0, 0, 0, 0 };
	char *a, *r;
	int node, err, hold[2], i;
	pid_t sib[SIBS];
	struct kid k;
	bool ok;
	char c;

	ksft_print_header();
	ksft_set_plan(9);
	if (!ksm_two_nodes())
		ksft_exit_skip("fewer than two NUMA nodes\n");
	ksm_selftest_init(16, 10, 0);
	/* A page shared by fork becomes a KSM page under "global" only. */
	if (ksm_file_exists("merge_domain"))
		ksm_write_str("merge_domain", "global");

	/* Scenario 1: P's two pages of KEY, C's to merge. */
	a = ksm_mmap(2);
	ksm_fill_page(ksm_page_addr(a, 0), KEY);
	ksm_fill_page(ksm_page_addr(a, 1), KEY);
	if (pipe(hold))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	for (i = 0; i < SIBS; i++) {
		sib[i] = ksm_fork();
		if (!sib[i]) {
			close(hold[1]);
			ok = read(hold[0], &c, 1) == 0 &&
			     !ksm_count_ksm_pages(a, 2) &&
			     ksm_check_page(ksm_page_addr(a, 0), KEY) < 0 &&
			     ksm_check_page(ksm_page_addr(a, 1), KEY) < 0;
			_exit(!ok);
		}
	}
	close(hold[0]);
	kid_start(&k, a, 2, NULL, 0, KEY);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&merged);
	ksm_set("run", 0);
	ksft_print_msg("P maps %ld KSM pages, C %d\n", ksm_count_ksm_pages(a, 2),
		       kid_ksm_pages(&k));
	ksft_test_result(ok && kid_ksm_pages(&k) == 2,
			 "C's two mappings of P's pages merge into one KSM page\n");

	node = ksm_node_of(a);
	ok = node >= 0 && move_all(a, 2, !node);
	ksft_test_result(ok && ksm_node_of(ksm_page_addr(a, 1)) == !node,
			 "P's pages, the KSM page among them, move to the other node\n");
	ksft_test_result(ksm_check_page(ksm_page_addr(a, 0), KEY) < 0 &&
			 ksm_check_page(ksm_page_addr(a, 1), KEY) < 0 &&
			 kid_ksm_pages(&k) == 2 && ksm_counters_now(&merged),
			 "both keep their contents; C still maps one KSM page twice\n");
	ksft_test_result(kid_ask(&k, "u") == 0,
			 "C unmerges: it maps no KSM page, contents kept\n");
	ksm_madvise(a, 2, MADV_MERGEABLE);
	ok = move_all(a, 2, node);
	ksft_test_result(ok && ksm_node_of(ksm_page_addr(a, 1)) == node &&
			 ksm_check_page(ksm_page_addr(a, 0), KEY) < 0 &&
			 ksm_check_page(ksm_page_addr(a, 1), KEY) < 0,
			 "P's pages, now registered, move back, the KSM page among them, contents kept\n");
	ksm_set("run", 2);
	err = ksm_file_exists("merge_across_nodes") ?
	      ksm_write_ulong("merge_across_nodes", 0) : 0;
	ksft_print_msg("after run = 2: P maps %ld KSM pages; merge_across_nodes 0: %s\n",
		       ksm_count_ksm_pages(a, 2), err ? strerror(-err) : "ok");
	ksft_test_result(!err && ksm_count_ksm_pages(a, 2) == 0 &&
			 ksm_all_counters_zero() &&
			 ksm_check_page(ksm_page_addr(a, 0), KEY) < 0 &&
			 ksm_check_page(ksm_page_addr(a, 1), KEY) < 0,
			 "run = 2 unshares P's KSM page too: merge_across_nodes can change\n");
	if (!err && ksm_file_exists("merge_across_nodes"))
		ksm_set("merge_across_nodes", 1);
	kid_stop(&k);
	/* C had the write end too: only now do the siblings see EOF. */
	close(hold[1]);
	ok = true;
	for (i = 0; i < SIBS; i++)
		ok &= ksm_wait_child(sib[i], "sibling");
	ksft_test_result(ok, "each sibling maps ordinary pages, contents kept\n");
	munmap(a, 2 * ksm_page_size);
	ksm_must_unmerge_all();

	/*
	 * Scenario 2: a reservation of two pages, A (P's) the upper one; C
	 * maps B, the lower one, of its own.
	 */
	r = mmap(NULL, 2 * ksm_page_size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	a = mmap(r + ksm_page_size, ksm_page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (a == MAP_FAILED ||
	    mprotect(r, ksm_page_size, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ksm_fill_page(a, KEY2);
	/* C's B: mprotect()ed in P, first written in C, after the fork. */
	kid_start(&k, r, 2, r, 1, KEY2);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&merged);
	ksm_set("run", 0);
	ksft_test_result(ok && kid_ksm_pages(&k) == 2,
			 "C's own page and its mapping of P's merge into one KSM page\n");
	ksft_test_result(ksm_count_ksm_pages(a, 1) == 0 &&
			 ksm_check_page(a, KEY2) < 0,
			 "P's page stays an ordinary page, content kept\n");
	kid_stop(&k);
	munmap(r, 2 * ksm_page_size);
	ksm_must_unmerge_all();
	ksft_finished();
}
