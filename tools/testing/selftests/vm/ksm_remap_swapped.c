// SPDX-License-Identifier: GPL-2.0
/*
 * A KSM mapping moved while swapped out stays one that rmap finds.
 *
 * One process maps a KSM page twice, at X (area V1) and at Y (area V3,
 * far from V1, so with an anon_vma of its own).  A pipe holds a reference
 * to the page (vmsplice), so that memory.reclaim turns both ptes into swap
 * entries and leaves the KSM page in the swap cache.  Then V1 is unmapped
 * and V3 is mremap()ed onto X; a read of X maps the KSM page from the swap
 * cache again, now through V3's anon_vma.  The rmap item ksmd kept for X
 * still names V1's anon_vma, which no area covers any more: an rmap walk of
 * the KSM page by that item alone would miss the pte at X, and migration
 * and reclaim of the page would fail for as long as it is mapped there.
 * ksmd must see, at its next visits, that the item no longer fits the
 * area: once the pipe is read, move_pages() of X to the other node
 * succeeds, and the page keeps its content.
 *
 * SKIP without swap, a memory cgroup offering memory.reclaim, or two NUMA
 * nodes.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/uio.h>
#include "ksm_util.h"

#define KEY		0x3e3aULL
#define GAP		(1UL << 30)	/* between V1 and V3 */
#define TRIES		50

static char cg_dir[512], why[256];

int main(void)
{
	struct ksm_counters merged = { 1, 1, 0, 0, 0, 0 };
	char *base, *x, *y, *moved, buf[64];
	unsigned long long pm;
	int fds[2], node, want, status, i;
	long ret = 0;
	void *page;
	bool ok;

	ksft_print_header();
	ksft_set_plan(3);
	if (!ksm_have_swap())
		ksft_exit_skip("no swap\n");
	if (!ksm_two_nodes())
		ksft_exit_skip("fewer than two NUMA nodes\n");
	ksm_selftest_init(16, 10, 0);
	if (!ksm_cg_enter("ksm_remap_swapped", "memory.reclaim", cg_dir,
			  sizeof(cg_dir), why, sizeof(why))) {
		ksm_cg_leave(cg_dir);
		ksft_exit_skip("memory cgroup: %s\n", why);
	}

	/* V1 at X and V3 at Y, GAP apart, each one page of KEY. */
	base = mmap(NULL, GAP + ksm_page_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	x = mmap(base, ksm_page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	y = mmap(base + GAP, ksm_page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (x == MAP_FAILED || y == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ksm_fill_page(x, KEY);
	ksm_fill_page(y, KEY);
	ksm_madvise(x, 1, MADV_MERGEABLE);
	ksm_madvise(y, 1, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = ksm_wait_counters(&merged) && ksm_count_ksm_pages(x, 1) == 1 &&
	     ksm_count_ksm_pages(y, 1) == 1;
	ksm_set("run", 0);
	ksft_test_result(ok, "X and Y map one KSM page\n");
	if (!ok)
		goto out;

	/* Out to swap, the page kept in the swap cache by the pipe. */
	if (!ksm_pipe_hold(fds, x, 1))
		ksft_exit_fail_msg("vmsplice: %s\n", strerror(errno));
	for (i = 0; i < TRIES; i++) {
		ksm_cg_write(cg_dir, "memory.reclaim", "64M");
		if ((ksm_pagemap(x) & KSM_PM_SWAP) &&
		    (ksm_pagemap(y) & KSM_PM_SWAP))
			break;
	}
	ok = i < TRIES;
	if (!ok)
		ksft_print_msg("not swapped: X %llx Y %llx\n", ksm_pagemap(x),
			       ksm_pagemap(y));
	/* V1 goes, V3 moves onto X and maps the page again from there. */
	ok = ok && !munmap(x, ksm_page_size);
	moved = ok ? mremap(y, ksm_page_size, ksm_page_size,
			    MREMAP_MAYMOVE | MREMAP_FIXED, x) : MAP_FAILED;
	ok = ok && moved == x && ksm_check_page(x, KEY) < 0;
	pm = ksm_pagemap(x);
	ok = ok && (pm & KSM_PM_PRESENT) &&
	     ksm_kpage_flag(pm & KSM_PM_PFN_MASK, KSM_KPF_KSM);
	ksft_test_result(ok,
			 "swapped out, V1 unmapped, V3 moved onto X: X maps the KSM page again\n");
	if (!ok)
		goto out;

	/* Two full scans, then the pipe lets go and the page moves. */
	ksm_set("run", 1);
	ok = ksm_wait_full_scans(2, 60000);
	ksm_set("run", 0);
	if (read(fds[0], buf, sizeof(buf)) <= 0)
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	close(fds[0]);
	close(fds[1]);
	node = ksm_node_of(x);
	want = !node;
	page = x;
	for (i = 0; ok && i < TRIES; i++) {
		status = INT_MIN;
		ret = ksm_move_pages(1, &page, &want, &status,
				     MPOL_MF_MOVE_ALL);
		if (!ret && status == want)
			break;
		usleep(20000);
	}
	ksft_print_msg("move_pages of X from node %d: %ld (%s), status %d, %d tries\n",
		       node, ret, ret < 0 ? strerror(errno) : "ok", status, i);
	ok = ok && i < TRIES && ksm_node_of(x) == want &&
	     ksm_check_page(x, KEY) < 0;
	ksft_test_result(ok, "the KSM page at X migrates once the pipe lets go, content kept\n");
out:
	munmap(base, GAP + ksm_page_size);
	ksm_cg_leave(cg_dir);
	ksm_must_unmerge_all();
	ksft_finished();
}
