// SPDX-License-Identifier: GPL-2.0
/*
 * A KSM page must survive MADV_FREE of one of its mappings.
 *
 * N pairs of private anonymous pages, A[i] and B[i], hold the same content,
 * different for every i.  A's pages are MADV_FREE'd (clean, lazily
 * freeable), B's are kept.  ksmd merges every pair (pages_shared N,
 * pages_sharing N), turning one page of each pair into the KSM page in
 * place; the pairs alternate which page comes first in the area, so for
 * some of them that is A's freed page (told apart by PFN).  Then
 * memory.reclaim, in a memory cgroup of our own, pushes the KSM pages out.
 *
 *  - every page of B still holds its content, byte for byte, and no pte of
 *    B was dropped (none reads "not present and not swapped");
 *  - every page of A holds its content or zeroes (MADV_FREE allows both).
 *
 * A KSM page left clean after being made out of a MADV_FREE'd page was
 * discarded by reclaim for every mapping: B read zeroes.
 * SKIP without swap, without a memory cgroup with memory.reclaim, or when
 * no KSM page made from a freed page was reached by reclaim.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define N		64
#define KEY0		1000
#define RECLAIM_TRIES	10

static char cg_dir[256];

/* Pair i: A first for even i, B first for odd i. */
static char *page_a(char *area, size_t i)
{
	return ksm_page_addr(area, 2 * i + (i & 1));
}

static char *page_b(char *area, size_t i)
{
	return ksm_page_addr(area, 2 * i + !(i & 1));
}

static unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = ksm_pagemap(addr);

	return ent & KSM_PM_PRESENT ? ent & KSM_PM_PFN_MASK : 0;
}

struct pte_census {
	size_t present, swapped, dropped;
	size_t freed_out;	/* KSM pages made of A's page, out of memory */
};

static void census(char *area, const bool *from_a, struct pte_census *c)
{
	unsigned long long ent;
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < N; i++) {
		ent = ksm_pagemap(page_b(area, i));
		if (ent & KSM_PM_PRESENT)
			c->present++;
		else if (ent & KSM_PM_SWAP)
			c->swapped++;
		else
			c->dropped++;
		if (from_a[i] && !(ent & KSM_PM_PRESENT))
			c->freed_out++;
	}
}

int main(void)
{
	unsigned long long keys[N], pfn_a[N], pfn_b[N], kpfn;
	size_t i, nfrom_a = 0, nfrom_b = 0, bad_b = 0, bad_a = 0, zero_a = 0;
	struct pte_census c = { 0 };
	bool from_a[N] = { false };
	char why[300];
	char *area;
	long off;
	bool ok;
	int try;

	ksft_print_header();
	ksft_set_plan(4);
	ksm_selftest_init(4 * N, 0, 150);

	if (!ksm_have_swap())
		ksft_exit_skip("no swap: reclaim cannot push KSM pages out\n");
	/* Join the cgroup first: pages are charged where they are faulted in. */
	if (!ksm_cg_enter("ksm_madv_free", "memory.reclaim", cg_dir,
			  sizeof(cg_dir), why, sizeof(why))) {
		ksm_cg_leave(cg_dir);
		ksft_exit_skip("memory cgroup: %s\n", why);
	}

	area = ksm_mmap(2 * N);
	for (i = 0; i < N; i++) {
		keys[i] = KEY0 + i;
		ksm_fill_page(page_a(area, i), keys[i]);
		ksm_fill_page(page_b(area, i), keys[i]);
		pfn_a[i] = pfn_of(page_a(area, i));
		pfn_b[i] = pfn_of(page_b(area, i));
	}
	for (i = 0; i < N; i++)
		ksm_madvise(page_a(area, i), 1, MADV_FREE);
	ksm_madvise(area, 2 * N, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = ksm_wait_merged(N, N);
	/* Which page of each pair did KSM keep? */
	for (i = 0; ok && i < N; i++) {
		kpfn = pfn_of(page_b(area, i));
		if (kpfn && kpfn == pfn_a[i]) {
			from_a[i] = true;
			nfrom_a++;
		} else if (kpfn && kpfn == pfn_b[i]) {
			nfrom_b++;
		}
	}
	ksft_print_msg("KSM pages made of A's MADV_FREE'd page %zu, of B's page %zu, other %zu\n",
		       nfrom_a, nfrom_b, N - nfrom_a - nfrom_b);
	ksft_test_result(ok, "%d pairs, A MADV_FREE'd: merged, pages_shared %d pages_sharing %d\n",
			 N, N, N);
	if (!ok) {
		ksm_cg_leave(cg_dir);
		ksft_exit_fail_msg("could not merge the pairs\n");
	}

	/* Nothing touches the pages until they are checked. */
	ksm_set("run", 0);
	for (try = 0; try < RECLAIM_TRIES; try++) {
		ksm_cg_write(cg_dir, "memory.reclaim", "256M");
		census(area, from_a, &c);
		ksft_print_msg("reclaim %d: B present %zu swap %zu none %zu; freed out %zu/%zu\n",
			       try + 1, c.present, c.swapped, c.dropped, c.freed_out,
			       nfrom_a);
		if (!c.present)
			break;
	}

	for (i = 0; i < N; i++) {
		off = ksm_check_page(page_b(area, i), keys[i]);
		if (off < 0)
			continue;
		if (bad_b++ < 5)
			ksft_print_msg("B: page %zu (%s) differs from key %llu at offset %ld\n",
				       i, from_a[i] ? "KSM page was A's" : "KSM page was B's",
				       keys[i], off);
	}
	if (bad_b)
		ksft_print_msg("B: %zu of %d pages bad\n", bad_b, N);
	ok = !bad_b && !c.dropped;
	if (ok && (!nfrom_a || !c.freed_out))
		ksft_test_result_skip("B intact, no KSM page of a freed page reclaimed (%zu/%zu)\n",
				      c.freed_out, nfrom_a);
	else
		ksft_test_result(ok,
				 "B: all %d pages intact after reclaim, no pte dropped (%zu of %zu KSM pages made of freed pages reclaimed)\n",
				 N, c.freed_out, nfrom_a);

	for (i = 0; i < N; i++) {
		if (ksm_check_page(page_a(area, i), keys[i]) < 0)
			continue;
		if (ksm_check_page(page_a(area, i), 0) < 0) {
			zero_a++;
			continue;
		}
		if (bad_a++ < 5)
			ksft_print_msg("A: page %zu is neither key %llu nor zeroes\n",
				       i, keys[i]);
	}
	ksft_print_msg("A: %zu of %d pages read zeroes\n", zero_a, N);
	ksft_test_result(!bad_a, "A: every page holds its content or zeroes\n");

	munmap(area, 2 * N * ksm_page_size);
	ksm_cg_leave(cg_dir);
	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
