// SPDX-License-Identifier: GPL-2.0
/*
 * Merge domains (this project's): /sys/kernel/mm/ksm/merge_domain and the
 * memory cgroup files memory.ksm, memory.ksm_domain and memory.ksm_stat.
 *
 * Four processes hold the same N pages (contents 0..N-1), two in cgroup A
 * and two in cgroup B:
 *  - "global": every content is one KSM page mapped by all four;
 *  - "memcg": each cgroup has its own KSM pages, never one of the other's
 *    (pfns and KPF_KSM from /proc/PID/pagemap and kpageflags), and the
 *    counters are exactly those of two separate sets;
 *  - memory.ksm_stat of each cgroup adds up its processes' counters (two
 *    processes sharing one mm, by clone() with CLONE_VM, count it once),
 *    and the cgroups' sums add up to pages_shared + pages_sharing;
 *  - the attacker's view: a process alone in its cgroup with B's contents
 *    writes to each of its pages: no copy-on-write of a KSM page under
 *    "memcg" (cow_ksm stays), one per page under "global"; the first-write
 *    times of both are reported;
 *  - a process moved from A to B leaves A's KSM pages and joins B's;
 *  - memory.ksm_domain 1 on a parent makes its two children one domain,
 *    and 0 again splits them: ksmd unshares what crossed;
 *  - memory.ksm 1 makes a process that never asked merge, one that joins
 *    later, and one created in the cgroup by clone3(CLONE_INTO_CGROUP);
 *    0 unmerges them, and switches off a process whose main thread
 *    exited while another thread runs on; such a process that moves in
 *    merges; "inherit" and bad values; 0
 *    for a process with no room for its copies in its cgroup (no swap
 *    allowed, unkillable) fails with ENOMEM, and the process still merges;
 *    while it unmerges 256 MiB of a process, a write to another cgroup
 *    does not wait for it;
 *  - memory.ksm_use_zero_pages 0: with use_zero_pages 1, the cgroup's pages
 *    of zeroes merge within it instead of mapping the zero page;
 *  - "user": processes of uid 1000 and 1001 never share; a process of uid
 *    1000 that is not dumpable (it dropped root's ids without execve)
 *    shares with no one, and nor does one of uid 1000 whose real gid is
 *    not its effective gid, although dumpable (uid 1000 may not read it);
 *    root of two user namespaces that map it to one uid and gid of the
 *    host (containers of one range of subordinate ids) never share, and
 *    two processes of one such namespace do;
 *  - merge_domain refuses a bad name (EINVAL) and a change while KSM pages
 *    exist (EBUSY); a cgroup whose processes left is removed with its KSM
 *    pages still charged to it, and nothing is left over;
 *  - the memory controller switched off and on again below a cgroup gives
 *    it a new memory cgroup whose memory.ksm starts as "inherit", and the
 *    old one (kept by a memfd charged to it) takes nothing with it when it
 *    goes; with the io controller, which depends on memory, enabled too,
 *    the memory cgroup is only hidden, and its memory.ksm is reset.
 *
 * The lab's time limit for this program - limit: 420s
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "ksm_util.h"

#define N		32	/* pages per process */
#define KEY		0xd0d0ULL
#define SCAN_MS		120000
#define KPF_KSM_BIT	(1ULL << 21)
#define EXTRA		2048	/* pages of one content: 8 MiB to unmerge */

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

struct kid {
	pid_t pid;
	int cmd;		/* parent -> kid */
	int ack;		/* kid -> parent */
	int die;		/* parent -> main thread (headless kids), or -1 */
};

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP	0x200000000ULL
#endif

static char *area;		/* N pages at the same address in every kid */
static char cg_a[256], cg_b[256], cg_c[256], cg_p[256];
static char cg_x[PATH_MAX], cg_y[PATH_MAX];
static char why[256];
static bool kid_undumpable;	/* a kid of another uid stays undumpable */
static bool kid_mixed_gids;	/* ... takes real gid 100, the others 1000 */
static size_t kid_extra;	/* pages of one content more, unkillable kid */
static bool kid_userns;		/* ... is root of a user namespace: */
static pid_t kid_ns_of;		/* that kid's, else one of its own */

/* Root of a kid's user namespace is this uid and gid of the host. */
#define USERNS_ID	100000

/*
 * A fine clock: the guest's CLOCK_MONOTONIC may tick by jiffies.  The time
 * stamp counter where there is one, in cycles; else nanoseconds.
 */
static unsigned long long cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
#endif
}

/*
 * A case's result.  Each case starts from the state the cases before it
 * left, so the first failure ends the program (the rest would only time
 * out, two minutes each).
 */
static void __attribute__((format(printf, 2, 3))) result(bool ok,
							 const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_test_result(ok, "%s", msg);
	if (!ok)
		ksft_exit_fail_msg("the cases after this one depend on it\n");
}

/* A process that shares its parent's mm (clone() with CLONE_VM). */
static int vm_sibling(void *arg)
{
	for (;;)
		pause();
	return 0;
}

/*
 * Order 'v' of a kid: start a process that shares its mm, or stop the one
 * it started; the answer is its pid (0 once stopped, -1 on failure).
 */
static void kid_vm_sibling(int ack)
{
	static char stack[65536] __attribute__((aligned(16)));
	static pid_t sib;
	char buf[32];

	if (sib > 0) {
		kill(sib, SIGKILL);
		waitpid(sib, NULL, __WALL);
		sib = 0;
	} else {
		sib = clone(vm_sibling, stack + sizeof(stack),
			    CLONE_VM | SIGCHLD, NULL);
	}
	snprintf(buf, sizeof(buf), "%d\n", sib);
	if (write(ack, buf, strlen(buf)) < 0)
		_exit(8);
}

/*
 * Make the kid root of a user namespace: of kid_ns_of's, or of a new one,
 * whose root the parent maps to USERNS_ID (start_kid_into()).  Root of a
 * namespace holds every capability in it; dumpable again once its ids
 * changed, as a container's processes are.
 */
static bool kid_enter_userns(int cmd, int ack)
{
	char path[64], c;
	int fd;

	if (kid_ns_of) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", kid_ns_of);
		fd = open(path, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWUSER))
			return false;
		close(fd);
	} else if (unshare(CLONE_NEWUSER) || write(ack, "u", 1) != 1 ||
		   read(cmd, &c, 1) != 1 || c != 'm') {
		return false;
	}
	return !setresgid(0, 0, 0) && !setresuid(0, 0, 0) &&
	       !prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* The kid's loop: fill, madvise (if asked), then obey one-letter orders. */
