// SPDX-License-Identifier: GPL-2.0
/*
 * Merged memory under memory pressure: swap, memory cgroup limits, OOM
 * kills, and unmerging when memory is short.  ksmd runs throughout.
 *
 * A. Swap.  Processes in a memory cgroup whose memory.max is far below
 *    their memory hold pages of a few common contents (merged into KSM
 *    pages, in chains: more mappings of one content than max_page_sharing)
 *    and unique pages.  In rounds: ksmd merges, each process notes which
 *    of its pages are KSM pages (pagemap, /proc/kpageflags), memory.reclaim
 *    pushes pages to swap (zram), each process counts its KSM pages now
 *    swapped out, reads every page back and checks it, and rewrites a few.
 *    KSM pages must have been swapped out and read back intact.
 * B. Unmerging when memory is short.  A process holding merged pages in a
 *    memory cgroup whose memory.max leaves no room for unmerged copies does
 *    MADV_UNMERGEABLE of them all: unkillable (oom_score_adj -1000) without
 *    swap, with swap, and killable without swap, in turn.  The result must
 *    be success (and then none of its pages is merged), ENOMEM or EAGAIN
 *    (what madvise makes of ENOMEM), or an OOM kill (memory.events
 *    oom_kill) of a killable process; never a hang (bounded) or another
 *    error.  A surviving process's pages
 *    must all be intact, and once memory.max is lifted MADV_UNMERGEABLE
 *    must succeed and leave none of its pages merged.
 * C. OOM kills.  Long-lived sharers, outside any limit, hold pages of
 *    common contents and check them all the time.  Victims, each alone in
 *    a memory cgroup without swap, map the same contents, get merged with
 *    the sharers, tighten their own memory.max and then touch new memory,
 *    write their merged pages (COW of KSM pages) or unmerge them: they are
 *    OOM-killed (or, unmerging, may get an error).  The sharers' pages must
 *    never change.
 * D. At the end, with every process gone: every counter back to 0 with
 *    ksmd running and after run=2, KSM's slab objects all freed
 *    (/proc/slabinfo), and every cgroup removable.
 *
 * Needs root, cgroup2 with the memory controller, and swap for A.
 * Usage: ksm_stress_pressure [-t SECONDS] [-s SEED] (default 45 s)
 *
 * The lab's stress suite - suite: stress; limit: 480s; long: 300s
 */
#define _GNU_SOURCE
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	45
#define PAGES_TO_SCAN	4096
#define MIB		(1024ULL * 1024)
#define STEP_MS		120000	/* the bound of any one step of a process */

#define KEY(cls, v)	(((unsigned long long)(cls) << 48) | ((v) & V_MASK))
#define V_MASK		((1ULL << 48) - 1)
#define CLS_A_DUP	1
#define CLS_A_UNIQUE	2
#define CLS_B		3
#define CLS_C		4
#define CLS_C_UNIQUE	5

/* A: 3 processes of 8 MiB in 8 MiB, 3/4 of the pages of 16 contents. */
#define A_PROCS		3
#define A_PAGES		2048
#define A_KEYS		16
#define A_MAX		(8 * MIB)
#define A_REWRITES	16

/* B: 8 MiB of 8 contents: 256 mappings of each, one KSM page each. */
#define B_PAGES		2048
#define B_KEYS		8
#define B_MIN_ROUNDS	3

/* C: 2 sharers, up to 2 victims at a time. */
#define C_SHARERS	2
#define C_SLOTS		2
#define C_KEYS		32
#define C_SHARER_PAGES	1024
#define C_VICTIM_PAGES	1024
#define C_TOUCH_PAGES	4096
#define C_MIN_VICTIMS	3

#define KPF_KSM		21

enum { B_NOSWAP_UNKILLABLE, B_SWAP, B_NOSWAP, B_VARIANTS };
static const char * const b_names[B_VARIANTS] = {
	"no swap, unkillable", "swap", "no swap, killable",
};

enum { C_TOUCH, C_COW, C_UNMERGE, C_ACTIONS };
static const char * const c_names[C_ACTIONS] = {
	"touch new memory", "write merged pages", "MADV_UNMERGEABLE",
};

