// SPDX-License-Identifier: GPL-2.0
/*
 * Processes that register memory with KSM and die while ksmd scans them.
 *
 * The pattern of the 2011 race between ksmd and exiting processes
 * (CVE-2011-2183): children are forked in a loop, several at a time, for
 * the whole run, while ksmd runs flat out (sleep_millisecs 0, a large
 * pages_to_scan).  Each maps anonymous memory (pages of the keeper's
 * contents, contents common to all children, contents repeated within the
 * child, unique contents), registers it with MADV_MERGEABLE, may fork a
 * grandchild that inherits it, and then keeps checking its pages, writing
 * some (COW of KSM pages) and unmerging and re-registering ranges, until
 * its planned end:
 *  - exit: it leaves by itself (some after MADV_UNMERGEABLE of all of its
 *    memory, which must leave no page of it merged);
 *  - SIGKILL or SIGTERM from the parent;
 *  - SIGSEGV: it write-protects its mergeable area and writes to it.
 * The moment is random: before the pages are registered, while they are
 * being merged (or unmerged), or long after.  A long-lived keeper process
 * holds one page of each of its own contents, which children's pages merge
 * with (so KSM pages made of a dying child's page stay mapped by the
 * keeper), and checks them all the time: they must never change.  The
 * keeper is a child too, not the parent: an mm stays registered (its mm
 * slot allocated) for as long as it lives, and the slab check at the end
 * wants every registered process gone.
 *
 * Checked: every page of every process always holds what it must; every
 * child ends as planned (no other exit status); pages were merged during
 * the run (pages_sharing, and the keeper's pages with the children's);
 * once the children have gone, with the keeper alone, a probe process maps
 * each of the keeper's contents once more and KSM must reach exactly one
 * KSM page per content shared by the two, and nothing else; once
 * every process has gone every counter comes back to 0 with ksmd still
 * running, and again after run=2; and KSM's slab objects (ksm_rmap_item,
 * ksm_stable_node, ksm_mm_slot in /proc/slabinfo) are all freed.
 *
 * Usage: ksm_stress_exit [-t SECONDS] [-s SEED] (default 30 s)
 *
 * The lab's stress suite - suite: stress; limit: 360s; long: 120s
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/resource.h>
#include "ksm_util.h"
#include "ksm_stress.h"

#define DEFAULT_SECS	30
#define NSLOTS		6
#define KEEP_PAGES	256
#define COMMON_KEYS	64
#define LOCAL_KEYS	8
#define MIN_PAGES	32
#define MAX_PAGES	512
#define PAGES_TO_SCAN	8192
/* A child not killed by then was forgotten: it fails. */
#define CHILD_MAX_MS	30000
#define REAP_MS		60000

/* Keys: a class in the top 16 bits, never 0. */
#define KEY(cls, v)	(((unsigned long long)(cls) << 48) | (v))
#define CLS_KEEP	1
#define CLS_COMMON	2
#define CLS_LOCAL	3
#define CLS_UNIQUE	4
#define V_MASK		((1ULL << 48) - 1)

/* How a child ends. */
enum fate { F_EXIT, F_UNMERGE_EXIT, F_KILL, F_TERM, F_SEGV, NR_FATES };

static const char * const fate_names[NR_FATES] = {
	"exit", "unmerge+exit", "SIGKILL", "SIGTERM", "SIGSEGV",
};

struct plan {
	unsigned long long no;	/* child number: its random stream */
	enum fate fate;
	long at_ms;		/* when it ends, from its fork */
	size_t npages;
	bool grandchild;
	sigset_t sigmask;	/* the mask to restore after fork() */
	/* the parent's bookkeeping */
	pid_t pid;
	long long start_ms;
	bool signalled;
	bool killed_at_end;
};

/* Shared by every process of the run (a MAP_SHARED page). */
struct shared {
	int stop_keeper;
	long keeper_merged_max;		/* the keeper's ksm_merging_pages */
	unsigned long long child_merged;	/* children that saw a page merged */
	unsigned long long grandchildren;
	unsigned long long cows;	/* writes to pages while registered */
	unsigned long long unmerges;	/* MADV_UNMERGEABLE of a range */
};

