// SPDX-License-Identifier: GPL-2.0
/*
 * A hardware-poisoned KSM page: KSM goes on working around it.
 *
 * Memory failure cannot handle a mapped KSM page: it marks it poisoned,
 * leaves it mapped and keeps a reference to it.  8 pages merged into one
 * KSM page, MADV_HWPOISON on one (EBUSY).  While it stays mapped, pages of
 * its content mapped anew must not merge into it, but into a KSM page of
 * their own.  Then munmap of all: ksmd must drop the node's items and
 * complete two full scans with every counter at 0, and merging and
 * MADV_UNMERGEABLE of another area must still work.  Last, a chain whose
 * dups are all poisoned: pages of its content merge into new dups.
 *
 * (The rarer case, a poisoned KSM page freed, its refcount 0 but its
 * mapping kept for good, comes only from memory failure racing the last
 * put of the page, which no test here can time; ksm_get_page() takes any
 * KSM page with no reference outside the swap cache for stale.)
 * Needs CONFIG_MEMORY_FAILURE (MADV_HWPOISON), else the test is a SKIP.
 *
 * The lab's time limit for this program - limit: 240s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON	100
#endif

#define NPAGES		8

/* The pfn @p maps, or 0. */
static unsigned long long pfn_of(void *p)
{
	unsigned long long pm = ksm_pagemap(p);

	return pm & KSM_PM_PRESENT ? pm & KSM_PM_PFN_MASK : 0;
}

/*
 * max_page_sharing 2: 4 pages of one content make a chain of two dups.
 * Both poisoned, 4 new pages of the content must merge into dups of their
 * own (a search that found no usable dup took the chain for changing under
 * it, and looked again, for ever, holding ksm_mutex).
 */
static bool chain_all_poisoned(const unsigned long long *keys)
{
	unsigned long long bad[2], pfn;
	long at_bad = 0, ksm;
	char *area, *other;
	bool ok;
	int i;

	ksm_set("max_page_sharing", 2);
	ksm_set("run", 1);
	area = ksm_mmap_mergeable(keys, 4);
	ok = ksm_wait_merged(2, 2);
	bad[0] = pfn_of(area);
	bad[1] = 0;
	for (i = 1; i < 4 && !bad[1]; i++)
		if (pfn_of(ksm_page_addr(area, i)) != bad[0])
			bad[1] = pfn_of(ksm_page_addr(area, i));
	ok = ok && bad[0] && bad[1];
	/* EBUSY, as for the first: the pages stay mapped, marked. */
	madvise(area, ksm_page_size, MADV_HWPOISON);
	madvise(ksm_page_addr(area, i - 1), ksm_page_size, MADV_HWPOISON);
	other = ksm_mmap_mergeable(keys, 4);
	ok = ok && ksm_wait_full_scans(2, 60000);
	for (i = 0; i < 4; i++) {
		pfn = pfn_of(ksm_page_addr(other, i));
		at_bad += pfn == bad[0] || pfn == bad[1];
	}
	ksm = ksm_count_ksm_pages(other, 4);
	ksft_print_msg("both dups poisoned; new pages: %ld at their pfns, %ld KSM pages\n",
		       at_bad, ksm);
	ok = ok && !at_bad && ksm == 4 && !ksm_check_pages(other, keys, 4, "new");
	munmap(other, 4 * ksm_page_size);
	munmap(area, 4 * ksm_page_size);
	return ksm_wait_full_scans(2, 60000) && ok && ksm_unmerge_all();
}

int main(void)
{
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };
	unsigned long long keys[NPAGES], pm, poisoned;
	long long t0;
	char *area, *other;
	long at_poisoned, ksm;
	bool ok;
	int i, ret;

	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(1000, 0, 220);

	for (i = 0; i < NPAGES; i++)
		keys[i] = 5;
	area = ksm_mmap_mergeable(keys, NPAGES);
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, NPAGES - 1);
	ksft_test_result(ok, "%d pages merged into one KSM page\n", NPAGES);

	ret = madvise(area, ksm_page_size, MADV_HWPOISON);
	ksft_print_msg("MADV_HWPOISON of the KSM page: %s\n", ret ? strerror(errno) : "done");
	if (ret && (errno == EINVAL || errno == EPERM))
		ksft_exit_skip("no MADV_HWPOISON (CONFIG_MEMORY_FAILURE=n)\n");

	/* Still mapped, and poisoned: no new mapping may go to it. */
	pm = ksm_pagemap(area);
	poisoned = pm & KSM_PM_PFN_MASK;
	other = ksm_mmap_mergeable(keys, NPAGES);
	ok = (pm & KSM_PM_PRESENT) && poisoned &&
	     ksm_wait_full_scans(2, 60000);
	at_poisoned = 0;
	for (i = 0; i < NPAGES; i++)
		at_poisoned += (ksm_pagemap(ksm_page_addr(other, i)) &
				KSM_PM_PFN_MASK) == poisoned;
	ksm = ksm_count_ksm_pages(other, NPAGES);
	ksft_print_msg("pages of its content mapped anew: %ld at the poisoned pfn, %ld KSM pages\n",
		       at_poisoned, ksm);
	ok = ok && !at_poisoned && ksm == NPAGES &&
	     !ksm_check_pages(other, keys, NPAGES, "new");
	ksft_test_result(ok, "no new mapping of the poisoned page; the new ones merge apart\n");
	munmap(other, NPAGES * ksm_page_size);
	munmap(area, NPAGES * ksm_page_size);

	/* Its mappings are gone: ksmd must drop their items and go on. */
	ok = ksm_wait_full_scans(2, 60000) && ksm_wait_counters(&zero);
	ksft_test_result(ok, "poisoned KSM page unmapped: two full scans, every counter 0\n");

	other = ksm_mmap_mergeable(keys, NPAGES);
	ok = ksm_wait_merged(1, NPAGES - 1);
	t0 = ksm_now_ms();
	ok = !madvise(other, NPAGES * ksm_page_size, MADV_UNMERGEABLE) && ok;
	ksft_print_msg("MADV_UNMERGEABLE took %lld ms\n", ksm_now_ms() - t0);
	ok = ok && !ksm_check_pages(other, keys, NPAGES, "other");
	munmap(other, NPAGES * ksm_page_size);
	ksft_test_result(ok && ksm_unmerge_all(),
			 "merging and MADV_UNMERGEABLE still work afterwards\n");

	ksft_test_result(chain_all_poisoned(keys), "a chain of poisoned dups only\n");
	ksft_finished();
}
