// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_cow_race: the race behind ksm_tests -U, repeated.  Merge two pages
 * (checked: one KSM page, mapped twice), write both (copy on write), wait
 * for one more full scan, and expect the counters at 0; on a miss, print
 * the counters and the old KSM page's /proc/kpageflags.  The pass that
 * ends just after the writes may have looked at the KSM page before they
 * freed it; reading full_scans under ksm_mutex closes that window.  It is
 * the "race" suite of make check; the window was widest on a loaded host
 * (a few `while :; do :; done` loops beside
 * `./lab/boot.sh ours test race race`).
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define RUNS 60

static unsigned long long pfn_of(const void *addr)
{
	return ksm_pagemap(addr) & KSM_PM_PFN_MASK;
}

/*
 * Wait for @n more full scans, polling without a pause: the check must
 * look at the counters as soon as the scan after the writes ends, before
 * the next one can mend what it missed.
 */
static bool wait_scans(unsigned long n)
{
	unsigned long start = ksm_full_scans();
	long long deadline = ksm_now_ms() + 60 * 1000;

	while (ksm_full_scans() < start + n)
		if (ksm_now_ms() > deadline)
			return false;
	return true;
}

int main(void)
{
	int i, missed = 0, unmerged = 0;

	ksft_print_header();
	ksft_set_plan(2);
	ksm_selftest_init(10, 0, 0);
	for (i = 0; i < RUNS; i++) {
		unsigned long long pfn;
		char *m;

		ksm_set("run", 2);
		m = ksm_mmap(2);
		memset(m, '*', 2 * ksm_page_size);
		ksm_madvise(m, 2, MADV_MERGEABLE);
		ksm_set("run", 1);
		if (!wait_scans(2))
			ksft_exit_fail_msg("run %d: ksmd made no two full scans\n", i);
		pfn = pfn_of(m);
		/* Merged: one KSM page mapped by both. */
		if (ksm_read("pages_shared") != 1 || ksm_read("pages_sharing") != 1 ||
		    !pfn || pfn != pfn_of(m + ksm_page_size) ||
		    !ksm_kpage_flag(pfn, KSM_KPF_KSM)) {
			unmerged++;
			ksft_print_msg("run %d: not merged after two full scans: pages_shared %lu pages_sharing %lu, page %#llx kpageflags %#llx\n",
				       i, ksm_read("pages_shared"), ksm_read("pages_sharing"),
				       pfn, ksm_kpage("/proc/kpageflags", pfn));
		}
		m[0] = '-';
		m[ksm_page_size] = '+';
		if (!wait_scans(1))
			ksft_exit_fail_msg("run %d: ksmd made no full scan\n", i);
		if (ksm_read("pages_shared") || ksm_read("pages_sharing")) {
			missed++;
			ksft_print_msg("run %d: pages_shared %lu pages_sharing %lu after the scan; old KSM page %#llx: kpagecount %lld kpageflags %#llx\n",
				       i, ksm_read("pages_shared"), ksm_read("pages_sharing"),
				       pfn, ksm_kpage("/proc/kpagecount", pfn),
				       ksm_kpage("/proc/kpageflags", pfn));
		}
		munmap(m, 2 * ksm_page_size);
	}
	ksm_set("run", 2);
	ksft_test_result(!unmerged, "two identical pages merged into one KSM page: %d of %d runs did not\n",
			 unmerged, RUNS);
	ksft_test_result(!missed, "counters at 0 one full scan after COW broke the last mapping: %d of %d runs missed\n",
			 missed, RUNS);
	ksft_finished();
}
