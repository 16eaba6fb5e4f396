// SPDX-License-Identifier: GPL-2.0
/*
 * A write of a setting that needs no KSM pages never makes others wait
 * for its sweep.
 *
 * merge_across_nodes, max_page_sharing and merge_domain only change while
 * there is no KSM page; before it answers, such a write sweeps every KSM
 * page (letting go of those nothing maps), a time that grows with the KSM
 * pages.  It must let go of ksm_mutex when another task waits for it, as
 * ksmd does: a process unmerging its pages, or exiting, must not wait for
 * the whole sweep.
 *
 * N pages of N / 2 contents, two of each, merged: N / 2 KSM pages; ksmd
 * then stopped.  A child (forked before, so it maps none of them) writes
 * max_page_sharing (another value than the one in force) again and again:
 * each write must fail with EBUSY, and the time each takes is the
 * sweep's.  Meanwhile this process unmerges SAMPLES of its pages, one at a
 * time, each of another KSM page (MADV_UNMERGEABLE, which waits for
 * ksm_mutex, as its mm has merged pages).
 *  - every write answers EBUSY and max_page_sharing keeps its value; the
 *    counters afterwards are exactly pages_shared N / 2 (each KSM page
 *    unmerged from still has its other page), pages_sharing
 *    N / 2 - SAMPLES, nothing unshared or volatile; every page holds its
 *    content;
 *  - the median MADV_UNMERGEABLE takes less than a quarter of the median
 *    write.  On the lab's test flavour, with ksm_mutex held over the
 *    whole sweep, it took 0.7 of one (9.0 ms against 13.0 ms); letting
 *    go between two KSM pages, 0.03 (0.36 ms against 12.2 ms: the
 *    madvise's own cost, the fault that copies the page and the split of
 *    the area), a share that falls as the KSM pages grow.
 *  SKIP when a write takes under MIN_SWEEP_MS: too few KSM pages to tell
 *  a wait from the rest (a fast machine).
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include "ksm_util.h"

#define N		32768
#define SAMPLES		64
#define MIN_SWEEP_MS	2.0

static unsigned long long keys[N];

/* Shared with the writer (MAP_SHARED); its figures read once it exited. */
struct shared {
	int go, stop;
	long writes, not_ebusy;
	double write_ms[4096];
};

/* The writer: max_page_sharing, which must stay EBUSY. */
static void writer(struct shared *sh, unsigned long value)
{
	char buf[32];
	double t;
	long r;
	int len = snprintf(buf, sizeof(buf), "%lu", value);

	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		usleep(1000);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		t = ksm_clock_ms();
		r = ksm_write_raw("max_page_sharing", buf, len);
		if (sh->writes < 4096)
			sh->write_ms[sh->writes] = ksm_clock_ms() - t;
		__atomic_store_n(&sh->writes, sh->writes + 1, __ATOMIC_RELEASE);
		if (r != -EBUSY)
			sh->not_ebusy++;
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	double unmerge_ms[SAMPLES], writes[4096], t, w50, u50;
	struct ksm_counters want;
	unsigned long mps;
	struct shared *sh;
	long n, i;
	char *area;
	pid_t pid;
	bool ok;

	ksft_print_header();
	ksft_set_plan(2);
	ksm_selftest_init(N, 0, 0);
	ksm_set("use_zero_pages", 0);
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);
	mps = ksm_read("max_page_sharing");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		writer(sh, mps + 1);

	for (i = 0; i < N; i++)
		keys[i] = 0x5e7000ULL + i / 2;
	area = ksm_mmap_mergeable(keys, N);
	ksm_set("run", 1);
	ok = ksm_wait_merged(N / 2, N / 2);
	ksm_set("run", 0);
	ksm_print_counters("merged, ksmd stopped");
	if (!ok) {
		kill(pid, SIGKILL);
		ksft_exit_fail_msg("%d pages did not merge into %d KSM pages\n", N, N / 2);
	}
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&sh->writes, __ATOMIC_ACQUIRE) < 2)
		usleep(1000);

	/*
	 * One page of each of the first SAMPLES contents: the madvise frees
	 * the item of the page, found from the first of the mm's items.
	 */
	for (i = 0; i < SAMPLES; i++) {
		char *page = ksm_page_addr(area, 2 * i);

		t = ksm_clock_ms();
		if (madvise(page, ksm_page_size, MADV_UNMERGEABLE))
			ksft_exit_fail_msg("MADV_UNMERGEABLE: %s\n", strerror(errno));
		unmerge_ms[i] = ksm_clock_ms() - t;
		usleep(2000);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	waitpid(pid, NULL, 0);

	n = sh->writes < 4096 ? sh->writes : 4096;
	for (i = 0; i < n; i++)
		writes[i] = sh->write_ms[i];
	ksm_sort_doubles(writes, n);
	ksm_sort_doubles(unmerge_ms, SAMPLES);
	w50 = writes[n / 2];
	u50 = unmerge_ms[SAMPLES / 2];
	ksft_print_msg("%ld writes of max_page_sharing: median %.2f ms, max %.2f ms; %d MADV_UNMERGEABLE: median %.3f ms, max %.3f ms\n",
		       sh->writes, w50, writes[n - 1], SAMPLES, u50,
		       unmerge_ms[SAMPLES - 1]);

	ksm_print_counters("after");
	want = (struct ksm_counters){ .shared = N / 2, .sharing = N / 2 - SAMPLES,
				      .unshared = 0, .vol = 0, .chains = 0, .dups = 0 };
	ok = !sh->not_ebusy && ksm_read("max_page_sharing") == mps &&
	     ksm_counters_now(&want) && !ksm_check_pages(area, keys, N, "area");
	ksft_test_result(ok, "every write EBUSY (%ld not), max_page_sharing still %lu; pages_shared %d, pages_sharing %d, nothing unshared or volatile; contents intact\n",
			 sh->not_ebusy, mps, N / 2, N / 2 - SAMPLES);

	if (w50 < MIN_SWEEP_MS)
		ksft_test_result_skip("a write takes %.2f ms: too short to tell a wait\n",
				      w50);
	else
		ksft_test_result(u50 < w50 / 4,
				 "MADV_UNMERGEABLE takes %.3f ms (median), under a quarter of a write's %.2f ms\n",
				 u50, w50);

	munmap(area, N * ksm_page_size);
	munmap(sh, sizeof(*sh));
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
	ksft_finished();
}