static struct shared *sh;
static pid_t keeper_pid;
static bool keeper_ok;
static struct plan slots[NSLOTS];
static unsigned long long fates_seen[NR_FATES];
static unsigned long long nchildren, bad_ends, gc_ends;

static void count_add(unsigned long long *p, unsigned long long n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* A content for a child's page: one of four kinds. */
static unsigned long long child_key(unsigned long long *st, unsigned long long no)
{
	switch (ksm_rand_below(st, 4)) {
	case 0:
		return KEY(CLS_KEEP, ksm_rand_below(st, KEEP_PAGES));
	case 1:
		return KEY(CLS_COMMON, ksm_rand_below(st, COMMON_KEYS));
	case 2:
		return KEY(CLS_LOCAL, ((no << 8) | ksm_rand_below(st, LOCAL_KEYS)) & V_MASK);
	default:
		return KEY(CLS_UNIQUE, ksm_rand(st) & V_MASK);
	}
}

/* Check every page quietly; count them.  Returns the bad ones. */
static size_t check_all(char *area, const unsigned long long *keys, size_t n,
			const char *who)
{
	size_t bad = ksm_check_pages(area, keys, n, who);

	ksm_stress_verified(n, bad);
	return bad;
}

static void die_by_segv(char *area, size_t npages)
{
	if (mprotect(area, npages * ksm_page_size, PROT_READ))
		_exit(2);
	/* @area came from mmap(): the store cannot be left out */
	area[0] = 1;
	_exit(2);	/* not reached */
}

/*
 * A grandchild: it inherited the registered area (a copy of each page, COW
 * shared with its parent's and with KSM pages).  It checks it, writes a
 * few pages, and exits after a while, or dies with its parent.
 */
static void run_grandchild(pid_t parent, char *area, unsigned long long *keys,
			   size_t npages, unsigned long long st)
{
	long long end = ksm_now_ms() + ksm_rand_below(&st, 2000);
	size_t bad = 0, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);	/* the parent is gone already */
	count_add(&sh->grandchildren, 1);
	do {
		bad += check_all(area, keys, npages, "grandchild");
		i = ksm_rand_below(&st, npages);
		keys[i] = child_key(&st, ksm_rand(&st));
		ksm_fill_page(ksm_page_addr(area, i), keys[i]);
		usleep(ksm_rand_below(&st, 20000));
	} while (ksm_now_ms() < end);
	_exit(bad ? 1 : 0);
}

static void run_child(const struct plan *p)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS,
				    SIGABRT };
	unsigned long long st = ksm_rand_stream(p->no << 1), *keys;
	struct rlimit nocore = { 0, 0 };
	long long t0 = ksm_now_ms();
	size_t bad = 0, i, a, b;
	bool merged = false;
	char *area;

	/*
	 * Die of what kills us, without a core dump.  SIGTERM was blocked
	 * over fork(), so that it cannot reach the parent's handler here.
	 */
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	setrlimit(RLIMIT_CORE, &nocore);
	sigprocmask(SIG_SETMASK, &p->sigmask, NULL);

	keys = malloc(p->npages * sizeof(*keys));
	if (!keys)
		_exit(2);
	area = ksm_mmap(p->npages);
	for (i = 0; i < p->npages; i++) {
		keys[i] = child_key(&st, p->no);
		ksm_fill_page(ksm_page_addr(area, i), keys[i]);
	}
	ksm_madvise(area, p->npages, MADV_MERGEABLE);
	if (p->grandchild) {
		pid_t me = getpid(), pid = fork();

		if (!pid)
			run_grandchild(me, area, keys, p->npages, ksm_rand(&st));
		if (pid < 0)
			_exit(2);
	}

	for (;;) {
		long long now = ksm_now_ms() - t0;

		if (p->fate == F_SEGV && now >= p->at_ms)
			die_by_segv(area, p->npages);
		if ((p->fate == F_EXIT || p->fate == F_UNMERGE_EXIT) && now >= p->at_ms)
			break;
		if (now > p->at_ms + CHILD_MAX_MS)
			_exit(3);	/* never killed */
		bad += check_all(area, keys, p->npages, "child");
		if (!merged && ksm_proc_merging_pages(0) > 0) {
			merged = true;
			count_add(&sh->child_merged, 1);
		}
		switch (ksm_rand_below(&st, 16)) {
		case 0 ... 3:	/* rewrite a page: a COW if it was merged */
			i = ksm_rand_below(&st, p->npages);
			keys[i] = child_key(&st, p->no);
			ksm_fill_page(ksm_page_addr(area, i), keys[i]);
			count_add(&sh->cows, 1);
			break;
		case 4:		/* unmerge a range, then register it again */
			a = ksm_rand_below(&st, p->npages);
			b = a + 1 + ksm_rand_below(&st, p->npages - a);
			ksm_madvise(ksm_page_addr(area, a), b - a, MADV_UNMERGEABLE);
			bad += check_all(ksm_page_addr(area, a), keys + a, b - a,
					 "unmerged range");
			ksm_madvise(ksm_page_addr(area, a), b - a, MADV_MERGEABLE);
			count_add(&sh->unmerges, 1);
			break;
		default:
			break;
		}
		usleep(ksm_rand_below(&st, 10000));
	}

	if (p->fate == F_UNMERGE_EXIT) {
		long left;

		ksm_madvise(area, p->npages, MADV_UNMERGEABLE);
		left = ksm_proc_merging_pages(0);
		if (left) {
			printf("# child %llu: %ld pages merged after MADV_UNMERGEABLE\n",
			       p->no, left);
			bad++;
			ksm_stress_verified(0, 1);
		}
	}
	bad += check_all(area, keys, p->npages, "child at exit");
	if (ksm_rand_below(&st, 2))
		munmap(area, p->npages * ksm_page_size);
	_exit(bad ? 1 : 0);
}

