// SPDX-License-Identifier: GPL-2.0
/*
 * What a merge and an unmerge cost the other threads of the process: TLB
 * shootdowns.
 *
 * Every change of a pte that may be cached in another CPU's TLB is
 * followed by a flush, and each flush interrupts every other CPU running
 * the process (an IPI, counted on the "TLB" line of /proc/interrupts).  A
 * merge into a KSM page needs one change of the page's pte: cleared (so
 * that neither the process nor a GUP-fast pin can write it), compared, and
 * pointed at the KSM page; and the merges ksmd finds in one batch of pages
 * clear their ptes together, with one flush.  Write-protecting first and
 * replacing afterwards, as Linux 6.1 does, flushes twice for every page.
 * MADV_UNMERGEABLE likewise gives the KSM ptes of one page table their
 * copies together: cleared, one flush, pointed at the copies (an unsharing
 * fault each, as 6.1 makes, flushes once for every page).
 * A KVM guest's vCPUs are such threads: each shootdown stops all of them.
 *
 * One thread of this program spins on CPU 1 in user space, so that every
 * flush of its mm interrupts that CPU; ksmd and the main thread are bound
 * to CPU 0.  N pages of one content merge into one KSM page (one pair,
 * then N - 2 merges into it; max_page_sharing above N, so no chain).
 *  - pages_shared 1, pages_sharing N - 1, every page intact;
 *  - the TLB shootdowns CPU 1 received while they merged are at most
 *    MAX_PER_MERGE per page merged;
 *  - and the spinner made every flush count (else that figure says
 *    nothing): with ksmd stopped, a write to each merged page (a
 *    copy-on-write fault, one flush each) costs at least MIN_PER_WRITE
 *    shootdowns per page; a merge whose writes fall short is measured
 *    again, ATTEMPTS times at most;
 *  - merged again, MADV_UNMERGEABLE of the area costs at most
 *    MAX_PER_UNMERGE shootdowns per page, leaves no KSM page and every
 *    page intact, and the counters at 0.
 *  SKIP with one CPU, or without a "TLB" line in /proc/interrupts.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include "ksm_util.h"

#define N		1024
#define KEY		0x71bULL
#define SCAN_MS		120000
#define MAX_PER_MERGE	0.25
#define MIN_PER_WRITE	0.5
#define MAX_PER_UNMERGE	0.25
#define ATTEMPTS	3

static int spinning;
static int stop;

/* Sum of the "TLB" line of /proc/interrupts, -1 if there is none. */
static long long tlb_shootdowns(void)
{
	char line[4096], *p, *end;
	long long sum = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "TLB:", 4))
			continue;
		sum = 0;
		for (p += 4;; p = end) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
		break;
	}
	fclose(f);
	return sum;
}

static bool bind_to(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !sched_setaffinity(pid, sizeof(set), &set);
}

static void *spin(void *arg)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(1, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		__atomic_store_n(&spinning, -1, __ATOMIC_RELAXED);
		return NULL;
	}
	__atomic_store_n(&spinning, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		;
	return NULL;
}

