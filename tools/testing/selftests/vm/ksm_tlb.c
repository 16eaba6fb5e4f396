// SPDX-License-Identifier: GPL-2.0
/*
 * What a merge costs the other threads of the process: TLB shootdowns.
 *
 * Every change of a pte that may be cached in another CPU's TLB is
 * followed by a flush, and each flush interrupts every other CPU running
 * the process (an IPI, counted on the "TLB" line of /proc/interrupts).  A
 * merge into a KSM page needs one change of the page's pte: cleared (so
 * that neither the process nor a GUP-fast pin can write it), compared, and
 * pointed at the KSM page.  Write-protecting it first and replacing it
 * afterwards, as Linux 6.1 does, flushes twice.  A KVM guest's vCPUs are
 * such threads: each shootdown stops all of them.
 *
 * One thread of this program spins on CPU 1 in user space, so that every
 * flush of its mm interrupts that CPU; ksmd and the main thread are bound
 * to CPU 0.  N pages of one content merge into one KSM page (one pair,
 * then N - 2 merges into it; max_page_sharing above N, so no chain).
 *  - pages_shared 1, pages_sharing N - 1, every page intact;
 *  - the TLB shootdowns CPU 1 received while they merged, per page merged,
 *    are at least MIN_PER_MERGE (the spinner made every flush count: else
 *    the figure says nothing) and at most MAX_PER_MERGE.
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
#define MIN_PER_MERGE	0.5
#define MAX_PER_MERGE	1.25

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
	double per_merge;
	pid_t ksmd;
	char *area;
	bool ok;
	int i;

	ksft_print_header();
	ksft_set_plan(2);
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

	before = tlb_shootdowns();
	ksm_set("run", 1);
	ok = ksm_wait_counters(&want);
	after = tlb_shootdowns();
	ksm_set("run", 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	CPU_ZERO(&all);
	for (i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_CONF); i++)
		CPU_SET(i, &all);
	sched_setaffinity(ksmd, sizeof(all), &all);

	ksm_print_counters("merged");
	ok = ok && !ksm_check_pages(area, keys, N, "area");
	ksft_test_result(ok, "%d pages of one content: 1 KSM page, %d sharing, intact\n",
			 N, N - 1);

	per_merge = (double)(after - before) / (N - 1);
	ksft_print_msg("TLB shootdowns while %d pages merged: %lld, %.2f per page merged\n",
		       N - 1, after - before, per_merge);
	ksft_test_result(ok && per_merge >= MIN_PER_MERGE &&
			 per_merge <= MAX_PER_MERGE,
			 "TLB shootdowns per page merged between %.2f and %.2f\n",
			 MIN_PER_MERGE, MAX_PER_MERGE);

	munmap(area, N * ksm_page_size);
	if (!ksm_unmerge_all())
		ksft_exit_fail_msg("counters not 0 after run=2\n");
	ksft_finished();
}
