// SPDX-License-Identifier: GPL-2.0
/*
 * run = 2 as a host needs it.
 *
 * 1. A process killed while run=2 unmerges another gets its memory back at
 *    once: run=2 holds no process's address space while it works on
 *    another (it would be torn down only when run=2 reached it, after its
 *    KSM pages had been copied for nothing).  A process of BIG_MIB of
 *    merged pages registers first, a second one with KILL_MIB of unique
 *    pages (and a few merged ones) after it; while run=2 unmerges the
 *    first, the second is killed, and its memory cgroup must come down to
 *    a quarter of what it held within FREE_MS, before run=2 is done.
 * 2. Children forked while run=2 runs are unmerged too: a process with
 *    FORK_MIB of merged pages, registered after one of BIG_MIB, forks a
 *    child every 25 ms (40 at most) while run=2 unmerges the first one,
 *    then it; after that no child maps a KSM page (/proc/kpageflags),
 *    pages_shared is 0 and merge_across_nodes and max_page_sharing can be
 *    changed at once.
 * 3. Merged mlocked memory (as a VM host locks guest RAM): after run=2,
 *    merge_across_nodes and max_page_sharing can be changed at once, as
 *    the admin guide tells root to do.  A KSM page that nothing maps any
 *    more but something still holds (an mlock or LRU batch, the swap
 *    cache) no longer counts as a KSM page.
 * 4. While run=2 unmerges KNOBS_MIB, the knobs that do not decide where
 *    KSM pages live are written at once: a write of sleep_millisecs (or of
 *    pages_to_scan, use_zero_pages, ...) does not wait for the unmerge, and
 *    neither does a write of the value max_page_sharing has.  After each
 *    write, the knob reads the value written; after the last, run=2 is
 *    still at work: its writer has not returned, and the merged pages of
 *    the one process it unmerges are still counted (they only leave the
 *    counters once all of them are copied).
 * 5. A process killed while run=2 unmerges it is not copied any further:
 *    a process of BIG_MIB of merged pages is the only one registered;
 *    once run=2 copies its pages, it is killed, and from then until run=2
 *    returns MemFree must not fall by more than STOP_MIB (run=2 copying
 *    the rest for nothing took the whole BIG_MIB).
 *
 * The lab's time limit for this program - limit: 600s
 */
#define _GNU_SOURCE
#include "ksm_util.h"

#define BIG_MIB		256
#define KILL_MIB	64
#define FORK_MIB	4
#define MLOCK_MIB	16
#define KNOBS_MIB	64	/* run=2 takes a second or more: enough */
#define FREE_MS		1500
#define STOP_MIB	32
#define MAX_CHILDREN	40

static size_t mib_pages(size_t mib)
{
	return mib * 1024 * 1024 / ksm_page_size;
}

/* A process that writes run=2; its exit status is 0 if the write worked. */
static pid_t start_run2(void)
{
	pid_t pid = ksm_fork();

	if (!pid)
		_exit(ksm_write_ulong("run", 2) ? 1 : 0);
	return pid;
}

/*
 * start_run2(), and wait until it copies pages (MemFree falls by 8 MiB):
 * -1 if it does not within 30 s.
 */
static pid_t start_run2_copying(void)
{
	long long free0 = ksm_read_keyed("/proc/meminfo", "MemFree:"), t0;
	pid_t w = start_run2();

	t0 = ksm_now_ms();
	while (ksm_read_keyed("/proc/meminfo", "MemFree:") > free0 - 8192) {
		if (ksm_now_ms() - t0 > 30000) {
			ksft_print_msg("run=2 did not start copying within 30 s\n");
			return -1;
		}
		usleep(1000);
	}
	return w;
}

/* Fill @npages with @dups copies of one content, then unique ones. */
static void *registered(size_t npages, size_t dups, unsigned long long seed)
{
	char *p = ksm_mmap(npages);
	size_t i;

	for (i = 0; i < npages; i++)
		ksm_fill_page(ksm_page_addr(p, i), i < dups ? 1 : seed + i);
	ksm_madvise(p, npages, MADV_MERGEABLE);
	return p;
}

/*
 * A process with @n merged pages, registered before any other: run=2 works
 * on it first.  It waits to be killed.
 */
