// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_UNMERGEABLE of a page costs the same wherever the page is in a
 * large mergeable area.
 *
 * MADV_UNMERGEABLE (and mremap) free the rmap items of the range at once,
 * so that the counters drop.  The items of an mm are a list sorted by
 * address; finding the range by walking that list from its head made the
 * call cost one step per item of the mm below the range, however small
 * the range.
 *
 * N pages of N / 2 contents, two of each, merged: N / 2 KSM pages; ksmd
 * then stopped.  SAMPLES pages near the start of the area and SAMPLES near
 * its end are unmerged one at a time, alternately, each the page of
 * another KSM page (the same work: a copy, a split of the area).
 *  - the median call at the end takes less than twice the median call at
 *    the start.  On the lab's test flavour, walking the list from its
 *    head, it took 4.9 times as long (2.07 ms against 0.42 ms); found
 *    through the list's index, 1.0 times (0.41 ms against 0.41 ms);
 *  - the counters afterwards are exactly pages_shared N / 2 (each KSM
 *    page unmerged from still has its other page), pages_sharing
 *    N / 2 - 2 * SAMPLES, nothing unshared or volatile; every page holds
 *    its content.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define N		65536
#define SAMPLES		64

static unsigned long long keys[N];

/* Time MADV_UNMERGEABLE of page @idx of @area, in ms. */
static double unmerge_page(char *area, long idx)
{
	double t = ksm_clock_ms();

	if (madvise(ksm_page_addr(area, idx), ksm_page_size, MADV_UNMERGEABLE))
		ksft_exit_fail_msg("MADV_UNMERGEABLE: %s\n", strerror(errno));
	t = ksm_clock_ms() - t;
	usleep(1000);
	return t;
}

int main(int argc, char **argv)
{
	double head[SAMPLES], tail[SAMPLES], h50, t50;
	struct ksm_counters want;
	char *area;
	bool ok;
	long i;

	ksft_print_header();
	ksft_set_plan(2);
	ksm_selftest_init(N, 0, 0);
	ksm_set("use_zero_pages", 0);
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);

	for (i = 0; i < N; i++)
		keys[i] = 0xfa7000ULL + i / 2;
	area = ksm_mmap_mergeable(keys, N);
	ksm_set("run", 1);
	ok = ksm_wait_merged(N / 2, N / 2);
	ksm_set("run", 0);
	ksm_print_counters("merged, ksmd stopped");
	if (!ok)
		ksft_exit_fail_msg("%d pages did not merge into %d KSM pages\n",
				   N, N / 2);

	for (i = 0; i < SAMPLES; i++) {
		head[i] = unmerge_page(area, 2 * i);
		tail[i] = unmerge_page(area, N - 2 - 2 * i);
	}
	ksm_sort_doubles(head, SAMPLES);
	ksm_sort_doubles(tail, SAMPLES);
	h50 = head[SAMPLES / 2];
	t50 = tail[SAMPLES / 2];
	ksft_print_msg("%d MADV_UNMERGEABLE of one page each: at the start median %.3f ms (max %.3f), at the end median %.3f ms (max %.3f): %.1f times\n",
		       SAMPLES, h50, head[SAMPLES - 1], t50, tail[SAMPLES - 1],
		       t50 / h50);
	ksft_test_result(t50 < 2 * h50,
			 "one page at the end of %d takes %.3f ms (median), under twice one at the start (%.3f ms)\n",
			 N, t50, h50);

	ksm_print_counters("after");
	want = (struct ksm_counters){ .shared = N / 2, .sharing = N / 2 - 2 * SAMPLES,
				      .unshared = 0, .vol = 0, .chains = 0, .dups = 0 };
	ok = ksm_counters_now(&want) && !ksm_check_pages(area, keys, N, "area");
	ksft_test_result(ok, "pages_shared %d, pages_sharing %d, nothing unshared or volatile; contents intact\n",
			 N / 2, N / 2 - 2 * SAMPLES);

	munmap(area, N * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
	ksft_finished();
}