/* The keeper: its pages must never change while children come and go. */
static void run_keeper(void)
{
	unsigned long long keys[KEEP_PAGES];
	size_t bad = 0, i;
	long merged;
	char *area;

	area = ksm_mmap(KEEP_PAGES);
	for (i = 0; i < KEEP_PAGES; i++)
		keys[i] = KEY(CLS_KEEP, i);
	ksm_fill_pages(area, keys, KEEP_PAGES);
	ksm_madvise(area, KEEP_PAGES, MADV_MERGEABLE);
	while (!__atomic_load_n(&sh->stop_keeper, __ATOMIC_ACQUIRE)) {
		bad += check_all(area, keys, KEEP_PAGES, "keeper");
		merged = ksm_proc_merging_pages(0);
		if (merged > __atomic_load_n(&sh->keeper_merged_max, __ATOMIC_RELAXED))
			__atomic_store_n(&sh->keeper_merged_max, merged, __ATOMIC_RELAXED);
		usleep(10000);
	}
	bad += check_all(area, keys, KEEP_PAGES, "keeper at the end");
	_exit(bad ? 1 : 0);
}

static void plan_child(struct plan *p, unsigned long long *st)
{
	unsigned int r = ksm_rand_below(st, 8);

	memset(p, 0, sizeof(*p));
	p->no = ++nchildren;
	p->fate = ksm_rand_below(st, NR_FATES);
	/* Before registering, while merging, or well after. */
	if (r < 2)
		p->at_ms = ksm_rand_below(st, 30);
	else if (r < 5)
		p->at_ms = 30 + ksm_rand_below(st, 600);
	else
		p->at_ms = 600 + ksm_rand_below(st, 2400);
	p->npages = MIN_PAGES + ksm_rand_below(st, MAX_PAGES - MIN_PAGES + 1);
	p->grandchild = !ksm_rand_below(st, 3);
}