static pid_t big_process(size_t n, int ready[2])
{
	pid_t pid = ksm_fork();

	if (!pid) {
		registered(n, n, 0);
		ksm_pipe_send(ready[1], 'b');
		pause();
		_exit(0);
	}
	if (ksm_pipe_recv(ready[0], 60000) != 'b')
		ksft_exit_fail_msg("first process not ready\n");
	return pid;
}

/* Wait for @pages pages merged (shared + sharing), KSM running. */
static bool wait_merged_pages(long pages)
{
	long long deadline = ksm_now_ms() + KSM_TIMEOUT_MS;

	while ((long)(ksm_read("pages_shared") + ksm_read("pages_sharing")) != pages) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("timeout: %ld pages merged\n", pages);
			ksm_print_counters("seen");
			return false;
		}
		usleep(KSM_POLL_US);
	}
	return true;
}

/*
 * big_process() of @n pages, the only one registered, merged; then
 * start_run2_copying() on it.  Returns the writer of run=2, or -1.
 */
static pid_t big_run2(size_t n, int ready[2], pid_t *pb)
{
	if (pipe(ready))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	*pb = big_process(n, ready);
	ksm_set("run", 1);
	if (!wait_merged_pages(n))
		return -1;
	return start_run2_copying();
}

/* Write each knob that needs no KSM pages, and put it back. */
static bool knobs_writable(void)
{
	int err = 0;

	if (ksm_file_exists("merge_across_nodes")) {
		err = ksm_write_ulong("merge_across_nodes", 0);
		ksft_print_msg("merge_across_nodes=0: %s\n", err ? strerror(-err) : "accepted");
		if (!err)
			err = ksm_write_ulong("merge_across_nodes", 1);
	}
	if (!err) {
		err = ksm_write_ulong("max_page_sharing", 512);
		ksft_print_msg("max_page_sharing=512: %s\n", err ? strerror(-err) : "accepted");
		if (!err)
			err = ksm_write_ulong("max_page_sharing", 256);
	}
	return !err;
}

