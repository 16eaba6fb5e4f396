// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write of KSM pages.
 *
 * 32 pages in this process and 8 in a child all hold one content and
 * merge into one KSM page (pages_shared 1, pages_sharing 39).  Then:
 *  - rewriting one whole page gives the writer a private copy holding the
 *    new data at once, while every other sharer, here and in the child,
 *    keeps the old content; /proc/vmstat cow_ksm grows by exactly 1 (the
 *    writes are made with ksmd stopped: do_wp_page() counts cow_ksm before
 *    it copies, and a fault that finds the pte changed meanwhile, by ksmd
 *    moving the mapping to another KSM page or by a migration, is retried
 *    and counted again; nothing else changes these ptes);
 *  - once ksmd has rescanned, pages_sharing is exactly 1 lower (38),
 *    pages_shared still 1, pages_unshared 1, ksm_merging_pages 31;
 *  - writing a single byte of another merged page copies the rest of the
 *    page: the writer sees the old content with just that byte changed;
 *    cow_ksm grows by exactly 1 more, and not again at a second write of
 *    that page, now private; pages_sharing drops to 37 after a rescan.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define NPAGES		32
#define NCHILD		8
#define KEY		5
#define NEW_KEY		77
#define WHOLE_PAGE	3
#define ONE_BYTE_PAGE	4
#define BYTE_OFFSET	1234

static bool check_others(char *area, int skip1, int skip2)
{
	size_t i, bad = 0;

	for (i = 0; i < NPAGES; i++) {
		if ((int)i == skip1 || (int)i == skip2)
			continue;
		if (ksm_check_page(ksm_page_addr(area, i), KEY) >= 0) {
			ksft_print_msg("page %zu lost the old content\n", i);
			bad++;
		}
	}
	return !bad;
}

static bool same_pfn_except(char *area, int skip1, int skip2)
{
	unsigned long long kpfn = 0, pfn;
	bool ok = true;
	size_t i;

	for (i = 0; i < NPAGES; i++) {
		pfn = ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_PFN_MASK;
		if ((int)i == skip1 || (int)i == skip2)
			continue;
		if (!kpfn)
			kpfn = pfn;
		if (pfn != kpfn) {
			ksft_print_msg("page %zu: PFN %llx, KSM page PFN %llx\n", i, pfn, kpfn);
			ok = false;
		}
	}
	if (skip1 >= 0) {
		pfn = ksm_pagemap(ksm_page_addr(area, skip1)) & KSM_PM_PFN_MASK;
		if (pfn == kpfn) {
			ksft_print_msg("written page %d still maps the KSM page\n", skip1);
			ok = false;
		}
	}
	return ok;
}

