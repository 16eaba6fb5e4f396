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
 *
 * The same must hold for a page that joins an existing KSM page which was
 * MADV_FREE'd: N KSM pages, each left with one mapping (A's) after the
 * other (C's) is zapped, are MADV_FREE'd through A; N new pages (B) of
 * the same contents then merge into them.  After reclaim every page of B
 * holds its content and no pte of B was dropped.  A KSM page that a merge
 * left clean was discarded for B too.
 *
 * SKIP without swap or without a memory cgroup with memory.reclaim.
 * Reclaim that reaches none of the KSM pages is a failure of the set-up.
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

/* Reclaim in @cg until no pte of @b (@n pages) is present, or give up. */
static void reclaim_out(const char *cg, char *b, size_t n, size_t *present,
			size_t *swapped, size_t *dropped)
{
	unsigned long long ent;
	int try;
	size_t i;

	for (try = 0; try < RECLAIM_TRIES; try++) {
		ksm_cg_write(cg, "memory.reclaim", "256M");
		*present = *swapped = *dropped = 0;
		for (i = 0; i < n; i++) {
			ent = ksm_pagemap(ksm_page_addr(b, i));
			if (ent & KSM_PM_PRESENT)
				(*present)++;
			else if (ent & KSM_PM_SWAP)
				(*swapped)++;
			else
				(*dropped)++;
		}
		ksft_print_msg("reclaim %d: B present %zu swap %zu none %zu\n",
			       try + 1, *present, *swapped, *dropped);
		if (!*present)
			break;
	}
}

/*
 * N KSM pages, each mapped once (by A) and MADV_FREE'd there; then N new
 * pages (B) join them.  Reclaim must not take the KSM pages for lazily
 * freed ones: B keeps its contents.
 */
static bool join_freed(void)
{
	struct ksm_counters lone = { N, 0, KSM_ANY, KSM_ANY, 0, 0 };
	size_t i, present, swapped, dropped, bad = 0, joined = 0;
	char why[300], dir[256];
	char *a, *b, *c;
	bool ok;

	if (!ksm_cg_enter("ksm_madv_free_join", "memory.reclaim", dir,
			  sizeof(dir), why, sizeof(why))) {
		ksm_cg_leave(dir);
		ksft_print_msg("memory cgroup: %s\n", why);
		return false;
	}
	a = ksm_mmap(N);
	c = ksm_mmap(N);
	b = ksm_mmap(N);
	for (i = 0; i < N; i++) {
		ksm_fill_page(ksm_page_addr(a, i), KEY0 + N + i);
		ksm_fill_page(ksm_page_addr(c, i), KEY0 + N + i);
	}
	ksm_madvise(a, N, MADV_MERGEABLE);
	ksm_madvise(c, N, MADV_MERGEABLE);
	ksm_madvise(b, N, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = ksm_wait_merged(N, N);
	/* C goes: each KSM page is left with A's mapping alone. */
	ksm_madvise(c, N, MADV_DONTNEED);
	ok = ok && ksm_wait_counters(&lone);
	ok = ok && ksm_count_ksm_pages(a, N) == N;
	if (!ok) {
		ksft_print_msg("could not make %d KSM pages mapped once\n", N);
		goto out;
	}
	ksm_set("run", 0);
	ksm_madvise(a, N, MADV_FREE);
	for (i = 0; i < N; i++)
		ksm_fill_page(ksm_page_addr(b, i), KEY0 + N + i);
	ksm_set("run", 1);
	ok = ksm_wait_merged(N, N);
	for (i = 0; ok && i < N; i++)
		if (pfn_of(ksm_page_addr(b, i)) == pfn_of(ksm_page_addr(a, i)))
			joined++;
	ksft_print_msg("B pages that joined A's freed KSM page: %zu of %d\n",
		       joined, N);
	if (!ok || joined != N) {
		ok = false;
		goto out;
	}

	ksm_set("run", 0);
	reclaim_out(dir, b, N, &present, &swapped, &dropped);
	for (i = 0; i < N; i++) {
		long off = ksm_check_page(ksm_page_addr(b, i), KEY0 + N + i);

		if (off >= 0 && bad++ < 5)
			ksft_print_msg("B: page %zu differs at offset %ld\n", i, off);
	}
	if (bad)
		ksft_print_msg("B: %zu of %d pages bad\n", bad, N);
	if (present == N)
		ksft_print_msg("reclaim reached none of the KSM pages\n");
	ok = !bad && !dropped && present < N;
out:
	munmap(a, N * ksm_page_size);
	munmap(b, N * ksm_page_size);
	munmap(c, N * ksm_page_size);
	ksm_cg_leave(dir);
	return ok;
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
	ksft_set_plan(6);
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

	ksft_test_result(join_freed(),
			 "%d pages joining KSM pages MADV_FREE'd through their one mapping: intact after reclaim\n",
			 N);
	ksft_test_result(ksm_unmerge_all(), "after the join: run=2 brings every counter back to 0\n");
	ksft_finished();
}
