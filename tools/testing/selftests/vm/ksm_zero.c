// SPDX-License-Identifier: GPL-2.0
/*
 * use_zero_pages.
 *
 * use_zero_pages=0: 64 allocated all-zero pages merge into one KSM page like
 * any other content: pages_shared 1, pages_sharing 63, ksm_merging_pages 64,
 * and that page is not the kernel's zero page.
 *
 * Switching use_zero_pages to 1 only affects later merges: the existing
 * KSM page of zeroes stays (pages_shared 1, pages_sharing 63).  NLATE new
 * pages of zeroes registered then map the zero page, not that KSM page
 * (Linux 6.1 merges them into it: it searches the stable tree first), and
 * the counters stay as they were.
 *
 * use_zero_pages=1: 64 all-zero pages plus 8 pages of another content.
 * The zero pages are mapped to the kernel zero page (same PFN as a
 * never-written anonymous page) and are counted in neither pages_shared
 * nor pages_sharing (nor, in Linux 6.1, in ksm_merging_pages): the counters
 * are exactly those of the 8 other pages, pages_shared 1, pages_sharing 7,
 * pages_unshared 0, pages_volatile 0.
 *
 * In both cases the pages read as zero and are writable afterwards, and
 * writing them does not count as cow_ksm when they were on the zero page.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NZERO	64
#define NOTHER	8
#define NLATE	8

static bool all_zero(char *area, size_t n, const char *what)
{
	unsigned long long keys[NZERO] = { 0 };

	return !ksm_check_pages(area, keys, n, what);
}

/* Write a distinct content to every page, then check it. */
static bool writable(char *area, size_t n)
{
	unsigned long long keys[NZERO];
	size_t i;

	for (i = 0; i < n; i++)
		keys[i] = 500 + i;
	ksm_fill_pages(area, keys, n);
	return !ksm_check_pages(area, keys, n, "after write");
}

static unsigned long long zero_pfn(void)
{
	char *p = ksm_mmap(1);
	unsigned long long ent;
	char c = p[0];	/* read fault: maps the zero page */

	ent = ksm_pagemap(p);
	munmap(p, ksm_page_size);
	if (c || !(ent & KSM_PM_PRESENT))
		return 0;
	return ent & KSM_PM_PFN_MASK;
}

static size_t count_on_pfn(char *area, size_t n, unsigned long long pfn)
{
	size_t i, on = 0;

	for (i = 0; i < n; i++) {
		unsigned long long ent = ksm_pagemap(ksm_page_addr(area, i));

		if ((ent & KSM_PM_PRESENT) && (ent & KSM_PM_PFN_MASK) == pfn)
			on++;
	}
	return on;
}

static void test_zero_pages_off(unsigned long long zpfn)
{
	struct ksm_counters want = { 1, NZERO - 1, 0, 0, 0, 0 };
	unsigned long long kpfn;
	size_t on_zero, on_kpage;
	long long deadline;
	char *area, *late;
	bool ok;

	area = ksm_mmap(NZERO);
	memset(area, 0, NZERO * ksm_page_size);	/* allocate real pages */
	ksm_madvise(area, NZERO, MADV_MERGEABLE);
	ksm_set("run", 1);

	ok = ksm_wait_counters(&want);
	ok = ok && ksm_proc_merging_pages(0) == NZERO;
	kpfn = ksm_pagemap(area) & KSM_PM_PFN_MASK;
	if (count_on_pfn(area, NZERO, kpfn) != NZERO || (zpfn && kpfn == zpfn)) {
		ksft_print_msg("zero pages not all on one KSM page (PFN %llx, zero page %llx)\n",
			       kpfn, zpfn);
		ok = false;
	}
	ok = all_zero(area, NZERO, "use_zero_pages=0") && ok;
	ksft_test_result(ok,
			 "use_zero_pages=0: %d zero pages merge into a KSM page: pages_shared 1 pages_sharing %d\n",
			 NZERO, NZERO - 1);

	ksm_set("use_zero_pages", 1);
	ok = ksm_wait_full_scans(3, KSM_TIMEOUT_MS) && ksm_counters_now(&want);
	ok = ok && count_on_pfn(area, NZERO, kpfn) == NZERO;
	ksft_test_result(ok, "use_zero_pages 0->1 leaves the existing KSM page of zeroes merged\n");

	late = ksm_mmap(NLATE);
	memset(late, 0, NLATE * ksm_page_size);
	ksm_madvise(late, NLATE, MADV_MERGEABLE);
	deadline = ksm_now_ms() + KSM_TIMEOUT_MS;
	while (ksm_now_ms() < deadline && count_on_pfn(late, NLATE, zpfn) != NLATE)
		usleep(10000);
	on_zero = count_on_pfn(late, NLATE, zpfn);
	on_kpage = count_on_pfn(late, NLATE, kpfn);
	ok = on_zero == NLATE && ksm_wait_full_scans(2, KSM_TIMEOUT_MS) &&
	     ksm_counters_now(&want) && all_zero(late, NLATE, "late pages of zeroes");
	ksft_print_msg("%zu of %d later pages of zeroes on the zero page, %zu on the KSM page\n",
		       on_zero, NLATE, on_kpage);
	ksft_test_result(ok, "use_zero_pages=1: %d later pages of zeroes map the zero page, not the KSM page of zeroes; counters unchanged\n",
			 NLATE);
	munmap(late, NLATE * ksm_page_size);

	ok = writable(area, NZERO);
	ksft_test_result(ok, "use_zero_pages=0: merged zero pages are writable afterwards\n");
	munmap(area, NZERO * ksm_page_size);
}

