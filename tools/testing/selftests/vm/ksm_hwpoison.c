// SPDX-License-Identifier: GPL-2.0
/*
 * A hardware-poisoned KSM page: KSM goes on working around it.
 *
 * Memory failure cannot handle a mapped KSM page: it marks it poisoned,
 * leaves it mapped and keeps a reference to it.  8 pages merged into one
 * KSM page, MADV_HWPOISON on one (EBUSY), munmap of all: ksmd must drop
 * the node's items and complete two full scans with every counter at 0,
 * and merging and MADV_UNMERGEABLE of another area must still work.
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

int main(void)
{
	struct ksm_counters zero = { 0, 0, 0, 0, 0, 0 };
	unsigned long long keys[NPAGES];
	long long t0;
	char *area, *other;
	bool ok;
	int i, ret;

	ksft_print_header();
	ksft_set_plan(3);
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
	ksft_finished();
}
