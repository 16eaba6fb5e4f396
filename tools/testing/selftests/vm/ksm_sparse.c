// SPDX-License-Identifier: GPL-2.0
/*
 * A full scan costs what the present pages cost, not what the areas span.
 *
 * Two registrations of the same 64 MiB of unique data, one after the
 * other: dense, one 64 MiB area; sparse, 32 pieces of 2 MiB spread over a
 * 64 GiB mergeable reservation (MAP_NORESERVE).  With ksmd at full speed
 * (sleep_millisecs 0), the median time of a full scan of the sparse one is
 * within 1.5 times that of the dense one, plus 50 ms; ksmd visits the same
 * 16384 pages a pass in both (within 5 %: the counters are read while it
 * goes on).
 *
 * The lab's time limit for this program - limit: 300s
 */
#include "ksm_util.h"

#define PIECES		32
#define PIECE_PAGES	512			/* 2 MiB */
#define PAGES		(PIECES * PIECE_PAGES)	/* 64 MiB */
#define SPAN		(64ULL << 30)		/* 64 GiB */
#define PASSES		5

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Median ms of PASSES full scans; *@per_pass: pages_scanned + skipped. */
static long long median_pass_ms(long long *per_pass)
{
	long long ms[PASSES], t, seen0;
	unsigned int i;

	ksm_wait_full_scans(2, 120000);
	seen0 = ksm_read("pages_scanned") + ksm_read("pages_skipped");
	for (i = 0; i < PASSES; i++) {
		t = ksm_now_ms();
		if (!ksm_wait_full_scans(1, 120000))
			return -1;
		ms[i] = ksm_now_ms() - t;
	}
	*per_pass = (ksm_read("pages_scanned") + ksm_read("pages_skipped") -
		     seen0) / PASSES;
	qsort(ms, PASSES, sizeof(ms[0]), cmp_ll);
	return ms[PASSES / 2];
}

/* Fill @npages pages at @p with unique keys from @key on. */
static void fill(char *p, size_t npages, unsigned long long key)
{
	size_t i;

	for (i = 0; i < npages; i++)
		ksm_fill_page(ksm_page_addr(p, i), key + i);
}

int main(void)
{
	long long dense_ms, sparse_ms, dense_pages, sparse_pages;
	size_t stride;
	char *area;
	bool ok;
	int i;

	ksft_print_header();
	ksft_set_plan(2);
	ksm_selftest_init(PAGES, 0, 0);
	/* Every page looked at every pass: the same work in both. */
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);

	area = ksm_mmap(PAGES);
	fill(area, PAGES, 0x5a0000);
	ksm_madvise(area, PAGES, MADV_MERGEABLE);
	ksm_set("run", 1);
	dense_ms = median_pass_ms(&dense_pages);
	ksm_set("run", 2);
	munmap(area, PAGES * ksm_page_size);

	area = mmap(NULL, SPAN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		ksft_exit_fail_msg("mmap of 64 GiB: %s\n", strerror(errno));
	stride = SPAN / PIECES;
	for (i = 0; i < PIECES; i++)
		fill(area + i * stride, PIECE_PAGES, 0x5a0000 + i * PIECE_PAGES);
	if (madvise(area, SPAN, MADV_MERGEABLE))
		ksft_exit_fail_msg("MADV_MERGEABLE of 64 GiB: %s\n", strerror(errno));
	ksm_set("run", 1);
	sparse_ms = median_pass_ms(&sparse_pages);
	ksm_set("run", 2);

	ksft_print_msg("full scan: dense 64 MiB %lld ms (%lld pages), 64 MiB in 64 GiB %lld ms (%lld pages)\n",
		       dense_ms, dense_pages, sparse_ms, sparse_pages);
	ksft_test_result(llabs(dense_pages - PAGES) <= PAGES / 20 &&
			 llabs(sparse_pages - PAGES) <= PAGES / 20,
			 "both visit the %d present pages a pass, no more\n", PAGES);
	ok = dense_ms > 0 && sparse_ms > 0 &&
	     sparse_ms * 2 <= dense_ms * 3 + 100;
	ksft_test_result(ok, "a 64 GiB area with 64 MiB present scans within 1.5 times the dense 64 MiB\n");
	ksft_finished();
}