/* Shared by every process of the run (MAP_SHARED). */
struct shared {
	/* A */
	unsigned long long a_ksm_seen, a_swapped, a_ksm_swapped;
	/* B: the unmerging process's results */
	int b_err;		/* errno of the tight MADV_UNMERGEABLE, 0 if none */
	long b_ms;
	long b_left;		/* ksm_merging_pages after MADV_UNMERGEABLE */
	unsigned long long b_bad;
	/* C */
	int c_stop;
	long c_merged[C_SLOTS];	/* a victim's ksm_merging_pages before its end */
	unsigned long long c_sharer_checks;
};

static struct shared *sh;
static char cg_a[256], cg_b[256], cg_c[C_SLOTS][256];
static unsigned long long st;
static long max_sharing;
static long oom_dump_tasks = -1;

/* ---------------------------------------------------------------------- */
/* Helpers.                                                               */
/* ---------------------------------------------------------------------- */

static bool ksm_cg_write_ull(const char *dir, const char *file,
			     unsigned long long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", val);
	return ksm_cg_set(dir, file, buf);
}

/* A "key value" line of @dir/@file (memory.events, memory.stat); -1 if absent. */
static long long ksm_cg_keyed(const char *dir, const char *file,
			      const char *key)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return ksm_read_keyed(path, key);
}

static void restore_sysctl(void)
{
	char buf[16];
	int fd;

	if (oom_dump_tasks < 0 || getpid() != ksm_owner_pid)
		return;
	fd = open("/proc/sys/vm/oom_dump_tasks", O_WRONLY);
	if (fd < 0)
		return;
	snprintf(buf, sizeof(buf), "%ld", oom_dump_tasks);
	if (write(fd, buf, strlen(buf)) < 0)
		ksft_print_msg("cannot restore oom_dump_tasks\n");
	close(fd);
	oom_dump_tasks = -1;
}

/* OOM kills are expected: keep their reports short (no task list). */
static void quiet_oom_reports(void)
{
	unsigned long v;
	int fd;

	if (ksm_read_ulong_path("/proc/sys/vm/oom_dump_tasks", &v))
		return;
	fd = open("/proc/sys/vm/oom_dump_tasks", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "0", 1) == 1) {
		oom_dump_tasks = v;
		atexit(restore_sysctl);
	}
	close(fd);
}

static void sample_sharing(void)
{
	unsigned long v;

	if (!ksm_try_read("pages_sharing", &v) && (long)v > max_sharing)
		max_sharing = v;
}

static void count_add(unsigned long long *p, unsigned long long n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static size_t check_all(char *area, const unsigned long long *keys, size_t n,
			const char *who)
{
	size_t bad = ksm_check_pages(area, keys, n, who);

	ksm_stress_verified(n, bad);
	return bad;
}

/* The pagemap entries of @n pages at @addr (the caller's). */
static bool read_pagemap(const void *addr, size_t n, unsigned long long *ents)
{
	ssize_t want = n * sizeof(*ents);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, ents, want, (unsigned long)addr / ksm_page_size * sizeof(*ents)) == want;
	close(fd);
	return ok;
}

/* Is the page of pagemap entry @ent a KSM page?  (/proc/kpageflags) */
static bool ent_is_ksm(unsigned long long ent)
{
	static int fd = -1;
	unsigned long long flags;

	if (!(ent & KSM_PM_PRESENT))
		return false;
	if (fd < 0)
		fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0 || pread(fd, &flags, sizeof(flags),
			    (ent & KSM_PM_PFN_MASK) * sizeof(flags)) != sizeof(flags))
		return false;
	return flags >> KPF_KSM & 1;
}

/* Join @cg first thing: pages are charged where they are faulted in. */
static void child_join(const char *cg)
{
	if (!ksm_cg_attach(cg, 0)) {
		printf("# cannot join %s: %s\n", cg, strerror(errno));
		_exit(2);
	}
}

static bool set_oom_score_adj(int adj)
{
	char buf[16];
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(buf, sizeof(buf), "%d", adj);
	ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
	close(fd);
	return ok;
}

/*
 * Send @c to a child and wait for its answer; false if none (printed,
 * unless the child is gone: the caller tells whether it may be).
 */