static void kid_main(int cmd, int ack, bool madv, bool zero, uid_t uid)
{
	unsigned long long t0;
	long long ns[N];
	char c, buf[64];
	size_t i;

	if (kid_userns && !kid_enter_userns(cmd, ack))
		_exit(10);
	if (kid_mixed_gids && setresgid(100, 1000, 1000))
		_exit(3);
	if (uid && setresuid(uid, uid, uid))
		_exit(3);
	/* Dropping root's ids made it undumpable, unless fs.suid_dumpable. */
	if (uid && prctl(PR_SET_DUMPABLE, !kid_undumpable, 0, 0, 0))
		_exit(7);
	for (i = 0; i < N; i++)
		ksm_fill_page(ksm_page_addr(area, i), KEY + i);
	if (kid_extra) {
		char *x = mmap(NULL, kid_extra * ksm_page_size,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int fd = open("/proc/self/oom_score_adj", O_WRONLY);

		if (x == MAP_FAILED || fd < 0 || write(fd, "-1000", 5) != 5)
			_exit(9);
		close(fd);
		for (i = 0; i < kid_extra; i++)
			ksm_fill_page(ksm_page_addr(x, i), KEY + N);
	}
	if (zero)
		memset(area, 0, N * ksm_page_size);
	if (madv && madvise(area, N * ksm_page_size, MADV_MERGEABLE))
		_exit(4);
	if (write(ack, "r", 1) != 1)
		_exit(5);
	while (read(cmd, &c, 1) == 1) {
		if (c == 'q')
			_exit(0);
		if (c == 'v')
			kid_vm_sibling(ack);
		if (c != 'w')
			continue;
		/* Time the first write to each page, one byte each. */
		for (i = 0; i < N; i++) {
			t0 = cycles();
			*(volatile char *)ksm_page_addr(area, i) ^= 1;
			ns[i] = cycles() - t0;
		}
		for (i = 1; i < N; i++) {	/* sort: N is small */
			long long v = ns[i];
			size_t j = i;

			for (; j && ns[j - 1] > v; j--)
				ns[j] = ns[j - 1];
			ns[j] = v;
		}
		snprintf(buf, sizeof(buf), "%lld %lld %lld\n", ns[N / 2],
			 ns[N * 9 / 10], ns[N - 1]);
		if (write(ack, buf, strlen(buf)) < 0)
			_exit(6);
	}
	_exit(0);
}

/* clone3() into the cgroup @cgfd, as fork() does otherwise. */
static pid_t clone_into(int cgfd)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = cgfd,
	};
	pid_t pid = syscall(SYS_clone3, &args, sizeof(args));

	if (pid < 0)
		ksft_exit_fail_msg("clone3(CLONE_INTO_CGROUP): %s\n", strerror(errno));
	return pid;
}

/* Map root of @pid's user namespace to USERNS_ID, uid and gid. */
static bool map_root(pid_t pid)
{
	static const char *const maps[] = { "uid_map", "gid_map" };
	char path[64], line[64];
	bool ok = true;
	int i, fd, n;

	n = snprintf(line, sizeof(line), "0 %d 1\n", USERNS_ID);
	for (i = 0; i < 2 && ok; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, maps[i]);
		fd = open(path, O_WRONLY);
		ok = fd >= 0 && write(fd, line, n) == n;
		if (fd >= 0)
			close(fd);
	}
	return ok;
}

/*
 * A kid in @cg (NULL: here), its pages madvised or not, of zeroes or not;
 * created there by clone3() if @into, else moved there once it runs.
 */
static struct kid start_kid_into(const char *cg, bool into, bool madv,
				 bool zero, uid_t uid)
{
	int c[2], a[2], cgfd = -1;
	struct kid k = { .die = -1 };

	if (pipe(c) || pipe(a))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	if (into) {
		cgfd = open(cg, O_RDONLY | O_DIRECTORY);
		if (cgfd < 0)
			ksft_exit_fail_msg("open %s: %s\n", cg, strerror(errno));
		k.pid = clone_into(cgfd);
		close(cgfd);
	} else {
		k.pid = ksm_fork();
	}
	if (!k.pid) {
		close(c[1]);
		close(a[0]);
		kid_main(c[0], a[1], madv, zero, uid);
	}
	close(c[0]);
	close(a[1]);
	k.cmd = c[1];
	k.ack = a[0];
	if (into)
		cg = NULL;
	if (kid_userns && !kid_ns_of) {
		if (ksm_pipe_recv(k.ack, 10000) != 'u')
			ksft_exit_fail_msg("kid %d: no user namespace of its own\n",
					   k.pid);
		if (!map_root(k.pid))
			ksft_exit_fail_msg("kid %d: cannot map its root to %d: %s\n",
					   k.pid, USERNS_ID, strerror(errno));
		ksm_pipe_send(k.cmd, 'm');
	}
	if (ksm_pipe_recv(k.ack, 10000) != 'r')
		ksft_exit_fail_msg("kid %d did not start\n", k.pid);
	if (cg && !ksm_cg_attach(cg, k.pid))
		ksft_exit_fail_msg("cannot move %d to %s: %s\n", k.pid, cg,
				   strerror(errno));
	return k;
}

static struct kid start_kid_of(const char *cg, bool madv, bool zero, uid_t uid)
{
	return start_kid_into(cg, false, madv, zero, uid);
}

static struct kid start_kid(const char *cg, bool madv, uid_t uid)
{
	return start_kid_of(cg, madv, false, uid);
}

static int headless_cmd, headless_ack;

static void *headless_thread(void *arg)
{
	kid_main(headless_cmd, headless_ack, false, false, 0);
	return NULL;
}

/*
 * A kid whose main thread exits (once told, through k.die) while a second
 * thread goes on as any kid: its process has no leader with an mm.
 */
static struct kid start_headless(void)
{
	int c[2], a[2], d[2];
	pthread_t thread;
	struct kid k;
	char x;

