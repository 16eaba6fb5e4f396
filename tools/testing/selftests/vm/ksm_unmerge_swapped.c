// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_UNMERGEABLE of KSM pages that are out on swap: each comes back as a
 * page of its own.
 *
 * N pairs of pages, pair i holding key i, merge into N KSM pages.  The
 * second page of each pair is unmerged, so that each KSM page is mapped
 * once; a pipe takes a reference to each (vmsplice), and MADV_PAGEOUT
 * writes them out: every pte reads "swapped", and the pipe's references
 * keep the pages in the swap cache (mincore).  MADV_UNMERGEABLE of the
 * area then finds no KSM page mapped (swap entries are left as they are,
 * as in Linux 6.1), and frees the rmap items.
 *
 * Read back, each page must be a private copy (vmstat ksm_swpin_copy
 * grows by N), not the KSM page in the swap cache: an area that is no
 * longer mergeable is never scanned again, so such a mapping would stay
 * shared for good, out of reach of run = 2 and of KSM's rmap walks (the
 * page could not be migrated), across merge domains if its process moved
 * to another, and keeping max_page_sharing at EBUSY.  So then, with the
 * pipe closed: contents intact, no KSM page mapped, ksm_merging_pages 0,
 * and after run = 2 a write to max_page_sharing succeeds.
 *
 * The lab's time limit for this program - limit: 120s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define N		16	/* a pipe holds 16 pages */
#define KEY		0x5eed0000ULL
#define TRIES		8

static unsigned long long keys[2 * N];

/* How many of the first N pages are swap entries, and in memory. */
static void census(char *area, long *swapped, long *cached)
{
	unsigned char vec[N];
	int i;

	*swapped = 0;
	*cached = 0;
	for (i = 0; i < N; i++)
		if (ksm_pagemap(ksm_page_addr(area, i)) & KSM_PM_SWAP)
			(*swapped)++;
	if (mincore(area, N * ksm_page_size, vec))
		ksft_exit_fail_msg("mincore: %s\n", strerror(errno));
	for (i = 0; i < N; i++)
		*cached += vec[i] & 1;
}

int main(void)
{
	long swapped = 0, cached = 0, ksm, copies, merging;
	int pfd[2], i, try, err;
	unsigned long mps;
	bool zero;
	char *area;

	ksft_print_header();
	ksft_set_plan(2);
	ksm_selftest_init(1000, 10, 0);
	if (!ksm_have_swap())
		ksft_exit_skip("no swap: KSM pages cannot be paged out\n");

	for (i = 0; i < 2 * N; i++)
		keys[i] = KEY + i % N;
	area = ksm_mmap(2 * N);
	madvise(area, 2 * N * ksm_page_size, MADV_NOHUGEPAGE);
	ksm_fill_pages(area, keys, 2 * N);
	ksm_madvise(area, 2 * N, MADV_MERGEABLE);
	ksm_set("run", 1);
	if (!ksm_wait_merged(N, N))
		ksft_exit_fail_msg("the %d pairs did not merge\n", N);
	ksm_set("run", 0);
	ksm_madvise(ksm_page_addr(area, N), N, MADV_UNMERGEABLE);
	if (ksm_count_ksm_pages(area, 2 * N) != N ||
	    ksm_proc_merging_pages(0) != N)
		ksft_exit_fail_msg("not N KSM pages, each mapped once\n");
	if (!ksm_pipe_hold(pfd, area, N))
		ksft_exit_fail_msg("vmsplice: %s\n", strerror(errno));
	for (try = 0; try < TRIES && swapped < N; try++) {
		if (madvise(area, N * ksm_page_size, MADV_PAGEOUT))
			ksft_exit_fail_msg("MADV_PAGEOUT: %s\n", strerror(errno));
		census(area, &swapped, &cached);
	}
	ksft_print_msg("after %d MADV_PAGEOUT: %ld of %d swapped, %ld in the swap cache\n",
		       try, swapped, N, cached);
	if (swapped < N || cached < N)
		ksft_exit_fail_msg("the KSM pages are not all out and in the swap cache\n");

	ksm_madvise(area, N, MADV_UNMERGEABLE);
	copies = ksm_vmstat("ksm_swpin_copy");
	err = ksm_check_pages(area, keys, N, "the pages read back");
	copies = ksm_vmstat("ksm_swpin_copy") - copies;
	ksm = ksm_count_ksm_pages(area, N);
	merging = ksm_proc_merging_pages(0);
	close(pfd[0]);
	close(pfd[1]);
	ksft_print_msg("read back: %ld KSM pages, ksm_swpin_copy +%ld, ksm_merging_pages %ld\n",
		       ksm, copies, merging);
	ksft_test_result(!err && !ksm && copies == N && !merging,
			 "unmerged while out on swap: %d pages read back, each a copy of its own\n",
			 N);

	zero = ksm_unmerge_all();
	mps = ksm_read("max_page_sharing");
	err = ksm_write_ulong("max_page_sharing", mps + 1);
	if (!err)
		err = ksm_write_ulong("max_page_sharing", mps);
	if (err)
		ksft_print_msg("max_page_sharing: %s\n", strerror(-err));
	ksft_test_result(zero && !err,
			 "after run = 2, every counter 0 and max_page_sharing can be changed\n");
	munmap(area, 2 * N * ksm_page_size);
	ksft_finished();
}