static bool step(pid_t pid, int cmd, int rep, char c, const char *what)
{
	int r;

	if (!ksm_pipe_send(cmd, c)) {
		ksft_print_msg("%s: child %d: cannot send '%c'\n", what, pid, c);
		return false;
	}
	r = ksm_pipe_recv(rep, STEP_MS);
	if (r == c)
		return true;
	if (r != -EPIPE)
		ksft_print_msg("%s: child %d: %s after '%c'\n", what, pid,
			       r == -ETIMEDOUT ? "no answer in time (hung?)" :
			       "wrong answer", c);
	return false;
}

/* Wait for @pid, at most @ms: false (and SIGKILL) if it does not end. */
static bool wait_bounded(pid_t pid, int *status, long ms)
{
	long long deadline = ksm_now_ms() + ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0) {
			ksft_print_msg("waitpid %d: %s\n", pid, strerror(errno));
			return false;
		}
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("child %d still running after %ld s: hung?\n",
				       pid, ms / 1000);
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return false;
		}
		usleep(5000);
	}
}

static bool exited_ok(int status)
{
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

static void print_end(const char *what, pid_t pid, int status)
{
	if (WIFEXITED(status))
		ksft_print_msg("%s %d exited with %d\n", what, pid, WEXITSTATUS(status));
	else
		ksft_print_msg("%s %d killed by signal %d\n", what, pid,
			       WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static pid_t fork_with_pipes(int *cmd, int *rep, int fds[2][2])
{
	pid_t pid;

	if (pipe(fds[0]) || pipe(fds[1]))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		close(fds[0][1]);
		close(fds[1][0]);
		*cmd = fds[0][0];
		*rep = fds[1][1];
	} else {
		close(fds[0][0]);
		close(fds[1][1]);
		*cmd = fds[0][1];
		*rep = fds[1][0];
	}
	return pid;
}

/* ---------------------------------------------------------------------- */
/* A: merged pages swapped out and in.                                    */
/* ---------------------------------------------------------------------- */

static unsigned long long a_key(unsigned long long *s)
{
	if (ksm_rand_below(s, 4))
		return KEY(CLS_A_DUP, ksm_rand_below(s, A_KEYS));
	return KEY(CLS_A_UNIQUE, ksm_rand(s));
}

static void a_worker(unsigned int no, int cmd, int rep)
{
	unsigned long long s = ksm_rand_stream(0x100 + no), *keys, *ents;
	size_t i, bad = 0, nksm, nswap, nksm_swap;
	bool *was_ksm;
	char *area;
	int c;

	child_join(cg_a);
	keys = calloc(A_PAGES, sizeof(*keys));
	ents = calloc(A_PAGES, sizeof(*ents));
	was_ksm = calloc(A_PAGES, sizeof(*was_ksm));
	if (!keys || !ents || !was_ksm)
		_exit(2);
	area = ksm_mmap(A_PAGES);
	for (i = 0; i < A_PAGES; i++) {
		keys[i] = a_key(&s);
		ksm_fill_page(ksm_page_addr(area, i), keys[i]);
	}
	ksm_madvise(area, A_PAGES, MADV_MERGEABLE);
	ksm_pipe_send(rep, 'r');
	for (;;) {
		c = ksm_pipe_recv(cmd, 10 * STEP_MS);
		switch (c) {
		case 'k':	/* which pages are KSM pages now? */
			if (!read_pagemap(area, A_PAGES, ents))
				_exit(2);
			for (nksm = 0, i = 0; i < A_PAGES; i++) {
				was_ksm[i] = ent_is_ksm(ents[i]);
				nksm += was_ksm[i];
			}
			count_add(&sh->a_ksm_seen, nksm);
			break;
		case 's':	/* which went to swap?  Then read all back. */
			if (!read_pagemap(area, A_PAGES, ents))
				_exit(2);
			for (nswap = nksm_swap = 0, i = 0; i < A_PAGES; i++) {
				if (!(ents[i] & KSM_PM_SWAP))
					continue;
				nswap++;
				nksm_swap += was_ksm[i];
			}
			count_add(&sh->a_swapped, nswap);
			count_add(&sh->a_ksm_swapped, nksm_swap);
			bad += check_all(area, keys, A_PAGES, "swapped in");
			for (i = 0; i < A_REWRITES; i++) {
				size_t j = ksm_rand_below(&s, A_PAGES);

				keys[j] = a_key(&s);
				ksm_fill_page(ksm_page_addr(area, j), keys[j]);
			}
			break;
		case 'q':
			bad += check_all(area, keys, A_PAGES, "at exit");
			_exit(bad ? 1 : 0);
		default:
			_exit(2);
		}
		ksm_pipe_send(rep, c);
	}
}

static void phase_a(long long end)
{
	long long pswpout0 = ksm_vmstat("pswpout"), oom0, pswpout;
	int cmd[A_PROCS], rep[A_PROCS], fds[2][2], status;
	pid_t pid[A_PROCS];
	unsigned int i, rounds = 0;
	char why[300];
	bool ok = true;

	if (!ksm_have_swap()) {
		ksft_test_result_skip("swap: no swap\n");
		return;
	}
	if (!ksm_cg_create("ksm_pressure.a", "memory.reclaim", cg_a,
			   sizeof(cg_a), why, sizeof(why)) ||
	    !ksm_cg_write_ull(cg_a, "memory.max", A_MAX)) {
		ksft_test_result_fail("swap: memory cgroup: %s\n", why);
		ksm_cg_remove(cg_a);
		return;
	}
	oom0 = ksm_cg_keyed(cg_a, "memory.events", "oom_kill");
	for (i = 0; i < A_PROCS; i++) {
		pid[i] = fork_with_pipes(&cmd[i], &rep[i], fds);
		if (!pid[i])
			a_worker(i, cmd[i], rep[i]);
	}
	for (i = 0; i < A_PROCS; i++)
		if (ksm_pipe_recv(rep[i], STEP_MS) != 'r')
			ok = false;
	while (ok && (ksm_now_ms() < end || !rounds)) {
		/* ksmd merges what is in memory, then reclaim pushes it out */
		ok = ksm_wait_full_scans(2, STEP_MS);
		sample_sharing();
		for (i = 0; ok && i < A_PROCS; i++)
			ok = step(pid[i], cmd[i], rep[i], 'k', "swap");
		for (i = 0; ok && i < 3; i++)
			ksm_cg_write(cg_a, "memory.reclaim", "32M");
		for (i = 0; ok && i < A_PROCS; i++)
			ok = step(pid[i], cmd[i], rep[i], 's', "swap");
		rounds++;
		ksm_stress_ops(1);
	}
	for (i = 0; i < A_PROCS; i++) {
		ksm_pipe_send(cmd[i], 'q');
		if (!wait_bounded(pid[i], &status, STEP_MS) || !exited_ok(status)) {
			print_end("swap: worker", pid[i], status);
			ok = false;
		}
		close(cmd[i]);
		close(rep[i]);
	}
	pswpout = ksm_vmstat("pswpout") - pswpout0;
	ksft_print_msg("swap: %u rounds; KSM pages seen %llu, swapped out %llu\n",
		       rounds, sh->a_ksm_seen, sh->a_ksm_swapped);
	ksft_print_msg("swap: pages swapped out %llu, pswpout +%lld, pages_sharing up to %ld\n",
		       sh->a_swapped, pswpout, max_sharing);
	if (ksm_cg_keyed(cg_a, "memory.events", "oom_kill") != oom0) {
		ksft_print_msg("swap: OOM kill in a memory cgroup with swap\n");
		ok = false;
	}
	ok = ksm_cg_remove(cg_a) && ok;
	ksft_test_result(ok && sh->a_ksm_swapped && pswpout > 0 && max_sharing,
			 "swap: %d processes, %llu MiB in %llu MiB: KSM pages swapped out and read back intact\n",
			 A_PROCS, A_PROCS * A_PAGES * ksm_page_size / MIB, A_MAX / MIB);
}

/* ---------------------------------------------------------------------- */
/* B: MADV_UNMERGEABLE when memory is short.                              */
/* ---------------------------------------------------------------------- */

static void b_worker(int variant, int cmd, int rep, unsigned long long s)
{
	unsigned long long keys[B_PAGES];
	long long t0;
	char *area;
	size_t i;
	int c;

	child_join(cg_b);
	if (variant == B_NOSWAP_UNKILLABLE && !set_oom_score_adj(-1000))
		_exit(2);
	area = ksm_mmap(B_PAGES);
	for (i = 0; i < B_PAGES; i++)
		keys[i] = KEY(CLS_B, ksm_rand_below(&s, B_KEYS));
	ksm_fill_pages(area, keys, B_PAGES);
	ksm_madvise(area, B_PAGES, MADV_MERGEABLE);
	ksm_pipe_send(rep, 'r');
	for (;;) {
		c = ksm_pipe_recv(cmd, 10 * STEP_MS);
		switch (c) {
		case 'u':	/* with no room for the copies */
			t0 = ksm_now_ms();
			sh->b_err = madvise(area, B_PAGES * ksm_page_size,
					    MADV_UNMERGEABLE) ? errno : 0;
			sh->b_ms = ksm_now_ms() - t0;
			sh->b_left = ksm_proc_merging_pages(0);
			sh->b_bad += check_all(area, keys, B_PAGES, "after unmerging");
			break;
		case 'U':	/* with room */
			sh->b_err = madvise(area, B_PAGES * ksm_page_size,
					    MADV_UNMERGEABLE) ? errno : 0;
			sh->b_left = ksm_proc_merging_pages(0);
			sh->b_bad += check_all(area, keys, B_PAGES, "unmerged");
			break;
		case 'q':
			_exit(0);
		default:
			_exit(2);
		}
		ksm_pipe_send(rep, c);
	}
}

/* Wait until @pid has most of its pages merged. */
static bool wait_merged(pid_t pid, long pages, long ms)
{
	long long deadline = ksm_now_ms() + ms;
	long n;

	for (;;) {
		n = ksm_proc_merging_pages(pid);
		sample_sharing();
		if (n >= pages)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("process %d: %ld pages merged after %ld s, wanted %ld\n",
				       pid, n, ms / 1000, pages);
			return false;
		}
		usleep(20000);
	}
}

static void phase_b(long long end)
{
	unsigned long long outcomes[B_VARIANTS][4] = { { 0 } };
	int cmd, rep, fds[2][2], status, v, o, first;
	bool ok = true, data_ok = true, swapmax, oom_killed;
	unsigned int rounds = 0;
	long long oom0, cur;
	char why[300];
	pid_t pid;

	if (!ksm_cg_create("ksm_pressure.b", "memory.max", cg_b,
			   sizeof(cg_b), why, sizeof(why))) {
		ksm_cg_remove(cg_b);
		ksft_test_result_fail("unmerge when memory is short: memory cgroup: %s\n", why);
		ksft_test_result_fail("unmerge when memory is short: no memory cgroup\n");
		return;
	}
	swapmax = ksm_cg_read(cg_b, "memory.swap.current") >= 0;
	first = ksm_rand_below(&st, B_VARIANTS);
	while (ok && (ksm_now_ms() < end || rounds < B_MIN_ROUNDS)) {
		v = (first + rounds++) % B_VARIANTS;
		if (!swapmax && v != B_SWAP)
			continue;	/* no memory.swap.max: only "swap" */
		if (!ksm_cg_set(cg_b, "memory.max", "max") ||
		    (swapmax && !ksm_cg_set(cg_b, "memory.swap.max", v == B_SWAP ? "max" : "0"))) {
			ok = false;
			break;
		}
		oom0 = ksm_cg_keyed(cg_b, "memory.events", "oom_kill");
		sh->b_err = -1;
		oom_killed = false;
		pid = fork_with_pipes(&cmd, &rep, fds);
		if (!pid)
			b_worker(v, cmd, rep, ksm_rand(&st));
		ok = ksm_pipe_recv(rep, STEP_MS) == 'r' &&
		     wait_merged(pid, B_PAGES * 9 / 10, STEP_MS);
		/* Room for what it has now and 256 KiB more: not for copies. */
		cur = ksm_cg_read(cg_b, "memory.current");
		ok = ok && cur > 0 &&
		     ksm_cg_write_ull(cg_b, "memory.max", cur + (256 << 10));
		if (!ok) {
			ksft_print_msg("unmerge: round %u (%s) could not be set up\n",
				       rounds, b_names[v]);
		} else if (step(pid, cmd, rep, 'u', "unmerge")) {
			switch (sh->b_err) {
			case 0:
				o = 0;
				break;
			case ENOMEM:
				o = 1;
				break;
			case EAGAIN:
				o = 2;
				break;
			default:
				ksft_print_msg("unmerge (%s): MADV_UNMERGEABLE failed: %s\n",
					       b_names[v], strerror(sh->b_err));
				o = -1;
				ok = false;
			}
			if (rounds <= B_VARIANTS)
				ksft_print_msg("unmerge (%s, memory.max %lld KiB): %s in %ld ms\n",
					       b_names[v], (cur >> 10) + 256,
					       sh->b_err ? strerror(sh->b_err) : "success",
					       sh->b_ms);
			if (!sh->b_err && sh->b_left) {
				ksft_print_msg("unmerge: success, but %ld pages still merged\n",
					       sh->b_left);
				ok = false;
			}
			if (o >= 0)
				outcomes[v][o]++;
			/* Room now: it must unmerge it all. */
			ok = ksm_cg_set(cg_b, "memory.max", "max") && ok;
			if (swapmax)
				ok = ksm_cg_set(cg_b, "memory.swap.max", "max") && ok;
			if (!step(pid, cmd, rep, 'U', "unmerge")) {
				ok = false;
			} else if (sh->b_err || sh->b_left) {
				ksft_print_msg("unmerge with room: %s, %ld pages still merged\n",
					       sh->b_err ? strerror(sh->b_err) : "success",
					       sh->b_left);
				ok = false;
			}
			ksm_pipe_send(cmd, 'q');
		} else if (ksm_cg_keyed(cg_b, "memory.events", "oom_kill") > oom0 &&
			   v != B_NOSWAP_UNKILLABLE) {
			outcomes[v][3]++;	/* OOM-killed while unmerging */
			oom_killed = true;
			if (rounds <= B_VARIANTS)
				ksft_print_msg("unmerge (%s): OOM-killed\n", b_names[v]);
		} else {
			ksft_print_msg("unmerge (%s): no answer, and no OOM kill\n",
				       b_names[v]);
			ok = false;
		}
		if (!wait_bounded(pid, &status, STEP_MS))
			ok = false;
		else if (!exited_ok(status) && !(oom_killed && WIFSIGNALED(status) &&
						 WTERMSIG(status) == SIGKILL))
			ok = false;
		if (!ok)
			print_end("unmerge: process", pid, status);
		close(cmd);
		close(rep);
		ksm_stress_ops(1);
	}
	data_ok = !sh->b_bad;
	ok = ksm_cg_remove(cg_b) && ok;
	for (v = 0; v < B_VARIANTS; v++)
		ksft_print_msg("unmerge, %s: success %llu ENOMEM %llu EAGAIN %llu OOM-kill %llu\n",
			       b_names[v], outcomes[v][0], outcomes[v][1],
			       outcomes[v][2], outcomes[v][3]);
	ksft_test_result(ok,
			 "unmerge when memory is short: %u rounds, success, ENOMEM, EAGAIN or OOM kill, never a hang\n",
			 rounds);
	ksft_test_result(ok && data_ok,
			 "unmerge when memory is short: survivors' pages intact, all unmerged once there is room\n");
}

/* ---------------------------------------------------------------------- */
/* C: OOM kills of processes holding merged pages.                        */
/* ---------------------------------------------------------------------- */

static void c_sharer(unsigned int no)
{
	unsigned long long s = ksm_rand_stream(0x200 + no);
	unsigned long long keys[C_SHARER_PAGES + C_SHARER_PAGES / 4];
	size_t n = ARRAY_SIZE(keys), i, bad = 0;
	char *area = ksm_mmap(n);

	for (i = 0; i < n; i++)
		keys[i] = i < C_SHARER_PAGES ? KEY(CLS_C, ksm_rand_below(&s, C_KEYS)) :
					      KEY(CLS_C_UNIQUE, ksm_rand(&s));
	ksm_fill_pages(area, keys, n);
	ksm_madvise(area, n, MADV_MERGEABLE);
	while (!__atomic_load_n(&sh->c_stop, __ATOMIC_ACQUIRE)) {
		bad += check_all(area, keys, n, "sharer");
		count_add(&sh->c_sharer_checks, 1);
		usleep(20000);
	}
	bad += check_all(area, keys, n, "sharer at the end");
	_exit(bad ? 1 : 0);
}

/* Exit 0: survived (allowed when unmerging), 3: not killed when it must. */
static void c_victim(unsigned int slot, int action, unsigned long long s)
{
	unsigned long long keys[C_VICTIM_PAGES];
	long long cur;
	char *area, *more;
	size_t i;

	child_join(cg_c[slot]);
	area = ksm_mmap(C_VICTIM_PAGES);
	for (i = 0; i < C_VICTIM_PAGES; i++)
		keys[i] = KEY(CLS_C, ksm_rand_below(&s, C_KEYS));
	ksm_fill_pages(area, keys, C_VICTIM_PAGES);
	ksm_madvise(area, C_VICTIM_PAGES, MADV_MERGEABLE);
	/* Merged with the sharers (or not, if ksmd is slow: bounded). */
	for (i = 0; i < 500 && ksm_proc_merging_pages(0) < C_VICTIM_PAGES / 2; i++)
		usleep(20000);
	sh->c_merged[slot] = ksm_proc_merging_pages(0);
	cur = ksm_cg_read(cg_c[slot], "memory.current");
	if (cur <= 0 || !ksm_cg_write_ull(cg_c[slot], "memory.max", cur + (256 << 10)))
		_exit(2);
	switch (action) {
	case C_TOUCH:
		more = ksm_mmap(C_TOUCH_PAGES);
		for (i = 0; i < C_TOUCH_PAGES; i++)
			ksm_fill_page(ksm_page_addr(more, i), KEY(CLS_C_UNIQUE, i + 1));
		_exit(3);
	case C_COW:
		for (i = 0; i < C_VICTIM_PAGES; i++) {
			keys[i] = KEY(CLS_C_UNIQUE, ksm_rand(&s));
			ksm_fill_page(ksm_page_addr(area, i), keys[i]);
		}
		_exit(3);
	default:
		if (madvise(area, C_VICTIM_PAGES * ksm_page_size, MADV_UNMERGEABLE) &&
		    errno != ENOMEM && errno != EAGAIN) {
			printf("# victim: MADV_UNMERGEABLE: %s\n", strerror(errno));
			_exit(2);
		}
		_exit(check_all(area, keys, C_VICTIM_PAGES, "victim") ? 1 : 0);
	}
}

struct victim {
	pid_t pid;
	int action;
	long long oom0, start_ms;
};

/* A victim ended: as it must? */
static bool c_reaped(unsigned int slot, struct victim *vi, int status,
		     unsigned long long *killed, unsigned long long *killed_merged)
{
	long long oom = ksm_cg_keyed(cg_c[slot], "memory.events", "oom_kill");
	bool oom_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			  oom > vi->oom0;

	if (oom_killed) {
		(*killed)++;
		if (sh->c_merged[slot] > 0)
			(*killed_merged)++;
		return true;
	}
	if (vi->action == C_UNMERGE && exited_ok(status))
		return true;
	ksft_print_msg("victim (%s, %ld pages merged, oom_kill %lld -> %lld):\n",
		       c_names[vi->action], sh->c_merged[slot], vi->oom0, oom);
	print_end("  victim", vi->pid, status);
	return false;
}

static void phase_c(long long end)
{
	unsigned long long victims = 0, killed = 0, killed_merged = 0;
	struct victim vi[C_SLOTS] = { { 0 } };
	pid_t sharers[C_SHARERS];
	bool ok = true, sharers_ok = true;
	unsigned int i;
	char why[300];
	int status;
	pid_t r;

	for (i = 0; i < C_SLOTS; i++) {
		char name[64];

		snprintf(name, sizeof(name), "ksm_pressure.c%u", i);
		if (!ksm_cg_create(name, "memory.swap.max", cg_c[i], sizeof(cg_c[i]),
				   why, sizeof(why))) {
			while (i + 1)
				ksm_cg_remove(cg_c[i--]);
			ksft_test_result_skip("OOM kills: memory cgroup: %s\n", why);
			ksft_test_result_skip("OOM kills: memory cgroup: %s\n", why);
			return;
		}
	}
	for (i = 0; i < C_SHARERS; i++) {
		sharers[i] = ksm_fork();
		if (!sharers[i])
			c_sharer(i);
	}
	while (ok && (ksm_now_ms() < end || victims < C_MIN_VICTIMS)) {
		for (i = 0; i < C_SLOTS; i++) {
			if (vi[i].pid)
				continue;
			if (!ksm_cg_set(cg_c[i], "memory.max", "max") ||
			    !ksm_cg_set(cg_c[i], "memory.swap.max", "0")) {
				ok = false;
				break;
			}
			vi[i].action = victims++ % C_ACTIONS;
			vi[i].oom0 = ksm_cg_keyed(cg_c[i], "memory.events", "oom_kill");
			vi[i].start_ms = ksm_now_ms();
			sh->c_merged[i] = -1;
			vi[i].pid = ksm_fork();
			if (!vi[i].pid)
				c_victim(i, vi[i].action, ksm_rand(&st));
			ksm_stress_ops(1);
		}
		for (i = 0; i < C_SLOTS; i++) {
			r = waitpid(vi[i].pid, &status, WNOHANG);
			if (r == vi[i].pid) {
				ok = c_reaped(i, &vi[i], status, &killed, &killed_merged) && ok;
				vi[i].pid = 0;
			} else if (ksm_now_ms() - vi[i].start_ms > STEP_MS) {
				ksft_print_msg("victim %d (%s) still alive after %d s: hung?\n",
					       vi[i].pid, c_names[vi[i].action], STEP_MS / 1000);
				ok = false;
			}
		}
		sample_sharing();
		usleep(10000);
	}
	for (i = 0; i < C_SLOTS; i++) {
		if (!vi[i].pid)
			continue;
		if (wait_bounded(vi[i].pid, &status, STEP_MS))
			ok = c_reaped(i, &vi[i], status, &killed, &killed_merged) && ok;
		else
			ok = false;
	}
	__atomic_store_n(&sh->c_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < C_SHARERS; i++) {
		if (!wait_bounded(sharers[i], &status, STEP_MS) || !exited_ok(status)) {
			print_end("sharer", sharers[i], status);
			sharers_ok = false;
		}
	}
	for (i = 0; i < C_SLOTS; i++)
		ok = ksm_cg_remove(cg_c[i]) && ok;
	ksft_print_msg("OOM kills: %llu victims, %llu OOM-killed, %llu of them with merged pages\n",
		       victims, killed, killed_merged);
	ksft_print_msg("OOM kills: sharers checked their pages %llu times\n",
		       sh->c_sharer_checks);
	ksft_test_result(ok && killed_merged > 0,
			 "OOM kills: processes holding merged pages OOM-killed as they must, none hung\n");
	ksft_test_result(sharers_ok && sh->c_sharer_checks > 0,
			 "OOM kills: the pages of the processes sharing them never changed\n");
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	long long t0, secs;
	long objs[KSM_NR_SLABS];
	bool have_slabs;
	char why[300];

	ksft_print_header();
	ksm_stress_init(argc, argv, DEFAULT_SECS);
	ksft_set_plan(9);
	ksm_selftest_init(PAGES_TO_SCAN, 0, ksm_stress_watchdog());
	st = ksm_rand_stream(~0ULL);
	if (!ksm_cg_mount(why, sizeof(why)))
		ksft_exit_skip("memory cgroup: %s\n", why);
	ksm_slab_shrink();	/* SLUB's per-cpu slabs count as active */
	have_slabs = ksm_slab_objs(objs);
	if (have_slabs)
		ksm_slab_print("KSM slab objects at the start", objs);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	quiet_oom_reports();
	ksm_set("run", 1);

	/* A 40 %, B 20 %, C 40 % of the time. */
	t0 = ksm_now_ms();
	secs = ksm_secs * 1000LL;
	phase_a(t0 + secs * 4 / 10);
	phase_b(t0 + secs * 6 / 10);
	phase_c(t0 + secs);

	ksft_test_result(!__atomic_load_n(&ksm_stats->mismatches, __ATOMIC_SEQ_CST) &&
			 __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST),
			 "every page of every process held its contents (%llu checked)\n",
			 __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST));
	ksm_stress_check_all_gone(true, have_slabs);
	ksm_cg_unmount();
	restore_sysctl();
	if (!ksm_stress_summary())
		ksft_exit_fail_msg("pages held the wrong contents\n");
	ksft_finished();
}