static void test_zero_pages_on(unsigned long long zpfn)
{
	struct ksm_counters want = { 1, NOTHER - 1, 0, 0, 0, 0 };
	long long deadline, cow0;
	char *area, *other;
	size_t i, on = 0;
	bool ok;

	ksm_unmerge_all();
	ksm_set("use_zero_pages", 1);
	area = ksm_mmap(NZERO + NOTHER);
	other = ksm_page_addr(area, NZERO);
	memset(area, 0, NZERO * ksm_page_size);
	for (i = 0; i < NOTHER; i++)
		ksm_fill_page(ksm_page_addr(other, i), 3);
	if (!zpfn || count_on_pfn(area, NZERO, zpfn)) {
		ksft_print_msg("zero page PFN %llx, %zu pages on it before merging\n",
			       zpfn, count_on_pfn(area, NZERO, zpfn));
		ksft_exit_fail_msg("cannot tell the zero page\n");
	}
	ksm_madvise(area, NZERO + NOTHER, MADV_MERGEABLE);
	ksm_set("run", 1);

	deadline = ksm_now_ms() + KSM_TIMEOUT_MS;
	while (ksm_now_ms() < deadline) {
		on = count_on_pfn(area, NZERO, zpfn);
		if (on == NZERO)
			break;
		usleep(10000);
	}
	ksft_print_msg("%zu of %d zero pages on the zero page\n", on, NZERO);
	ksft_test_result(on == NZERO,
			 "use_zero_pages=1: every zero page is mapped to the zero page\n");

	ok = ksm_wait_counters(&want);
	ok = ok && ksm_wait_full_scans(3, KSM_TIMEOUT_MS) && ksm_counters_now(&want);
	ksft_print_msg("ksm_merging_pages %ld\n", ksm_proc_merging_pages(0));
	ok = ok && ksm_proc_merging_pages(0) == NOTHER;
	ksft_test_result(ok,
			 "use_zero_pages=1: zero pages not in pages_shared/pages_sharing (1/%d from the other pages only), ksm_merging_pages %d\n",
			 NOTHER - 1, NOTHER);

	ok = all_zero(area, NZERO, "use_zero_pages=1");
	cow0 = ksm_vmstat("cow_ksm");
	ok = writable(area, NZERO) && ok;
	if (cow0 >= 0 && ksm_vmstat("cow_ksm") != cow0) {
		ksft_print_msg("cow_ksm %lld -> %lld for writes to zero-page mappings\n",
			       cow0, ksm_vmstat("cow_ksm"));
		ok = false;
	}
	for (i = 0; i < NOTHER; i++)
		if (ksm_check_page(ksm_page_addr(other, i), 3) >= 0)
			ok = false;
	ksft_test_result(ok,
			 "use_zero_pages=1: pages read zero, are writable, no cow_ksm; other pages intact\n");
	munmap(area, (NZERO + NOTHER) * ksm_page_size);
}

int main(void)
{
	unsigned long long zpfn;

	ksft_print_header();
	ksft_set_plan(8);
	ksm_selftest_init(2 * (NZERO + NOTHER) + 100, 0, 150);

	zpfn = zero_pfn();
	ksft_print_msg("zero page PFN %llx\n", zpfn);

	test_zero_pages_off(zpfn);
	test_zero_pages_on(zpfn);

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
