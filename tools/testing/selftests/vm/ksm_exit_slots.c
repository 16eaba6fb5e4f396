// SPDX-License-Identifier: GPL-2.0
/*
 * The mm slots of processes that exit before ksmd ever looks at them.
 *
 * A registered process forks children that exit at once, then, under
 * PR_SET_MEMORY_MERGE, children that execve this program, which exits at
 * once.  Each child's mm is registered (by the fork, or by the execve of
 * a process that merges all its memory) and has no rmap item when it goes.
 * As in Linux 6.1 (__ksm_exit()), its exit frees its mm slot at once,
 * while ksmd sleeps (sleep_millisecs 60000): the ksm_mm_slot objects in
 * /proc/slabinfo (SLUB's per-cpu slabs flushed) are at most SLACK more
 * after the children than before, for NFORK + NEXEC children.  A KSM that
 * left such slots to ksmd's scan would hold a slot, an mm_struct and its
 * page tables per child until the scan came to them, a whole pass later.
 * The parent's pages still merge (ksmd woken by run), and run = 2 brings
 * every counter to 0.
 *
 * A child whose unique pages ksmd has looked at (ORPHAN_PAGES of them, in
 * the unstable table) and which is killed while ksmd sleeps, its cursor
 * between two passes, leaves its slot and items to ksmd as an orphan
 * (pages_unshared unchanged).  run = 0 then frees them at once: a stopped
 * ksmd would never come to them, and pages_unshared would count the pages
 * of a process long gone.
 *
 * The lab's time limit for this program - limit: 180s
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include "ksm_util.h"
#include "ksm_stress.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

#define EXIT_ARG	"--exit-now"
#define NPAGES		16
#define KEY		0xe817ULL
#define NFORK		1000
#define NEXEC		200
#define SLACK		1	/* the slot ksmd's cursor may be on as its mm exits */
#define ORPHAN_PAGES	64

static long slot_objs(void)
{
	long objs[KSM_NR_SLABS];

	ksm_slab_shrink();
	if (!ksm_slab_objs(objs))
		ksft_exit_fail_msg("no KSM caches in /proc/slabinfo (boot with slab_nomerge)\n");
	return objs[2];
}

/* @n children, each exiting at once, or after an execve if @exec. */
static bool children(int n, bool exec)
{
	int i, status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid < 0) {
			ksft_print_msg("fork: %s\n", strerror(errno));
			return false;
		}
		if (!pid) {
			if (exec)
				execl("/proc/self/exe", "ksm_exit_slots", EXIT_ARG,
				      (char *)NULL);
			_exit(exec ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			ksft_print_msg("child %d: status %#x\n", pid, status);
			return false;
		}
	}
	return true;
}

/* Wait up to @ms for process @pid to have @n rmap items. */
static bool wait_items(pid_t pid, long n, long long ms)
{
	long long t0 = ksm_now_ms();

	while (ksm_proc_rmap_items(pid) != n) {
		if (ksm_now_ms() - t0 > ms)
			return false;
		usleep(10000);
	}
	return true;
}

/*
 * The orphan of a killed child, freed by run = 0.  The child leaves
 * PR_SET_MEMORY_MERGE and unmaps @area, the parent's merged pages: with a
 * mapping of a KSM page (its memory shared with the parent since the fork
 * merges), its exit would free its items itself.  Its only registered
 * pages are then its ORPHAN_PAGES.
 */