static bool killed_freed_at_once(void)
{
	size_t big = mib_pages(BIG_MIB), kill_n = mib_pages(KILL_MIB);
	long long peak, now = -1, t0;
	char dir[512], why[256];
	int ready[2], status;
	bool ok = true, done;
	pid_t pb, pk, w;

	if (pipe(ready))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	if (!ksm_cg_create("ksm_run2", NULL, dir, sizeof(dir), why, sizeof(why)))
		ksft_exit_fail_msg("memory cgroup: %s\n", why);
	pb = big_process(big, ready);
	pk = ksm_fork();
	if (!pk) {
		if (!ksm_cg_attach(dir, 0))
			_exit(1);
		registered(kill_n, 64, 1000);
		ksm_pipe_send(ready[1], 'k');
		pause();
		_exit(0);
	}
	if (ksm_pipe_recv(ready[0], 60000) != 'k')
		ksft_exit_fail_msg("second process not ready\n");

	ksm_set("run", 1);
	if (!wait_merged_pages(big + 64))
		return false;

	/* Its memory, as its cgroup counts it, while run=2 unmerges the first. */
	peak = ksm_cg_read(dir, "memory.current");
	w = start_run2_copying();
	if (w < 0)
		return false;
	/* run=2 is copying the first process's pages: it has taken both. */
	kill(pk, SIGKILL);
	waitpid(pk, NULL, 0);
	t0 = ksm_now_ms();
	while (ksm_now_ms() - t0 < FREE_MS) {
		now = ksm_cg_read(dir, "memory.current");
		if (now >= 0 && now < peak / 4)
			break;
		usleep(5000);
	}
	done = waitpid(w, &status, WNOHANG) == w;
	ksft_print_msg("killed a process of %d MiB while run=2 unmerged %d MiB: its cgroup from %lld to %lld KiB in %lld ms%s\n",
		       KILL_MIB, BIG_MIB, peak / 1024, now / 1024, ksm_now_ms() - t0,
		       done ? ", but run=2 was over by then" : "");
	if (peak < (long long)(kill_n - 64) * ksm_page_size || now < 0 ||
	    now >= peak / 4) {
		ksft_print_msg("its memory was not freed within %d ms\n", FREE_MS);
		ok = false;
	}
	if (done)
		ok = false;		/* inconclusive: BIG_MIB too small */
	else if (waitpid(w, &status, 0) != w)
		ok = false;
	ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	kill(pb, SIGKILL);
	waitpid(pb, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	ksm_cg_remove(dir);
	ksm_cg_unmount();
	return ok && ksm_all_counters_zero();
}

static bool forks_unmerged(void)
{
	size_t n = mib_pages(FORK_MIB), big = mib_pages(BIG_MIB);
	volatile int *flag;
	int ready[2], status, bad = 0;
	pid_t pb, p, w;
	bool ok;

	flag = mmap(NULL, ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (flag == MAP_FAILED || pipe(ready))
		ksft_exit_fail_msg("mmap/pipe: %s\n", strerror(errno));
	*flag = 0;

	/* Registered first: run=2 works on it while the other one forks. */
	pb = big_process(big, ready);
	p = ksm_fork();
	if (!p) {
		pid_t kids[MAX_CHILDREN];
		int nkids = 0, k, fails = 0;
		char *area = registered(n, n, 0);

		ksm_pipe_send(ready[1], 'r');
		while (!flag[0])
			usleep(1000);
		/* run=2 has begun: fork until it is over. */
		while (!flag[1] && nkids < MAX_CHILDREN) {
			kids[nkids] = fork();
			if (kids[nkids] < 0)
				_exit(2);
			if (!kids[nkids]) {
				long ksm;

				while (!flag[2])
					usleep(1000);
				ksm = ksm_count_ksm_pages(area, n);
				_exit(ksm ? 1 : 0);
			}
			nkids++;
			usleep(25000);
		}
		flag[3] = nkids;
		while (!flag[2])
			usleep(1000);
		for (k = 0; k < nkids; k++) {
			waitpid(kids[k], &status, 0);
			fails += !WIFEXITED(status) || WEXITSTATUS(status);
		}
		flag[4] = fails;
		_exit(ksm_count_ksm_pages(area, n) ? 3 : 0);
	}
	if (ksm_pipe_recv(ready[0], 60000) != 'r')
		ksft_exit_fail_msg("forking process not ready\n");
	ksm_set("run", 1);
	ok = wait_merged_pages(big + n);

	w = start_run2();
	flag[0] = 1;
	ok = ksm_wait_child(w, "run=2") && ok;
	flag[1] = 1;
	usleep(50000);
	ksft_print_msg("%d children forked while run=2 ran\n", flag[3]);
	ok = ksm_all_counters_zero() && ok;
	ok = knobs_writable() && ok;
	flag[2] = 1;
	ok = ksm_wait_child(p, "forking process") && ok;
	bad = flag[4];
	if (bad)
		ksft_print_msg("%d of %d children still map KSM pages\n", bad, flag[3]);
	ok = ok && !bad && flag[3] > 0;
	kill(pb, SIGKILL);
	waitpid(pb, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	munmap((void *)flag, ksm_page_size);
	return ok;
}

/* The knobs written during run=2, a value each, and the value after. */
static const struct {
	const char *name;
	unsigned long val, after;
} scan_knobs[] = {
	{ "sleep_millisecs", 37, 0 },
	{ "pages_to_scan", 4321, UINT32_MAX },
	{ "use_zero_pages", 1, 0 },
	{ "stable_node_chains_prune_millisecs", 1234, 2000 },
	{ "smart_scan", 0, 1 },
	{ "advisor_max_cpu", 42, 70 },
	{ "max_page_sharing", 256, 256 },	/* the value it has */
};

static bool knobs_during_run2(void)
{
	size_t big = mib_pages(KNOBS_MIB);
	long long slowest = 0, t;
	unsigned long merged;
	int ready[2], status;
	bool ok = true, done;
	unsigned int i;
	pid_t pb, w;
	int err;

	w = big_run2(big, ready, &pb);
	if (w < 0)
		return false;
	for (i = 0; i < ARRAY_SIZE(scan_knobs); i++) {
		t = ksm_now_ms();
		err = ksm_write_ulong(scan_knobs[i].name, scan_knobs[i].val);
		t = ksm_now_ms() - t;
		if (t > slowest)
			slowest = t;
		if (err || ksm_read(scan_knobs[i].name) != scan_knobs[i].val) {
			ksft_print_msg("%s=%lu during run=2: %s, reads %lu\n",
				       scan_knobs[i].name, scan_knobs[i].val,
				       err ? strerror(-err) : "accepted",
				       ksm_read(scan_knobs[i].name));
			ok = false;
		}
	}
	merged = ksm_read("pages_shared") + ksm_read("pages_sharing");
	done = waitpid(w, &status, WNOHANG) == w;
	ksft_print_msg("%zu knobs written while run=2 unmerged %d MiB, the slowest in %lld ms%s\n",
		       ARRAY_SIZE(scan_knobs), KNOBS_MIB, slowest,
		       done || !merged ? ": run=2 was over by then" : "");
	/* Over already: the writes waited for it (or KNOBS_MIB is too small). */
	if (done || !merged)
		ok = false;
	else
		ok = ksm_wait_child(w, "run=2") && ok;
	for (i = 0; i < ARRAY_SIZE(scan_knobs); i++)
		ksm_set(scan_knobs[i].name, scan_knobs[i].after);
	kill(pb, SIGKILL);
	waitpid(pb, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	return ok && ksm_all_counters_zero();
}

static bool mlocked_released(void)
{
	size_t n = mib_pages(MLOCK_MIB);
	char *area = ksm_mmap(n);
	bool ok;
	size_t i;

	for (i = 0; i < n; i++)
		ksm_fill_page(ksm_page_addr(area, i), 1 + i % 4);
	if (mlock(area, n * ksm_page_size))
		ksft_exit_fail_msg("mlock: %s\n", strerror(errno));
	ksm_madvise(area, n, MADV_MERGEABLE);
	ksm_set("run", 1);
	ok = wait_merged_pages(n);
	ok = ksm_unmerge_all() && ok;
	ok = knobs_writable() && ok;
	ok = ksm_count_ksm_pages(area, n) == 0 && ok;
	munmap(area, n * ksm_page_size);
	return ok;
}

static bool killed_not_copied(void)
{
	size_t big = mib_pages(BIG_MIB);
	long long free_kill, low, f, t0;
	int ready[2], status = -1;
	bool ok = true;
	pid_t pb, w;

	w = big_run2(big, ready, &pb);
	if (w < 0)
		return false;
	kill(pb, SIGKILL);
	waitpid(pb, NULL, 0);
	free_kill = ksm_read_keyed("/proc/meminfo", "MemFree:");
	low = free_kill;
	t0 = ksm_now_ms();
	while (waitpid(w, &status, WNOHANG) != w) {
		if (ksm_now_ms() - t0 > 120000) {
			ksft_print_msg("run=2 still at work after 120 s\n");
			ok = false;
			waitpid(w, &status, 0);
			break;
		}
		f = ksm_read_keyed("/proc/meminfo", "MemFree:");
		if (f < low)
			low = f;
		usleep(1000);
	}
	ksft_print_msg("killed the process run=2 unmerged (%d MiB merged): MemFree fell %lld KiB more, run=2 returned after %lld ms\n",
		       BIG_MIB, free_kill - low, ksm_now_ms() - t0);
	if (free_kill - low > STOP_MIB * 1024) {
		ksft_print_msg("run=2 went on copying the pages of a dead process\n");
		ok = false;
	}
	ok = ok && WIFEXITED(status) && !WEXITSTATUS(status);
	close(ready[0]);
	close(ready[1]);
	return ok && ksm_all_counters_zero();
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(5);
	ksm_selftest_init(UINT32_MAX, 0, 540);

	ksft_test_result(killed_freed_at_once(),
			 "a process killed while run=2 unmerges another is freed at once\n");
	ksm_set("run", 2);
	ksft_test_result(forks_unmerged(),
			 "children forked while run=2 runs are unmerged; the knobs can change\n");
	ksm_set("run", 2);
	ksft_test_result(mlocked_released(),
			 "after run=2 of mlocked memory the knobs can change at once\n");
	ksm_set("run", 2);
	ksft_test_result(knobs_during_run2(),
			 "the scan's knobs do not wait for run=2\n");
	ksm_set("run", 2);
	ksft_test_result(killed_not_copied(),
			 "a process killed while run=2 unmerges it is not copied any further\n");
	ksft_finished();
}