int main(void)
{
	long long cow0, cow1, cow2, cow3;
	int ready[2], go[2];
	struct ksm_counters want = { 1, NPAGES + NCHILD - 1, 0, 0, 0, 0 };
	unsigned char *byte, *expect;
	char *area;
	pid_t pid;
	size_t i;
	bool ok;

	ksft_print_header();
	ksft_set_plan(9);
	ksm_selftest_init(2 * (NPAGES + NCHILD) + 100, 0, 150);

	if (pipe(ready) || pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		char *c = mmap(NULL, NCHILD * ksm_page_size,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t bad = 0;

		if (c == MAP_FAILED)
			_exit(2);
		for (i = 0; i < NCHILD; i++)
			ksm_fill_page(ksm_page_addr(c, i), KEY);
		if (madvise(c, NCHILD * ksm_page_size, MADV_MERGEABLE))
			_exit(3);
		ksm_pipe_send(ready[1], 'r');
		if (ksm_pipe_recv(go[0], 3 * KSM_TIMEOUT_MS) != 'v')
			_exit(4);
		for (i = 0; i < NCHILD; i++)
			if (ksm_check_page(ksm_page_addr(c, i), KEY) >= 0)
				bad++;
		if (bad)
			printf("# child: %zu pages lost the old content\n", bad);
		_exit(bad ? 1 : 0);
	}
	if (ksm_pipe_recv(ready[0], KSM_TIMEOUT_MS) != 'r')
		ksft_exit_fail_msg("child not ready\n");

	area = ksm_mmap(NPAGES);
	for (i = 0; i < NPAGES; i++)
		ksm_fill_page(ksm_page_addr(area, i), KEY);
	ksm_madvise(area, NPAGES, MADV_MERGEABLE);
	ksm_set("run", 1);

	ok = ksm_wait_counters(&want) && same_pfn_except(area, -1, -1);
	ksft_test_result(ok, "setup: %d pages merged: pages_shared 1 pages_sharing %d\n",
			 NPAGES + NCHILD, NPAGES + NCHILD - 1);
	if (!ok)
		ksft_exit_fail_msg("cannot test COW without merged pages\n");

	/* 1. Rewrite a whole page, ksmd stopped (see above). */
	ksm_set("run", 0);
	cow0 = ksm_vmstat("cow_ksm");
	ksm_fill_page(ksm_page_addr(area, WHOLE_PAGE), NEW_KEY);
	cow1 = ksm_vmstat("cow_ksm");
	ok = ksm_check_page(ksm_page_addr(area, WHOLE_PAGE), NEW_KEY) < 0;
	ok = check_others(area, WHOLE_PAGE, -1) && ok;
	ok = same_pfn_except(area, WHOLE_PAGE, -1) && ok;
	ksft_test_result(ok,
			 "write: writer has its new data on a private page, other sharers the old\n");

	if (cow0 < 0)
		ksft_test_result_skip("no cow_ksm in /proc/vmstat\n");
	else
		ksft_test_result(cow1 - cow0 == 1, "cow_ksm grew by exactly 1 (%lld -> %lld)\n",
				 cow0, cow1);

	ksm_set("run", 1);
	want.sharing--;
	want.unshared = 1;
	ok = ksm_wait_counters(&want);
	ksft_test_result(ok && ksm_proc_merging_pages(0) == NPAGES - 1,
			 "after rescan: pages_shared 1 pages_sharing %ld (-1) pages_unshared 1, ksm_merging_pages %d\n",
			 want.sharing, NPAGES - 1);

	/* 2. Write one byte of another merged page, then another byte. */
	ksm_set("run", 0);
	byte = ksm_page_addr(area, ONE_BYTE_PAGE);
	byte[BYTE_OFFSET] ^= 0xff;
	cow2 = ksm_vmstat("cow_ksm");
	byte[BYTE_OFFSET + 1] ^= 0xff;
	cow3 = ksm_vmstat("cow_ksm");
	byte[BYTE_OFFSET + 1] ^= 0xff;
	expect = malloc(ksm_page_size);
	if (!expect)
		ksft_exit_fail_msg("malloc\n");
	ksm_fill_page(expect, KEY);
	expect[BYTE_OFFSET] ^= 0xff;
	ok = !memcmp(byte, expect, ksm_page_size);
	if (!ok)
		ksft_print_msg("one-byte written page differs from old content + that byte\n");
	free(expect);
	ok = check_others(area, WHOLE_PAGE, ONE_BYTE_PAGE) && ok;
	ok = ksm_check_page(ksm_page_addr(area, WHOLE_PAGE), NEW_KEY) < 0 && ok;
	ok = same_pfn_except(area, ONE_BYTE_PAGE, WHOLE_PAGE) && ok;
	ksft_test_result(ok, "one-byte write: the private copy keeps the rest of the old page\n");

	if (cow0 < 0)
		ksft_test_result_skip("no cow_ksm in /proc/vmstat\n");
	else
		ksft_test_result(cow2 - cow1 == 1 && cow3 == cow2,
				 "cow_ksm grew by exactly 1, for the first write of the page only (%lld -> %lld -> %lld)\n",
				 cow1, cow2, cow3);

	ksm_set("run", 1);
	want.sharing--;
	want.unshared = 2;
	ok = ksm_wait_counters(&want);
	ksft_test_result(ok && ksm_proc_merging_pages(0) == NPAGES - 2,
			 "after rescan: pages_shared 1 pages_sharing %ld pages_unshared 2, ksm_merging_pages %d\n",
			 want.sharing, NPAGES - 2);

	ok = ksm_pipe_send(go[1], 'v');
	ok = ksm_wait_child(pid, "child") && ok;
	ksft_test_result(ok, "the other process's sharers kept the old content\n");

	ksft_test_result(ksm_unmerge_all(), "run=2 brings every counter back to 0\n");
	ksft_finished();
}
