// SPDX-License-Identifier: GPL-2.0
/*
 * ksmd gets on with its scan while a process keeps wanting the lock it holds.
 *
 * ksmd lets go of an mm's mmap_lock and of ksm_mutex when another task
 * waits for them (ksm_stall.c), and a process can make that happen all the
 * time, without privilege: HAMMERS of its threads mmap and munmap a page in
 * a loop, so that a writer always waits for its mmap_lock.  Letting go must
 * not turn into a scan of a page or two per hand-over of the lock, for that
 * process's NPAGES registered pages and for everyone behind them.
 *
 * Process A registers NPAGES unique pages and starts its threads; once they
 * run, this process registers two pages of one content.  They join the scan
 * behind A, and must be merged within DEADLINE_MS.  With nothing in the way
 * that takes well under a second on the lab's test flavour.  A ksmd that let
 * go of the lock after every page while a writer waited (each time waiting
 * for it again, tens of milliseconds in the queue of the rwsem) scanned
 * 2,436 pages in 30 s; Linux 6.1, which takes the lock for each page,
 * merged nothing in 30 s.
 *
 * The lab's time limit for this program - limit: 300s
 */
#define _GNU_SOURCE
#include <pthread.h>
#include "ksm_util.h"

#define NPAGES		8192
#define HAMMERS		2
#define DEADLINE_MS	30000
#define READY_MS	60000

/* Loop mmap + munmap of a page: a writer of the mmap_lock, always. */
static void *hammer(void *arg)
{
	void *p;

	for (;;) {
		p = mmap(NULL, ksm_page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || munmap(p, ksm_page_size))
			_exit(3);
	}
	return NULL;
}

/* A: NPAGES unique pages, and HAMMERS threads at its mmap_lock. */
static pid_t start_unique(unsigned long long key)
{
	unsigned long long *keys = calloc(NPAGES, sizeof(*keys));
	int fds[2], i;
	pthread_t t;
	pid_t pid;

	if (!keys || pipe(fds))
		ksft_exit_fail_msg("calloc or pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		for (i = 0; i < NPAGES; i++)
			keys[i] = key + i;
		ksm_mmap_mergeable(keys, NPAGES);
		for (i = 0; i < HAMMERS; i++)
			if (pthread_create(&t, NULL, hammer, NULL))
				_exit(2);
		ksm_pipe_send(fds[1], 'r');
		for (;;)
			pause();
	}
	free(keys);
	close(fds[1]);
	if (ksm_pipe_recv(fds[0], READY_MS) != 'r')
		ksft_exit_fail_msg("the unique pages' process did not start\n");
	close(fds[0]);
	return pid;
}

/*
 * With A's threads running: register two pages of one content here, and
 * time their merge.
 */
static void expect_merge(const char *what)
{
	unsigned long long keys[2] = { 0xc0de, 0xc0de };
	unsigned long scans0 = ksm_full_scans(), scanned0 = 0, scanned1 = 0;
	bool have_scanned = !ksm_try_read("pages_scanned", &scanned0);
	long long t0, now;
	bool merged;
	char *area;

	t0 = ksm_now_ms();
	area = ksm_mmap_mergeable(keys, 2);
	do {
		usleep(20000);
		now = ksm_now_ms() - t0;
		merged = ksm_proc_merging_pages(0) == 2;
	} while (!merged && now < DEADLINE_MS);
	if (have_scanned)
		ksm_try_read("pages_scanned", &scanned1);
	ksft_print_msg("%s: %s after %lld ms, %lu full scans, %lu pages scanned\n",
		       what, merged ? "merged" : "not merged", now,
		       ksm_full_scans() - scans0, scanned1 - scanned0);
	if (ksm_check_pages(area, keys, 2, what))
		ksft_exit_fail_msg("%s: a page lost its content\n", what);
	munmap(area, 2 * ksm_page_size);
	ksft_test_result(merged, "%s: two pages merged within %d ms\n", what,
			 DEADLINE_MS);
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_mmap_lock(void)
{
	pid_t a = start_unique(1000000);

	ksm_set("run", 1);
	/* Let the cursor get into A, and the writers at its lock. */
	usleep(500000);
	expect_merge("a process's mmap_lock always wanted");
	stop(a);
	ksm_must_unmerge_all();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(1);
	ksm_selftest_init(2000, 10, 0);
	test_mmap_lock();
	ksft_finished();
}