static void bad_end(const char *what, pid_t pid, int status)
{
	bad_ends++;
	if (WIFEXITED(status))
		ksft_print_msg("%s %d exited with %d\n", what, pid, WEXITSTATUS(status));
	else
		ksft_print_msg("%s %d killed by signal %d\n", what, pid,
			       WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static bool killed_by(int status, int sig)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

/* A child was reaped: did it end as planned? */
static void reaped(pid_t pid, int status)
{
	struct plan *p = NULL;
	bool ok;
	int i;

	if (pid == keeper_pid) {
		keeper_pid = -pid;	/* gone: the main loop stops */
		keeper_ok = WIFEXITED(status) && !WEXITSTATUS(status);
		if (!keeper_ok)
			bad_end("keeper", pid, status);
		return;
	}
	for (i = 0; i < NSLOTS; i++)
		if (slots[i].pid == pid)
			p = &slots[i];
	if (!p) {
		/* A grandchild: ours by PR_SET_CHILD_SUBREAPER. */
		gc_ends++;
		if (!(WIFEXITED(status) && !WEXITSTATUS(status)) &&
		    !killed_by(status, SIGKILL))
			bad_end("grandchild", pid, status);
		return;
	}
	switch (p->fate) {
	case F_EXIT:
	case F_UNMERGE_EXIT:
		ok = WIFEXITED(status) && !WEXITSTATUS(status);
		break;
	case F_KILL:
		ok = killed_by(status, SIGKILL);
		break;
	case F_TERM:
		ok = killed_by(status, SIGTERM);
		break;
	default:
		ok = killed_by(status, SIGSEGV);
		break;
	}
	/* Still running at the end of the run: killed then. */
	if (p->killed_at_end && killed_by(status, SIGKILL))
		ok = true;
	if (ok)
		fates_seen[p->killed_at_end ? F_KILL : p->fate]++;
	else
		bad_end(fate_names[p->fate], pid, status);
	p->pid = 0;
}

static void reap_some(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reaped(pid, status);
}

/* Signal children whose time has come. */
static void signal_due(void)
{
	long long now = ksm_now_ms();
	struct plan *p;
	int i;

	for (i = 0; i < NSLOTS; i++) {
		p = &slots[i];
		if (!p->pid || p->signalled || now < p->start_ms + p->at_ms)
			continue;
		if (p->fate == F_KILL || p->fate == F_TERM) {
			kill(p->pid, p->fate == F_KILL ? SIGKILL : SIGTERM);
			p->signalled = true;
		}
	}
}

static long sample_sharing(long max)
{
	unsigned long v;

	if (!ksm_try_read("pages_sharing", &v) && (long)v > max)
		return v;
	return max;
}

/* Reap every process left, bounded; false on timeout. */
static bool reap_all(void)
{
	long long deadline = ksm_now_ms() + REAP_MS;
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			reaped(pid, status);
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("processes still alive %d s after the run\n",
				       REAP_MS / 1000);
			return false;
		}
		usleep(10000);
	}
}

/* Our children, by /proc (grandchildren whose parent died come to us). */
static int count_children(void)
{
	char path[300], buf[512], *p;
	pid_t me = getpid();
	struct dirent *d;
	int n = 0, ppid;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc");
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == me)
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Reap every process but the keeper, grandchildren included. */
static bool reap_but_keeper(void)
{
	long long deadline = ksm_now_ms() + REAP_MS;

	for (;;) {
		reap_some();
		if (keeper_pid < 0)
			return false;
		if (count_children() == 1)
			return true;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("processes other than the keeper alive %d s after the run\n",
				       REAP_MS / 1000);
			return false;
		}
		usleep(10000);
	}
}

/*
 * The writes have paused, the keeper is alone: a probe maps each of its
 * contents once more.  One KSM page per content, shared by the two, and
 * nothing else: pages_shared and pages_sharing KEEP_PAGES, the rest 0.
 */
static bool probe_keeper(void)
{
	struct ksm_counters want = { KEEP_PAGES, KEEP_PAGES, 0, 0, 0, 0 };
	unsigned long long keys[KEEP_PAGES];
	int go[2], i;
	bool ok;
	pid_t pid;
	char c;

	for (i = 0; i < KEEP_PAGES; i++)
		keys[i] = KEY(CLS_KEEP, i);
	if (pipe(go))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		char *area = ksm_mmap_mergeable(keys, KEEP_PAGES);

		close(go[1]);
		if (read(go[0], &c, 1) != 0)
			_exit(2);
		_exit(ksm_check_pages(area, keys, KEEP_PAGES, "probe") ? 1 : 0);
	}
	close(go[0]);
	ok = ksm_wait_counters(&want);
	close(go[1]);
	return ksm_wait_child(pid, "probe") && ok;
}