int main(void)
{
	static unsigned long long keys[N];
	struct ksm_counters want = { .shared = 1, .sharing = N - 1,
				     .unshared = 0, .vol = 0,
				     .chains = 0, .dups = 0 };
	long long before, after;
	cpu_set_t all;
	pthread_t thread;
	double per_merge, per_write, per_unmerge = -1;
	struct ksm_counters none = { 0 };
	pid_t ksmd;
	char *area;
	bool ok, ok2;
	int i, attempt;

	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(N, 20, 0);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		ksft_exit_skip("one CPU: no other CPU to interrupt\n");
	if (tlb_shootdowns() < 0)
		ksft_exit_skip("no TLB line in /proc/interrupts\n");
	ksmd = ksm_ksmd_pid();
	if (ksmd <= 0)
		ksft_exit_fail_msg("no ksmd\n");
	ksm_set("use_zero_pages", 0);
	ksm_set("max_page_sharing", 2 * N);
	if (ksm_file_exists("smart_scan"))
		ksm_set("smart_scan", 0);

	for (i = 0; i < N; i++)
		keys[i] = KEY;
	area = ksm_mmap_mergeable(keys, N);
	if (!bind_to(0, 0) || !bind_to(ksmd, 0))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	if (pthread_create(&thread, NULL, spin, NULL))
		ksft_exit_fail_msg("pthread_create failed\n");
	while (!__atomic_load_n(&spinning, __ATOMIC_RELAXED))
		usleep(1000);
	if (spinning < 0)
		ksft_exit_fail_msg("cannot bind a thread to CPU 1\n");

	/*
	 * A merge's figure stands only with its control, measured with it:
	 * under QEMU the spinner's CPU may be lent to another task for a
	 * while, and one run counted every other write (0.498 a page).  Up to
	 * ATTEMPTS tries, each merging the pages (copies again after the
	 * writes) and writing them.
	 */
	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		before = tlb_shootdowns();
		ksm_set("run", 1);
		ok = ksm_wait_counters(&want);
		after = tlb_shootdowns();
		ksm_set("run", 0);
		per_merge = (double)(after - before) / (N - 1);
		ksm_print_counters("merged");
		ok = ok && !ksm_check_pages(area, keys, N, "area");

		/* Copy-on-write: one flush for each page written. */
		before = tlb_shootdowns();
		for (i = 0; i < N; i++) {
			char *p = ksm_page_addr(area, i);

			__atomic_store_n(p, *p, __ATOMIC_RELAXED);
		}
		after = tlb_shootdowns();
		per_write = (double)(after - before) / N;
		if (!ok || per_write >= MIN_PER_WRITE)
			break;
		ksft_print_msg("try %d: %.3f shootdowns a page merged, but %.3f a page written: again\n",
			       attempt, per_merge, per_write);
	}

	/* Merged again (each page a copy now), then unmerged at once. */
	ksm_set("run", 1);
	ok2 = ksm_wait_counters(&want);
	ksm_set("run", 0);
	if (ok2) {
		before = tlb_shootdowns();
		ok2 = !madvise(area, N * ksm_page_size, MADV_UNMERGEABLE);
		after = tlb_shootdowns();
		per_unmerge = (double)(after - before) / N;
		ok2 = ok2 && ksm_count_ksm_pages(area, N) == 0 &&
		      ksm_counters_now(&none) &&
		      !ksm_check_pages(area, keys, N, "area after unmerging");
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	CPU_ZERO(&all);
	for (i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_CONF); i++)
		CPU_SET(i, &all);
	sched_setaffinity(ksmd, sizeof(all), &all);

	ksft_test_result(ok, "%d pages of one content: 1 KSM page, %d sharing, intact\n",
			 N, N - 1);
	ksft_print_msg("TLB shootdowns per page: %.3f merged, %.3f written after, %.3f unmerged\n",
		       per_merge, per_write, per_unmerge);
	ksft_test_result(ok && per_merge <= MAX_PER_MERGE,
			 "TLB shootdowns per page merged at most %.2f\n", MAX_PER_MERGE);
	ksft_test_result(ok && per_write >= MIN_PER_WRITE,
			 "the spinner counts: at least %.2f per page written\n",
			 MIN_PER_WRITE);
	ok = ok && !ksm_check_pages(area, keys, N, "area after the writes");
	ksft_test_result(ok, "every page intact after the writes\n");
	ksft_test_result(ok && ok2 && per_unmerge <= MAX_PER_UNMERGE,
			 "merged again, MADV_UNMERGEABLE: no KSM page left, intact, at most %.2f shootdowns per page\n",
			 MAX_PER_UNMERGE);

	munmap(area, N * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
	ksft_finished();
}