	if (pipe(c) || pipe(a) || pipe(d))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	k.pid = ksm_fork();
	if (!k.pid) {
		close(c[1]);
		close(a[0]);
		close(d[1]);
		headless_cmd = c[0];
		headless_ack = a[1];
		if (pthread_create(&thread, NULL, headless_thread, NULL))
			_exit(8);
		while (read(d[0], &x, 1) > 0)
			;
		syscall(SYS_exit, 0);
	}
	close(c[0]);
	close(a[1]);
	close(d[0]);
	k.cmd = c[1];
	k.ack = a[0];
	k.die = d[1];
	if (ksm_pipe_recv(k.ack, 10000) != 'r')
		ksft_exit_fail_msg("kid %d did not start\n", k.pid);
	return k;
}

/* The thread of @pid other than its main one, once that one has exited. */
static pid_t headless_tid(pid_t pid)
{
	long long deadline = ksm_now_ms() + 10000;
	char path[64], buf[256], *state;
	pid_t tid = 0;
	struct dirent *e;
	DIR *dir;
	int fd;
	ssize_t n;

	for (;;) {
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		state = strrchr(buf, ')');
		if (state && state[1] && state[2] == 'Z')
			break;
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("main thread of %d did not exit\n", pid);
			return 0;
		}
		usleep(10000);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (e = readdir(dir)))
		if (atoi(e->d_name) > 0 && atoi(e->d_name) != pid)
			tid = atoi(e->d_name);
	if (dir)
		closedir(dir);
	return tid;
}

static void stop_kid(struct kid *k)
{
	if (!k->pid)
		return;
	if (k->die >= 0)
		close(k->die);
	ksm_pipe_send(k->cmd, 'q');
	ksm_wait_child(k->pid, "kid");
	close(k->cmd);
	close(k->ack);
	k->pid = 0;
}

/* The pfn of page @i of the area in @pid, 0 if absent; *@ksm: KPF_KSM. */
static unsigned long long pfn_of(pid_t pid, size_t i, bool *ksm)
{
	unsigned long long pm = 0;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, &pm, sizeof(pm),
			  (unsigned long)ksm_page_addr(area, i) /
			  ksm_page_size * sizeof(pm)) != sizeof(pm))
			pm = 0;
		close(fd);
	}
	if (!(pm & KSM_PM_PRESENT))
		return 0;
	pm &= KSM_PM_PFN_MASK;
	if (ksm)
		*ksm = ksm_kpage_flag(pm, KPF_KSM_BIT);
	return pm;
}

/*
 * Every page of @a and @b is a KSM page, and page i of both is one page
 * (@same) or two (!@same).
 */
static bool pages_shared_quiet(const struct kid *a, const struct kid *b,
			       bool same, bool quiet)
{
	unsigned long long pa, pb;
	bool ka = false, kb = false;
	size_t i, bad = 0;

	for (i = 0; i < N; i++) {
		pa = pfn_of(a->pid, i, &ka);
		pb = pfn_of(b->pid, i, &kb);
		if (!pa || !pb || !ka || !kb || (pa == pb) != same)
			bad++;
	}
	if (bad && !quiet)
		ksft_print_msg("%zu of %d pages of %d and %d are not %s KSM pages\n",
			       bad, N, a->pid, b->pid, same ? "the same" : "distinct");
	return !bad;
}

static bool pages_shared_by(const struct kid *a, const struct kid *b,
			    bool same)
{
	return pages_shared_quiet(a, b, same, false);
}

/* Wait until every page of @a and @b is one KSM page. */
static bool wait_shared_by(const struct kid *a, const struct kid *b)
{
	long long deadline = ksm_now_ms() + SCAN_MS;

	while (!pages_shared_quiet(a, b, true, true)) {
		if (ksm_now_ms() > deadline)
			return pages_shared_by(a, b, true);
		usleep(20000);
	}
	return true;
}

static bool set_domain(const char *mode)
{
	int err = ksm_write_str("merge_domain", mode);

	if (err)
		ksft_print_msg("merge_domain %s: %s\n", mode, strerror(-err));
	return !err;
}

/* The line of memory.ksm_stat, or -1. */
static long long cg_stat(const char *cg, const char *key)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/memory.ksm_stat", cg);
	return ksm_read_keyed(path, key);
}

/* ksm_merge_any of the process of @pid, as thread @tid (0: @pid) sees it */
static long long merge_any_of(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	long long ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/ksm_stat", pid,
		 tid ? tid : pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "ksm_merge_any: ", 15))
			ret = !strncmp(line + 15, "yes", 3);
	if (f)
		fclose(f);
	return ret;
}

/* ksm_rmap_items of thread @tid of process @pid, or -1. */
static long long rmap_items_of(pid_t pid, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/ksm_stat", pid, tid);
	return ksm_read_keyed(path, "ksm_rmap_items");
}

static long long merge_any(pid_t pid)
{
	return merge_any_of(pid, 0);
}

static bool wait_merge_any(pid_t pid, int want)
{
	long long deadline = ksm_now_ms() + 10000;

	while (merge_any(pid) != want) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("ksm_merge_any of %d is %lld, not %d\n",
				       pid, merge_any(pid), want);
			return false;
		}
		usleep(10000);
	}
	return true;
}

/* Unmerge everything, stop ksmd, and take @mode. */
static bool fresh(const char *mode)
{
	return ksm_unmerge_all() && set_domain(mode);
}