int main(int argc, char **argv)
{
	unsigned long long st;
	long objs[KSM_NR_SLABS], max_sharing = 0, last_sample = 0;
	bool ok, reaped_all, have_slabs, probed;
	sigset_t term;
	int i;

	ksft_print_header();
	ksm_stress_init(argc, argv, DEFAULT_SECS);
	ksft_set_plan(8);
	ksm_selftest_init(PAGES_TO_SCAN, 0, ksm_stress_watchdog());
	st = ksm_rand_stream(~0ULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);

	ksm_slab_shrink();	/* SLUB's per-cpu slabs count as active */
	have_slabs = ksm_slab_objs(objs);
	if (have_slabs)
		ksm_slab_print("KSM slab objects at the start", objs);
	else
		ksft_print_msg("no KSM caches in /proc/slabinfo (boot with slab_nomerge)\n");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* Orphaned grandchildren come to us, to be reaped and checked. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		ksft_exit_fail_msg("PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));

	keeper_pid = ksm_fork();
	if (!keeper_pid)
		run_keeper();
	ksm_set("run", 1);

	while (ksm_stress_running()) {
		for (i = 0; i < NSLOTS; i++) {
			if (slots[i].pid)
				continue;
			plan_child(&slots[i], &st);
			slots[i].start_ms = ksm_now_ms();
			sigprocmask(SIG_BLOCK, &term, &slots[i].sigmask);
			slots[i].pid = ksm_fork();
			if (!slots[i].pid)
				run_child(&slots[i]);
			sigprocmask(SIG_SETMASK, &slots[i].sigmask, NULL);
			ksm_stress_ops(1);
		}
		signal_due();
		reap_some();
		if (ksm_now_ms() - last_sample >= 50) {
			max_sharing = sample_sharing(max_sharing);
			last_sample = ksm_now_ms();
		}
		if (keeper_pid < 0)
			break;	/* the keeper died */
		usleep(2000);
	}

	/* Whoever is still running dies now, in the middle of its work. */
	for (i = 0; i < NSLOTS; i++) {
		if (!slots[i].pid)
			continue;
		slots[i].killed_at_end = true;
		kill(slots[i].pid, SIGKILL);
	}
	probed = reap_but_keeper() && probe_keeper();
	__atomic_store_n(&sh->stop_keeper, 1, __ATOMIC_RELEASE);
	reaped_all = reap_all();

	ksft_print_msg("%llu children: exit %llu unmerge+exit %llu KILL %llu TERM %llu SEGV %llu\n",
		       nchildren, fates_seen[F_EXIT], fates_seen[F_UNMERGE_EXIT],
		       fates_seen[F_KILL], fates_seen[F_TERM], fates_seen[F_SEGV]);
	ksft_print_msg("%llu grandchildren (%llu reaped here), %llu writes, %llu ranges unmerged\n",
		       sh->grandchildren, gc_ends, sh->cows, sh->unmerges);
	ok = reaped_all && !bad_ends;
	for (i = 0; i < NR_FATES; i++)
		ok = ok && fates_seen[i];
	ksft_test_result(ok, "every child and grandchild ended as planned, every ending seen\n");

	ksft_test_result(keeper_ok && sh->keeper_merged_max > 0,
			 "keeper: %d pages never changed, up to %ld of them merged with children's\n",
			 KEEP_PAGES, sh->keeper_merged_max);
	ksft_test_result(max_sharing > 0 && sh->child_merged > 0,
			 "pages merged during the run: pages_sharing up to %ld, %llu children saw theirs merged\n",
			 max_sharing, sh->child_merged);
	ksft_test_result(probed,
			 "children gone: the keeper's %d contents and a probe's make exactly %d KSM pages shared by both, nothing else\n",
			 KEEP_PAGES, KEEP_PAGES);
	ksft_test_result(!__atomic_load_n(&ksm_stats->mismatches, __ATOMIC_SEQ_CST) &&
			 __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST),
			 "every page of every process held its contents (%llu checked)\n",
			 __atomic_load_n(&ksm_stats->verified, __ATOMIC_SEQ_CST));

	/* Nobody is registered now: ksmd alone must bring everything to 0. */
	ksm_stress_check_all_gone(reaped_all, have_slabs);

	if (!ksm_stress_summary())
		ksft_exit_fail_msg("pages held the wrong contents\n");
	ksft_finished();
}
