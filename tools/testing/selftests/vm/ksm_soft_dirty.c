// SPDX-License-Identifier: GPL-2.0
/*
 * Soft-dirty bits through a merge and an unmerge.
 *
 * A pte's soft-dirty bit says that its page was written since the last
 * "4" to /proc/PID/clear_refs: an incremental checkpoint (CRIU) saves
 * only those pages.  Merging and unmerging change which page a pte maps,
 * never what the process reads there, so neither may set or drop the bit:
 * a page written since the clear and then merged must still be saved.
 *
 * N pages of one content; after clear_refs, every other page is written
 * (with the same bytes, so all still merge):
 *  - before merging, pagemap's soft-dirty bit (55) reads 1 for exactly the
 *    written pages (else the kernel does not track it: SKIP);
 *  - merged (pages_shared 1, pages_sharing N - 1), the bits are the same;
 *  - after MADV_UNMERGEABLE (no KSM page left, contents intact), the same;
 *  - with use_zero_pages 1, pages of zeroes (the even ones written after
 *    the clear) mapped to the zero page, then unmerged: the same bits.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include "ksm_util.h"

#define N		64
#define KEY		0x5d1ULL
#define PM_SOFT_DIRTY	0x0080000000000000ULL	/* pagemap bit 55 */

static bool clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "4", 1) == 1;
	close(fd);
	return ok;
}

/* Do the soft-dirty bits of @area read 1 for the even pages only? */
static bool bits_as_written(char *area, const char *when)
{
	int i, wrong = 0;
	bool dirty;

	for (i = 0; i < N; i++) {
		dirty = ksm_pagemap(ksm_page_addr(area, i)) & PM_SOFT_DIRTY;
		if (dirty != !(i % 2)) {
			if (!wrong++)
				ksft_print_msg("%s: page %d soft-dirty %d, written %d\n",
					       when, i, dirty, !(i % 2));
		}
	}
	if (wrong)
		ksft_print_msg("%s: %d of %d pages with the wrong bit\n",
			       when, wrong, N);
	return !wrong;
}

/*
 * The same with use_zero_pages 1 and pages of zeroes: the zero page that
 * ksmd maps in their place is marked dirty (that is what tells it from a
 * zero page a read fault mapped), and its soft-dirty bit must still be
 * the one of the page it replaced.
 */
static void test_zero_pages(void)
{
	long long deadline;
	char *area, *p;
	bool ok;
	int i;

	ksm_set("use_zero_pages", 1);
	area = ksm_mmap(N);
	memset(area, 0, N * ksm_page_size);
	ksm_madvise(area, N, MADV_MERGEABLE);
	ok = clear_soft_dirty();
	for (i = 0; i < N; i += 2) {
		p = ksm_page_addr(area, i);
		__atomic_store_n(p, *p, __ATOMIC_RELAXED);
	}
	ok = ok && bits_as_written(area, "zeroes written");
	ksm_set("run", 1);
	deadline = ksm_now_ms() + 60000;
	while (ok && ksm_read("ksm_zero_pages") != N) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("ksm_zero_pages %ld, not %d\n",
				       ksm_read("ksm_zero_pages"), N);
			ok = false;
		}
		usleep(KSM_POLL_US);
	}
	ksm_set("run", 0);
	/* Each still mapped, and of zeroes. */
	for (i = 0; ok && i < N; i++) {
		p = ksm_page_addr(area, i);
		ok = (ksm_pagemap(p) & KSM_PM_PRESENT) && !p[0] &&
		     !memcmp(p, p + 1, ksm_page_size - 1);
	}
	ksft_test_result(ok && bits_as_written(area, "zero page"),
			 "use_zero_pages: %d pages of zeroes mapped to the zero page, soft-dirty exactly on the pages written\n",
			 N);
	/* MADV_UNMERGEABLE gives each a page of its own: the same bits. */
	ok = ok && !madvise(area, N * ksm_page_size, MADV_UNMERGEABLE) &&
	     ksm_read("ksm_zero_pages") == 0;
	for (i = 0; ok && i < N; i++) {
		p = ksm_page_addr(area, i);
		ok = (ksm_pagemap(p) & KSM_PM_PRESENT) && !p[0] &&
		     !memcmp(p, p + 1, ksm_page_size - 1);
	}
	ksft_test_result(ok && bits_as_written(area, "unmerged zeroes"),
			 "use_zero_pages: MADV_UNMERGEABLE: no zero page mapped by KSM, soft-dirty exactly on the pages written\n");
	munmap(area, N * ksm_page_size);
	ksm_set("use_zero_pages", 0);
}

int main(void)
{
	static unsigned long long keys[N];
	struct ksm_counters want = { .shared = 1, .sharing = N - 1,
				     .unshared = 0, .vol = 0,
				     .chains = 0, .dups = 0 };
	struct ksm_counters none = { 0 };
	char *area, *p;
	bool ok;
	int i;

	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(N, 20, 0);
	ksm_set("use_zero_pages", 0);
	ksm_set("max_page_sharing", 2 * N);

	for (i = 0; i < N; i++)
		keys[i] = KEY;
	area = ksm_mmap_mergeable(keys, N);
	if (!clear_soft_dirty())
		ksft_exit_skip("cannot write /proc/self/clear_refs: %s\n",
			       strerror(errno));
	if (ksm_pagemap(area) & PM_SOFT_DIRTY)
		ksft_exit_skip("soft-dirty bits not tracked (CONFIG_MEM_SOFT_DIRTY)\n");
	for (i = 0; i < N; i += 2) {
		p = ksm_page_addr(area, i);
		__atomic_store_n(p, *p, __ATOMIC_RELAXED);
	}
	if (!bits_as_written(area, "written"))
		ksft_exit_skip("soft-dirty bits not tracked as written\n");

	ksm_set("run", 1);
	ok = ksm_wait_counters(&want);
	ksm_set("run", 0);
	ksm_print_counters("merged");
	ok = ok && ksm_count_ksm_pages(area, N) == N &&
	     !ksm_check_pages(area, keys, N, "merged");
	ksft_test_result(ok, "%d pages merged into 1 KSM page, intact\n", N);
	ksft_test_result(ok && bits_as_written(area, "merged"),
			 "merged: soft-dirty exactly on the pages written\n");

	ok = ok && !madvise(area, N * ksm_page_size, MADV_UNMERGEABLE) &&
	     ksm_count_ksm_pages(area, N) == 0 && ksm_counters_now(&none) &&
	     !ksm_check_pages(area, keys, N, "unmerged");
	ksft_test_result(ok && bits_as_written(area, "unmerged"),
			 "MADV_UNMERGEABLE: no KSM page, intact, soft-dirty exactly on the pages written\n");

	munmap(area, N * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
	test_zero_pages();
	ksft_finished();
}