static bool orphan_at_stop(char *area)
{
	unsigned long long keys[ORPHAN_PAGES];
	long unshared, killed, stopped, slots, freed;
	unsigned long scans;
	int same;
	long long t0;
	int fds[2], i, status;
	bool ok;
	pid_t pid;
	char c;

	for (i = 0; i < ORPHAN_PAGES; i++)
		keys[i] = KEY + 1 + i;
	if (pipe(fds))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		if (prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0))
			_exit(1);
		munmap(area, NPAGES * ksm_page_size);
		ksm_mmap_mergeable(keys, ORPHAN_PAGES);
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	ok = read(fds[0], &c, 1) == 1;
	ksm_set("sleep_millisecs", 20);
	ok = ok && wait_items(pid, ORPHAN_PAGES, 60000);
	/*
	 * Each wake-up of ksmd is a whole pass here (pages_to_scan 1000): once
	 * full_scans stays put for a second, ksmd has begun a sleep of a
	 * minute, its cursor between two passes.  (Were ksmd still in a pass,
	 * its cursor on the child's slot, the exit would free the items
	 * itself: the counts below hold all the same, and the exit's own drop
	 * is printed.)
	 */
	ksm_set("sleep_millisecs", 60000);
	t0 = ksm_now_ms();
	for (same = 0; ok && same < 200; same++) {
		scans = ksm_read("full_scans");
		usleep(5000);
		if (ksm_read("full_scans") != scans)
			same = 0;
		ok = ksm_now_ms() - t0 < 60000;
	}
	unshared = ksm_read("pages_unshared");
	slots = slot_objs();
	kill(pid, SIGKILL);
	ok = waitpid(pid, &status, 0) == pid && ok;
	killed = ksm_read("pages_unshared");
	ksm_set("run", 0);
	stopped = ksm_read("pages_unshared");
	freed = slots - slot_objs();
	ksft_print_msg("pages_unshared %ld, after the kill %ld, after run 0 %ld\n",
		       unshared, killed, stopped);
	ksft_print_msg("ksm_mm_slot objects freed since the kill: %ld\n", freed);
	close(fds[0]);
	close(fds[1]);
	return ok && unshared - stopped == ORPHAN_PAGES && freed == 1;
}

int main(int argc, char **argv)
{
	long before, forked, execed;
	char *area;
	bool ok;
	int i;

	if (argc > 1 && !strcmp(argv[1], EXIT_ARG))
		_exit(0);
	ksft_print_header();
	ksft_set_plan(4);
	ksm_selftest_init(1000, 20, 0);

	area = ksm_mmap(NPAGES);
	for (i = 0; i < NPAGES; i++)
		ksm_fill_page(ksm_page_addr(area, i), KEY);
	if (madvise(area, NPAGES * ksm_page_size, MADV_MERGEABLE))
		ksft_exit_fail_msg("madvise: %s\n", strerror(errno));
	/* The parent's pages merge; then ksmd sleeps for a minute. */
	ksm_set("run", 1);
	ok = ksm_wait_merged(1, NPAGES - 1);
	ksm_set("sleep_millisecs", 60000);
	before = slot_objs();
	ok &= children(NFORK, false);
	forked = slot_objs();
	ksft_print_msg("ksm_mm_slot objects: %ld before, %ld after %d forks\n",
		       before, forked, NFORK);
	ksft_test_result(ok && forked - before <= SLACK,
			 "%d children that exit at once leave no mm slot (%ld more, at most %d)\n",
			 NFORK, forked - before, SLACK);

	ok = !prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
	if (!ok)
		ksft_print_msg("PR_SET_MEMORY_MERGE: %s\n", strerror(errno));
	ok = ok && children(NEXEC, true);
	execed = slot_objs();
	ksft_print_msg("ksm_mm_slot objects: %ld after %d execs\n", execed, NEXEC);
	ksft_test_result(ok && execed - before <= SLACK,
			 "%d children that execve under PR_SET_MEMORY_MERGE leave no mm slot (%ld more, at most %d)\n",
			 NEXEC, execed - before, SLACK);

	ok = orphan_at_stop(area);
	ksft_test_result(ok, "run 0 frees the orphan a killed child left, its %d unique pages\n",
			 ORPHAN_PAGES);

	ok = ksm_unmerge_all() && ksm_all_counters_zero();
	ksft_test_result(ok, "run 2: every counter 0\n");
	ksft_finished();
}