static void test_knob(void)
{
	char buf[64] = "";
	int fd = open(ksm_path("merge_domain"), O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	bool ok;

	if (fd >= 0)
		close(fd);
	ok = n > 0 && !strcmp(buf, "[global] memcg user\n");
	ok &= ksm_write_str("merge_domain", "bogus") == -EINVAL;
	ok &= ksm_write_str("merge_domain", "memcg x") == -EINVAL;
	ok &= !ksm_write_str("merge_domain", "global\n");
	result(ok, "merge_domain reads \"[global] memcg user\", refuses other names\n");
}

static void test_global(struct kid *k)
{
	bool ok;

	ksm_set("run", 1);
	ok = ksm_wait_merged(N, 3 * N) &&
	     pages_shared_by(&k[0], &k[2], true) &&
	     pages_shared_by(&k[1], &k[3], true);
	result(ok, "global: 4 processes in 2 cgroups share %d KSM pages\n", N);
	ok = ksm_write_str("merge_domain", "memcg") == -EBUSY &&
	     ksm_write_str("merge_domain", "user") == -EBUSY;
	result(ok, "merge_domain: EBUSY while KSM pages exist\n");
}

/* Send order @c to @k and read its one-number answer (-1 if none). */
static long long kid_order(const struct kid *k, char c)
{
	char buf[32];
	ssize_t n;

	if (write(k->cmd, &c, 1) != 1)
		return -1;
	n = read(k->ack, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static void test_memcg(struct kid *k)
{
	long long ma, mb, sib, sum = 0;
	int i;
	bool ok;

	ok = fresh("memcg");
	ksm_set("run", 1);
	ok = ok && ksm_wait_merged(2 * N, 2 * N) && ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(2 * N, 2 * N) &&
	     pages_shared_by(&k[0], &k[1], true) &&
	     pages_shared_by(&k[2], &k[3], true) &&
	     pages_shared_by(&k[0], &k[2], false);
	result(ok, "memcg: each cgroup its own %d KSM pages, none across\n", N);

	/* A's first kid gets a process sharing its mm: counted once. */
	sib = kid_order(&k[0], 'v');
	ma = cg_stat(cg_a, "ksm_merging_pages");
	mb = cg_stat(cg_b, "ksm_merging_pages");
	for (i = 0; i < 4; i++)
		sum += ksm_proc_merging_pages(k[i].pid);
	ksft_print_msg("memory.ksm_stat merging pages: A %lld, B %lld; processes %lld; shared + sharing %lu; CLONE_VM process %lld: %ld\n",
		       ma, mb, sum, ksm_read("pages_shared") + ksm_read("pages_sharing"),
		       sib, sib > 0 ? ksm_proc_merging_pages(sib) : -1);
	ok = sib > 0 && ma == 2 * N && mb == 2 * N && ma + mb == sum &&
	     sum == (long long)(ksm_read("pages_shared") + ksm_read("pages_sharing")) &&
	     cg_stat(cg_a, "ksm_rmap_items") == ksm_proc_rmap_items(k[0].pid) +
						 ksm_proc_rmap_items(k[1].pid);
	if (sib > 0)
		ok = kid_order(&k[0], 'v') == 0 && ok;
	result(ok, "memory.ksm_stat: sums of the processes (two sharing an mm count once), adding up to the global counters\n");
}

/* The attacker's first writes, in cgroup C, to pages equal to B's. */
static void attack(const char *mode, long long *cow, char *times, size_t len)
{
	struct kid att;
	long long before;
	ssize_t n;

	fresh(mode);
	att = start_kid(cg_c, true, 0);
	ksm_set("run", 1);
	/*
	 * The four kids of A and B and the attacker hold the same N pages:
	 * one set of KSM pages under global; under memcg one for A, one for
	 * B, and the attacker, alone in C, merges with nobody.
	 */
	if (!strcmp(mode, "global"))
		ksm_wait_merged(N, 4 * N);
	else
		ksm_wait_merged(2 * N, 2 * N);
	ksm_wait_settled(SCAN_MS);
	ksm_set("run", 0);
	before = ksm_vmstat("cow_ksm");
	ksm_pipe_send(att.cmd, 'w');
	n = read(att.ack, times, len - 1);
	times[n > 0 ? n - 1 : 0] = '\0';
	*cow = ksm_vmstat("cow_ksm") - before;
	stop_kid(&att);
}

static void test_attacker(void)
{
	char tg[64], tm[64];
	long long cg, cm;

	attack("global", &cg, tg, sizeof(tg));
	attack("memcg", &cm, tm, sizeof(tm));
	ksft_print_msg("first write to each of %d pages, cycles median/p90/max: global %s; memcg %s\n",
		       N, tg, tm);
	ksft_print_msg("cow_ksm: global +%lld, memcg +%lld\n", cg, cm);
	result(cg == N && cm == 0,
			 "attacker in its own cgroup: %d KSM copies on write under global, none under memcg\n", N);
}

static void test_move(struct kid *k)
{
	bool ok;

	ksm_set("run", 1);
	ok = ksm_wait_merged(2 * N, 2 * N);
	/* k[1] goes from A to B: A keeps k[0] alone on its KSM pages. */
	ok = ok && ksm_cg_attach(cg_b, k[1].pid);
	ok = ok && ksm_wait_merged(2 * N, 2 * N) && ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(2 * N, 2 * N) &&
	     pages_shared_by(&k[1], &k[2], true) &&
	     pages_shared_by(&k[1], &k[0], false) &&
	     cg_stat(cg_a, "ksm_merging_pages") == N &&
	     cg_stat(cg_b, "ksm_merging_pages") == 3 * N;
	result(ok, "memcg: a process moved from A to B leaves A's KSM pages for B's\n");
	ksm_cg_attach(cg_a, k[1].pid);
}

/*
 * The four kids of A and B stay registered throughout: under memcg they
 * make N KSM pages in each of A and B, the baseline of the cases below.
 */
#define BASE_SHARED	(2 * N)
#define BASE_SHARING	(2 * N)

/* Neither @a's nor @b's pages are KSM pages, and page 0 differs. */
static bool not_merged(const struct kid *a, const struct kid *b)
{
	bool ka = true, kb = true;
	unsigned long long pa = pfn_of(a->pid, 0, &ka);
	unsigned long long pb = pfn_of(b->pid, 0, &kb);

	return pa && pb && pa != pb && !ka && !kb &&
	       !ksm_proc_merging_pages(a->pid) &&
	       !ksm_proc_merging_pages(b->pid);
}

static void test_subtree(void)
{
	struct kid x, y;
	bool ok;

	ok = fresh("memcg");
	x = start_kid(cg_x, true, 0);
	y = start_kid(cg_y, true, 0);
	ksm_set("run", 1);
	/* x and y: two domains of one process each, nothing to merge. */
	ok = ok && ksm_wait_merged(BASE_SHARED, BASE_SHARING) &&
	     ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(BASE_SHARED, BASE_SHARING) && not_merged(&x, &y);
	ok = ok && ksm_cg_set(cg_p, "memory.ksm_domain", "1") &&
	     ksm_cg_read(cg_p, "memory.ksm_domain") == 1 &&
	     ksm_wait_merged(BASE_SHARED + N, BASE_SHARING + N) &&
	     pages_shared_by(&x, &y, true);
	result(ok, "memory.ksm_domain 1: two child cgroups merge as one domain\n");
	/* Split again: ksmd unshares both from the parent's KSM pages. */
	ok = ksm_cg_set(cg_p, "memory.ksm_domain", "0") &&
	     ksm_wait_merged(BASE_SHARED, BASE_SHARING) &&
	     ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(BASE_SHARED, BASE_SHARING) && not_merged(&x, &y);
	result(ok, "memory.ksm_domain 0: ksmd unshares the pages across the split\n");
	stop_kid(&x);
	stop_kid(&y);
}

/* Wait until @pid has at least @n merging pages. */
static bool wait_merging(pid_t pid, long n)
{
	long long deadline = ksm_now_ms() + SCAN_MS;

	while (ksm_proc_merging_pages(pid) < n) {
		if (ksm_now_ms() > deadline) {
			ksft_print_msg("%d has %ld merging pages, not %ld\n", pid,
				       ksm_proc_merging_pages(pid), n);
			return false;
		}
		usleep(20000);
	}
	return true;
}

/*
 * memory.ksm 0 for a process that has no room in its cgroup for the
 * copies (memory.swap.max 0, unkillable): the write fails with ENOMEM, and
 * the process still merges, as the prctl would leave it.  With room, it
 * is switched off.
 */
static void test_memory_ksm_nomem(void)
{
	long long cur;
	char room[32];
	struct kid t;
	int err = 0;
	bool ok;

	kid_extra = EXTRA;
	t = start_kid(cg_c, false, 0);
	kid_extra = 0;
	ok = ksm_cg_set(cg_c, "memory.swap.max", "0") &&
	     ksm_cg_set(cg_c, "memory.ksm", "1") &&
	     wait_merge_any(t.pid, 1) && wait_merging(t.pid, EXTRA);
	cur = ksm_cg_read(cg_c, "memory.current");
	snprintf(room, sizeof(room), "%lld", cur + (256 << 10));
	ok = ok && cur > 0 && ksm_cg_set(cg_c, "memory.max", room);
	if (ok && !ksm_cg_write(cg_c, "memory.ksm", "0"))
		err = errno;
	ksft_print_msg("memory.ksm 0 with 256 KiB of room for %zu KiB of copies: %s; ksm_merge_any %lld\n",
		       EXTRA * ksm_page_size >> 10, err ? strerror(err) : "done",
		       merge_any(t.pid));
	ok = ok && err == ENOMEM && merge_any(t.pid) == 1;
	ok = ksm_cg_set(cg_c, "memory.max", "max") &&
	     ksm_cg_set(cg_c, "memory.swap.max", "max") && ok;
	ok = ok && ksm_cg_set(cg_c, "memory.ksm", "0") && merge_any(t.pid) == 0 &&
	     ksm_proc_merging_pages(t.pid) == 0;
	stop_kid(&t);
	ok = ksm_cg_set(cg_c, "memory.ksm", "inherit") && ok;
	result(ok, "memory.ksm 0 without room to unmerge: ENOMEM, still merging; with room: done\n");
}

#define APART_PAGES	65536	/* 256 MiB of one content to unmerge */
#define APART_LAG_MS	50

struct cg_writer {
	const char *cg;
	const char *val;
	bool ok;
	long long start, end;	/* ms */
};

static void *cg_write_thread(void *arg)
{
	struct cg_writer *w = arg;

	w->start = ksm_now_ms();
	w->ok = ksm_cg_set(w->cg, "memory.ksm", w->val);
	w->end = ksm_now_ms();
	return NULL;
}

/*
 * Tenants apart: while memory.ksm 0 unmerges a process of C with 256 MiB
 * merged, a write of memory.ksm to another cgroup, with no process to
 * switch, is done at once: before C's write ends.
 */
static void test_memory_ksm_apart(void)
{
	struct cg_writer a = { .cg = cg_c, .val = "0" };
	struct cg_writer b = { .cg = cg_y, .val = "1" };
	pthread_t thread;
	struct kid t;
	bool ok;

	kid_extra = APART_PAGES;
	t = start_kid(cg_c, false, 0);
	kid_extra = 0;
	ok = ksm_cg_set(cg_c, "memory.ksm", "1") &&
	     wait_merge_any(t.pid, 1) && wait_merging(t.pid, APART_PAGES);
	if (ok && pthread_create(&thread, NULL, cg_write_thread, &a))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	if (ok) {
		usleep(APART_LAG_MS * 1000);
		cg_write_thread(&b);
		pthread_join(thread, NULL);
		ksft_print_msg("memory.ksm 0 of C: %lld ms; memory.ksm 1 of another cgroup, begun %lld ms after: %lld ms\n",
			       a.end - a.start, b.start - a.start,
			       b.end - b.start);
		/* C's write must have been long enough to tell. */
		ok = a.ok && b.ok && a.end - a.start >= 4 * APART_LAG_MS &&
		     b.end < a.end && merge_any(t.pid) == 0 &&
		     ksm_proc_merging_pages(t.pid) == 0;
	}
	stop_kid(&t);
	ok = ksm_cg_set(cg_y, "memory.ksm", "inherit") &&
	     ksm_cg_set(cg_c, "memory.ksm", "inherit") && ok;
	result(ok, "memory.ksm: a write to one cgroup does not wait for another's to unmerge its processes\n");
}

static void test_memory_ksm(const struct kid *k)
{
	struct kid c, late, born, h;
	long long sum = 0;
	pid_t tid;
	bool ok;
	int i;

	ok = fresh("memcg");
	ok &= ksm_cg_read(cg_c, "memory.ksm") == -1;	/* "inherit" */
	c = start_kid(cg_c, false, 0);
	late = start_kid(NULL, false, 0);
	ksm_set("run", 1);
	ok = ok && merge_any(c.pid) == 0 &&
	     ksm_cg_set(cg_c, "memory.ksm", "1") && merge_any(c.pid) == 1 &&
	     merge_any(late.pid) == 0;
	result(ok, "memory.ksm 1: the cgroup's process merges as with the prctl\n");

	/*
	 * late joins C: c and late are one domain, and merge; all of their
	 * anonymous memory, so the counts are only known as a sum.
	 */
	ok = ksm_cg_attach(cg_c, late.pid) && wait_merge_any(late.pid, 1) &&
	     wait_shared_by(&c, &late) && ksm_wait_settled(SCAN_MS);
	for (i = 0; i < 4; i++)
		sum += ksm_proc_merging_pages(k[i].pid);
	sum += ksm_proc_merging_pages(c.pid) + ksm_proc_merging_pages(late.pid);
	ksft_print_msg("merging pages of the six processes %lld, shared + sharing %lu\n",
		       sum, ksm_read("pages_shared") + ksm_read("pages_sharing"));
	ok = ok && sum == (long long)(ksm_read("pages_shared") +
				      ksm_read("pages_sharing")) &&
	     ksm_proc_merging_pages(late.pid) >= N;
	result(ok, "memory.ksm 1: a process that joins later merges too\n");

	/* clone3() places a process without attaching it. */
	born = start_kid_into(cg_c, true, false, false, 0);
	ok = merge_any(born.pid) == 1;
	stop_kid(&born);
	result(ok, "memory.ksm 1: a process created in the cgroup by clone3(CLONE_INTO_CGROUP) merges\n");

	/* Joins while its main thread lives; then that one exits. */
	h = start_headless();
	ok = ksm_cg_attach(cg_c, h.pid) && wait_merge_any(h.pid, 1);
	close(h.die);
	h.die = -1;
	tid = headless_tid(h.pid);

	ok = ok && tid && merge_any_of(h.pid, tid) == 1 &&
	     ksm_cg_set(cg_c, "memory.ksm", "0") && merge_any(c.pid) == 0 &&
	     merge_any(late.pid) == 0 && not_merged(&c, &late) &&
	     merge_any_of(h.pid, tid) == 0 &&
	     ksm_wait_merged(BASE_SHARED, BASE_SHARING);
	ksft_print_msg("process %d without its main thread: ksm_merge_any %lld of thread %d\n",
		       h.pid, merge_any_of(h.pid, tid), tid);
	ok &= !ksm_cg_write(cg_c, "memory.ksm", "2") && errno == EINVAL;
	ok &= ksm_cg_set(cg_c, "memory.ksm", "inherit") &&
	      ksm_cg_read(cg_c, "memory.ksm") == -1;
	result(ok, "memory.ksm 0 unmerges them, and a process whose main thread exited; \"inherit\" taken, 2 refused\n");
	stop_kid(&c);
	stop_kid(&late);
	stop_kid(&h);

	/* Its main thread exits first, then it moves. */
	h = start_headless();
	close(h.die);
	h.die = -1;
	tid = headless_tid(h.pid);
	ok = tid && merge_any_of(h.pid, tid) == 0 &&
	     ksm_cg_set(cg_c, "memory.ksm", "1") &&
	     ksm_cg_attach(cg_c, h.pid);
	for (i = 0; ok && i < 1000 && merge_any_of(h.pid, tid) != 1; i++)
		usleep(10000);
	ksft_print_msg("process %d moved without its main thread: ksm_merge_any %lld of thread %d\n",
		       h.pid, merge_any_of(h.pid, tid), tid);
	/*
	 * Its cgroup is the one of its threads: C counts it (once ksmd has
	 * made items for it, and stopped), and switches it.
	 */
	for (i = 0; ok && i < 1000 && rmap_items_of(h.pid, tid) <= 0; i++)
		usleep(10000);
	ksm_set("run", 0);
	ok = ok && merge_any_of(h.pid, tid) == 1 &&
	     rmap_items_of(h.pid, tid) > 0 &&
	     cg_stat(cg_c, "ksm_rmap_items") == rmap_items_of(h.pid, tid) &&
	     ksm_cg_set(cg_c, "memory.ksm", "0") && merge_any_of(h.pid, tid) == 0;
	ksft_print_msg("then C's ksm_rmap_items %lld, the process's %lld; after memory.ksm 0, ksm_merge_any %lld\n",
		       cg_stat(cg_c, "ksm_rmap_items"), rmap_items_of(h.pid, tid),
		       merge_any_of(h.pid, tid));
	stop_kid(&h);
	ksm_set("run", 1);
	ok &= ksm_cg_set(cg_c, "memory.ksm", "inherit");
	result(ok, "memory.ksm: a process moved in after its main thread exited is switched, and counted\n");
	test_memory_ksm_nomem();
	test_memory_ksm_apart();
}

/*
 * use_zero_pages 1: a kid's pages of zeroes map the zero page, but those of
 * the two kids of C, whose memory.ksm_use_zero_pages is 0, merge in one
 * KSM page of their domain instead.
 */
static void test_zero_pages(void)
{
	struct kid z[3];
	bool ok;
	int i;

	ok = fresh("memcg");
	ksm_set("use_zero_pages", 1);
	ok = ok && ksm_cg_read(cg_c, "memory.ksm_use_zero_pages") == 1 &&
	     ksm_cg_set(cg_c, "memory.ksm_use_zero_pages", "0") &&
	     ksm_cg_read(cg_c, "memory.ksm_use_zero_pages") == 0;
	z[0] = start_kid_of(NULL, true, true, 0);
	z[1] = start_kid_of(cg_c, true, true, 0);
	z[2] = start_kid_of(cg_c, true, true, 0);
	ksm_set("run", 1);
	ok = ok && ksm_wait_merged(BASE_SHARED + 1, BASE_SHARING + 2 * N - 1) &&
	     ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(BASE_SHARED + 1, BASE_SHARING + 2 * N - 1);
	ksft_print_msg("ksm_zero_pages %lu; C's kids: merging pages %ld and %ld\n",
		       ksm_read("ksm_zero_pages"), ksm_proc_merging_pages(z[1].pid),
		       ksm_proc_merging_pages(z[2].pid));
	ok = ok && ksm_read("ksm_zero_pages") == N &&
	     ksm_proc_merging_pages(z[1].pid) == N &&
	     ksm_proc_merging_pages(z[2].pid) == N &&
	     pfn_of(z[1].pid, 0, NULL) == pfn_of(z[2].pid, N - 1, NULL);
	result(ok, "memory.ksm_use_zero_pages 0: C's pages of zeroes merge in C, not into the zero page\n");
	for (i = 0; i < 3; i++)
		stop_kid(&z[i]);
	ksm_cg_set(cg_c, "memory.ksm_use_zero_pages", "1");
	ksm_set("use_zero_pages", 0);
}

/* Are none of @kid's pages KSM pages, and all present? */
static bool merges_with_no_one(const struct kid *kid, const char *what)
{
	size_t i, merged = 0, absent = 0;
	bool ksm;

	for (i = 0; i < N; i++) {
		ksm = false;
		absent += !pfn_of(kid->pid, i, &ksm);
		merged += ksm;
	}
	ksft_print_msg("%s: %zu of %d pages KSM, %zu not present\n", what,
		       merged, N, absent);
	return !merged && !absent;
}

/* Can a child make a user namespace (the kernel has them, none forbids)? */
static bool userns_ok(void)
{
	pid_t pid = ksm_fork();
	int status;

	if (!pid)
		_exit(unshare(CLONE_NEWUSER) ? 1 : 0);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

/*
 * "user" in containers: two user namespaces whose root is one uid and gid
 * of the host (one range of subordinate ids for every container, as LXD's
 * default and Docker's userns-remap give).  Processes of the two may not
 * read each other (ptrace wants CAP_SYS_PTRACE over the other's
 * namespace), and so never share a KSM page; two of one namespace do.
 */
static void test_user_ns(const struct kid *k)
{
	struct kid a, a2, b;
	bool ok;

	if (!userns_ok()) {
		ksft_test_result_skip("user: no user namespace can be made here\n");
		ksft_test_result_skip("user: no user namespace can be made here\n");
		return;
	}
	ok = fresh("user");
	kid_userns = true;
	a = start_kid(NULL, true, 0);
	b = start_kid(NULL, true, 0);
	kid_ns_of = a.pid;
	a2 = start_kid(NULL, true, 0);
	kid_ns_of = 0;
	kid_userns = false;
	ksm_set("run", 1);
	/* With the four kids of A and B, of uid 0: two sets. */
	ok = ok && ksm_wait_merged(2 * N, 4 * N) && ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(2 * N, 4 * N) && pages_shared_by(&a, &a2, true) &&
	     pages_shared_by(&a, &k[0], false);
	result(ok, "user: two processes of one user namespace, root in it, share %d KSM pages\n",
	       N);
	result(merges_with_no_one(&b, "root of another user namespace, of the same uid") &&
	       ksm_wait_merged(2 * N, 4 * N),
	       "user: root of another user namespace mapped to the same uid and gid merges with neither\n");
	stop_kid(&a);
	stop_kid(&a2);
	stop_kid(&b);
}

static void test_user(const struct kid *k)
{
	struct kid u[4], secret, mixed;
	size_t i;
	bool ok;

	ok = fresh("user");
	/* Registered 1000, 1001, 1000, 1001 (see main()). */
	for (i = 0; i < 4; i++)
		u[i % 2 * 2 + i / 2] = start_kid(NULL, true, i % 2 ? 1001 : 1000);
	/* Of uid 1000 too, but it dropped root's ids: it merges with no one. */
	kid_undumpable = true;
	secret = start_kid(NULL, true, 1000);
	kid_undumpable = false;
	/* Of uid 1000, dumpable, without capabilities, but of two gids. */
	kid_mixed_gids = true;
	mixed = start_kid(NULL, true, 1000);
	kid_mixed_gids = false;
	ksm_set("run", 1);
	/* With the four kids of A and B, of uid 0: three sets. */
	ok = ok && ksm_wait_merged(3 * N, 5 * N) && ksm_wait_settled(SCAN_MS) &&
	     ksm_wait_merged(3 * N, 5 * N) &&
	     pages_shared_by(&u[0], &u[1], true) &&
	     pages_shared_by(&u[2], &u[3], true) &&
	     pages_shared_by(&u[0], &u[2], false) &&
	     pages_shared_by(&u[0], &k[0], false);
	result(ok, "user: uids 1000 and 1001 each their own %d KSM pages\n", N);
	result(merges_with_no_one(&secret, "undumpable process of uid 1000") &&
	       ksm_wait_merged(3 * N, 5 * N),
	       "user: an undumpable process of uid 1000 merges with no one\n");
	result(merges_with_no_one(&mixed, "process of uid 1000, gids 100/1000") &&
	       ksm_wait_merged(3 * N, 5 * N),
	       "user: a process of uid 1000 with real gid 100, effective gid 1000, merges with no one\n");
	stop_kid(&secret);
	stop_kid(&mixed);
	for (i = 0; i < 4; i++)
		stop_kid(&u[i]);
	test_user_ns(k);
}

static void test_removal(struct kid *k)
{
	long long sum = 0;
	bool ok;
	int i;

	ok = fresh("memcg");
	ksm_set("run", 1);
	ok = ok && ksm_wait_merged(2 * N, 2 * N);
	/* A's processes leave; its KSM pages stay charged to it. */
	ok = ok && ksm_cg_attach(ksm_cg_root(), k[0].pid) &&
	     ksm_cg_attach(ksm_cg_root(), k[1].pid) && ksm_cg_remove(cg_a);
	/* Now in the root cgroup, their own domain: still two sets. */
	ok = ok && ksm_wait_settled(SCAN_MS) && ksm_wait_merged(2 * N, 2 * N);
	for (i = 0; i < 4; i++)
		sum += ksm_proc_merging_pages(k[i].pid);
	ok = ok && sum == 4 * N && pages_shared_by(&k[0], &k[1], true) &&
	     pages_shared_by(&k[0], &k[2], false);
	result(ok, "a cgroup removed with its KSM pages charged: nothing crosses, counts add up\n");
}

/* memory.ksm of @cg as it reads ("inherit", "0" or "1"), "" if it cannot. */
static const char *memory_ksm_of(const char *cg)
{
	static char buf[32];
	char path[PATH_MAX + 16];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/memory.ksm", cg);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* Does memory.ksm of @cg read "inherit"?  Says what it reads if not. */
static bool reads_inherit(const char *cg, const char *what)
{
	if (!strcmp(memory_ksm_of(cg), "inherit"))
		return true;
	ksft_print_msg("memory.ksm of %s: %s\n", what, memory_ksm_of(cg));
	return false;
}

/*
 * A kid that charges @pages pages of a memfd to @cg, then leaves for the
 * root cgroup keeping the memfd: @cg's memory cgroup outlives its end.
 */
static pid_t start_charger(const char *cg, size_t pages)
{
	size_t len = pages * ksm_page_size;
	int ack[2], fd = -1;
	char *p;
	pid_t pid;

	if (pipe(ack))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = ksm_fork();
	if (!pid) {
		if (ksm_cg_attach(cg, 0))
			fd = memfd_create("ksm_domains", 0);
		if (fd < 0 || ftruncate(fd, len))
			_exit(1);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 1, len);
		munmap(p, len);
		if (!ksm_cg_attach(ksm_cg_root(), 0) || !ksm_pipe_send(ack[1], 'c'))
			_exit(1);
		pause();
		_exit(0);
	}
	close(ack[1]);
	if (ksm_pipe_recv(ack[0], 10000) != 'c') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ack[0]);
	return pid;
}

/*
 * The memory controller switched off and on again below P gives x a new
 * memory cgroup: it starts with no KSM settings, and the old one, kept
 * while pages are charged to it, takes none of the new one's when it goes.
 */
static void test_reenable(void)
{
	size_t pages = 256;
	long long before, now, deadline;
	bool ok, gone = false, kept = true;
	pid_t pid;

	pid = start_charger(cg_x, pages);
	before = ksm_cg_read(cg_p, "memory.current");
	ok = pid > 0 && before >= (long long)(pages * ksm_page_size) &&
	     ksm_cg_set(cg_x, "memory.ksm", "1") &&
	     !strcmp(memory_ksm_of(cg_x), "1") &&
	     ksm_cg_set(cg_p, "cgroup.subtree_control", "-memory") &&
	     !memory_ksm_of(cg_x)[0] &&
	     ksm_cg_set(cg_p, "cgroup.subtree_control", "+memory");
	ok = ok && reads_inherit(cg_x, "a new memory cgroup");
	result(ok, "memory controller off and on: memory.ksm starts as inherit\n");

	/* The old memory cgroup goes once its pages are freed. */
	ok = ok && ksm_cg_set(cg_x, "memory.ksm", "1");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	deadline = ksm_now_ms() + 10000;
	while (ok && ksm_now_ms() < deadline) {
		now = ksm_cg_read(cg_p, "memory.current");
		if (strcmp(memory_ksm_of(cg_x), "1"))
			kept = false;
		if (!gone && now >= 0 &&
		    now <= before - (long long)(pages / 2 * ksm_page_size)) {
			gone = true;
			/* An RCU grace period and a work item, then the end. */
			deadline = ksm_now_ms() + 2000;
		}
		usleep(50000);
	}
	if (ok && (!gone || !kept))
		ksft_print_msg("old memory cgroup's pages %s; memory.ksm now %s\n",
			       gone ? "freed" : "still charged",
			       memory_ksm_of(cg_x));
	result(ok && gone && kept,
	       "the old memory cgroup's end leaves the new one's memory.ksm\n");

	/*
	 * The io controller depends on memory: with io enabled below P,
	 * "-memory" only hides x's memory cgroup, and resets it.
	 */
	ok = ksm_cg_set(ksm_cg_root(), "cgroup.subtree_control", "+io") &&
	     ksm_cg_set(cg_p, "cgroup.subtree_control", "+io") &&
	     ksm_cg_set(cg_x, "memory.ksm", "1") &&
	     ksm_cg_set(cg_p, "cgroup.subtree_control", "-memory") &&
	     !memory_ksm_of(cg_x)[0] &&
	     ksm_cg_set(cg_p, "cgroup.subtree_control", "+memory");
	ok = ok && reads_inherit(cg_x, "a memory cgroup hidden and shown again");
	ok &= ksm_cg_set(cg_p, "cgroup.subtree_control", "-io") &&
	      ksm_cg_set(ksm_cg_root(), "cgroup.subtree_control", "-io");
	result(ok, "memory controller off and on while io needs it: memory.ksm reset to inherit\n");
}

int main(void)
{
	static const int order[] = { 0, 2, 1, 3 };
	struct kid k[4];
	int i;

	ksft_print_header();
	ksft_set_plan(26);
	ksm_selftest_init(2000, 10, 0);
	if (!ksm_file_exists("merge_domain"))
		ksft_exit_fail_msg("no %smerge_domain\n", KSM_SYSFS_DIR);
	if (!ksm_cg_create("ksmA", "memory.ksm", cg_a, sizeof(cg_a), why, sizeof(why)) ||
	    !ksm_cg_create("ksmB", "memory.ksm", cg_b, sizeof(cg_b), why, sizeof(why)) ||
	    !ksm_cg_create("ksmC", "memory.ksm", cg_c, sizeof(cg_c), why, sizeof(why)) ||
	    !ksm_cg_create("ksmP", "memory.ksm_domain", cg_p, sizeof(cg_p), why, sizeof(why)))
		ksft_exit_fail_msg("%s\n", why);
	if (!ksm_cg_set(cg_p, "cgroup.subtree_control", "+memory"))
		ksft_exit_fail_msg("no memory controller below %s\n", cg_p);
	snprintf(cg_x, sizeof(cg_x), "%s/x", cg_p);
	snprintf(cg_y, sizeof(cg_y), "%s/y", cg_p);
	if (mkdir(cg_x, 0700) || mkdir(cg_y, 0700))
		ksft_exit_fail_msg("mkdir below %s: %s\n", cg_p, strerror(errno));
	area = mmap(NULL, N * ksm_page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));

	test_knob();
	ksm_set("run", 0);
	/*
	 * Registered A, B, A, B: ksmd meets a page of B right after the same
	 * page of A, in the unstable table as in the stable tree.
	 */
	for (i = 0; i < 4; i++)
		k[order[i]] = start_kid(order[i] < 2 ? cg_a : cg_b, true, 0);
	test_global(k);
	test_memcg(k);
	test_move(k);
	test_attacker();
	test_subtree();
	test_memory_ksm(k);
	test_zero_pages();
	test_user(k);
	test_removal(k);
	test_reenable();

	for (i = 0; i < 4; i++)
		stop_kid(&k[i]);
	ksm_unmerge_all();
	rmdir(cg_x);
	rmdir(cg_y);
	ksm_cg_remove(cg_p);
	ksm_cg_remove(cg_b);
	ksm_cg_remove(cg_c);
	ksm_cg_unmount();
	ksft_finished();
}
