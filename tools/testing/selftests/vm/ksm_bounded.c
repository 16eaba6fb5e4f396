// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd's work follows the pages it scans: not how few pages there are,
 * and not how many areas a process has that KSM cannot use.
 *
 * 1. One pass per wake-up.  With one registered page, pages_to_scan 100
 *    and sleep_millisecs SLEEP_MS, full_scans grows by one a wake-up at
 *    most: over WINDOW_MS, no more than WINDOW_MS / SLEEP_MS + 2, and at
 *    least 1.  A pass ends with a drain of every CPU's LRU batches and a
 *    sweep of the stable nodes; a ksmd that went on to the next pass
 *    until pages_to_scan was spent ran some 50 of them a wake-up (so
 *    does Linux 6.1 not: one pass a wake-up at most).
 *
 * 2. Areas that are not mergeable are passed over a few at a time.  A
 *    process registers a page at the bottom of a reservation, and NVMAS
 *    one-page areas that are not mergeable (alternately read-only and
 *    inaccessible) above it; ksmd runs flat out (sleep_millisecs 0), so
 *    that each of its passes walks all of those areas, holding the
 *    process's mmap_lock.  Meanwhile a thread of the process times mmap +
 *    munmap of a page, which needs that lock for writing: over WINDOW_MS,
 *    the median must be at most a tenth of ksmd's CPU per full scan.  A
 *    ksmd that walked the areas in one go, under the lock, made the thread
 *    wait for most of a walk each time (median 27 ms for a walk of 29 ms
 *    on the lab's test flavour).
 *
 * 3. Nothing to scan, no sleep.  Two pages of one content registered,
 *    pages_to_scan 0 and sleep_millisecs 0: over WINDOW_MS ksmd runs for
 *    at most IDLE_MS of CPU and ends no pass; pages_to_scan 100 then wakes
 *    it, and the pages merge.  A ksmd that woke for nothing, with nothing
 *    to sleep for, spun on its CPU without ever rescheduling (a soft
 *    lockup on a kernel without preemption; so does Linux 6.1).
 *
 * The lab's time limit for this program - limit: 600s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "ksm_util.h"

#define SLEEP_MS	20
#define WINDOW_MS	2000
#define NVMAS		60000
#define MAX_SAMPLES	100000
#define TIMEOUT_MS	120000
#define IDLE_MS		20

/* ksmd's CPU time so far, in milliseconds (CONFIG_SCHED_DEBUG). */
static double ksmd_cpu_ms(void)
{
	char path[64], line[256];
	double ms = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/sched", ksm_ksmd_pid());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "se.sum_exec_runtime : %lf", &ms) == 1)
			break;
	fclose(f);
	return ms;
}

static void test_one_pass_per_wakeup(void)
{
	unsigned long before, after, most = WINDOW_MS / SLEEP_MS + 2;
	char *page = ksm_mmap(1);

	ksm_fill_page(page, 0xb0dedULL);
	ksm_madvise(page, 1, MADV_MERGEABLE);
	ksm_set("pages_to_scan", 100);
	ksm_set("sleep_millisecs", SLEEP_MS);
	ksm_set("run", 1);
	if (!ksm_wait_full_scans(2, 30000))
		ksft_exit_fail_msg("no full scan of one page in 30 s\n");
	before = ksm_full_scans();
	usleep(WINDOW_MS * 1000);
	after = ksm_full_scans();
	ksm_set("run", 0);
	ksft_print_msg("%lu full scans of one page in %d ms at sleep_millisecs %d\n",
		       after - before, WINDOW_MS, SLEEP_MS);
	ksft_test_result(after > before && after - before <= most,
			 "one pass per wake-up: %lu full scans in %d ms (1 to %lu)\n",
			 after - before, WINDOW_MS, most);
	munmap(page, ksm_page_size);
	ksm_must_unmerge_all();
}

/*
 * The registered page at the bottom of a reservation of 1 + NVMAS pages,
 * then NVMAS areas of one page that are not mergeable.  Returns the
 * reservation.
 */
static char *layout(void)
{
	size_t total = 1 + NVMAS, i;
	char *base;

	base = mmap(NULL, total * ksm_page_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		ksft_exit_fail_msg("mmap of %zu pages: %s\n", total, strerror(errno));
	if (mprotect(base, ksm_page_size, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	ksm_fill_page(base, 0x10e5ULL);
	ksm_madvise(base, 1, MADV_MERGEABLE);
	/* Every other page read-only: NVMAS areas that stay apart. */
	for (i = 1; i <= NVMAS; i += 2)
		if (mprotect(base + i * ksm_page_size, ksm_page_size, PROT_READ))
			ksft_exit_fail_msg("mprotect of area %zu: %s\n", i,
					   strerror(errno));
	return base;
}

static volatile bool stop;
static double waits[MAX_SAMPLES];
static size_t nwaits;

/* Time mmap + munmap of a page until told to stop. */
static void *sampler(void *arg)
{
	double t;
	void *p;

	while (!stop && nwaits < MAX_SAMPLES) {
		t = ksm_clock_ms();
		p = mmap(NULL, ksm_page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || munmap(p, ksm_page_size))
			ksft_exit_fail_msg("mmap or munmap: %s\n", strerror(errno));
		waits[nwaits++] = ksm_clock_ms() - t;
		usleep(200);
	}
	return NULL;
}

static void test_areas_in_steps(void)
{
	char *base = layout();
	double c0, c1, pass_ms, median;
	unsigned long s0, passes;
	pthread_t thread;

	if (ksmd_cpu_ms() < 0) {
		ksft_test_result_skip("no se.sum_exec_runtime for ksmd (CONFIG_SCHED_DEBUG)\n");
		return;
	}
	ksm_set("pages_to_scan", 100);
	ksm_set("sleep_millisecs", 0);
	ksm_set("run", 1);
	if (!ksm_wait_full_scans(2, TIMEOUT_MS))
		ksft_exit_fail_msg("no two full scans in %d ms\n", TIMEOUT_MS);
	s0 = ksm_full_scans();
	c0 = ksmd_cpu_ms();
	if (pthread_create(&thread, NULL, sampler, NULL))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	usleep(WINDOW_MS * 1000);
	stop = true;
	pthread_join(thread, NULL);
	c1 = ksmd_cpu_ms();
	passes = ksm_full_scans() - s0;
	ksm_set("run", 0);
	munmap(base, (1 + NVMAS) * ksm_page_size);
	ksm_must_unmerge_all();

	if (!passes || !nwaits)
		ksft_exit_fail_msg("%lu full scans and %zu samples in %d ms\n",
				   passes, nwaits, WINDOW_MS);
	pass_ms = (c1 - c0) / passes;
	ksm_sort_doubles(waits, nwaits);
	median = waits[nwaits / 2];
	ksft_print_msg("ksmd: %.1f ms of CPU a full scan of %d areas; mmap + munmap: %zu samples, median %.3f ms, max %.3f ms\n",
		       pass_ms, NVMAS, nwaits, median, waits[nwaits - 1]);
	ksft_test_result(median <= pass_ms / 10,
			 "areas that are not mergeable are passed over in steps: median mmap + munmap %.3f ms, at most %.3f\n",
			 median, pass_ms / 10);
}

static void test_nothing_to_scan(void)
{
	unsigned long long keys[2] = { 0x5ca7ULL, 0x5ca7ULL };
	unsigned long s0, s1;
	double c0, c1;
	char *area;
	bool merged;

	if (ksmd_cpu_ms() < 0) {
		ksft_test_result_skip("no se.sum_exec_runtime for ksmd (CONFIG_SCHED_DEBUG)\n");
		return;
	}
	area = ksm_mmap_mergeable(keys, 2);
	ksm_set("pages_to_scan", 0);
	ksm_set("sleep_millisecs", 0);
	ksm_set("run", 1);
	usleep(100000);
	s0 = ksm_full_scans();
	c0 = ksmd_cpu_ms();
	usleep(WINDOW_MS * 1000);
	c1 = ksmd_cpu_ms();
	s1 = ksm_full_scans();
	ksm_set("pages_to_scan", 100);
	merged = ksm_wait_merged(1, 1);
	ksm_set("run", 0);
	ksft_print_msg("pages_to_scan 0, sleep_millisecs 0: ksmd ran %.1f ms in %d ms, %lu full scans; then merged: %s\n",
		       c1 - c0, WINDOW_MS, s1 - s0, merged ? "yes" : "no");
	ksft_test_result(c1 - c0 <= IDLE_MS && s1 == s0 && merged,
			 "nothing to scan: ksmd sleeps (at most %d ms of CPU in %d ms), and wakes when there is\n",
			 IDLE_MS, WINDOW_MS);
	munmap(area, 2 * ksm_page_size);
	ksm_must_unmerge_all();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(3);
	ksm_selftest_init(100, SLEEP_MS, 0);
	test_one_pass_per_wakeup();
	test_areas_in_steps();
	test_nothing_to_scan();
	ksft_finished();
}
